"""The committed trained networks, their provenance, `evaluate` with overrides, and a training smoke run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from golden import parc_net as pn
from golden.weights import load_layers

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"

torch.set_num_threads(1)


def provenance(mixer: str) -> dict:
    return json.loads((WEIGHTS / mixer / "provenance.json").read_text())


@pytest.fixture(scope="module")
def split():
    return pn.load_split(provenance("parc")["data"]["split_seed"])


@pytest.fixture(scope="module")
def test_images(split):
    return pn.test_canvases(split)


@pytest.mark.parametrize("mixer", ["parc", "dw7"])
def test_committed_weights_reproduce_recorded_accuracy(mixer, split, test_images):
    prov = provenance(mixer)
    path = WEIGHTS / mixer / prov["weights_file"]
    assert path.stat().st_size < 5 * 1024 * 1024
    assert hashlib.sha256(path.read_bytes()).hexdigest() == prov["weights_sha256"]
    model = pn.load_model(path)
    result = pn.evaluate(model, test_images, split.test_labels)
    assert (result.correct, result.total) == (prov["test_correct"], prov["test_total"])
    assert result.accuracy == prov["test_accuracy"]
    assert prov["mixer"] == mixer and prov["model"]["mixer"] == mixer


def test_provenance_records_what_the_issue_asks():
    prov = provenance("parc")
    for key in ("data", "split", "seed", "epochs", "test_accuracy", "versions", "command", "model"):
        assert key in prov, key
    assert prov["versions"]["torch"].startswith("2.13.0")
    assert prov["command"].startswith("python -m scripts.train")
    assert prov["test_accuracy"] >= 0.97
    assert prov["split"]["subset"] is None
    sizes = {layer["n"] for layer in prov["parc_layers"]}
    assert {56, 28} <= sizes
    assert provenance("dw7")["parc_layers"] == []


def test_test_set_is_fixed(split):
    a, b = pn.test_canvases(split), pn.test_canvases(pn.load_split(split.split_seed))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (split.test_labels.size, 1, 56, 56) and a.dtype == np.float32
    assert not np.intersect1d(split.train_index, split.test_index).size


def test_parameter_names_follow_official_layout():
    state = torch.load(WEIGHTS / "parc" / "model.pt", map_location="cpu", weights_only=True)
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    c = 8  # stage 0: 16 channels, half through each direction
    assert shapes["stages.0.0.gcc_H.gcc_conv.weight"] == (c, 1, 56, 1)
    assert shapes["stages.0.0.gcc_H.gcc_conv.bias"] == (c,)
    assert shapes["stages.0.0.gcc_H.pe"] == (1, c, 56, 1)
    assert shapes["stages.0.0.gcc_W.gcc_conv.weight"] == (c, 1, 1, 56)
    assert shapes["stages.0.0.gcc_W.pe"] == (1, c, 1, 56)
    assert shapes["stages.1.0.gcc_H.gcc_conv.weight"] == (16, 1, 28, 1)
    for key in (
        "stages.0.0.norm.weight",
        "stages.0.0.pwconv1.weight",
        "stages.0.0.pwconv2.weight",
        "stages.0.0.gamma",
        "head.weight",
    ):
        assert key in shapes


# --------------------------------------------------------------------------- evaluate + override


@pytest.fixture(scope="module")
def parc_model():
    return pn.load_model(WEIGHTS / "parc" / "model.pt")


def test_override_with_numpy_float_layers_matches_torch(parc_model, split, test_images):
    """Every ParC layer replaced by the NumPy float golden model: same predictions."""
    layers = load_layers(WEIGHTS / "parc" / "model.pt")
    seen: list[tuple[str, tuple]] = []

    def golden(name, rows):
        seen.append((name, rows.shape))
        return layers[name].forward(rows)

    images, labels = test_images[:120], split.test_labels[:120]
    plain = pn.evaluate(parc_model, images, labels)
    swapped = pn.evaluate(parc_model, images, labels, parc_override=golden)
    assert set(swapped.overridden) == set(layers)
    assert swapped.overridden["stages.0.0.gcc_H"] == 120 * 56
    assert ("stages.0.0.gcc_H", (120 * 56, 8, 56)) in seen and ("stages.1.0.gcc_W", (120 * 28, 16, 28)) in seen
    np.testing.assert_array_equal(swapped.predictions, plain.predictions)
    np.testing.assert_allclose(swapped.logits, plain.logits, atol=1e-3)


def test_override_can_target_one_layer_and_decline(parc_model, test_images):
    images = test_images[:8]
    base = pn.evaluate(parc_model, images)
    keep = pn.evaluate(parc_model, images, parc_override=lambda name, rows: None)
    np.testing.assert_array_equal(keep.logits, base.logits)
    assert keep.overridden == {n: 0 for n in pn.parc_layers(parc_model)}
    zeroed = pn.evaluate(
        parc_model, images, parc_override=lambda name, rows: np.zeros_like(rows), layers=["stages.1.0.gcc_H"]
    )
    assert list(zeroed.overridden) == ["stages.1.0.gcc_H"]
    assert not np.allclose(zeroed.logits, base.logits)


def test_override_errors(parc_model, test_images):
    images = test_images[:2]
    with pytest.raises(ValueError, match=r"no ParC layer named stages\.7\.gcc_H; available: stages\.0\.0\.gcc_H"):
        pn.evaluate(parc_model, images, parc_override=lambda n, r: r, layers=["stages.7.gcc_H"])
    with pytest.raises(ValueError, match="returned shape"):
        pn.evaluate(parc_model, images, parc_override=lambda n, r: r[:1])
    with pytest.raises(ValueError, match="NaN/Inf"):
        pn.evaluate(parc_model, images, parc_override=lambda n, r: r * np.nan)
    with pytest.raises(ValueError, match="images must be"):
        pn.evaluate(parc_model, np.zeros((2, 3, 56, 56)))
    assert parc_model.training is False


# --------------------------------------------------------------------------- training smoke run


@pytest.mark.slow
def test_training_smoke_run(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "scripts.train",
        "--epochs",
        "1",
        "--seed",
        "3",
        "--subset",
        "96",
        "--out",
        str(tmp_path),
        "--threads",
        "1",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=110)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "batch" in res.stderr  # the tqdm bar
    prov = json.loads((tmp_path / "parc" / "provenance.json").read_text())
    assert prov["epochs"] == 1 and prov["seed"] == 3 and prov["split"]["subset"] == 96
    assert prov["test_total"] == 360 and 0.0 <= prov["test_accuracy"] <= 1.0
    assert "--subset 96" in prov["command"]
    model = pn.load_model(tmp_path / "parc" / "model.pt")
    assert [n for n in pn.parc_layers(model)] == [layer["name"] for layer in prov["parc_layers"]]


def test_training_cli_rejects_bad_arguments(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "scripts.train", "--epochs", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 2 and "--epochs must be >= 1" in res.stderr


def test_saved_weights_are_byte_reproducible(tmp_path):
    from scripts.train import save_state_dict

    state = torch.load(WEIGHTS / "parc" / "model.pt", map_location="cpu", weights_only=True)
    save_state_dict(state, tmp_path / "a.pt")
    save_state_dict(state, tmp_path / "b" / "model.pt")
    assert (
        (tmp_path / "a.pt").read_bytes()
        == (tmp_path / "b" / "model.pt").read_bytes()
        == (WEIGHTS / "parc" / "model.pt").read_bytes()
    )
