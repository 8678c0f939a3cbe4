"""``python -m sim.run``: simulate a generated engine in cocotb/Verilator against the golden model.

Example::

    python -m sim.run --arch direct --n 56 --bits 8 --frames 200
    python -m sim.run --arch fft --n 28 --bits 12 --frames 2000 --backpressure 0.5 --seed 3

Runs three scenarios (back-to-back frames, reset in mid-frame, malformed tlast) with
random input bubbles and output backpressure, and prints a JSON summary as its last
line. Exit status: 0 all beats bit-exact, 1 any mismatch or failure, 2 bad options.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from hw.design import ARCHITECTURES, DesignSpec, build_design
from sim import scenarios
from sim.runner import SIMULATORS, build, run_scenarios


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sim.run",
        description="Bit-exact cocotb simulation of a ParC engine against the integer golden model.",
        epilog="example: python -m sim.run --arch direct --n 56 --bits 8 --frames 200",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--arch", default="direct", help=f"{', '.join(sorted(ARCHITECTURES))}")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--frames", type=int, default=200, help="frames (rows of N samples) in the main stream")
    p.add_argument("--channels", type=int, default=None)
    p.add_argument("--parallel", type=int, default=None, help="multipliers P (direct)")
    p.add_argument("--weights", default=None, help="float .npz or exported bundle (default: shipped/random)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backpressure", type=float, default=0.3, help="probability m_axis_tready is low (default 0.3)")
    p.add_argument("--bubble", type=float, default=0.1, help="probability of an idle input cycle (default 0.1)")
    p.add_argument("--simulator", default="verilator", choices=SIMULATORS)
    p.add_argument("--scenarios", default="stream,reset,tlast", help="comma list of stream,reset,tlast")
    return p


def simulate(args: argparse.Namespace) -> dict:
    """Build (or reuse) the simulator and run the scenarios; returns the summary dict."""
    spec = DesignSpec(arch=args.arch, n=args.n, bits=args.bits, channels=args.channels,
                      parallel=args.parallel, weights=args.weights, seed=args.seed)
    design = build_design(spec)
    makers = {
        "stream": lambda: scenarios.stream(design, args.frames, args.seed),
        "reset": lambda: scenarios.reset_mid_frame(design, args.seed),
        "tlast": lambda: scenarios.tlast_errors(design, args.seed),
    }
    chosen = [s for s in args.scenarios.split(",") if s]
    unknown = set(chosen) - set(makers)
    if unknown or not chosen:
        raise ValueError(f"unknown scenarios {sorted(unknown)}; choose from {sorted(makers)}")
    built = build(design, args.simulator)
    start = time.monotonic()
    results = run_scenarios(built, [makers[s]() for s in chosen], seed=args.seed,
                            bubble=args.bubble, backpressure=args.backpressure)
    sim_seconds = time.monotonic() - start
    per = {k: v for k, v in results.items() if not k.startswith("_")}
    samples = sum(r.get("compared", 0) for r in per.values())
    mismatches = sum(r.get("mismatches", 0) + r.get("missing", 0) + r.get("extra", 0) for r in per.values())
    errors = [f"{k}: {r['error']}" for k, r in per.items() if "error" in r]
    stream_result = per.get("stream", {})
    overflow = [r["status"]["overflow"] for r in per.values() if "overflow" in r.get("status", {})]
    return {
        "arch": args.arch,
        "n": args.n,
        "bits": args.bits,
        "channels": design.layer.channels,
        "parallel": getattr(design.engine, "parallel", None),
        "weights": design.float_layer.name,
        "simulator": args.simulator,
        "samples": samples,
        "mismatches": mismatches,
        "failed_tests": results["_failed_tests"] + len(errors),
        "errors": errors,
        "cycles_per_sample": stream_result.get("cycles_per_sample"),
        "overflow": max(overflow) if overflow else None,
        "backpressure": args.backpressure,
        "bubble": args.bubble,
        "latency_cycles": design.engine.latency,
        "build_seconds": round(built.seconds, 1),
        "sim_seconds": round(sim_seconds, 1),
        "scenarios": per,
        "work_dir": results["_work_dir"],
    }


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not 0 <= args.backpressure < 1 or not 0 <= args.bubble < 1:
        print("sim.run: error: --backpressure and --bubble must be in [0, 1)", file=sys.stderr)
        return 2
    if args.frames < 1:
        print("sim.run: error: --frames must be >= 1", file=sys.stderr)
        return 2
    try:
        summary = simulate(args)
    except ValueError as exc:
        print(f"sim.run: error: {exc}", file=sys.stderr)
        return 2
    for name, r in summary["scenarios"].items():
        print(f"{name:7s} samples={r.get('compared', 0):7d} mismatches={r.get('mismatches', '?')} "
              f"frame_errors={r.get('frame_errors', '?')}/{r.get('expected_frame_errors', '?')}", file=sys.stderr)
    brief = {k: v for k, v in summary.items() if k != "scenarios"}
    print(json.dumps(brief))
    ok = summary["mismatches"] == 0 and summary["failed_tests"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
