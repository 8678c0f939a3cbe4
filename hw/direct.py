"""Direct-form streaming ParC engine: P multipliers, adder tree, folded PE/bias ROM.

Dataflow (one frame = N samples of one channel), one named block per step::

    RegisterSlice --> Framer --frame--> Feeder.direct (rotating copy of the frame) --P taps--> Multiplier x * w
        --> AdderTree (+ ChannelRom offset) --> [accumulate over G = ceil(N/P) groups]
        --> [AccSaturator: narrow accumulator] --> Requantizer (round/saturate, per-channel shift)
        --> CreditBuffer --> o

While the Feeder emits frame k (one output per G cycles), the Framer fills with frame k+1,
so with P = N the engine sustains 1 sample per clock.

Backpressure (issue 14): everything after the Feeder runs free, with no enable at all
(multipliers with their hard-block registers, one register per tree level, the pipelined
Requantizer), and ends in a `hw.credit_buffer.CreditBuffer`. The Feeder issues a beat only
while the buffer's registered ``grant`` says the result will find room, so a stalled output
stops the Feeder and lets the results in flight drain into the FIFO; ``o.ready`` reaches
only the FIFO and its credit counter, and valid never depends on ready. The registers that
still load on a condition are the Framer's buffer, the Feeder's rotating frame, the frame's
weight word and (folded) the accumulator. Arithmetic is exactly `golden.direct.direct_model`.
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.direct import direct_model
from golden.quant import QuantizedLayer
from hw.adder_tree import AdderTree, tree_levels
from hw.credit_buffer import CreditBuffer
from hw.feeder import Feeder
from hw.framer import ERROR_COUNTER_BITS, Framer
from hw.mux import equals, select
from hw.pipeline import delay
from hw.requantizer import SATURATION_COUNTER_BITS, Requantizer, acc_clamp_bits, acc_clamp_latency, output_stage
from hw.rom import ChannelRom, pack_words
from hw.skid import RegisterSlice
from hw.stream import channel_shape, sample_layout, sample_stream
from hw.target import Multiplier, check_target

__all__ = ["DirectEngine", "SATURATION_COUNTER_BITS", "select"]


class DirectEngine(wiring.Component):
    """Streaming fixed-point ParC, direct form.

    Parameters
    ----------
    layer : QuantizedLayer
        Weights, folded PE/bias offsets, formats (ROM contents).
    parallel : int, optional
        P multipliers, 1 <= P <= N (default N); the output rate is 1 / ceil(N/P) per clock.
    target : str, optional
        One of `hw.target.TARGETS`: how the hard multipliers and RAMs are written.

    Attributes
    ----------
    groups : int
        G = ceil(N/P): beats (and cycles) per output.
    clamp_bits : list of int or None
        Per channel, the width `hw.requantizer.AccSaturator` saturates the accumulator to
        (``fmt.acc_sat_bits``); None when the accumulator is exact, or when that width is the
        exact one (the exact sum always fits it: no logic, no cycles).
    tree_levels : int
        Register levels of the (P + 1)-leaf adder tree.
    mul_latency : int
        `hw.target.Multiplier` latency of a data x weight product: 3; 4 when one operand is
        wider than 18 bits, 5 when both are (the tiles' sums get registers of their own; the
        same on every target).
    pipeline : int
        Cycles from a position's last beat leaving the Feeder to its result entering the
        output buffer.
    buffer_depth : int
        Output FIFO depth: ``CreditBuffer.depth_for(pipeline)``, the least for full rate.
    latency : int
        Cycles from accepting a frame's last sample to its first output, no stalls.
    cycles_per_sample : int
        G.

    Ports
    -----
    i : In(stream of {data: signed(in_bits), last})
        Input, frames of N samples, channels in turn.
    o : Out(stream of {data: signed(out_bits), last})
        Output, same framing.
    frame_errors : Out(16)
        Malformed input frames (see `hw.framer`), one cycle after the Framer counts them.
    saturations : Out(32)
        Output samples that saturated (or wrapped), one cycle after the Requantizer counts.
    """

    def __init__(self, layer: QuantizedLayer, parallel: int | None = None, *, target: str = "generic") -> None:
        fmt = layer.fmt
        self.target = check_target(target)
        self.layer = layer
        self.n = fmt.n
        self.parallel = self.n if parallel is None else int(parallel)
        if not 1 <= self.parallel <= self.n:
            raise ValueError(f"parallel must be in 1..N={self.n}; got {parallel}")
        self.groups = math.ceil(self.n / self.parallel)
        self.tree_levels = tree_levels(self.parallel + 1)
        self.clamp_bits = None if fmt.acc_sat_bits == fmt.acc_bits else acc_clamp_bits(layer)
        # 3 registers; more when data or weights exceed 18 bits (a tiled product, same on every target)
        self.mul_latency = Multiplier.latency_of(signed(fmt.data.bits), signed(fmt.weight_bits))
        super().__init__(
            {
                "i": In(sample_stream(fmt.data.bits)),
                "o": Out(sample_stream(fmt.output.bits)),
                "frame_errors": Out(ERROR_COUNTER_BITS),
                "saturations": Out(SATURATION_COUNTER_BITS),
            }
        )

    @property
    def pipeline(self) -> int:
        """Cycles from a position's last beat leaving the Feeder to its result entering the
        output buffer."""
        accumulate = 1 if self.groups > 1 else 0
        clamp = acc_clamp_latency(self.clamp_bits)
        return self.mul_latency + self.tree_levels + accumulate + clamp + Requantizer.latency

    @property
    def buffer_depth(self) -> int:
        return CreditBuffer.depth_for(self.pipeline)

    @property
    def latency(self) -> int:
        # input slice, framer full, feeder take, the position's G beats, multiplier, tree
        # levels, [accumulator], [accumulator clamp], requantizer, buffer
        front = RegisterSlice.latency + Framer.latency + Feeder.latency
        return front + self.groups - 1 + self.pipeline + CreditBuffer.latency

    @property
    def cycles_per_sample(self) -> int:
        return self.groups

    def model(self, x: np.ndarray) -> np.ndarray:
        """Integers the engine emits for integer frames ``x`` of shape (..., C, N)."""
        return direct_model(self.layer, x)[0]

    def weight_words(self) -> list[int]:
        """Weight ROM: one word per channel, tap k (zero beyond N) in bits ``k*weight_bits`` up."""
        q, fmt = self.layer, self.layer.fmt
        padded = np.zeros((q.channels, self.groups * self.parallel), dtype=np.int64)
        padded[:, : self.n] = q.weight
        words = pack_words(padded, fmt.weight_bits)
        return words + [0] * (2 - len(words))  # a one-word memory would have a zero-width address

    def elaborate(self, platform) -> Module:
        m = Module()
        q, fmt, n, p, groups = self.layer, self.layer.fmt, self.n, self.parallel, self.groups
        channels, wb = q.channels, fmt.weight_bits
        tag = data.StructLayout({"first": 1, "done": 1, "last": 1, "channel": channel_shape(channels)})
        run = Const(1)  # the enable of every free-running register after the Feeder

        m.submodules.input = entry = RegisterSlice(self.i.payload.shape())
        m.submodules.framer = framer = Framer(n, fmt.data.bits, channels)
        m.submodules.feeder = feeder = Feeder.direct(n, fmt.data.bits, channels, p, ready_next=True)
        m.submodules.offset_rom = offsets = ChannelRom(q.offset, signed(fmt.acc_bits), target=self.target)
        m.submodules.tree = tree = AdderTree([fmt.product_bits] * p + [fmt.acc_bits], tag)
        sum_bits = fmt.acc_bits if groups > 1 else tree.sum_bits
        acc_in, requant = output_stage(m, sum_bits, fmt, q.shift, self.clamp_bits)
        m.submodules.output = output = CreditBuffer(sample_layout(fmt.output.bits), self.buffer_depth)
        words = self.weight_words()
        m.submodules.weight_rom = weight_rom = Memory(shape=unsigned(groups * p * wb), depth=len(words), init=words)
        w_port = weight_rom.read_port()

        # Framer -> Feeder; the frame's weight word is read as the Feeder takes the frame and
        # holds for the whole frame. The Feeder issues a beat only while the output buffer
        # grants a credit (a register): nothing after this point ever stalls.
        wiring.connect(m, wiring.flipped(self.i), entry.i)
        wiring.connect(m, entry.o, framer.i)
        wiring.connect(m, framer.o, feeder.i)
        beat = feeder.o.payload
        issue = feeder.o.valid & feeder.o.ready
        done = equals(beat.group, groups - 1)
        # status counters leave through a register: wherever their reader sits, the counters
        # stay beside the logic that counts
        m.d.sync += [self.frame_errors.eq(framer.errors), self.saturations.eq(requant.saturations)]
        m.d.comb += [
            w_port.addr.eq(framer.o.payload.channel),
            w_port.en.eq(framer.o.valid & framer.o.ready),
            feeder.o.ready.eq(output.grant),
            feeder.o_ready_next.eq(output.grant_next),
            output.take.eq(issue & done),  # one result per position: a credit on its last beat
        ]

        # Products: tap j of group g is x = R[g*P + j] (the Feeder's window) times w[g*P + j].
        weights = [w_port.data[k * wb : (k + 1) * wb].as_signed() for k in range(groups * p)]
        products = []
        for j in range(p):
            mul = Multiplier(signed(fmt.data.bits), signed(wb), self.target)
            if mul.latency != self.mul_latency:  # latency_of must describe the block
                raise AssertionError(f"DirectEngine: multiplier latency {mul.latency} is not the planned one")
            m.submodules[f"mul_{j}"] = mul
            m.d.comb += [mul.a.eq(beat.data[j]), mul.b.eq(select(weights[j::p], beat.group))]
            products.append(mul.p)
        beat_tag = Signal(tag)
        m.d.comb += [
            beat_tag.first.eq(~beat.group.any()),
            beat_tag.done.eq(done),
            beat_tag.last.eq(equals(beat.index, n - 1)),
            beat_tag.channel.eq(beat.channel),
            offsets.channel.eq(beat.channel),
            offsets.index.eq(beat.index),
            offsets.en.eq(run),
        ]
        prod_tag = delay(m, beat_tag, self.mul_latency, run, "prod_tag")
        offset = delay(m, offsets.data, self.mul_latency - offsets.latency, run, "offset")
        # The leaves go in as one assignment of the whole payload: assigned field by field, the
        # Verilog drives one wide net in 50+ slices, which Icarus resolves bit by bit at every
        # change (N=56 simulated 50x slower than N=28).
        leaves = [Signal(signed(w), name=f"leaf{k}") for k, w in enumerate(tree.widths)]
        m.d.comb += [leaf.eq(prod) for leaf, prod in zip(leaves[: len(products)], products, strict=True)]
        m.d.comb += leaves[p].eq(Mux(prod_tag.first, offset, 0))  # offset on group 0
        m.d.comb += [
            tree.i.valid.eq(delay(m, issue, self.mul_latency, run, "prod_valid")),
            tree.i.payload.eq(Cat(*leaves, prod_tag)),
        ]

        # Accumulate over groups (only when the work is folded); one output per position.
        out_tag = tree.o.payload.tag
        if groups > 1:
            acc = Signal(signed(fmt.acc_bits), name="acc")
            with m.If(tree.o.valid):
                m.d.sync += acc.eq(Mux(out_tag.first, 0, acc) + tree.o.payload.sum)
            acc_valid = delay(m, tree.o.valid, 1, run, "acc_valid")
            out_tag = delay(m, out_tag, 1, run, "acc_tag")
            value, emit = acc, acc_valid & out_tag.done
        else:
            value, emit = tree.o.payload.sum, tree.o.valid
        m.d.comb += [
            tree.o.ready.eq(run),
            acc_in.valid.eq(emit),
            acc_in.payload.value.eq(value),
            acc_in.payload.channel.eq(out_tag.channel),
            acc_in.payload.last.eq(out_tag.last),
            requant.o.ready.eq(run),
        ]

        # Output: [accumulator clamp], per-channel shift, rounding, saturation, then the
        # credit-counted FIFO.
        # (not wiring.connect: that would drive requant.o.ready with the FIFO's w_rdy, an enable)
        m.d.comb += [output.i.valid.eq(requant.o.valid), output.i.payload.eq(requant.o.payload)]
        wiring.connect(m, output.o, wiring.flipped(self.o))
        return m
