"""Credit-counted output buffer: what lets a pipeline run free while its output stalls.

Why: an engine whose every register loads on one enable ``~o.valid | o.ready`` spreads that
enable over thousands of flip-flops, a net that alone limits the clock (issue 14). Instead the
datapath runs free (no enable at all) and ends in this FIFO. Work enters the datapath only
while the FIFO is sure to have room for it when it arrives: the source takes a *credit* per
result it starts, the FIFO returns one per result it hands on, and the source may start a
result only while ``grant`` (a register) says a credit is left. ``o.ready`` reaches only the
FIFO's read side and the credit counter; ``o.valid`` never depends on it.

With ``depth >= depth_for(pipeline)`` a source that starts one result per cycle and an
always-ready output never wait for a credit: a credit comes back ``pipeline + 3`` cycles after
it was taken (the pipeline, the FIFO's write and read registers, the counter and ``grant``).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Shape, ShapeLike, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

__all__ = ["CreditBuffer"]


class CreditBuffer(wiring.Component):
    """FIFO of ``depth`` beats with a credit counter and a registered ``grant``.

    Contract (`tests/test_block_credit_buffer.py` checks it under random traffic):

    - ``grant`` is a register: high while fewer than ``depth`` results are taken and not yet
      handed on through ``o`` (counting the ones in the FIFO). ``take`` must be low while
      ``grant`` is low; then ``i.ready`` is high whenever ``i.valid`` is (nothing is lost).
    - every ``i`` beat leaves on ``o`` once, in order; ``o`` obeys the stream rules.

    Parameters
    ----------
    layout : ShapeLike
        Payload of ``i`` and ``o``.
    depth : int
        Results in flight plus results held (at least 3; `depth_for` never asks for less).
        Why not 2: the FIFO (`SyncFIFOBuffered`) is ``depth - 1`` memory words and an output
        register, and a word written into an empty FIFO spends a cycle in memory before it
        moves to the output register; with one memory word that cycle leaves the FIFO full
        at one word, so a second word granted a cycle later is refused (``i.ready`` low),
        i.e. lost. From 3 on the moving word always has a free word beside it.

    Attributes
    ----------
    latency : int
        2: a beat written in cycle t is on ``o`` in cycle t + 2 when the FIFO was empty.

    Ports
    -----
    take : In(1)
        The source starts a result this cycle (consumes a credit).
    grant : Out(1)
        A register: ``take`` is allowed this cycle.
    grant_next : Out(1)
        What ``grant`` will be in the next cycle (its register's input), for a source whose
        own ready logic wants to be a register too.
    i : In(stream.Signature(layout))
        The results, in the order their credits were taken; ``i.ready`` (FIFO not full) is for
        checking only: a source that honours ``grant`` never sees it low.
    o : Out(stream.Signature(layout))
        The buffered results; ``o.valid`` and ``o.payload`` are registers.
    """

    latency = 2

    def __init__(self, layout: ShapeLike, depth: int) -> None:
        if depth < 3:  # depth 2 loses a word (see ``depth`` above)
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(f"a credit buffer needs depth >= 3; got {depth}")
        self.layout, self.depth = layout, int(depth)
        super().__init__(
            {
                "take": In(1),
                "grant": Out(1, init=1),
                "grant_next": Out(1),
                "i": In(stream.Signature(layout)),
                "o": Out(stream.Signature(layout)),
            }
        )

    @staticmethod
    def depth_for(pipeline: int) -> int:
        """Smallest depth at which a source starting one result per cycle, ``pipeline`` cycles
        ahead of its write into ``i``, never waits for a credit while ``o.ready`` is high."""
        return pipeline + 3

    def elaborate(self, platform) -> Module:
        m = Module()
        width = Shape.cast(self.layout).width
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=width, depth=self.depth)
        left = Signal(range(self.depth + 1), init=self.depth, name="credits")
        popped = self.o.valid & self.o.ready
        taken = self.take & ~popped  # the only way the count can fall
        after = Signal.like(left)
        m.d.comb += [
            fifo.w_data.eq(_payload(self.i.payload)),
            fifo.w_en.eq(self.i.valid),
            self.i.ready.eq(fifo.w_rdy),
            self.o.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o.ready),
            after.eq(left - self.take + popped),
        ]
        m.d.comb += _payload(self.o.payload).eq(fifo.r_data)
        # grant = (after != 0), written so that take and pop only pass one LUT: the compares
        # read the register alone
        more = Signal()
        m.d.comb += more.eq(left > 1)
        one, none = left == 1, ~left.any()  # (not == 0: Verilator flags the `!` it becomes)
        m.d.comb += self.grant_next.eq(more | (one & ~taken) | (none & popped))
        m.d.sync += [left.eq(after), self.grant.eq(self.grant_next)]
        return m


def _payload(payload: Any) -> Any:
    """The bits of a payload (a `data.View` or a plain signal)."""
    return payload.as_value() if isinstance(payload, data.View) else payload
