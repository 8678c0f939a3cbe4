"""Block `hw.csd.ConstantMultiplier`: RTL == `ConstantMultiplier.model` (the exact product) bit
for bit, for both implementations (CSD shift-add tree, DSP ``*``), and `csd_digits` is the
canonical signed-digit form.

"Is the hardware the model?": the block is a pure pipeline frozen by ``en``, so it runs under
random enable patterns (`amaranth_pipelines.run_enabled`: garbage on the input while disabled,
the output must hold), with inputs at their extremes (the most negative value included) and
constants of every kind: positive, negative, all digits negative (needs the final negation),
powers of two (no adder), zero, and the Q15 constants of the small DFTs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from amaranth_pipelines import run_enabled
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.csd import ConstantMultiplier, csd_digits, signed_bits


def operands(rng: np.random.Generator, bits: int, count: int) -> np.ndarray:
    """Signed ``bits`` values, a third of them at the extremes (the most negative included)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = rng.integers(lo, hi + 1, count)
    pick = rng.random(count)
    return np.where(pick < 0.2, lo, np.where(pick < 0.3, hi, v))


# --- csd_digits -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 40), 1 << 40))
def test_csd_digits_reconstruct_the_constant_without_adjacent_digits(c: int) -> None:
    digits = csd_digits(c)
    assert sum(s << k for s, k in digits) == c, f"csd_digits({c}) does not sum to {c}"
    assert all(s in (-1, 1) for s, _ in digits), f"csd_digits({c}): digits must be -1/+1"
    shifts = [k for _, k in digits]
    assert shifts == sorted(set(shifts)), f"csd_digits({c}): shifts must be distinct and ascending"
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:], strict=False)), (
        f"csd_digits({c}): adjacent nonzero digits"
    )


def test_csd_digits_have_the_fewest_nonzero_digits() -> None:
    """Against brute force: every signed-digit vector of 10 digits (3**10 of them) covers all
    |c| < 2**9 (whose canonical form has at most 10 digits); none may beat csd_digits."""
    n = 10
    vectors = np.array(list(itertools.product((-1, 0, 1), repeat=n)), dtype=np.int64)
    values = vectors @ (1 << np.arange(n, dtype=np.int64))
    weights = np.count_nonzero(vectors, axis=1)
    offset = 1 << n
    fewest = np.full(2 * offset, 99)
    np.minimum.at(fewest, values + offset, weights)
    for c in range(-(1 << 9) + 1, 1 << 9):
        assert len(csd_digits(c)) == fewest[c + offset], f"csd_digits({c}) is not of minimal weight"


def test_csd_digits_known_forms() -> None:
    assert csd_digits(0) == []
    assert csd_digits(7) == [(-1, 0), (1, 3)]  # 8 - 1, not 4 + 2 + 1
    assert csd_digits(-7) == [(1, 0), (-1, 3)]
    assert csd_digits(23170) == [(1, 1), (1, 7), (1, 9), (-1, 11), (-1, 13), (1, 15)]  # round(2**15 / sqrt 2)


def test_signed_bits() -> None:
    assert [
        signed_bits(0, 0),
        signed_bits(-1, 0),
        signed_bits(-128, 127),
        signed_bits(-129, 0),
        signed_bits(0, 128),
    ] == [1, 1, 8, 9, 9]


# --- the block --------------------------------------------------------------------------------

CASES = [
    # in_bits, constant, levels_per_register, extra latency, p_enable
    pytest.param(10, 23170, 1, 0, 0.6, id="cos-pi4-q15"),
    pytest.param(12, -5461, 1, 0, 0.5, id="minus-sixth-q15"),
    pytest.param(13, 15378, 2, 0, 0.7, id="k3-two-levels-per-register"),
    pytest.param(11, -5, 1, 0, 0.5, id="all-digits-negative"),
    pytest.param(9, 1 << 6, 1, 2, 0.6, id="power-of-two-padded"),
    pytest.param(8, -1, 1, 0, 0.8, id="minus-one"),
    pytest.param(8, 0, 1, 1, 0.5, id="zero"),
    pytest.param(16, 0x1B6DB, 1, 0, 0.7, id="dense-17-bit"),
]


@pytest.mark.parametrize("impl", ["csd", "dsp"])
@pytest.mark.parametrize("in_bits, constant, levels_per_register, extra, p_enable", CASES)
def test_constant_multiplier_rtl_equals_model_under_random_enable(
    impl: str, in_bits: int, constant: int, levels_per_register: int, extra: int, p_enable: float
) -> None:
    natural = ConstantMultiplier.natural_latency_of(constant, impl, levels_per_register)  # type: ignore[arg-type]
    dut = ConstantMultiplier(in_bits, constant, impl, latency=natural + extra, levels_per_register=levels_per_register)  # type: ignore[arg-type]
    assert dut.latency == natural + extra and dut.natural_latency == natural
    rng = np.random.default_rng(in_bits * 7 + abs(constant) % 97)
    n = 150
    a = operands(rng, in_bits, n)
    a[:2] = [-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1]
    want = dut.model(a)
    edges = n + dut.latency
    col = operands(rng, in_bits, edges)
    col[:n] = a
    got = run_enabled(
        dut,
        {"a": (dut.a, col)},
        {"p": dut.p},
        p_enable=p_enable,
        seed=in_bits,
        name=f"ConstantMultiplier({impl}, {constant})",
    )
    out = slice(dut.latency - 1, dut.latency - 1 + n)  # the edge that loads slot j into p
    np.testing.assert_equal(
        got["p"][out], want, err_msg=f"ConstantMultiplier({impl}, {constant}): p differs from a * C"
    )


def test_constant_multiplier_widths_and_adders() -> None:
    """``out_bits`` is exactly the product's range (the most negative input included), and
    the CSD tree has one adder per digit but the first (plus the negation of -5 = -4 - 1)."""
    mul = ConstantMultiplier(10, 23170)
    mul._MustUse__silence = True
    assert mul.out_bits == signed_bits(-512 * 23170, 511 * 23170) == 25
    assert mul.adders == 5 and mul.natural_latency == math.ceil(math.log2(6)) == 3
    neg = ConstantMultiplier(8, -128)
    neg._MustUse__silence = True
    assert neg.out_bits == 16, "(-128) * (-128) = 16384 needs 16 bits"
    five = ConstantMultiplier(8, -5)
    five._MustUse__silence = True
    assert five.adders == 2
    dsp = ConstantMultiplier(10, 23170, "dsp")
    dsp._MustUse__silence = True
    assert dsp.adders == 0 and dsp.latency == 2


def test_constant_multiplier_model_is_the_exact_product() -> None:
    mul = ConstantMultiplier(24, -0x1FFFFF)
    mul._MustUse__silence = True
    a = np.array([-(1 << 23), (1 << 23) - 1, 0, 1, -1])
    np.testing.assert_equal(mul.model(a), [x * -0x1FFFFF for x in a.tolist()])


def test_constant_multiplier_refuses_what_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="impl"):
        ConstantMultiplier(8, 3, "lut")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latency"):
        ConstantMultiplier(8, 23170, latency=1)
    with pytest.raises(ValueError, match="in_bits"):
        ConstantMultiplier(1, 3)
    with pytest.raises(ValueError, match="int64"):
        ConstantMultiplier(40, 1 << 30)
    with pytest.raises(ValueError, match="levels_per_register"):
        ConstantMultiplier(8, 3, levels_per_register=0)
