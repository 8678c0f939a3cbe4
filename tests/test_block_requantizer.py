"""Block `hw.requantizer.Requantizer`: RTL == `Requantizer.model` (= `golden.fixed.requantize`
with the channel's shift), the saturation counter == the model's clip count, under random
input bubbles and output backpressure, for every rounding and for saturate and wrap."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth_streams import StreamSink, StreamSource, run_streams

from golden.fixed import Rounding
from hw.requantizer import Requantizer

IN_BITS, OUT_BITS = 18, 8


def run_requantizer(dut: Requantizer, values, channels, lasts, rng, p_valid: float = 1.0, p_ready: float = 1.0):
    beats = [
        {"value": int(v), "channel": int(c), "last": int(last)}
        for v, c, last in zip(values, channels, lasts, strict=True)
    ]
    source = StreamSource(dut.i, beats, rng, p_valid, name="Requantizer.i")
    sink = StreamSink(dut.o, rng, p_ready, name="Requantizer.o")
    run = run_streams(dut, [source], {sink: len(beats)}, drain=4, probes={"saturations": dut.saturations})
    return source, sink, run


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("shifts", [[6], [0, 9, 4, 12]], ids=["one-shift", "per-channel"])
def test_requantizer_rtl_equals_model(rounding: Rounding, saturate: bool, shifts: list[int]) -> None:
    seed = 11 + len(shifts) + 2 * saturate + 4 * list(Rounding).index(rounding)
    rng = np.random.default_rng(seed)
    beats = 160
    channels = rng.integers(0, len(shifts), beats)
    values = rng.integers(-(1 << (IN_BITS - 1)), 1 << (IN_BITS - 1), beats)
    # exact ties for each channel's shift (where half-up and half-even differ), and extremes
    ties = (rng.integers(-300, 300, beats) * 2 + 1) << np.maximum(np.asarray(shifts)[channels] - 1, 0)
    pick = rng.random(beats)
    values = np.where(pick < 0.3, np.clip(ties, -(1 << (IN_BITS - 1)), (1 << (IN_BITS - 1)) - 1), values)
    values[:2] = [-(1 << (IN_BITS - 1)), (1 << (IN_BITS - 1)) - 1]
    lasts = rng.integers(0, 2, beats)
    dut = Requantizer(IN_BITS, OUT_BITS, shifts, rounding, saturate)
    _, sink, run = run_requantizer(dut, values, channels, lasts, rng, p_valid=0.7, p_ready=0.6)
    want, clipped = dut.model(values, channels)
    assert clipped.any(), "test setup: nothing clips"
    np.testing.assert_equal(sink.column("data"), want, err_msg="Requantizer: data differs from model")
    np.testing.assert_equal(sink.column("last"), lasts, err_msg="Requantizer: last not carried")
    assert run.final["saturations"] == int(clipped.sum()), "Requantizer: saturation count"


@pytest.mark.parametrize(
    "in_bits, out_bits, shifts",
    [(10, 12, [0, 3]), (18, 8, [0, 20, 17, 1]), (6, 4, [9])],
    ids=["output-wider-than-input", "shift-beyond-input", "shift-only"],
)
def test_requantizer_edge_widths_equal_model(in_bits: int, out_bits: int, shifts: list[int]) -> None:
    """Shifts of 0, of one bit and past the input width; outputs wider than the input."""
    rng = np.random.default_rng(in_bits * out_bits)
    beats = 120
    channels = rng.integers(0, len(shifts), beats)
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    values = rng.integers(lo, hi + 1, beats)
    values[:4] = [lo, hi, -1, 0]
    for rounding in (Rounding.HALF_EVEN, Rounding.TRUNCATE):
        dut = Requantizer(in_bits, out_bits, shifts, rounding, True)
        _, sink, run = run_requantizer(dut, values, channels, np.zeros(beats), rng, p_valid=0.8, p_ready=0.7)
        want, clipped = dut.model(values, channels)
        np.testing.assert_equal(sink.column("data"), want, err_msg=f"Requantizer {rounding}: data differs from model")
        assert run.final["saturations"] == int(clipped.sum()), f"Requantizer {rounding}: saturation count"


def test_requantizer_latency_is_its_pipeline_depth() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-1000, 1000, 20)
    dut = Requantizer(IN_BITS, OUT_BITS, 2, Rounding.HALF_EVEN, True)
    source, sink, _ = run_requantizer(dut, values, np.zeros(20), np.zeros(20), rng)
    assert sink.cycles == [c + Requantizer.latency for c in source.sent_cycles], "Requantizer: latency"
