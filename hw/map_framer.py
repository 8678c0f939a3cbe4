"""Whole-map framing for the token mixer: malformed maps made whole, and ``last`` re-marked.

Why a map framer of its own, and why it *completes* a short map instead of dropping it: the
1-D engines' `hw.framer.Framer` drops a frame cut short by an early ``last``, because it holds
the whole frame before anything leaves. The mixer cannot: its ParC-W half streams each image
row on as soon as the row is in, long before the map's ``last`` shows whether the map was
whole. So `MapFramer` keeps the promise the rest of the mixer relies on, one whole map out per
map in, by rules a driver can reason about:

- **early ``last``** (on element k < L - 1 of a map): the map is counted in ``errors`` and
  completed with zeros (``i.ready`` is low while the zeros go out); the map's output is
  computed from that zero-completed map. The next element starts a new map.
- **missing ``last``** (not set on element L - 1): the L elements are a map, counted in
  ``errors``; input is then discarded up to and including the next beat with ``last``.

Either way every later map is aligned again, and the output carries exactly one map per
input map (`MapFramer.model` lists them). A reset restores alignment at once.

`FrameMarker` rewrites ``last`` every ``period`` beats. The mixer's inner blocks count frames
of their own sizes (a ParC-H corner turn takes H·W·C/2 samples, the 1-D engine lines of H):
once `MapFramer` has made the map whole, each block's ``last`` follows from a beat count.
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.framer import ERROR_COUNTER_BITS, split_frames
from hw.mux import equals
from hw.stream import sample_stream

__all__ = ["FrameMarker", "MapFramer"]


class FrameMarker(wiring.Component):
    """A stream passed through unchanged except ``last``, which is set on every ``period``-th beat.

    Combinational (latency 0): ``o.valid = i.valid``, ``i.ready = o.ready``, the data passes; a
    beat counter decides ``last``. Use it where the incoming ``last`` marks a different frame
    size (or none) and the sample count alone says where frames end.
    """

    latency = 0

    def __init__(self, period: int, width: int) -> None:
        if period < 1:
            raise ValueError(f"FrameMarker needs period >= 1; got {period}")
        self.period, self.width = int(period), int(width)
        super().__init__({"i": In(sample_stream(width)), "o": Out(sample_stream(width))})

    def elaborate(self, platform) -> Module:
        m = Module()
        count = Signal(range(self.period), name="count")
        at_end = Signal(init=self.period == 1, name="at_end")  # count == period - 1, as a register
        m.d.comb += [
            self.o.valid.eq(self.i.valid),
            self.o.payload.data.eq(self.i.payload.data),
            self.o.payload.last.eq(at_end),
            self.i.ready.eq(self.o.ready),
        ]
        with m.If(self.i.valid & self.o.ready):
            with m.If(at_end):
                m.d.sync += [count.eq(0), at_end.eq(self.period == 1)]
            with m.Else():
                m.d.sync += [count.eq(count + 1), at_end.eq(equals(count, self.period - 2))]
        return m

    @staticmethod
    def model(beats: int, period: int) -> list[int]:
        """The ``last`` flags of ``beats`` consecutive beats."""
        return [int(k % period == period - 1) for k in range(beats)]


class MapFramer(wiring.Component):
    """Maps of ``length`` elements in, whole maps out (module docstring); ``errors`` counts.

    Ports
    -----
    i : In(sample_stream(width))
        Elements, ``last`` on each map's final one.
    o : Out(sample_stream(width))
        The same elements (plus zero completions), ``last`` on element ``length - 1`` of
        every map, and nowhere else. ``o.valid`` and ``o.payload`` follow ``i`` through logic
        (latency 0): put a register slice after it.
    errors : Out(16)
        Malformed maps seen (wraps): counted in the cycle after the beat that shows it, so the new
        value reads two cycles after that beat (as `hw.framer.Framer`'s ``errors``).
    """

    latency = 0

    def __init__(self, length: int, width: int) -> None:
        if length < 1:
            raise ValueError(f"MapFramer needs length >= 1; got {length}")
        self.length, self.width = int(length), int(width)
        super().__init__(
            {"i": In(sample_stream(width)), "o": Out(sample_stream(width)), "errors": Out(ERROR_COUNTER_BITS)}
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        length = self.length
        count = Signal(range(length), name="count")
        at_end = Signal(init=length == 1, name="at_end")  # count == length - 1
        padding = Signal(name="padding")  # completing a short map with zeros
        skipping = Signal(name="skipping")  # discarding input up to the next last
        error = Signal(name="error")
        i, o = self.i, self.o
        m.d.comb += [
            o.valid.eq(padding | (i.valid & ~skipping)),
            o.payload.data.eq(0),
            o.payload.last.eq(at_end),
            i.ready.eq(skipping | (~padding & o.ready)),
        ]
        with m.If(~padding):
            m.d.comb += o.payload.data.eq(i.payload.data)
        m.d.sync += error.eq(0)
        with m.If(skipping):
            with m.If(i.valid & i.payload.last):
                m.d.sync += skipping.eq(0)
        with m.Elif(o.valid & o.ready):
            with m.If(at_end):
                m.d.sync += [count.eq(0), at_end.eq(length == 1), padding.eq(0)]
                with m.If(~padding & ~i.payload.last):  # missing last: resync on the next one
                    m.d.sync += [skipping.eq(1), error.eq(1)]
            with m.Else():
                m.d.sync += [count.eq(count + 1), at_end.eq(equals(count, length - 2))]
                with m.If(~padding & i.payload.last):  # early last: complete the map with zeros
                    m.d.sync += [padding.eq(1), error.eq(1)]
        with m.If(error):
            m.d.sync += self.errors.eq(self.errors + 1)
        return m

    @staticmethod
    def model(length: int, samples: Iterable[int], lasts: Iterable[int]) -> tuple[list[list[int]], int]:
        """The maps ``o`` carries for the accepted input beats, and the malformed-map count."""
        return split_frames(length, samples, lasts, complete_short=True)
