"""Calibrated and folded scales (issue 15) through the generator and the RTL.

`golden.quant.quantize_layer` realises a real-valued output scale by folding a factor into
the float weights and bias, so the hardware needs nothing new: the same engine, other ROM
contents. These tests hold that claim end to end: `hw.generate` takes the options and records
them in the manifest, the RTL of a folded design is bit-exact against the integer golden model,
and the folded scales bring the dequantized RTL output closer to the float layer than the
power-of-two ones on the data they were calibrated for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from golden.quant import quantize_input
from hw.design import DesignSpec, build_design
from hw.generate import main as generate_main
from scripts.accuracy import sqnr_db
from sim.batch import run_batch
from sim.scenarios import expected_frames

N, C = 7, 4


def gaussian(path: Path, rows: int, seed: int) -> Path:
    """Float inputs (rows, C, N): Gaussian, sigma 0.5 (as a normalised activation) down to 0.1
    (a quiet channel, which a per-channel input scale serves better)."""
    sigma = np.linspace(0.5, 0.1, C)[:, None]
    np.save(path, np.random.default_rng(seed).normal(0.0, 1.0, (rows, C, N)) * sigma)
    return path


def test_generate_records_the_scales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    calib = gaussian(tmp_path / "calib.npy", 256, 0)
    out = tmp_path / "out"
    argv = ["--n", str(N), "--weights", "random", "--no-lint", "--out", str(out), "--calibration", str(calib)]
    assert (
        generate_main([*argv, "--calibration-rule", "mse", "--out-scale", "per-channel", "--in-scale", "per-channel"])
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    scales = manifest["scales"]
    assert scales["in_scale"] == "per-channel" and len(scales["input_lsb"]) == C
    assert scales["input_lsb"][-1] < scales["input_lsb"][0] / 3  # the quiet channel's finer input LSB
    assert scales["calibration"] == "file calib.npy"
    assert scales["pe_offset"] == "exact" and "float PE" in manifest["pe_handling"]  # auto: exact when folded
    assert (scales["calibration_rule"], scales["out_scale"]) == ("mse", "per-channel")
    lsb = np.array(scales["output_lsb"])
    assert lsb.shape == (C,) and np.all(lsb > 0)
    assert not np.all(np.log2(lsb) == np.round(np.log2(lsb))), "per-channel scales should not all be powers of two"

    default = tmp_path / "default"
    assert generate_main(["--n", str(N), "--weights", "random", "--no-lint", "--out", str(default)]) == 0
    record = json.loads((default / "manifest.json").read_text())
    assert record["scales"] == {
        "calibration": None,
        "calibration_rule": "max",
        "out_scale": "pow2",
        "pe_offset": "quantized",
        "output_lsb": [2.0 ** -record["output_format"]["frac"]] * C,
    }


@pytest.mark.parametrize("arch", ["fft"])  # the native engine at N = 7; direct shares the ROM folding
def test_folded_scales_are_bit_exact_in_rtl_and_closer_to_float(
    arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    calib = gaussian(tmp_path / "calib.npy", 512, 1)
    test_inputs = np.load(gaussian(tmp_path / "test.npy", 64, 2))  # same distribution, other samples
    results = {}
    for scales in ("pow2", "per-channel"):  # output and input scales
        spec = DesignSpec(
            arch=arch,
            n=N,
            weights="random",
            calibration=str(calib),
            calibration_rule="mse",
            out_scale=scales,
            in_scale=scales,
        )
        design = build_design(spec)
        x_int, _ = quantize_input(design.layer, test_inputs)
        rows = x_int.reshape(-1, N)
        if scales == "per-channel":  # the folded ROMs through the RTL, every sample
            rtl = run_batch(design, rows, bubble=0.2, backpressure=0.3, seed=3)
            np.testing.assert_array_equal(rtl.output, expected_frames(design, rows))
            assert rtl.lasts_ok
            y_int = rtl.output
        else:
            y_int = expected_frames(design, rows)
        reference = design.float_layer.forward(test_inputs)  # the float truth on the float inputs
        results[scales] = sqnr_db(reference, design.layer.dequantize_output(y_int.reshape(-1, C, N)))
    assert results["per-channel"] > results["pow2"] + 1.0, results


def test_config_file_sets_options_and_the_command_line_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--config design.toml`: the keys are the long option names; a command-line option wins."""
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    config = tmp_path / "design.toml"
    config.write_text(
        f'n = {N}\nweights = "random"\nbits = 8\nweight-bits = 4\nout_scale = "per-channel"\nno-lint = true\n'
        f'out = "{(tmp_path / "a").as_posix()}"\n'
    )
    assert generate_main(["--config", str(config)]) == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert (manifest["top"], manifest["weight_bits"], manifest["input_format"]["bits"]) == (
        "parc_direct_n7_b8_w4",
        4,
        8,
    )
    assert manifest["scales"]["out_scale"] == "per-channel"
    assert generate_main(["--config", str(config), "--weight-bits", "6", "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert (manifest["top"], manifest["weight_bits"]) == ("parc_direct_n7_b8_w6", 6)
    assert not (tmp_path / "a" / "parc_direct_n7_b8_w6.v").exists()


def test_pinned_fracs_are_the_stream_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--data-frac`/`--out-frac` pin the stream formats (the previous layer's output frac, say);
    `auto` is the default choice; the TOML config takes them too."""
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    argv = ["--n", str(N), "--weights", "random", "--no-lint"]
    assert generate_main([*argv, "--data-frac", "6", "--out-frac", "2", "--out", str(tmp_path / "a")]) == 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert (manifest["input_format"]["frac"], manifest["output_format"]["frac"]) == (6, 2)
    auto = build_design(DesignSpec(n=N, weights="random"))
    assert build_design(DesignSpec(n=N, weights="random", data_frac=None)).verilog() == auto.verilog()
    config = tmp_path / "design.toml"
    config.write_text(f'n = {N}\nweights = "random"\ndata-frac = "auto"\nout-frac = 3\nno-lint = true\n')
    assert generate_main(["--config", str(config), "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["input_format"]["frac"] == auto.layer.fmt.data.frac and manifest["output_format"]["frac"] == 3
