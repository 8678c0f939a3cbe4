"""The code passes its own tooling: ``ruff check``, ``ruff format --check`` and ``mypy``.

Each runs as ``python -m TOOL`` from the repository root, so it reads the configuration in
pyproject.toml ([tool.ruff], [tool.mypy]) exactly as a developer's shell would. A failure
shows the tool's report; ``ruff format`` and ``ruff check --fix`` repair most of it.
mypy keeps its cache in .mypy_cache/: the first run (every CI run) type-checks numpy and our
code, about a minute; torch, dask and matplotlib are not followed ([tool.mypy]).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TOOLS = {
    "ruff-check": ["ruff", "check", "--no-fix", "."],
    "ruff-format": ["ruff", "format", "--check", "."],
    "mypy": ["mypy"],  # files and options from [tool.mypy]
}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=[pytest.mark.slow] if name == "mypy" else []) for name in TOOLS]
)
def test_tool_reports_nothing(name: str) -> None:
    args = TOOLS[name]
    try:
        result = subprocess.run(
            [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(args)} did not finish within 600 s")
    report = (result.stdout + result.stderr).strip()
    if "No module named" in result.stderr and result.returncode != 0:
        pytest.fail(f"{args[0]} is not installed; it is in the dev extra: pip install -e '.[dev]'\n{report}")
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} reported problems (exit {result.returncode}):\n{report}", pytrace=False)
