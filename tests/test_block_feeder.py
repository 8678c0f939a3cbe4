"""Block `hw.feeder.Feeder`: RTL == `Feeder.model` (every beat: data window, channel, position,
group, last) under random input bubbles and output backpressure, for the direct engine's
pattern (P taps, G groups per position) and the FFT engine's (``[u, u[:N-1], 0...]``)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator
from amaranth_streams import StreamSink, StreamSource, python_value, run_streams

from hw.feeder import Feeder

BITS, CHANNELS, FRAMES = 6, 3, 7


def run_feeder(dut: Feeder, frames: np.ndarray, seed: int, p_valid: float, p_ready: float):
    rng = np.random.default_rng(seed)
    beats = [{"frame": [int(v) for v in row], "channel": f % CHANNELS} for f, row in enumerate(frames)]
    source = StreamSource(dut.i, beats, rng, p_valid, name="Feeder.i")
    sink = StreamSink(dut.o, rng, p_ready, name="Feeder.o")
    run_streams(dut, [source], {sink: len(frames) * dut.beats_per_frame}, drain=dut.beats_per_frame + 2)
    return source, sink


PATTERNS = {
    "direct P=N": lambda n: Feeder.direct(n, BITS, CHANNELS, parallel=n),
    "direct P=3": lambda n: Feeder.direct(n, BITS, CHANNELS, parallel=3),
    "direct P=1": lambda n: Feeder.direct(n, BITS, CHANNELS, parallel=1),
    "fft M=16": lambda n: Feeder.fft(n, BITS, CHANNELS, size=16),
}


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("seed, p_valid, p_ready", [(1, 1.0, 1.0), (2, 0.4, 0.6), (3, 0.9, 0.3)])
def test_feeder_rtl_equals_model(pattern: str, seed: int, p_valid: float, p_ready: float) -> None:
    n = 7
    dut = PATTERNS[pattern](n)
    frames = np.random.default_rng(seed).integers(-(1 << (BITS - 1)), 1 << (BITS - 1), (FRAMES, n))
    _, sink = run_feeder(dut, frames, seed, p_valid, p_ready)
    want = dut.model(frames)
    got = np.array([beat["data"] for beat in sink.payloads], dtype=np.int64).reshape(-1, dut.width)
    np.testing.assert_equal(got, want.data, err_msg=f"Feeder ({pattern}): data windows differ from model")
    for name in ("channel", "index", "group", "last"):
        np.testing.assert_equal(sink.column(name), getattr(want, name), err_msg=f"Feeder ({pattern}): {name}")


def model_only(block: Feeder) -> Feeder:
    """A block built for its model only (never elaborated): silence Amaranth's unused warning."""
    block._MustUse__silence = True
    return block


def test_feeder_model_matches_the_engines_patterns() -> None:
    """The model itself: direct beats are the rotations x[(i + k) mod N] in groups of P (zero
    padded), FFT beats are [u, u[:N-1], 0, ..., 0]."""
    u = np.arange(1, 8)
    direct = model_only(Feeder.direct(7, BITS, 1, parallel=3)).model(u[None])
    rows = direct.data.reshape(7, 3 * 3)[:, :7]
    np.testing.assert_equal(rows, [np.roll(u, -i) for i in range(7)])
    assert not direct.data.reshape(7, 9)[:, 7:].any()
    fft = model_only(Feeder.fft(7, BITS, 1, size=16)).model(u[None])
    np.testing.assert_equal(fft.data[:, 0], np.concatenate([u, u[:6], [0, 0, 0]]))
    np.testing.assert_equal(fft.last, [0] * 15 + [1])


@pytest.mark.parametrize("pattern", PATTERNS)
def test_feeder_streams_frames_back_to_back(pattern: str) -> None:
    """No bubbles, no backpressure: the first beat one cycle (`Feeder.latency`) after the take,
    then one beat per clock across frame boundaries (the next frame is taken with the last beat)."""
    n = 7
    dut = PATTERNS[pattern](n)
    frames = np.random.default_rng(4).integers(-30, 30, (FRAMES, n))
    source, sink = run_feeder(dut, frames, 4, 1.0, 1.0)
    first = source.sent_cycles[0] + Feeder.latency
    assert sink.cycles == list(range(first, first + FRAMES * dut.beats_per_frame)), f"Feeder ({pattern}): stalled"


@pytest.mark.parametrize("parallel", [7, 3])
def test_feeder_with_ready_next_has_a_registered_i_ready_and_equals_model(parallel: int) -> None:
    """``ready_next``: ``o.ready`` is a random register whose next value the Feeder sees on
    ``o_ready_next``; the beats still equal the model, and ``i.ready`` never follows
    ``o.ready`` within a cycle (it is a register)."""
    n = 7
    dut = Feeder.direct(n, BITS, CHANNELS, parallel, ready_next=True)
    frames = np.random.default_rng(parallel).integers(-(1 << (BITS - 1)), 1 << (BITS - 1), (FRAMES, n))
    rng = np.random.default_rng(parallel + 1)
    cycles = 40 * FRAMES * dut.beats_per_frame
    ready = (rng.random(cycles + 1) < 0.6).astype(int)
    got: list[dict] = []
    combinational = []

    async def bench(ctx) -> None:
        f = 0
        for t in range(cycles):
            offer = f < FRAMES and rng.random() < 0.7
            ctx.set(dut.i.valid, int(offer))
            if offer:
                ctx.set(dut.i.payload.frame, [int(v) for v in frames[f]])
                ctx.set(dut.i.payload.channel, f % CHANNELS)
            ctx.set(dut.o.ready, 1 - int(ready[t]))
            flipped = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, int(ready[t]))
            ctx.set(dut.o_ready_next, int(ready[t + 1]))
            combinational.append(flipped != ctx.get(dut.i.ready))
            if offer and ctx.get(dut.i.ready):
                f += 1
            if ctx.get(dut.o.valid) and ready[t]:
                got.append(python_value(ctx.get(dut.o.payload)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = dut.model(frames)
    assert len(got) == FRAMES * dut.beats_per_frame, f"Feeder (ready_next): {len(got)} beats"
    data = np.array([beat["data"] for beat in got], dtype=np.int64)
    np.testing.assert_equal(data, want.data, err_msg="Feeder (ready_next): data windows differ from model")
    for name in ("channel", "index", "group", "last"):
        np.testing.assert_equal([beat[name] for beat in got], getattr(want, name), err_msg=f"Feeder: {name}")
    assert not any(combinational), "Feeder (ready_next): i.ready follows o.ready combinationally"
