"""The integer Fast-ParC pipeline: against float Fast-ParC (error bound) and the direct engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.direct import accumulate, direct_model
from golden.fast_parc_int import (
    FftParams,
    fast_parc_int_model,
    fft_size,
    frame_rows,
    plan_fast_parc,
)
from golden.fft import bit_reverse_indices, fft_model
from golden.fixed import Rounding
from golden.parc import fast_parc
from golden.quant import FloatLayer, QuantizedLayer, quantize_input, quantize_layer, random_layer

CHANNELS = 8


def setup(n: int, bits: int, seed: int = 0, **quant_kwargs) -> tuple[QuantizedLayer, np.ndarray]:
    """A random layer quantized on Gaussian calibration data, plus Gaussian test rows."""
    layer = random_layer(n, CHANNELS, seed=seed + n + bits)
    rng = np.random.default_rng(seed + bits)
    q = quantize_layer(layer, bits, rng.normal(0, 1, (256, CHANNELS, n)), **quant_kwargs)
    xq, _ = quantize_input(q, rng.normal(0, 1, (256, CHANNELS, n)))
    return q, xq


def float_of_quantized(q: QuantizedLayer, xq: np.ndarray) -> np.ndarray:
    """golden.fast_parc on the dequantized layer and input, in output LSBs."""
    d = q.fmt.data.frac
    w = q.weight * np.exp2(-q.weight_frac)[:, None]
    pe = q.pe * 2.0**-d
    b = q.bias * np.exp2(-q.acc_frac.astype(float))
    y = fast_parc(xq * 2.0**-d, w, pe, b, axis=-1, channel_axis=xq.ndim - 2)
    return y * 2.0**q.fmt.output.frac


PAPER_CASES = [(n, bits) for n in (7, 14, 28, 56) for bits in (8, 12, 16)]


@pytest.mark.parametrize("n, bits", PAPER_CASES)
def test_matches_direct_engine_within_one_lsb(n: int, bits: int) -> None:
    q, xq = setup(n, bits)
    plan = plan_fast_parc(q)
    trace = fast_parc_int_model(plan, xq)
    want, _ = direct_model(q, xq)
    diff = np.abs(trace.y - want)
    assert not trace.fft_overflow.any(), "default widths overflowed on realistic data"
    assert np.mean(diff <= 1) >= 0.99
    assert diff.max() <= 2
    assert np.mean(diff == 0) >= 0.9  # guard bits: the FFT path mostly rounds to the same integer


@pytest.mark.parametrize("n, bits", PAPER_CASES)
def test_within_error_bound_of_float_fast_parc(n: int, bits: int) -> None:
    q, xq = setup(n, bits, seed=1)
    plan = plan_fast_parc(q)
    trace = fast_parc_int_model(plan, xq)
    ref = float_of_quantized(q, xq)
    ok = ~trace.saturated
    assert ok.mean() > 0.99
    err = np.abs(trace.y - ref)[ok]
    assert err.max() <= plan.error_bound()
    # the float reference is the exact integer accumulator, rescaled (float64 is exact enough)
    np.testing.assert_allclose(ref, accumulate(q, xq) * np.exp2(-q.shift.astype(float))[:, None], atol=1e-6)


@pytest.mark.parametrize("n, bits", [(7, 8), (28, 12), (56, 16)])
def test_error_rms_estimate_matches_measurement(n: int, bits: int) -> None:
    q, xq = setup(n, bits, seed=2)
    plan = plan_fast_parc(q)
    trace = fast_parc_int_model(plan, xq)
    y_exp, shift = plan.y_exp[:, None], q.shift[:, None]
    err = trace.o_re[..., :n] * 2.0 ** (y_exp - shift) - (accumulate(q, xq) - q.offset) * 2.0**-shift
    rms, est = float(np.sqrt(np.mean(err**2))), plan.error_rms(float(np.std(xq)))
    assert 0.5 * est <= rms <= 2 * est
    assert rms < 0.15  # the FFT path adds well under an output LSB of noise


def test_pipeline_composes_the_block_models() -> None:
    q, xq = setup(14, 10)
    plan = plan_fast_parc(q)
    p = plan.params
    assert p.m == 32 and p.forward.decimation == "dif" and p.inverse.decimation == "dit" and p.inverse.inverse
    trace = fast_parc_int_model(plan, xq[:4])
    frames = frame_rows(xq[:4], p.m)
    np.testing.assert_array_equal(frames[..., :14], xq[:4])
    np.testing.assert_array_equal(frames[..., 14:27], xq[:4, :, :13])
    assert not frames[..., 27:].any()
    np.testing.assert_array_equal(trace.frames, frames << p.input_shift)
    fre, fim, _ = fft_model(p.forward, trace.frames, np.zeros_like(trace.frames))
    np.testing.assert_array_equal(trace.x_re, fre)
    ore, oim, _ = fft_model(p.inverse, trace.p_re, trace.p_im)
    np.testing.assert_array_equal(trace.o_re, ore)
    # the IFFT output is real up to rounding noise, and the tails are linear-correlation terms
    assert np.abs(trace.o_im).max() < 64


def test_spectrum_rom_is_bit_reversed_conjugate_dft_of_the_kernel() -> None:
    q, _ = setup(7, 8)
    plan = plan_fast_parc(q)
    M = plan.params.m
    w = np.zeros((CHANNELS, M))
    w[:, :7] = q.weight
    h = np.conj(np.fft.fft(w, axis=-1)) * np.exp2(plan.spectrum_exp.astype(float))[:, None]
    rev = bit_reverse_indices(M)
    np.testing.assert_allclose(plan.spectrum_re, h.real[:, rev], atol=0.5)
    np.testing.assert_allclose(plan.spectrum_im, h.imag[:, rev], atol=0.5)
    lim = 1 << (plan.params.spectrum_bits - 1)
    assert np.abs(plan.spectrum_re).max() < lim and np.abs(plan.spectrum_im).max() < lim
    # the ROM of the widest channel uses its top bit: no precision left on the table
    assert max(np.abs(plan.spectrum_re).max(), np.abs(plan.spectrum_im).max()) >= lim // 2
    np.testing.assert_array_equal(plan.y_exp, q.shift - plan.params.guard_bits)


def test_default_widths_fit_dsp_ports_up_to_16_bits() -> None:
    for n in (7, 14, 28, 56):
        for bits in (8, 12, 16):
            p = FftParams.default(n, bits)
            assert p.m == fft_size(n) and p.m >= 2 * n - 1
            fwd, inv = p.forward, p.inverse
            assert p.twiddle_bits == 18 and p.spectrum_bits == 18
            # DIF multiplies a - b (input width + 1); DIT multiplies its input; X times the ROM
            assert all(fwd.stage_input_bits(s) + 1 <= 25 for s in range(fwd.stages) if not fwd.trivial(s))
            assert all(inv.stage_input_bits(s) <= 25 for s in range(inv.stages) if not inv.trivial(s))
            assert fwd.output_bits <= 25


def test_output_shift_below_guard_bits_aligns_the_offset_exactly() -> None:
    # output_frac = acc_frac: shift 0 for the finest channel, so E = -guard < 0 there
    base = random_layer(14, CHANNELS, seed=5)
    layer = FloatLayer.create(base.weight, pe=0.01 * base.pe, bias=0.01 * base.bias)  # offsets in range
    rng = np.random.default_rng(5)
    calib = rng.normal(0, 1, (64, CHANNELS, 14))
    probe = quantize_layer(layer, 12, calib, weight_bits=4)
    q = quantize_layer(layer, 12, calib, weight_bits=4, output_frac=int(probe.acc_frac.min()))
    assert q.shift.min() == 0
    plan = plan_fast_parc(q)
    assert plan.y_exp.min() < 0
    xq = rng.integers(-3, 4, (64, CHANNELS, 14))  # small rows: |corr| stays inside the output
    trace = fast_parc_int_model(plan, xq)
    want, sat = direct_model(q, xq)
    assert not sat.any() and not trace.saturated.any() and not trace.fft_overflow.any()
    assert np.abs(trace.y - want).max() <= 1
    assert np.mean(trace.y == want) > 0.9


@pytest.mark.parametrize("rounding", [Rounding.TRUNCATE, Rounding.HALF_UP])
def test_other_roundings_and_wrapping_follow_the_layer_format(rounding: Rounding) -> None:
    q, xq = setup(28, 10, rounding=rounding, saturating=False)
    plan = plan_fast_parc(q)
    assert plan.params.rounding is rounding
    trace = fast_parc_int_model(plan, xq)
    want, _ = direct_model(q, xq)
    assert np.mean(np.abs(trace.y - want) <= 1) >= 0.99
    ref = float_of_quantized(q, xq)
    ok = ~trace.saturated
    assert np.abs(trace.y - ref)[ok].max() <= plan.error_bound()


def test_mismatched_params_are_refused() -> None:
    q, _ = setup(7, 8)
    with pytest.raises(ValueError, match="N=14"):
        plan_fast_parc(q, FftParams.default(14, 8))
    with pytest.raises(ValueError, match="alias"):
        FftParams.default(14, 8, m=16)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 60),
    bits=st.sampled_from([4, 6, 8, 10, 12, 16]),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["gauss", "positive", "full-scale", "constant"]),
)
def test_any_input_forward_never_overflows_and_bound_holds(n: int, bits: int, seed: int, kind: str) -> None:
    layer = random_layer(n, 4, seed=seed)
    rng = np.random.default_rng(seed)
    q = quantize_layer(layer, bits, rng.normal(0, 1, (32, 4, n)))
    plan = plan_fast_parc(q)
    full = 1 << (bits - 1)
    if kind == "gauss":
        xq, _ = quantize_input(q, rng.normal(0, 1, (32, 4, n)))
    elif kind == "positive":
        xq, _ = quantize_input(q, np.abs(rng.normal(0, 2, (32, 4, n))))
    elif kind == "full-scale":
        xq = rng.choice([-full, full - 1], (32, 4, n))
    else:
        xq = np.full((32, 4, n), rng.choice([-full, full - 1]))
    trace = fast_parc_int_model(plan, xq)
    _, _, fwd_ovf = fft_model(plan.params.forward, trace.frames, np.zeros_like(trace.frames))
    assert not fwd_ovf.any(), "the forward FFT widths follow a worst-case bound"
    # IFFT/product saturation needs a correlation value (valid or tail) beyond 2**headroom x range
    corr_full = np.real(
        np.fft.ifft(np.fft.fft(frame_rows(xq, plan.params.m)) * np.conj(np.fft.fft(q.weight, plan.params.m)))
    )
    o_ideal = corr_full * np.exp2(-plan.y_exp.astype(float))[:, None]
    o_limit = 2.0 ** (plan.params.inverse.output_bits - 1)
    quiet = np.abs(o_ideal).max(axis=-1) < 0.9 * o_limit
    assert not trace.fft_overflow[quiet].any()
    ok = ~trace.saturated & ~trace.fft_overflow[..., None]
    ref = float_of_quantized(q, xq)
    assert np.all(np.abs(trace.y - ref)[ok] <= plan.error_bound())
    want, _ = direct_model(q, xq)
    assert np.all(np.abs(trace.y - want)[ok] <= 2)


def test_an_all_zero_kernel_does_not_cost_the_other_channels_rom_bits() -> None:
    # a pruned channel (w = 0) fits any ROM exponent; it must not lower the product shift
    base = random_layer(28, 4, seed=1)
    weight = base.weight.copy()
    weight[2] = 0
    rng = np.random.default_rng(0)
    calib, x = rng.normal(0, 1, (64, 4, 28)), rng.normal(0, 1, (256, 4, 28))
    full = plan_fast_parc(quantize_layer(base, 8, calib))
    q = quantize_layer(FloatLayer.create(weight, base.pe, base.bias), 8, calib)
    plan = plan_fast_parc(q)
    assert plan.product_shift == full.product_shift
    np.testing.assert_array_equal(plan.spectrum_exp[[0, 1, 3]], full.spectrum_exp[[0, 1, 3]])
    assert not plan.spectrum_re[2].any() and not plan.spectrum_im[2].any()
    np.testing.assert_array_equal(plan.y_exp, q.shift - plan.params.guard_bits)
    xq, _ = quantize_input(q, x)
    trace = fast_parc_int_model(plan, xq)
    want, _ = direct_model(q, xq)
    np.testing.assert_array_equal(trace.y[:, 2], want[:, 2])  # offset only: exact
    assert np.mean(trace.y == want) > 0.95


def test_plan_with_options_checks_ranges_and_names_options_as_the_caller_spells_them() -> None:
    from golden.cli import UserError
    from golden.fast_parc_int import plan_with_options

    q, _ = setup(7, 8)
    flags = {
        "input_shift": "--input-shift",
        "guard_bits": "--guard-bits",
        "m": "--fft-size",
        "twiddle_bits": "--twiddle-bits",
    }
    assert plan_with_options(q, {}).params == plan_fast_parc(q).params  # no options: the defaults
    with pytest.raises(UserError, match=r"^--input-shift must be in 0\.\.8; got -1$"):
        plan_with_options(q, {"input_shift": -1}, flags)
    with pytest.raises(UserError, match=r"^guard_bits must be in 0\.\.12"):  # no names: the keyword
        plan_with_options(q, {"guard_bits": 13})
    with pytest.raises(UserError, match="--fft-size must be a power of two in 16..64"):
        plan_with_options(q, {"m": 48}, flags)
    with pytest.raises(UserError, match="unknown FFT option 'gaurd_bits'"):
        plan_with_options(q, {"gaurd_bits": 4}, flags)
    # accuracy: blamed on the option whose reset fixes it, with the direction that helps
    with pytest.raises(
        UserError,
        match=r"^--twiddle-bits=6 makes the worst-case FFT error bound .*raise --twiddle-bits \(default 18\)$",
    ):
        plan_with_options(q, {"twiddle_bits": 6, "guard_bits": 3}, flags)
    plan = plan_with_options(q, {"twiddle_bits": 14, "m": 32}, flags)
    assert plan.params.m == 32 and plan.params.twiddle_bits == 14
    with pytest.raises(
        UserError, match=r"^--twiddle-bits=10 and --fft-size=32 make .* or lower --fft-size \(default 16\)$"
    ):
        plan_with_options(q, {"twiddle_bits": 10, "m": 32}, flags)  # each alone is within the limit


def test_fft_params_refuse_negative_shifts_and_overwide_spectrum_products() -> None:
    with pytest.raises(ValueError, match="input_shift must be >= 0"):
        FftParams.default(7, 8, input_shift=-1)
    with pytest.raises(ValueError, match="headroom_bits must be >= 0"):
        FftParams.default(7, 8, headroom_bits=-1)
    with pytest.raises(ValueError, match="guard_bits must be >= 0"):
        FftParams.default(7, 8, guard_bits=-2)
    with pytest.raises(ValueError, match="spectrum_bits must be 2..27"):
        FftParams.default(7, 8, spectrum_bits=60)


def test_a_pruned_channel_keeps_the_aligned_widths_small() -> None:
    """Issue 11: weights 1e-20 asked for an output shift of 72 and the FFT plan refused with
    'aligned accumulator exceeds 62 bits; lower guard_bits'. Clamped, it plans and is exact."""
    base = random_layer(7, 3, seed=4)
    weight = base.weight.copy()
    weight[1] = 1e-20
    q = quantize_layer(FloatLayer.create(weight, base.pe, np.array([0.1, 0.5, -0.1])), 8)
    assert q.shift[1] == q.fmt.max_shift
    plan = plan_fast_parc(q)
    xq = np.random.default_rng(4).integers(-128, 128, (32, 3, 7))
    trace = fast_parc_int_model(plan, xq)
    np.testing.assert_array_equal(trace.y[:, 1], direct_model(q, xq)[0][:, 1])
    assert (trace.y[:, 1] == round(0.5 * 2**q.fmt.output.frac)).all()
