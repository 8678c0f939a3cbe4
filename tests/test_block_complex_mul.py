"""Block `hw.complex_mul.ComplexMultiplier`: RTL == `ComplexMultiplier.model` bit for bit.

"Is the hardware the model?": the block is a pure pipeline frozen by ``en``, so it runs under
random enable patterns (`amaranth_pipelines.run_enabled`: garbage on the inputs while
disabled, outputs must hold), for every pipeline depth, both fits (saturate, wrap), every
rounding, with operands at their extremes (most negative values included).
"Is the model accurate?": with hypothesis, the unclipped model is the exact complex product
within the rounding's error.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from amaranth_pipelines import run_enabled
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.fixed import Rounding
from hw.complex_mul import ComplexMultiplier, hard_latency


def operands(rng: np.random.Generator, bits: int, count: int) -> np.ndarray:
    """Signed ``bits`` values, a third of them at the extremes (the most negative included)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = rng.integers(lo, hi + 1, count)
    pick = rng.random(count)
    return np.where(pick < 0.2, lo, np.where(pick < 0.3, hi, v))


CASES = [
    # a_bits, b_bits, out_bits, shift, rounding, saturate, depth (0: hard multipliers), p_enable
    pytest.param(10, 12, 11, 10, Rounding.HALF_EVEN, True, 0, 0.6, id="hard-dif-twiddle-sat"),
    pytest.param(9, 12, 10, 10, Rounding.TRUNCATE, False, 0, 0.5, id="hard-dit-t-wrap"),
    pytest.param(20, 22, 19, 21, Rounding.HALF_EVEN, True, 0, 0.6, id="hard-wide-tiled-sat"),  # latency 8
    pytest.param(10, 12, 11, 10, Rounding.HALF_EVEN, True, 4, 0.6, id="fft-dif-twiddle-depth4-sat"),
    pytest.param(9, 12, 9, 10, Rounding.TRUNCATE, False, 4, 0.5, id="fft-dit-t-depth4-wrap"),
    pytest.param(16, 18, 16, 17, Rounding.HALF_UP, True, 4, 0.8, id="spectral-product-depth4"),
    pytest.param(8, 8, 14, 0, Rounding.HALF_UP, True, 3, 0.7, id="depth3-noshift-sat"),
    pytest.param(7, 5, 6, 3, Rounding.HALF_EVEN, False, 2, 0.4, id="depth2-wrap"),
    pytest.param(6, 6, 5, 4, Rounding.TRUNCATE, True, 1, 0.5, id="depth1-sat"),
]


@pytest.mark.parametrize("a_bits, b_bits, out_bits, shift, rounding, saturate, depth, p_enable", CASES)
def test_complex_multiplier_rtl_equals_model_under_random_enable(
    a_bits: int, b_bits: int, out_bits: int, shift: int, rounding: Rounding, saturate: bool, depth: int, p_enable: float
) -> None:
    if depth:
        dut = ComplexMultiplier(a_bits, b_bits, out_bits, shift, rounding, saturate=saturate, depth=depth)
        assert dut.latency == depth
    else:
        dut = ComplexMultiplier(a_bits, b_bits, out_bits, shift, rounding, saturate=saturate, target="generic")
        assert (dut.latency, dut.b_delay) == (hard_latency(a_bits, b_bits), 0)
    rng = np.random.default_rng(a_bits * 100 + depth)
    n = 300
    a_re, a_im = operands(rng, a_bits, n), operands(rng, a_bits, n)
    b_re, b_im = operands(rng, b_bits, n), operands(rng, b_bits, n)
    want_re, want_im, want_clip = dut.model(a_re, a_im, b_re, b_im)
    assert want_clip.any() and not want_clip.all(), "the case must exercise both the clipped and the exact path"

    # slot j: a on enabled edge j, b on edge j + b_delay; random operands fill the other edges
    edges = n + dut.latency + dut.b_delay

    def column(values: np.ndarray, at: int, bits: int) -> np.ndarray:
        col = operands(rng, bits, edges)
        col[at : at + n] = values
        return col

    got = run_enabled(
        dut,
        {
            "a.re": (dut.a.re, column(a_re, 0, a_bits)),
            "a.im": (dut.a.im, column(a_im, 0, a_bits)),
            "b.re": (dut.b.re, column(b_re, dut.b_delay, b_bits)),
            "b.im": (dut.b.im, column(b_im, dut.b_delay, b_bits)),
        },
        outputs={"re": dut.p.re, "im": dut.p.im},
        combinational={"clipping": dut.clipping},
        p_enable=p_enable,
        seed=depth,
    )
    out = slice(dut.latency - 1, dut.latency - 1 + n)  # the edge that loads slot j into p
    np.testing.assert_equal(got["re"][out], want_re, err_msg="ComplexMultiplier: p.re differs from model")
    np.testing.assert_equal(got["im"][out], want_im, err_msg="ComplexMultiplier: p.im differs from model")
    np.testing.assert_equal(
        got["clipping"][out], want_clip.astype(np.int64), err_msg="ComplexMultiplier: clipping differs from model"
    )


def test_complex_multiplier_refuses_what_it_cannot_build() -> None:
    for depth in (0, 5):
        with pytest.raises(ValueError, match="depth"):
            ComplexMultiplier(8, 8, 8, 0, Rounding.TRUNCATE, depth=depth)
    with pytest.raises(ValueError, match="int64"):
        ComplexMultiplier(40, 27, 16, 20, Rounding.TRUNCATE)


@settings(max_examples=200, deadline=None)
@given(
    a_bits=st.integers(2, 20),
    b_bits=st.integers(2, 20),
    shift=st.integers(0, 24),
    rounding=st.sampled_from(list(Rounding)),
    data=st.data(),
)
def test_complex_multiplier_model_is_the_exact_product_rounded_once(a_bits, b_bits, shift, rounding, data) -> None:
    out_bits = a_bits + b_bits + 1  # wide enough never to clip: only the rounding differs
    dut = ComplexMultiplier(a_bits, b_bits, out_bits, shift, rounding)
    dut._MustUse__silence = True  # model only, never elaborated
    a = [data.draw(st.integers(-(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1)) for _ in range(2)]
    b = [data.draw(st.integers(-(1 << (b_bits - 1)), (1 << (b_bits - 1)) - 1)) for _ in range(2)]
    re, im, clip = dut.model(*a, *b)
    assert not clip
    for got, exact in ((re, a[0] * b[0] - a[1] * b[1]), (im, a[0] * b[1] + a[1] * b[0])):
        err = Fraction(exact, 1 << shift) - int(got)
        if rounding is Rounding.TRUNCATE:
            assert 0 <= err < 1
        else:
            assert abs(err) <= Fraction(1, 2)


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("saturate", [True, False])
def test_output_rounding_is_golden_round_then_fit(rounding: Rounding, saturate: bool) -> None:
    """The rounding/fit at the multiplier's output (`hw.fixed.requantize` at a constant shift:
    one adder, a LUT fit test, no comparators) gives `golden.fixed`'s integers for every
    10-bit value, shifts beyond the value's width and results that already fit included."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.sim import Simulator

    from golden.fixed import fit, round_shift
    from hw.fixed import requantize

    width = 10
    cases = [(0, 6), (1, 6), (3, 4), (4, 12), (12, 4), (2, 12)]  # (shift, bits)
    m = Module()
    x = Signal(signed(width))
    outs = []
    for shift, bits in cases:
        v, clip = requantize(x, shift, bits, rounding, saturate)
        sig_v, sig_c = Signal(signed(bits)), Signal()
        m.d.comb += [sig_v.eq(v), sig_c.eq(clip)]
        outs.append((shift, bits, sig_v, sig_c))
    values = np.arange(-(1 << (width - 1)), 1 << (width - 1))
    got: dict[int, list[tuple[int, int]]] = {k: [] for k in range(len(cases))}

    async def bench(ctx) -> None:
        for value in values:
            ctx.set(x, int(value))
            for k, (_, _, sig_v, sig_c) in enumerate(outs):
                got[k].append((ctx.get(sig_v), ctx.get(sig_c)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    for k, (shift, bits, _, _) in enumerate(outs):
        want, clipped = fit(round_shift(values, shift, rounding), bits, saturate)
        np.testing.assert_equal(np.array(got[k]), np.stack([want, clipped.astype(np.int64)], axis=1), err_msg=f"{k}")
