"""Harness of the direct engine's AXI4-Stream top (`hw.design.build_design`, ``arch="direct"``)
at small N: the whole netlist, as generated, with properties on its ports.

What it proves, for every input the stream rules allow and any ``m_axis_tready``:

- ``m_axis`` keeps the stream rules (``tvalid``, ``tdata``, ``tlast`` hold until ``tready``);
- ``m_axis_tlast`` is high on exactly every N-th output sample;
- no sample is lost or repeated: N samples leave per frame the Framer keeps — the frames
  taken by the Feeder times N equals the outputs plus the positions still to issue plus the
  results in flight and in the output FIFO (counted by its credits);
- ``frame_errors`` equals the malformed-frame count of `Framer.model` over the beats the
  Framer receives (which are the ``s_axis`` beats: the input `RegisterSlice` is the identity,
  proven on its own), two cycles later (the Framer's count, then the top's register);
- and covers a whole frame leaving while ``m_axis_tready`` was low during it.

The datapath between the Feeder and the output FIFO runs free (no enable), so its contents
are a function of the last ``pipeline`` cycles; a k-induction depth beyond that needs no
invariant for it. The registers that can hold a state indefinitely (input slice, Framer,
Feeder, credits, FIFO) get invariants against the harness's counters. The arithmetic is not
proven here: the blocks' proofs and the bit-exact simulations cover it.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Cover, Mux, Signal

from hw.design import DesignSpec, build_design
from hw.top import AxisTop
from sim.formal.credit_buffer import credit_invariants, fifo_slots
from sim.formal.framer import framer_invariants, framer_reference
from sim.formal.probe import Probe
from sim.formal.props import COUNTER_BITS, Bench, count, hold_rule, top_port_rules

__all__ = ["SPEC", "SPEC_FOLDED", "direct_top", "direct_top_bench"]

SPEC = DesignSpec(arch="direct", n=3, bits=4, channels=2, weights="random", seed=0)
SPEC_FOLDED = DesignSpec(arch="direct", n=4, bits=4, channels=2, parallel=2, weights="random", seed=0)  # G = 2


def direct_top(spec: DesignSpec = SPEC) -> AxisTop:
    return build_design(spec).top


def direct_top_bench(spec: DesignSpec = SPEC) -> Bench:
    """The direct engine's top for ``spec`` (any N and P; small ones keep the proof quick)."""
    bench = Bench.new()
    m = bench.m
    probe = Probe(direct_top(spec))
    top = probe.dut
    m.submodules.top = probe.fragment
    engine = top.engine
    n, depth = engine.n, engine.buffer_depth
    # stream rules on both ports, tlast on every N-th output (props.top_port_rules)
    ports = top_port_rules(m, top, n)
    fire_out, position = ports.fire_out, ports.position

    # the Framer's input and the malformed-frame count
    entry, framer = probe.block("engine", "input"), probe.block("engine", "framer")
    output = probe.block("engine", "output")
    into_framer = hold_rule(m, entry.o.valid, entry.o.ready, entry.o.payload)
    ref = framer_reference(m, into_framer, framer.i.payload.last, n)
    errors_shown = Signal.like(ref.errors_seen, name="ref_errors_shown")
    m.d.sync += errors_shown.eq(ref.errors_seen)
    m.d.comb += Assert(top.frame_errors == errors_shown)

    # samples: frames kept -> frames fed -> positions issued (the last beat of a position takes
    # its credit) -> outputs
    issue = output.take
    kept = count(m, ref.completes, "frames_kept")
    fed = count(m, framer.o.valid & framer.o.ready, "frames_fed")
    issued = count(m, issue, "positions_issued")
    written = count(m, output.i.valid, "fifo_written")
    out = count(m, fire_out, "samples_out")
    # the free-running datapath: a result enters the FIFO exactly `pipeline` cycles after its
    # position was issued (the engine's documented `pipeline`)
    history = Signal(engine.pipeline, name="issue_history")  # bit k: issued k + 1 cycles ago
    m.d.sync += history.eq(Cat(issue, history[:-1]))
    m.d.comb += [
        Assert(output.i.valid == history[-1]),
        Assert((issued - written)[:COUNTER_BITS] == sum(history[k] for k in range(engine.pipeline))),
    ]
    feeder_signal = {name: probe.signal(name, "engine", "feeder") for name in ("index", "busy", "group", "ready")}
    index, busy, group = feeder_signal["index"], feeder_signal["busy"], feeder_signal["group"]
    position_done = probe.signal("position_done", "engine", "feeder")
    frame_done = probe.signal("frame_done", "engine", "feeder")
    to_issue = Mux(busy, n - index, 0)  # positions of the frame in the Feeder not yet issued
    outstanding = (issued - out)[:COUNTER_BITS]  # issued, not yet out of m_axis
    m.d.comb += [
        Assert((kept - fed)[:COUNTER_BITS] == framer.o.valid),
        Assert(((fed * n)[:COUNTER_BITS] - issued)[:COUNTER_BITS] == to_issue),
        Assert(outstanding <= depth),
        Assert(~output.i.valid | output.i.ready),  # the FIFO never refuses a result
    ]
    # cover: two frames out, with backpressure inside the second
    stalled = Signal(name="stalled_in_frame")
    with m.If(fire_out & top.m_axis_tlast):
        m.d.sync += stalled.eq(0)
    with m.Elif(top.m_axis_tvalid & ~top.m_axis_tready):
        m.d.sync += stalled.eq(1)
    m.d.comb += Cover(fire_out & top.m_axis_tlast & stalled & (out == 2 * n - 1))

    # strengthening invariants
    framer_invariants(m, probe, ref, n, "engine", "framer")
    entry_full = probe.signal("full", "engine", "input")
    m.d.comb += [
        Assert(~entry_full | entry.o.valid),
        Assert(probe.signal("full", "engine", "framer") == framer.o.valid),
        Assert(framer.errors == ref.errors_seen),
        Assert(~busy | (index < n)),  # (idle, it may rest at n)
        Assert(position < n),
        Assert(group < engine.groups),
        Assert(position_done == (group == engine.groups - 1)),
        Assert(~busy | (frame_done == (position_done & (index == n - 1)))),
        Assert(feeder_signal["ready"] == (~busy | (output.grant & frame_done))),
        Assert(((position + outstanding) % n) == Mux(busy, index, 0)),
    ]
    credit_invariants(m, probe, outstanding, depth, "engine", "output")
    occupancy, slots = fifo_slots(m, probe, "engine", "output", "fifo")
    m.d.comb += Assert((written - out)[:COUNTER_BITS] == occupancy)
    last_bit = len(top.m_axis_tdata)  # sample layout {data, last}: last above the data
    for valid, offset, payload in slots:
        with m.If(valid):
            m.d.comb += Assert(payload[last_bit] == (((position + offset) % n) == n - 1))
    return bench
