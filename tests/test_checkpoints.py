"""Real checkpoints, channel subsets and explicit random weights in `hw.generate` / `sim.run`.

Checkpoints come wrapped ({'state_dict': ..., 'best_acc1': tensor}, {'model': ..., 'args':
Namespace}, EMA copies, DataParallel's ``module.`` prefix); they are read with
``weights_only=True`` and a data-only allow-list, so a pickle that would run code is refused
without running it. Every refusal is one plain line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from golden.bundle import default_bundle_path, load_bundle, load_weights, weights_sha256
from golden.quant import quantize_layer, random_layer
from golden.weights import load_checkpoint, load_layer
from golden.weights import main as weights_main
from hw.generate import main as generate_main
from sim.run import main as sim_main

C, N, M = 4, 8, 6  # channels, ParC-ConvNeXt kernel length, ConvNeXt-GCC meta kernel length


def parc_state(seed: int = 0, prefix: str = "stages.0.0.") -> dict[str, torch.Tensor]:
    """One ParC-ConvNeXt block (gcc_H and gcc_W) plus a non-ParC tensor, as torch would save it."""
    g = torch.Generator().manual_seed(seed)
    sd = {f"{prefix}norm.weight": torch.ones(2 * C)}
    for d, w_shape, pe_shape in (("H", (C, 1, N, 1), (1, C, N, 1)), ("W", (C, 1, 1, N), (1, C, 1, N))):
        sd[f"{prefix}gcc_{d}.gcc_conv.weight"] = torch.randn(w_shape, generator=g) * 0.2
        sd[f"{prefix}gcc_{d}.gcc_conv.bias"] = torch.randn(C, generator=g) * 0.1
        sd[f"{prefix}gcc_{d}.pe"] = torch.randn(pe_shape, generator=g) * 0.1
    return sd


def gcc_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """A ConvNeXt-GCC meta kernel of length M (resized to the feature's N by the network)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "stages.2.0.gcc_conv_1H.weight": torch.randn((C, 1, M, 1), generator=g) * 0.2,
        "stages.2.0.gcc_conv_1H.bias": torch.randn(C, generator=g) * 0.1,
        "stages.2.0.gcc_conv_1H.meta_pe": torch.randn((1, C, M, 1), generator=g) * 0.1,
    }


class RunsCode:
    """Unpickling this would call os.system: the loader must refuse it without running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def refused(capsys: pytest.CaptureFixture[str], main, argv: list[str], *words: str) -> str:
    """Run a command in-process; it must exit 2 with one plain line naming ``words``."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "\x1b" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def generate(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "gen"
    assert generate_main([*argv, "--no-lint", "--out", str(out)]) == 0
    return json.loads((out / "manifest.json").read_text())


# --------------------------------------------------------------------------- wrappers


WRAPPERS = {
    "bare": lambda sd: sd,
    "state_dict+best_acc1 tensor": lambda sd: {"state_dict": sd, "best_acc1": torch.tensor(81.5), "epoch": 299},
    "model+args Namespace": lambda sd: {
        "model": sd,
        "args": argparse.Namespace(lr=4e-3, model="parc_convnext", drop_path=[0.1]),
        "epoch": 3,
    },
    "model+numpy best_acc": lambda sd: {
        "model": sd,
        "best_acc": np.float64(0.81),
        "optimizer": {"state": {}, "param_groups": []},
    },
    "model_ema only": lambda sd: {"model_ema": sd, "epoch": 7},
    "DataParallel module. prefix": lambda sd: {
        "state_dict": {f"module.{k}": v for k, v in sd.items()},
        "best_acc1": torch.tensor(1.0),
    },
    "nested model.state_dict": lambda sd: {"model": {"state_dict": sd}, "args": argparse.Namespace(seed=0)},
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_state_dict_is_found_inside_common_wrappers(tmp_path: Path, wrapper: str) -> None:
    sd = parc_state()
    path = tmp_path / "ckpt.pth"
    torch.save(WRAPPERS[wrapper](sd), path)
    ckpt = load_checkpoint(path)
    assert set(ckpt.state) == set(sd)
    layer = load_layer(path, "stages.0.0.gcc_W")
    np.testing.assert_array_equal(layer.weight, sd["stages.0.0.gcc_W.gcc_conv.weight"].numpy().reshape(C, N))
    np.testing.assert_array_equal(layer.bias, sd["stages.0.0.gcc_W.gcc_conv.bias"].numpy())
    if wrapper.startswith("DataParallel"):
        assert ckpt.stripped_prefix == "module."


def test_raw_weights_win_over_the_ema_copy(tmp_path: Path) -> None:
    raw, ema = parc_state(seed=0), parc_state(seed=5)
    path = tmp_path / "convnext_style.pth"
    torch.save({"model": raw, "model_ema": ema, "args": argparse.Namespace(model_ema=True)}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.container == "model"
    np.testing.assert_array_equal(ckpt.state["stages.0.0.gcc_H.pe"], raw["stages.0.0.gcc_H.pe"].numpy())


def test_listing_a_wrapped_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": parc_state(), "best_acc1": torch.tensor(80.0)}, path)
    assert weights_main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "stages.0.0.gcc_H  H  C=4  N=8  parc_convnext" in out and "stages.0.0.gcc_W  W" in out


# --------------------------------------------------------------------------- never run code


@pytest.mark.parametrize("form", ["zip", "legacy", "plain pickle"])
def test_pickle_that_runs_code_is_refused_without_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"model": parc_state(), "extra": RunsCode(marker)}
    if form == "zip":
        torch.save(payload, path)
    elif form == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(RunsCode(marker), protocol=2))
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    line = refused(
        capsys,
        generate_main,
        ["--n", "8", "--weights", str(path), "--layer", "stages.0.0.gcc_H", "--out", str(tmp_path / "g")],
        "evil.pt",
    )
    assert "system" in line and "nothing from the file was run" in line
    assert not marker.exists()
    assert not (tmp_path / "g").exists()


# --------------------------------------------------------------------------- hw.generate / sim.run with a checkpoint


def test_generate_takes_a_checkpoint_layer_directly(tmp_path: Path) -> None:
    sd = parc_state()
    path = tmp_path / "convnext.pth"
    torch.save({"model": sd, "args": argparse.Namespace(lr=1e-3)}, path)
    manifest = generate(tmp_path, "--n", str(N), "--bits", "8", "--weights", str(path), "--layer", "stages.0.0.gcc_W")
    w = manifest["weights"]
    expected = load_layer(path, "stages.0.0.gcc_W")
    assert w["source"] == "convnext.pth" and w["kind"] == "checkpoint" and w["layer"] == "stages.0.0.gcc_W"
    assert w["direction"] == "W" and w["state_dict_in"] == "['model']" and w["layout"] == "parc_convnext"
    assert w["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert w["sha256"] == weights_sha256(expected)
    assert w["channels_used"] == list(range(C)) and w["channels_in_source"] == C
    assert w["scales_from"].startswith("no activations")
    q = quantize_layer(expected, 8)  # no activations: the weight bound, as golden.export --no-activations
    assert manifest["weight_frac"] == q.weight_frac.tolist() and manifest["output_format"] == q.fmt.output.to_dict()


def test_meta_kernel_is_resized_but_a_parc_kernel_must_match_n(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gcc.pt"
    torch.save({"state_dict": {**gcc_state(), **parc_state()}}, path)
    manifest = generate(
        tmp_path, "--n", "14", "--weights", str(path), "--layer", "stages.2.0.gcc_conv_1H", "--channels", "2"
    )
    w = manifest["weights"]
    assert manifest["n"] == 14 and w["stored_n"] == M and "bilinear" in w["resized"] and w["direction"] == "H"
    assert w["sha256"] == weights_sha256(
        load_weights(path, n=14, layer="stages.2.0.gcc_conv_1H").first_channels(2).layer
    )
    refused(
        capsys,
        generate_main,
        ["--n", "14", "--weights", str(path), "--layer", "stages.0.0.gcc_H", "--out", str(tmp_path / "x")],
        "N=8",
        "--n 14",
    )


def test_checkpoint_layer_choice_is_explicit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": parc_state()}, path)
    out = str(tmp_path / "g")
    refused(
        capsys,
        generate_main,
        ["--n", "8", "--weights", str(path), "--out", out],
        "--layer",
        "stages.0.0.gcc_H, stages.0.0.gcc_W",
    )
    refused(
        capsys,
        generate_main,
        ["--n", "8", "--weights", str(path), "--layer", "stages.9.gcc_H", "--out", out],
        "no ParC layer named 'stages.9.gcc_H'",
        "available",
    )
    refused(
        capsys,
        generate_main,
        ["--n", "8", "--layer", "stages.0.0.gcc_H", "--weights", "random", "--out", out],
        "--layer",
    )
    refused(capsys, generate_main, ["--n", "56", "--layer", "stages.0.0.gcc_H", "--out", out], "--layer", "--weights")
    # sim.run hands --layer to the same loader (refused here before any simulator build)
    refused(capsys, sim_main, ["--n", "16", "--weights", str(path), "--layer", "stages.0.0.gcc_H"], "N=8")
    refused(capsys, sim_main, ["--n", "8", "--weights", str(path)], "--layer")
    assert not Path(out).exists()


# --------------------------------------------------------------------------- channels and random weights


def test_channels_take_the_first_channels_of_the_shipped_bundle(tmp_path: Path) -> None:
    path = default_bundle_path(56)
    assert path is not None
    bundle = load_bundle(path)
    assert bundle.layer.channels == 8
    full = generate(tmp_path, "--n", "56", "--channels", "8")["weights"]
    assert full["kind"] == "shipped bundle" and full["source"] == "shipped:parc_n56.npz"
    assert full["sha256"] == bundle.sha256 == weights_sha256(bundle.layer)
    manifest = generate(tmp_path, "--n", "56", "--channels", "3")
    w = manifest["weights"]
    sub = bundle.first_channels(3)
    assert manifest["channels"] == 3 and w["channels_used"] == [0, 1, 2] and w["channels_in_source"] == 8
    np.testing.assert_array_equal(sub.layer.weight, bundle.layer.weight[:3])
    assert sub.calibration is not None and sub.test is not None
    assert sub.calibration.shape[1:] == (3, 56) and sub.test.shape[1:] == (3, 56)
    assert w["sha256"] == weights_sha256(sub.layer) != full["sha256"]
    assert w["file_sha256"] == full["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    q = sub.quantize(8)  # scales from the kept channels' calibration activations
    assert manifest["weight_frac"] == q.weight_frac.tolist() and manifest["input_format"] == q.fmt.data.to_dict()
    assert w["scales_from"].startswith("calibration activations")


def test_more_channels_than_the_weights_have_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(
        capsys,
        generate_main,
        ["--n", "56", "--channels", "9", "--out", str(tmp_path / "g")],
        "--channels 9",
        "8 channels",
    )
    refused(capsys, generate_main, ["--n", "28", "--channels", "17", "--out", str(tmp_path / "g")], "16 channels")
    assert not (tmp_path / "g").exists()


def test_random_weights_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(
        capsys, generate_main, ["--n", "14", "--out", str(tmp_path / "g")], "N=14", "--weights random", "--weights FILE"
    )
    assert "N=28, 56" in line
    refused(
        capsys, generate_main, ["--n", "56", "--seed", "3", "--out", str(tmp_path / "g")], "--seed", "--weights random"
    )
    manifest = generate(tmp_path, "--n", "14", "--weights", "random", "--seed", "3")
    w = manifest["weights"]
    assert manifest["channels"] == 4
    assert (
        w["source"] == "random(seed=3)"
        and w["kind"] == "random"
        and w["direction"] is None
        and w["file_sha256"] is None
    )
    assert w["sha256"] == weights_sha256(random_layer(14, 4, 3))
    assert generate(tmp_path, "--n", "56", "--weights", "random", "--channels", "2")["weights"]["kind"] == "random"


# --------------------------------------------------------------------------- manifest


def test_manifest_names_sources_portably(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "deep" / "my_layer.npz"
    path.parent.mkdir()
    np.savez(path, weight=rng.normal(0, 0.1, (2, 7)))
    manifest = generate(tmp_path, "--n", "7", "--weights", str(path))
    text = json.dumps(manifest)
    assert str(tmp_path) not in text and str(Path(__file__).resolve().parents[1]) not in text
    w = manifest["weights"]
    assert w["source"] == "my_layer.npz" and w["kind"] == "arrays" and w["direction"] is None
    assert w["sha256"] == weights_sha256(load_bundle(path).layer)
    shipped = generate(tmp_path, "--n", "28")["weights"]
    assert shipped["source"] == "shipped:parc_n28.npz" and shipped["direction"] == "H"


def _decode(word: str, bits: int) -> int:
    value = int(word, 16)
    assert value < 1 << bits
    return value - (1 << bits) if value >> (bits - 1) else value


@pytest.mark.parametrize("arch", ["direct", "fft"])
def test_rom_layout_describes_the_hex_files(tmp_path: Path, arch: str) -> None:
    from hw.design import DesignSpec, build_design

    manifest = generate(tmp_path, "--n", "7", "--bits", "12", "--arch", arch, "--weights", "random", "--channels", "3")
    layout = manifest["rom_layout"]
    assert sorted(layout) == manifest["rom_files"]
    for name, spec in layout.items():
        rows = (tmp_path / "gen" / name).read_text().splitlines()
        # one row per channel; the native spectrum ROM adds the odd count's zero channel
        assert (
            len(rows) == spec["rows"] == (4 if name == "rom_spectrum.hex" and manifest["fft_impl"] == "native" else 3)
        )
        for row in rows:
            words = row.split(" ")
            assert len(words) == spec["words_per_row"]
            assert all(len(word) == spec["hex_digits_per_word"] for word in words)
    q = build_design(DesignSpec(arch=arch, n=7, bits=12, channels=3, weights="random")).layer
    rows = (tmp_path / "gen" / "rom_weights.hex").read_text().splitlines()
    bits = layout["rom_weights.hex"]["bits_per_word"]
    assert [[_decode(w, bits) for w in row.split()] for row in rows] == q.weight.tolist()
    rows = (tmp_path / "gen" / "rom_offsets.hex").read_text().splitlines()
    bits = layout["rom_offsets.hex"]["bits_per_word"]
    assert [[_decode(w, bits) for w in row.split()] for row in rows] == q.offset.tolist()
    tdata = manifest["tdata"]
    assert tdata["s_axis_tdata_bits"] == manifest["input_format"]["bits"] == 12
    assert tdata["m_axis_tdata_bits"] == manifest["output_format"]["bits"] and "16" in tdata["note"]


# --------------------------------------------------------------------------- probes


def test_text_file_is_not_a_weight_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes\n")
    for main, argv in (
        (generate_main, ["--n", "7", "--weights", str(notes), "--out", str(tmp_path / "g")]),
        (sim_main, ["--n", "7", "--weights", str(notes)]),
        (weights_main, [str(notes)]),
    ):
        line = refused(capsys, main, argv, "notes.txt", "not a weight file", ".npz", ".pt", ".safetensors")
        assert "pickle" not in line
    renamed = tmp_path / "notes.pt"
    renamed.write_text("these are my notes\n")
    refused(
        capsys,
        generate_main,
        ["--n", "7", "--weights", str(renamed), "--layer", "a", "--out", str(tmp_path / "g")],
        "not a readable PyTorch file",
    )


@pytest.mark.parametrize("meta,words", [("[1, 2, 3]", ("JSON object", "list")), ("{not json", ("not valid JSON",))])
def test_bundle_meta_must_be_a_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], meta: str, words
) -> None:
    path = tmp_path / "b.npz"
    np.savez(path, weight=np.ones((2, 7)), meta=np.array(meta))
    refused(
        capsys,
        generate_main,
        ["--n", "7", "--weights", str(path), "--out", str(tmp_path / "g")],
        "b.npz",
        "'meta'",
        *words,
    )


def test_golden_weights_refuses_a_negative_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save(parc_state(), path)
    refused(capsys, weights_main, [str(path), "--n", "-5"], "--n", ">= 2")
    refused(capsys, weights_main, [str(path), "--n", "1"], "--n")
    assert weights_main([str(path), "--n", "28"]) == 0
