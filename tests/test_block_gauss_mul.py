"""Block `hw.gauss_mul.GaussMultiplier`: RTL == `GaussMultiplier.model` bit for bit, with 3 multiplies.

"Is the hardware the model?": the block is a pure pipeline frozen by ``en``, so it runs under
random enable patterns (`amaranth_pipelines.run_enabled`: garbage on the inputs while
disabled, outputs must hold), for every pipeline depth, both fits (saturate, wrap), every
rounding, with data and constants at their extremes (most negative values, full scale).
"Is it the Gauss block?": the elaborated design has exactly 3 ``$mul`` cells, where
`ComplexMultiplier` has 4. "Is the model the 4-product one?": it equals
`ComplexMultiplier.model` on the same operands.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth_pipelines import run_enabled

from golden.fixed import Rounding
from hw.complex_mul import ComplexMultiplier
from hw.gauss_mul import GaussMultiplier, gauss_triple, hard_latency


def operands(rng: np.random.Generator, bits: int, count: int) -> np.ndarray:
    """Signed ``bits`` values, a third of them at the extremes (the most negative included)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = rng.integers(lo, hi + 1, count)
    pick = rng.random(count)
    return np.where(pick < 0.2, lo, np.where(pick < 0.3, hi, v))


CASES = [
    # a_bits, h_bits, out_bits, shift, rounding, saturate, depth, p_enable
    pytest.param(10, 12, 11, 10, Rounding.HALF_EVEN, True, 4, 0.6, id="twiddle-depth4-sat"),
    pytest.param(9, 12, 9, 10, Rounding.TRUNCATE, False, 4, 0.5, id="depth4-wrap"),
    pytest.param(16, 18, 16, 17, Rounding.HALF_UP, True, 4, 0.8, id="spectral-product-depth4"),
    pytest.param(8, 8, 14, 0, Rounding.HALF_UP, True, 3, 0.7, id="depth3-noshift-sat"),
    pytest.param(7, 5, 6, 3, Rounding.HALF_EVEN, False, 2, 0.4, id="depth2-wrap"),
    pytest.param(6, 6, 5, 4, Rounding.TRUNCATE, True, 1, 0.5, id="depth1-sat"),
    pytest.param(5, 7, 7, 5, Rounding.HALF_EVEN, True, 3, 0.5, id="depth3-half-even-sat"),
    pytest.param(6, 4, 5, 2, Rounding.TRUNCATE, False, 1, 0.6, id="depth1-wrap"),
]


@pytest.mark.parametrize("a_bits, h_bits, out_bits, shift, rounding, saturate, depth, p_enable", CASES)
def test_gauss_multiplier_rtl_equals_model_under_random_enable(
    a_bits: int, h_bits: int, out_bits: int, shift: int, rounding: Rounding, saturate: bool, depth: int, p_enable: float
) -> None:
    dut = GaussMultiplier(a_bits, h_bits, out_bits, shift, rounding, saturate=saturate, depth=depth)
    assert dut.latency == depth and dut.multipliers == 3
    assert dut.h_delay == dut.b_delay == (1 if depth == 4 else 0)
    rng = np.random.default_rng(a_bits * 100 + h_bits * 10 + depth)
    n = 300
    a_re, a_im = operands(rng, a_bits, n), operands(rng, a_bits, n)
    c, d = operands(rng, h_bits, n), operands(rng, h_bits, n)
    # the corners of the product: every sign of full-scale data times every full-scale constant
    lo_a, hi_a, lo_h, hi_h = (
        -(1 << (a_bits - 1)),
        (1 << (a_bits - 1)) - 1,
        -(1 << (h_bits - 1)),
        (1 << (h_bits - 1)) - 1,
    )
    corners = np.array(np.meshgrid([lo_a, hi_a], [lo_a, hi_a], [lo_h, hi_h], [lo_h, hi_h])).reshape(4, -1)
    a_re[:16], a_im[:16], c[:16], d[:16] = corners
    want_re, want_im, want_clip = dut.model(a_re, a_im, c, d)
    assert want_clip.any() and not want_clip.all(), "the case must exercise both the clipped and the exact path"
    _, c_plus_d, d_minus_c = gauss_triple(c, d)

    # slot j: a on enabled edge j, the triple on edge j + h_delay; random words fill the rest
    edges = n + dut.latency + dut.h_delay

    def column(values: np.ndarray, at: int, bits: int) -> np.ndarray:
        col = operands(rng, bits, edges)
        col[at : at + n] = values
        return col

    got = run_enabled(
        dut,
        {
            "a.re": (dut.a.re, column(a_re, 0, a_bits)),
            "a.im": (dut.a.im, column(a_im, 0, a_bits)),
            "c": (dut.c, column(c, dut.h_delay, h_bits)),
            "c_plus_d": (dut.c_plus_d, column(c_plus_d, dut.h_delay, h_bits + 1)),
            "d_minus_c": (dut.d_minus_c, column(d_minus_c, dut.h_delay, h_bits + 1)),
        },
        outputs={"re": dut.p.re, "im": dut.p.im},
        combinational={"clipping": dut.clipping},
        p_enable=p_enable,
        seed=depth,
    )
    out = slice(dut.latency - 1, dut.latency - 1 + n)  # the edge that loads slot j into p
    np.testing.assert_equal(got["re"][out], want_re, err_msg="GaussMultiplier: p.re differs from model")
    np.testing.assert_equal(got["im"][out], want_im, err_msg="GaussMultiplier: p.im differs from model")
    np.testing.assert_equal(
        got["clipping"][out], want_clip.astype(np.int64), err_msg="GaussMultiplier: clipping differs from model"
    )


def mul_cells(block) -> int:
    """``$mul`` cells in the elaborated design (RTLIL text, every submodule included)."""
    return len(re.findall(r"^\s*cell \$mul\b", rtlil.convert(block), flags=re.MULTILINE))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_gauss_multiplier_uses_three_multiplies(depth: int) -> None:
    gauss = GaussMultiplier(16, 18, 16, 17, Rounding.HALF_EVEN, depth=depth)
    assert mul_cells(gauss) == gauss.multipliers == 3
    # the counter sees every multiply: 4 on the 4-product block (at depth >= 2; its depth-1
    # form repeats each product expression per use in RTLIL, for yosys's opt_merge to fold)
    assert mul_cells(ComplexMultiplier(16, 18, 16, 17, Rounding.HALF_EVEN, depth=max(depth, 2))) == 4


def test_gauss_model_is_the_four_product_model() -> None:
    rng = np.random.default_rng(7)
    for rounding in Rounding:
        for saturate in (True, False):
            g = GaussMultiplier(12, 10, 11, 9, rounding, saturate=saturate)
            f = ComplexMultiplier(12, 10, 11, 9, rounding, saturate=saturate)
            g._MustUse__silence = f._MustUse__silence = True  # models only, never elaborated
            ops = [operands(rng, 12, 500), operands(rng, 12, 500), operands(rng, 10, 500), operands(rng, 10, 500)]
            for got, want in zip(g.model(*ops), f.model(*ops), strict=True):
                np.testing.assert_equal(got, want)


def test_gauss_triple_is_what_the_products_need() -> None:
    c, d = np.array([-512, 511, 0, -3]), np.array([-512, -512, 511, 7])
    cc, s, t = GaussMultiplier.gauss_triple(c, d)
    np.testing.assert_equal(cc, c)
    np.testing.assert_equal(s, c + d)
    np.testing.assert_equal(t, d - c)
    ar, ai = 37, -100
    assert np.all(cc * (ar + ai) - ai * s == ar * c - ai * d)
    assert np.all(cc * (ar + ai) + ar * t == ar * d + ai * c)


def test_gauss_multiplier_refuses_what_it_cannot_build() -> None:
    for depth in (0, 5):
        with pytest.raises(ValueError, match="depth"):
            GaussMultiplier(8, 8, 8, 0, Rounding.TRUNCATE, depth=depth)
    with pytest.raises(ValueError, match="widths"):
        GaussMultiplier(1, 8, 8, 0, Rounding.TRUNCATE)
    with pytest.raises(ValueError, match="shift"):
        GaussMultiplier(8, 8, 8, -1, Rounding.TRUNCATE)
    with pytest.raises(ValueError, match="int64"):
        GaussMultiplier(40, 27, 16, 20, Rounding.TRUNCATE)


HARD_CASES = [
    # a_bits, h_bits, triple_bits, out_bits, shift, rounding, saturate, p_enable
    pytest.param(18, 18, 18, 16, 18, Rounding.HALF_EVEN, True, 0.7, id="native-n56-8bit"),
    pytest.param(9, 7, 8, 9, 6, Rounding.TRUNCATE, False, 0.5, id="wrap-triple-wide"),
    pytest.param(6, 6, 6, 5, 4, Rounding.HALF_UP, True, 0.6, id="small-half-up"),
    pytest.param(18, 18, 19, 16, 18, Rounding.HALF_EVEN, True, 0.6, id="kh-one-tile-k2-two"),  # padded in step
    pytest.param(20, 22, 22, 19, 21, Rounding.HALF_EVEN, True, 0.7, id="native-16bit-tiled"),  # 4 tiles each
]


@pytest.mark.parametrize("a_bits, h_bits, triple_bits, out_bits, shift, rounding, saturate, p_enable", HARD_CASES)
def test_hard_gauss_multiplier_rtl_equals_model_under_random_enable(
    a_bits: int,
    h_bits: int,
    triple_bits: int,
    out_bits: int,
    shift: int,
    rounding: Rounding,
    saturate: bool,
    p_enable: float,
) -> None:
    """The clock-rate pipeline (``target``): 3 `hw.target.Multiplier`, the pre-add split into
    ``2 s_hi + s_lo`` (odd and even sums, both extremes), the model's integers bit for bit."""
    dut = GaussMultiplier(
        a_bits, h_bits, out_bits, shift, rounding, saturate=saturate, target="generic", triple_bits=triple_bits
    )
    assert dut.latency == hard_latency(a_bits, h_bits, triple_bits) and dut.h_delay == 1
    rng = np.random.default_rng(a_bits * 10 + h_bits)
    n = 300
    a_re, a_im = operands(rng, a_bits, n), operands(rng, a_bits, n)
    # a constant whose triple fits triple_bits: c and d one bit narrower when the triple is
    c, d = operands(rng, triple_bits - 1, n), operands(rng, triple_bits - 1, n)
    lo_a, hi_a = -(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1
    lo_h, hi_h = -(1 << (triple_bits - 2)), (1 << (triple_bits - 2)) - 1
    corners = np.array(np.meshgrid([lo_a, hi_a], [lo_a, hi_a], [lo_h, hi_h], [lo_h, hi_h])).reshape(4, -1)
    a_re[:16], a_im[:16], c[:16], d[:16] = corners
    want_re, want_im, want_clip = dut.model(a_re, a_im, c, d)
    _, c_plus_d, d_minus_c = gauss_triple(c, d)
    edges = n + dut.latency + dut.h_delay

    def column(values: np.ndarray, at: int, bits: int) -> np.ndarray:
        col = operands(rng, bits, edges)
        col[at : at + n] = values
        return col

    got = run_enabled(
        dut,
        {
            "a.re": (dut.a.re, column(a_re, 0, a_bits)),
            "a.im": (dut.a.im, column(a_im, 0, a_bits)),
            "c": (dut.c, column(c, 1, h_bits)),
            "c_plus_d": (dut.c_plus_d, column(c_plus_d, 1, triple_bits)),
            "d_minus_c": (dut.d_minus_c, column(d_minus_c, 1, triple_bits)),
        },
        outputs={"re": dut.p.re, "im": dut.p.im},
        combinational={"clipping": dut.clipping},
        p_enable=p_enable,
        seed=a_bits,
    )
    out = slice(dut.latency - 1, dut.latency - 1 + n)
    np.testing.assert_equal(got["re"][out], want_re, err_msg="hard GaussMultiplier: p.re differs from model")
    np.testing.assert_equal(got["im"][out], want_im, err_msg="hard GaussMultiplier: p.im differs from model")
    np.testing.assert_equal(got["clipping"][out], want_clip.astype(np.int64))
    assert mul_cells(dut) == 3
    widths = [int(w) for w in re.findall(r"cell \$mul .*?parameter \\A_WIDTH (\d+)", rtlil.convert(dut), re.S)]
    assert max(widths) <= max(a_bits, h_bits, triple_bits), f"a multiplier operand wider than the data: {widths}"
