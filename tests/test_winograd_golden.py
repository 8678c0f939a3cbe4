"""Winograd small DFTs and Good-Thomas maps: the float algorithms are the DFT, the integer
modules stay within their stated rounding bounds and widths (golden/winograd.py, golden/pfa.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import winograd as W
from golden.fixed import Rounding
from golden.pfa import pfa_float, pfa_map, supported, supported_sizes

SIZES = W.MODULE_SIZES
ROUNDINGS = list(Rounding)
RNG = np.random.default_rng(13)


def dft_matrix(r: int) -> np.ndarray:
    n = np.arange(r)
    return np.exp(-2j * np.pi * np.outer(n, n) / r)


def random_ints(rng: np.random.Generator, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform ``bits``-bit integers with both rails present (the extremes matter for bounds)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    x = rng.integers(lo, hi + 1, shape)
    x.flat[0], x.flat[-1] = lo, hi
    return x


# --- float algorithms -----------------------------------------------------------------------


@pytest.mark.parametrize("r", SIZES)
def test_float_algorithm_is_the_dft(r: int) -> None:
    x = RNG.normal(size=(64, r)) + 1j * RNG.normal(size=(64, r))
    np.testing.assert_allclose(W.dft_float(r, x), np.fft.fft(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W.dft_float(r, x, inverse=True), r * np.fft.ifft(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W.module(r).matrix(), dft_matrix(r), rtol=0, atol=1e-12)
    np.testing.assert_allclose(W.module(r).matrix(inverse=True), np.conj(dft_matrix(r)), rtol=0, atol=1e-12)


def test_seven_point_has_the_eight_constants_of_winograd7_md() -> None:
    mod = W.module(7)
    shared_md = {  # /work/shared/WINOGRAD7.md, 15 digits
        "K0": -1 / 6,
        "K1": 0.282003578605016,
        "K2": -0.226149311315368,
        "K3": 0.055854267289648,
        "L0": 0.440958551844098,
        "L1": -0.064365476571265,
        "L2": 0.469603883766461,
        "L3": 0.405238407195196,
    }
    found = {s: c for s, c, t in zip(mod.const_symbols, mod.consts, mod.trivial, strict=True) if not t}
    assert mod.multiplies == 8 and len(found) == 8  # counted from the data structure
    assert found.keys() == shared_md.keys()
    for name, value in shared_md.items():
        assert abs(found[name] - value) < 1e-15, name
    assert all(abs(c) < 0.5 for c in found.values())
    assert W.constants(7, 17) == {k: round(v * 2**17) for k, v in found.items()}
    # two trivial products: x0 and S feed X0 = x0 + S and every other output without a multiply
    assert sum(mod.trivial) == 2


def test_eight_point_multiplies_only_by_cos_pi_over_4() -> None:
    mod = W.module(8)
    nontrivial = [c for c, t in zip(mod.consts, mod.trivial, strict=True) if not t]
    assert mod.multiplies == 2 and nontrivial == [math.cos(math.pi / 4)] * 2
    assert W.constants(8, 17) == {"c4": round(math.cos(math.pi / 4) * 2**17)}


@pytest.mark.parametrize(
    "r, multiplies, symbols",
    [
        (2, 0, set()),
        (3, 2, {"c1", "s1"}),
        (4, 0, set()),
        (5, 5, {"C1", "C2", "S1", "S2", "S3"}),
        (8, 2, {"c4"}),
    ],
)
def test_multiply_counts_and_constant_names(r: int, multiplies: int, symbols: set[str]) -> None:
    mod = W.module(r)
    assert mod.multiplies == multiplies and set(W.constants(r, 12)) == symbols
    assert all(c == 1.0 for c, t in zip(mod.consts, mod.trivial, strict=True) if t)
    # pre-adds are small integers, post-adds Gaussian integers (wiring, signs, shifts by 1)
    assert np.abs(mod.pre).max() <= 2 and np.abs(mod.post_re).max() <= 3 and np.abs(mod.post_im).max() <= 3


def test_describe_lists_constants_and_equations() -> None:
    text = W.module(7).describe()
    assert "8 constant multiplies" in text and "K0 = (h0 + h1 + h2)/3 = -1/6" in text
    assert "out  X1 = x0 +m0 +3*m1 -m3 -j*n0" in text


# --- integer modules ------------------------------------------------------------------------


def exact_scaled(r: int, x_re: np.ndarray, x_im: np.ndarray, const_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``2**F * matrix_q . x`` in exact integers (trivial products weigh 2**F)."""
    mod = W.module(r)
    c = np.where(mod.trivial, 1 << const_bits, mod.const_ints(const_bits))
    u_re, u_im = x_re @ mod.pre.T * c, x_im @ mod.pre.T * c
    return u_re @ mod.post_re.T - u_im @ mod.post_im.T, u_re @ mod.post_im.T + u_im @ mod.post_re.T


@settings(max_examples=300, deadline=None)
@given(
    r=st.sampled_from(SIZES),
    bits=st.integers(2, 16),
    const_bits=st.integers(2, 30),
    frac_bits=st.integers(0, 4),
    rounding=st.sampled_from(ROUNDINGS),
    seed=st.integers(0, 2**32 - 1),
)
def test_integer_module_within_its_rounding_bound(
    r: int, bits: int, const_bits: int, frac_bits: int, rounding: Rounding, seed: int
) -> None:
    frac_bits = min(frac_bits, const_bits)
    rng = np.random.default_rng(seed)
    x_re, x_im = random_ints(rng, bits, (32, r)), random_ints(rng, bits, (32, r))
    y_re, y_im = W.dft_int(r, x_re, x_im, const_bits=const_bits, rounding=rounding, frac_bits=frac_bits)
    e_re, e_im = exact_scaled(r, x_re, x_im, const_bits)  # |values| < 2**53: exact in int64 and float64
    scale = 1 << (const_bits - frac_bits)
    bound = W.rounding_error_bound(r, const_bits, rounding, frac_bits) * 2.0**const_bits
    err = np.maximum(np.abs(y_re * scale - e_re), np.abs(y_im * scale - e_im))
    assert err.max() <= bound
    if W.module(r).multiplies == 0:
        assert err.max() == 0  # 2 and 4 points: only adds, exact
    lo, hi = W.output_range(r, bits, const_bits, rounding, frac_bits)
    assert lo <= min(y_re.min(), y_im.min()) and max(y_re.max(), y_im.max()) <= hi
    # and against the true DFT: constant quantization plus rounding
    dft = (x_re + 1j * x_im) @ dft_matrix(r).T
    total = W.error_bound(r, 2.0 ** (bits - 1), const_bits, rounding, frac_bits)
    y = (y_re + 1j * y_im) / 2.0**frac_bits
    assert max(np.abs(y.real - dft.real).max(), np.abs(y.imag - dft.imag).max()) <= total + 1e-9


@pytest.mark.parametrize("r", [r for r in SIZES if W.module(r).multiplies])
def test_rounding_bound_is_reached_within_a_factor(r: int) -> None:
    """The worst case is a real one: random inputs come within 3x of it (modules with products)."""
    x_re, x_im = random_ints(RNG, 12, (20000, r)), random_ints(RNG, 12, (20000, r))
    y_re, y_im = W.dft_int(r, x_re, x_im, const_bits=12, rounding=Rounding.TRUNCATE)
    e_re, e_im = exact_scaled(r, x_re, x_im, 12)
    err = np.maximum(np.abs(y_re * 4096 - e_re), np.abs(y_im * 4096 - e_im)).max() / 4096
    assert W.rounding_error_bound(r, 12, Rounding.TRUNCATE) / 3 <= err


@pytest.mark.parametrize("r", SIZES)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_frac_bits_equal_a_left_shifted_input(r: int, rounding: Rounding) -> None:
    x_re, x_im = random_ints(RNG, 10, (256, r)), random_ints(RNG, 10, (256, r))
    for f in (1, 3):
        got = W.dft_int(r, x_re, x_im, const_bits=14, rounding=rounding, frac_bits=f)
        want = W.dft_int(r, x_re << f, x_im << f, const_bits=14, rounding=rounding)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("r", SIZES)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_inverse_is_the_swap_trick_bit_for_bit(r: int, rounding: Rounding) -> None:
    x_re, x_im = random_ints(RNG, 12, (512, r)), random_ints(RNG, 12, (512, r))
    inv_re, inv_im = W.dft_int(r, x_re, x_im, const_bits=16, rounding=rounding, inverse=True)
    sw_im, sw_re = W.dft_int(r, x_im, x_re, const_bits=16, rounding=rounding)  # swap in, swap out
    np.testing.assert_array_equal(inv_re, sw_re)
    np.testing.assert_array_equal(inv_im, sw_im)
    ref = r * np.fft.ifft(x_re + 1j * x_im, axis=-1)
    bound = W.error_bound(r, 2048.0, 16, rounding)
    assert max(np.abs(inv_re - ref.real).max(), np.abs(inv_im - ref.imag).max()) <= bound


@pytest.mark.parametrize("r", [3, 5, 7, 8])
def test_conjugate_trick_is_bit_exact_only_for_half_even(r: int) -> None:
    """Coarse constants (F = 4) make rounding ties common, where half-up is not odd either."""
    x_re, x_im = random_ints(RNG, 12, (2048, r)), random_ints(RNG, 12, (2048, r))
    for rounding in ROUNDINGS:
        inv = W.dft_int(r, x_re, x_im, const_bits=4, rounding=rounding, inverse=True)
        c_re, c_im = W.dft_int(r, x_re, -x_im, const_bits=4, rounding=rounding)
        same = np.array_equal(inv[0], c_re) and np.array_equal(inv[1], -c_im)
        assert same == (rounding is Rounding.HALF_EVEN), rounding


@pytest.mark.parametrize("r", SIZES)
@pytest.mark.parametrize("in_bits", [4, 8, 13])
def test_output_bits_hold_the_worst_input_and_are_tight(r: int, in_bits: int) -> None:
    """Per output and component, the input that drives it to each rail (signs of the matrix
    row): the width holds both, and one bit less would not."""
    m = W.module(r).matrix_q(17)
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    rows = []
    for part in (np.concatenate([m.real, -m.imag], axis=1), np.concatenate([m.imag, m.real], axis=1)):
        for sign in (1, -1):
            rows.append(np.where(sign * part >= 0, hi, lo))
    x = np.concatenate(rows)  # (4r, 2r): re inputs then im inputs
    y_re, y_im = W.dft_int(r, x[:, :r], x[:, r:], const_bits=17, rounding=Rounding.TRUNCATE)
    w = W.output_bits(r, in_bits)
    values = np.concatenate([y_re.ravel(), y_im.ravel()])
    assert values.min() >= -(1 << (w - 1)) and values.max() <= (1 << (w - 1)) - 1
    assert values.min() < -(1 << (w - 2)) or values.max() > (1 << (w - 2)) - 1


def test_signal_bounds_name_the_equations() -> None:
    b = W.signal_bounds(7)
    for name in ("S", "a0", "a1", "T", "e", "f", "c0", "c1", "r0", "q0", "prod n3", "X3"):
        assert name in b
    assert b["S"] == 6 and abs(max(b[f"X{k}"] for k in range(7)) - W.growth(7)) < 1e-12


def test_bad_arguments_are_refused() -> None:
    x = np.zeros((2, 7), dtype=np.int64)
    with pytest.raises(ValueError, match="const_bits"):
        W.dft_int(7, x, x, const_bits=1, rounding=Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="frac_bits"):
        W.dft_int(7, x, x, const_bits=4, rounding=Rounding.HALF_EVEN, frac_bits=5)
    with pytest.raises(ValueError, match="module size 8"):
        W.dft_int(8, x, x, const_bits=12, rounding=Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="no Winograd module"):
        W.module(9)
    big = np.full((1, 7), 1 << 40, dtype=np.int64)
    with pytest.raises(ValueError, match="int64"):
        W.dft_int(7, big, big, const_bits=30, rounding=Rounding.HALF_EVEN)


# --- Good-Thomas maps -----------------------------------------------------------------------


def test_supported_sizes() -> None:
    assert supported(56) == (8, 7) and supported(28) == (4, 7) and supported(14) == (2, 7)
    assert supported(7) == (7,) and supported(12) == (4, 3) and supported(21) == (3, 7)
    assert supported(42) == (2, 3, 7) and supported(84) == (4, 3, 7) and supported(24) == (8, 3)
    for n in (0, 1, 9, 11, 16, 18, 32, 49, 112):
        assert supported(n) is None, n
    assert supported_sizes(60) == [2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 15, 20, 21, 24, 28, 30, 35, 40, 42, 56, 60]


@pytest.mark.parametrize("n, n1, k1, k2", [(56, 7, 49, 8), (28, 7, 21, 8), (14, 7, 7, 8)])
def test_maps_are_the_architecture_tables(n: int, n1: int, k1: int, k2: int) -> None:
    pm = pfa_map(n)
    f1, f2 = pm.factors
    assert pm.input_coefficients == (n1, f1) and pm.output_coefficients == (k1, k2)
    i1, i2 = np.meshgrid(np.arange(f1), np.arange(f2), indexing="ij")
    np.testing.assert_array_equal(pm.input_index, (n1 * i1 + f1 * i2) % n)
    np.testing.assert_array_equal(pm.output_index, (k1 * i1 + k2 * i2) % n)
    # the 2-D DFT of the re-indexed input is the 1-D DFT at the mapped outputs
    x = RNG.normal(size=n) + 1j * RNG.normal(size=n)
    np.testing.assert_allclose(np.fft.fft2(x[pm.input_index]), np.fft.fft(x)[pm.output_index], atol=1e-12)


@pytest.mark.parametrize("n", [6, 7, 8, 12, 14, 15, 21, 24, 28, 42, 56, 84, 120])
def test_pfa_with_winograd_modules_is_the_dft(n: int) -> None:
    x = RNG.normal(size=(4, n)) + 1j * RNG.normal(size=(4, n))
    tol = 1e-12 * n
    np.testing.assert_allclose(pfa_float(x), np.fft.fft(x), rtol=0, atol=tol)
    np.testing.assert_allclose(pfa_float(x, inverse=True), n * np.fft.ifft(x), rtol=0, atol=tol)
    d = len(pfa_map(n).factors)
    np.testing.assert_allclose(pfa_float(x, axes_order=tuple(reversed(range(d)))), np.fft.fft(x), rtol=0, atol=tol)
    pm = pfa_map(n)
    np.testing.assert_array_equal(pm.scatter(pm.gather(np.arange(n), "time"), "time"), np.arange(n))
    np.testing.assert_array_equal(pm.scatter(pm.gather(np.arange(n), "freq"), "freq"), np.arange(n))


def test_factor_orders_and_refusals() -> None:
    x = RNG.normal(size=12) + 0j
    np.testing.assert_allclose(pfa_float(x, factors=(3, 4)), np.fft.fft(x), atol=1e-12)
    with pytest.raises(ValueError, match="coprime"):
        pfa_map(12, (2, 2, 3))
    with pytest.raises(ValueError, match="module sizes"):
        pfa_map(12, (2, 6))
    with pytest.raises(ValueError, match="not a product"):
        pfa_map(9)
