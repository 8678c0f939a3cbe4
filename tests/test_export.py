"""golden.export: the CLI, the bundle it writes, its errors, and the shipped N=56/N=28 bundles."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden.bundle import default_bundle_path, file_sha256, load_bundle
from golden.export import main as export_main
from golden.weights import load_layer

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights" / "parc" / "model.pt"
MAX_BUNDLE_BYTES = 1.5 * 1024 * 1024


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "golden.export", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_cli_writes_a_loadable_bundle(tmp_path):
    out = tmp_path / "b.npz"
    res = run(
        "--weights",
        str(WEIGHTS),
        "--layer",
        "stages.1.0.gcc_W",
        "--bits",
        "10",
        "--out",
        str(out),
        "--calib-images",
        "20",
        "--test-images",
        "10",
        "--rows",
        "50",
    )
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size < MAX_BUNDLE_BYTES
    bundle = load_bundle(out)
    layer = load_layer(WEIGHTS, "stages.1.0.gcc_W")
    np.testing.assert_array_equal(bundle.layer.weight, layer.weight)
    np.testing.assert_array_equal(bundle.layer.pe, layer.pe)
    np.testing.assert_array_equal(bundle.layer.bias, layer.bias)
    assert bundle.layer.name == "stages.1.0.gcc_W"
    assert bundle.calibration is not None and bundle.test is not None
    assert bundle.calibration.shape == (50, 16, 28) and bundle.test.shape == (50, 16, 28)
    meta = bundle.meta
    assert (meta["layer"], meta["direction"], meta["n"], meta["channels"], meta["bits"]) == (
        "stages.1.0.gcc_W",
        "W",
        28,
        16,
        10,
    )
    assert meta["source_sha256"] == file_sha256(WEIGHTS)
    assert len(meta["images"]["calibration"]["dataset_index"]) == 20 and meta["images"]["test"]["split"] == "test"
    assert meta["quantized"]["format"]["data"]["bits"] == 10
    # the stored integers are what re-quantizing the bundle gives
    q = bundle.quantize(10)
    with np.load(out) as f:
        np.testing.assert_array_equal(f["weight_q"], q.weight)
        np.testing.assert_array_equal(f["offset_q"], q.offset)


def test_activations_are_the_layer_inputs(tmp_path):
    """Rows of the bundle are real inputs: the float layer on them equals torch's layer output."""
    import torch

    from golden import parc_net as pn

    out = tmp_path / "h.npz"
    assert (
        export_main(
            [
                "--weights",
                str(WEIGHTS),
                "--layer",
                "stages.0.0.gcc_H",
                "--out",
                str(out),
                "--calib-images",
                "4",
                "--test-images",
                "4",
            ]
        )
        == 0
    )
    bundle = load_bundle(out)
    model = pn.load_model(WEIGHTS)
    module = pn.parc_layers(model)["stages.0.0.gcc_H"]
    rows = bundle.test  # (S, C, N) lines down the columns: feed them as (S, C, N, 1) maps
    assert rows is not None
    with torch.no_grad():
        y_torch = module(torch.from_numpy(rows[..., None]).float()).numpy()[..., 0]
    np.testing.assert_allclose(bundle.layer.forward(rows), y_torch, atol=1e-4)
    assert np.abs(rows).max() > 0.1  # not an all-zero background


def test_bad_layer_name_exits_2_and_lists_names(tmp_path):
    res = run("--weights", str(WEIGHTS), "--layer", "stages.0.0.gcc_X", "--out", str(tmp_path / "x.npz"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "stages.0.0.gcc_X" in lines[0] and "stages.0.0.gcc_H" in lines[0] and "stages.1.0.gcc_W" in lines[0]
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--weights", "{tmp}/nope.pt", "--layer", "a"], "weight file not found"),
        (["--weights", str(WEIGHTS), "--layer", "stages.0.0.gcc_H", "--bits", "99"], "bits must be in"),
        (["--weights", str(WEIGHTS), "--layer", "stages.0.0.gcc_H", "--n", "32"], "--no-activations"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert export_main([*args, "--out", str(tmp_path / "e.npz")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "e.npz").exists()


def test_cli_usage_error_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        export_main(
            [
                "--weights",
                str(WEIGHTS),
                "--layer",
                "stages.0.0.gcc_H",
                "--bits",
                "eight",
                "--out",
                str(tmp_path / "e.npz"),
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1 and "invalid int value" in err


def test_foreign_checkpoint_without_activations(tmp_path, capsys):
    state = {
        "stages.2.8.gcc_conv_1H.weight": np.random.default_rng(0).normal(0, 0.1, (4, 1, 14, 1)).astype(np.float32),
        "stages.2.8.gcc_conv_1H.bias": np.zeros(4, np.float32),
        "stages.2.8.gcc_conv_1H.meta_pe": np.full((1, 4, 14, 1), 0.01, np.float32),
    }
    src = tmp_path / "gcc.npz"
    np.savez(src, allow_pickle=False, **state)
    out = tmp_path / "gcc_b.npz"
    assert (
        export_main(
            [
                "--weights",
                str(src),
                "--layer",
                "stages.2.8.gcc_conv_1H",
                "--out",
                str(out),
                "--no-activations",
                "--n",
                "28",
            ]
        )
        == 0
    )
    bundle = load_bundle(out)
    assert bundle.calibration is None and bundle.layer.n == 28 and bundle.meta["stored_n"] == 14
    assert bundle.meta["layout"] == "convnext_gcc"
    assert (
        export_main(["--weights", str(src), "--layer", "stages.2.8.gcc_conv_1H", "--out", str(tmp_path / "x.npz")]) == 2
    )
    err = capsys.readouterr().err
    assert "provenance.json" in err and "--no-activations" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- shipped bundles


@pytest.mark.parametrize("n, layer", [(56, "stages.0.0.gcc_H"), (28, "stages.1.0.gcc_H")])
def test_shipped_bundles(n, layer):
    path = default_bundle_path(n)
    assert path is not None and path.name == f"parc_n{n}.npz"
    assert path.stat().st_size < MAX_BUNDLE_BYTES
    bundle = load_bundle(path)
    meta = bundle.meta
    assert (meta["layer"], meta["direction"], meta["n"]) == (layer, "H", n)
    assert meta["source"] == "weights/parc/model.pt" and meta["source_sha256"] == file_sha256(WEIGHTS)
    assert bundle.calibration is not None and bundle.test is not None
    assert bundle.calibration.shape[1:] == bundle.test.shape[1:] == (bundle.layer.channels, n)
    assert 200 <= bundle.calibration.shape[0] <= 512 and 200 <= bundle.test.shape[0] <= 512
    assert (
        meta["images"]["network"]["test_accuracy"]
        == json.loads((WEIGHTS.parent / "provenance.json").read_text())["test_accuracy"]
    )
    assert sum(meta["quantized"]["saturated"].values()) == 0
    np.testing.assert_array_equal(bundle.layer.weight, load_layer(WEIGHTS, layer).weight)


@pytest.mark.slow
def test_shipped_bundle_is_reproducible(tmp_path):
    """Re-running the command stored in the N=28 bundle rebuilds the same arrays."""
    shipped = default_bundle_path(28)
    assert shipped is not None
    meta = load_bundle(shipped).meta
    args = shlex.split(meta["command"])[3:]
    out_at = args.index("--out") + 1
    args[out_at] = str(tmp_path / "again.npz")
    assert export_main(args) == 0
    with np.load(shipped) as a, np.load(tmp_path / "again.npz") as b:
        assert set(a.files) == set(b.files)
        for key in a.files:
            if key in ("calibration", "test"):  # float32 torch activations: thread count may move the last bit
                np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
            elif key != "meta":
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
