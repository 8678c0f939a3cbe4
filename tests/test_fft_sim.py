"""Padded radix-2 Fast-ParC engine (`hw.fast_parc`) in cocotb/Verilator: bit-exact against `golden.fast_parc_int`.

Every N here (7, 14, 28, 56) factors, so ``--arch fft`` alone would build the native engine
(tests/test_native_sim.py): these benches ask for ``fft_impl="padded"``.

Every run has random input bubbles and output backpressure, a reset in mid-frame and
malformed-tlast frames (see `sim.scenarios`); the sticky ``overflow`` port must stay 0 (the
default FFT widths cannot overflow on these inputs). The (N, bits) grid runs on a diagonal
that covers every N and every bit width; the rest is marked ``long``. One Verilator build
per configuration: the throughput/latency tests reuse the diagonal's N = 56, 8-bit build.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth_streams import StreamRun, frame_lasts, run_frames
from simutil import assert_bit_exact, diagonal_grid, engine_name, run_sim

from golden.fast_parc_int import FftParams
from golden.fixed import Rounding
from golden.quant import FloatLayer, quantize_input, quantize_layer, random_layer
from hw.design import DesignSpec, build_design
from hw.fast_parc import FastParcEngine

SIZES = [7, 14, 28, 56]
BITS = [8, 12, 16]
DIAGONAL = [(7, 16), (14, 12), (28, 8), (56, 8)]


def seed_of(n: int, bits: int) -> int:
    return n * bits  # the random weights depend on the seed: same seed, same Verilog, same build


@pytest.mark.parametrize("n, bits", diagonal_grid("fft", SIZES, BITS, DIAGONAL))
def test_fft_engine_is_bit_exact_under_backpressure(n: int, bits: int) -> None:
    result = run_sim(
        arch="fft",
        fft_impl="padded",
        n=n,
        bits=bits,
        channels=2,
        weights="random",
        frames=16,
        seed=seed_of(n, bits),
        backpressure=0.4,
        bubble=0.2,
    )
    assert_bit_exact(result)
    name = engine_name(result)
    assert result.overflow == 0, f"{name}: overflow port set"
    assert result.scenarios["tlast"]["frame_errors"] > 0, f"{name}: the malformed frames went unseen"
    for scenario, r in result.scenarios.items():
        assert r["status"]["overflow"] == 0, f"{name}: overflow in scenario {scenario}"


def test_one_frame_every_m_clocks_and_latency_as_documented() -> None:
    n, bits = 56, 8
    engine = build_design(
        DesignSpec(
            arch="fft",
            n=n,
            bits=bits,
            channels=2,
            weights="random",
            seed=seed_of(n, bits),
            options={"fft_impl": "padded"},
        )
    ).engine
    result = run_sim(
        arch="fft",
        fft_impl="padded",
        n=n,
        bits=bits,
        channels=2,
        weights="random",
        frames=40,
        seed=seed_of(n, bits),
        backpressure=0,
        bubble=0,
        scenarios=("stream",),
    )
    assert_bit_exact(result)
    stream = result.scenarios["stream"]
    print(
        f"\nN={n} bits={bits}: M={engine.m}, cycles/sample {stream['cycles_per_sample']:.4f} "
        f"(M/N = {engine.cycles_per_sample:.4f}), latency {result.latency_cycles}"
    )
    assert stream["cycles_per_sample"] <= engine.m / n * 1.02, (
        f"{engine_name(result)}: {stream['cycles_per_sample']} cycles/sample"
    )
    # first frame, no bubbles: its last input is N - 1 cycles after its first
    measured = stream["first_output_cycle"] - (stream["first_input_cycle"] + n - 1)
    assert measured == result.latency_cycles == engine.latency, (
        f"{engine_name(result)}: latency {measured} cycles measured"
    )


def test_backpressure_within_the_tail_slots_costs_no_throughput() -> None:
    # the output needs N of every M clocks: the kept FIFO rides out 50 % random backpressure
    n, bits = 56, 8
    result = run_sim(
        arch="fft",
        fft_impl="padded",
        n=n,
        bits=bits,
        channels=2,
        weights="random",
        frames=40,
        seed=seed_of(n, bits),
        backpressure=0.5,
        bubble=0.2,
        scenarios=("stream",),
    )
    assert_bit_exact(result)
    assert result.cycles_per_sample is not None, f"{engine_name(result)}: no stream scenario result"
    m = 128
    print(f"\nN={n}, backpressure 0.5, bubbles 0.2: cycles/sample {result.cycles_per_sample:.4f} (M/N = {m / n:.4f})")
    assert result.cycles_per_sample <= m / n * 1.05, f"{engine_name(result)}: {result.cycles_per_sample} cycles/sample"


@pytest.mark.long
def test_fft_engine_long_run_n56_bits8() -> None:
    result = run_sim(arch="fft", fft_impl="padded", n=56, bits=8, frames=2000, backpressure=0.3, bubble=0.1, seed=11)
    assert_bit_exact(result)
    assert result.samples >= 100_000
    assert result.overflow == 0


# --- special layers in the Amaranth simulator (no Verilator build; small N) -----------------


def simulate_engine(engine: FastParcEngine, rows: np.ndarray, *, seed: int = 0, p_ready: float = 0.7) -> StreamRun:
    """Rows (F, N) through the engine with bubbles and backpressure, then 2 M cycles more in
    which any further output would be a bug; ``final`` holds the status ports."""
    return run_frames(engine, rows, seed=seed, p_ready=p_ready, drain=2 * engine.m, status=("overflow", "saturations"))


def assert_engine_equals_model(engine: FastParcEngine, rows: np.ndarray, run: StreamRun) -> None:
    c, n = engine.layer.channels, engine.n
    trace = engine.trace(rows.reshape(-1, c, n))
    name = f"FastParcEngine N={n} C={c}"
    np.testing.assert_array_equal(run.column("data"), trace.y.reshape(-1), err_msg=f"{name}: output differs from model")
    np.testing.assert_array_equal(run.column("last"), frame_lasts(rows.size, n), err_msg=f"{name}: last")
    assert run.final["overflow"] == int(trace.fft_overflow.any()), f"{name}: overflow port"
    assert run.final["saturations"] == int(trace.saturated.sum()), f"{name}: saturation count"


def varied_layer(n: int, channels: int, seed: int) -> FloatLayer:
    """Channels whose weights differ by powers of two: per-channel shifts (muxed in hardware)."""
    base = random_layer(n, channels, seed=seed)
    scale = 2.0 ** -np.arange(channels)[:, None]
    return FloatLayer.create(base.weight * scale, 0.01 * base.pe, 0.01 * base.bias)


def test_per_channel_shifts_and_three_channels() -> None:
    rng = np.random.default_rng(1)
    q = quantize_layer(varied_layer(7, 3, seed=1), 8, rng.normal(0, 1, (64, 3, 7)))
    assert len(set(q.shift.tolist())) == 3
    engine = FastParcEngine(q)
    rows, _ = quantize_input(q, rng.normal(0, 1, (4, 3, 7)))
    run = simulate_engine(engine, rows.reshape(-1, 7), seed=1)
    assert_engine_equals_model(engine, rows.reshape(-1, 7), run)
    assert run.final["overflow"] == 0


def test_output_shift_below_guard_bits_truncation_and_wrapping() -> None:
    # output_frac = acc_frac of the finest channel: shift 0 there, so the IFFT output LSB is
    # below the accumulator LSB and the offset ROM holds shifted offsets
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
    engine = FastParcEngine(q)
    assert engine.plan.y_exp.min() < 0 and engine.plan.align[1].max() > 0
    rows = rng.integers(-40, 40, (8, 7))  # some outputs wrap
    run = simulate_engine(engine, rows, seed=2, p_ready=0.5)
    assert_engine_equals_model(engine, rows, run)


def test_overflow_port_is_sticky_and_the_saturated_integers_still_match() -> None:
    # output range from small calibration data, then full-scale rows: the correlation exceeds
    # 2**headroom times the output range, so the inverse FFT saturates (and the model says so)
    rng = np.random.default_rng(3)
    q = quantize_layer(random_layer(14, 2, seed=3), 8, rng.normal(0, 0.05, (64, 2, 14)), data_frac=5)
    engine = FastParcEngine(q, FftParams.default(14, 8, output_bits=8, headroom_bits=0))
    rows = rng.integers(-4, 4, (6, 14))
    rows[3] = np.where(q.weight[1] >= 0, 127, -128)  # channel 1, matched to its kernel: full scale
    assert engine.trace(rows.reshape(-1, 2, 14)).fft_overflow.any()
    run = simulate_engine(engine, rows, seed=3)
    assert_engine_equals_model(engine, rows, run)
    assert run.final["overflow"] == 1
