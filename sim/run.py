"""``python -m sim.run``: simulate a generated engine in cocotb/Verilator against the golden model.

Example::

    python -m sim.run --arch direct --n 56 --bits 8 --frames 200
    python -m sim.run --arch fft --n 28 --bits 12 --frames 2000 --backpressure 0.5 --seed 3
    python -m sim.run --arch fft --fft-impl padded --n 56 --bits 8   # the radix-2 engine where native fits
    python -m sim.run --arch direct --n 14 --bits 8 --weights random --target ecp5   # ECP5 primitives (twins)
    python -m sim.run --weights weights/parc/model.pt --layer stages.2.0 --bits 8 --frames 2   # a block's token mixer

Runs three scenarios (back-to-back frames, reset in mid-frame, malformed tlast) with
random input bubbles and output backpressure, and prints a JSON summary as its last
line. When ``--layer`` names a ParC-ConvNeXt block of a checkpoint the design is its whole
token mixer (`hw.mixer_design`), and a frame is a whole C×H×W map (`sim.mixer_scenarios`):
``--frames`` then counts maps (default 2), and the stimulus is the ``--calibration`` maps
(real activations) when given, else Gaussian maps. Exit status: 0 all beats bit-exact, 1 any mismatch or failure, 2 bad options.
The simulator's work folder is removed afterwards; ``--keep`` keeps it and prints its path.

From Python, call the library function the command wraps::

    from hw.design import DesignSpec, build_design
    from sim.run import SimOptions, simulate

    result = simulate(build_design(DesignSpec(arch="fft", n=28, bits=12)), SimOptions(frames=2000))
    assert result.ok, result.errors

`hw.mixer_design.build_layer_design` builds either kind; ``simulate(design, options, stimulus=maps)``
runs a mixer on chosen float maps (..., C, H, W) of real activations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

from numpy.typing import NDArray

from golden.cli import Parser, UserError, run
from hw.design import Design, add_design_arguments, parse_design_arguments, spec_from_arguments
from hw.generate import add_fft_arguments, check_arch_options, fft_options
from hw.mixer_design import MixerDesign, build_layer_design
from sim import mixer_scenarios, scenarios
from sim.runner import SIMULATORS, build, run_scenarios


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "sim.run",
        "Bit-exact cocotb simulation of a ParC engine against the integer golden model.",
        "python -m sim.run --arch direct --n 56 --bits 8 --frames 200",
    )
    add_design_arguments(p)
    p.add_argument(
        "--frames",
        type=int,
        default=None,
        help=f"frames in the main stream: rows of N samples (default {LAYER_FRAMES}), or for a mixer block "
        f"whole C x H x W maps (default {MIXER_MAPS})",
    )
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
LAYER_FRAMES = 200  # default rows of a 1-D engine's stream: enough for every channel many times over
MIXER_MAPS = 2  # default maps of a mixer's stream: one map is ~50k beats at stage 0, and 2 show back to back


@dataclass(frozen=True)
class SimOptions:
    """How to simulate a design: stimulus, flow control and simulator (not what hardware).

    ``seed`` drives the stimulus, the input bubbles and the output backpressure; the
    weights' seed is part of the design (`DesignSpec.seed`). Bad values raise `UserError`
    on construction, so a caller learns of them before a build starts.
    """

    frames: int | None = None  # frames in the main stream: rows of N, or a mixer's maps (None: the default)
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
        if self.frames is not None and self.frames < 1:
            raise UserError("--frames must be >= 1")
        if self.simulator not in SIMULATORS:
            raise UserError(f"--simulator must be one of {', '.join(SIMULATORS)}; got {self.simulator!r}")
        unknown = sorted(set(self.scenarios) - set(SCENARIOS))
        if unknown or not self.scenarios:
            raise UserError(f"--scenarios: unknown {unknown or 'none given'}; choose from {', '.join(SCENARIOS)}")

    def frames_for(self, design: Design | MixerDesign) -> int:
        """`frames`, or its default for this kind of design (`LAYER_FRAMES` rows, `MIXER_MAPS` maps)."""
        if self.frames is not None:
            return self.frames
        return MIXER_MAPS if isinstance(design, MixerDesign) else LAYER_FRAMES


@dataclass(frozen=True)
class SimResult:
    """What one simulation found: totals over the scenarios, and each scenario's own result."""

    arch: str
    fft_impl: str | None  # --arch fft: "native" or "padded" (manifest.json's fft_impl; a mixer: "H:…,W:…" if
    # its halves differ); None otherwise
    target: str  # hw.target.TARGETS entry the Verilog was written for (ecp5: simulated with the twins)
    n: int  # a mixer: its map height H
    bits: int
    channels: int
    parallel: int | None  # multipliers of the direct engine, None for other engines (a mixer: its H half's)
    weights: str  # name of the float layer simulated (a mixer: its block, "stages.0.0")
    simulator: str
    samples: int  # output beats compared with the golden model
    mismatches: int  # wrong, missing and extra beats
    failed_tests: int  # cocotb tests that failed, plus scenarios that produced no result
    errors: list[str]  # "scenario: why" for scenarios that produced no result
    cycles_per_sample: float | None  # of the "stream" scenario
    overflow: int | None  # sticky overflow port (FFT engine), largest over the scenarios
    backpressure: float
    bubble: float
    latency_cycles: int  # the design's stated latency (a mixer: to a map's first output, `ParcMixer.latency`)
    build_seconds: float  # 0 when the build came from the cache
    sim_seconds: float
    scenarios: dict[str, dict]  # scenario name -> its result (compared, mismatches, first_mismatch, status, ...)
    work_dir: str | None  # the kept work folder, None once removed
    kind: str = "layer"  # "layer" (a 1-D engine, frames are rows) or "mixer" (frames are whole maps)
    frame_samples: int = 0  # beats per frame: N, or a mixer's H*W*C
    latency_maps: float | None = None  # a mixer's latency_cycles in map times

    @property
    def ok(self) -> bool:
        """Every beat bit-exact and every scenario ran."""
        return self.samples > 0 and self.mismatches == 0 and self.failed_tests == 0

    def to_dict(self) -> dict:
        """The JSON summary (`python -m sim.run` prints it without ``scenarios``)."""
        return asdict(self)


def simulate(
    design: Design | MixerDesign, options: SimOptions = SimOptions(), *, stimulus: NDArray | None = None
) -> SimResult:
    """Build (or reuse) the simulator for ``design`` and run the chosen scenarios against
    its golden model, with random bubbles and backpressure.

    A 1-D design is checked against `design.engine.model` (`sim.scenarios`); a mixer against
    `golden.mixer`'s integer mixer for the engine kind that was built (`sim.mixer_scenarios`),
    on ``stimulus`` float maps (..., C, H, W) when given (real activations), else on its
    ``spec.calibration`` maps, else on Gaussian maps (``stimulus`` applies to mixers only)."""
    frames = options.frames_for(design)
    if isinstance(design, MixerDesign):
        makers = {
            "stream": lambda: mixer_scenarios.stream(design, frames, options.seed, stimulus),
            "reset": lambda: mixer_scenarios.reset_mid_map(design, options.seed, stimulus),
            "tlast": lambda: mixer_scenarios.tlast_errors(design, options.seed, stimulus),
        }
    else:
        if stimulus is not None:
            raise ValueError("stimulus maps apply to a mixer design only (a layer's come with its weight bundle)")
        makers = {
            "stream": lambda: scenarios.stream(design, frames, options.seed),
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
        **_describe(design),
        target=design.spec.target,
        bits=design.spec.bits,
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


def _describe(design: Design | MixerDesign) -> dict:
    """The `SimResult` fields that say what was simulated."""
    if isinstance(design, MixerDesign):
        impls = {d: half.arch_info.get("fft_impl") for d, half in design.halves.items()}
        same = len(set(impls.values())) == 1
        return {
            "kind": "mixer",
            "arch": design.spec.arch,
            "fft_impl": impls["H"] if same else ",".join(f"{d}:{impl}" for d, impl in impls.items()),
            "n": design.engine.height,
            "channels": design.engine.channels,
            "parallel": getattr(design.halves["H"].engine, "parallel", None),
            "weights": design.mixer.name,
            "frame_samples": design.engine.length,
            "latency_maps": round(design.engine.latency_maps, 4),
        }
    return {
        "kind": "layer",
        "arch": design.spec.arch,
        "fft_impl": design.arch_info.get("fft_impl"),
        "n": design.layer.fmt.n,
        "channels": design.layer.channels,
        "parallel": getattr(design.engine, "parallel", None),
        "weights": design.float_layer.name,
        "frame_samples": design.layer.fmt.n,
    }


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
    result = simulate(build_layer_design(spec), options)
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
