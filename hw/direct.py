"""Direct-form streaming ParC engine: P multipliers, adder tree, folded PE/bias ROM.

Dataflow (one frame = N samples of one channel)::

    Framer --take--> R (rotating copy of the frame) --P taps--> x * w --> adder tree
        (+ offset ROM) --> [accumulate over G = ceil(N/P) groups] --> round/saturate --> o

While R emits frame k (one output per G cycles), the Framer fills with frame k+1, so
with P = N the engine sustains 1 sample per clock. Every register advances on one
global enable (``~o.valid | o.ready``): backpressure freezes the pipeline, valid never
depends on ready. Arithmetic is exactly `golden.direct.direct_model`.
"""
from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.direct import direct_model
from golden.quant import QuantizedLayer
from hw.fixed import requantize
from hw.framer import ERROR_COUNTER_BITS, Framer
from hw.stream import sample_stream

SATURATION_COUNTER_BITS = 32


def pack_words(values: np.ndarray, bits: int) -> list[int]:
    """Rows of signed integers -> one unsigned ROM word per row (element 0 in the LSBs)."""
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (bits * k) for k, v in enumerate(row)) for row in values]


def adder_tree(m: Module, leaves: list, enable, name: str) -> tuple[Signal, int]:
    """Registered pairwise sum (one register level per tree level); returns (sum, levels)."""
    level = 0
    while len(leaves) > 1:
        nxt = []
        for j in range(0, len(leaves) - 1, 2):
            a, b = leaves[j], leaves[j + 1]
            s = Signal(signed(max(len(a), len(b)) + 1), name=f"{name}_l{level}_{j // 2}")
            with m.If(enable):
                m.d.sync += s.eq(a + b)
            nxt.append(s)
        if len(leaves) % 2:
            s = Signal(signed(len(leaves[-1])), name=f"{name}_l{level}_pass")
            with m.If(enable):
                m.d.sync += s.eq(leaves[-1])
            nxt.append(s)
        leaves = nxt
        level += 1
    return leaves[0], level


def select(options: list, index) -> object:
    """``options[index]`` as a mux padded to a power of two (no incomplete case statements)."""
    if len(options) == 1:
        return options[0]
    size = 1 << (len(options) - 1).bit_length()
    return Array(options + [options[-1]] * (size - len(options)))[index[: size.bit_length() - 1]]


def delay(m: Module, value, cycles: int, enable, name: str):
    """``value`` delayed by ``cycles`` enabled register stages."""
    for c in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{c}")
        with m.If(enable):
            m.d.sync += reg.eq(value)
        value = reg
    return value


class DirectEngine(wiring.Component):
    """Streaming fixed-point ParC, direct form.

    Parameters
    ----------
    layer : QuantizedLayer    weights, folded PE/bias offsets, formats (ROM contents).
    parallel : int            P multipliers, 1 <= P <= N; output rate is 1 / ceil(N/P) per clock.

    Attributes
    ----------
    i : In(stream of {data: signed(in_bits), last})     input, frames of N samples, channels in turn.
    o : Out(stream of {data: signed(out_bits), last})   output, same framing.
    frame_errors : Out(16)        malformed input frames (see `hw.framer`).
    saturations : Out(32)         output samples that saturated (or wrapped).
    latency : int                 cycles from accepting a frame's last sample to its first output.
    """

    def __init__(self, layer: QuantizedLayer, parallel: int | None = None) -> None:
        fmt = layer.fmt
        self.layer = layer
        self.n = fmt.n
        self.parallel = self.n if parallel is None else int(parallel)
        if not 1 <= self.parallel <= self.n:
            raise ValueError(f"parallel must be in 1..N={self.n}; got {parallel}")
        self.groups = math.ceil(self.n / self.parallel)
        self.tree_levels = math.ceil(math.log2(self.parallel + 1))
        super().__init__(
            {
                "i": In(sample_stream(fmt.data.bits)),
                "o": Out(sample_stream(fmt.output.bits)),
                "frame_errors": Out(ERROR_COUNTER_BITS),
                "saturations": Out(SATURATION_COUNTER_BITS),
            }
        )

    @property
    def latency(self) -> int:
        # take, issue, product, tree levels, [accumulator], output register
        return 3 + self.tree_levels + (1 if self.groups > 1 else 0) + 1

    @property
    def cycles_per_sample(self) -> int:
        return self.groups

    def model(self, x: np.ndarray) -> np.ndarray:
        """Integers the engine emits for integer frames ``x`` of shape (..., C, N)."""
        return direct_model(self.layer, x)[0]

    def elaborate(self, platform) -> Module:
        m = Module()
        q, fmt, n, p, groups = self.layer, self.layer.fmt, self.n, self.parallel, self.groups
        channels = q.channels

        m.submodules.framer = framer = Framer(n, fmt.data.bits, channels)
        wiring.connect(m, wiring.flipped(self.i), framer.i)
        m.d.comb += self.frame_errors.eq(framer.errors)

        # ROMs: one weight word per channel (P*G taps), offsets per (channel, position).
        taps = groups * p
        w_padded = np.zeros((channels, taps), dtype=np.int64)
        w_padded[:, :n] = q.weight
        words = pack_words(w_padded, fmt.weight_bits)
        words += [0] * (2 - len(words))  # a one-word memory would have a zero-width address
        m.submodules.weight_rom = weight_rom = Memory(shape=unsigned(taps * fmt.weight_bits), depth=len(words), init=words)
        offset_bits = fmt.acc_bits
        m.submodules.offset_rom = offset_rom = Memory(
            shape=signed(offset_bits), depth=channels * n, init=[int(v) for v in q.offset.reshape(-1)]
        )
        w_port = weight_rom.read_port()
        off_port = offset_rom.read_port()

        enable = Signal()
        m.d.comb += enable.eq(~self.o.valid | self.o.ready)

        # Issue stage: R rotates one position per finished output.
        rot = [Signal(signed(fmt.data.bits), name=f"rot_{k}") for k in range(n)]
        busy = Signal()
        index = Signal(range(n))
        group = Signal(range(max(groups, 2)))
        channel = Signal(range(max(channels, 2)))
        off_addr = Signal(range(max(channels * n, 2)))
        next_base = Signal.like(off_addr)  # offset ROM base of the frame waiting in the framer

        issue = busy & enable
        output_done = group == groups - 1
        frame_done = output_done & (index == n - 1)
        take = framer.full & (~busy | (issue & frame_done))
        m.d.comb += [
            framer.take.eq(take),
            w_port.addr.eq(framer.channel),
            w_port.en.eq(take),
            off_port.addr.eq(off_addr),
            off_port.en.eq(enable),
        ]
        with m.If(issue):
            m.d.sync += group.eq(Mux(output_done, 0, group + 1))
            with m.If(output_done):
                m.d.sync += [index.eq(index + 1), off_addr.eq(off_addr + 1)]
                m.d.sync += [a.eq(b) for a, b in zip(rot, rot[1:] + rot[:1])]
            with m.If(frame_done):
                m.d.sync += busy.eq(0)
        with m.If(take):
            m.d.sync += [a.eq(b) for a, b in zip(rot, framer.frame)]
            m.d.sync += [busy.eq(1), index.eq(0), group.eq(0), channel.eq(framer.channel), off_addr.eq(next_base)]
            m.d.sync += next_base.eq(Mux(framer.channel == channels - 1, 0, next_base + n))

        # Product stage: tap j of group g uses rot[g*P + j] and w[g*P + j].
        weights = [w_port.data[k * fmt.weight_bits : (k + 1) * fmt.weight_bits].as_signed() for k in range(taps)]
        products = []
        for j in range(p):
            xs = [rot[g * p + j] if g * p + j < n else Const(0, signed(fmt.data.bits)) for g in range(groups)]
            ws = [weights[g * p + j] for g in range(groups)]
            x_sel = select(xs, group)
            w_sel = select(ws, group)
            prod = Signal(signed(fmt.product_bits), name=f"prod_{j}")
            with m.If(enable):
                m.d.sync += prod.eq(x_sel * w_sel)
            products.append(prod)
        # tag bits: 0 valid, 1 first group, 2 output done, 3 frame last, 4.. channel
        tag = Signal(unsigned(4 + len(channel)), name="tag_product")
        with m.If(enable):
            m.d.sync += tag.eq(Cat(issue, ~group.any(), output_done, index == n - 1, channel))
        offset_leaf = Mux(tag[1], off_port.data, 0)

        total, levels = adder_tree(m, products + [offset_leaf], enable, "tree")
        assert levels == self.tree_levels
        tag = delay(m, tag, levels, enable, "tag_tree")

        # Accumulate over groups (only when the work is folded).
        if groups > 1:
            acc = Signal(signed(fmt.acc_bits), name="acc")
            acc_tag = Signal.like(tag, name="tag_acc")
            with m.If(enable):
                m.d.sync += acc_tag.eq(tag)
                with m.If(tag[0]):
                    m.d.sync += acc.eq(Mux(tag[1], 0, acc) + total)
            total, tag = acc, acc_tag
            emit = tag[0] & tag[2]
        else:
            emit = tag[0]

        # Output stage: per-channel shift, rounding, saturation.
        shifts = q.shift
        tag_channel = tag[4:]
        if np.all(shifts == shifts[0]):
            shift = int(shifts[0])
        else:
            shift_width = max(int(shifts.max()).bit_length(), 1)  # <= ParcFormat.max_shift
            shift = select([Const(int(s), unsigned(shift_width)) for s in shifts], tag_channel)
        y, clipped = requantize(total, shift, fmt.output.bits, fmt.rounding, fmt.saturate)
        with m.If(enable):
            m.d.sync += [
                self.o.valid.eq(emit),
                self.o.payload.data.eq(y),
                self.o.payload.last.eq(tag[3]),
            ]
            with m.If(emit & clipped):
                m.d.sync += self.saturations.eq(self.saturations + 1)
        return m
