"""Harness of `hw.credit_buffer.CreditBuffer`: credits never overbook the FIFO, beats intact.

The environment is a free-running source that honours the contract: it raises ``take``
only while ``grant`` is high, and writes a result into ``i`` only when it holds a credit
taken for it (``take`` in an earlier cycle or this one). With that, the proof asserts:

- ``grant`` is high exactly while fewer than ``depth`` results are taken and not yet handed
  on (the docstring's definition), and ``i.ready`` is high whenever ``i.valid`` is: no
  result is ever refused, so none is lost;
- every beat leaves ``o`` once, in order, with its payload (tracked element), and ``o``
  keeps the stream rules.

Strengthening invariants tie the credit counter and the FIFO's state (its output register,
its level and pointers, and each memory row, read through a peek port) to the counters.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Const, Module, Mux, Signal, Value

from hw.credit_buffer import CreditBuffer
from hw.stream import sample_layout
from sim.formal.probe import Probe
from sim.formal.props import (
    COUNTER_BITS,
    Bench,
    Tracker,
    assume,
    bits_of,
    count,
    cover_stalled_transfer,
    drive_free,
    hold_rule,
)

__all__ = ["credit_buffer_bench", "credit_invariants", "fifo_slots"]


def credit_buffer_bench(depth: int = 3, bits: int = 2) -> Bench:
    bench = Bench.new()
    m = bench.m
    probe = Probe(CreditBuffer(sample_layout(bits), depth))
    dut = probe.dut
    m.submodules.dut = probe.fragment
    drive_free(m, dut.take, dut.i.valid, dut.i.payload, dut.o.ready)

    # the source: takes only with grant, writes only results it holds a credit for
    taken = count(m, dut.take, "n_taken")
    fire_in = dut.i.valid & dut.i.ready
    fire_out = hold_rule(m, dut.o.valid, dut.o.ready, dut.o.payload)
    t = Tracker(m, fire_in, bits_of(dut.i.payload), fire_out)
    assume(m, ~dut.take | dut.grant)
    assume(m, ~dut.i.valid | ((taken - t.n_in)[:COUNTER_BITS] != 0) | dut.take)
    cover_stalled_transfer(m, dut.o.valid, dut.o.ready, t)

    outstanding = (taken - t.n_out)[:COUNTER_BITS]  # taken, not yet handed on
    m.d.comb += [
        Assert(~dut.i.valid | dut.i.ready),
        Assert(dut.grant == (outstanding < depth)),
        Assert(outstanding <= depth),
        Assert((taken - t.n_in)[:COUNTER_BITS] <= depth),
    ]
    t.check_out(bits_of(dut.o.payload))

    # strengthening invariants: credits and the FIFO against the counters
    credit_invariants(m, probe, outstanding, depth)
    occupancy, slots = fifo_slots(m, probe, "fifo")
    m.d.comb += Assert(t.occupancy == occupancy)
    for valid, offset, payload in slots:
        t.holds(valid, offset, payload)
    return bench


def credit_invariants(m: Module, probe: Probe, outstanding: Value, depth: int, *path: str) -> None:
    """The credit counter (``credits``) is ``depth`` minus the results taken and not handed on,
    and ``grant`` says whether one is left."""
    left = probe.signal("credits", *path)
    grant = probe.block(*path).grant if path else probe.dut.grant
    m.d.comb += [Assert(left + outstanding == depth), Assert(grant == (left != 0))]


def fifo_slots(m: Module, probe: Probe, *path: str) -> tuple[Value, list[tuple[Value, Value, Signal]]]:
    """A `SyncFIFOBuffered` at ``path``: asserts its pointers agree with its level, and returns
    its occupancy and its slots ``(valid, offset from the oldest, payload)``: the output
    register first, then each memory row (read through a peek port)."""
    level = probe.signal("inner_level", *path)
    produce, consume = probe.signal("produce", *path), probe.signal("consume", *path)
    held, held_data = probe.signal("r_rdy", *path), probe.signal("r_data", *path)
    rows = probe.memory_rows(*path, "storage")
    inner = len(rows)
    m.d.comb += Assert(produce == Mux(consume + level >= inner, consume + level - inner, consume + level))
    slots: list[tuple[Value, Value, Signal]] = [(held, Const(0), held_data)]
    for row, data in enumerate(rows):
        distance = Mux(row >= consume, row - consume, row + inner - consume)  # from the oldest row
        slots.append((distance < level, held + distance, data))
    return level + held, slots
