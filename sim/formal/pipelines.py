"""Properties of a stall-all pipeline (`Requantizer`, `AdderTree`): one enable, ``o.ready``.

Such a block is proven in two parts that compose (docs/formal.md):

- `stall_all_flow`, with any ``o.ready``: ``i.ready = o.ready``, the stream rules, beats in =
  beats out + the valid stages (nothing lost or repeated), a tag (``last``, a channel...)
  leaves with the beat it entered with (tracked element), and a stalled cycle changes no
  register of the block (every one of them, found in the netlist);
- `unstalled_output`, with ``o.ready`` high: each output is the expected value of the input
  ``latency`` cycles earlier.

A stalled cycle is then a stutter, so a run with backpressure is an unstalled run with some
states repeated: the outputs under backpressure are the unstalled ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Assert, Assume, Cat, Signal, Value
from amaranth.lib import wiring

from sim.formal.probe import Probe
from sim.formal.props import Bench, Tracker, assume, cover_stalled_transfer, drive_free, hold_rule

__all__ = ["pipeline_bench", "stall_all_flow", "unstalled_output"]


def pipeline_bench(block: wiring.Component) -> tuple[Bench, Probe]:
    """A bench around a stall-all pipeline ``block`` whose input payload, ``i.valid`` and
    ``o.ready`` are free (each proof adds its own assumptions)."""
    bench = Bench.new()
    probe = Probe(block)
    bench.m.submodules.dut = probe.fragment
    dut = probe.dut
    drive_free(bench.m, dut.i.valid, dut.i.payload, dut.o.ready)
    return bench, probe


def stall_all_flow(
    bench: Bench, probe: Probe, tag_in: Value, tag_out: Value, stages: Sequence[tuple[Value, Value]]
) -> None:
    """The flow properties; ``stages`` are the block's (valid, tag) registers, oldest first
    (the output stage first), so the strengthening invariants can place every beat."""
    m, dut = bench.m, probe.dut
    fire_in = hold_rule(m, dut.i.valid, dut.i.ready, dut.i.payload, check=Assume)
    fire_out = hold_rule(m, dut.o.valid, dut.o.ready, dut.o.payload)
    m.d.comb += Assert(dut.i.ready == dut.o.ready)
    t = Tracker(m, fire_in, tag_in, fire_out)
    cover_stalled_transfer(m, dut.o.valid, dut.o.ready, t)
    t.check_out(tag_out)
    older: Value | int = 0
    for valid, tag in stages:
        t.holds(valid, older, tag)
        older = older + valid
    m.d.comb += Assert(t.occupancy == older)

    registers = Cat(*probe.registers())
    stalled, before = Signal(name="stalled_before"), Signal(len(registers), name="registers_before")
    m.d.sync += [stalled.eq(~dut.o.ready), before.eq(registers)]
    with m.If(stalled):
        m.d.comb += Assert(registers == before)


def unstalled_output(bench: Bench, probe: Probe, inputs: Value, latency: int) -> tuple[Value, Value]:
    """Assume ``o.ready`` high; returns (valid, ``inputs``) as they were ``latency`` cycles ago,
    for the caller to state what ``o`` must be, and asserts ``o.valid`` is that valid."""
    m, dut = bench.m, probe.dut
    assume(m, dut.o.ready)
    delayed = Cat(dut.i.valid, inputs)
    for k in range(latency):
        register = Signal(len(delayed), name=f"input_d{k}")
        m.d.sync += register.eq(delayed)
        delayed = register
    m.d.comb += Assert(dut.o.valid == delayed[0])
    return delayed[0], delayed[1:]
