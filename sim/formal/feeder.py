"""Harness of `hw.feeder.Feeder` (the direct engine's ``Feeder.direct``, ``ready_next`` on, as
`hw.direct` builds it): each frame taken leaves as exactly its beats, windows of its rotations.

The environment: frames under the stream rules; ``o.ready`` a register whose next value is
offered on ``o_ready_next`` one cycle ahead (the contract of ``ready_next``; the direct
engine wires the credit buffer's ``grant`` / ``grant_next``). The proof asserts:

- beats out = positions x groups per frame taken, in order ``(index, group)`` =
  (0, 0), (0, 1), ..., and ``last`` exactly on the frame's final beat;
- every beat of the tracked frame (any frame number, `AnyConst`) carries its channel and
  ``data[j] = u[(i + g*P + j) mod N]`` (0 beyond N), the docstring's definition;
- stream rules on ``o``; structurally, ``o.valid`` and ``i.ready`` are registers.

Invariants: the rotating register holds the tracked frame rotated by ``index``; ``busy``,
``index``, ``group`` and the done flags agree with the beat count; ``ready`` is what the
contract says it is.
"""

from __future__ import annotations

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover, Mux, Signal, signed

from hw.feeder import Feeder
from sim.formal.probe import Probe
from sim.formal.props import COUNTER_BITS, Bench, count, cover_stalled_transfer, drive_free, hold_rule

__all__ = ["feeder_bench", "small_feeder"]

N, BITS, CHANNELS, P = 4, 2, 2, 3  # G = 2 groups, the second one half past N (zeros)


def small_feeder() -> Feeder:
    return Feeder.direct(N, BITS, CHANNELS, P, ready_next=True)


def feeder_bench() -> Bench:
    bench = Bench.new()
    m = bench.m
    probe = Probe(small_feeder())
    dut = probe.dut
    m.submodules.dut = probe.fragment
    groups, positions = dut.groups, dut.positions
    drive_free(m, dut.i.valid, dut.i.payload, dut.o_ready_next)
    ready = Signal(init=1, name="o_ready_register")  # the consumer's ready is a register
    m.d.sync += ready.eq(dut.o_ready_next)
    m.d.comb += dut.o.ready.eq(ready)
    fire_in = hold_rule(m, dut.i.valid, dut.i.ready, dut.i.payload, check=Assume)
    fire_out = hold_rule(m, dut.o.valid, dut.o.ready, dut.o.payload)
    cover_stalled_transfer(m, dut.o.valid, dut.o.ready)

    # the beat sequence: (index, group) of the next beat, counted by the harness
    index, group = Signal(range(positions), name="ref_index"), Signal(range(groups), name="ref_group")
    final = (index == positions - 1) & (group == groups - 1)
    with m.If(fire_out):
        m.d.sync += group.eq(Mux(group == groups - 1, 0, group + 1))
        with m.If(group == groups - 1):
            m.d.sync += index.eq(Mux(index == positions - 1, 0, index + 1))
    frames_in, frames_out = count(m, fire_in, "frames_in"), count(m, fire_out & final, "frames_out")
    busy = (frames_in - frames_out)[:COUNTER_BITS]
    m.d.comb += [Assert(busy == dut.o.valid), Assert(index < positions), Assert(group < groups)]
    with m.If(~dut.o.valid):
        m.d.comb += [Assert(index == 0), Assert(group == 0)]
    with m.If(dut.o.valid):
        beat = dut.o.payload
        m.d.comb += [Assert(beat.index == index), Assert(beat.group == group), Assert(beat.last == final)]

    # the tracked frame: its samples and channel as taken; every one of its beats checked
    tracked_number = AnyConst(COUNTER_BITS)
    frame = [Signal(signed(BITS), name=f"tracked_{k}") for k in range(N)]
    channel = Signal.like(dut.i.payload.channel, name="tracked_channel")
    with m.If(fire_in & (frames_in == tracked_number)):
        m.d.sync += [s.eq(dut.i.payload.frame[k]) for k, s in enumerate(frame)]
        m.d.sync += channel.eq(dut.i.payload.channel)
    tracked = dut.o.valid & (frames_out == tracked_number)
    rot = probe.signal("rot")
    with m.If(tracked):
        m.d.comb += Assert(dut.o.payload.channel == channel)
        for i in range(positions):
            for g in range(groups):
                with m.If((index == i) & (group == g)):
                    for j in range(P):
                        k = g * P + j
                        want = frame[(i + k) % N] if k < N else 0
                        m.d.comb += Assert(dut.o.payload.data[j] == want)
            with m.If(index == i):  # invariant: the register holds the frame rotated by i
                m.d.comb += [Assert(rot[k * BITS : (k + 1) * BITS].as_signed() == frame[(i + k) % N]) for k in range(N)]

    # invariants: the block's control registers against the beat sequence
    signal = {name: probe.signal(name) for name in ("busy", "index", "group", "position_done", "frame_done", "ready")}
    position_done = group == groups - 1
    m.d.comb += [
        Assert(signal["busy"] == dut.o.valid),
        Assert(signal["position_done"] == position_done),
        Assert(signal["frame_done"] == final),
        Assert(signal["ready"] == (~dut.o.valid | (ready & final))),
        Assert(signal["group"] == group),
        Assert(~dut.o.valid | (signal["index"] == index)),
    ]
    m.d.comb += Cover(fire_out & final & (frames_out == 1))  # two whole frames out
    return bench
