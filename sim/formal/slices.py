"""Harnesses of the stream slices of `hw/skid.py`, and the broken skid buffer that must fail.

Both slices are the identity on the transferred beats. The proof says so for every beat
(tracked element), and says that none is lost or repeated: the transfers in minus the
transfers out always equal the beats the slice holds (``full`` for the skid buffer,
``o.valid + full`` for the register slice). Those two equalities, and "the held beat is the
tracked one when its number comes up", are the strengthening invariants that make the
k-induction go through.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Module

from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout
from sim.formal.probe import Probe
from sim.formal.props import Bench, Tracker, bits_of, cover_stalled_transfer, drive_free, hold_rule

__all__ = ["BITS", "DroppingSkid", "FickleSkid", "register_slice_bench", "skid_bench", "slice_bench"]

BITS = 4  # payload = 4-bit sample + last: every value of a 5-bit payload is tried


class DroppingSkid(SkidBuffer):
    """Broken on purpose: always ready, so a beat that arrives while one is held replaces it
    (a beat is lost). Its proof must fail."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class FickleSkid(SkidBuffer):
    """Broken on purpose: ``o.valid`` follows ``i.valid`` only, so a held beat's valid falls
    without a transfer when the source pauses (a stream-rule violation). Its proof must fail."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        m.d.comb += self.o.valid.eq(self.i.valid)
        return m


def slice_bench(dut: SkidBuffer | RegisterSlice) -> tuple[Bench, Probe, Tracker]:
    """The environment and the properties both slices share."""
    bench = Bench.new()
    m = bench.m
    probe = Probe(dut)
    m.submodules.dut = probe.fragment
    drive_free(m, dut.i.valid, dut.i.payload, dut.o.ready)
    fire_in = hold_rule(m, dut.i.valid, dut.i.ready, dut.i.payload, check=Assume)
    fire_out = hold_rule(m, dut.o.valid, dut.o.ready, dut.o.payload)
    tracker = Tracker(m, fire_in, bits_of(dut.i.payload), fire_out)
    cover_stalled_transfer(m, dut.o.valid, dut.o.ready, tracker)
    return bench, probe, tracker


def skid_bench(block: type[SkidBuffer] = SkidBuffer) -> Bench:
    """`hw.skid.SkidBuffer` (or a variant): identity, nothing lost, stream rules on ``o``."""
    bench, probe, t = slice_bench(block(sample_layout(BITS)))
    dut, m = probe.dut, bench.m
    full, held = probe.signal("full"), probe.signal("held")
    m.d.comb += Assert(t.occupancy == full)
    t.holds(full, 0, held)
    t.check_out(bits_of(dut.o.payload), passing=bits_of(dut.i.payload))
    return bench


def register_slice_bench() -> Bench:
    """`hw.skid.RegisterSlice`: identity with latency 1, nothing lost, stream rules on ``o``."""
    bench, probe, t = slice_bench(RegisterSlice(sample_layout(BITS)))
    dut, m = probe.dut, bench.m
    full, held = probe.signal("full"), probe.signal("held")
    m.d.comb += [Assert(t.occupancy == dut.o.valid + full), Assert(~full | dut.o.valid)]
    t.holds(dut.o.valid, 0, bits_of(dut.o.payload))
    t.holds(full, 1, held)
    t.check_out(bits_of(dut.o.payload))
    return bench
