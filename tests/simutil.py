"""Helpers for the simulation tests: `sim.run.simulate` in-process through its library API."""

from __future__ import annotations

import os
import shutil

import pytest

from hw.design import DesignSpec, build_design
from sim.run import SCENARIOS, SimOptions, SimResult, simulate


def run_sim(
    *,
    arch: str = "direct",
    n: int,
    bits: int = 8,
    channels: int | None = None,
    parallel: int | None = None,
    weights: str | None = None,
    seed: int = 0,
    frames: int = 200,
    backpressure: float = 0.3,
    bubble: float = 0.1,
    scenarios: tuple[str, ...] = SCENARIOS,
    simulator: str = "verilator",
    fft_impl: str | None = None,
) -> SimResult:
    """Build the design as `python -m sim.run` would (``seed`` seeds both the random weights
    and the stimulus) and simulate it. ``fft_impl`` is ``--fft-impl`` (None: auto, which
    means the native engine wherever N factors: a test of the padded engine must say so)."""
    options = {} if fft_impl is None else {"fft_impl": fft_impl}
    spec = DesignSpec(
        arch=arch, n=n, bits=bits, channels=channels, parallel=parallel, weights=weights, seed=seed, options=options
    )
    sim_options = SimOptions(
        frames=frames, seed=seed, backpressure=backpressure, bubble=bubble, simulator=simulator, scenarios=scenarios
    )
    return simulate(build_design(spec), sim_options)


def engine_name(result: SimResult) -> str:
    """The block under test, for failure messages: 'fft/native engine N=28 8 bit C=2 (verilator)'."""
    folded = f" P={result.parallel}" if result.parallel not in (None, result.n) else ""
    impl = f"/{result.fft_impl}" if result.fft_impl else ""
    return f"{result.arch}{impl}{folded} engine N={result.n} {result.bits} bit C={result.channels} ({result.simulator})"


def assert_bit_exact(result: SimResult) -> None:
    """Every scenario ran and every beat matched; the message names the engine and the
    scenarios' first mismatch or error."""
    details = {
        k: {kk: v.get(kk) for kk in ("mismatches", "missing", "extra", "first_mismatch", "error") if v.get(kk)}
        for k, v in result.scenarios.items()
    }
    assert result.samples > 0, f"{engine_name(result)}: no output compared: {details}"
    assert result.mismatches == 0 and result.failed_tests == 0, (
        f"{engine_name(result)} differs from its golden model: {details}"
    )


def diagonal_grid(arch: str, sizes: list[int], bits: list[int], diagonal: list[tuple[int, int]]) -> list:
    """(N, bits) parameters for a simulation test: the ``diagonal`` pairs run always, every
    other pair of the full grid is marked ``long`` (``pytest -m long``). Each id names the
    engine, so a failure says which block and configuration broke."""
    missing = (set(sizes) - {n for n, _ in diagonal}) | (set(bits) - {b for _, b in diagonal})
    assert not missing, f"the diagonal must cover every N and every bit width; missing {sorted(missing)}"
    return [
        pytest.param(n, b, id=f"{arch}-N{n}-{b}bit", marks=() if (n, b) in diagonal else pytest.mark.long)
        for n in sizes
        for b in bits
    ]


def require_icarus() -> None:
    """Skip (saying why) where `iverilog` is missing; fail instead under
    ``PARC_REQUIRE_ICARUS=1`` (CI installs it), so an Icarus check is never skipped silently there."""
    if shutil.which("iverilog") is not None:
        return
    if os.environ.get("PARC_REQUIRE_ICARUS") == "1":
        pytest.fail("PARC_REQUIRE_ICARUS=1 but iverilog is not on PATH (apt-get install iverilog)")
    pytest.skip("iverilog not installed (apt-get install iverilog)")
