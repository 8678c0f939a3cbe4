"""Block `hw.framer.Framer`: RTL == `Framer.model` (kept frames, their channels, the error
count) under random input bubbles and output backpressure, with well-formed and malformed
frames."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth_streams import StreamSink, StreamSource, run_streams

from hw.framer import Framer

N, BITS, CHANNELS = 5, 6, 3


def sample_beats(rng: np.random.Generator, frames: int, malformed: float) -> tuple[list[int], list[int]]:
    """Frames of N samples; with probability ``malformed`` a frame ends early (``last`` before
    the N-th sample) or misses its ``last`` (the N-th carries none, the tail runs on)."""
    samples: list[int] = []
    lasts: list[int] = []
    for _ in range(frames):
        kind = rng.random()
        if kind < malformed / 2:
            length = int(rng.integers(1, N))
        elif kind < malformed:
            length = N + int(rng.integers(1, 4))
        else:
            length = N
        samples += [int(v) for v in rng.integers(-(1 << (BITS - 1)), 1 << (BITS - 1), length)]
        lasts += [0] * (length - 1) + [1]
    return samples, lasts


def run_framer(
    samples: list[int], lasts: list[int], expect: int, seed: int = 0, p_valid: float = 1.0, p_ready: float = 1.0
):
    dut = Framer(N, BITS, CHANNELS)
    rng = np.random.default_rng(seed)
    source = StreamSource(
        dut.i,
        [{"data": s, "last": last} for s, last in zip(samples, lasts, strict=True)],
        rng,
        p_valid,
        name="Framer.i",
    )
    sink = StreamSink(dut.o, rng, p_ready, name="Framer.o")
    run = run_streams(dut, [source], {sink: expect}, drain=3 * N, probes={"errors": dut.errors})
    return source, sink, run


@pytest.mark.parametrize(
    "seed, p_valid, p_ready, malformed",
    [(1, 1.0, 1.0, 0.0), (2, 0.6, 0.5, 0.0), (3, 0.8, 0.3, 0.4), (4, 1.0, 0.7, 0.6)],
)
def test_framer_rtl_equals_model(seed: int, p_valid: float, p_ready: float, malformed: float) -> None:
    rng = np.random.default_rng(seed)
    samples, lasts = sample_beats(rng, 30, malformed)
    want_frames, want_errors = Framer.model(N, samples, lasts)
    if malformed:
        assert want_errors > 0, "test setup: no malformed frame drawn"
    _, sink, run = run_framer(samples, lasts, len(want_frames), seed=seed, p_valid=p_valid, p_ready=p_ready)
    assert [beat["frame"] for beat in sink.payloads] == want_frames, "Framer: frames differ from Framer.model"
    np.testing.assert_equal(sink.column("channel"), np.arange(len(want_frames)) % CHANNELS, err_msg="Framer: channels")
    assert run.final["errors"] == want_errors, f"Framer: errors = {run.final['errors']}, model says {want_errors}"


def test_framer_streams_back_to_back() -> None:
    """No bubbles, no backpressure: one sample per clock in, each frame out `Framer.latency`
    cycles after its last sample (the take frees the buffer for the sample in that cycle)."""
    rng = np.random.default_rng(5)
    samples, lasts = sample_beats(rng, 6, 0.0)
    source, sink, _ = run_framer(samples, lasts, 6)
    assert source.sent_cycles == list(range(len(samples))), "Framer: input stalled"
    last_in = [c for c, last in zip(source.sent_cycles, lasts, strict=True) if last]
    assert sink.cycles == [c + Framer.latency for c in last_in], "Framer: latency"
