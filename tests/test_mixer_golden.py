"""The ParC-ConvNeXt token mixer on C×H×W maps (`golden.mixer`): float, formats, integers.

Each model is judged by something it is not built from: the float mixer by
`golden.parc.parc_convnext_mixer` (numpy, other axis code) and by the official torch
modules on the trained weights; the integer mixer by the 1-D integer models applied by hand
to the lines cut by `golden.weights.feature_to_rows` (other layout code); the stream order
by an explicit loop.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from golden.cli import UserError
from golden.direct import direct_model
from golden.fast_parc_int import fast_parc_int_model, plan_fast_parc
from golden.fixed import FixedFormat, frac_for_range
from golden.mixer import (
    ENGINES,
    MixerLayer,
    QuantizedMixer,
    build_engine,
    calibration_rows,
    default_split,
    dequantize_map,
    from_hwc_stream,
    mixer_blocks,
    mixer_from_checkpoint,
    mixer_model,
    quantize_map,
    quantize_mixer,
    random_mixer,
    to_hwc_stream,
)
from golden.native_fft import native_model, plan_native
from golden.parc import parc_convnext_mixer, parc_h, parc_w
from golden.quant import FloatLayer, quantize_input, quantize_layer
from golden.weights import feature_to_rows, rows_to_feature

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "weights" / "parc" / "model.pt"
STAGES = (0, 1, 2)  # C = 16, 32, 64 (8, 16, 32 per half) at N = 56, 28, 14


def gaussian_maps(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, size=shape)


def sqnr_db(ref: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))


def scaled(layer: FloatLayer, factor: float) -> FloatLayer:
    return FloatLayer.create(layer.weight * factor, layer.pe, layer.bias * factor, layer.name)


# --------------------------------------------------------------------------- float


@pytest.mark.parametrize("shape", [(6, 5, 7), (2, 3, 6, 5, 7), (8, 4, 4)])
def test_float_mixer_equals_parc_convnext_mixer(shape):
    """split = C/2: `MixerLayer.forward` is `golden.parc.parc_convnext_mixer` (also batched, non-square)."""
    c, h, w = shape[-3:]
    m = random_mixer(c, h, w, seed=3)
    assert m.split == c // 2 and m.shape == (c, h, w)
    x = gaussian_maps(shape)
    expected = parc_convnext_mixer(
        x.reshape((-1, c, h, w)), (m.h.weight, m.h.pe, m.h.bias), (m.w.weight, m.w.pe, m.w.bias)
    ).reshape(shape)
    np.testing.assert_allclose(m.forward(x), expected, rtol=0, atol=1e-12)


def test_split_option():
    """Default split ceil(C/2) (torch.chunk's first chunk); any explicit 1..C-1; else one line."""
    assert [default_split(c) for c in (2, 5, 16)] == [1, 3, 8]
    x = gaussian_maps((2, 5, 6, 4), seed=1)
    for split in (None, 1, 4):
        m = random_mixer(5, 6, 4, split=split, seed=2)
        s = default_split(5) if split is None else split
        assert (m.split, m.h.n, m.w.n, m.w.channels) == (s, 6, 4, 5 - s)
        expected = np.concatenate(
            [
                parc_h(x[:, :s], m.h.weight, m.h.pe, m.h.bias),
                parc_w(x[:, s:], m.w.weight, m.w.pe, m.w.bias),
            ],
            axis=1,
        )
        np.testing.assert_allclose(m.forward(x), expected, rtol=0, atol=1e-12)
    same = MixerLayer.from_params((m.h.weight, m.h.pe, m.h.bias), (m.w.weight, m.w.pe, m.w.bias))
    np.testing.assert_array_equal(same.forward(x), m.forward(x))
    for bad in (0, 5, -1, True, 2.0):
        with pytest.raises(UserError, match=r"split must be an integer in 1\.\.4"):
            random_mixer(5, 6, 4, split=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(\.\.\., 5, 6, 4\) feature map"):
        m.forward(x.transpose(0, 1, 3, 2))


def test_float_mixer_equals_torch_operators_on_a_non_square_map():
    """The official torch ParC_operator pair (H=5, W=7, random parameters): no H/W mix-up hides
    behind a square map."""
    torch = pytest.importorskip("torch")
    from golden import parc_net as pn

    torch.manual_seed(0)
    gcc_h, gcc_w = pn.ParC_operator(3, "H", 5).double(), pn.ParC_operator(3, "W", 7).double()
    for module in (gcc_h, gcc_w):  # the official init leaves the bias at 0: give it values
        torch.nn.init.normal_(module.gcc_conv.bias)
    x = gaussian_maps((2, 6, 5, 7), seed=4)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        expected = torch.cat((gcc_h(xt[:, :3]), gcc_w(xt[:, 3:])), dim=1).numpy()

    def layer(module, name: str) -> FloatLayer:
        c = module.dim
        return FloatLayer.create(
            module.gcc_conv.weight.detach().numpy().reshape(c, -1),
            module.pe.detach().numpy().reshape(c, -1),
            module.gcc_conv.bias.detach().numpy(),
            name,
        )

    m = MixerLayer(layer(gcc_h, "H"), layer(gcc_w, "W"))
    np.testing.assert_allclose(m.forward(x), expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- checkpoints


def test_mixer_from_checkpoint_reads_both_halves():
    assert mixer_blocks(TRAINED) == ["stages.0.0", "stages.1.0", "stages.2.0"]
    for k, (c, n) in zip(STAGES, ((16, 56), (32, 28), (64, 14)), strict=True):
        m = mixer_from_checkpoint(TRAINED, f"stages.{k}.0")
        assert (m.shape, m.split, m.name) == ((c, n, n), c // 2, f"stages.{k}.0")
        assert (m.h.name, m.w.name) == (f"stages.{k}.0.gcc_H", f"stages.{k}.0.gcc_W")
        assert not np.array_equal(m.h.weight, m.w.weight)


def _save_state(path: Path, halves: dict[str, int], c: int = 2) -> Path:
    """A ParC-ConvNeXt state_dict (.npz) holding ``blk.gcc_<D>`` of length N for each D given."""
    rng = np.random.default_rng(0)
    state = {}
    for d, n in halves.items():
        shape = (c, 1, n, 1) if d == "H" else (c, 1, 1, n)
        pe_shape = (1, c, n, 1) if d == "H" else (1, c, 1, n)
        state[f"blk.gcc_{d}.gcc_conv.weight"] = rng.normal(size=shape)
        state[f"blk.gcc_{d}.gcc_conv.bias"] = rng.normal(size=c)
        state[f"blk.gcc_{d}.pe"] = rng.normal(size=pe_shape)
    np.savez(path, allow_pickle=False, **state)
    return path


def test_checkpoint_errors_are_one_line(tmp_path):
    m = mixer_from_checkpoint(_save_state(tmp_path / "hw.npz", {"H": 5, "W": 7}), "blk.")
    assert (m.height, m.width, m.split) == (5, 7, 2)  # each half's own N
    cases = [
        (
            TRAINED,
            "stages.3.0",
            r"no ParC-ConvNeXt block 'stages\.3\.0' .*blocks: stages\.0\.0, stages\.1\.0, stages\.2\.0",
        ),
        (TRAINED, "stages.0.0.gcc_H", r"no ParC-ConvNeXt block"),
        (_save_state(tmp_path / "h.npz", {"H": 5}), "blk", r"has blk\.gcc_H but no blk\.gcc_W.*blocks: none"),
        (_save_state(tmp_path / "w.npz", {"W": 5}), "blk", r"has blk\.gcc_W but no blk\.gcc_H"),
    ]
    for path, prefix, pattern in cases:
        with pytest.raises(UserError, match=pattern) as info:
            mixer_from_checkpoint(path, prefix)
        assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- layouts


def test_hwc_stream_order_and_round_trip():
    c, h, w = 3, 2, 4
    x = np.arange(c * h * w, dtype=np.int64).reshape(c, h, w) * 7 - 40
    seq = to_hwc_stream(x)
    assert seq.shape == (c * h * w,) and seq.dtype == x.dtype
    expected = [x[ci, hi, wi] for hi in range(h) for wi in range(w) for ci in range(c)]  # for h: for w: for c
    assert seq.tolist() == expected
    np.testing.assert_array_equal(from_hwc_stream(seq, c, h, w), x)
    batch = gaussian_maps((2, 5, c, h, w))
    streams = to_hwc_stream(batch)
    assert streams.shape == (2, 5, c * h * w)
    np.testing.assert_array_equal(streams[1, 3], to_hwc_stream(batch[1, 3]))
    np.testing.assert_array_equal(from_hwc_stream(streams, c, h, w), batch)
    with pytest.raises(ValueError, match="has 24 samples"):
        from_hwc_stream(seq[:-1], c, h, w)
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        to_hwc_stream(x[0])


def test_calibration_rows_are_each_halfs_lines():
    """H half: its columns, (-1, C_h, H); W half: its rows, (-1, C_w, W); as feature_to_rows cuts them."""
    x = gaussian_maps((3, 5, 6, 4))
    rows_h, rows_w = calibration_rows(x, 2, (5, 6, 4))
    np.testing.assert_array_equal(rows_h, feature_to_rows(x[:, :2], "H"))
    np.testing.assert_array_equal(rows_w, feature_to_rows(x[:, 2:], "W"))
    np.testing.assert_array_equal(rows_h[1 * 4 + 3, 1], x[1, 1, :, 3])  # image 1, column 3, channel 1
    np.testing.assert_array_equal(rows_w[2 * 6 + 5, 0], x[2, 2, 5, :])  # image 2, row 5, channel 2


# --------------------------------------------------------------------------- formats


def test_halves_share_the_input_and_output_formats():
    """The coarser of the halves' own formats, for both halves (quantize_mixer's rule)."""
    base = random_mixer(6, 7, 12, seed=5)
    m = MixerLayer(scaled(base.h, 1 / 16), scaled(base.w, 2.0), "m")
    x = gaussian_maps((4, 6, 7, 12), seed=6)
    x[:, :3] *= 8  # ParC-H: the larger inputs, ParC-W: the larger outputs
    qm = quantize_mixer(m, 8, x)
    rows_h, rows_w = calibration_rows(x, 3, m.shape)
    own_h, own_w = quantize_layer(m.h, 8, rows_h), quantize_layer(m.w, 8, rows_w)
    assert own_h.fmt.data.frac < own_w.fmt.data.frac and own_w.fmt.output.frac < own_h.fmt.output.frac
    data_frac = frac_for_range(float(np.abs(x).max()), 8)  # the whole map's maximum
    assert data_frac == own_h.fmt.data.frac
    output_frac = own_w.fmt.output.frac
    assert qm.data == qm.h.fmt.data == qm.w.fmt.data == FixedFormat(8, data_frac)
    assert qm.output == qm.h.fmt.output == qm.w.fmt.output
    assert qm.output.frac == output_frac
    assert qm.lost_bits == {"H": own_h.fmt.output.frac - output_frac, "W": 0} and qm.lost_bits["H"] > 0
    for q, layer, rows in ((qm.h, m.h, rows_h), (qm.w, m.w, rows_w)):  # == quantize_layer at the shared fracs
        again = quantize_layer(layer, 8, rows, data_frac=data_frac, output_frac=output_frac)
        np.testing.assert_array_equal(q.weight, again.weight)
        np.testing.assert_array_equal(q.offset, again.offset)
        assert q.fmt == again.fmt
    # the caller's fracs are used as given (and nothing was given up for sharing)
    fixed = quantize_mixer(m, 8, x, data_frac=3, output_frac=1)
    assert (fixed.data.frac, fixed.output.frac, fixed.lost_bits) == (3, 1, {"H": 0, "W": 0})
    # a shift cap: the coarser data format lowers one half's largest output frac; both follow
    capped = quantize_mixer(m, 8, x, output_frac=20)
    assert capped.h.fmt.output == capped.w.fmt.output and capped.output.frac < 20
    assert capped.to_dict()["output"] == capped.output.to_dict()
    with pytest.raises(ValueError, match="must share the stream's output format"):
        QuantizedMixer(own_h, quantize_layer(m.w, 8, rows_w, data_frac=own_h.fmt.data.frac))


def test_per_channel_scales_stay_per_half():
    """Folded real scales (in/out) per channel; the stream's integer formats still shared;
    quantize_map / dequantize_map honour input_lsb / output_lsb like the 1-D layer."""
    m = random_mixer(6, 7, 12, seed=7)
    x = gaussian_maps((4, 6, 7, 12), seed=8) * np.linspace(0.3, 2.0, 6)[:, None, None]
    qm = quantize_mixer(m, 8, x, out_scale="per-channel", in_scale="per-channel")
    assert qm.h.input_scale is not None and qm.w.output_scale is not None
    assert qm.h.fmt.data == qm.w.fmt.data and qm.h.fmt.output == qm.w.fmt.output
    np.testing.assert_array_equal(qm.input_lsb, np.concatenate([qm.h.input_lsb, qm.w.input_lsb]))
    xi, sat = quantize_map(qm, x)
    by_hand_h, _ = quantize_input(qm.h, feature_to_rows(x[:, :3], "H"))
    by_hand_w, _ = quantize_input(qm.w, feature_to_rows(x[:, 3:], "W"))
    np.testing.assert_array_equal(xi[:, :3], rows_to_feature(by_hand_h, "H", (4, 3, 7, 12)))
    np.testing.assert_array_equal(xi[:, 3:], rows_to_feature(by_hand_w, "W", (4, 3, 7, 12)))
    assert not sat.any()  # calibrated on these very maps
    y = mixer_model(qm, xi)
    np.testing.assert_array_equal(dequantize_map(qm, y), y * qm.output_lsb[:, None, None])
    np.testing.assert_array_equal(dequantize_map(qm, xi, "input"), xi * qm.input_lsb[:, None, None])
    err = np.abs(dequantize_map(qm, y) - m.forward(dequantize_map(qm, xi, "input"))) / qm.output_lsb[:, None, None]
    assert (err <= qm.float_error_bound()[:, None, None]).all()


def test_a_half_drowned_by_the_shared_output_format_is_refused():
    base = random_mixer(4, 7, 7, seed=9)
    m = MixerLayer(base.h, scaled(base.w, 1e4), "loud")
    x = gaussian_maps((2, 4, 7, 7), seed=10)
    with pytest.raises(UserError, match=r"loud: the ParC-H half's outputs reach only .* every ParC-H channel") as info:
        quantize_mixer(m, 8, x)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="every ParC-H channel would output 0"):
        quantize_mixer(m, 8)  # the weight bound says the same
    qm = quantize_mixer(m, 8, x, output_frac=-8)  # the caller's format: their choice
    assert qm.output.frac == -8
    # quantize_layer's own messages say which half and which map channels
    with pytest.raises(UserError, match=r"ParC-H half of loud \(map channels 0\.\.1\): acc_bits 99"):
        quantize_mixer(m, 8, x, output_frac=-8, acc_bits=99)


# --------------------------------------------------------------------------- integers


def _by_hand(qm: QuantizedMixer, xi: np.ndarray, kind: str) -> np.ndarray:
    """The 1-D integer models on each half's lines, cut and reassembled by golden.weights."""
    b, c, h, w = xi.shape
    s = qm.split
    out = []
    for q, d, part in ((qm.h, "H", xi[:, :s]), (qm.w, "W", xi[:, s:])):
        rows = feature_to_rows(part, d)
        if kind == "direct":
            y = direct_model(q, rows)[0]
        elif kind == "fft-padded":
            y = fast_parc_int_model(plan_fast_parc(q), rows).y
        else:
            y = native_model(plan_native(q), rows).y
        out.append(rows_to_feature(y, d, part.shape))
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("engine", ["direct", "fft-padded", "fft-native"])
def test_integer_mixer_is_the_1d_models_per_half(engine):
    """Non-square (H=7, W=12), uneven split (2 + 3), a batch: bit-exact to the 1-D models by hand."""
    m = random_mixer(5, 7, 12, split=2, seed=11)
    x = gaussian_maps((3, 5, 7, 12), seed=12)
    qm = quantize_mixer(m, 8, x)
    xi, _ = quantize_map(qm, x)
    y = mixer_model(qm, xi, engine)
    assert y.shape == xi.shape and y.dtype == np.int64
    np.testing.assert_array_equal(y, _by_hand(qm, xi, engine))
    eng = build_engine(qm, engine)
    np.testing.assert_array_equal(mixer_model(qm, xi[1], eng), y[1])  # (C, H, W) without a batch axis
    np.testing.assert_array_equal(eng.model(xi), y)


def test_engine_choice_and_input_checks():
    m = random_mixer(4, 9, 14, seed=13)  # 9 has no Winograd factorisation, 14 = 2 x 7 has
    qm = quantize_mixer(m, 8)
    eng = build_engine(qm, "fft")
    assert (eng.h.kind, eng.w.kind) == ("fft-padded", "fft-native")  # as hw.design's --arch fft
    assert (build_engine(qm, "direct").h.kind, build_engine(qm, "fft-padded").w.kind) == ("direct", "fft-padded")
    errors = [
        (lambda: build_engine(qm, "fft-native"), UserError, r"fft-native needs N .* ParC-H half has N=9"),
        (lambda: build_engine(qm, "winograd"), UserError, r"engine must be one of direct, fft, fft-padded"),
        (lambda: mixer_model(qm, np.zeros((4, 9, 14))), ValueError, "must be integers"),
        (lambda: mixer_model(qm, np.zeros((4, 14, 9), np.int64)), ValueError, r"\(\.\.\., 4, 9, 14\) feature map"),
        (lambda: mixer_model(qm, np.full((4, 9, 14), 128)), ValueError, "exceeds the 8-bit input format"),
        (lambda: mixer_model(quantize_mixer(m, 9), np.zeros((4, 9, 14), np.int64), eng), ValueError, "another"),
        (
            lambda: quantize_mixer(m, 8, np.zeros((2, 4, 14, 9))),
            ValueError,
            r"calibration must be a \(\.\.\., 4, 9, 14\)",
        ),
    ]
    for call, kind, pattern in errors:
        with pytest.raises(kind, match=pattern) as info:
            call()
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("bits", [8, 12])
def test_float_error_bound_holds_for_every_engine(bits):
    m = random_mixer(6, 14, 28, seed=14)
    x = gaussian_maps((6, 6, 14, 28), seed=15)
    qm = quantize_mixer(m, bits, x[:3])
    xi, _ = quantize_map(qm, x[3:])
    y_float = m.forward(dequantize_map(qm, xi, "input"))  # the bound excludes the input's own rounding
    for engine in ENGINES:
        eng = build_engine(qm, engine)
        yi, saturated = eng.run(xi)
        err = np.abs(dequantize_map(qm, yi) - y_float) / qm.output_lsb[:, None, None]
        bound = np.broadcast_to(eng.float_error_bound()[:, None, None], err.shape)
        assert (err[~saturated] <= bound[~saturated]).all(), engine
        assert saturated.mean() < 1e-3


# --------------------------------------------------------------------------- trained stages


@pytest.fixture(scope="module")
def trained():
    """Each stage's (first) block and its mixer input, i.e. the block's input, on real digits:
    16 training images (calibration) and 8 held-out test images."""
    torch = pytest.importorskip("torch")
    from golden import parc_net as pn

    torch.set_num_threads(1)
    model = pn.load_model(TRAINED)
    blocks = {k: dict(model.named_modules())[f"stages.{k}.0"] for k in STAGES}
    split = pn.load_split(pn.read_provenance(TRAINED)["data"]["split_seed"])

    def mixer_inputs(images: np.ndarray) -> dict[int, np.ndarray]:
        got: dict[int, list[np.ndarray]] = {k: [] for k in STAGES}
        hooks = [
            blocks[k].register_forward_pre_hook(lambda mod, inp, k=k: got[k].append(inp[0].detach().double().numpy()))
            for k in STAGES
        ]
        try:
            pn.evaluate(model, images)
        finally:
            for hook in hooks:
                hook.remove()
        return {k: np.concatenate(v) for k, v in got.items()}  # evaluate runs in batches

    calibration = mixer_inputs(pn.place_digits(split.train_images[:16], np.random.default_rng([0, 8])))
    test = mixer_inputs(pn.test_canvases(split)[:8])
    return blocks, calibration, test


@pytest.mark.parametrize("stage", STAGES)
def test_float_mixer_equals_the_trained_torch_block(trained, stage):
    """`mixer_from_checkpoint` + `MixerLayer.forward` == the official block's mixer (float64)."""
    import torch

    blocks, _, test = trained
    block = copy.deepcopy(blocks[stage]).double()
    x = test[stage]
    with torch.no_grad():
        expected = block.mixer(torch.from_numpy(x)).numpy()
    m = mixer_from_checkpoint(TRAINED, f"stages.{stage}.0")
    assert x.shape[1:] == m.shape
    np.testing.assert_allclose(m.forward(x), expected, rtol=0, atol=1e-12)
    assert np.abs(x).max() > 0.1  # real activations, not an empty background


@pytest.mark.parametrize("stage", STAGES)
def test_trained_stage_integer_vs_float(trained, stage):
    """8 bits, calibrated on training digits, run on held-out ones: within the documented
    bound (output LSBs) wherever nothing saturates, for the direct and the FFT engines."""
    _, calibration, test = trained
    m = mixer_from_checkpoint(TRAINED, f"stages.{stage}.0")
    qm = quantize_mixer(m, 8, calibration[stage])
    x = test[stage]
    xi, _ = quantize_map(qm, x)
    y_ref = m.forward(x)
    y_float = m.forward(dequantize_map(qm, xi, "input"))
    for engine in ("direct", "fft"):
        eng = build_engine(qm, engine)
        yi, saturated = eng.run(xi)
        y = dequantize_map(qm, yi)
        err = np.abs(y - y_float) / qm.output_lsb[:, None, None]
        bound = np.broadcast_to(eng.float_error_bound()[:, None, None], err.shape)
        assert (err[~saturated] <= bound[~saturated]).all()
        assert saturated.mean() < 1e-3
        print(
            f"stage {stage} C={m.channels} N={m.height} {engine}({eng.h.kind}): data frac {qm.data.frac}, "
            f"output frac {qm.output.frac}, lost bits {qm.lost_bits}; max error {err[~saturated].max():.2f} LSB "
            f"(bound {bound.max():.2f}); SQNR {sqnr_db(y_ref, y):.1f} dB end to end, "
            f"{sqnr_db(y_float, y):.1f} dB on the quantized input"
        )
        assert sqnr_db(y_ref, y) > 25.0  # measured 28.7 .. 30.3 dB at 8 bits


def test_docs_example_runs(monkeypatch):
    """docs/mixer.md's python block runs (and its assertion, the error bound, holds)."""
    monkeypatch.chdir(ROOT)  # it names weights/parc/model.pt
    text = (ROOT / "docs" / "mixer.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/mixer.md", "exec"), {})
