"""Skid buffer: a stream register slice that cuts the combinational ``ready`` path, 0 latency.

Why it exists: in a chain of enable-driven pipelines (`hw.fft.StreamingFft`, the spectral
product of `hw.fast_parc`), each stage's ``i.ready`` is a combinational function of the next
stage's ``o.ready``. Chained through two FFTs, that path would cross the whole engine in one
clock. A skid buffer between two stages gives the upstream stage a ``ready`` that is a plain
register, at the cost of one payload register and no added latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer", "RegisterSlice"]

Beat = TypeVar("Beat")


class _StreamSlice(wiring.Component):
    """What every stream slice here shares: one payload layout on ``i`` and ``o``, and the
    contract that the beats leave in the order they came, none lost or repeated."""

    def __init__(self, layout: data.ShapeCastable | int) -> None:
        self.layout = layout
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    @staticmethod
    def model(beats: Sequence[Beat]) -> list[Beat]:
        """The beats ``o`` transfers, given the beats ``i`` transferred: the same, in order."""
        return list(beats)


class SkidBuffer(_StreamSlice):
    """Zero-latency skid buffer with a registered ``i.ready``; 1 beat per clock.

    When ``o`` stalls (``o.ready`` low) while a beat arrives, the beat is accepted anyway and
    held in one register (``full``); ``i.ready`` drops on the next clock, because it is just
    ``~full``. While ``full``, ``o`` presents the held beat, so the beat order never changes.

    Stream facts (what `tests/test_block_skid.py` checks under random valid/ready):

    - every beat accepted on ``i`` leaves on ``o`` exactly once, in order (`model` is the
      identity on the transferred sequence);
    - ``o`` obeys the stream rules whenever ``i`` does: once ``o.valid`` is high, ``o.valid``
      and ``o.payload`` hold until the transfer (the held beat is the beat ``o`` showed);
    - ``o.valid`` depends combinationally on ``i.valid`` (zero latency), never on ``o.ready``;
    - ``i.ready`` is a register output: it never depends combinationally on ``o.ready`` or on
      ``i.valid``;
    - with ``o.ready`` high it is a wire (``o = i``), so it costs no throughput or latency.

    Parameters
    ----------
    layout : amaranth shape or layout
        Payload shape of both streams (e.g. `hw.fft.complex_sample_layout`).

    Attributes
    ----------
    layout : shape-castable
        The payload shape.
    latency : int
        0: a beat offered while ``o`` is ready leaves in the same cycle.

    Ports
    -----
    i : In(stream.Signature(layout))
        Upstream; ``i.ready`` is the register ``~full``.
    o : Out(stream.Signature(layout))
        Downstream; ``o.valid = i.valid | full``, ``o.payload = full ? held : i.payload``.
    """

    latency = 0

    def elaborate(self, platform) -> Module:
        m = Module()
        full = Signal()
        held = Signal(self.layout)
        m.d.comb += [
            self.i.ready.eq(~full),
            self.o.valid.eq(self.i.valid | full),
            self.o.payload.eq(Mux(full, held, self.i.payload)),
        ]
        with m.If(full):
            with m.If(self.o.ready):
                m.d.sync += full.eq(0)
        with m.Elif(self.i.valid & ~self.o.ready):
            m.d.sync += [full.eq(1), held.eq(self.i.payload)]
        return m


class RegisterSlice(_StreamSlice):
    """A full register slice: ``o.valid``, ``o.payload`` and ``i.ready`` are all registers; 1 beat
    per clock, latency 1.

    Why: at an engine's input it puts a register between the caller's stream and the engine's
    first decisions, so neither ``s_axis_tvalid`` nor ``s_axis_tready`` crosses the chip in the
    same cycle as the engine's own control (the caller's registers may sit anywhere).

    A beat accepted while ``o`` stalls waits in a second register (``full``); ``i.ready`` is
    ``~full``, so nothing is lost, repeated or reordered (`model` is the identity).

    Parameters
    ----------
    layout : amaranth shape or layout
        Payload shape of both streams.

    Attributes
    ----------
    latency : int
        1: a beat accepted in cycle t is on ``o`` in cycle t + 1 when ``o`` was free.
    """

    latency = 1

    def elaborate(self, platform) -> Module:
        m = Module()
        full = Signal()
        held = Signal(self.layout)
        m.d.comb += self.i.ready.eq(~full)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(full):
                m.d.sync += [self.o.payload.eq(held), self.o.valid.eq(1), full.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~full):
            m.d.sync += [held.eq(self.i.payload), full.eq(1)]
        return m
