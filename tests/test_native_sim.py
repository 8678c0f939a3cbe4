"""Native prime-factor Fast-ParC engine (`hw.native_fast_parc`) in cocotb/Verilator: bit-exact
against `golden.native_fft.native_model`.

Every run has random input bubbles and output backpressure, a reset in mid-frame and
malformed-tlast frames (`sim.scenarios`, which complete the last channel pair: the engine
holds a channel 2p frame until channel 2p + 1 arrives); the sticky ``overflow`` port must stay
0. The engine transforms two channels at once, so the channel count matters as much as N:
the diagonal mixes even, odd and single-channel layers over N = 7, 12 (factor 3), 14, 21,
28, 56 and covers every bit width; the rest of the grid is marked ``long``. One Verilator
build per configuration (~30-60 s on 2 cores): the throughput and latency tests reuse the
diagonal's N = 56, 8-bit, C = 2 build.
"""

from __future__ import annotations

import pytest
from simutil import assert_bit_exact, diagonal_grid, engine_name, run_sim

from hw.design import Design, DesignSpec, build_design
from hw.native_fast_parc import NativeFastParcEngine
from sim.scenarios import frames_to_complete

SIZES = [7, 12, 14, 21, 28, 56]
BITS = [8, 12, 16]
DIAGONAL = [(7, 16), (12, 8), (14, 12), (21, 12), (28, 16), (56, 8)]
CHANNELS = {7: 3, 12: 2, 14: 1, 21: 3, 28: 3, 56: 2}  # odd counts pad a zero channel; C = 1 is a pair alone
FRAMES = 16  # not a multiple of 3: with C = 3 the stream ends on a channel 0 that needs a partner


def seed_of(n: int, bits: int) -> int:
    return n * bits  # the random weights depend on the seed: same seed, same Verilog, same build


def native_design(n: int, bits: int) -> Design:
    spec = DesignSpec(
        arch="fft",
        n=n,
        bits=bits,
        channels=CHANNELS[n],
        weights="random",
        seed=seed_of(n, bits),
        options={"fft_impl": "native"},
    )
    return build_design(spec)


@pytest.mark.parametrize("n, bits", diagonal_grid("fft-native", SIZES, BITS, DIAGONAL))
def test_native_engine_is_bit_exact_under_backpressure(n: int, bits: int) -> None:
    result = run_sim(
        arch="fft",
        fft_impl="native",
        n=n,
        bits=bits,
        channels=CHANNELS[n],
        weights="random",
        frames=FRAMES,
        seed=seed_of(n, bits),
        backpressure=0.4,
        bubble=0.2,
    )
    name = engine_name(result)
    assert result.fft_impl == "native", f"{name}: not the native engine"
    assert_bit_exact(result)
    assert result.overflow == 0, f"{name}: overflow port set"
    assert result.scenarios["tlast"]["frame_errors"] > 0, f"{name}: the malformed frames went unseen"
    for scenario, r in result.scenarios.items():
        assert r["status"]["overflow"] == 0, f"{name}: overflow in scenario {scenario}"


def test_one_sample_per_clock_and_latency_as_documented() -> None:
    n, bits = 56, 8
    engine = native_design(n, bits).engine
    assert isinstance(engine, NativeFastParcEngine)
    result = run_sim(
        arch="fft",
        fft_impl="native",
        n=n,
        bits=bits,
        channels=CHANNELS[n],
        weights="random",
        frames=40,
        seed=seed_of(n, bits),
        backpressure=0,
        bubble=0,
        scenarios=("stream",),
    )
    assert_bit_exact(result)
    name = engine_name(result)
    stream = result.scenarios["stream"]
    # no bubbles: the pair's first frame (channel 0) ends N - 1 cycles after the first input,
    # the second (channel 1) N cycles later; channel 0's first output needs both
    first_frame_end = stream["first_input_cycle"] + n - 1
    measured = stream["first_output_cycle"] - first_frame_end
    print(
        f"\nN={n} bits={bits} C=2: cycles/sample {stream['cycles_per_sample']:.4f} (engine: "
        f"{engine.cycles_per_sample}); latency from the pair's first frame's last sample {measured}, from its "
        f"second frame's {measured - n}; engine.latency {engine.latency} = {engine.latency_parts}"
    )
    assert stream["cycles_per_sample"] <= 1 / 0.99, f"{name}: {stream['cycles_per_sample']} cycles/sample"
    assert result.latency_cycles == engine.latency
    # engine.latency is the worst case: each stage on a shared module may wait up to r - 1
    # cycles for its slot, depending on when the input starts after reset
    slack = sum(r - 1 for r in engine.params.factors) * 2
    assert engine.latency - slack <= measured <= engine.latency, (
        f"{name}: latency {measured} cycles measured from the pair's first frame's last sample "
        f"({measured - n} from its second frame's), engine.latency {engine.latency} (slot waits up to {slack})"
    )


def test_output_backpressure_alone_limits_the_rate() -> None:
    # the engine stalls only at its output: with m_axis_tready low half the time (random, per
    # cycle) it accepts one sample per output slot the sink grants, 1 / (1 - 0.5) = 2 cycles per
    # sample on average (measured: 2.003 without input bubbles, 2.006 with 20 % of them), and no
    # worse: the ping-pong buffers absorb the output's random pauses
    n, bits, backpressure = 56, 8, 0.5
    result = run_sim(
        arch="fft",
        fft_impl="native",
        n=n,
        bits=bits,
        channels=CHANNELS[n],
        weights="random",
        frames=40,
        seed=seed_of(n, bits),
        backpressure=backpressure,
        bubble=0.2,
        scenarios=("stream",),
    )
    assert_bit_exact(result)
    name = engine_name(result)
    assert result.cycles_per_sample is not None, f"{name}: no stream scenario result"
    allowed = 1 / (1 - backpressure)
    print(
        f"\nN={n} C=2, backpressure {backpressure}, bubbles 0.2: cycles/sample {result.cycles_per_sample:.4f} "
        f"(the output allows {allowed:.4f})"
    )
    assert 0.95 * allowed <= result.cycles_per_sample <= 1.05 * allowed, (
        f"{name}: {result.cycles_per_sample} cycles/sample"
    )


@pytest.mark.long
def test_native_engine_long_run_n56_bits8() -> None:
    result = run_sim(
        arch="fft", fft_impl="native", n=56, bits=8, frames=2000, backpressure=0.3, bubble=0.1, seed=11, channels=4
    )
    assert_bit_exact(result)
    assert result.samples >= 100_000
    assert result.overflow == 0


# --- the scenarios complete the last pair (no simulator) --------------------------------------


@pytest.mark.parametrize(
    "channels, extra",
    [
        (1, [0, 0, 0]),  # channel 0 is the last of an odd count: alone
        (2, [1, 0, 1, 0]),
        (3, [1, 0, 0, 1, 0, 0]),  # channel 2 goes alone
        (4, [1, 0, 1, 0, 1]),
    ],
)
def test_streams_end_on_a_whole_pair(channels: int, extra: list[int]) -> None:
    native = build_design(DesignSpec(arch="fft", n=7, channels=channels, weights="random"))
    assert isinstance(native.engine, NativeFastParcEngine)
    assert [frames_to_complete(native, f) for f in range(1, len(extra) + 1)] == extra
    assert frames_to_complete(native, 0) == 0
    padded = build_design(
        DesignSpec(arch="fft", n=7, channels=channels, weights="random", options={"fft_impl": "padded"})
    )
    assert [frames_to_complete(padded, f) for f in range(1, 6)] == [0] * 5
