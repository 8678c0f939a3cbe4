"""``python -m sim.run``: simulate a generated engine in cocotb/Verilator against the golden model.

Example::

    python -m sim.run --arch direct --n 56 --bits 8 --frames 200
    python -m sim.run --arch fft --n 28 --bits 12 --frames 2000 --backpressure 0.5 --seed 3
    python -m sim.run --arch fft --fft-impl padded --n 56 --bits 8   # the radix-2 engine where native fits
    python -m sim.run --arch direct --n 14 --bits 8 --weights random --target ecp5   # ECP5 primitives (twins)

Runs three scenarios (back-to-back frames, reset in mid-frame, malformed tlast) with
random input bubbles and output backpressure, and prints a JSON summary as its last
line. Exit status: 0 all beats bit-exact, 1 any mismatch or failure, 2 bad options.
The simulator's work folder is removed afterwards; ``--keep`` keeps it and prints its path.

From Python, call the library function the command wraps::

    from hw.design import DesignSpec, build_design
    from sim.run import SimOptions, simulate

    result = simulate(build_design(DesignSpec(arch="fft", n=28, bits=12)), SimOptions(frames=2000))
    assert result.ok, result.errors
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

from golden.cli import Parser, UserError, run
from hw.design import Design, add_design_arguments, build_design, parse_design_arguments, spec_from_arguments
from hw.generate import add_fft_arguments, check_arch_options, fft_options
from sim import scenarios
from sim.runner import SIMULATORS, build, run_scenarios


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "sim.run",
        "Bit-exact cocotb simulation of a ParC engine against the integer golden model.",
        "python -m sim.run --arch direct --n 56 --bits 8 --frames 200",
    )
    add_design_arguments(p)
    p.add_argument("--frames", type=int, default=200, help="frames (rows of N samples) in the main stream")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the stimulus, bubbles, backpressure and of --weights random"
    )
    p.add_argument("--backpressure", type=float, default=0.3, help="probability m_axis_tready is low (default 0.3)")
    p.add_argument("--bubble", type=float, default=0.1, help="probability of an idle input cycle (default 0.1)")
    p.add_argument("--simulator", default="verilator", choices=SIMULATORS)
    p.add_argument("--scenarios", default="stream,reset,tlast", help="comma list of stream,reset,tlast")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the work folder (stimuli, sim.log, results) and print where it is (default: removed)",
    )
    add_fft_arguments(p)  # as python -m hw.generate spells them
    return p


SCENARIOS = ("stream", "reset", "tlast")


@dataclass(frozen=True)
class SimOptions:
    """How to simulate a design: stimulus, flow control and simulator (not what hardware).

    ``seed`` drives the stimulus, the input bubbles and the output backpressure; the
    weights' seed is part of the design (`DesignSpec.seed`). Bad values raise `UserError`
    on construction, so a caller learns of them before a build starts.
    """

    frames: int = 200  # frames (rows of N samples) in the main stream
    seed: int = 0
    backpressure: float = 0.3  # probability that m_axis_tready is low in a cycle
    bubble: float = 0.1  # probability of an idle input cycle
    simulator: str = "verilator"
    scenarios: tuple[str, ...] = SCENARIOS
    keep: bool = False  # keep the work folder (stimuli, sim.log, results)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenarios", tuple(self.scenarios))
        if not 0 <= self.backpressure < 1 or not 0 <= self.bubble < 1:
            raise UserError("--backpressure and --bubble must be in [0, 1)")
        if self.frames < 1:
            raise UserError("--frames must be >= 1")
        if self.simulator not in SIMULATORS:
            raise UserError(f"--simulator must be one of {', '.join(SIMULATORS)}; got {self.simulator!r}")
        unknown = sorted(set(self.scenarios) - set(SCENARIOS))
        if unknown or not self.scenarios:
            raise UserError(f"--scenarios: unknown {unknown or 'none given'}; choose from {', '.join(SCENARIOS)}")


@dataclass(frozen=True)
class SimResult:
    """What one simulation found: totals over the scenarios, and each scenario's own result."""

    arch: str
    fft_impl: str | None  # --arch fft: "native" or "padded" (manifest.json's fft_impl); None otherwise
    target: str  # hw.target.TARGETS entry the Verilog was written for (ecp5: simulated with the twins)
    n: int
    bits: int
    channels: int
    parallel: int | None  # multipliers of the direct engine, None for other engines
    weights: str  # name of the float layer simulated
    simulator: str
    samples: int  # output beats compared with the golden model
    mismatches: int  # wrong, missing and extra beats
    failed_tests: int  # cocotb tests that failed, plus scenarios that produced no result
    errors: list[str]  # "scenario: why" for scenarios that produced no result
    cycles_per_sample: float | None  # of the "stream" scenario
    overflow: int | None  # sticky overflow port (FFT engine), largest over the scenarios
    backpressure: float
    bubble: float
    latency_cycles: int
    build_seconds: float  # 0 when the build came from the cache
    sim_seconds: float
    scenarios: dict[str, dict]  # scenario name -> its result (compared, mismatches, first_mismatch, status, ...)
    work_dir: str | None  # the kept work folder, None once removed

    @property
    def ok(self) -> bool:
        """Every beat bit-exact and every scenario ran."""
        return self.samples > 0 and self.mismatches == 0 and self.failed_tests == 0

    def to_dict(self) -> dict:
        """The JSON summary (`python -m sim.run` prints it without ``scenarios``)."""
        return asdict(self)


def simulate(design: Design, options: SimOptions = SimOptions()) -> SimResult:
    """Build (or reuse) the simulator for ``design`` and run the chosen scenarios against
    its golden model (`design.engine.model`), with random bubbles and backpressure."""
    makers = {
        "stream": lambda: scenarios.stream(design, options.frames, options.seed),
        "reset": lambda: scenarios.reset_mid_frame(design, options.seed),
        "tlast": lambda: scenarios.tlast_errors(design, options.seed),
    }
    built = build(design, options.simulator)
    start = time.monotonic()
    results = run_scenarios(
        built,
        [makers[s]() for s in options.scenarios],
        seed=options.seed,
        bubble=options.bubble,
        backpressure=options.backpressure,
        keep=options.keep,
    )
    sim_seconds = time.monotonic() - start
    per = {k: v for k, v in results.items() if not k.startswith("_")}
    errors = [f"{k}: {r['error']}" for k, r in per.items() if "error" in r]
    overflow = [r["status"]["overflow"] for r in per.values() if "overflow" in r.get("status", {})]
    return SimResult(
        arch=design.spec.arch,
        fft_impl=design.arch_info.get("fft_impl"),
        target=design.spec.target,
        n=design.layer.fmt.n,
        bits=design.spec.bits,
        channels=design.layer.channels,
        parallel=getattr(design.engine, "parallel", None),
        weights=design.float_layer.name,
        simulator=options.simulator,
        samples=sum(r.get("compared", 0) for r in per.values()),
        mismatches=sum(r.get("mismatches", 0) + r.get("missing", 0) + r.get("extra", 0) for r in per.values()),
        failed_tests=results["_failed_tests"] + len(errors),
        errors=errors,
        cycles_per_sample=per.get("stream", {}).get("cycles_per_sample"),
        overflow=max(overflow) if overflow else None,
        backpressure=options.backpressure,
        bubble=options.bubble,
        latency_cycles=design.engine.latency,
        build_seconds=round(built.seconds, 1),
        sim_seconds=round(sim_seconds, 1),
        scenarios=per,
        work_dir=results["_work_dir"],
    )


def _main(argv: list[str] | None) -> int:
    args = parse_design_arguments(parser(), argv)
    options = SimOptions(
        frames=args.frames,
        seed=args.seed,
        backpressure=args.backpressure,
        bubble=args.bubble,
        simulator=args.simulator,
        scenarios=tuple(s for s in args.scenarios.split(",") if s),
        keep=args.keep,
    )
    spec = spec_from_arguments(args, seed=args.seed, options=fft_options(args))
    check_arch_options(spec)
    result = simulate(build_design(spec), options)
    for name, r in result.scenarios.items():
        print(
            f"{name:7s} samples={r.get('compared', 0):7d} mismatches={r.get('mismatches', '?')} "
            f"frame_errors={r.get('frame_errors', '?')}/{r.get('expected_frame_errors', '?')}",
            file=sys.stderr,
        )
    if result.work_dir:
        print(f"work folder kept: {result.work_dir}", file=sys.stderr)
    print(json.dumps({k: v for k, v in result.to_dict().items() if k != "scenarios"}))
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m sim.run", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
