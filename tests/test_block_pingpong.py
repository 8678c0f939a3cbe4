"""Block `hw.pingpong.PingPongBuffer`: frames handed over bank by bank, in order, none lost.

The buffer is only correct together with its protocol (claim while ``free``, write and commit
in claim order, release while ``ready``), so the tests drive it with bus models that obey the
protocol at random speeds and check, every cycle, that the flags are what the hand-over
promises: ``free`` iff fewer than two frames are claimed and not yet released, ``ready`` iff
a committed frame is not yet released. The writer claims ahead (frame f + 1 while f is still
being written, as a stage with a pipeline does), writes in random order with random gaps and
garbage on the idle bus, splits words into lanes (``granularity``), and commits with the last
write or in a cycle of its own; the reader reads in random order with random gaps (``data``
must hold while ``en`` is low).

The same bus models drive the native engine's stages (`tests/test_block_pfa_stage.py`,
`tests/test_block_spectral_stage.py`): `run_buffered_stage` puts a stage between two buffers,
a `FrameWriter` fills the source, a `FrameReader` drains the destination, a `WriteMonitor`
records the stage's writes with their cycles, and a `ProtocolChecker` on each buffer proves
that the stage keeps the protocol too.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.pingpong import READ_LATENCY, PingPongBuffer, address_bits

# --- bus models --------------------------------------------------------------------------------


class BusModel:
    """One participant of a cycle-by-cycle testbench: ``drive`` sets its inputs before the edge,
    ``observe`` reads the design after every model has driven, ``settle`` reads registers after
    the edge."""

    name = "model"

    def drive(self, ctx: Any, cycle: int) -> None:
        pass

    def observe(self, ctx: Any, cycle: int) -> None:
        pass

    def settle(self, ctx: Any, cycle: int) -> None:
        pass


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def garbage(rng: np.random.Generator, bits: int) -> int:
    """A random ``bits``-bit word (any width) for a bus that is not in use."""
    return int.from_bytes(rng.bytes(bits // 8 + 1), "little") & _mask(bits)


class FrameWriter(BusModel):
    """Writes ``frames`` (F frames of ``depth`` unsigned words) into a buffer's write port.

    Protocol: claim only while ``free`` (with probability ``p_claim`` per cycle, possibly ahead
    of the frame being written), write a frame only once it is claimed (in the claim cycle at
    the earliest), frames in claim order. Each frame's words, or with ``lanes`` > 1 each lane of
    each word, go in a random order (``shuffle``) with random gaps (``p_write``); the bus carries
    garbage whenever a lane is not written. The frame is committed with its last write, or with
    probability ``p_late_commit`` in a later cycle of its own.
    """

    def __init__(
        self,
        port: Any,
        frames: Sequence[Sequence[int]],
        rng: np.random.Generator,
        *,
        lanes: int = 1,
        p_claim: float = 1.0,
        p_write: float = 1.0,
        p_late_commit: float = 0.0,
        shuffle: bool = True,
        name: str = "writer",
    ) -> None:
        self.port, self.rng, self.name = port, rng, name
        self.frames = [[int(w) for w in frame] for frame in frames]
        self.width = len(port.data)
        self.addr_bits = len(port.addr)
        self.lanes = lanes
        self.lane_bits = self.width // lanes
        self.p_claim, self.p_write, self.p_late_commit, self.shuffle = p_claim, p_write, p_late_commit, shuffle
        self.claimed = self.committed = 0
        self.claim_cycles: list[int] = []
        self.commit_cycles: list[int] = []
        self.write_cycles: list[int] = []
        self._ops: list[tuple[int, int, int]] = []
        self._pos = 0
        self._load()

    @property
    def done(self) -> bool:
        return self.committed == len(self.frames)

    def _load(self) -> None:
        """The (address, lane mask, word) writes of the next frame to write."""
        self._pos = 0
        if self.done:
            self._ops = []
            return
        frame = self.frames[self.committed]
        ops = [(a, 1 << lane, word) for a, word in enumerate(frame) for lane in range(self.lanes)]
        if self.shuffle:
            ops = [ops[k] for k in self.rng.permutation(len(ops))]
        self._ops = ops

    def drive(self, ctx: Any, cycle: int) -> None:
        claim = bool(ctx.get(self.port.free)) and self.claimed < len(self.frames) and self.rng.random() < self.p_claim
        addr = int(self.rng.integers(0, 1 << self.addr_bits))
        data = garbage(self.rng, self.width)
        en = commit = 0
        if self.committed < self.claimed + claim:  # the frame to write is claimed (now at the latest)
            if self._pos < len(self._ops):
                if self.rng.random() < self.p_write:
                    addr, en, word = self._ops[self._pos]
                    lane_mask = sum(
                        _mask(self.lane_bits) << (k * self.lane_bits) for k in range(self.lanes) if en >> k & 1
                    )
                    data = (word & lane_mask) | (data & ~lane_mask & _mask(self.width))
                    self._pos += 1
                    self.write_cycles.append(cycle)
                    commit = int(self._pos == len(self._ops) and self.rng.random() >= self.p_late_commit)
            elif self.rng.random() < self.p_write:
                commit = 1  # a late commit, in a cycle without a write
        ctx.set(self.port.claim, int(claim))
        ctx.set(self.port.addr, addr)
        ctx.set(self.port.data, data)
        ctx.set(self.port.en, en)
        ctx.set(self.port.commit, commit)
        if claim:
            self.claimed += 1
            self.claim_cycles.append(cycle)
        if commit:
            self.committed += 1
            self.commit_cycles.append(cycle)
            self._load()


class FrameReader(BusModel):
    """Reads ``count`` frames from a buffer's read port.

    Protocol: read only while ``ready``; each frame's ``depth`` addresses in a random order
    (``shuffle``) with random gaps (``p_read``), garbage on ``addr`` while ``en`` is low (then
    ``data`` must hold its last word); ``release`` with the last read. A word comes out
    `READ_LATENCY` enabled cycles after its read, so while reads are still in flight the
    reader keeps ``en`` high in its gaps (garbage addresses, nothing recorded) until they
    land. With ``discard`` it releases each frame the cycle it is ready, reading nothing: a
    consumer that is never the bottleneck (for throughput measurements).
    """

    def __init__(
        self,
        port: Any,
        depth: int,
        count: int,
        rng: np.random.Generator,
        *,
        p_read: float = 1.0,
        shuffle: bool = True,
        discard: bool = False,
        name: str = "reader",
    ) -> None:
        self.port, self.depth, self.count, self.rng, self.name = port, depth, count, rng, name
        self.p_read, self.shuffle, self.discard = p_read, shuffle, discard
        self.addr_bits = len(port.addr)
        self.frames: list[list[int]] = []
        self.release_cycles: list[int] = []
        self._current: dict[int, int] = {}
        self._order = self._new_order()
        self._pos = 0
        # per enabled edge, oldest first: (address, the frame's last read) or None (a flush)
        self._flight: list[tuple[int, bool] | None] = []
        self._enabled = False
        self._last_data: int | None = None

    @property
    def done(self) -> bool:
        return len(self.release_cycles) == self.count and not any(self._flight)

    def _new_order(self) -> list[int]:
        return [int(a) for a in (self.rng.permutation(self.depth) if self.shuffle else range(self.depth))]

    def drive(self, ctx: Any, cycle: int) -> None:
        ready = bool(ctx.get(self.port.ready))
        en = release = 0
        addr = int(self.rng.integers(0, 1 << self.addr_bits))
        entry: tuple[int, bool] | None = None
        if ready and len(self.release_cycles) < self.count:
            if self.discard:
                release = 1
            elif self.rng.random() < self.p_read:
                addr, en = self._order[self._pos], 1
                self._pos += 1
                release = int(self._pos == self.depth)
                entry = (addr, bool(release))
                if release:
                    self._order, self._pos = self._new_order(), 0
        if not en and any(self._flight):
            en = 1  # a flush: the reads in flight move on
        self._enabled = bool(en)
        if en:
            self._flight.append(entry)
        ctx.set(self.port.addr, addr)
        ctx.set(self.port.en, en)
        ctx.set(self.port.release, release)
        if release:
            self.release_cycles.append(cycle)

    def settle(self, ctx: Any, cycle: int) -> None:
        data = int(ctx.get(self.port.data))
        if not self._enabled:
            if self._last_data is not None:
                assert data == self._last_data, f"{self.name}: read data changed in cycle {cycle} without a read"
            return
        self._last_data = data
        if len(self._flight) < READ_LATENCY:
            return
        landed = self._flight[-READ_LATENCY]
        del self._flight[: len(self._flight) - READ_LATENCY + 1]
        if landed is None:
            return
        addr, last = landed
        self._current[addr] = data
        if last:  # the frame's last read (released with it)
            self.frames.append([self._current[a] for a in range(self.depth)])
            self._current = {}


class ProtocolChecker(BusModel):
    """Watches both ports of one buffer every cycle.

    The flags must be what the hand-over promises (``free`` iff fewer than two frames are
    claimed and not released, ``ready`` iff a committed frame is not released), and whoever
    drives the ports must keep the protocol (claim only while ``free``, write or commit only a
    claimed frame, release only while ``ready``). Counts the cycles in which the writer found
    both banks taken (``both_taken``) and the reader found none full (``none_full``). With
    ``late_free`` a release counts for ``free`` one cycle later than for ``ready``.
    """

    def __init__(self, buf: PingPongBuffer, name: str) -> None:
        self.buf, self.name = buf, name
        self.claims = self.commits = self.releases = 0
        self.freed = 0  # releases the claim side has seen (one cycle behind with late_free)
        self.both_taken = self.none_full = 0
        self.release_cycles: list[int] = []

    def observe(self, ctx: Any, cycle: int) -> None:
        w, r = self.buf.w, self.buf.r
        free, ready = bool(ctx.get(w.free)), bool(ctx.get(r.ready))
        claim, commit, release = (bool(ctx.get(s)) for s in (w.claim, w.commit, r.release))
        write = bool(ctx.get(w.en))
        where = f"{self.name}, cycle {cycle} (claims {self.claims}, commits {self.commits}, releases {self.releases})"
        assert free == (self.claims - self.freed < self.buf.banks), f"{where}: free = {free}"
        assert ready == (self.commits > self.releases), f"{where}: ready = {ready}"
        next_ready = bool(ctx.get(r.next_ready))
        assert next_ready == (self.commits > self.releases + 1), f"{where}: next_ready = {next_ready}"
        assert not claim or free, f"{where}: claimed a bank that is not free"
        assert not release or ready, f"{where}: released a bank that is not full"
        assert not (write or commit) or self.commits < self.claims + claim, f"{where}: wrote an unclaimed bank"
        self.both_taken += not free
        self.none_full += not ready
        self.claims += claim
        self.commits += commit
        if self.buf.late_free:
            self.freed = self.releases  # the releases up to the last cycle
        self.releases += release
        if not self.buf.late_free:
            self.freed = self.releases
        if release:
            self.release_cycles.append(cycle)


@dataclass
class Write:
    cycle: int
    addr: int
    data: int


class WriteMonitor(BusModel):
    """Records every write on a write port (driven by the design) with its cycle, frame by
    frame (a commit closes a frame), plus the claim and commit cycles."""

    def __init__(self, port: Any, name: str = "monitor") -> None:
        self.port, self.name = port, name
        self.frames: list[list[Write]] = [[]]
        self.claim_cycles: list[int] = []
        self.commit_cycles: list[int] = []

    def observe(self, ctx: Any, cycle: int) -> None:
        if ctx.get(self.port.claim):
            self.claim_cycles.append(cycle)
        if ctx.get(self.port.en):
            self.frames[-1].append(Write(cycle, int(ctx.get(self.port.addr)), int(ctx.get(self.port.data))))
        if ctx.get(self.port.commit):
            self.commit_cycles.append(cycle)
            self.frames.append([])

    @property
    def committed(self) -> list[list[Write]]:
        return self.frames[:-1]


def run_models(
    dut: Any,
    models: Sequence[BusModel],
    until: Callable[[], bool],
    *,
    max_cycles: int,
    probes: Mapping[str, Any] | None = None,
    extra: int = 0,
) -> dict[str, list[int]]:
    """Simulate ``dut`` cycle by cycle with the models until ``until()``, then ``extra`` cycles
    more; returns each probe sampled every cycle (before the edge)."""
    probes = dict(probes or {})
    trace: dict[str, list[int]] = {name: [] for name in probes}

    async def bench(ctx: Any) -> None:
        cycle, left = 0, extra
        while not until() or left > 0:
            if until():
                left -= 1
            assert cycle < max_cycles, f"no progress after {max_cycles} cycles: " + ", ".join(
                f"{m.name} done={getattr(m, 'done', '-')}" for m in models
            )
            for model in models:
                model.drive(ctx, cycle)
            for model in models:
                model.observe(ctx, cycle)
            for name, signal in probes.items():
                trace[name].append(int(ctx.get(signal)))
            await ctx.tick()
            for model in models:
                model.settle(ctx, cycle)
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return trace


# --- stages between buffers ---------------------------------------------------------------------


class BufferedStages(Elaboratable):
    """``src buffer -> stage -> dst buffer`` for each stage, as the engine chains them; the test
    drives every source's write port and every destination's read port. ``extra`` adds logic
    between the stages (a module they share)."""

    def __init__(self, stages: Sequence[Any], extra: Callable[[Module], None] | None = None, banks: int = 2) -> None:
        self.stages = list(stages)
        self.srcs = [PingPongBuffer(s.n, len(s.src.data), banks=banks) for s in self.stages]
        self.dsts = [PingPongBuffer(s.n, len(s.dst.data), banks=banks) for s in self.stages]
        self.extra = extra

    def elaborate(self, platform: object) -> Module:
        m = Module()
        for k, (stage, src, dst) in enumerate(zip(self.stages, self.srcs, self.dsts, strict=True)):
            m.submodules[f"stage{k}"] = stage
            m.submodules[f"src{k}"] = src
            m.submodules[f"dst{k}"] = dst
            wiring.connect(m, stage.src, src.r)
            wiring.connect(m, stage.dst, dst.w)
        if self.extra is not None:
            self.extra(m)
        return m


@dataclass
class StageRun:
    """What `run_buffered_stages` saw of one stage: the frames read from its destination (when
    read), its writes frame by frame, its source releases (last reads) and destination claims
    (starts), and its ``overflow`` per cycle; ``trace`` holds the extra probes."""

    frames: list[list[int]]
    writes: list[list[Write]]
    src_releases: list[int]
    dst_claims: list[int]
    overflow: list[int] = field(default_factory=list)
    trace: dict[str, list[int]] = field(default_factory=dict)


def run_buffered_stages(
    bench: BufferedStages,
    sources: Sequence[Sequence[Sequence[int]]],
    *,
    seed: int,
    p_claim: float = 0.7,
    p_write: float = 0.8,
    p_late_commit: float = 0.3,
    p_read: float = 0.8,
    eager: bool = False,
    probes: Mapping[str, Any] | None = None,
) -> list[StageRun]:
    """Frames of source words (``sources[k]`` for stage k) through the stages of ``bench``.

    Random protocol timing by default (random write and read orders, gaps, late commits);
    ``eager``: each source is filled as fast as the protocol allows (claim when free, natural
    order, no gaps, commit with the last write) and each destination is released the cycle it
    is full, unread, so nothing outside ever holds a stage up.
    """
    rng = np.random.default_rng(seed)
    models: list[BusModel] = []
    readers, src_checks, monitors = [], [], []
    for k, (stage, src, dst, words) in enumerate(zip(bench.stages, bench.srcs, bench.dsts, sources, strict=True)):
        f = len(words)
        if eager:
            writer = FrameWriter(src.w, words, rng, shuffle=False, name=f"source writer {k}")
            reader = FrameReader(dst.r, stage.n, f, rng, discard=True, name=f"destination reader {k}")
        else:
            writer = FrameWriter(
                src.w, words, rng, p_claim=p_claim, p_write=p_write, p_late_commit=p_late_commit, name=f"writer {k}"
            )
            reader = FrameReader(dst.r, stage.n, f, rng, p_read=p_read, name=f"destination reader {k}")
        src_check = ProtocolChecker(src, f"source buffer {k}")
        monitor = WriteMonitor(dst.w, f"stage {k} writes")
        models += [writer, reader, src_check, ProtocolChecker(dst, f"destination buffer {k}"), monitor]
        readers.append(reader)
        src_checks.append(src_check)
        monitors.append(monitor)
    all_probes = {f"overflow{k}": stage.overflow for k, stage in enumerate(bench.stages)}
    all_probes.update(probes or {})
    longest = max(len(w) * s.n for w, s in zip(sources, bench.stages, strict=True))
    latency = max(s.latency for s in bench.stages)
    trace = run_models(
        bench,
        models,
        lambda: all(r.done for r in readers),
        max_cycles=50 * longest + 20 * latency + 200,
        probes=all_probes,
        extra=max(s.n for s in bench.stages) + latency,  # anything a stage still wrote would be extra
    )
    runs = []
    for k, stage in enumerate(bench.stages):
        name, monitor = f"{type(stage).__name__} {k}", monitors[k]
        assert monitor.frames[-1] == [], f"{name}: {len(monitor.frames[-1])} writes after the last commit"
        assert len(monitor.committed) == len(sources[k]), f"{name}: {len(monitor.committed)} frames written"
        runs.append(
            StageRun(
                readers[k].frames,
                monitor.committed,
                src_checks[k].release_cycles,
                monitor.claim_cycles,
                trace[f"overflow{k}"],
                {key: trace[key] for key in probes or {}},
            )
        )
    return runs


def run_buffered_stage(
    stage: Any, source_words: Sequence[Sequence[int]], *, seed: int, banks: int = 2, **options: Any
) -> StageRun:
    """One stage between two buffers of ``banks`` banks (`run_buffered_stages`)."""
    return run_buffered_stages(BufferedStages([stage], banks=banks), [source_words], seed=seed, **options)[0]


# --- tests -------------------------------------------------------------------------------------------


def random_frames(rng: np.random.Generator, count: int, depth: int, width: int) -> list[list[int]]:
    return [[int(rng.integers(0, 1 << width)) for _ in range(depth)] for _ in range(count)]


CASES = [
    # depth, width, granularity, p_claim, p_write, p_read, p_late_commit, banks, late_free
    pytest.param(7, 12, None, 1.0, 0.9, 0.3, 0.0, 2, False, id="fast-writer"),
    pytest.param(16, 8, None, 0.3, 0.4, 1.0, 0.3, 2, False, id="slow-writer"),
    pytest.param(12, 20, 10, 0.8, 0.7, 0.7, 0.2, 2, False, id="two-lanes"),
    pytest.param(5, 6, 2, 0.6, 0.9, 0.5, 0.5, 2, False, id="three-lanes"),
    pytest.param(1, 3, None, 0.6, 0.6, 0.6, 0.5, 2, False, id="one-word-banks"),
    pytest.param(8, 62, 31, 0.9, 0.8, 0.8, 0.1, 2, False, id="wide-words"),
    # more banks than COUNTED_BANKS: occupancy counters instead of per-bank flags
    pytest.param(3, 8, None, 1.0, 0.9, 0.15, 0.2, 8, False, id="eight-banks-slow-reader"),
    pytest.param(2, 5, None, 0.4, 0.5, 1.0, 0.4, 16, False, id="sixteen-banks-slow-writer"),
    # late_free: the claim side sees each release a cycle late (per-bank flags, counters)
    pytest.param(7, 12, None, 1.0, 0.9, 0.3, 0.0, 2, True, id="fast-writer-late-free"),
    pytest.param(1, 3, None, 0.6, 0.6, 0.6, 0.5, 4, True, id="one-word-banks-late-free"),
    pytest.param(3, 8, None, 1.0, 0.9, 0.15, 0.2, 8, True, id="eight-banks-slow-reader-late-free"),
]


@pytest.mark.parametrize("depth, width, granularity, p_claim, p_write, p_read, p_late_commit, banks, late_free", CASES)
def test_frames_arrive_in_order_whatever_the_protocol_timing(
    depth: int,
    width: int,
    granularity: int | None,
    p_claim: float,
    p_write: float,
    p_read: float,
    p_late_commit: float,
    banks: int,
    late_free: bool,
) -> None:
    """Every frame read equals the frame written, in order, none lost or repeated, while the
    flags follow the claims, commits and releases cycle by cycle (`ProtocolChecker`)."""
    rng = np.random.default_rng(depth * 100 + width)
    buf = PingPongBuffer(depth, width, granularity, banks=banks, late_free=late_free)
    assert buf.lanes == (1 if granularity is None else width // granularity)
    assert len(buf.w.en) == buf.lanes and len(buf.w.addr) == len(buf.r.addr) == address_bits(depth)
    frames = random_frames(rng, 12 if banks == 2 else 3 * banks, depth, width)
    writer = FrameWriter(
        buf.w, frames, rng, lanes=buf.lanes, p_claim=p_claim, p_write=p_write, p_late_commit=p_late_commit
    )
    reader = FrameReader(buf.r, depth, len(frames), rng, p_read=p_read)
    checker = ProtocolChecker(buf, f"PingPongBuffer(depth={depth}, width={width}, granularity={granularity})")
    run_models(
        buf, [writer, reader, checker], lambda: reader.done, max_cycles=100 * len(frames) * depth * buf.lanes + 500
    )
    label = checker.name
    assert len(reader.frames) == len(frames), f"{label}: {len(reader.frames)} frames read of {len(frames)}"
    for k, (got, want) in enumerate(zip(reader.frames, frames, strict=True)):
        assert got == want, f"{label}: frame {k} read back {got}, written {want}"
    # both waits happened: the writer found both banks taken, the reader found none full
    assert checker.both_taken > 0, f"{label}: the writer never had to wait"
    assert checker.none_full > 0, f"{label}: the reader never had to wait"
    if p_read < 0.5:  # a slow reader holds the writer up for whole frames
        assert checker.both_taken > 2 * depth, f"{label}: a slow reader must block the writer"


def test_flags_change_on_the_edge_after_claim_commit_release() -> None:
    """A directed sequence, cycle by cycle: two claims take both banks (``free`` falls), a
    commit fills one (``ready`` rises the cycle after), a release frees it (``free`` rises, and
    ``ready`` stays low until the second frame is committed); a write in the claim cycle lands
    in the bank just claimed; lanes of the word written at different times combine."""
    depth, width = 4, 8
    buf = PingPongBuffer(depth, width, granularity=4)
    w, r = buf.w, buf.r
    seen: list[tuple[int, int]] = []
    reads: list[int] = []
    enabled: list[bool] = []  # per enabled read cycle: a real read (True) or a flush

    async def bench(ctx: Any) -> None:
        async def step(**values: int) -> None:
            for name in ("claim", "commit"):
                ctx.set(getattr(w, name), values.get(name, 0))
            ctx.set(w.en, values.get("en", 0))
            ctx.set(w.addr, values.get("waddr", 0))
            ctx.set(w.data, values.get("data", 0))
            ctx.set(r.en, values.get("ren", 0))
            ctx.set(r.addr, values.get("raddr", 0))
            ctx.set(r.release, values.get("release", 0))
            seen.append((int(ctx.get(w.free)), int(ctx.get(r.ready))))
            await ctx.tick()
            if values.get("ren"):
                enabled.append(not values.get("flush"))
                if len(enabled) >= READ_LATENCY and enabled[-READ_LATENCY]:
                    reads.append(int(ctx.get(r.data)))

        await step(claim=1, en=0b11, waddr=0, data=0x10)  # frame 0: claim and write in one cycle
        await step(claim=1, en=0b01, waddr=1, data=0xF1)  # frame 1 claimed ahead; low lane of word 1
        await step(en=0b10, waddr=1, data=0x2F)  # high lane of word 1 (the low lane carries garbage)
        await step(en=0b11, waddr=2, data=0x32)
        await step(en=0b11, waddr=3, data=0x43, commit=1)  # frame 0 full
        await step(en=0b11, waddr=0, data=0x99)  # frame 1's writes, in the other bank
        for a in range(depth):
            await step(ren=1, raddr=a, release=int(a == depth - 1))  # frame 0 read and released
        await step()
        await step(en=0b11, waddr=3, data=0x77, commit=1)  # frame 1 full (only words 0 and 3 written)
        await step(ren=1, raddr=0)
        await step(ren=1, raddr=3, release=1)
        await step(ren=1, flush=1)  # a flush: the last read leaves the output register

    sim = Simulator(buf)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    free = [s[0] for s in seen]
    ready = [s[1] for s in seen]
    assert free == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], f"free per cycle: {free}"
    assert ready == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0], f"ready per cycle: {ready}"
    assert reads == [0x10, 0x21, 0x32, 0x43, 0x99, 0x77], f"words read: {[hex(v) for v in reads]}"


# A refused PingPongBuffer is an Elaboratable that was never used: Amaranth warns when it is
# collected (`hw.gauss_mul.GaussMultiplier` silences that before raising; PingPongBuffer does not).
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize(
    "depth, width, granularity, match",
    [
        (0, 8, None, "depth >= 1"),
        (4, 0, None, "width >= 1"),
        (4, 12, 5, "granularity must divide"),
        (4, 12, 0, "granularity must divide"),
        (4, 12, -4, "granularity must divide"),
    ],
)
def test_refuses_what_it_cannot_build(depth: int, width: int, granularity: int | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PingPongBuffer(depth, width, granularity)
    gc.collect()  # the refused object's "created but never used" warning belongs to this test
