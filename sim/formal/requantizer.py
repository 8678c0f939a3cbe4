"""Harnesses of `hw.requantizer.Requantizer`, a stall-all pipeline: two proofs that compose.

1. `requantizer_flow_bench`, with any ``o.ready``: ``i.ready = o.ready``; the stream rules on
   ``o``; samples in = samples out + the valid ones in the pipeline (none lost or repeated);
   ``last`` leaves on the sample it entered with (tracked element); and **while ``o.ready``
   is low no register of the block changes** (all of them, found in the netlist, not listed
   by hand).
2. `requantizer_data_bench`, with ``o.ready`` high: each output is the golden model's result
   (`Requantizer.model`, i.e. `golden.fixed.requantize`, tabulated for every input value and
   channel) for the input ``latency`` cycles earlier, and ``saturations`` counts exactly the
   outputs the model clips.

Why two: a stalled cycle of a stall-all pipeline is a stutter (proof 1), so every run with
backpressure is an unstalled run (proof 2) with some states repeated. Proving the data in one
harness with backpressure would need an invariant per pipeline stage restating its
arithmetic; the split keeps the arithmetic's only reference the golden model.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Cover, Signal, signed

from golden.fixed import Rounding
from hw.requantizer import Requantizer
from sim.formal.pipelines import pipeline_bench, stall_all_flow, unstalled_output
from sim.formal.probe import Probe
from sim.formal.props import Bench

__all__ = ["requantizer_data_bench", "requantizer_flow_bench", "small_requantizer"]

IN_BITS, OUT_BITS, SHIFTS = 6, 3, (1, 3)  # two shift classes, ties and clips all reachable


def small_requantizer() -> Requantizer:
    return Requantizer(IN_BITS, OUT_BITS, SHIFTS, Rounding.HALF_EVEN, saturate=True)


def _bench() -> tuple[Bench, Probe]:
    return pipeline_bench(small_requantizer())


def requantizer_flow_bench() -> Bench:
    """The flow half (`sim.formal.pipelines.stall_all_flow`), ``last`` as the tracked tag."""
    bench, probe = _bench()
    dut = probe.dut
    stages = [(dut.o.valid, dut.o.payload.last)]
    stages += [(probe.signal(f"rq_valid_d{k}"), probe.signal(f"rq_last_d{k}")) for k in reversed(range(3))]
    stall_all_flow(bench, probe, dut.i.payload.last, dut.o.payload.last, stages)
    return bench


def requantizer_data_bench() -> Bench:
    """The data half: every output is the golden model's, ``saturations`` exact."""
    bench, probe = _bench()
    m, dut = bench.m, probe.dut
    values = list(range(-(1 << (IN_BITS - 1)), 1 << (IN_BITS - 1)))
    payload = dut.i.payload
    valid, delayed = unstalled_output(bench, probe, Cat(payload.value, payload.channel, payload.last), dut.latency)
    value, channel, last = delayed[:IN_BITS].as_signed(), delayed[IN_BITS:-1], delayed[-1]

    expected = Signal(signed(OUT_BITS), name="expected")
    clips = Signal(name="expected_clip")
    with m.Switch(Cat(value, channel)):
        for c in range(len(SHIFTS)):
            samples, clipped = dut.model(values, [c] * len(values))
            for v, y, clip in zip(values, samples.tolist(), clipped.tolist(), strict=True):
                with m.Case((v & ((1 << IN_BITS) - 1)) | (c << IN_BITS)):
                    m.d.comb += [expected.eq(y), clips.eq(int(clip))]
    saturations = Signal(len(dut.saturations), name="expected_saturations")
    with m.If(valid & clips):
        m.d.sync += saturations.eq(saturations + 1)
    m.d.comb += Assert(dut.saturations == saturations)
    with m.If(valid):
        m.d.comb += [Assert(dut.o.payload.data == expected), Assert(dut.o.payload.last == last)]
    m.d.comb += Cover((dut.saturations == 2) & dut.o.valid & ~clips)
    return bench
