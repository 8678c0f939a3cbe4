"""docs/python-api.md runs: its ``python`` blocks are executed, in order, in one namespace.

Why: the page is the Amaranth user's entry point (build an engine, put it in their own
design, simulate it against the golden model, generate Verilog); an example that no longer
runs would teach the wrong API. The example checks itself (bit-exact output, measured
latency); this test also checks that those checks ran, so an edit that drops them fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def test_the_page_has_the_blocks_this_test_expects() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 4, "python-api.md lost its example blocks"
    assert any("Simulator(" in b for b in blocks) and any("generate(" in b for b in blocks)


def test_python_api_example_runs_and_is_bit_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes build/parc_n7 relative to the current folder
    namespace: dict = {"__name__": "python_api_example"}
    for number, block in enumerate(python_blocks(DOC.read_text()), 1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)  # our own page, trusted code
    assert namespace["bit_exact"] is True
    got, expected = namespace["got"], namespace["expected"]
    assert len(got) == expected.size == 2 * 2 * 7  # two frames for each of the two channels, N = 7
    assert namespace["latency_measured"] == namespace["engine"].latency
    manifest = namespace["manifest"]
    assert (tmp_path / "build" / "parc_n7" / manifest.data["fusesoc_core"]).is_file()
    assert manifest.data["lint"].startswith("verilator --lint-only -Wall")
