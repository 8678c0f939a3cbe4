"""Direct-form streaming ParC engine: P multipliers, adder tree, folded PE/bias ROM.

Dataflow (one frame = N samples of one channel), one named block per step::

    Framer --frame--> Feeder.direct (rotating copy of the frame) --P taps--> x * w
        --> AdderTree (+ ChannelRom offset) --> [accumulate over G = ceil(N/P) groups]
        --> Requantizer (round/saturate, per-channel shift) --> o

While the Feeder emits frame k (one output per G cycles), the Framer fills with frame k+1,
so with P = N the engine sustains 1 sample per clock. Every register after the Feeder
advances on one enable (``~o.valid | o.ready``, driven into each block's ``o.ready``):
backpressure freezes the pipeline, valid never depends on ready. Arithmetic is exactly
`golden.direct.direct_model`.
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.direct import direct_model
from golden.quant import QuantizedLayer
from hw.adder_tree import AdderTree, tree_levels
from hw.feeder import Feeder
from hw.framer import ERROR_COUNTER_BITS, Framer
from hw.mux import select
from hw.pipeline import delay
from hw.requantizer import SATURATION_COUNTER_BITS, Requantizer
from hw.rom import ChannelRom, pack_words
from hw.stream import channel_shape, sample_stream

__all__ = ["DirectEngine", "SATURATION_COUNTER_BITS", "select"]

PRODUCT_STAGES = 1  # x * w registered


class DirectEngine(wiring.Component):
    """Streaming fixed-point ParC, direct form.

    Parameters
    ----------
    layer : QuantizedLayer
        Weights, folded PE/bias offsets, formats (ROM contents).
    parallel : int, optional
        P multipliers, 1 <= P <= N (default N); the output rate is 1 / ceil(N/P) per clock.

    Attributes
    ----------
    groups : int
        G = ceil(N/P): beats (and cycles) per output.
    tree_levels : int
        Register levels of the (P + 1)-leaf adder tree.
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
        Malformed input frames (see `hw.framer`).
    saturations : Out(32)
        Output samples that saturated (or wrapped).
    """

    def __init__(self, layer: QuantizedLayer, parallel: int | None = None) -> None:
        fmt = layer.fmt
        self.layer = layer
        self.n = fmt.n
        self.parallel = self.n if parallel is None else int(parallel)
        if not 1 <= self.parallel <= self.n:
            raise ValueError(f"parallel must be in 1..N={self.n}; got {parallel}")
        self.groups = math.ceil(self.n / self.parallel)
        self.tree_levels = tree_levels(self.parallel + 1)
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
        # framer full, feeder take, product, tree levels, [accumulator], output register
        accumulate = 1 if self.groups > 1 else 0
        return Framer.latency + Feeder.latency + PRODUCT_STAGES + self.tree_levels + accumulate + Requantizer.latency

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

        m.submodules.framer = framer = Framer(n, fmt.data.bits, channels)
        m.submodules.feeder = feeder = Feeder.direct(n, fmt.data.bits, channels, p)
        m.submodules.offset_rom = offsets = ChannelRom(q.offset, signed(fmt.acc_bits))
        m.submodules.tree = tree = AdderTree([fmt.product_bits] * p + [fmt.acc_bits], tag)
        sum_bits = fmt.acc_bits if groups > 1 else tree.sum_bits
        m.submodules.requantizer = requant = Requantizer(sum_bits, fmt.output.bits, q.shift, fmt.rounding, fmt.saturate)
        words = self.weight_words()
        m.submodules.weight_rom = weight_rom = Memory(shape=unsigned(groups * p * wb), depth=len(words), init=words)
        w_port = weight_rom.read_port()

        # The one pipeline enable: every block after the Feeder gets it as its o.ready.
        enable = Signal()
        m.d.comb += enable.eq(~self.o.valid | self.o.ready)

        # Framer -> Feeder; the frame's weight word is read as the Feeder takes the frame.
        wiring.connect(m, wiring.flipped(self.i), framer.i)
        wiring.connect(m, framer.o, feeder.i)
        m.d.comb += [
            self.frame_errors.eq(framer.errors),
            w_port.addr.eq(framer.o.payload.channel),
            w_port.en.eq(framer.o.valid & framer.o.ready),
        ]

        # Product stage: tap j of group g is x = R[g*P + j] (the Feeder's window) times w[g*P + j].
        beat = feeder.o.payload
        weights = [w_port.data[k * wb : (k + 1) * wb].as_signed() for k in range(groups * p)]
        products = []
        for j in range(p):
            prod = Signal(signed(fmt.product_bits), name=f"prod_{j}")
            with m.If(enable):
                m.d.sync += prod.eq(beat.data[j] * select(weights[j::p], beat.group))
            products.append(prod)
        prod_tag = Signal(tag)
        m.d.comb += [
            feeder.o.ready.eq(enable),
            prod_tag.first.eq(~beat.group.any()),
            prod_tag.done.eq(beat.group == groups - 1),
            prod_tag.last.eq(beat.index == n - 1),
            prod_tag.channel.eq(beat.channel),
            offsets.channel.eq(beat.channel),
            offsets.index.eq(beat.index),
            offsets.en.eq(enable),
        ]
        prod_tag = delay(m, prod_tag, PRODUCT_STAGES, enable, "prod_tag")
        m.d.comb += [
            tree.i.valid.eq(delay(m, feeder.o.valid, PRODUCT_STAGES, enable, "prod_valid")),
            tree.i.payload.tag.eq(prod_tag),
            tree.i.payload.leaves[f"leaf{p}"].eq(Mux(prod_tag.first, offsets.data, 0)),  # offset on group 0
        ]
        m.d.comb += [tree.i.payload.leaves[f"leaf{j}"].eq(prod) for j, prod in enumerate(products)]

        # Accumulate over groups (only when the work is folded); one output per position.
        out_tag = tree.o.payload.tag
        if groups > 1:
            acc = Signal(signed(fmt.acc_bits), name="acc")
            with m.If(enable & tree.o.valid):
                m.d.sync += acc.eq(Mux(out_tag.first, 0, acc) + tree.o.payload.sum)
            acc_valid = delay(m, tree.o.valid, 1, enable, "acc_valid")
            out_tag = delay(m, out_tag, 1, enable, "acc_tag")
            value, emit = acc, acc_valid & out_tag.done
        else:
            value, emit = tree.o.payload.sum, tree.o.valid
        m.d.comb += [
            tree.o.ready.eq(enable),
            requant.i.valid.eq(emit),
            requant.i.payload.value.eq(value),
            requant.i.payload.channel.eq(out_tag.channel),
            requant.i.payload.last.eq(out_tag.last),
        ]

        # Output: per-channel shift, rounding, saturation; the output register is the last stage.
        m.d.comb += [
            requant.o.ready.eq(enable),
            self.o.valid.eq(requant.o.valid),
            self.o.payload.eq(requant.o.payload),
            self.saturations.eq(requant.saturations),
        ]
        return m
