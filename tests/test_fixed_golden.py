"""Fixed-point formats, quantizer and the integer direct model (no hardware here)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.direct import accumulate, direct_model
from golden.fixed import FixedFormat, Rounding, frac_for_range, requantize, round_shift, saturate, wrap
from golden.parc import parc
from golden.quant import FloatLayer, ParcFormat, quantize_input, quantize_layer, random_layer


@settings(max_examples=200, deadline=None)
@given(v=st.integers(-(1 << 40), 1 << 40), s=st.integers(0, 20))
def test_round_shift_matches_exact_rational_rounding(v: int, s: int) -> None:
    import math
    from fractions import Fraction

    exact = Fraction(v, 1 << s)
    assert round_shift(v, s, Rounding.TRUNCATE) == math.floor(exact)
    assert round_shift(v, s, Rounding.HALF_UP) == math.floor(exact + Fraction(1, 2))
    assert round_shift(v, s, Rounding.HALF_EVEN) == round(exact)  # Python rounds Fractions half-even


def test_saturate_and_wrap_report_what_changed() -> None:
    v = np.array([-200, -128, 0, 127, 128, 300])
    sat, s_mask = saturate(v, 8)
    assert sat.tolist() == [-128, -128, 0, 127, 127, 127] and s_mask.tolist() == [1, 0, 0, 0, 1, 1]
    wr, w_mask = wrap(v, 8)
    assert wr.tolist() == [56, -128, 0, 127, -128, 44] and w_mask.tolist() == [1, 0, 0, 0, 1, 1]


@pytest.mark.parametrize("value,bits", [(1.0, 8), (0.75, 8), (3.9, 6), (1e-3, 12), (100.0, 16)])
def test_frac_for_range_is_the_tightest_fit(value: float, bits: int) -> None:
    fmt = FixedFormat(bits, frac_for_range(value, bits))
    _, clipped = fmt.quantize(np.array([value, -value]))
    assert not clipped.any()
    finer = FixedFormat(bits, fmt.frac + 2)  # two more fractional bits must overflow
    assert finer.quantize(np.array([value]))[1].any()


def test_fixed_format_rejects_nan_and_bad_widths() -> None:
    with pytest.raises(ValueError, match="NaN"):
        FixedFormat(8, 4).quantize(np.array([np.nan]))
    with pytest.raises(ValueError, match="width"):
        FixedFormat(0, 0)


def int_reference(q, xi: np.ndarray) -> np.ndarray:
    """Independent integer arithmetic: PE added before the correlation (no folding), via SciPy."""
    c, n = q.weight.shape
    out = np.empty(xi.shape, dtype=np.int64)
    for b in range(xi.shape[0]):
        for ch in range(c):
            u = (xi[b, ch] + q.pe[ch]).astype(np.float64)  # small ints: exact in float64
            acc = scipy.ndimage.correlate1d(u, q.weight[ch].astype(np.float64), mode="wrap", origin=-(n // 2))
            out[b, ch] = np.round(acc).astype(np.int64) + q.bias[ch]
    return out


@pytest.mark.parametrize("n", [7, 14, 28, 56])
@pytest.mark.parametrize("bits", [4, 8, 12, 16])
def test_folded_pe_equals_adding_pe_first(n: int, bits: int) -> None:
    rng = np.random.default_rng(n + bits)
    layer = random_layer(n, 3, seed=n)
    q = quantize_layer(layer, bits, rng.normal(size=(16, 3, n)))
    xi = rng.integers(q.fmt.data.min_int, q.fmt.data.max_int + 1, size=(4, 3, n))
    np.testing.assert_array_equal(accumulate(q, xi), int_reference(q, xi))


@pytest.mark.parametrize("n", [7, 14, 28, 56])
@pytest.mark.parametrize("bits", [4, 8, 12, 16])
@pytest.mark.parametrize("per_channel", [True, False])
def test_integer_model_is_within_half_an_lsb_of_float_on_its_own_inputs(n: int, bits: int, per_channel: bool) -> None:
    """With the quantized weights/inputs as the float inputs, only the output rounding remains."""
    rng = np.random.default_rng(3)
    layer = random_layer(n, 4, seed=1)
    x = rng.normal(size=(32, 4, n))
    q = quantize_layer(layer, bits, x, per_channel=per_channel)
    xi, _ = quantize_input(q, x)
    y, saturated = direct_model(q, xi)
    w = q.weight * np.exp2(-q.weight_frac)[:, None]
    pe = q.fmt.data.to_float(q.pe)
    b = q.bias * np.exp2(-q.acc_frac)
    yf = parc(q.fmt.data.to_float(xi), w, pe, b, channel_axis=1)
    err = np.abs(q.fmt.output.to_float(y) - yf) / q.fmt.output.lsb
    assert err[~saturated].max() <= 0.5 + 1e-9
    assert saturated.mean() < 0.01


def test_integer_model_error_against_the_float_layer_is_small() -> None:
    """Weight and input quantization on top: a few LSBs at 8 bits on calibration-range data."""
    rng = np.random.default_rng(4)
    layer = random_layer(56, 4, seed=2)
    x = rng.normal(size=(64, 4, 56))
    q = quantize_layer(layer, 8, x)
    y, _ = direct_model(q, quantize_input(q, x)[0])
    err = np.abs(q.fmt.output.to_float(y) - layer.forward(x)) / q.fmt.output.lsb
    assert err.mean() < 1.0 and err.max() < 4.0


@pytest.mark.parametrize("rounding", list(Rounding))
def test_rounding_modes_change_the_result(rounding: Rounding) -> None:
    rng = np.random.default_rng(5)
    layer = random_layer(14, 2)
    q = quantize_layer(layer, 8, rounding=rounding)
    xi = rng.integers(-128, 128, size=(200, 2, 14))
    acc = accumulate(q, xi)
    y, _ = direct_model(q, xi)
    want, _ = requantize(acc, q.shift[:, None], 8, rounding, True)
    np.testing.assert_array_equal(y, want)
    others = [r for r in Rounding if r is not rounding]
    assert all(not np.array_equal(requantize(acc, q.shift[:, None], 8, r, True)[0], y) for r in others)


def test_quantizer_reports_saturation() -> None:
    layer = FloatLayer.create(np.full((1, 8), 0.01), pe=np.full((1, 8), 50.0), bias=np.zeros(1))
    q = quantize_layer(layer, 8, np.full((2, 1, 8), 0.5))
    assert q.saturated["pe"] == 8 and q.saturated["weight"] == 0


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: quantize_layer(random_layer(8, 2), 3), "bits"),
        (lambda: quantize_layer(random_layer(8, 2), 8, np.ones((4, 3, 8))), "calibration"),
        (lambda: quantize_layer(random_layer(8, 2), 8, np.full((4, 2, 8), np.inf)), "NaN"),
        (lambda: direct_model(quantize_layer(random_layer(8, 2), 8), np.ones((1, 2, 8))), "integers"),
        (lambda: direct_model(quantize_layer(random_layer(8, 2), 8), np.ones((1, 2, 7), dtype=int)), "must be"),
        (lambda: direct_model(quantize_layer(random_layer(8, 2), 8), np.full((1, 2, 8), 500)), "exceeds"),
        (lambda: FloatLayer.create(np.ones((2, 8)), pe=np.ones((2, 7))), "pe"),
        (lambda: FloatLayer.create(np.ones(8)), "weight"),
        (lambda: ParcFormat(1, FixedFormat(8, 4), FixedFormat(8, 4), 8), "N must be"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("bits", [4, 8, 12, 16, 24])
def test_weight_scale_clamp_leaves_ordinary_layers_alone(bits: int) -> None:
    """The clamp to ParcFormat.max_shift (issue 11) must only touch negligible channels: the
    shipped trained layers and random layers keep their full weight precision."""
    from golden.bundle import default_bundle_path, load_bundle

    shipped = [load_bundle(path) for path in map(default_bundle_path, (28, 56)) if path is not None]
    assert len(shipped) == 2
    layers = [(bundle.layer, bundle.calibration) for bundle in shipped]
    layers += [(random_layer(n, 8, seed=n), None) for n in (7, 14, 56)]
    for layer, calib in layers:
        q = quantize_layer(layer, bits, calib)
        want = [frac_for_range(float(m), bits) for m in np.abs(layer.weight).max(axis=1)]
        assert q.weight_frac.tolist() == want
        assert (q.shift < q.fmt.max_shift).all()


@pytest.mark.parametrize("bits", [4, 8, 16, 24])
@pytest.mark.parametrize("sign", [1, -1])
def test_full_scale_bias_of_a_pruned_channel_fits_at_max_shift(bits: int, sign: int) -> None:
    """max_shift is defined so a bias as large as the output range still fits the accumulator."""
    bias = sign * np.array([0.9, 0.5])
    layer = FloatLayer.create(np.full((2, 7), 1e-20), bias=bias)
    q = quantize_layer(layer, bits, output_frac=bits - 1)  # output range [-1, 1)
    assert (q.shift == q.fmt.max_shift).all() and q.saturated["bias"] == 0
    y, sat = direct_model(q, np.full((1, 2, 7), q.fmt.data.max_int))
    assert not sat.any()
    np.testing.assert_array_equal(y[0], np.round(bias * 2 ** (bits - 1))[:, None].repeat(7, axis=1))
