"""`scripts.report --quick`: every file is written and RTL equals the golden model everywhere."""
from __future__ import annotations

import json
from pathlib import Path

from scripts.report import main


def test_quick_report_writes_every_file_and_rtl_matches_golden(tmp_path: Path) -> None:
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    for name in ("report.md", "report.html", "report.json", "sqnr_vs_bits.png", "error_histogram.png", "accuracy_vs_bits.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    report = json.loads((tmp_path / "report.json").read_text())
    layers = report["layer_level"]
    assert {r["arch"] for r in layers} == {"direct", "fft"}
    assert all(r["rtl_match_pct"] == 100.0 and r["samples"] > 0 for r in layers)
    net = report["network_level"]
    assert len(net["layers"]) == 6 and net["images"] >= 40
    for row in net["rows"]:
        assert row["rtl_mismatches"] == 0 and row["rtl_samples"] > 0
        assert row["acc_rtl"] == row["acc_fixed"]  # the RTL is the golden model, so the network agrees
        assert abs(row["acc_fixed"] - net["acc_float"]) <= 0.05
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "RTL == golden %" in html
    assert "| RTL == golden % |" in (tmp_path / "report.md").read_text()
