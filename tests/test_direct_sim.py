"""Direct engine in cocotb/Verilator: bit-exact against the integer golden model.

Every run has random input bubbles and output backpressure, a reset in mid-frame and
malformed-tlast frames (see `sim.scenarios`).
"""
from __future__ import annotations

import pytest

from simutil import assert_bit_exact, run_sim


@pytest.mark.parametrize("n", [7, 14, 28, 56])
@pytest.mark.parametrize("bits", [4, 8, 12, 16])
def test_direct_engine_is_bit_exact_under_backpressure(n: int, bits: int) -> None:
    summary = run_sim(arch="direct", n=n, bits=bits, channels=2, weights="random", frames=24, seed=n * bits,
                      backpressure=0.4, bubble=0.2)
    assert_bit_exact(summary)
    assert summary["scenarios"]["tlast"]["frame_errors"] > 0  # the malformed frames were seen


def test_full_parallel_engine_sustains_one_sample_per_clock() -> None:
    summary = run_sim(arch="direct", n=56, bits=8, channels=2, weights="random", frames=100, backpressure=0, bubble=0,
                      scenarios="stream")
    assert_bit_exact(summary)
    assert summary["cycles_per_sample"] <= 1.02


@pytest.mark.parametrize("n,parallel,channels", [(14, 5, 3), (28, 7, 3), (7, 1, 1)])
def test_folded_engine_is_bit_exact_and_takes_ceil_n_over_p_cycles(n: int, parallel: int, channels: int) -> None:
    summary = run_sim(arch="direct", n=n, bits=8, channels=channels, weights="random", parallel=parallel, frames=12,
                      backpressure=0, bubble=0, scenarios="stream,reset,tlast")
    assert_bit_exact(summary)
    groups = -(-n // parallel)
    assert groups <= summary["cycles_per_sample"] <= groups * 1.05


@pytest.mark.long
def test_direct_engine_long_run_n56_bits8() -> None:
    summary = run_sim(arch="direct", n=56, bits=8, frames=2000, backpressure=0.3, bubble=0.1, seed=11)
    assert_bit_exact(summary)
    assert summary["samples"] >= 100_000
