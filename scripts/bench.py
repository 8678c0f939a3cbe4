"""Speed ratios, measured in one run: golden models, simulators and the RTL's cycles per sample.

Example::

    python -m scripts.bench                       # N = 56, 8 bits
    python -m scripts.bench --n 28 --bits 16 --frames 8000
    python -m scripts.bench --quick               # tiny sizes (tests)

Three tables, all on the same seeded data (`sim.scenarios.stimulus_frames` of the channels=4,
random-weights design that `scripts.synth` reports):

1. **Models**: samples/s of the integer golden models (`golden.direct.direct_model`,
   `golden.native_fft.native_model`, `golden.fast_parc_int.fast_parc_int_model`) and of two
   float references computing the same
   correlation (`scipy.ndimage.correlate1d(mode='wrap')`, `numpy.fft` rfft/irfft), with the
   ratios model / reference (> 1: the model is faster) and the references' largest error
   against the exact integer accumulator.
2. **Simulators**: samples/s of the Verilated RTL, through the C++ batch driver
   (`sim.batch.run_batch`) and through the cocotb bench (`sim.run`, scenario "stream"), and
   the ratio to the NumPy golden model of the same architecture. Builds are excluded (cached).
3. **RTL cycles per sample** against the single-stream limit of 1 sample per clock, without
   and with random output backpressure (probability 0.5 that tready is low: the limit is then
   2 cycles per sample), for the direct form with P = N multipliers, a folded direct form
   (P = ceil(N/4)) and the FFT engines.

The engines are the `scripts.synth.VARIANTS` (``--arch``, default direct, fft-native where N
allows it, fft-padded); direct is always measured, as the reference of tables 1 and 3.

Writes ``OUT/bench.md`` and ``OUT/bench.json`` atomically (default OUT = reports) and prints
the tables. Timings are best-of-repeats wall clock on a possibly shared machine (the load
average is recorded). Bad options: one line on stderr, exit status 2; exit 1 if any RTL run
was not bit-exact. From Python: ``write_bench(run_bench(BenchOptions(n=28)), "reports")``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from golden.cli import Parser, UserError, run
from golden.files import OutputFolder, publish
from golden.quant import check_n_bits
from scripts.synth import DEFAULT_VARIANTS, VARIANTS, check_variants, parse_variants

CHANNELS = 4
BENCH_FILES = ("bench.json", "bench.md")
SEED = 0
BACKPRESSURE = 0.5


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "scripts.bench",
        "Golden-model, simulator and RTL throughput ratios for one N and bit width.",
        "python -m scripts.bench --n 56 --bits 8 --frames 4000",
    )
    p.add_argument("--n", type=int, default=None, help="feature length N (default 56; --quick: 7)")
    p.add_argument("--bits", type=int, default=8, help="data/weight/output bits (default 8)")
    p.add_argument(
        "--frames", type=int, default=None, help="frames for models and batch runs (default 4000; --quick: 40)"
    )
    p.add_argument(
        "--cocotb-frames", type=int, default=None, help="frames for the cocotb run (default 200; --quick: 8)"
    )
    p.add_argument(
        "--min-time", type=float, default=None, help="seconds each model timing repeats for (default 1; --quick: 0.05)"
    )
    p.add_argument(
        "--arch",
        default=None,
        help=f"comma list of engines: {', '.join(VARIANTS)} (default: {','.join(DEFAULT_VARIANTS)}, those that "
        "exist for N); direct is always measured",
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes for tests: N=7, few frames, short timings")
    p.add_argument(
        "--out", type=Path, default=Path("reports"), help="folder for bench.md and bench.json (default reports)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


@dataclass(frozen=True)
class BenchOptions:
    """What to benchmark: one N and bit width, data sizes and timing budget.

    ``frames`` is rounded up to whole groups of `CHANNELS` (the models take (S, C, N)).
    Bad values raise `UserError` on construction, before anything runs.
    """

    n: int = 56
    bits: int = 8
    frames: int = 4000  # frames for the models and the batch runs
    cocotb_frames: int = 200  # frames for the cocotb run
    min_time: float = 1.0  # seconds each model timing repeats for
    progress: bool = True  # tqdm bar on stderr
    # engine labels (scripts.synth.VARIANTS); () = DEFAULT_VARIANTS that exist for N. direct is always added.
    archs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for bad, message in (
            (self.n < 2, f"--n must be >= 2; got {self.n}"),
            (self.frames < CHANNELS, f"--frames must be >= {CHANNELS}; got {self.frames}"),
            (self.cocotb_frames < 1, f"--cocotb-frames must be >= 1; got {self.cocotb_frames}"),
            (self.min_time <= 0, f"--min-time must be > 0; got {self.min_time}"),
        ):
            if bad:
                raise UserError(message)
        check_n_bits(self.n, self.bits)
        object.__setattr__(self, "frames", -(-self.frames // CHANNELS) * CHANNELS)
        if self.archs:
            check_variants(tuple(self.archs))
            for label in self.archs:
                VARIANTS[label].check(self.n)
            chosen = ("direct", *self.archs)
        else:
            chosen = tuple(a for a in DEFAULT_VARIANTS if VARIANTS[a].applies(self.n))
        object.__setattr__(self, "archs", tuple(dict.fromkeys(chosen)))

    @classmethod
    def quick(cls, **overrides) -> BenchOptions:
        """Tiny sizes for tests: N=7, few frames, short timings."""
        return cls(**{"n": 7, "frames": 40, "cocotb_frames": 8, "min_time": 0.05, **overrides})


@dataclass(frozen=True)
class BenchResult:
    """Everything bench.json holds: ``meta``, the three tables and the largest gap."""

    report: dict

    @property
    def ok(self) -> bool:
        """Every RTL run was bit-exact."""
        return all(r["bit_exact"] for r in self.report["simulators"] + self.report["rtl"])

    def markdown(self) -> str:
        return render(self.report)


def best_time(fn: Callable[[], object], min_time: float) -> float:
    """Smallest wall time of repeated calls of ``fn`` (repeats for at least ``min_time``)."""
    fn()  # warm-up (imports, caches)
    best, total, repeats = math.inf, 0.0, 0
    while total < min_time or repeats < 3:
        start = time.perf_counter()
        fn()
        t = time.perf_counter() - start
        best, total, repeats = min(best, t), total + t, repeats + 1
    return best


# ---------------------------------------------------------------------------- 1. models


def golden_model(design) -> tuple[str, str, Callable[[np.ndarray], object]]:
    """(name, kind, call) of the integer golden model that the engine of ``design`` equals bit for bit."""
    if design.spec.arch == "direct":
        from golden.direct import direct_model

        q = design.layer
        return "golden.direct.direct_model", "int64, bit-exact direct engine", lambda x: direct_model(q, x)
    plan = design.engine.plan
    if design.arch_info.get("fft_impl") == "native":
        from golden.native_fft import native_model

        return (
            "golden.native_fft.native_model",
            "int64, bit-exact native (prime-factor) FFT engine",
            lambda x: native_model(plan, x),
        )
    from golden.fast_parc_int import fast_parc_int_model

    return (
        "golden.fast_parc_int.fast_parc_int_model",
        "int64, bit-exact padded FFT engine",
        lambda x: fast_parc_int_model(plan, x),
    )


def bench_models(designs: dict, rows: np.ndarray, min_time: float) -> list[dict]:
    """One row per distinct golden model of ``designs`` (``engines``: whose model it is), then
    the two float references."""
    from scipy.ndimage import correlate1d

    from golden.direct import accumulate

    q = designs["direct"].layer
    n, c = q.fmt.n, q.channels
    x = rows.reshape(-1, c, n)
    samples = x.size
    exact = accumulate(q, x).astype(np.float64)  # (S, C, N), exact integers
    xf, wf, off = x.astype(np.float64), q.weight.astype(np.float64), q.offset.astype(np.float64)

    def scipy_ref() -> np.ndarray:
        return (
            np.stack(
                [correlate1d(xf[:, k, :], wf[k], axis=-1, mode="wrap", origin=-(n // 2)) for k in range(c)], axis=1
            )
            + off
        )

    def fft_ref() -> np.ndarray:
        return np.fft.irfft(np.fft.rfft(xf, axis=-1) * np.conj(np.fft.rfft(wf, axis=-1)), n=n, axis=-1) + off

    entries: dict[str, tuple[str, Callable[[], object], Callable[[], np.ndarray] | None, list[str]]] = {}
    for engine, design in designs.items():
        name, kind, call = golden_model(design)
        if name in entries:
            entries[name][3].append(engine)
        else:
            entries[name] = (kind, partial(call, x), None, [engine])
    entries["scipy.ndimage.correlate1d(mode='wrap')"] = ("float64 reference", scipy_ref, scipy_ref, [])
    entries["numpy.fft rfft * conj(rfft(w)) -> irfft"] = ("float64 reference", fft_ref, fft_ref, [])
    out = []
    for name, (kind, fn, check, engines) in entries.items():
        seconds = best_time(fn, min_time)
        row: dict[str, Any] = {
            "model": name,
            "kind": kind,
            "engines": engines,
            "samples": samples,
            "seconds": seconds,
            "samples_per_s": samples / seconds,
        }
        if check is not None:
            row["max_abs_error_vs_exact_accumulator"] = float(np.max(np.abs(check() - exact)))
        out.append(row)
    refs = {"scipy": out[-2]["samples_per_s"], "numpy_fft": out[-1]["samples_per_s"]}
    for row in out:
        row["vs_scipy"] = row["samples_per_s"] / refs["scipy"]
        row["vs_numpy_fft"] = row["samples_per_s"] / refs["numpy_fft"]
    return out


# ---------------------------------------------------------------------------- 2. simulators


def bench_simulators(
    designs: dict, rows: np.ndarray, golden_rate: dict, cocotb_frames: int, tick: Callable[[str], None]
) -> list[dict]:
    from sim.batch import build_batch, run_batch
    from sim.run import SimOptions, simulate
    from sim.scenarios import expected_frames

    out = []
    for engine, design in designs.items():
        tick(f"batch build {engine}")
        build_batch(design)
        result = run_batch(design, rows)
        exact = bool(np.array_equal(result.output, expected_frames(design, rows)) and result.lasts_ok)
        out.append(
            {
                "design": label(engine, design),
                "engine": engine,
                "arch": design.spec.arch,
                "simulator": "Verilator, C++ batch driver (sim.batch)",
                "samples": int(rows.size),
                "seconds": result.wall_seconds,
                "samples_per_s": rows.size / result.wall_seconds,
                "bit_exact": exact,
                "vs_golden": rows.size / result.wall_seconds / golden_rate[engine],
            }
        )
        tick(f"cocotb {engine}")
        sim = simulate(
            design, SimOptions(frames=cocotb_frames, seed=SEED, backpressure=0, bubble=0, scenarios=("stream",))
        )
        seconds = max(sim.sim_seconds, 1e-3)
        out.append(
            {
                "design": label(engine, design),
                "engine": engine,
                "arch": design.spec.arch,
                "simulator": "Verilator, cocotb bench (sim.run, stream)",
                "samples": sim.samples,
                "seconds": seconds,
                "samples_per_s": sim.samples / seconds,
                "bit_exact": sim.ok,
                "vs_golden": sim.samples / seconds / golden_rate[engine],
            }
        )
    return out


def label(engine: str, design) -> str:
    """The design's name in the tables: the engine label; direct forms say their P."""
    p = getattr(design.engine, "parallel", None)
    if design.spec.arch == "direct":
        return f"direct P={p}" + (" (= N)" if p == design.layer.fmt.n else f" (folded, {design.engine.groups} groups)")
    return engine


# ---------------------------------------------------------------------------- 3. RTL cycles per sample


def bench_rtl(designs: dict, folded, rows: np.ndarray, tick: Callable[[str], None]) -> list[dict]:
    from sim.batch import run_batch
    from sim.scenarios import expected_frames

    out = []
    chosen = [("direct", designs["direct"]), ("direct", folded)] + [(e, d) for e, d in designs.items() if e != "direct"]
    for engine, design in chosen:
        expected = expected_frames(design, rows)
        row = {
            "design": label(engine, design),
            "engine": engine,
            "arch": design.spec.arch,
            "multipliers": getattr(design.engine, "parallel", None) if design.spec.arch == "direct" else None,
            "nominal_cycles_per_sample": float(design.engine.cycles_per_sample),
            "bit_exact": True,
        }
        for key, bp in (("no_backpressure", 0.0), ("backpressure", BACKPRESSURE)):
            tick(f"rtl {row['design']} bp={bp}")
            result = run_batch(design, rows, backpressure=bp, seed=SEED)
            row["bit_exact"] &= bool(np.array_equal(result.output, expected) and result.lasts_ok)
            limit = 1.0 / (1.0 - bp)
            row[key] = {
                "backpressure": bp,
                "cycles_per_sample": result.cycles_per_sample,
                "limit": limit,
                "x_limit": result.cycles_per_sample / limit,
            }
        out.append(row)
    return out


# ---------------------------------------------------------------------------- report


def g(v: float, digits: int = 3) -> str:
    """Compact number: 3 significant digits, thousands as k/M."""
    if v is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g}{suffix}"
    return f"{v:.{digits}g}"


def render(report: dict) -> str:
    m = report["meta"]
    out = [
        "# Benchmarks: golden models, simulators, RTL cycles per sample",
        "",
        f"`{m['command']}`: N = {m['n']}, bits = {m['bits']}, channels = {m['channels']} (seeded random weights, "
        f"the `scripts.synth` configuration), {m['frames']} frames ({m['samples']} samples) of "
        f"`sim.scenarios.stimulus_frames` data, cocotb {m['cocotb_frames']} frames. Wall-clock, best of repeats; "
        f"machine: {m['cpus']} CPUs, load average {m['load_average']} at the start (shared).",
        "",
        "## 1. Golden models vs float references (same data)",
        "",
        "| model | kind | samples/s | vs scipy correlate1d | vs numpy.fft | max abs error vs exact accumulator |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in report["models"]:
        err = r.get("max_abs_error_vs_exact_accumulator")
        out.append(
            f"| `{r['model']}` | {r['kind']} | {g(r['samples_per_s'])} | {r['vs_scipy']:.2g} | "
            f"{r['vs_numpy_fft']:.2g} | {'exact' if err is None else f'{err:.1e}'} |"
        )
    out += [
        "",
        "Ratios are model samples/s / reference samples/s (> 1: faster than the reference).",
        "",
        "## 2. Simulation speed",
        "",
        "| design | simulator | samples | samples/s | vs NumPy golden | bit-exact |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in report["simulators"]:
        out.append(
            f"| {r['design']} | {r['simulator']} | {r['samples']} | {g(r['samples_per_s'])} | "
            f"{r['vs_golden']:.2g} | {'yes' if r['bit_exact'] else 'NO'} |"
        )
    out += [
        "",
        "vs NumPy golden = simulator samples/s / integer golden model samples/s of the same engine "
        "(table 1). Build time excluded (cached); the cocotb figure includes simulator start-up.",
        "",
        "## 3. RTL cycles per output sample (Verilator batch, no input bubbles)",
        "",
        f"| design | nominal | no backpressure | x limit (1) | {BACKPRESSURE:.0%} backpressure | "
        f"x limit ({1 / (1 - BACKPRESSURE):g}) | bit-exact |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["rtl"]:
        a, b = r["no_backpressure"], r["backpressure"]
        out.append(
            f"| {r['design']} | {r['nominal_cycles_per_sample']:.3g} | {a['cycles_per_sample']:.3f} | "
            f"{a['x_limit']:.2f} | {b['cycles_per_sample']:.3f} | {b['x_limit']:.2f} | "
            f"{'yes' if r['bit_exact'] else 'NO'} |"
        )
    out += [
        "",
        "Limit: one sample per clock for a single stream; with the sink ready only half the cycles at "
        "random, at best 2 cycles per sample. nominal = the engine's `cycles_per_sample` (manifest).",
        f"Largest gap to a limit: {report['largest_gap']['text']}.",
        "",
        f"Run time: {m['run_seconds']:.0f} s.",
        "",
    ]
    return "\n".join(out)


def run_bench(options: BenchOptions, command: str = "scripts.bench.run_bench") -> BenchResult:
    """Measure the three tables on one seeded data set; ``command`` is recorded in meta."""
    from tqdm import tqdm

    from hw.design import build_design
    from sim.scenarios import stimulus_frames

    start = time.monotonic()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    designs = {
        a: build_design(
            VARIANTS[a].spec(n=options.n, bits=options.bits, channels=CHANNELS, weights="random", seed=SEED)
        )
        for a in options.archs
    }
    folded = build_design(
        VARIANTS["direct"].spec(
            n=options.n,
            bits=options.bits,
            channels=CHANNELS,
            weights="random",
            seed=SEED,
            parallel=max(1, math.ceil(options.n / 4)),
        )
    )
    rows = stimulus_frames(designs["direct"], options.frames, np.random.default_rng(SEED))

    steps = 1 + 2 * len(designs) + 2 * (len(designs) + 1)
    bar = tqdm(total=steps, desc="bench", unit="step", disable=not options.progress, file=sys.stderr)
    started = [False]

    def tick(text: str) -> None:
        """Start the step ``text`` (the previous step, if any, is done)."""
        if started[0]:
            bar.update(1)
        started[0] = True
        bar.set_postfix_str(text, refresh=True)

    tick("models")
    models = bench_models(designs, rows, options.min_time)
    golden_rate = {engine: r["samples_per_s"] for r in models for engine in r["engines"]}
    simulators = bench_simulators(designs, rows, golden_rate, options.cocotb_frames, tick)
    rtl = bench_rtl(designs, folded, rows, tick)
    bar.update(1)
    bar.close()

    worst = max(
        ((r["design"], k, r[k]) for r in rtl for k in ("no_backpressure", "backpressure")),
        key=lambda t: t[2]["x_limit"],
    )
    design_name, _, gap = worst
    condition = "no backpressure" if gap["backpressure"] == 0 else f"{gap['backpressure']:.0%} backpressure"
    gap_text = (
        f"{design_name}, {condition}: {gap['cycles_per_sample']:.3f} cycles/sample = "
        f"{gap['x_limit']:.2f} x the limit of {gap['limit']:g}"
    )
    return BenchResult(
        {
            "meta": {
                "command": command,
                "n": options.n,
                "bits": options.bits,
                "engines": {a: VARIANTS[a].to_dict() for a in options.archs},
                "channels": CHANNELS,
                "seed": SEED,
                "frames": options.frames,
                "samples": int(rows.size),
                "cocotb_frames": options.cocotb_frames,
                "min_time_s": options.min_time,
                "backpressure": BACKPRESSURE,
                "cpus": os.cpu_count(),
                "load_average": round(load, 2),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "run_seconds": round(time.monotonic() - start, 1),
            },
            "models": models,
            "simulators": simulators,
            "rtl": rtl,
            "largest_gap": {
                "design": worst[0],
                "backpressure": worst[2]["backpressure"],
                "cycles_per_sample": worst[2]["cycles_per_sample"],
                "x_limit": worst[2]["x_limit"],
                "text": gap_text,
            },
        }
    )


def bench_folder(out: str | os.PathLike) -> OutputFolder:
    """``out`` checked against the never-destroy rule (`golden.files`); check it before benchmarking."""
    return OutputFolder(out, tool="scripts.bench", option="--out", expect=BENCH_FILES)


def write_bench(result: BenchResult, out: str | os.PathLike) -> list[Path]:
    """bench.json and bench.md, staged, then published with the folder's manifest.json."""
    return publish(
        bench_folder(out),
        {
            "bench.json": lambda path: path.write_text(json.dumps(result.report, indent=1) + "\n"),
            "bench.md": lambda path: path.write_text(result.markdown()),
        },
    )


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    quick = BenchOptions.quick() if args.quick else BenchOptions()
    options = BenchOptions(
        n=quick.n if args.n is None else args.n,
        bits=args.bits,
        frames=quick.frames if args.frames is None else args.frames,
        cocotb_frames=quick.cocotb_frames if args.cocotb_frames is None else args.cocotb_frames,
        min_time=quick.min_time if args.min_time is None else args.min_time,
        progress=not args.no_progress,
        archs=parse_variants(args.arch),
    )
    bench_folder(args.out)  # refuse a foreign --out before benchmarking
    result = run_bench(
        options, command=" ".join(["python -m scripts.bench", *(sys.argv[1:] if argv is None else argv)])
    )
    write_bench(result, args.out)
    print(result.markdown())
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m scripts.bench", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
