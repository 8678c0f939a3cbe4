"""Harness of `hw.framer.Framer`: whole frames out, exactly the frames and errors of its model.

A small reference of `Framer.model` runs beside the block on the same transfers: the
position in the frame being filled, the "skipping to the next last" flag, the kept-frame
count and the error count. The proof asserts, for every cycle:

- ``errors`` equals the reference's count of malformed frames (one cycle later, as the
  docstring states: counted the cycle after the sample that shows it);
- frames in (kept by the reference) minus frames out equals the frame the block holds
  (``o.valid``): none lost, none repeated;
- the tracked frame (any frame number, `AnyConst`) leaves with exactly the N samples that
  were accepted for it, in order (``frame[k]`` = k-th sample), and its channel is its
  number modulo C;
- stream rules on ``o``, assumed on ``i``.

The strengthening invariants tie the block's registers (``count``, ``skipping``, ``almost``,
``error``, the shift-register ``buffer``) to the reference, sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover, Module, Mux, Signal, Value, signed

from hw.framer import ERROR_COUNTER_BITS, Framer
from sim.formal.probe import Probe
from sim.formal.props import COUNTER_BITS, Bench, count, cover_stalled_transfer, drive_free, hold_rule

__all__ = ["FramerReference", "framer_bench", "framer_invariants", "framer_reference"]


def framer_bench(n: int = 3, bits: int = 2, channels: int = 3, *, ready_next: bool = False) -> Bench:
    """`hw.framer.Framer` against its reference (module docstring). With ``ready_next`` the
    consumer's ready is a register whose next value the environment offers a cycle ahead (the
    contract of that option), and the look-ahead registers are tied to the plain rules."""
    bench = Bench.new()
    m = bench.m
    probe = Probe(Framer(n, bits, channels, ready_next=ready_next))
    dut = probe.dut
    m.submodules.dut = probe.fragment
    if ready_next:
        drive_free(m, dut.i.valid, dut.i.payload, dut.o_ready_next)
        consumer_ready = Signal(init=1, name="o_ready_register")
        m.d.sync += consumer_ready.eq(dut.o_ready_next)
        m.d.comb += dut.o.ready.eq(consumer_ready)
        # the registers computed a cycle ahead equal the rules they stand for
        skipping, full = probe.signal("skipping"), probe.signal("full")
        m.d.comb += [
            Assert(dut.i.ready == (skipping | ~full | dut.o.ready)),
            Assert(probe.signal("shift_ok") == (dut.i.ready & ~skipping)),
        ]
    else:
        drive_free(m, dut.i.valid, dut.i.payload, dut.o.ready)
    fire_in = hold_rule(m, dut.i.valid, dut.i.ready, dut.i.payload, check=Assume)
    fire_out = hold_rule(m, dut.o.valid, dut.o.ready, dut.o.payload)
    cover_stalled_transfer(m, dut.o.valid, dut.o.ready)
    sample, last = dut.i.payload.data, dut.i.payload.last

    ref = framer_reference(m, fire_in, last, n)
    pos, filling = ref.pos, ref.filling
    m.d.comb += Assert(dut.errors == ref.errors_seen)

    # frames: count in (kept) = count out + the one held
    frames_in = count(m, ref.completes, "frames_in")
    frames_out = count(m, fire_out, "frames_out")
    m.d.comb += Assert((frames_in - frames_out)[:COUNTER_BITS] == dut.o.valid)
    channel = Signal(range(channels), name="ref_channel")
    with m.If(fire_out):
        m.d.sync += channel.eq(Mux(channel == channels - 1, 0, channel + 1))
    with m.If(dut.o.valid):
        m.d.comb += Assert(dut.o.payload.channel == channel)

    # the tracked frame: its samples as accepted, by position
    index = AnyConst(COUNTER_BITS)
    tracked = [Signal(signed(bits), name=f"tracked_{k}") for k in range(n)]
    with m.If(filling & (frames_in == index)):
        with m.Switch(pos):
            for k in range(n):
                with m.Case(k):
                    m.d.sync += tracked[k].eq(sample)
    with m.If(fire_out & (frames_out == index)):
        m.d.comb += [Assert(dut.o.payload.frame[k] == tracked[k]) for k in range(n)]

    # strengthening invariants: the block's registers against the reference
    framer_invariants(m, probe, ref, n)
    buffer = probe.signal("buffer")
    word = [buffer[k * bits : (k + 1) * bits].as_signed() for k in range(n)]
    m.d.comb += [
        Assert(probe.signal("full") == dut.o.valid),
        Assert(probe.signal("channel") == channel),
        Assert(channel < channels),
    ]
    with m.If(dut.o.valid):
        m.d.comb += Assert(pos == 0)
        with m.If(frames_out == index):
            m.d.comb += [Assert(word[k] == tracked[k]) for k in range(n)]
    for filled in range(1, n):  # a partial frame sits at the top of the shift register
        with m.If((pos == filled) & (frames_in == index)):
            m.d.comb += [Assert(word[n - filled + k] == tracked[k]) for k in range(filled)]

    # covers: both kinds of malformed frame counted, two frames out (one taken after waiting:
    # cover_stalled_transfer above)
    seen_early, seen_missing = Signal(name="seen_early"), Signal(name="seen_missing")
    with m.If(ref.early):
        m.d.sync += seen_early.eq(1)
    with m.If(ref.missing):
        m.d.sync += seen_missing.eq(1)
    m.d.comb += Cover(seen_early & seen_missing & (dut.errors == 2) & (frames_out == 2))
    return bench


@dataclass(frozen=True)
class FramerReference:
    """`Framer.model` as registers: where the frame being filled is, whether input is being
    skipped, the error count (and the same one cycle later, when the block shows it)."""

    pos: Signal
    skip: Signal
    errors: Signal
    errors_seen: Signal
    filling: Value  # an accepted sample that goes into a frame
    completes: Value  # ... and completes it: a kept frame
    early: Value  # ... and is an early last: the partial frame is dropped
    missing: Value  # ... and completes a frame without last: skipping starts


def framer_reference(m: Module, fire_in: Value, last: Value, n: int) -> FramerReference:
    """The reference of `Framer.model`, fed one accepted sample (``fire_in``) at a time."""
    pos = Signal(range(n), name="ref_pos")
    skip = Signal(name="ref_skip")
    errors = Signal(ERROR_COUNTER_BITS, name="ref_errors")
    errors_seen = Signal(ERROR_COUNTER_BITS, name="ref_errors_seen")
    filling = fire_in & ~skip
    with m.If(fire_in):
        with m.If(skip):
            m.d.sync += skip.eq(~last)
        with m.Elif(pos == n - 1):
            m.d.sync += pos.eq(0)
            with m.If(~last):
                m.d.sync += [skip.eq(1), errors.eq(errors + 1)]
        with m.Elif(last):
            m.d.sync += [pos.eq(0), errors.eq(errors + 1)]
        with m.Else():
            m.d.sync += pos.eq(pos + 1)
    m.d.sync += errors_seen.eq(errors)
    completes = filling & (pos == n - 1)
    early = filling & (pos != n - 1) & last
    return FramerReference(pos, skip, errors, errors_seen, filling, completes, early, completes & ~last)


def framer_invariants(m: Module, probe: Probe, ref: FramerReference, n: int, *path: str) -> None:
    """The Framer's control registers (at submodule ``path``) against the reference."""
    m.d.comb += [
        Assert(probe.signal("count", *path) == ref.pos),
        Assert(probe.signal("skipping", *path) == ref.skip),
        Assert(probe.signal("almost", *path) == (ref.pos == n - 1)),
        Assert(probe.signal("error", *path) == (ref.errors != ref.errors_seen)),
        Assert(ref.pos < n),
    ]
