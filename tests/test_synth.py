"""`scripts.synth`: the report at a tiny size (direct, N=7, 8 bits) through the library API
(`synthesize`, `write_synth`), its cache, its floors and harness; the CLI's own errors."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from hw.design import DesignSpec, build_design
from scripts import synth
from scripts import yosys_flow as flow

TINY = synth.SynthOptions(archs=("direct",), ns=(7,), bits=(8,), progress=False)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """A fresh tool cache for this module, so the flows really run once."""
    return tmp_path_factory.mktemp("synth_cache")


@pytest.fixture(scope="module")
def report(tmp_path_factory, cache_dir) -> Path:
    out = tmp_path_factory.mktemp("synth_out")
    result = synth.synthesize(replace(TINY, pnr=False, cache=cache_dir))
    assert result.failed == [], result.failed
    assert synth.write_synth(result, out) == [out / name for name in synth.SYNTH_FILES]
    return out


def table_rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header_start))
    rows = []
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return rows


def test_floor_is_2n_minus_divisors() -> None:
    assert [synth.floor_multiplies(n) for n in (56, 28, 14, 7)] == [104, 50, 24, 12]
    assert [round(synth.floor_multiplies(n) / n, 2) for n in (56, 28, 14, 7)] == [1.86, 1.79, 1.71, 1.71]


def test_report_files_hold_positive_counts_and_the_floor(report: Path) -> None:
    data = json.loads((report / "synth.json").read_text())
    assert data["meta"]["channels"] == 4 and "random" in data["meta"]["weights"]
    (row,) = data["rows"]
    assert (row["arch"], row["n"], row["bits"]) == ("direct", 7, 8)
    for target in ("ecp5", "xc7"):
        assert row[target]["status"] == "ok"
        assert row[target]["lut"] > 0 and row[target]["ff"] > 0 and row[target]["dsp"] > 0
    assert row["ecp5"]["rtl_mul"] == 7  # P = N = 7 multipliers
    assert row["rate"]["bit_exact"] and row["samples_per_clock"] == pytest.approx(1.0, abs=0.01)
    assert row["mult_cycles_per_sample"] == pytest.approx(7.0, rel=0.01)
    assert row["floor_per_sample"] == pytest.approx(12 / 7, abs=1e-3)
    assert row["pnr"]["status"] == "skipped" and row["fmax_mhz"] is None

    md = (report / "synth.md").read_text()
    assert "channels = 4" in md and "floor (2N-d(N))/N" in md
    (res,) = table_rows(md, "| arch | N | bits | P | ECP5 LUT4")
    assert all(int(v) > 0 for v in res[4:7] + res[8:11])  # LUT, FF, DSP on both targets
    (perf,) = table_rows(md, "| arch | N | bits | Fmax")
    assert perf[9] == "1.71" and perf[10] == "7" and float(perf[8]) == pytest.approx(7.0)
    png = (report / "synth.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_rerun_comes_from_the_cache(report: Path, cache_dir: Path) -> None:
    data = synth.synthesize(replace(TINY, pnr=False, cache=cache_dir)).data
    assert data["meta"]["cached_stages"] == data["meta"]["stages"] == 3
    first = json.loads((report / "synth.json").read_text())["rows"][0]
    assert data["rows"][0]["ecp5"]["cells"] == first["ecp5"]["cells"]


@pytest.mark.slow
def test_place_and_route_gives_fmax_and_samples_per_second(report: Path, cache_dir: Path, tmp_path: Path) -> None:
    result = synth.synthesize(replace(TINY, cache=cache_dir))
    synth.write_synth(result, tmp_path)
    row = result.rows[0]
    assert row["pnr"]["status"] == "ok" and not row["pnr"]["cached"]
    assert row["ecp5"]["cached"] and row["xc7"]["cached"]  # only the new stage ran
    assert 10 < row["fmax_mhz"] < 1000
    assert row["msamples_per_s"] == pytest.approx(row["fmax_mhz"] * row["samples_per_clock"], rel=0.01)
    assert row["pnr"]["utilization"]["MULT18X18D"] == row["ecp5"]["dsp"]
    (perf,) = table_rows((tmp_path / "synth.md").read_text(), "| arch | N | bits | Fmax")
    assert float(perf[3]) > 0 and float(perf[6]) > 0


def test_harness_registers_every_port_but_the_clock() -> None:
    design = build_design(DesignSpec(n=7, bits=8, channels=2, weights="random"))
    verilog = design.verilog()
    top = design.spec.top_name
    ports = flow.top_ports(verilog, top)
    names = {name for _, _, name in ports}
    assert {"clk", "rst", "s_axis_tdata", "m_axis_tdata", "m_axis_tready", "saturations"} <= names
    text = flow.harness_verilog(verilog, top)
    harness = text[text.index(f"module {flow.HARNESS_TOP}") :]
    for _, _, name in ports:
        if name != "clk":
            assert re.search(rf"always @\(posedge clk\) r_{name} <= [pw]_{name};", harness), name
    assert flow.harness_register_bits(verilog, top) == sum(w for _, w, n in ports if n != "clk")


def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path: Path) -> None:
    assert synth.main(["--arch", "nope", "--out", str(tmp_path)]) == 2
    assert synth.main(["--n", "7,x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(ln.startswith("python -m scripts.synth: error:") for ln in err)
    assert not (tmp_path / "synth.md").exists()


def test_options_are_checked_when_made() -> None:
    from golden.cli import UserError

    assert synth.SynthOptions().archs == tuple(synth.arch_order())  # () means every architecture
    with pytest.raises(UserError, match="unknown arch"):
        synth.SynthOptions(archs=("nope",))
    with pytest.raises(UserError, match="--jobs"):
        synth.SynthOptions(jobs=0)
    with pytest.raises(ValueError, match="bits must be"):
        synth.SynthOptions(ns=(7,), bits=(3,))


def test_timeout_is_recorded_not_raised(tmp_path: Path) -> None:
    design = build_design(DesignSpec(n=7, bits=8, channels=4, weights="random"))
    result = flow.synth_counts(design.verilog(), design.spec.top_name, "xc7", timeout=0.5)
    assert result["status"] == "timeout" and result["timeout"] == 0.5
