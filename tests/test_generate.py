"""`python -m hw.generate`: Verilog, manifest contract, lint, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.bundle import load_bundle
from hw.generate import main

MANIFEST_KEYS = {
    "top",
    "verilog",
    "arch",
    "n",
    "bits",
    "channels",
    "parallel",
    "latency_cycles",
    "input_format",
    "output_format",
    "rounding",
    "saturate",
    "weights",
}
AXI_PORTS = [
    "clk",
    "rst",
    "s_axis_tdata",
    "s_axis_tvalid",
    "s_axis_tready",
    "s_axis_tlast",
    "m_axis_tdata",
    "m_axis_tvalid",
    "m_axis_tready",
    "m_axis_tlast",
]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hw.generate", *args], capture_output=True, text=True)


def test_quick_start_command_emits_lint_clean_verilog_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = run_cli("--n=56", "--bits=8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_KEYS <= manifest.keys()
    assert manifest["n"] == 56 and manifest["bits"] == 8 and manifest["arch"] == "direct"
    assert manifest["input_format"]["bits"] == 8 and manifest["output_format"]["bits"] == 8
    assert manifest["lint"].startswith("verilator --lint-only -Wall")
    verilog = (out / manifest["verilog"]).read_text()
    header = verilog[verilog.index(f"module {manifest['top']}(") :].split(";", 1)[0]
    for port in AXI_PORTS:
        assert port in header
    assert len(manifest["weights"]["sha256"]) == 64


@pytest.mark.parametrize("channels,parallel", [(3, None), (5, 4), (1, 1)])
def test_generated_verilog_is_lint_clean_for_odd_shapes(tmp_path: Path, channels: int, parallel: int | None) -> None:
    argv = [
        "--n",
        "14",
        "--bits",
        "12",
        "--channels",
        str(channels),
        "--weights",
        "random",
        "--out",
        str(tmp_path / "g"),
    ]
    if parallel:
        argv += ["--parallel", str(parallel)]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest["channels"] == channels
    assert manifest["cycles_per_sample"] == -(-14 // (parallel or 14))


def test_float_npz_weights_are_quantized_and_recorded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "w.npz"
    np.savez(path, weight=rng.normal(0, 0.1, (3, 28)), bias=rng.normal(size=3), pe=rng.normal(0, 0.1, (3, 28)))
    assert main(["--n", "28", "--weights", str(path), "--out", str(tmp_path / "g"), "--no-lint"]) == 0
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest["channels"] == 3
    assert manifest["weights"]["sha256"] == load_bundle(path).sha256
    assert len(manifest["weight_frac"]) == 3


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--n", "1"], "N must be"),
        (["--n", "8", "--bits", "3"], "bits must be"),
        (["--n", "8", "--bits", "40"], "bits must be"),
        (["--n", "8", "--weights", "random", "--parallel", "9"], "parallel"),
        (["--n", "8", "--arch", "systolic"], "unknown arch"),
        (["--n", "8", "--channels", "0"], "channels"),
        (["--n", "8", "--weights", "/nonexistent.npz"], "not found"),
        (["--n", "8", "--name", "bad name"], "identifier"),
    ],
)
def test_bad_options_are_one_line_exit_2_and_write_nothing(tmp_path: Path, argv: list[str], message: str) -> None:
    out = tmp_path / "g"
    result = run_cli(*argv, "--out", str(out))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_weight_file_problems_are_reported(tmp_path: Path) -> None:
    cases: dict[str, tuple[dict[str, np.ndarray], str]] = {
        "wrong_n.npz": (dict(weight=np.ones((2, 7))), "N=7"),
        "no_weight.npz": (dict(bias=np.ones(2)), "no 'weight'"),
        "nan.npz": (dict(weight=np.full((2, 8), np.nan)), "NaN"),
        "bad_pe.npz": (dict(weight=np.ones((2, 8)), pe=np.ones((3, 8))), "pe"),
        "bad_bias.npz": (dict(weight=np.ones((2, 8)), bias=np.ones(5)), "bias"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, allow_pickle=False, **arrays)
        result = run_cli("--n", "8", "--weights", str(tmp_path / name), "--out", str(tmp_path / "g"))
        assert result.returncode == 2 and message in result.stderr, (name, result.stderr)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    result = run_cli("--n", "8", "--weights", str(tmp_path / "junk.npz"), "--out", str(tmp_path / "g"))
    assert result.returncode == 2 and "not a readable" in result.stderr
    result = run_cli(
        "--n", "8", "--channels", "3", "--weights", str(tmp_path / "bad_bias.npz"), "--out", str(tmp_path / "g")
    )
    assert result.returncode == 2


def test_regenerating_replaces_only_our_files(tmp_path: Path) -> None:
    out = tmp_path / "g"
    assert main(["--n", "7", "--channels", "2", "--weights", "random", "--out", str(out), "--no-lint"]) == 0
    (out / "stale.txt").write_text("old")  # the user's own file in our output folder
    assert (
        main(["--n", "7", "--channels", "2", "--weights", "random", "--bits", "12", "--out", str(out), "--no-lint"])
        == 0
    )
    assert (out / "stale.txt").read_text() == "old"
    assert not (out / "parc_direct_n7_b8.v").exists()  # our earlier output, no longer listed
    assert (out / "parc_direct_n7_b12.v").is_file()
    assert json.loads((out / "manifest.json").read_text())["bits"] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]


def test_manifest_records_weights_portably_with_one_fingerprint(tmp_path: Path) -> None:
    from hashlib import sha256

    from golden.bundle import weights_sha256

    rng = np.random.default_rng(1)
    path = tmp_path / "sub" / "w.npz"
    path.parent.mkdir()
    np.savez(path, weight=rng.normal(0, 0.1, (2, 14)))
    assert main(["--n", "14", "--weights", str(path), "--out", str(tmp_path / "g"), "--no-lint"]) == 0
    weights = json.loads((tmp_path / "g" / "manifest.json").read_text())["weights"]
    assert weights["source"] == "w.npz" and weights["channels_used"] == [0, 1]
    assert weights["sha256"] == weights_sha256(load_bundle(path).layer)  # the float arrays ...
    assert weights["file_sha256"] == sha256(path.read_bytes()).hexdigest()  # ... and the file
    assert main(["--n", "14", "--weights", "random", "--channels", "2", "--out", str(tmp_path / "r"), "--no-lint"]) == 0
    random = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert random["weights"]["sha256_of"] == weights["sha256_of"]  # one definition for every source
    assert {"tdata", "rom_layout"} <= random.keys() and random["tdata"]["byte_padded"] is False


def test_library_generate_returns_the_manifest_it_wrote(tmp_path: Path) -> None:
    """`generate(spec, out)` is what the CLI runs: a typed `Manifest` equal to manifest.json."""
    from golden.cli import UserError
    from hw.design import DesignSpec
    from hw.generate import Manifest, generate

    spec = DesignSpec(arch="fft", n=7, bits=8, channels=2, weights="random", seed=3, options={"fft_impl": "padded"})
    manifest = generate(spec, tmp_path / "g", lint=False)
    assert isinstance(manifest, Manifest) and manifest.path == tmp_path / "g"
    assert manifest.data == json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest.top == "parc_fft_n7_b8" and manifest.verilog == tmp_path / "g" / "parc_fft_n7_b8.v"
    assert manifest.verilog.read_text().count(f"module {manifest.top}(") == 1
    assert manifest.data["fft_impl"] == "padded"
    assert manifest.latency_cycles > 0 and manifest.cycles_per_sample == pytest.approx(16 / 7, rel=1e-3)
    native = generate(
        DesignSpec(arch="fft", n=7, bits=8, channels=2, weights="random", seed=3), tmp_path / "n", lint=False
    )
    assert native.data["fft_impl"] == "native" and native.cycles_per_sample == 1.0
    assert native.latency_cycles == sum(native.data["native_fft"]["latency_parts"].values())
    with pytest.raises(UserError, match="--fft-size applies to --arch fft only"):
        generate(DesignSpec(arch="direct", n=7, weights="random", options={"fft_size": 16}), tmp_path / "d", lint=False)
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------------------- --fft-impl


@pytest.mark.parametrize(
    "n,flag,impl",
    [
        (56, None, "native"),
        (56, "auto", "native"),
        (56, "padded", "padded"),
        (13, None, "padded"),
        (21, "native", "native"),
    ],
)
def test_fft_impl_picks_the_engine_and_the_manifest_says_which(
    tmp_path: Path, n: int, flag: str | None, impl: str
) -> None:
    argv = ["--n", str(n), "--arch", "fft", "--weights", "random", "--channels", "2", "--no-lint"]
    argv += ["--out", str(tmp_path / "g"), *([] if flag is None else ["--fft-impl", flag])]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest["fft_impl"] == impl
    assert ("native_fft" in manifest) == (impl == "native") and ("fft" in manifest) == (impl == "padded")
    if impl == "native":
        assert manifest["cycles_per_sample"] == 1.0
    else:
        assert manifest["cycles_per_sample"] == manifest["fft_size"] / n


def test_auto_builds_padded_where_the_native_plan_refuses_the_widths(tmp_path: Path, capsys) -> None:
    """20-bit data overflows the native engine's first pre-adds with its default guard bits:
    auto falls back to the padded engine (any width), --fft-impl native is one clear line."""
    argv = ["--n", "56", "--bits", "20", "--arch", "fft", "--weights", "random", "--channels", "2", "--no-lint"]
    assert main([*argv, "--out", str(tmp_path / "auto")]) == 0
    assert json.loads((tmp_path / "auto" / "manifest.json").read_text())["fft_impl"] == "padded"
    assert main([*argv, "--fft-impl", "native", "--out", str(tmp_path / "native")]) == 2
    assert "--fft-impl native" in capsys.readouterr().err
    assert not (tmp_path / "native").exists()


@pytest.mark.parametrize("n,channels", [(7, 3), (12, 2)])
def test_native_verilog_is_lint_clean(tmp_path: Path, n: int, channels: int) -> None:
    argv = ["--n", str(n), "--arch", "fft", "--fft-impl", "native", "--weights", "random"]
    assert main([*argv, "--channels", str(channels), "--out", str(tmp_path / "g")]) == 0
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["lint"].startswith("verilator --lint-only")


def test_direct_manifest_has_no_fft_impl(tmp_path: Path) -> None:
    assert main(["--n", "7", "--weights", "random", "--out", str(tmp_path / "g"), "--no-lint"]) == 0
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["fft_impl"] is None


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--n", "13", "--arch", "fft", "--fft-impl", "native"], ("--fft-impl native", "N=13", "--fft-impl padded")),
        (["--n", "7", "--arch", "fft", "--fft-impl", "bogus"], ("--fft-impl", "bogus", "native", "padded")),
        (["--n", "56", "--arch", "fft", "--fft-impl", "native", "--fft-size", "128"], ("--fft-size", "padded only")),
        (["--n", "56", "--arch", "fft", "--headroom-bits", "2"], ("--headroom-bits", "padded only")),  # auto: native
        (["--n", "7", "--fft-impl", "padded"], ("--fft-impl", "--arch fft only")),
        (["--n", "7", "--arch", "direct", "--fft-impl", "auto"], ("--fft-impl", "--arch fft only")),
    ],
)
@pytest.mark.parametrize("command", ["hw.generate", "sim.run"])
def test_fft_impl_mistakes_are_one_line_exit_2_in_both_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, argv: list[str], words: tuple[str, ...]
) -> None:
    """Both commands share the flag (`hw.generate.add_fft_arguments`) and refuse alike,
    sim.run before any simulator build."""
    import sim.run

    out = tmp_path / "g"
    args = [*argv, "--weights", "random"]
    try:
        code = main([*args, "--out", str(out)]) if command == "hw.generate" else sim.run.main(args)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code if isinstance(exc.code, int) else 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"python -m {command}: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists()


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


@pytest.mark.parametrize("impl,channels", [("native", 3), ("native", 2), ("padded", 3)])
def test_rom_spectrum_file_is_the_rom_the_manifest_describes(tmp_path: Path, impl: str, channels: int) -> None:
    """Decoding rom_spectrum.hex with nothing but manifest.json's rom_layout gives the
    engine's spectrum ROM, and that ROM is what the layout's meaning says it is."""
    from hw.design import DesignSpec, build_design
    from hw.generate import generate

    spec = DesignSpec(arch="fft", n=14, bits=8, channels=channels, weights="random", seed=2, options={"fft_impl": impl})
    data = generate(spec, tmp_path / "g", lint=False).data
    layout = data["rom_layout"]["rom_spectrum.hex"]
    lines = (tmp_path / "g" / "rom_spectrum.hex").read_text().splitlines()
    assert len(lines) == layout["rows"]
    words = [line.split(" ") for line in lines]
    assert {len(row) for row in words} == {layout["words_per_row"]}
    assert {len(w) for row in words for w in row} == {layout["hex_digits_per_word"]}
    engine = build_design(spec).engine
    flat = [int(w, 16) for row in words for w in row]
    assert flat == engine.spectrum_words()  # the rows in order are the ROM image
    plan = engine.plan
    w_q = engine.layer.weight.astype(np.float64)
    if impl == "native":
        sb, h = layout["bits_per_word"] // 3, 14 // 2 + 1
        assert layout["rows"] == 2 * ((channels + 1) // 2) and layout["words_per_row"] == 8
        fields = np.array(
            [
                [[_signed((int(w, 16) >> (sb * f)) & ((1 << sb) - 1), sb) for f in range(3)] for w in row]
                for row in words
            ]
        )
        c, cd, dc = fields[..., 0], fields[..., 1], fields[..., 2]
        assert (cd == c + (cd - c)).all() and (dc == (cd - c) - c).all()  # (c, c + d, d - c)
        d = cd - c
        assert not fields[:, h:].any() and not fields[channels:].any()  # padding bins, padding channel
        np.testing.assert_array_equal(c[:channels, :h], plan.spectrum_re)
        np.testing.assert_array_equal(d[:channels, :h], plan.spectrum_im)
        ideal = np.conj(np.fft.fft(w_q, axis=-1))[:, :h] / 14 * np.exp2(data["native_fft"]["spectrum_exp"])[:, None]
    else:
        sb, m = layout["bits_per_word"] // 2, data["fft_size"]
        assert layout["rows"] == channels and layout["words_per_row"] == m
        re = np.array([[_signed(int(w, 16) & ((1 << sb) - 1), sb) for w in row] for row in words])
        im = np.array([[_signed(int(w, 16) >> sb, sb) for w in row] for row in words])
        c, d = re, im
        bitrev = [int(f"{k:0{m.bit_length() - 1}b}"[::-1], 2) for k in range(m)]
        spectrum = np.conj(np.fft.fft(w_q, n=m, axis=-1))[:, bitrev]
        ideal = spectrum * np.exp2(data["fft"]["spectrum_exp"])[:, None]
        h = m
    assert np.abs(c[:channels, :h] - ideal.real).max() <= 0.5
    assert np.abs(d[:channels, :h] - ideal.imag).max() <= 0.5


def test_target_is_recorded_and_ecp5_ships_its_simulation_models(tmp_path: Path) -> None:
    """--target lands in the manifest; ecp5 Verilog instantiates the primitives, and the
    twins a simulator needs are written beside it, listed, and lint-clean with it."""
    out = tmp_path / "ecp5"
    assert main(["--n", "7", "--weights", "random", "--target", "ecp5", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"] == "ecp5"
    assert manifest["sim_files"] == ["MULT18X18D_sim.v", "DP16KD_sim.v"]
    assert set(manifest["sim_files"]) <= set(manifest["files"])
    assert manifest["lint"].startswith("verilator --lint-only -Wall")
    verilog = (out / manifest["verilog"]).read_text()
    assert "MULT18X18D #(" in verilog and "module MULT18X18D" not in verilog  # the twin stays apart
    assert "module MULT18X18D" in (out / "MULT18X18D_sim.v").read_text()
    generic = tmp_path / "generic"
    assert main(["--n", "7", "--weights", "random", "--out", str(generic), "--no-lint"]) == 0
    plain = json.loads((generic / "manifest.json").read_text())
    assert plain["target"] == "generic" and plain["sim_files"] == []
    assert "MULT18X18D" not in (generic / plain["verilog"]).read_text()
