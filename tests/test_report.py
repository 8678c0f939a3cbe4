"""`scripts.report` at quick sizes (`ReportConfig.quick`, the library API): every file is
written and the RTL equals the golden model everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.report import Report, ReportConfig, run_report
from scripts.report_render import write_report


def test_quick_report_writes_every_file_and_rtl_matches_golden(tmp_path: Path) -> None:
    report = run_report(ReportConfig.quick())
    assert isinstance(report, Report) and report.ok, "RTL != golden model somewhere in the report"
    write_report(report.data, tmp_path)
    for name in (
        "report.md",
        "report.html",
        "report.json",
        "sqnr_vs_bits.png",
        "error_histogram.png",
        "accuracy_vs_bits.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    data = json.loads((tmp_path / "report.json").read_text())
    layers = data["layer_level"]
    assert {r["arch"] for r in layers} == {"direct", "fft"}
    for r in layers:
        assert r["rtl_match_pct"] == 100.0 and r["samples"] > 0, (
            f"{r['arch']} engine N={r['n']} {r['bits']} bit: RTL != golden"
        )
    net = data["network_level"]
    assert len(net["layers"]) == 6 and net["images"] >= 40
    for row in net["rows"]:
        name = f"{row['arch']} engine {row['bits']} bit in the network"
        assert row["rtl_mismatches"] == 0 and row["rtl_samples"] > 0, name
        assert row["acc_rtl"] == row["acc_fixed"], name  # the RTL is the golden model, so the network agrees
        assert abs(row["acc_fixed"] - net["acc_float"]) <= 0.05, name
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "RTL == golden %" in html
    assert "| RTL == golden % |" in (tmp_path / "report.md").read_text()
