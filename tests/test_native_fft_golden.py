"""The native (prime-factor) engine's integer model: within its derived bound of the exact
correlation, never overflowing, block by block the golden functions (golden/native_fft.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import winograd as W
from golden.bundle import default_bundle_path, load_bundle
from golden.direct import accumulate, direct_model
from golden.fft import complex_multiply
from golden.fixed import Rounding, round_shift, saturate
from golden.native_fft import NativeParams, NativePlan, block_names, multiply_counts, native_model, plan_native
from golden.quant import FloatLayer, QuantizedLayer, quantize_input, quantize_layer, random_layer

PAPER_SIZES = (7, 14, 28, 56, 12, 21)


def setup(n: int, bits: int, channels: int, seed: int = 0, rounding: Rounding = Rounding.HALF_EVEN):
    """A random layer quantized on Gaussian calibration rows, plus test rows: half Gaussian
    (what the layer sees), half uniform over the whole input range (saturating outputs)."""
    layer = random_layer(n, channels, seed=seed)
    rng = np.random.default_rng(seed + 1)
    q = quantize_layer(layer, bits, rng.normal(0, 1, (128, channels, n)), rounding=rounding)
    xg, _ = quantize_input(q, rng.normal(0, 1, (48, channels, n)))
    fmt = q.fmt.data
    xu = rng.integers(fmt.min_int, fmt.max_int + 1, (16, channels, n))
    return q, np.concatenate([xg, xu])


def exact_output(q: QuantizedLayer, x: np.ndarray) -> np.ndarray:
    """The float value the output rounds: (corr(w_q, x_q) + offset) / 2**shift (exact in float64)."""
    return accumulate(q, x) * np.exp2(-q.shift.astype(np.float64))[:, None]


def float_layer_output(layer: FloatLayer, q: QuantizedLayer, x: np.ndarray) -> np.ndarray:
    """The unquantized float layer on the dequantized input, in output LSBs."""
    return layer.forward(q.fmt.data.to_float(x)) * 2.0**q.fmt.output.frac


def check_against_references(plan: NativePlan, x: np.ndarray) -> np.ndarray:
    """The model's outputs obey the plan's bounds; returns |y - exact| (unsaturated samples)."""
    q = plan.layer
    trace = native_model(plan, x)
    assert not trace.overflow.any(), "an internal block saturated"
    exact = exact_output(q, x)
    ok = ~trace.saturated
    err = np.abs(trace.y - exact)
    assert np.all((err <= plan.error_bounds()[:, None]) | ~ok)
    direct, _ = direct_model(q, x)
    r_out = 1.0 if q.fmt.rounding is Rounding.TRUNCATE else 0.5
    assert np.abs(trace.y - direct).max() <= np.floor(plan.error_bound() + r_out)  # saturation included
    return err[ok]


@settings(max_examples=30, deadline=None)
@given(
    n=st.sampled_from(PAPER_SIZES),
    bits=st.sampled_from([8, 12, 16]),
    channels=st.integers(1, 5),
    rounding=st.sampled_from(list(Rounding)),
    seed=st.integers(0, 10_000),
)
def test_random_layers_within_the_derived_bound(
    n: int, bits: int, channels: int, rounding: Rounding, seed: int
) -> None:
    q, x = setup(n, bits, channels, seed, rounding)
    plan = plan_native(q)
    check_against_references(plan, x)
    # against the unquantized float layer: the direct engine's bound plus the pipeline's
    layer = random_layer(n, channels, seed=seed)
    trace = native_model(plan, x)
    ok = ~trace.saturated
    err = np.abs(trace.y - float_layer_output(layer, q, x))
    assert np.all((err <= (q.float_error_bound() + plan.pipeline_bound())[:, None]) | ~ok)


KERNELS = ("gaussian", "delta", "constant", "alternating", "sparse")


def structured_layer(n: int, channels: int, kind: str, seed: int) -> FloatLayer:
    """Kernels whose spectra are flat (delta), a single bin (constant), bin N/2 (alternating)
    or arbitrary (gaussian, sparse), with random_layer's PE and bias."""
    base = random_layer(n, channels, seed=seed)
    rng = np.random.default_rng(seed)
    w = base.weight.copy()
    if kind == "delta":
        w = np.zeros_like(w)
        w[np.arange(channels), rng.integers(0, n, channels)] = rng.choice([-0.3, 0.2], channels)
    elif kind == "constant":
        w = np.full_like(w, 0.05) * rng.choice([-1, 1], (channels, 1))
    elif kind == "alternating":
        w = 0.04 * np.where(np.arange(n) % 2, -1.0, 1.0)[None, :] * np.ones((channels, 1))
    elif kind == "sparse":
        w = w * (rng.random(w.shape) < 0.2)
    return FloatLayer.create(w, base.pe, base.bias)


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from(PAPER_SIZES + (24, 42, 15)),
    bits=st.sampled_from([6, 8, 12, 16]),
    channels=st.integers(1, 4),
    kind=st.sampled_from(KERNELS),
    overrides=st.fixed_dictionaries(
        {},
        optional={
            "const_bits": st.integers(6, 20),
            "spectrum_bits": st.integers(8, 20),
            "guard_bits": st.integers(0, 6),
            "input_shift": st.integers(0, 4),
            "frac_bits": st.integers(0, 3),
            "max_bits": st.integers(20, 30),
        },
    ),
    rounding=st.sampled_from(list(Rounding)),
    seed=st.integers(0, 10_000),
)
def test_the_bound_holds_for_any_parameters_and_kernels(
    n: int, bits: int, channels: int, kind: str, overrides: dict[str, int], rounding: Rounding, seed: int
) -> None:
    """Coarse constants, small ROMs, no guard bits, narrow caps: the matrices still bound
    every error and every width (the analysis, not the defaults, is under test)."""
    layer = structured_layer(n, channels, kind, seed)
    rng = np.random.default_rng(seed)
    q = quantize_layer(layer, bits, rng.normal(0, 1, (64, channels, n)), rounding=rounding)
    base = NativeParams.default(n, bits, output_bits=q.fmt.output.bits, rounding=rounding)
    get = lambda key: overrides.get(key, getattr(base, key))  # noqa: E731
    params = dataclasses.replace(
        base,
        const_bits=get("const_bits"),
        frac_bits=min(get("frac_bits"), get("const_bits")),
        spectrum_bits=get("spectrum_bits"),
        guard_bits=get("guard_bits"),
        input_shift=get("input_shift"),
        max_bits=get("max_bits"),
    )
    try:
        plan = plan_native(q, params)
    except ValueError as exc:  # a cap too narrow for these bits is refused, by name
        assert "max_bits" in str(exc)
        return
    x, _ = quantize_input(q, rng.normal(0, 1, (32, channels, n)))
    check_against_references(plan, np.concatenate([x, adversarial_rows(q)]))


@pytest.mark.parametrize("n, bits", [(n, b) for n in (56, 28) for b in (8, 12, 16)])
def test_trained_layers_within_one_lsb_of_float(n: int, bits: int) -> None:
    path = default_bundle_path(n)
    assert path is not None
    bundle = load_bundle(path)
    assert bundle.test is not None
    q = bundle.quantize(bits)
    x, _ = quantize_input(q, bundle.test)
    plan = plan_native(q)
    err = check_against_references(plan, x)
    assert err.max() <= 1.0  # the target, on every unsaturated test sample
    if bits <= 12:
        assert plan.error_bound() < 1.0  # and guaranteed for any input
    y = native_model(plan, x).y
    direct, _ = direct_model(q, x)
    assert np.mean(y == direct) >= 0.95 and np.abs(y - direct).max() <= 1
    ok = ~native_model(plan, x).saturated
    float_err = np.abs(y - float_layer_output(bundle.layer, q, x))
    assert np.all((float_err <= (q.float_error_bound() + plan.pipeline_bound())[:, None]) | ~ok)


def adversarial_rows(q: QuantizedLayer) -> np.ndarray:
    """Full-scale rows (..., C, N): rails, alternating signs, a pure tone (cos and sin) at every
    bin, the worst case of each bin's Re and Im (z = x_c + j x_d: Re Z[k] = sum x_c cos + x_d sin,
    so x_c follows the signs of cos and x_d those of sin), and each channel's correlation extremes."""
    n, c = q.fmt.n, q.channels
    lo, hi = q.fmt.data.min_int, q.fmt.data.max_int
    rail = lambda v: np.where(v >= 0, hi, lo)  # noqa: E731
    even = np.arange(c) % 2 == 0
    rows = [np.full((c, n), hi), np.full((c, n), lo), np.tile(np.where(np.arange(n) % 2, lo, hi), (c, 1))]
    t = np.arange(n)
    for k in range(n // 2 + 1):
        cos, sin = np.cos(2 * np.pi * k * t / n), np.sin(2 * np.pi * k * t / n)
        for wave in (cos, sin):
            rows.append(np.tile(np.clip(np.round(wave * hi), lo, hi), (c, 1)))
        rows.append(np.where(even[:, None], rail(cos), rail(sin)))  # Re Z[k] at its rail
        rows.append(np.where(even[:, None], rail(-sin), rail(cos)))  # Im Z[k] = sum x_d cos - x_c sin
    rows += [rail(q.weight), rail(-q.weight)]  # corr(w, x)[0] = +-sum |w| * full scale
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("n, bits, trained", [(56, 8, True), (28, 12, True), (21, 16, False), (7, 8, False)])
def test_full_scale_inputs_never_overflow_and_the_widths_are_needed(n: int, bits: int, trained: bool) -> None:
    if trained:
        path = default_bundle_path(n)
        assert path is not None
        q = load_bundle(path).quantize(bits)
    else:
        q, _ = setup(n, bits, 4, seed=3)
    plan = plan_native(q)
    x = adversarial_rows(q)
    trace = native_model(plan, x)
    assert not trace.overflow.any()
    check_against_references(plan, x)
    # the forward output and the inverse output reach their top bit: a bit less would overflow
    for block in (f"fwd{len(plan.params.factors) - 1}.out", f"inv{len(plan.params.factors) - 1}.out"):
        re, im = trace.blocks[block]
        w = plan.widths[block]
        assert max(np.abs(re).max(), np.abs(im).max()) >= 1 << (w - 2), block
        narrow = dataclasses.replace(plan, widths={**plan.widths, block: w - 1})
        assert native_model(narrow, x).overflow.any(), block


def test_pruned_channel_outputs_its_bias() -> None:
    q, x = setup(28, 8, 3)
    weight = q.weight.copy()
    weight[1] = 0
    bias = q.bias.copy()
    bias[1] = -5 << int(q.shift[1])  # exactly -5 output LSBs (offset = bias: the kernel is zero)
    pruned = dataclasses.replace(q, weight=weight, bias=bias)
    plan = plan_native(pruned)
    x = np.concatenate([x, adversarial_rows(pruned)])
    trace = native_model(plan, x)
    assert np.all(trace.y[:, 1] == -5) and not trace.overflow.any()
    direct, _ = direct_model(pruned, x)
    np.testing.assert_array_equal(trace.y[:, 1], direct[:, 1])
    check_against_references(plan, x)  # its pair-mate (channel 0) is unaffected


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
def test_odd_and_even_channel_counts(channels: int) -> None:
    q, x = setup(14, 10, channels, seed=7)
    plan = plan_native(q)
    trace = native_model(plan, x)
    pairs = (channels + 1) // 2
    assert trace.z_re.shape == (x.shape[0], pairs, 14) and trace.y.shape == x.shape
    if channels % 2:
        assert not trace.z_im[:, -1].any()  # the padded channel carries zeros
    np.testing.assert_array_equal(trace.z_re, x[:, 0::2] << plan.params.input_shift)
    check_against_references(plan, x)
    # each channel of a pair is independent of the other's data up to the rounding noise
    other = x.copy()
    other[:, 1::2] = np.flip(other[:, 1::2], axis=0)
    tr2 = native_model(plan, other)
    within = np.abs(tr2.y - exact_output(q, other)) <= plan.error_bounds()[:, None]
    assert np.all((within | tr2.saturated)[:, 0::2])
    np.testing.assert_array_equal(tr2.z_re, native_model(plan, x).z_re)  # channel 0's input unchanged


def test_blocks_compose_the_golden_functions() -> None:
    """What a hardware author tests block by block: every trace entry from the previous one."""
    q, x = setup(56, 8, 3, seed=11, rounding=Rounding.HALF_UP)
    plan = plan_native(q)
    p, pm = plan.params, plan.pfa
    tr = native_model(plan, x[:8])
    names = block_names(p.factors)
    d = len(p.factors)
    rnd = p.rounding

    def stage(prefix: str, s: int, data: tuple[np.ndarray, np.ndarray], inverse: bool) -> tuple[np.ndarray, np.ndarray]:
        ax = (d - 1 - s) if inverse else s
        r = p.factors[ax]
        sh = (plan.inverse_shifts if inverse else plan.forward_shifts)[s]
        f = (plan.inverse_frac_bits if inverse else plan.forward_frac_bits)[s]
        mv = lambda a: np.moveaxis(a, 2 + ax, -1)  # noqa: E731  (batch, pair, *factors)
        back = lambda a: np.moveaxis(a, -1, 2 + ax)  # noqa: E731
        u = W.pre_add(r, mv(data[0]), mv(data[1]))
        np.testing.assert_array_equal(tr.blocks[f"{prefix}{s}.operands"][0], back(u[0]))
        v = W.multiply_int(r, *u, const_bits=p.const_bits, rounding=rnd, frac_bits=f)
        np.testing.assert_array_equal(tr.blocks[f"{prefix}{s}.products"][1], back(v[1]))
        out = W.post_add(r, *v, inverse=inverse)
        want = [back(saturate(round_shift(o, sh + f, rnd), plan.widths[f"{prefix}{s}.out"])[0]) for o in out]
        np.testing.assert_array_equal(tr.blocks[f"{prefix}{s}.out"][0], want[0])
        np.testing.assert_array_equal(tr.blocks[f"{prefix}{s}.out"][1], want[1])
        # the module is dft_int: the stage is one rounding of the module output
        full = W.dft_int(
            r, mv(data[0]), mv(data[1]), const_bits=p.const_bits, rounding=rnd, inverse=inverse, frac_bits=f
        )
        np.testing.assert_array_equal(full[0], out[0])
        return tr.blocks[f"{prefix}{s}.out"]

    data = (pm.gather(tr.z_re, "time"), pm.gather(tr.z_im, "time"))
    for s in range(d):
        data = stage("fwd", s, data, False)
    np.testing.assert_array_equal(pm.scatter(data[0], "freq"), tr.spectrum_re)
    zr, zi = tr.spectrum_re, tr.spectrum_im
    k = np.arange(p.bins)
    m = (-k) % p.n
    sep_re, sep_im = tr.blocks["sep"]
    np.testing.assert_array_equal(sep_re[..., 0, :], round_shift(zr[..., k] + zr[..., m], plan.separation_shift, rnd))
    np.testing.assert_array_equal(sep_im[..., 1, :], round_shift(zr[..., m] - zr[..., k], plan.separation_shift, rnd))
    np.testing.assert_array_equal(sep_re[..., 1, :], round_shift(zi[..., k] + zi[..., m], plan.separation_shift, rnd))
    np.testing.assert_array_equal(sep_im[..., 0, :], round_shift(zi[..., k] - zi[..., m], plan.separation_shift, rnd))
    # the spectral product in the hardware's 3-multiply form with the stored (c, c + d, d - c)
    rom = lambda a: np.concatenate([a, np.zeros((1, p.bins), dtype=np.int64)]).reshape(2, 2, -1)  # noqa: E731
    c, cpd, dmc = rom(plan.rom_c), rom(plan.rom_c_plus_d), rom(plan.rom_d_minus_c)
    a, b = sep_re, sep_im
    k1, k2, k3 = c * (a + b), a * dmc, b * cpd
    prod_re, prod_im = tr.blocks["prod"]
    np.testing.assert_array_equal(prod_re, round_shift(k1 - k3, plan.product_shift, rnd))
    np.testing.assert_array_equal(prod_im, round_shift(k1 + k2, plan.product_shift, rnd))
    np.testing.assert_array_equal(prod_re, complex_multiply(a, b, c, cpd - c, plan.product_shift, rnd)[0])
    real_bins = [0, p.n // 2] if p.n % 2 == 0 else [0]
    assert not np.any(prod_im[..., real_bins])  # bins 0 and N/2 are real: 1 multiply each
    rec_re, rec_im = tr.blocks["rec"]
    pc, pd = (prod_re[..., 0, :], prod_im[..., 0, :]), (prod_re[..., 1, :], prod_im[..., 1, :])
    np.testing.assert_array_equal(rec_re[..., : p.bins], pc[0] - pd[1])
    np.testing.assert_array_equal(rec_im[..., p.bins :], (pd[0] - pc[1])[..., p.n - np.arange(p.bins, p.n)])
    data = (pm.gather(rec_re, "freq"), pm.gather(rec_im, "freq"))
    for s in range(d):
        data = stage("inv", s, data, True)
    np.testing.assert_array_equal(pm.scatter(data[1], "time"), tr.o_im)
    y_shift, off_shift, final = plan.align
    o = np.stack([tr.o_re, tr.o_im], axis=-2).reshape(8, -1, p.n)[:, : q.channels]
    np.testing.assert_array_equal(tr.acc, (o << y_shift[:, None]) + (q.offset << off_shift[:, None]))
    np.testing.assert_array_equal(tr.y, saturate(round_shift(tr.acc, final[:, None], q.fmt.rounding), 8)[0])
    assert list(tr.blocks) == names


@pytest.mark.parametrize("n", [7, 28, 56])
def test_spectrum_rom_holds_the_scaled_conjugate_spectrum(n: int) -> None:
    q, _ = setup(n, 12, 4, seed=2)
    plan = plan_native(q)
    h = np.conj(np.fft.fft(q.weight, axis=-1))[:, : n // 2 + 1] / n * np.exp2(plan.spectrum_exp.astype(float))[:, None]
    np.testing.assert_array_equal(plan.spectrum_re, np.round(h.real))
    np.testing.assert_array_equal(plan.spectrum_im, np.round(h.imag))
    words = np.stack([plan.rom_c, plan.rom_c_plus_d, plan.rom_d_minus_c])
    limit = (1 << (plan.params.spectrum_bits - 1)) - 1
    assert np.abs(words).max() <= limit  # all three stored words fit spectrum_bits
    assert np.abs(words).max(axis=(0, 2)).max() > limit // 2  # the widest channel uses the top bit
    np.testing.assert_array_equal(plan.y_exp, q.shift - plan.params.guard_bits)
    assert "product_shift_clamped" not in plan.notes


@pytest.mark.parametrize("n, bits", [(7, 8), (28, 12), (56, 16)])
def test_error_rms_estimate_matches_measurement(n: int, bits: int) -> None:
    q, x = setup(n, bits, 6, seed=4)
    x = x[:48]  # the Gaussian rows
    plan = plan_native(q)
    tr = native_model(plan, x)
    _, _, final = plan.align
    got = tr.acc * np.exp2(-final.astype(float))[:, None] - exact_output(q, x)
    rms, est = float(np.sqrt(np.mean(got**2))), plan.error_rms(float(np.std(x)))
    assert 0.6 * est <= rms <= 1.6 * est
    assert np.abs(got).max() <= plan.pipeline_bound()


def test_multiply_counts() -> None:
    counts = {n: multiply_counts(n) for n in (56, 28, 14, 7)}
    assert [counts[n]["general_per_row"] for n in (56, 28, 14, 7)] == [83, 41, 20, 10]
    assert counts[56]["general_per_sample"] == 83 / 56
    # constant multiplies: 7 eight-point modules x 2 + 8 seven-point modules x 8, re and im
    assert counts[56]["constant_real_per_transform"] == 2 * (7 * 2 + 8 * 8)
    assert counts[56]["module7_constant_multiplies"] == 8 and counts[56]["module8_constant_multiplies"] == 2


@pytest.mark.parametrize("n", [7, 14, 28, 56])
@pytest.mark.parametrize("bits", [8, 12, 16])
def test_default_widths_fit_dsp_operands_and_int64(n: int, bits: int) -> None:
    q, _ = setup(n, bits, 4, seed=5)
    plan = plan_native(q)
    cap = plan.params.max_bits
    for b, w in plan.widths.items():
        if b.endswith(".operands") or b == "prod.operand":
            assert w <= cap, b  # constant / data multiplier operands (pre-adds included)
        assert w <= 62, b
    assert plan.widths["z"] == bits + plan.params.input_shift
    assert plan.widths["sep"] + plan.params.spectrum_bits + 1 <= 62


def test_refusals() -> None:
    q, x = setup(14, 8, 2)
    with pytest.raises(ValueError, match="N=9"):
        NativeParams.default(9, 8)
    with pytest.raises(ValueError, match="N=28"):
        plan_native(q, NativeParams.default(28, 8))
    plan = plan_native(q)
    with pytest.raises(ValueError, match="input format"):
        native_model(plan, x + 1000)
    with pytest.raises(ValueError, match="coprime"):
        NativeParams(12, 8, (2, 2, 3))
