"""The ParC-ConvNeXt token mixer on streamed C×H×W feature maps: ParC-H and ParC-W in one engine.

A map streams in channels last, in raster order (for h, for w, for c: beat ``(h·W + w)·C +
c``, the FINN/hls4ml order), ``last`` on its final element, and leaves in the same order.
Channels ``c < split`` go through ParC-H (their columns, N = H), the rest through ParC-W
(their rows, N = W), each half through one 1-D engine (`hw.direct.DirectEngine` or an FFT
engine) built from the half's `golden.quant.QuantizedLayer` (`golden.mixer`).

Dataflow (one element per clock in and out, sustained)::

    i -> RegisterSlice -> MapFramer --(c < split)--> H: turn (H,W,Ch)->(W,Ch,H) -> engine(N=H) -> turn back -> merge -> RegisterSlice -> o
                                    \\-(c >= split)-> W: turn (W,Cw)->(Cw,W) per row -> engine(N=W) -> turn back (B rows) -/

- **`MapFramer`** makes every map whole (a short map is completed with zeros, a map whose
  ``last`` is missing is resynchronised), counting malformed maps in ``frame_errors``: the
  halves below count beats, never look at the caller's ``last``.
- **Split and merge** by a channel counter; each half sees its own sub-stream and
  `FrameMarker`\\ s re-mark ``last`` for each block's frame (turn: the half's map or row; engine:
  a line of N).
- **Corner turns** (`hw.corner_turn.CornerTurn`): the ParC-H half must hold the whole map (a
  column is complete only after the last row) before its engine starts, and again after it
  (output row 0 needs every column's result): two whole-map turns of H·W·Ch words per bank.
  The ParC-W half needs only one image row (W·Cw words) per bank in front of its engine; the
  turn behind it has ``w_banks`` row banks, enough to hold the W results until the merge
  takes them, which is one map plus the H half's extra latency later (`w_banks_needed`).
- **Parallelism**: two 1-D engines, each at its native one sample per clock, busy Ch/C and
  Cw/C of the time; nothing else computes. Throughput is one element per clock because each
  half's turns have two banks (or more) and the merge is the only consumer.

Memory (block RAM, `ram_bits`): 2 × 2 × 2^ceil(log2 H·W·Ch) words of the data and output
widths for ParC-H, 2 × 2^ceil(log2 W·Cw) + ``w_banks`` × 2^ceil(log2 W·Cw) for ParC-W.
"""

from __future__ import annotations

import math
from functools import reduce
from operator import or_

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.corner_turn import CornerTurn
from hw.framer import ERROR_COUNTER_BITS
from hw.map_framer import FrameMarker, MapFramer
from hw.mux import equals
from hw.requantizer import SATURATION_COUNTER_BITS
from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout, sample_stream
from hw.target import check_target

__all__ = ["ParcMixer"]


def _width(engine: wiring.Component, port: str) -> int:
    return len(getattr(engine, port).payload.data)


def _cycles_per_sample(engine: wiring.Component) -> float:
    """Clock cycles per sample a 1-D engine sustains (1 unless it says otherwise)."""
    return float(getattr(engine, "cycles_per_sample", 1))


class ParcMixer(wiring.Component):
    """Token mixer of a C×H×W map streamed in HWC raster order (module docstring).

    Parameters
    ----------
    h_engine, w_engine : wiring.Component
        The 1-D engines of the ParC-H half (``split`` channels, N = ``height``) and of the
        ParC-W half (C - ``split`` channels, N = ``width``): `hw.direct.DirectEngine`,
        `hw.fast_parc.FastParcEngine` or `hw.native_fast_parc.NativeFastParcEngine`, with
        the same input width and the same output width.
    height, width : int
        H and W of the map.
    target : str
        How the corner turns' RAMs are written (`hw.target.TARGETS`).

    Attributes
    ----------
    channels, split : int
        C, and the ParC-H half's channel count (the first ``split`` channels).
    length : int
        L = H·W·C elements per map.
    latency : int
        Cycles from a map's first element accepted to its first element valid on ``o``, no
        stalls (an upper bound where an FFT engine's own latency is one: it depends on the
        phase at which the engine's frames arrive).
    w_banks : int
        Row banks of the ParC-W half's output turn (`w_banks_needed`, a power of two).
    ram_bits : int
        Block RAM bits of the four corner turns.

    Ports
    -----
    i : In(sample_stream(data bits))
        Map elements, HWC order, ``last`` on each map's final element.
    o : Out(sample_stream(output bits))
        Output elements, HWC order, ``last`` on each map's final element. ``o.valid`` and
        ``o.payload`` are registers; ``i.ready`` is a register.
    frame_errors : Out(16)
        Malformed maps (`hw.map_framer.MapFramer`), wraps.
    saturations : Out(32)
        Output elements that saturated (or wrapped), both halves, wraps; one cycle behind the
        engines' counters.
    overflow : Out(1)
        Only when an engine has it (FFT): sticky OR of both halves' ``overflow``.
    """

    def __init__(
        self,
        h_engine: wiring.Component,
        w_engine: wiring.Component,
        height: int,
        width: int,
        *,
        target: str = "generic",
    ) -> None:
        self.target = check_target(target)
        self.h_engine, self.w_engine = h_engine, w_engine
        self.height, self.width = int(height), int(width)
        h_layer, w_layer = h_engine.layer, w_engine.layer
        if h_layer.fmt.n != self.height or w_layer.fmt.n != self.width:
            raise ValueError(
                f"the ParC-H engine needs N = H = {self.height} and the ParC-W engine N = W = {self.width}; "
                f"got N = {h_layer.fmt.n} and {w_layer.fmt.n}"
            )
        self.in_bits, self.out_bits = _width(h_engine, "i"), _width(h_engine, "o")
        if (_width(w_engine, "i"), _width(w_engine, "o")) != (self.in_bits, self.out_bits):
            raise ValueError("the two halves' engines must share the input width and the output width")
        self.split, self.w_channels = int(h_layer.channels), int(w_layer.channels)
        self.channels = self.split + self.w_channels
        self.length = self.height * self.width * self.channels
        self.has_overflow = any("overflow" in e.signature.members for e in (h_engine, w_engine))
        hc, wc, h, w = self.split, self.w_channels, self.height, self.width
        # H half: the whole map of its channels, column lines (W, Ch, H), and back
        self.h_turn = CornerTurn((h, w, hc), (1, 2, 0), self.in_bits, target=self.target)
        self.h_back = CornerTurn((w, hc, h), (2, 0, 1), self.out_bits, target=self.target)
        # W half: one image row of its channels, row lines (Cw, W), and back (w_banks rows)
        self.w_turn = CornerTurn((w, wc), (1, 0), self.in_bits, target=self.target)
        self.w_banks = 1 << max(self.w_banks_needed - 1, 1).bit_length()
        self.w_back = CornerTurn((wc, w), (1, 0), self.out_bits, banks=self.w_banks, target=self.target)
        ports = {
            "i": In(sample_stream(self.in_bits)),
            "o": Out(sample_stream(self.out_bits)),
            "frame_errors": Out(ERROR_COUNTER_BITS),
            "saturations": Out(SATURATION_COUNTER_BITS),
        }
        if self.has_overflow:
            ports["overflow"] = Out(1)
        super().__init__(ports)

    # ------------------------------------------------------------------ timing and sizes

    @property
    def _front(self) -> int:
        """Input slice: cycles from an element accepted to it entering a half."""
        return RegisterSlice.latency

    @property
    def h_first_out(self) -> int:
        """Cycles from a map's first element accepted to its first ParC-H result at the merge
        (no stalls): the last H-half element of the map (element (H·W - 1)·C + split - 1), the
        turn, every line through the engine at its rate (``cycles_per_sample``; the last line's
        last input to its last output: the engine's latency plus N - 1 samples), the turn back."""
        last_h_element = (self.height * self.width - 1) * self.channels + self.split - 1
        samples = self.height * self.width * self.split
        rate = _cycles_per_sample(self.h_engine)
        engine = int(self.h_engine.latency)
        through = math.ceil((samples - 1) * rate) + engine + math.ceil((self.height - 1) * rate)
        if rate > 1:  # a slower engine's input also waits on its frame phase: up to one frame more
            through += math.ceil(self.height * rate)
        return self._front + last_h_element + CornerTurn.latency + through + CornerTurn.latency

    @property
    def elements_per_clock(self) -> float:
        """Sustained map elements per clock: 1, unless an engine is slower than one sample per
        clock (the padded FFT, M/N) and its half's share of the channels cannot hide it."""
        shares = (
            (self.split, _cycles_per_sample(self.h_engine)),
            (self.w_channels, _cycles_per_sample(self.w_engine)),
        )
        return min(1.0, *(self.channels / (count * rate) for count, rate in shares))

    @property
    def w_banks_needed(self) -> int:
        """Row banks the ParC-W output turn needs for full rate: the rows it holds from the
        claim of a row's bank (its first result) to the merge releasing it. Row r's first
        result comes no sooner than the row's last element plus the W engine's first line
        (``(r + 1)·W·C``, roughly: earlier is only better for the bound below); the merge takes
        row r of a map from ``h_first_out + r·W·C`` on and releases it a row later; so the rows
        in flight are ``(h_first_out - W·C) / (W·C) + 1``, plus one being filled and one slack."""
        row = self.width * self.channels
        return math.ceil(max(self.h_first_out - row, 0) / row) + 3

    @property
    def latency(self) -> int:
        """Cycles from a map's first element accepted to its first output valid, no stalls:
        the ParC-H result of element 0 (if the H half had the first channel; it always does)
        through the merge and the output slice."""
        return self.h_first_out + RegisterSlice.latency

    @property
    def latency_maps(self) -> float:
        """`latency` in map times (L cycles): how many maps are in flight."""
        return self.latency / self.length

    @property
    def turns(self) -> dict[str, CornerTurn]:
        return {"h_in": self.h_turn, "h_out": self.h_back, "w_in": self.w_turn, "w_out": self.w_back}

    @property
    def ram_bits(self) -> int:
        return sum(turn.ram_bits for turn in self.turns.values())

    def memory(self) -> dict:
        """Manifest record: each corner turn's frame, banks, words and bits."""
        turns = {
            name: {
                "frame": list(turn.dims),
                "order_out": list(turn.out_dims),
                "banks": turn.banks,
                "words": turn.ram_words,
                "width": turn.width,
                "bits": turn.ram_bits,
            }
            for name, turn in self.turns.items()
        }
        return {"corner_turns": turns, "total_bits": self.ram_bits}

    # ------------------------------------------------------------------ hardware

    def elaborate(self, platform) -> Module:
        m = Module()
        hc, wc, h, w = self.split, self.w_channels, self.height, self.width
        m.submodules.in_slice = in_slice = RegisterSlice(sample_layout(self.in_bits))
        m.submodules.framer = framer = MapFramer(self.length, self.in_bits)
        wiring.connect(m, wiring.flipped(self.i), in_slice.i)
        wiring.connect(m, in_slice.o, framer.i)
        m.d.comb += self.frame_errors.eq(framer.errors)

        m.submodules.h_turn, m.submodules.h_back = self.h_turn, self.h_back
        m.submodules.w_turn, m.submodules.w_back = self.w_turn, self.w_back
        m.submodules.h_engine, m.submodules.w_engine = self.h_engine, self.w_engine
        halves = {
            "h": (self.h_turn, self.h_engine, self.h_back, h * w * hc, h),
            "w": (self.w_turn, self.w_engine, self.w_back, w * wc, w),
        }
        into, outof = {}, {}
        for name, (turn, engine, back, frame, line) in halves.items():
            # each block's frames re-marked from the beat count: the map is whole by now
            markers = [
                FrameMarker(frame, self.in_bits),
                FrameMarker(line, self.in_bits),
                FrameMarker(frame, self.out_bits),
            ]
            # a skid buffer (zero latency, registered ready) in front of each turn: a turn's
            # ``i.ready`` follows its read side's release within the cycle, and without the
            # register that decision reached through the engine's output buffer into its feeder
            # (the N=56 mixer's -6 critical path, h_back.at_end0 -> h_engine.feeder.ready)
            skids = [SkidBuffer(sample_layout(self.in_bits)), SkidBuffer(sample_layout(self.out_bits))]
            for k, block in enumerate([*markers, *skids]):
                m.submodules[f"{name}_{'mark' if k < 3 else 'skid'}{k if k < 3 else k - 3}"] = block
            wiring.connect(m, markers[0].o, skids[0].i)
            wiring.connect(m, skids[0].o, turn.i)
            wiring.connect(m, turn.o, markers[1].i)
            wiring.connect(m, markers[1].o, engine.i)
            wiring.connect(m, engine.o, markers[2].i)
            wiring.connect(m, markers[2].o, skids[1].i)
            wiring.connect(m, skids[1].o, back.i)
            into[name], outof[name] = markers[0].i, back.o

        # --- split: channel c of each element goes to H when c < split ---------------------------
        channel = Signal(range(self.channels), name="in_channel")
        to_h = Signal(init=1, name="to_h")  # channel < split, as a register
        source = framer.o
        for name, port in into.items():
            mine = to_h if name == "h" else ~to_h
            m.d.comb += [port.valid.eq(source.valid & mine), port.payload.data.eq(source.payload.data)]
        m.d.comb += source.ready.eq(Mux(to_h, into["h"].ready, into["w"].ready))
        self._count_channels(m, source.valid & source.ready, channel, to_h)

        # --- merge: channel c of each output element from H when c < split -----------------------
        m.submodules.out_slice = out_slice = RegisterSlice(sample_layout(self.out_bits))
        out_channel = Signal(range(self.channels), name="out_channel")
        from_h = Signal(init=1, name="from_h")
        pixel = Signal(range(h * w), name="out_pixel")
        last_pixel = Signal(init=h * w == 1, name="last_pixel")
        sink = out_slice.i
        chosen = {"h": from_h, "w": ~from_h}
        for name, port in outof.items():
            m.d.comb += port.ready.eq(sink.ready & chosen[name])
        m.d.comb += [
            sink.valid.eq(Mux(from_h, outof["h"].valid, outof["w"].valid)),
            sink.payload.data.eq(Mux(from_h, outof["h"].payload.data, outof["w"].payload.data)),
            sink.payload.last.eq(last_pixel & equals(out_channel, self.channels - 1)),
        ]
        moved = sink.valid & sink.ready
        self._count_channels(m, moved, out_channel, from_h)
        with m.If(moved & equals(out_channel, self.channels - 1)):
            with m.If(last_pixel):
                m.d.sync += [pixel.eq(0), last_pixel.eq(h * w == 1)]
            with m.Else():
                m.d.sync += [pixel.eq(pixel + 1), last_pixel.eq(equals(pixel, h * w - 2))]
        wiring.connect(m, out_slice.o, wiring.flipped(self.o))

        # --- status ---------------------------------------------------------------------------------
        engines = (self.h_engine, self.w_engine)
        m.d.sync += self.saturations.eq(sum(e.saturations for e in engines)[: len(self.saturations)])
        if self.has_overflow:
            flags = [e.overflow for e in engines if "overflow" in e.signature.members]
            m.d.comb += self.overflow.eq(reduce(or_, flags))
        return m

    def _count_channels(self, m: Module, step, channel: Signal, low: Signal) -> None:
        """``channel`` counts 0..C-1 on each ``step``; ``low`` is the register ``channel < split``."""
        with m.If(step):
            with m.If(equals(channel, self.channels - 1)):
                m.d.sync += [channel.eq(0), low.eq(1)]
            with m.Else():
                m.d.sync += [channel.eq(channel + 1), low.eq(channel + 1 < self.split)]
