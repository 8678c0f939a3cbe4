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

from golden.mixer import from_hwc_stream, to_hwc_stream
from hw.design import Design
from hw.lint import setup_verilator_env, waiver_text
from hw.mixer_design import MixerDesign
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


def build_batch(design: Design | MixerDesign) -> Path:
    """Compile (or reuse) the batch simulator for this exact Verilog."""
    env = setup_verilator_env(dict(os.environ))
    top = design.top_name
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
    lasts = np.zeros(rows.shape, dtype=np.int32)
    lasts[:, -1] = 1
    fmt = design.layer.fmt
    return _run(design, rows, lasts, (fmt.data.bits, fmt.output.bits), bubble, backpressure, seed)


def run_batch_maps(
    design: MixerDesign, maps: NDArray[np.int64], *, bubble: float = 0.0, backpressure: float = 0.0, seed: int = 0
) -> BatchResult:
    """Stream integer maps (B, C, H, W) through a token mixer's RTL in HWC raster order
    (`golden.mixer.to_hwc_stream`), ``tlast`` on each map's last element; ``output`` is the
    output maps (B, C, H, W), ``lasts_ok`` says ``tlast`` came exactly on each map's end."""
    qm = design.mixer
    maps = np.asarray(maps, dtype=np.int64)
    if maps.ndim != 4 or maps.shape[1:] != qm.shape:
        raise ValueError(f"maps must be (B, {', '.join(map(str, qm.shape))}); got {maps.shape}")
    stream = to_hwc_stream(maps).reshape(len(maps), -1)
    lasts = np.zeros(stream.shape, dtype=np.int32)
    lasts[:, -1] = 1
    idle = 2 * design.engine.latency + 4096  # silent this long after the input: a hang
    result = _run(design, stream, lasts, (qm.data.bits, qm.output.bits), bubble, backpressure, seed, idle)
    result.output = from_hwc_stream(result.output, *qm.shape)
    return result


def _run(
    design: Design | MixerDesign,
    beats: NDArray[np.int64],
    lasts: NDArray[np.int32],
    bits: tuple[int, int],
    bubble: float,
    backpressure: float,
    seed: int,
    idle_limit: int | None = None,
) -> BatchResult:
    """Beats (F, L) with their ``tlast`` flags through the RTL; outputs (F, L) in order."""
    exe = build_batch(design)
    with tempfile.TemporaryDirectory(prefix="parc_batch_") as tmp:
        src, dst = Path(tmp, "in.bin"), Path(tmp, "out.bin")
        np.stack([beats.reshape(-1).astype(np.int32), lasts.reshape(-1)], axis=1).astype("<i4").tofile(src)
        expected = beats.size
        max_cycles = expected * 64 + 100_000 + 2 * (idle_limit or 0)
        start = time.monotonic()
        arguments = [str(exe), str(src), str(dst), str(bits[0]), str(bits[1]), str(bubble), str(backpressure)]
        arguments += [str(seed), str(max_cycles), str(expected)]
        if idle_limit is not None:
            arguments.append(str(idle_limit))
        proc = subprocess.run(arguments, capture_output=True, text=True)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            raise RuntimeError(f"batch simulation failed: {proc.stderr.strip()}")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        out = np.fromfile(dst, dtype="<i4").reshape(-1, 2)
    if len(out) != expected:
        raise RuntimeError(f"RTL produced {len(out)} output samples, expected {expected}")
    data = out[:, 0].astype(np.int64).reshape(beats.shape)
    lasts_ok = bool(np.array_equal(out[:, 1].reshape(beats.shape), lasts))
    span = stats["last_output_cycle"] - stats["first_output_cycle"]
    return BatchResult(data, lasts_ok, stats["cycles"], stats["outputs"], span / max(stats["outputs"] - 1, 1), wall)
