"""`scripts.bench` at quick sizes (`BenchOptions.quick`, through the library API): every table
row and column present for every engine (direct, fft-native, fft-padded), positive, bit-exact
(no timing asserts); the engine choice; the CLI's own errors."""

from __future__ import annotations

import json

import pytest

from scripts import bench

ENGINES = ("direct", "fft-native", "fft-padded")  # every default engine exists at the quick N = 7


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[dict, str]:
    result = bench.run_bench(bench.BenchOptions.quick(progress=False))
    assert result.ok, "an RTL run in the benchmark was not bit-exact"
    out = tmp_path_factory.mktemp("bench")
    assert bench.write_bench(result, out) == [out / "bench.json", out / "bench.md"]
    assert (out / "bench.md").read_text() == result.markdown()
    return json.loads((out / "bench.json").read_text()), result.markdown()


def md_rows(md: str, header_start: str) -> list[list[str]]:
    lines = md.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header_start))
    header = lines[start]
    rows = []
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        assert len(cells) == header.count("|") - 1 and all(cells), ln
        rows.append(cells)
    return rows


def test_model_table_has_every_model_and_both_ratios(report) -> None:
    data, md = report
    names = [r["model"] for r in data["models"]]
    assert names[:3] == [
        "golden.direct.direct_model",
        "golden.native_fft.native_model",
        "golden.fast_parc_int.fast_parc_int_model",
    ]
    assert [r["engines"] for r in data["models"][:3]] == [[e] for e in ENGINES]
    assert any("scipy.ndimage.correlate1d" in n for n in names) and any("numpy.fft" in n for n in names)
    for r in data["models"]:
        assert r["samples_per_s"] > 0 and r["vs_scipy"] > 0 and r["vs_numpy_fft"] > 0
        if "reference" in r["kind"]:  # the references compute the same correlation
            assert r["max_abs_error_vs_exact_accumulator"] < 1e-6
    assert len(md_rows(md, "| model |")) == len(names)


def test_simulator_table_has_batch_and_cocotb_for_every_arch(report) -> None:
    data, md = report
    seen = {(r["engine"], r["simulator"].split(",")[1].split()[0]) for r in data["simulators"]}
    assert seen == {(a, s) for a in ENGINES for s in ("C++", "cocotb")}
    for r in data["simulators"]:
        assert r["samples"] > 0 and r["samples_per_s"] > 0 and r["vs_golden"] > 0 and r["bit_exact"]
    assert len(md_rows(md, "| design | simulator |")) == 2 * len(ENGINES)


def test_rtl_table_compares_with_the_one_sample_per_clock_limit(report) -> None:
    data, md = report
    n = data["meta"]["n"]
    designs = [r["design"] for r in data["rtl"]]
    assert designs[0] == f"direct P={n} (= N)" and designs[1].startswith("direct P=2 (folded")
    assert designs[2:] == ["fft-native", "fft-padded"]
    for r in data["rtl"]:
        assert r["bit_exact"]
        free, pressed = r["no_backpressure"], r["backpressure"]
        assert free["limit"] == 1 and pressed["limit"] == 2
        assert free["cycles_per_sample"] >= 0.999  # nothing beats one sample per clock
        assert pressed["cycles_per_sample"] > free["cycles_per_sample"] * 0.9 > 0
    direct = data["rtl"][0]["no_backpressure"]["cycles_per_sample"]
    folded = data["rtl"][1]["no_backpressure"]["cycles_per_sample"]
    assert direct == pytest.approx(1.0, abs=0.01) and folded == pytest.approx(4.0, abs=0.05)
    assert [r["nominal_cycles_per_sample"] for r in data["rtl"][2:]] == [1.0, 16 / 7]  # native; padded M=16
    assert len(md_rows(md, "| design | nominal |")) == len(designs)
    assert "Largest gap to a limit: direct P=2" in md


def test_bad_options_exit_2(capsys) -> None:
    assert bench.main(["--n", "1"]) == 2
    assert bench.main(["--frames", "0", "--quick"]) == 2
    assert bench.main(["--arch", "fft-native", "--n", "16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(ln.startswith("python -m scripts.bench: error:") for ln in err)
    assert "--n" in err[0] and "--frames" in err[1] and "fft-native" in err[2]


def test_options_are_checked_when_made() -> None:
    from golden.cli import UserError

    assert bench.BenchOptions.quick(frames=5).frames == 8  # whole groups of the 4 channels
    with pytest.raises(UserError, match="--min-time"):
        bench.BenchOptions(min_time=0)
    with pytest.raises(ValueError, match="bits must be"):
        bench.BenchOptions(bits=2)
    # engines: direct always (the reference); the defaults that exist for N; named ones must exist
    assert bench.BenchOptions().archs == ENGINES
    assert bench.BenchOptions(n=16).archs == ("direct", "fft-padded")
    assert bench.BenchOptions(archs=("fft-padded",)).archs == ("direct", "fft-padded")
    with pytest.raises(UserError, match="fft-native needs N"):
        bench.BenchOptions(n=16, archs=("fft-native",))
    with pytest.raises(UserError, match="unknown engine"):
        bench.BenchOptions(archs=("fast",))
