"""`scripts.report` at quick sizes (`ReportConfig.quick`, the library API): every file is
written, every engine (direct, fft-native, fft-padded) has its layer rows in both scale modes,
the direct engine its network rows (8 bits and W4A8), the precision grid its panels, and the
RTL equals the golden model everywhere.

The network level runs for the direct engine only: it builds 6 designs per engine and
precision, and the FFT engines' builds would double this test (the slowest of the suite); the
network code is the same for every engine, and the native engine ran it here until this
report gained its W4A8 rows (every engine's RTL is checked bit for bit by the engine tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden.cli import UserError
from scripts.report import Report, ReportConfig, parse_args, run_report
from scripts.report_render import write_report


def test_quick_report_writes_every_file_and_rtl_matches_golden(tmp_path: Path) -> None:
    report = run_report(ReportConfig.quick(network_archs=("direct",)))
    assert isinstance(report, Report) and report.ok, "RTL != golden model somewhere in the report"
    write_report(report.data, tmp_path)
    for name in (
        "report.md",
        "report.html",
        "report.json",
        "sqnr_vs_bits.png",
        "error_histogram.png",
        "accuracy_vs_bits.png",
        "precision_heatmap.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    data = json.loads((tmp_path / "report.json").read_text())
    layers = data["layer_level"]
    assert [(r["engine"], r["arch"], r["fft_impl"], r["scales"]) for r in layers] == [
        (engine, "direct" if engine == "direct" else "fft", impl, scales)
        for engine, impl in (("direct", None), ("fft-native", "native"), ("fft-padded", "padded"))
        for scales in ("default", "calibrated")
    ]
    for r in layers:
        assert r["rtl_match_pct"] == 100.0 and r["samples"] > 0, (
            f"{r['engine']} engine N={r['n']} {r['bits']} bit {r['scales']}: RTL != golden"
        )
        assert len(r["output_at_rail_per_channel"]) == len(r["input_saturated_per_channel"]) == r["channels"]
    sqnr = {(r["engine"], r["scales"]): r["sqnr_db"] for r in layers}
    for engine in ("direct", "fft-native", "fft-padded"):  # calibration gains (measured +8.8 dB at N=28)
        assert sqnr[engine, "calibrated"] >= sqnr[engine, "default"] + 3.0, engine
    net = data["network_level"]
    assert len(net["layers"]) == 6 and net["images"] >= 40
    assert [(r["engine"], r["fft_impl"], r["precision"]) for r in net["rows"]] == [
        ("direct", None, "W8A8"),
        ("direct", None, "W4A8"),
    ]
    for row in net["rows"]:
        name = f"{row['engine']} engine {row['precision']} in the network"
        assert row["rtl_mismatches"] == 0 and row["rtl_samples"] > 0, name
        assert row["acc_rtl"] == row["acc_fixed"], name  # the RTL is the golden model, so the network agrees
        assert abs(row["acc_fixed"] - net["acc_float"]) <= 0.05, name
    grid = data["precision_grid"]
    assert [p["scales"] for p in grid["panels"]] == ["default", "calibrated"]
    for panel in grid["panels"]:
        assert sorted((r["weight_bits"], r["data_bits"]) for r in panel["rows"]) == [(4, 6), (4, 8), (8, 6), (8, 8)]
        assert all(0.5 <= r["acc_fixed"] <= 1.0 for r in panel["rows"])
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "RTL == golden %" in html
    assert "<h2>Precision sweep</h2>" in html
    md = (tmp_path / "report.md").read_text()
    assert "| RTL == golden % |" in md and "| fft-native | stages.1.0.gcc_H | 28 | 8 | calibrated |" in md
    assert "## Precision sweep" in md and "| weight \\ data bits | 6 | 8 |" in md
    assert "**fft-padded** = `DesignSpec(arch='fft', options={'fft_impl': 'padded'})`" in md


def test_engines_are_checked_when_made() -> None:
    cfg = ReportConfig.quick()
    assert cfg.archs == cfg.network_engines == ("direct", "fft-native", "fft-padded")
    assert ReportConfig.quick(network_archs=("fft-native",)).network_engines == ("fft-native",)
    cfg, _ = parse_args(["--quick", "--arch", "fft", "--network-arch", "direct,fft-padded"])
    assert (cfg.archs, cfg.network_engines) == (("fft",), ("direct", "fft-padded"))
    with pytest.raises(UserError, match="unknown engine"):
        ReportConfig(archs=("fast",))
    with pytest.raises(UserError, match="--network-arch: unknown engine"):
        ReportConfig(network_archs=("fast",))
