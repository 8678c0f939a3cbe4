"""A stopped report leaves no tool running and no work folder behind (`scripts.yosys_flow`).

The tools run in sessions of their own, so a SIGTERM to the report would otherwise orphan a
nextpnr run of up to half an hour and its folder under /tmp.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import yosys_flow as flow

REPORT = """
import sys
from scripts import yosys_flow as flow
with flow.stop_tools_on_signal(), flow.work_folder("parc_stop_test_") as work:
    print(work, flush=True)
    flow.run_tool(["sh", "-c", "echo $$ > tool.pid; exec sleep 120"], work, 300, "tool.log")
"""


def _alive(pid: int) -> bool:
    """Running (a zombie left for a reaper that never comes counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(path: Path, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_kills_the_tool_and_removes_its_folder(signum: int) -> None:
    report = subprocess.Popen([sys.executable, "-c", REPORT], stdout=subprocess.PIPE, text=True)
    assert report.stdout is not None
    work = Path(report.stdout.readline().strip())
    tool = int(_wait_for(work / "tool.pid"))
    assert _alive(tool)
    report.send_signal(signum)
    assert report.wait(timeout=30) == 128 + signum
    deadline = time.monotonic() + 10
    while _alive(tool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(tool), "the tool outlived the report"
    assert not work.exists(), "the work folder outlived the report"


def test_handlers_come_back_after_the_report() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with flow.stop_tools_on_signal():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_finished_tool_leaves_nothing_registered() -> None:
    with flow.work_folder("parc_stop_test_") as work:
        flow.run_tool(["sh", "-c", "echo done"], work, 30, "tool.log")
        assert work.exists()
    assert not work.exists()
    assert not flow._live_groups and not flow._live_folders
