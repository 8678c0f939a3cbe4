"""Native Fast-ParC engine (`hw.native_fast_parc`) in the Amaranth simulator == `engine.model`.

No Verilator build: small N (7, 12, 14), a few frames per channel, random input bubbles and
output backpressure (`amaranth_streams.run_frames`), then ``drain`` cycles in which any further
output would be a bug. Every run compares the output integers and ``last`` markers with
`golden.native_fft.native_model`, the ``saturations`` counter with ``trace.saturated.sum()``,
``overflow`` with ``trace.overflow.any()`` and ``frame_errors`` with 0.

Cases: channel counts 1, 2, 3, 5 (odd counts pad a zero channel that must never come out),
per-channel shifts (kernels scaled by powers of two, as `tests/test_fft_sim.py`), every
rounding, outputs saturated by full-scale rows matched to the kernels, a truncating and
wrapping output format whose O LSB lies below the accumulator LSB (shifted offsets), shared
modules (the default: one r-point module for the forward and the inverse stage of size r) and
a module per stage. Internal overflow: the plan's widths are worst-case bounds over all
inputs, so no legal input can saturate a stage; adversarial full-scale rows (rails, the worst
case of every bin of both channels of a pair, rows matched to each kernel at several shifts)
must leave ``overflow`` at 0. To see the port and the saturating stages work end to end, a
plan with two widths narrowed (by one and two bits, as `tests/test_native_fft_golden.py`
narrows them) is built into the hardware: the rows then saturate inside, bit-exact to the
model, and ``overflow`` rises (sticky) only with the first saturating row.

Timing: with neither bubbles nor backpressure, the engine takes one sample per clock
(`NativeFastParcEngine.cycles_per_sample`), and its first output comes ``latency`` cycles after
the first frame's last sample (as `tests/test_fft_sim.py` measures the FFT engine): exactly with
a module per stage, at most (a stage on a shared module waits for its slot) with shared ones.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth_streams import StreamRun, frame_lasts, run_frames, run_stream

from golden.fixed import Rounding
from golden.native_fft import NativeParams
from golden.quant import FloatLayer, QuantizedLayer, quantize_input, quantize_layer, random_layer
from hw.native_fast_parc import NativeFastParcEngine


def simulate(
    engine: NativeFastParcEngine, rows: np.ndarray, *, seed: int, p_valid: float = 0.8, p_ready: float = 0.7
) -> StreamRun:
    """Rows (F, N), row f is channel f % C, through the engine; ``final`` holds the status ports."""
    return run_frames(
        engine,
        rows,
        seed=seed,
        p_valid=p_valid,
        p_ready=p_ready,
        drain=4 * engine.n + 20,
        status=("overflow", "saturations", "frame_errors"),
    )


def assert_engine_equals_model(engine: NativeFastParcEngine, rows: np.ndarray, run: StreamRun) -> None:
    c, n = engine.layer.channels, engine.n
    trace = engine.trace(rows.reshape(-1, c, n))
    name = f"NativeFastParcEngine N={n} C={c} factors={engine.params.factors}"
    np.testing.assert_array_equal(run.column("data"), trace.y.reshape(-1), err_msg=f"{name}: output differs from model")
    np.testing.assert_array_equal(run.column("last"), frame_lasts(rows.size, n), err_msg=f"{name}: last")
    assert run.final["saturations"] == int(trace.saturated.sum()), f"{name}: saturation count"
    assert run.final["overflow"] == int(trace.overflow.any()), f"{name}: overflow port"
    assert run.final["frame_errors"] == 0, f"{name}: frame errors on well-formed frames"


def varied_layer(n: int, channels: int, seed: int) -> FloatLayer:
    """Channels whose weights differ by powers of two: per-channel shifts (muxed in hardware)."""
    base = random_layer(n, channels, seed=seed)
    scale = 2.0 ** -np.arange(channels)[:, None]
    return FloatLayer.create(base.weight * scale, 0.01 * base.pe, 0.01 * base.bias)


def sample_rows(q: QuantizedLayer, rng: np.random.Generator, gaussian: int, uniform: int, matched: bool) -> np.ndarray:
    """(F, N) rows, channel order: ``gaussian`` rows per channel from the calibration
    distribution, then ``uniform`` over the whole input range, then (``matched``) each kernel's
    sign pattern at full scale and its negation (outputs saturate)."""
    c, n = q.channels, q.fmt.n
    x, _ = quantize_input(q, rng.normal(0, 1, (gaussian, c, n)))
    fmt = q.fmt.data
    parts = [x, rng.integers(fmt.min_int, fmt.max_int + 1, (uniform, c, n))]
    if matched:
        parts.append(
            np.stack([np.where(q.weight >= 0, fmt.max_int, fmt.min_int)] * 2) * np.array([1, -1])[:, None, None]
        )
    return np.concatenate(parts).clip(fmt.min_int, fmt.max_int).reshape(-1, n)


def make_engine(q: QuantizedLayer, share_modules: bool = True) -> NativeFastParcEngine:
    params = NativeParams.default(
        q.fmt.n, q.fmt.data.bits, output_bits=q.fmt.output.bits, rounding=q.fmt.rounding, share_modules=share_modules
    )
    return NativeFastParcEngine(q, params)


CASES = [
    # N, channels, per-channel shifts (varied kernels), rounding, one module per stage size
    pytest.param(7, 1, False, Rounding.HALF_EVEN, True, id="N7-C1"),
    pytest.param(7, 2, False, Rounding.HALF_UP, True, id="N7-C2"),
    pytest.param(7, 3, True, Rounding.HALF_EVEN, True, id="N7-C3-varied"),
    pytest.param(7, 5, False, Rounding.TRUNCATE, True, id="N7-C5"),
    pytest.param(7, 2, True, Rounding.TRUNCATE, False, id="N7-C2-varied-unshared"),
    pytest.param(12, 1, False, Rounding.TRUNCATE, True, id="N12-C1"),
    pytest.param(12, 3, True, Rounding.HALF_UP, True, id="N12-C3-varied"),
    pytest.param(12, 2, False, Rounding.HALF_EVEN, False, id="N12-C2-unshared"),
    pytest.param(14, 2, True, Rounding.HALF_EVEN, True, id="N14-C2-varied"),
    pytest.param(14, 5, False, Rounding.HALF_UP, True, id="N14-C5"),
]


@pytest.mark.parametrize("n, channels, varied, rounding, share_modules", CASES)
def test_engine_equals_model_under_bubbles_and_backpressure(
    n: int, channels: int, varied: bool, rounding: Rounding, share_modules: bool
) -> None:
    seed = 10 * n + channels
    rng = np.random.default_rng(seed)
    layer = varied_layer(n, channels, seed) if varied else random_layer(n, channels, seed=seed)
    q = quantize_layer(layer, 8, rng.normal(0, 1, (64, channels, n)), rounding=rounding)
    if varied:
        assert len(set(q.shift.tolist())) == channels, "the varied kernels must give every channel its own shift"
    engine = make_engine(q, share_modules)
    rows = sample_rows(q, rng, gaussian=2, uniform=1, matched=True)
    assert engine.trace(rows.reshape(-1, channels, n)).saturated.any(), "the matched rows must saturate outputs"
    run = simulate(engine, rows, seed=seed)
    assert_engine_equals_model(engine, rows, run)
    assert run.final["overflow"] == 0


def test_truncation_wrapping_and_an_output_lsb_below_the_transform_lsb() -> None:
    """output_frac = the finest channel's accumulator frac: its output shift is 0, so O's LSB
    (``2**E`` accumulator LSBs, E = shift - guard bits < 0) lies below the output LSB and the
    aligner shifts the offset left (`NativePlan.align`); truncation, and wrapping at the end."""
    rng = np.random.default_rng(2)
    layer = varied_layer(7, 2, seed=2)
    calib = rng.normal(0, 1, (64, 2, 7))
    probe = quantize_layer(layer, 10, calib, weight_bits=4)
    q = quantize_layer(
        layer,
        10,
        calib,
        weight_bits=4,
        output_frac=int(probe.acc_frac.min()),
        rounding=Rounding.TRUNCATE,
        saturating=False,
    )
    engine = make_engine(q)
    _, off_shift, _ = engine.plan.align
    assert engine.plan.y_exp.min() < 0 and off_shift.max() > 0, "O's LSB must lie below the accumulator LSB"
    rows = rng.integers(-40, 40, (8, 7))
    trace = engine.trace(rows.reshape(-1, 2, 7))
    assert trace.saturated.any(), "some outputs must wrap"
    run = simulate(engine, rows, seed=2, p_ready=0.5)
    assert_engine_equals_model(engine, rows, run)


def adversarial_rows(q: QuantizedLayer) -> np.ndarray:
    """Full-scale rows (R, C, N): both rails, alternating rails, for every bin the rails that
    drive Re Z[k] and Im Z[k] of the complex transform of a pair (z = x_c + j x_d: x_c follows
    the cosine, x_d the sine, and vice versa) and each channel's kernel matched and anti-matched
    at four output positions (``corr(w, x)[i] = sum_j x[j] w[j - i]``: x = roll(rail(w), i))."""
    n, c = q.fmt.n, q.channels
    lo, hi = q.fmt.data.min_int, q.fmt.data.max_int

    def rail(v: np.ndarray) -> np.ndarray:
        return np.where(v >= 0, hi, lo)

    even = (np.arange(c) % 2 == 0)[:, None]
    t = np.arange(n)
    rows = [np.full((c, n), hi), np.full((c, n), lo), np.tile(np.where(t % 2, lo, hi), (c, 1))]
    for k in range(n // 2 + 1):
        cos, sin = np.cos(2 * np.pi * k * t / n), np.sin(2 * np.pi * k * t / n)
        rows.append(np.where(even, rail(cos), rail(sin)))
        rows.append(np.where(even, rail(-sin), rail(cos)))
    for i in range(0, n, max(n // 4, 1)):
        rows += [np.roll(rail(q.weight), i, axis=1), np.roll(rail(-q.weight), i, axis=1)]
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("n, channels", [(7, 2), (12, 2)])
def test_adversarial_full_scale_rows_never_overflow_inside(n: int, channels: int) -> None:
    rng = np.random.default_rng(n)
    q = quantize_layer(random_layer(n, channels, seed=n), 8, rng.normal(0, 1, (64, channels, n)))
    engine = make_engine(q)
    x = adversarial_rows(q)
    trace = engine.trace(x)
    assert not trace.overflow.any(), "the plan's widths are worst-case bounds: no stage may saturate"
    assert trace.saturated.any()
    rows = x.reshape(-1, n)
    run = simulate(engine, rows, seed=n, p_valid=0.9, p_ready=0.8)
    assert_engine_equals_model(engine, rows, run)
    assert run.final["overflow"] == 0


def narrowed(engine: NativeFastParcEngine, blocks: dict[str, int]) -> NativeFastParcEngine:
    """The engine with its plan's widths narrowed by ``blocks[name]`` bits each, before it is
    elaborated: hardware (stage widths) and model (saturation widths) both follow the plan."""
    widths = {**engine.plan.widths, **{b: engine.plan.widths[b] - k for b, k in blocks.items()}}
    engine.plan = dataclasses.replace(engine.plan, widths=widths)
    engine.stage_specs = engine._stage_specs()
    return engine


def test_internal_saturation_is_bit_exact_and_sets_overflow() -> None:
    """Legal inputs cannot saturate a stage of a real plan, so the plan is narrowed before the
    engine is elaborated: the last forward output by one bit (the adversarial rows reach its
    top bit) and the recombined spectrum by two. Inside saturation must then be bit-exact to the
    model and raise the sticky ``overflow``; rows before the first saturating one leave it low."""
    n, channels = 12, 2
    rng = np.random.default_rng(5)
    q = quantize_layer(random_layer(n, channels, seed=5), 8, rng.normal(0, 1, (64, channels, n)))
    engine = make_engine(q)
    d = len(engine.params.factors)
    engine = narrowed(engine, {f"fwd{d - 1}.out": 1, "rec": 2})
    x = np.concatenate([sample_rows(q, rng, 2, 0, False).reshape(-1, channels, n), adversarial_rows(q)[:6]])
    trace = engine.trace(x)
    assert trace.overflow.any() and not trace.overflow[:2].any(), "the narrowed plan must saturate, late"
    rows = x.reshape(-1, n)
    run = run_frames(
        engine, rows, seed=5, p_valid=0.9, p_ready=0.8, drain=4 * n, status=("overflow", "saturations", "frame_errors")
    )
    assert_engine_equals_model(engine, rows, run)
    assert run.final["overflow"] == 1
    over = np.array(run.trace["overflow"])
    assert np.all(np.diff(over) >= 0), "overflow is not sticky"
    first = int(np.argmax(trace.overflow.any(axis=1)))  # the first row set that saturates inside
    assert over[run.in_cycles[first * channels * n]] == 0, "overflow set before a saturating row went in"


@pytest.mark.parametrize("n,channels", [(7, 2), (14, 2), (7, 1), (14, 1)])
def test_one_sample_per_clock_without_bubbles(n: int, channels: int) -> None:
    """``cycles_per_sample`` is the steady-state rate, neither more nor less: with input always
    valid and output always ready, output frames start every N clocks in the second half of
    16 frames; with one channel every 2 (N // 2 + 1) + 1 on average (each pair is only N samples, but the
    spectral stage still reads a pair's bins twice; a mixer's latency bound counts on it)."""
    rng = np.random.default_rng(n)
    q = quantize_layer(random_layer(n, channels, seed=n), 8, rng.normal(0, 1, (64, channels, n)))
    engine = make_engine(q)
    rows = sample_rows(q, rng, 16 // channels, 0, False)
    run = simulate(engine, rows, seed=n, p_valid=1.0, p_ready=1.0)
    assert_engine_equals_model(engine, rows, run)
    starts = np.array(run.out_cycles)[::n]
    half = starts.size // 2
    period = (starts[-1] - starts[half]) / (starts.size - 1 - half)
    expected = n if channels == 2 else 2 * (n // 2 + 1) + 1
    assert engine.cycles_per_sample * n == expected
    assert period == pytest.approx(expected, rel=0.03), (  # shared modules' slot waits jitter the starts
        f"NativeFastParcEngine N={n} C={channels} factors={engine.params.factors}: output frames every "
        f"{period} cycles in steady state, expected {expected}, cycles_per_sample = {engine.cycles_per_sample}"
    )


def first_output_delay(engine: NativeFastParcEngine, rows: np.ndarray, offset: int) -> int:
    """Cycles from the first frame's last sample to the first output, no bubbles and no
    backpressure, the first sample offered ``offset`` cycles after reset."""
    flat = rows.reshape(-1)
    run = run_stream(
        engine,
        {"data": flat, "last": frame_lasts(flat.size, engine.n)},
        ("data",),
        expect=flat.size,
        idle_before={0: offset},
    )
    np.testing.assert_array_equal(
        run.column("data"), engine.model(rows.reshape(-1, engine.layer.channels, engine.n)).reshape(-1)
    )
    return run.out_cycles[0] - run.in_cycles[engine.n - 1]


@pytest.mark.parametrize("n", [7, 12])
def test_latency_as_documented(n: int) -> None:
    """``latency`` (the sum of ``latency_parts``): from the first frame's last sample to the first
    output, no stalls (the FFT engine's measure in `tests/test_fft_sim.py`). With a module per
    stage it is exact whenever the input starts; a stage on a shared module waits for its slot
    (up to ``max_start_wait``, depending on when the frame arrives), so there it is the worst
    case: never exceeded, and at most the summed waits above the measured delay."""
    rng = np.random.default_rng(n)
    q = quantize_layer(random_layer(n, 2, seed=n), 8, rng.normal(0, 1, (64, 2, n)))
    rows = sample_rows(q, rng, 1, 0, False)
    exact = make_engine(q, share_modules=False)
    for offset in (0,):
        measured = first_output_delay(exact, rows, offset)
        assert measured == exact.latency, (
            f"NativeFastParcEngine N={n}, a module per stage, input from cycle {offset}: first output {measured} "
            f"cycles after the first frame's last sample, latency = {exact.latency} ({exact.latency_parts})"
        )
    shared = make_engine(q)
    waits = sum(shared._stage(spec).max_start_wait for spec in shared.stage_specs)
    assert waits > 0
    for offset in (0, 2):
        measured = first_output_delay(shared, rows, offset)
        assert shared.latency - waits <= measured <= shared.latency, (
            f"NativeFastParcEngine N={n}, shared modules, input from cycle {offset}: first output {measured} cycles "
            f"after the first frame's last sample, latency = {shared.latency} ({shared.latency_parts}), waits {waits}"
        )


@pytest.mark.parametrize(
    "n, channels, rounding",
    [
        pytest.param(7, 3, Rounding.HALF_EVEN, id="N7-C3"),
        pytest.param(21, 2, Rounding.TRUNCATE, id="N21-C2-factors-3x7"),
    ],
)
def test_folded_modules_are_bit_exact_and_change_no_output(n: int, channels: int, rounding: Rounding) -> None:
    """``fold=True`` (`hw.shared_dft`): the shared 7-point module takes each vector as its real
    part, then its imaginary part, and recombines; the 3-point one of N = 21 cannot fold and stays
    as it is. Folding is exact by construction, so the folded engine must equal the model under
    bubbles and backpressure (rows from the calibration distribution, uniform, kernel-matched
    and adversarial full-scale ones) and emit exactly what the unfolded engine emits for the same
    stimulus; only the two 7-point stages wait one cycle more for their module."""
    seed = 300 + n + channels
    rng = np.random.default_rng(seed)
    q = quantize_layer(random_layer(n, channels, seed=seed), 8, rng.normal(0, 1, (64, channels, n)), rounding=rounding)
    plain, folded = (NativeFastParcEngine(q, fold=fold) for fold in (False, True))
    factors = folded.params.factors
    assert folded.params.share_modules and factors == ((7,) if n == 7 else (3, 7)), f"N={n}: factors {factors}"
    assert {r: folded._module(r).fold for r in factors} == {r: r == 7 for r in factors}, "only 7 must fold"
    assert folded.latency == plain.latency + 2, f"N={n}: {folded.latency_parts} vs {plain.latency_parts}"
    x = np.concatenate([sample_rows(q, rng, 2, 1, True).reshape(-1, channels, n), adversarial_rows(q)[:6]])
    assert not folded.trace(x).overflow.any()
    rows = x.reshape(-1, n)
    runs = {engine.fold: simulate(engine, rows, seed=seed) for engine in (plain, folded)}
    for engine in (plain, folded):
        assert_engine_equals_model(engine, rows, runs[engine.fold])
        assert runs[engine.fold].final["overflow"] == 0
    for column in ("data", "last"):
        np.testing.assert_array_equal(
            runs[True].column(column), runs[False].column(column), err_msg=f"N={n}: fold changed the output {column}"
        )


def test_target_is_checked_and_the_spectral_products_fit_hard_multipliers() -> None:
    """``target`` is one of `hw.target.TARGETS`; at N = 56, 8 bits (the timing-closure case),
    every operand of the spectral product fits an 18 x 18 MULT18X18D, so target ecp5 builds the
    three products as registered primitives (no fabric partial products, no carry chain
    joining them: the pre-add's extra bit is split off exactly, `hw.gauss_mul`)."""
    q = quantize_layer(random_layer(56, 2, seed=1), 8)
    with pytest.raises(ValueError, match="target"):
        NativeFastParcEngine(q, target="ice40")
    engine = NativeFastParcEngine(q, target="ecp5")
    engine._MustUse__silence = True  # only its spectral stage is elaborated
    assert engine.target == "ecp5"
    stage = engine._spectral_stage()
    stage._MustUse__silence = True
    text = rtlil.convert(stage.multiplier)
    assert len(re.findall(r"cell \\MULT18X18D\b", text)) == 3, "the three products are not all MULT18X18D"
    assert not re.search(r"cell \$mul\b", text), "a product was left to the generic multiplier"
