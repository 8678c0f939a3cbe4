"""Output requantizer: round-shift an exact wide value to the output width, then saturate or wrap.

Every engine ends in this block: their datapaths keep every bit exactly, and the only rounding
and narrowing of a ParC output happens here, once, with the channel's own shift. It counts
the outputs that had to be clipped, since that is the one place a clip can happen. The one
exception is asked for: a narrow accumulator (``--acc-bits``) puts an `AccSaturator` in front,
which clamps the exact value first (`output_stage` builds the pair, `golden.direct.output_stage`
is its model).

Why four register stages: a per-channel variable shift, its rounding add, the tie test of
half-even rounding and the saturation test are each a carry chain or a wide reduction; in one
cycle they limited an engine to 41.7 MHz (issue 14). Split, no stage holds more than one carry
chain or about three LUT levels:

- A: the channel's shift class and rounding constant ``half = 2**(s-1)`` (constants selected by
  the channel number), the value;
- B: ``sum = value + half`` (the one carry chain);
- C: for each distinct shift ``s``: ``sum >> s`` (the class's output bits), the tie flag
  ``sum mod 2**s == 0`` and the overflow flag (the bits above the output not all equal to its
  sign), each a reduction of ``sum``'s registered bits;
- D: pick the class's result, clear the LSB on a half-even tie, clamp (or wrap) to the output.

Half-even as half-up plus a tie fix: ``(v + 2**(s-1)) >> s`` rounds ties up; a tie has
``v mod 2**s == 2**(s-1)``, i.e. ``sum mod 2**s == 0``, and the even neighbour is then the
half-up result with its LSB cleared. Clearing that LSB never changes whether a value fits, so
the overflow test reads the half-up result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from amaranth.hdl import Const, Module, Mux, Shape, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike, NDArray

from golden import fixed as gf
from golden.fixed import Rounding
from golden.quant import ParcFormat, QuantizedLayer
from hw.fixed import fits_in
from hw.mux import per_channel, select
from hw.pipeline import delay
from hw.stream import channel_shape, sample_stream

SATURATION_COUNTER_BITS = 32


class Requantizer(wiring.Component):
    """``o.data = fit(round_shift(value, shift[channel]), out_bits)``, 4 registers, counted clips.

    Flow: a stall-all pipeline. ``i.ready = o.ready`` and every register (and the counter)
    loads while ``o.ready`` is high; an engine with a free-running datapath ties ``o.ready``
    high, an enable-driven one gives it its pipeline enable.

    Parameters
    ----------
    in_bits : int
        Width of the signed input value.
    out_bits : int
        Width of the signed output sample.
    shifts : int or sequence of int
        Right shift (>= 0), one per channel; channels with equal shifts share one datapath
        (all equal: no multiplexer at all).
    rounding : golden.fixed.Rounding
        How the shift drops bits.
    saturate : bool
        Clamp to the output range (True) or wrap in two's complement (False).

    Attributes
    ----------
    latency : int
        4 (stages A-D, see the module docstring).
    channels : int
        Number of shifts.
    classes : list of int
        The distinct shifts, ascending.

    Ports
    -----
    i : In(stream.Signature({value: signed(in_bits), channel: channel_shape(channels), last: 1}))
        The exact value, the channel whose shift applies, and the frame-end marker.
    o : Out(stream.Signature(sample_layout(out_bits)))
        ``{data, last}``: the requantized sample.
    saturations : Out(32)
        Outputs whose value did not fit (saturated or wrapped) since reset; wraps. Counted one
        enabled cycle after the sample leaves (the count never sits on the output's path).
    """

    latency = 4

    def __init__(
        self,
        in_bits: int,
        out_bits: int,
        shifts: int | Sequence[int] | NDArray[np.integer],
        rounding: Rounding,
        saturate: bool,
    ) -> None:
        self.shifts = np.atleast_1d(np.asarray(shifts, dtype=np.int64))
        if np.any(self.shifts < 0):
            raise ValueError(f"requantizer shifts must be >= 0; got {self.shifts.tolist()}")
        self.in_bits, self.out_bits = in_bits, out_bits
        self.rounding, self.saturate = Rounding(rounding), bool(saturate)
        self.channels = len(self.shifts)
        self.classes = sorted({int(s) for s in self.shifts})
        super().__init__(
            {
                "i": In(stream.Signature(value_layout(in_bits, channel_shape(self.channels)))),
                "o": Out(sample_stream(out_bits)),
                "saturations": Out(SATURATION_COUNTER_BITS),
            }
        )

    def model(self, values: np.ndarray, channels: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`golden.fixed.requantize` with each value's channel shift: (samples, clipped mask)."""
        return gf.requantize(values, self.shifts[np.asarray(channels)], self.out_bits, self.rounding, self.saturate)

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.o.ready
        ob, classes = self.out_bits, self.classes
        rounds = self.rounding is not Rounding.TRUNCATE
        # wide enough that value + 2**(s-1) is exact and every slice below stays inside the sum
        width = max(self.in_bits, max(classes) + 1) + 1
        m.d.comb += self.i.ready.eq(en)
        valid_c = delay(m, self.i.valid, 3, en, "rq_valid")  # beside stages A-C

        # A: shift class and rounding constant from the channel (constants: LUTs, no arithmetic)
        class_of = [classes.index(int(s)) for s in self.shifts]
        half_of = [1 << (int(s) - 1) if rounds and s > 0 else 0 for s in self.shifts]
        value_a = delay(m, self.i.payload.value, 1, en, "rq_value")
        cls_a = delay(m, _as_value(per_channel(class_of, self.i.payload.channel)), 1, en, "rq_class")
        half_a = delay(m, _as_value(per_channel(half_of, self.i.payload.channel)), 1, en, "rq_half")

        # B: the rounding add
        sum_b = Signal(signed(width), name="rq_sum")
        with m.If(en):
            m.d.sync += sum_b.eq(value_a + half_a)
        cls_b = delay(m, cls_a, 1, en, "rq_class_b")

        # C: per shift class, its output bits and its tie / overflow flags
        low_c = Signal(signed(ob), name="rq_low")
        sign_c = Signal(name="rq_sign")
        ties, overs = [], []
        for k, s in enumerate(classes):
            tie, over = Signal(name=f"rq_tie{k}"), Signal(name=f"rq_over{k}")
            with m.If(en):
                if self.rounding is Rounding.HALF_EVEN and s > 0:
                    m.d.sync += tie.eq(~sum_b[:s].any())
                top = sum_b[s + ob - 1 :]  # must be all sign bits for the result to fit
                if len(top) > 1:
                    m.d.sync += over.eq(~(top.all() | ~top.any()))
            ties.append(tie)
            overs.append(over)
        with m.If(en):
            m.d.sync += [
                low_c.eq(select([_low_bits(sum_b, s, ob) for s in classes], cls_b)),
                sign_c.eq(sum_b[-1]),
            ]
        cls_c = delay(m, cls_b, 1, en, "rq_class_c")

        # D: pick, fix the tie, clamp or wrap
        tie_d = _as_value(select(ties, cls_c))
        over_d = _as_value(select(overs, cls_c))
        rounded = Signal(signed(ob), name="rq_rounded")
        m.d.comb += rounded.eq(Mux(tie_d, low_c & ~Const(1, ob), low_c))
        if self.saturate:
            lo, hi = -(1 << (ob - 1)), (1 << (ob - 1)) - 1
            y = Mux(over_d, Mux(sign_c, Const(lo, signed(ob)), Const(hi, signed(ob))), rounded)
        else:
            y = rounded
        clipped = Signal(name="rq_clipped")
        with m.If(en):
            m.d.sync += [
                self.o.payload.data.eq(y),
                self.o.valid.eq(valid_c),
                self.o.payload.last.eq(delay(m, self.i.payload.last, 3, en, "rq_last")),
                clipped.eq(valid_c & over_d),
            ]
            with m.If(clipped):
                m.d.sync += self.saturations.eq(self.saturations + 1)
        return m


class AccSaturator(wiring.Component):
    """``o.value = sat(value, bits[channel])``: a narrow accumulator in front of a `Requantizer`.

    `golden.direct.clamp_accumulator` in hardware (`golden.quant.ParcFormat.acc_sat_bits`, the
    CLI's ``--acc-bits``): the engines build it only for a narrow accumulator, between their
    exact sum and the `Requantizer`, whose input it narrows to ``max(bits)``. Same flow as the
    Requantizer (a stall-all pipeline on ``o.ready``, ``i.ready = o.ready``).

    Two registers, so that it adds no long path in front of the Requantizer (whose stages hold
    one carry chain or about three LUT levels each): A registers, for each distinct width, the
    flag "does not fit" (a reduction of the value's top bits, `hw.fixed.fits_in`, no carry
    chain); B picks the channel's flag and its limit (constants) and clamps.

    Parameters
    ----------
    in_bits : int
        Width of the signed input value.
    bits : sequence of int
        The signed width to saturate to, one per channel (the FFT engines' accumulator
        carries a per-channel number of fraction bits); equal widths share one flag.

    Attributes
    ----------
    latency : int
        2.
    out_bits : int
        ``min(max(bits), in_bits)``: the width of ``o.value``.

    Ports
    -----
    i : In(stream.Signature({value: signed(in_bits), channel, last}))
    o : Out(stream.Signature({value: signed(out_bits), channel, last}))
        The layout of `Requantizer.i` at ``out_bits``: connect ``o`` to it.
    """

    latency = 2

    def __init__(self, in_bits: int, bits: Sequence[int] | NDArray[np.integer]) -> None:
        self.bits = [int(b) for b in np.atleast_1d(np.asarray(bits, dtype=np.int64))]
        if min(self.bits) < 1:
            raise ValueError(f"saturation widths must be >= 1; got {self.bits}")
        self.in_bits = in_bits
        self.out_bits = min(max(self.bits), in_bits)
        self.classes = sorted(set(self.bits))
        channel = channel_shape(len(self.bits))
        super().__init__(
            {
                "i": In(stream.Signature(value_layout(in_bits, channel))),
                "o": Out(stream.Signature(value_layout(self.out_bits, channel))),
            }
        )

    def model(self, values: np.ndarray, channels: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`golden.fixed.saturate` with each value's channel width: (values, clipped mask)."""
        return gf.saturate(values, np.asarray(self.bits)[np.asarray(channels)])

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.o.ready
        ob, classes = self.out_bits, self.classes
        m.d.comb += self.i.ready.eq(en)
        payload = self.i.payload

        # A: per distinct width, whether the value does not fit; the value, its class
        value_a = delay(m, payload.value, 1, en, "as_value")
        cls_a = delay(
            m, _as_value(per_channel([classes.index(b) for b in self.bits], payload.channel)), 1, en, "as_class"
        )
        overs = []
        for k, b in enumerate(classes):
            over = Signal(name=f"as_over{k}")
            if b < self.in_bits:  # else it always fits: the flag stays 0
                with m.If(en):
                    m.d.sync += over.eq(~fits_in(payload.value, b))
            overs.append(over)

        # B: the channel's flag and limits, the clamp
        limits = [min(b, ob) for b in classes]  # a width >= in_bits never clamps (its flag is 0)
        lo = _as_value(select([Const(-(1 << (b - 1)), signed(ob)) for b in limits], cls_a))
        hi = _as_value(select([Const((1 << (b - 1)) - 1, signed(ob)) for b in limits], cls_a))
        kept = value_a[:ob].as_signed() if len(value_a) > ob else value_a
        clamped = Mux(_as_value(select(overs, cls_a)), Mux(value_a[-1], lo, hi), kept)
        with m.If(en):
            m.d.sync += [
                self.o.payload.value.eq(clamped),
                self.o.valid.eq(delay(m, self.i.valid, 1, en, "as_valid")),
                self.o.payload.channel.eq(delay(m, payload.channel, 1, en, "as_channel")),
                self.o.payload.last.eq(delay(m, payload.last, 1, en, "as_last")),
            ]
        return m


def acc_clamp_bits(layer: QuantizedLayer, frac_bits: ArrayLike = 0) -> list[int] | None:
    """Per channel, the width an engine's `AccSaturator` clamps to: the narrow accumulator's
    ``fmt.acc_sat_bits`` plus the fraction bits the engine's value carries below the
    accumulator LSB (`golden.direct.clamp_accumulator`); None for an exact accumulator."""
    k = layer.fmt.acc_sat_bits
    if k is None:
        return None
    return [k + int(f) for f in np.broadcast_to(np.asarray(frac_bits, dtype=np.int64), (layer.channels,))]


def acc_clamp_latency(clamp_bits: object | None) -> int:
    """Cycles an engine's output stage gains from its `AccSaturator` (none without one)."""
    return 0 if clamp_bits is None else AccSaturator.latency


def output_stage(
    m: Module,
    in_bits: int,
    fmt: ParcFormat,
    shifts: Sequence[int] | NDArray[np.integer],
    clamp_bits: Sequence[int] | NDArray[np.integer] | None,
) -> tuple[Any, Requantizer]:
    """Every engine's end, as `golden.direct.output_stage`: a `Requantizer` (submodule
    ``requantizer``) with the format's rounding and saturation, behind an `AccSaturator`
    (``acc_saturator``) to ``clamp_bits`` per channel when the engine has a narrow accumulator.

    Returns the stream the engine drives (``{value, channel, last}``, ``i.ready`` = the
    requantizer's enable) and the requantizer (its ``o``, ``o.ready`` and ``saturations``).
    The latency is ``Requantizer.latency + acc_clamp_latency(clamp_bits)``.
    """
    if clamp_bits is None:
        m.submodules.requantizer = requant = Requantizer(in_bits, fmt.output.bits, shifts, fmt.rounding, fmt.saturate)
        return requant.i, requant
    m.submodules.acc_saturator = clamp = AccSaturator(in_bits, clamp_bits)
    m.submodules.requantizer = requant = Requantizer(
        clamp.out_bits, fmt.output.bits, shifts, fmt.rounding, fmt.saturate
    )
    wiring.connect(m, clamp.o, requant.i)
    return clamp.i, requant


def value_layout(bits: int, channel: Shape) -> data.StructLayout:
    """The payload of `Requantizer.i` and `AccSaturator`: the value, its channel, frame end."""
    return data.StructLayout({"value": signed(bits), "channel": channel, "last": 1})


def _as_value(v: object) -> Value:
    """A `per_channel` / `select` result (an int when every option is equal) as a Value."""
    if isinstance(v, Value):
        return v
    assert isinstance(v, int), f"expected an int or a Value, got {type(v).__name__}"
    return Const(v)


def _low_bits(value: Value, shift: int, bits: int) -> Value:
    """The low ``bits`` bits of ``value >> shift`` (sign-extended when fewer remain)."""
    shifted = value.as_signed() >> shift
    return shifted if len(shifted) <= bits else shifted[:bits].as_signed()


__all__ = [
    "AccSaturator",
    "Requantizer",
    "SATURATION_COUNTER_BITS",
    "acc_clamp_bits",
    "acc_clamp_latency",
    "output_stage",
    "value_layout",
]
