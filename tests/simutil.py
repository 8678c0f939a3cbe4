"""Helpers for the simulation tests: run `sim.run` in-process and return its summary."""
from __future__ import annotations

import argparse

from sim.run import parser, simulate


def run_sim(**options) -> dict:
    argv: list[str] = []
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    args: argparse.Namespace = parser().parse_args(argv)
    return simulate(args)


def assert_bit_exact(summary: dict) -> None:
    details = {k: {kk: v.get(kk) for kk in ("mismatches", "missing", "extra", "first_mismatch", "error")}
               for k, v in summary["scenarios"].items()}
    assert summary["samples"] > 0, details
    assert summary["mismatches"] == 0 and summary["failed_tests"] == 0, details
