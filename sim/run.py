"""``python -m sim.run``: simulate a generated engine in cocotb/Verilator against the golden model.

Example::

    python -m sim.run --arch direct --n 56 --bits 8 --frames 200
    python -m sim.run --arch fft --n 28 --bits 12 --frames 2000 --backpressure 0.5 --seed 3

Runs three scenarios (back-to-back frames, reset in mid-frame, malformed tlast) with
random input bubbles and output backpressure, and prints a JSON summary as its last
line. Exit status: 0 all beats bit-exact, 1 any mismatch or failure, 2 bad options.
The simulator's work folder is removed afterwards; ``--keep`` keeps it and prints its path.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from golden.cli import Parser, UserError, run
from hw.design import ARCHITECTURES, DesignSpec, build_design
from sim import scenarios
from sim.runner import SIMULATORS, build, run_scenarios


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m sim.run",
        description="Bit-exact cocotb simulation of a ParC engine against the integer golden model.",
        epilog="example: python -m sim.run --arch direct --n 56 --bits 8 --frames 200",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--arch", default="direct", help=f"{', '.join(sorted(ARCHITECTURES))}")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--frames", type=int, default=200, help="frames (rows of N samples) in the main stream")
    p.add_argument("--channels", type=int, default=None,
                   help="use the first C channels of the weights (default: all of them; 4 for --weights random)")
    p.add_argument("--parallel", type=int, default=None, help="multipliers P (direct)")
    p.add_argument("--weights", default=None,
                   help="exported bundle, float .npz, a checkpoint with --layer, or 'random' "
                        "(default: the shipped trained layer, N=56 and N=28 only)")
    p.add_argument("--layer", default=None, help="ParC layer of the --weights checkpoint, e.g. stages.0.0.gcc_H")
    p.add_argument("--seed", type=int, default=0, help="seed of the stimulus, bubbles, backpressure and of --weights random")
    p.add_argument("--backpressure", type=float, default=0.3, help="probability m_axis_tready is low (default 0.3)")
    p.add_argument("--bubble", type=float, default=0.1, help="probability of an idle input cycle (default 0.1)")
    p.add_argument("--simulator", default="verilator", choices=SIMULATORS)
    p.add_argument("--scenarios", default="stream,reset,tlast", help="comma list of stream,reset,tlast")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (stimuli, sim.log, results) and print where it is (default: removed)")
    return p


def simulate(args: argparse.Namespace) -> dict:
    """Build (or reuse) the simulator and run the scenarios; returns the summary dict."""
    spec = DesignSpec(arch=args.arch, n=args.n, bits=args.bits, channels=args.channels,
                      parallel=args.parallel, weights=args.weights, seed=args.seed, layer=args.layer)
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
                            bubble=args.bubble, backpressure=args.backpressure,
                            keep=getattr(args, "keep", False))
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


def _main(argv: list[str] | None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not 0 <= args.backpressure < 1 or not 0 <= args.bubble < 1:
        raise UserError("--backpressure and --bubble must be in [0, 1)")
    if args.frames < 1:
        raise UserError("--frames must be >= 1")
    summary = simulate(args)
    for name, r in summary["scenarios"].items():
        print(f"{name:7s} samples={r.get('compared', 0):7d} mismatches={r.get('mismatches', '?')} "
              f"frame_errors={r.get('frame_errors', '?')}/{r.get('expected_frame_errors', '?')}", file=sys.stderr)
    if summary["work_dir"]:
        print(f"work folder kept: {summary['work_dir']}", file=sys.stderr)
    brief = {k: v for k, v in summary.items() if k != "scenarios"}
    print(json.dumps(brief))
    ok = summary["mismatches"] == 0 and summary["failed_tests"] == 0
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m sim.run", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
