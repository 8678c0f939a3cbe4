"""Block `hw.winograd.WinogradDft`: RTL == `WinogradDft.model` (`golden.winograd.dft_int`) bit
for bit, and its stream wrapper `WinogradDftStream`.

"Is the hardware the model?": every size, both constant-multiplier implementations (CSD, DSP),
forward and inverse, under random enable patterns (`amaranth_pipelines.run_enabled`: garbage on
the inputs while disabled, outputs must hold), with seeded random vectors plus, for every output
bin and component, the full-scale vectors that drive it to its largest and smallest value (the
most negative input included), so the output width and every internal width are exercised.
"Is the model accurate?": `model()` against numpy.fft within `golden.winograd.error_bound`.
The multiplier counts (8 real constants / 16 real multiplies for r = 7, cos(pi/4) twice for
r = 8, none for r = 2 and 4) are read from the elaborated design.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth_pipelines import run_enabled
from amaranth_streams import StreamSink, StreamSource, run_streams

from golden import winograd as gw
from golden.fixed import Rounding
from hw.csd import ConstantMultiplier
from hw.winograd import SIZES, WinogradDft, WinogradDftStream, _check_forms, _schedule

RANDOM_VECTORS = 40


def extreme_vectors(r: int, bits: int, const_bits: int, inverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """For every output bin and component, the full-scale input that maximises it and the one
    that minimises it (each input component at its most positive or most negative value by the
    sign of its coefficient), plus all-minimum and all-maximum: (4r + 2, r) each."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    q = gw.module(r).matrix_q(const_bits, inverse)
    re, im = [np.full(r, lo), np.full(r, hi)], [np.full(r, lo), np.full(r, hi)]
    for k in range(r):
        # Re X_k = sum Re(q) x.re - Im(q) x.im;  Im X_k = sum Im(q) x.re + Re(q) x.im
        for c_re, c_im in ((q[k].real, -q[k].imag), (q[k].imag, q[k].real)):
            for sign in (1, -1):
                re.append(np.where(sign * c_re >= 0, hi, lo))
                im.append(np.where(sign * c_im >= 0, hi, lo))
    return np.array(re), np.array(im)


def stimulus(
    rng: np.random.Generator, r: int, bits: int, const_bits: int, inverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random vectors (a fifth of the components at an extreme) and the extreme ones, shuffled."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def random_part() -> np.ndarray:
        v = rng.integers(lo, hi + 1, (RANDOM_VECTORS, r))
        pick = rng.random(v.shape)
        return np.where(pick < 0.1, lo, np.where(pick < 0.2, hi, v))

    ext_re, ext_im = extreme_vectors(r, bits, const_bits, inverse)
    re, im = np.concatenate([random_part(), ext_re]), np.concatenate([random_part(), ext_im])
    order = rng.permutation(len(re))
    return re[order], im[order]


def run_dft(
    dut: WinogradDft, x_re: np.ndarray, x_im: np.ndarray, *, p_enable: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors into ``dut.x`` one per enabled edge (random garbage after them while the last
    ones drain); ``y`` per vector, aligned by ``dut.latency``."""
    rng = np.random.default_rng(seed)
    n, r = x_re.shape
    edges = n + dut.latency
    lo, hi = -(1 << (dut.in_bits - 1)), 1 << (dut.in_bits - 1)
    inputs, outputs = {}, {}
    for k in range(r):
        for part, values in (("re", x_re), ("im", x_im)):
            col = rng.integers(lo, hi, edges)
            col[:n] = values[:, k]
            inputs[f"x{k}.{part}"] = (getattr(dut.x[k], part), col)
            outputs[f"y{k}.{part}"] = getattr(dut.y[k], part)
    got = run_enabled(dut, inputs, outputs, p_enable=p_enable, seed=seed, name=f"WinogradDft(r={r}, {dut.impl})")
    out = slice(dut.latency - 1, dut.latency - 1 + n)  # the edge that loads vector j into y
    return (
        np.stack([got[f"y{k}.re"][out] for k in range(r)], axis=-1),
        np.stack([got[f"y{k}.im"][out] for k in range(r)], axis=-1),
    )


def assert_rtl_equals_model(dut: WinogradDft, seed: int, p_enable: float = 0.6) -> None:
    rng = np.random.default_rng(seed)
    x_re, x_im = stimulus(rng, dut.r, dut.in_bits, dut.const_bits, dut.inverse)
    want_re, want_im = dut.model(x_re, x_im)
    top = 1 << (dut.out_bits - 1)
    assert np.all((-top <= want_re) & (want_re < top) & (-top <= want_im) & (want_im < top)), (
        f"WinogradDft(r={dut.r}): model outputs exceed out_bits = {dut.out_bits}"
    )
    got_re, got_im = run_dft(dut, x_re, x_im, p_enable=p_enable, seed=seed)
    label = f"WinogradDft(r={dut.r}, {dut.impl}, inverse={dut.inverse}, {dut.rounding})"
    np.testing.assert_equal(got_re, want_re, err_msg=f"{label}: y.re differs from golden.winograd.dft_int")
    np.testing.assert_equal(got_im, want_im, err_msg=f"{label}: y.im differs from golden.winograd.dft_int")


ROUNDING = {
    2: Rounding.HALF_UP,
    3: Rounding.TRUNCATE,
    4: Rounding.HALF_EVEN,
    5: Rounding.HALF_UP,
    7: Rounding.HALF_EVEN,
    8: Rounding.TRUNCATE,
}


@pytest.mark.parametrize("impl", ["csd", "dsp"])
@pytest.mark.parametrize("r", SIZES)
def test_winograd_dft_rtl_equals_model_under_random_enable(r: int, impl: str) -> None:
    dut = WinogradDft(r, 10, 16, ROUNDING[r], impl)  # type: ignore[arg-type]
    assert_rtl_equals_model(dut, seed=10 * r + len(impl))


@pytest.mark.parametrize("r", SIZES)
def test_winograd_dft_inverse_rtl_equals_model(r: int) -> None:
    """j -> -j in the post-adds: the same products, the other output combinations."""
    dut = WinogradDft(r, 9, 8, ROUNDING[r], "csd" if r % 2 else "dsp", inverse=True)
    assert_rtl_equals_model(dut, seed=100 + r, p_enable=0.5)


@pytest.mark.parametrize(
    "rounding, levels_per_register", [(Rounding.TRUNCATE, 1), (Rounding.HALF_UP, 2), (Rounding.HALF_EVEN, 3)]
)
def test_winograd_dft_7_every_rounding_fraction_bits_and_register_spacing(
    rounding: Rounding, levels_per_register: int
) -> None:
    """The 7-point module weighs products by up to 3 in its post-adds: all three roundings with
    frequent ties (products rounded by only F - f = 4 bits, so half-up and half-even differ),
    ``frac_bits`` (trivial products shifted by f) at odd widths, and CSD trees registered every
    1, 2, 3 adder levels (a shorter multiplier latency)."""
    dut = WinogradDft(7, 12, 7, rounding, "csd", frac_bits=3, levels_per_register=levels_per_register)  # ties: 1 in 16
    assert dut.mul_latency == max(
        ConstantMultiplier.natural_latency_of(c, "csd", levels_per_register) for c in dut.constants.values()
    )
    assert_rtl_equals_model(dut, seed=7, p_enable=0.8)


def multipliers(dut: WinogradDft) -> list[ConstantMultiplier]:
    """The `ConstantMultiplier` blocks of the elaborated design."""
    frag = Fragment.get(dut, None)
    return [sub.origins[0] for sub, *_ in frag.subfragments if isinstance(sub.origins[0], ConstantMultiplier)]


@pytest.mark.parametrize("impl", ["csd", "dsp"])
def test_winograd_dft_constant_multiply_counts(impl: str) -> None:
    """Winograd's counts, in the elaborated design: 7 points, 8 real constants = 16 real
    multiplies on complex data; 8 points, 2 multiplies by cos(pi/4) = 4 real; 2 and 4 points none."""
    F = 16
    expect = {2: 0, 3: 2, 4: 0, 5: 5, 7: 8, 8: 2}
    for r in SIZES:
        dut = WinogradDft(r, 10, F, Rounding.HALF_EVEN, impl)  # type: ignore[arg-type]
        muls = multipliers(dut)
        assert dut.constant_multiplies == expect[r], f"WinogradDft(r={r}): constant_multiplies"
        assert dut.real_multipliers == len(muls) == 2 * expect[r], f"WinogradDft(r={r}): real multipliers"
        assert {m.impl for m in muls} <= {impl}, f"WinogradDft(r={r}): impl not passed to its multipliers"
        assert all(m.latency == dut.mul_latency for m in muls), f"WinogradDft(r={r}): multipliers not aligned"
    seven = WinogradDft(7, 10, F, Rounding.HALF_EVEN, impl)  # type: ignore[arg-type]
    assert len(seven.constants) == 8 and len({abs(c) for c in seven.constants.values()}) == 8
    assert seven.constants["K0"] == round(-(2**F) / 6), "WinogradDft(7): K0 = -1/6"
    eight = WinogradDft(8, 10, F, Rounding.HALF_EVEN, impl)  # type: ignore[arg-type]
    cos = round(math.cos(math.pi / 4) * 2**F)
    assert eight.constants == {"c4": cos}, "WinogradDft(8): both multiplies are by cos(pi/4)"
    assert {abs(m.constant) for m in multipliers(eight)} == {cos}
    for dut in (seven, eight):
        dut._MustUse__silence = True


def test_winograd_dft_latency_and_widths() -> None:
    """Latency: one register per add level plus ``mul_latency + 1`` per multiply; the DSP's
    two registers are one fewer than the CSD trees' levels at F = 16. ``out_bits`` is golden's
    `output_bits` (exact over the asymmetric input range: r = 2 and 4 grow by 1 and 2 bits)."""
    growth = {2: 1, 3: 2, 4: 2, 5: 3, 7: 4, 8: 4}
    for r in SIZES:
        csd, dsp = (WinogradDft(r, 10, 16, Rounding.HALF_EVEN, impl) for impl in ("csd", "dsp"))
        assert (
            csd.out_bits == dsp.out_bits == 10 + growth[r] == gw.output_bits(r, 10, 16, rounding=Rounding.HALF_EVEN)
        ), f"WinogradDft(r={r}): out_bits"
        if csd.constant_multiplies:
            assert csd.latency - dsp.latency == csd.mul_latency - dsp.mul_latency == 1, f"WinogradDft(r={r}): latency"
        else:
            assert csd.latency == dsp.latency == math.ceil(math.log2(r)), f"WinogradDft(r={r}): add levels"
        csd._MustUse__silence = dsp._MustUse__silence = True


def test_winograd_dft_structure_check_rejects_another_algorithm() -> None:
    """The construction-time proof (`_check_forms`: the compiled adds have golden's matrix on
    the inputs) must reject a graph of the other direction."""
    flow, outputs = _schedule(8, 10, 16, 0, Rounding.HALF_EVEN, False, 2)
    _check_forms(flow, outputs, 8, 16, 0, inverse=False)
    with pytest.raises(AssertionError, match="golden"):
        _check_forms(flow, outputs, 8, 16, 0, inverse=True)


@pytest.mark.parametrize("r", SIZES)
def test_winograd_dft_model_is_the_dft_within_the_error_bound(r: int) -> None:
    dut = WinogradDft(r, 10, 16, ROUNDING[r])
    dut._MustUse__silence = True
    rng = np.random.default_rng(r)
    x = rng.integers(-512, 512, (500, r)) + 1j * rng.integers(-512, 512, (500, r))
    y_re, y_im = dut.model(x.real, x.imag)
    err = np.abs(np.concatenate([(y_re - np.fft.fft(x).real).ravel(), (y_im - np.fft.fft(x).imag).ravel()])).max()
    assert err <= gw.error_bound(r, 512, 16, ROUNDING[r]), f"WinogradDft(r={r}): model error {err}"


def test_winograd_dft_refuses_what_it_cannot_build() -> None:
    with pytest.raises(ValueError, match="size"):
        WinogradDft(6, 10, 16, Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="impl"):
        WinogradDft(7, 10, 16, Rounding.HALF_EVEN, "lut")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frac_bits"):
        WinogradDft(7, 10, 16, Rounding.HALF_EVEN, frac_bits=17)
    with pytest.raises(ValueError, match="in_bits"):
        WinogradDft(7, 1, 16, Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="int64"):
        WinogradDft(7, 32, 30, Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="levels_per_register"):
        WinogradDft(7, 10, 16, Rounding.HALF_EVEN, levels_per_register=0)


@pytest.mark.parametrize(
    "r, impl, p_valid, p_ready", [(7, "csd", 0.7, 0.6), (8, "dsp", 0.5, 0.8), (4, "csd", 1.0, 1.0)]
)
def test_winograd_dft_stream_keeps_order_under_bubbles_and_backpressure(
    r: int, impl: str, p_valid: float, p_ready: float
) -> None:
    """The stream wrapper: every beat comes out once, in order, with its tag, equal to the model."""
    rng = np.random.default_rng(r)
    dut = WinogradDftStream(WinogradDft(r, 10, 16, Rounding.HALF_EVEN, impl), tag_shape=4)  # type: ignore[arg-type]
    x_re, x_im = stimulus(rng, r, 10, 16, False)
    tags = rng.integers(0, 16, len(x_re))
    beats = [
        {"data": [{"re": int(a), "im": int(b)} for a, b in zip(row_re, row_im, strict=True)], "tag": int(t)}
        for row_re, row_im, t in zip(x_re, x_im, tags, strict=True)
    ]
    source = StreamSource(dut.i, beats, rng, p_valid, name="WinogradDftStream.i")
    sink = StreamSink(dut.o, rng, p_ready, name="WinogradDftStream.o")
    run_streams(dut, [source], {sink: len(beats)}, drain=dut.latency + 4)
    want_re, want_im = dut.model(x_re, x_im)
    got_re = np.array([[s["re"] for s in p["data"]] for p in sink.payloads])
    got_im = np.array([[s["im"] for s in p["data"]] for p in sink.payloads])
    np.testing.assert_equal(got_re, want_re, err_msg="WinogradDftStream: y.re differs from the model")
    np.testing.assert_equal(got_im, want_im, err_msg="WinogradDftStream: y.im differs from the model")
    np.testing.assert_equal(sink.column("tag"), tags, err_msg="WinogradDftStream: tag not carried with its vector")
    if p_valid == p_ready == 1.0:
        assert sink.cycles == [c + dut.latency for c in source.sent_cycles], "WinogradDftStream: latency"
