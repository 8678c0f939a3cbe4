"""Block `hw.credit_buffer.CreditBuffer`: a source that starts a result only on ``grant`` and
writes it a fixed pipeline delay later never overflows the FIFO, every result leaves once and
in order under random output backpressure, ``grant`` is a register, and ``depth_for`` is the
exact depth for one result per clock."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from hw.credit_buffer import CreditBuffer


def run_source(depth: int, pipeline: int, p_start: float, p_ready: float, cycles: int, seed: int) -> dict:
    """Simulate a free-running pipeline of ``pipeline`` cycles feeding the buffer.

    Returns the values written, the values read, the number of starts, and two checks per
    cycle: i.ready on every write, and whether ``grant`` moved when ``o.ready`` flipped.
    """
    dut = CreditBuffer(signed(16), depth)
    rng = np.random.default_rng(seed)
    out: dict = {"written": [], "read": [], "starts": 0, "overflow": 0, "grant_comb": 0}

    async def bench(ctx) -> None:
        in_flight: list[int | None] = [None] * pipeline  # value written `pipeline` cycles after its start
        counter = 0
        for _ in range(cycles):
            grant = ctx.get(dut.grant)
            start = bool(grant) and rng.random() < p_start
            ready = int(rng.random() < p_ready)
            ctx.set(dut.o.ready, 1 - ready)  # grant must not follow o.ready within a cycle
            if ctx.get(dut.grant) != grant:
                out["grant_comb"] += 1
            ctx.set(dut.o.ready, ready)
            ctx.set(dut.take, int(start))
            in_flight.append(counter if start else None)
            if start:
                counter += 1
                out["starts"] += 1
            value = in_flight.pop(0)
            ctx.set(dut.i.valid, int(value is not None))
            ctx.set(dut.i.payload, 0 if value is None else value)
            if value is not None:
                out["written"].append(value)
                out["overflow"] += 1 - ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid) and ready:
                out["read"].append(ctx.get(dut.o.payload))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("depth, pipeline", [(4, 6), (9, 6), (16, 13)])
def test_random_traffic_never_overflows_and_keeps_order(depth: int, pipeline: int) -> None:
    out = run_source(depth, pipeline, p_start=0.8, p_ready=0.5, cycles=600, seed=depth)
    assert out["overflow"] == 0, "CreditBuffer: a granted result found the FIFO full"
    assert out["grant_comb"] == 0, "CreditBuffer: grant follows o.ready combinationally"
    assert out["written"] == list(range(len(out["written"]))), "test setup: writes out of order"
    assert out["read"] == out["written"][: len(out["read"])], "CreditBuffer: results lost, repeated or reordered"
    assert len(out["written"]) - len(out["read"]) <= depth, "CreditBuffer: more held than its depth"
    assert len(out["read"]) > 200, "test setup: too little traffic"


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_depth_below_3_is_refused(depth: int) -> None:
    """Depth 2 would be one FIFO memory word and the output register: a word written into the
    empty FIFO blocks the memory for a cycle, and the next granted one is refused (lost)."""
    with pytest.raises(ValueError, match="depth >= 3"):
        CreditBuffer(signed(16), depth)
    gc.collect()  # a refused buffer is silenced: no "created but never used" warning here or later


def test_depth_3_holds_its_credits() -> None:
    """The least depth allowed never refuses a granted word (where depth 2 lost one)."""
    for pipeline in (0, 1, 3):
        out = run_source(3, pipeline, p_start=0.9, p_ready=0.5, cycles=400, seed=pipeline)
        assert out["overflow"] == 0 and out["read"] == out["written"][: len(out["read"])]


@pytest.mark.parametrize("pipeline", [1, 13])
def test_depth_for_is_the_exact_depth_for_full_rate(pipeline: int) -> None:
    cycles = 300
    full = run_source(CreditBuffer.depth_for(pipeline), pipeline, 1.0, 1.0, cycles, seed=1)
    assert full["starts"] == cycles, f"CreditBuffer: {cycles - full['starts']} cycles waited for a credit"
    short = run_source(CreditBuffer.depth_for(pipeline) - 1, pipeline, 1.0, 1.0, cycles, seed=1)
    assert short["starts"] < cycles, "CreditBuffer: depth_for is larger than needed"
    assert short["overflow"] == 0
