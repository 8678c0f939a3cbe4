"""Blocks `hw.skid.SkidBuffer` and `hw.skid.RegisterSlice`: the stream facts of their
docstrings, under random valid/ready.

"Is the hardware the model?": every beat accepted on ``i`` leaves ``o`` once, in order
(`SkidBuffer.model`, the identity). "Does it keep the stream rules?": ``o`` holds valid and
payload while stalled, and ``i.ready`` is a register (no combinational path from ``o.ready``
or ``i.valid``). Two deliberately broken variants show that each check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator
from amaranth_streams import StreamSink, StreamSource, python_value, run_streams

from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout

BITS = 12


class LossySkid(SkidBuffer):
    """Broken on purpose: always ready, so a beat arriving while one is held overwrites it."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class WireSlice(SkidBuffer):
    """Broken on purpose: a plain wire, so ``i.ready`` is ``o.ready`` (combinational)."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)  # (its register stays, unused: it keeps the clock domain)
        m.d.comb += [self.i.ready.eq(self.o.ready), self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


def random_beats(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    data = rng.integers(-(1 << (BITS - 1)), 1 << (BITS - 1), count)
    data[rng.random(count) < 0.1] = -(1 << (BITS - 1))
    return {"data": data, "last": rng.integers(0, 2, count)}


def connect(dut: SkidBuffer | RegisterSlice, beats: dict[str, np.ndarray], seed: int, p_valid: float, p_ready: float):
    """A source on ``dut.i`` (random bubbles) and a sink on ``dut.o`` (random ready)."""
    rng = np.random.default_rng(seed)
    sent = [{"data": int(d), "last": int(last)} for d, last in zip(beats["data"], beats["last"], strict=True)]
    name = type(dut).__name__
    return StreamSource(dut.i, sent, rng, p_valid, name=f"{name}.i"), StreamSink(dut.o, rng, p_ready, name=f"{name}.o")


def check_stream_rules(
    dut: SkidBuffer | RegisterSlice, beats: dict[str, np.ndarray], seed: int, p_valid: float, p_ready: float
) -> int:
    """Run ``dut`` under random valid/ready; assert order, no loss or duplication, and that a
    stalled ``o`` holds valid and payload. Returns the cycles in which ``i.ready`` was low."""
    name = type(dut).__name__
    edges: list[tuple[int, int, int, object]] = []

    async def monitor(ctx) -> None:  # values just before every clock edge
        async for _, _, valid, ready, i_ready, payload in ctx.tick().sample(
            dut.o.valid, dut.o.ready, dut.i.ready, dut.o.payload
        ):
            edges.append((valid, ready, i_ready, python_value(payload)))

    source, sink = connect(dut, beats, seed, p_valid, p_ready)
    run_streams(dut, [source], {sink: len(source.beats)}, drain=6, testbenches=[monitor])
    assert sink.payloads == SkidBuffer.model(source.beats), (
        f"{name}: o did not transfer every i beat exactly once, in order"
    )
    for k in range(1, len(edges)):
        valid, ready, _, payload = edges[k - 1]
        if valid and not ready:
            assert edges[k][0] == 1, f"{name}: o.valid dropped before its transfer (cycle {k})"
            assert edges[k][3] == payload, f"{name}: o.payload changed while stalled (cycle {k})"
    return sum(1 for _, _, i_ready, _ in edges if not i_ready)


def ready_follows_inputs_combinationally(dut: SkidBuffer | RegisterSlice, seed: int, cycles: int = 300) -> bool:
    """Under random traffic, does ``i.ready`` ever change when only ``o.ready`` or ``i.valid``
    change within a cycle? (A register output cannot.)"""
    rng = np.random.default_rng(seed)
    seen = []

    async def bench(ctx) -> None:
        for _ in range(cycles):
            ctx.set(dut.i.payload.data, int(rng.integers(-(1 << (BITS - 1)), 1 << (BITS - 1))))
            readies = set()
            for o_ready in (0, 1):
                for i_valid in (0, 1):
                    ctx.set(dut.o.ready, o_ready)
                    ctx.set(dut.i.valid, i_valid)
                    readies.add(ctx.get(dut.i.ready))
            seen.append(len(readies) > 1)
            ctx.set(dut.o.ready, int(rng.random() < 0.5))
            ctx.set(dut.i.valid, int(rng.random() < 0.8))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return any(seen)


@pytest.mark.parametrize("seed, p_valid, p_ready", [(0, 1.0, 1.0), (1, 0.9, 0.5), (2, 0.5, 0.9), (3, 0.7, 0.3)])
def test_skid_buffer_passes_every_beat_once_in_order_and_holds_when_stalled(
    seed: int, p_valid: float, p_ready: float
) -> None:
    rng = np.random.default_rng(seed)
    stalls = check_stream_rules(SkidBuffer(sample_layout(BITS)), random_beats(rng, 300), seed, p_valid, p_ready)
    if p_ready < 1.0:
        assert stalls > 0, "SkidBuffer: the test never filled the skid register (no i.ready low)"


def test_skid_buffer_has_zero_latency_and_full_throughput() -> None:
    dut = SkidBuffer(sample_layout(BITS))
    beats = random_beats(np.random.default_rng(5), 50)
    source, sink = connect(dut, beats, 5, 1.0, 1.0)
    run_streams(dut, [source], {sink: 50})
    assert sink.payloads == SkidBuffer.model(source.beats), "SkidBuffer: beats differ"
    assert sink.cycles == [c + dut.latency for c in source.sent_cycles] == list(range(50)), "SkidBuffer: latency"


def test_skid_buffer_ready_is_a_register() -> None:
    assert not ready_follows_inputs_combinationally(SkidBuffer(sample_layout(BITS)), seed=7), (
        "SkidBuffer: i.ready depends combinationally on o.ready or i.valid"
    )


def test_skid_checks_reject_broken_variants() -> None:
    """Each check can fail: a wire slice has a combinational ready; a skid that accepts while
    full loses beats."""
    assert ready_follows_inputs_combinationally(WireSlice(sample_layout(BITS)), seed=7)
    rng = np.random.default_rng(8)
    with pytest.raises(AssertionError):
        check_stream_rules(LossySkid(sample_layout(BITS)), random_beats(rng, 100), 8, 0.9, 0.5)


@pytest.mark.parametrize("seed, p_valid, p_ready", [(10, 1.0, 1.0), (11, 0.9, 0.4), (12, 0.6, 0.8)])
def test_register_slice_passes_every_beat_once_in_order_with_registered_ready(
    seed: int, p_valid: float, p_ready: float
) -> None:
    rng = np.random.default_rng(seed)
    stalls = check_stream_rules(RegisterSlice(sample_layout(BITS)), random_beats(rng, 300), seed, p_valid, p_ready)
    if p_ready < 1.0:
        assert stalls > 0, "RegisterSlice: the test never filled the held register (no i.ready low)"
    assert not ready_follows_inputs_combinationally(RegisterSlice(sample_layout(BITS)), seed=seed)


def test_register_slice_has_latency_one_and_full_throughput() -> None:
    dut = RegisterSlice(sample_layout(BITS))
    beats = random_beats(np.random.default_rng(6), 50)
    source, sink = connect(dut, beats, 6, 1.0, 1.0)
    run_streams(dut, [source], {sink: 50})
    assert sink.payloads == RegisterSlice.model(source.beats), "RegisterSlice: beats differ"
    assert sink.cycles == [c + RegisterSlice.latency for c in source.sent_cycles] == list(range(1, 51)), (
        "RegisterSlice: latency or throughput"
    )
