"""``python -m sim.soak``: random designs through the batch Verilator driver, every sample checked.

The small soak here (3 designs with N <= 16, ~20k samples) shares its builds between the
tests (same seed, same designs); the 10^7-sample acceptance run is in docs/soak.md.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

import sim.soak as soak_module
from golden.cli import UserError
from sim.scenarios import expected_frames
from sim.soak import (
    GUARD_CYCLES_PER_SAMPLE,
    GUARD_ROOM,
    MAX_STRESS,
    _call_frames,
    _pessimistic_cycles,
    draw_case,
    main,
    plan,
    segment_rows,
    soak,
)

SAMPLES, SEED, CASES, MAX_N = 20_000, 3, 3, 16
ARGV = ["--samples", str(SAMPLES), "--seed", str(SEED), "--cases", str(CASES), "--max-n", str(MAX_N), "--quiet"]


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_small_soak_is_bit_exact() -> None:
    result = soak(SAMPLES, SEED, cases=CASES, max_n=MAX_N)
    assert result.ok, result.failures
    assert result.mismatches == 0 and result.tlast_errors == 0 and result.cases == CASES
    assert result.samples >= SAMPLES and result.samples_per_s > 0
    assert sum(r.samples for r in result.case_results) == result.samples


def test_same_seed_same_plan_and_data() -> None:
    first = plan(SAMPLES, SEED, CASES, MAX_N)
    assert first == plan(SAMPLES, SEED, CASES, MAX_N)
    assert first != plan(SAMPLES, SEED + 1, CASES, MAX_N)
    assert sum(c.samples for c in first) >= SAMPLES
    # a case's design and flow control depend only on (seed, index, max N), not on the budget
    for case in plan(10 * SAMPLES, SEED, CASES + 4, MAX_N)[:CASES]:
        drawn = draw_case(SEED, case.index, MAX_N)
        assert case.describe() == drawn.describe()
        assert [(s.bubble, s.backpressure, s.seed) for s in case.segments] == [
            (s.bubble, s.backpressure, s.seed) for s in drawn.segments
        ]
    c = first[0]
    np.testing.assert_array_equal(segment_rows(c, c.segments[0]), segment_rows(c, c.segments[0]))


def test_the_draws_cover_the_issue_ranges_and_stay_inside_the_guard() -> None:
    cases = [draw_case(7, i) for i in range(400)]
    assert {(c.arch, c.fft_impl) for c in cases} == {("direct", None), ("fft", "native"), ("fft", "padded")}
    assert min(c.n for c in cases) == 2 and max(c.n for c in cases) == 130
    assert {c.bits for c in cases} == set(range(4, 25))
    assert {c.channels for c in cases} == set(range(1, 9))
    assert {c.target for c in cases} == {"generic", "ecp5", "xc7"}
    assert any(c.parallel == 1 for c in cases) and any(c.parallel not in (None, 1, c.n) for c in cases)
    assert any(c.options for c in cases)
    stress = [p for c in cases for s in c.segments for p in (s.bubble, s.backpressure)]
    assert 0.0 in stress and max(stress) <= MAX_STRESS and any(p > 0.95 for p in stress)
    for c in plan(10**7, 7, 32):
        for s in c.segments:
            cost = _pessimistic_cycles(c.engine_cycles_per_sample, s.bubble, s.backpressure)
            call = _call_frames(c, s) * c.n
            assert call * (cost - GUARD_CYCLES_PER_SAMPLE) <= GUARD_ROOM, (c.describe(), s)
            assert _call_frames(c, s) % c.granule == 0 and s.frames % c.granule == 0


def test_rows_include_full_scale_extremes() -> None:
    c = draw_case(SEED, 0, MAX_N)
    rows = segment_rows(c, plan(10**6, SEED, CASES, MAX_N)[0].segments[0])
    lo, hi = -(1 << (c.bits - 1)), (1 << (c.bits - 1)) - 1
    assert rows.min() == lo and rows.max() == hi
    assert (rows == lo).all(axis=1).any() and (rows == hi).all(axis=1).any()


@pytest.mark.slow
def test_a_wrong_sample_is_caught_and_the_printed_command_reproduces_it(monkeypatch, capsys) -> None:
    """The comparison can fail: a golden model off by one in one sample per run is reported
    per case, with the command that reruns exactly that case."""

    def off_by_one(design, rows):
        want = expected_frames(design, rows).copy()
        want[-1, 0] += 1
        return want

    monkeypatch.setattr(soak_module, "golden_rows", off_by_one)
    assert main(ARGV) == 1
    out, err = capsys.readouterr()
    summary = last_json(out)
    assert summary["mismatches"] > 0 and len(summary["failures"]) == CASES
    failure = summary["failures"][1]
    first = failure["first_mismatch"]
    assert first["want"] == first["got"] + 1 and first["position"] == 0
    assert failure["repro"] in err and failure["repro"].endswith("--case 1")

    argv = shlex.split(failure["repro"])
    assert argv[:3] == ["python", "-m", "sim.soak"]
    assert main([*argv[3:], "--quiet"]) == 1
    again = last_json(capsys.readouterr().out)
    assert again["cases"] == 1 and again["failures"][0]["config"] == failure["config"]
    assert again["failures"][0]["weights"] == failure["weights"]
    assert again["failures"][0]["mismatches"] == failure["mismatches"]
    assert again["failures"][0]["first_mismatch"] == first


@pytest.mark.slow
def test_a_simulation_that_fails_counts_all_its_samples(monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("RTL produced 0 output samples, expected 42")

    monkeypatch.setattr(soak_module, "run_batch", broken)
    assert main([*ARGV, "--case", "2"]) == 1
    summary = last_json(capsys.readouterr().out)
    assert summary["mismatches"] == summary["unverified"] == summary["samples"] > 0
    assert "RTL produced 0" in summary["failures"][0]["errors"][0]


def test_a_configuration_the_generator_refuses_is_listed_not_counted(monkeypatch, capsys) -> None:
    def refuse(config, seed):
        raise UserError("--fft-impl native with the defaults: too wide")

    monkeypatch.setattr(soak_module, "build_case", refuse)
    assert main([*ARGV, "--case", "0"]) == 0
    out, err = capsys.readouterr()
    summary = last_json(out)
    assert summary["samples"] == summary["mismatches"] == 0 and summary["failures"] == []
    assert summary["refused_configs"][0]["error"] == "--fft-impl native with the defaults: too wide"
    assert summary["refused_configs"][0]["repro"] in err


def test_list_prints_the_plan_and_case_picks_its_line(capsys) -> None:
    assert main([*ARGV, "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == CASES
    assert main([*ARGV, "--list", "--case", "1"]) == 0
    assert capsys.readouterr().out.strip() == lines[1]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--samples", "0"], "--samples"),
        (["--samples", "100", "--cases", "2", "--case", "2"], "--case must be in 0..1"),
        (["--cases", "0"], "--cases"),
        (["--max-n", "1"], "--max-n"),
        (["--samples", "many"], "--samples"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(argv: list[str], words: str, capsys) -> None:
    code: int | str | None
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors (golden.cli.Parser: one line, status 2)
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert words in captured.err
