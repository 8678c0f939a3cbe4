"""golden.weights: the three published layouts, bad files, and the trained layers vs torch."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from golden import parc_h, parc_w
from golden.quant import FloatLayer
from golden.weights import (
    feature_to_rows,
    find_parc_layers,
    list_layers,
    load_layer,
    load_layers,
    load_state_dict,
    rows_to_feature,
)

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "weights" / "parc" / "model.pt"

torch.set_num_threads(1)


# --------------------------------------------------------------------------- torch references


def torch_parc(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, pe: torch.Tensor | None, direction: str
) -> torch.Tensor:
    """The official forward: x + pe, circular cat, depthwise conv (ParC_operator / gcc_Conv2d)."""
    if pe is not None:
        x = x + pe
    x_cat = torch.cat((x, x[:, :, :-1, :]), dim=2) if direction == "H" else torch.cat((x, x[:, :, :, :-1]), dim=3)
    return F.conv2d(x_cat, weight, bias, padding=0, groups=x.shape[1])


def interp(t: torch.Tensor, direction: str, n: int) -> torch.Tensor:
    size = (n, 1) if direction == "H" else (1, n)
    return F.interpolate(t, size, mode="bilinear", align_corners=True)


def shapes(direction: str, c: int, n: int) -> tuple[tuple, tuple, tuple]:
    if direction == "H":
        return (c, 1, n, 1), (c,), (1, c, n, 1)
    return (c, 1, 1, n), (c,), (1, c, 1, n)


def rand(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.normal(0, 0.3, size=shape).astype(np.float32)


def parc_convnext_state(rng, prefix="stages.2.6.", c=6, n=14) -> dict[str, np.ndarray]:
    sd = {f"{prefix}norm.weight": np.ones(2 * c, np.float32), f"{prefix}pwconv1.weight": rand(rng, (8 * c, 2 * c))}
    for d in "HW":
        w, b, p = shapes(d, c, n)
        sd[f"{prefix}gcc_{d}.gcc_conv.weight"] = rand(rng, w)
        sd[f"{prefix}gcc_{d}.gcc_conv.bias"] = rand(rng, b)
        sd[f"{prefix}gcc_{d}.pe"] = rand(rng, p)
    return sd


def convnext_gcc_state(rng, prefix="stages.2.8.", c=5, m=14) -> dict[str, np.ndarray]:
    sd = {f"{prefix}gamma": np.ones(2 * c, np.float32)}
    for i, d in (("1", "H"), ("2", "W")):
        w, b, p = shapes(d, c, m)
        sd[f"{prefix}gcc_conv_{i}{d}.weight"] = rand(rng, w)
        sd[f"{prefix}gcc_conv_{i}{d}.bias"] = rand(rng, b)
        sd[f"{prefix}gcc_conv_{i}{d}.meta_pe"] = rand(rng, p)
    return sd


def edgeformer_state(rng, prefix="layer_4.1.global_rep.0.", c=4, m=16) -> dict[str, np.ndarray]:
    sd = {f"{prefix}pre_Norm_1.weight": np.ones(c, np.float32)}
    for i in "12":
        for d in "HW":
            w, b, p = shapes(d, c, m)
            sd[f"{prefix}meta_kernel_{i}_{d}"] = rand(rng, w)
            sd[f"{prefix}meta_{i}_{d}_bias"] = rand(rng, b)
            sd[f"{prefix}meta_pe_{i}_{d}"] = rand(rng, p)
    return sd


def save(state: dict[str, np.ndarray], path: Path) -> Path:
    if path.suffix == ".npz":
        np.savez(path, allow_pickle=False, **state)
    elif path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(state, str(path))
    else:
        torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    return path


def check_layer_against_torch(layer: FloatLayer, direction: str, w, b, p, n: int, rng) -> None:
    """The imported layer through golden.parc_h/parc_w equals the official torch forward."""
    x = rng.normal(size=(2, layer.channels, n, n))
    ref = torch_parc(
        torch.from_numpy(x), w.double(), None if b is None else b.double(), None if p is None else p.double(), direction
    )
    fn = parc_h if direction == "H" else parc_w
    got = fn(x, layer.weight, layer.pe, layer.bias)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("suffix", [".npz", ".safetensors", ".pt", ".pth"])
def test_parc_convnext_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    state = parc_convnext_state(rng)
    path = save(state, tmp_path / f"model{suffix}")
    infos = list_layers(path)
    assert [(i.name, i.direction, i.channels, i.n, i.layout) for i in infos] == [
        ("stages.2.6.gcc_H", "H", 6, 14, "parc_convnext"),
        ("stages.2.6.gcc_W", "W", 6, 14, "parc_convnext"),
    ]
    layers = load_layers(path)
    for d in "HW":
        name = f"stages.2.6.gcc_{d}"
        layer = layers[name]
        assert layer.name == name and layer.weight.shape == (6, 14) and layer.bias.shape == (6,)
        np.testing.assert_array_equal(layer.weight, state[f"{name}.gcc_conv.weight"].reshape(6, 14))
        np.testing.assert_array_equal(layer.pe, state[f"{name}.pe"].reshape(6, 14))
        np.testing.assert_array_equal(layer.bias, state[f"{name}.gcc_conv.bias"])
        t = {k: torch.from_numpy(state[f"{name}.{k}"]) for k in ("gcc_conv.weight", "gcc_conv.bias", "pe")}
        check_layer_against_torch(layer, d, t["gcc_conv.weight"], t["gcc_conv.bias"], t["pe"], 14, rng)


def test_checkpoint_wrapper_and_pe_free_layer(tmp_path):
    rng = np.random.default_rng(2)
    state = parc_convnext_state(rng, prefix="")
    del state["gcc_W.pe"]  # use_pe=False
    path = tmp_path / "ckpt.pth"
    torch.save({"model": {k: torch.from_numpy(v) for k, v in state.items()}, "epoch": 300}, path)
    layers = load_layers(path)
    assert sorted(layers) == ["gcc_H", "gcc_W"]
    np.testing.assert_array_equal(layers["gcc_W"].pe, np.zeros((6, 14)))


@pytest.mark.parametrize("n", [None, 14, 28, 7])
def test_convnext_gcc_round_trip(tmp_path, n):
    rng = np.random.default_rng(3)
    state = convnext_gcc_state(rng)
    path = save(state, tmp_path / "gcc.safetensors")
    infos = {i.name: i for i in list_layers(path)}
    assert {k: (v.direction, v.channels, v.n, v.layout) for k, v in infos.items()} == {
        "stages.2.8.gcc_conv_1H": ("H", 5, 14, "convnext_gcc"),
        "stages.2.8.gcc_conv_2W": ("W", 5, 14, "convnext_gcc"),
    }
    target = 14 if n is None else n
    for d, name in (("H", "stages.2.8.gcc_conv_1H"), ("W", "stages.2.8.gcc_conv_2W")):
        layer = load_layer(path, name, n=n)
        assert layer.weight.shape == (5, target)
        t = {k: torch.from_numpy(state[f"{name}.{k}"]).double() for k in ("weight", "bias", "meta_pe")}
        # gcc_Conv2d with instance_kernel_method='interpolation_bilinear' at feature size `target`
        w, p = interp(t["weight"], d, target), interp(t["meta_pe"], d, target)
        np.testing.assert_allclose(layer.weight, w.numpy().reshape(5, target), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.pe, p.numpy().reshape(5, target), rtol=1e-12, atol=1e-12)
        check_layer_against_torch(layer, d, w, t["bias"], p, target, rng)


@pytest.mark.parametrize("n", [16, 56, 28, 7])
def test_edgeformer_round_trip(tmp_path, n):
    rng = np.random.default_rng(4)
    state = edgeformer_state(rng, m=16)
    path = save(state, tmp_path / "edge.pt")
    infos = list_layers(path)
    names = [i.name for i in infos]
    prefix = "layer_4.1.global_rep.0."
    assert names == [f"{prefix}meta_kernel_{i}_{d}" for i in "12" for d in "HW"]
    assert all(i.layout == "edgeformer" and i.n == 16 and i.channels == 4 for i in infos)
    layers = load_layers(path, n=n)
    for i in "12":
        for d in "HW":
            layer = layers[f"{prefix}meta_kernel_{i}_{d}"]
            k = torch.from_numpy(state[f"{prefix}meta_kernel_{i}_{d}"]).double()
            p = torch.from_numpy(state[f"{prefix}meta_pe_{i}_{d}"]).double()
            b = torch.from_numpy(state[f"{prefix}meta_{i}_{d}_bias"]).double()
            wk, pk = interp(k, d, n), interp(p, d, n)
            np.testing.assert_allclose(layer.weight, wk.numpy().reshape(4, n), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(layer.pe, pk.numpy().reshape(4, n), rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(layer.bias, b.numpy())
            check_layer_against_torch(layer, d, wk, b, pk, n, rng)


def test_mixed_file_lists_every_layout(tmp_path):
    rng = np.random.default_rng(5)
    state = {**parc_convnext_state(rng), **convnext_gcc_state(rng), **edgeformer_state(rng)}
    layouts = sorted({i.layout for i in find_parc_layers(state)})
    assert layouts == ["convnext_gcc", "edgeformer", "parc_convnext"]
    assert len(load_layers(save(state, tmp_path / "all.npz"))) == 2 + 2 + 4


def test_cli_lists_layers(tmp_path):
    path = save(convnext_gcc_state(np.random.default_rng(6)), tmp_path / "gcc.npz")
    res = subprocess.run(
        [sys.executable, "-m", "golden.weights", str(path), "--n", "28"], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr
    assert "stages.2.8.gcc_conv_1H  H  C=5  M=14 -> N=28  convnext_gcc" in res.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "golden.weights", str(tmp_path / "nope.npz")], capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "not found" in bad.stderr


# --------------------------------------------------------------------------- bad files


def test_missing_weight_key(tmp_path):
    state = parc_convnext_state(np.random.default_rng(7))
    del state["stages.2.6.gcc_H.gcc_conv.weight"]
    with pytest.raises(ValueError, match=r"stages\.2\.6\.gcc_H .*missing key 'stages\.2\.6\.gcc_H\.gcc_conv\.weight'"):
        load_layers(save(state, tmp_path / "m.npz"))


def test_missing_bias_key(tmp_path):
    state = parc_convnext_state(np.random.default_rng(7))
    del state["stages.2.6.gcc_W.gcc_conv.bias"]
    with pytest.raises(ValueError, match=r"missing key 'stages\.2\.6\.gcc_W\.gcc_conv\.bias'"):
        list_layers(save(state, tmp_path / "m.npz"))


def test_missing_meta_kernel(tmp_path):
    state = edgeformer_state(np.random.default_rng(7))
    del state["layer_4.1.global_rep.0.meta_kernel_2_W"]
    with pytest.raises(ValueError, match=r"missing key 'layer_4\.1\.global_rep\.0\.meta_kernel_2_W'"):
        load_layers(save(state, tmp_path / "m.safetensors"))


@pytest.mark.parametrize(
    "key, shape, expected",
    [
        ("stages.2.6.gcc_H.gcc_conv.weight", (6, 1, 1, 14), r"\[C,1,N,1\]"),  # a W kernel under gcc_H
        ("stages.2.6.gcc_H.pe", (1, 6, 13, 1), r"\[1,6,14,1\]"),
        ("stages.2.6.gcc_W.gcc_conv.bias", (5,), r"\[6\]"),
        ("stages.2.6.gcc_W.gcc_conv.weight", (6, 14), r"\[C,1,1,N\]"),
    ],
)
def test_wrong_shape(tmp_path, key, shape, expected):
    state = parc_convnext_state(np.random.default_rng(8))
    state[key] = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=rf"'{key}' has shape .*expected {expected}"):
        load_layers(save(state, tmp_path / "s.npz"))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf(tmp_path, bad):
    state = convnext_gcc_state(np.random.default_rng(9))
    state["stages.2.8.gcc_conv_2W.meta_pe"][0, 1, 0, 3] = bad
    path = save(state, tmp_path / "n.pt")
    with pytest.raises(ValueError, match=r"stages\.2\.8\.gcc_conv_2W\.meta_pe has 1 NaN/Inf"):
        load_layers(path)
    load_layer(path, "stages.2.8.gcc_conv_1H")  # the other layer is fine


def test_unknown_layer_lists_names(tmp_path):
    path = save(parc_convnext_state(np.random.default_rng(10)), tmp_path / "u.npz")
    with pytest.raises(
        ValueError, match=r"no ParC layer named 'stages\.9\.gcc_H'.*available: stages\.2\.6\.gcc_H, stages\.2\.6\.gcc_W"
    ):
        load_layer(path, "stages.9.gcc_H")


def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_state_dict(tmp_path / "missing.pt")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_state_dict(junk)
    junk_st = tmp_path / "junk.safetensors"
    junk_st.write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="not a readable .safetensors"):
        load_state_dict(junk_st)
    other = tmp_path / "w.h5"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown weight file type"):
        load_state_dict(other)


class NotAllowed:  # torch.load(weights_only=True) must refuse arbitrary pickled objects
    pass


def test_pt_with_arbitrary_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"obj": NotAllowed()}, path)
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        load_state_dict(path)
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError):
        load_state_dict(plain)


def test_file_without_parc_layers(tmp_path):
    path = save({"dwconv.weight": np.zeros((4, 1, 7, 7), np.float32)}, tmp_path / "dw.npz")
    assert list_layers(path) == []
    with pytest.raises(ValueError, match="no ParC layer found"):
        load_layers(path)


# --------------------------------------------------------------------------- rows


@pytest.mark.parametrize("direction", ["H", "W"])
def test_rows_round_trip_and_meaning(direction):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 3, 5, 7))
    rows = feature_to_rows(x, direction)
    assert rows.shape == ((2 * 7, 3, 5) if direction == "H" else (2 * 5, 3, 7))
    np.testing.assert_array_equal(rows_to_feature(rows, direction, x.shape), x)
    n = 5 if direction == "H" else 7
    layer = FloatLayer.create(rng.normal(size=(3, n)), rng.normal(size=(3, n)), rng.normal(size=3))
    fn = parc_h if direction == "H" else parc_w
    np.testing.assert_allclose(
        rows_to_feature(layer.forward(rows), direction, x.shape), fn(x, layer.weight, layer.pe, layer.bias), atol=1e-12
    )


# --------------------------------------------------------------------------- trained layers


def test_trained_layers_match_torch_on_real_activations():
    """golden.parc_h/parc_w with the imported FloatLayer == the trained torch ParC layer."""
    from golden import parc_net as pn

    model = pn.load_model(TRAINED)
    split = pn.load_split(json.loads((TRAINED.parent / "provenance.json").read_text())["data"]["split_seed"])
    images = pn.test_canvases(split)[:6]
    modules = pn.parc_layers(model)
    layers = load_layers(TRAINED)
    assert list(layers) == list(modules)
    assert {layers[n].n for n in layers} >= {56, 28}
    captured: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: captured.__setitem__(name, (inp[0].double().numpy(), out.double().numpy()))
        )
        for name, m in modules.items()
    ]
    try:
        pn.evaluate(model, images)
    finally:
        for h in hooks:
            h.remove()
    for name, (x, y_torch) in captured.items():
        layer = layers[name]
        fn = parc_h if modules[name].direction == "H" else parc_w
        y = fn(x, layer.weight, layer.pe, layer.bias)
        scale = max(1.0, float(np.abs(y_torch).max()))
        assert np.abs(y - y_torch).max() <= 1e-5 * scale, name
        # and in float64 torch the agreement is exact to rounding
        y64 = modules[name].double()(torch.from_numpy(x)).detach().numpy()
        modules[name].float()
        np.testing.assert_allclose(y, y64, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- content, not suffix


def test_files_are_recognised_by_content_not_suffix(tmp_path):
    from golden.weights import sniff_weight_file

    state = parc_convnext_state(np.random.default_rng(12))
    torch_file = save(state, tmp_path / "model.pt").rename(tmp_path / "model.weights")  # odd suffix, real checkpoint
    assert sniff_weight_file(torch_file) == "torch"
    assert [i.name for i in list_layers(torch_file)] == ["stages.2.6.gcc_H", "stages.2.6.gcc_W"]
    assert sniff_weight_file(save(state, tmp_path / "s.safetensors")) == "safetensors"
    assert sniff_weight_file(save(state, tmp_path / "s.npz")) == "npz"
    text = tmp_path / "README.md"
    text.write_text("# not weights\n")
    with pytest.raises(ValueError, match=r"is not a weight file: .*accepted: .*\.npz.*\.pt.*\.safetensors"):
        list_layers(text)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="not a readable .npz file: it is empty"):
        load_state_dict(empty)


@pytest.mark.parametrize(
    "name, direction",
    [
        ("stages.0.0.gcc_H", "H"),
        ("gcc_W", "W"),
        ("stages.2.8.gcc_conv_2W", "W"),
        ("layer_4.meta_kernel_1_H", "H"),
        ("random_n14_c4_seed0", None),
        ("my_layer", None),
        ("stages.0.0.gcc_Hx", None),
    ],
)
def test_direction_from_layer_name(name, direction):
    from golden.weights import direction_of

    assert direction_of(name) == direction
