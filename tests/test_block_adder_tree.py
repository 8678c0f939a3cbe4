"""Block `hw.adder_tree.AdderTree`: RTL == `AdderTree.model` (the exact sum) and the tag rides
along, under random input bubbles and output backpressure, for odd and even leaf counts and
extreme leaf values."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth_streams import StreamSink, StreamSource, run_streams

from hw.adder_tree import AdderTree, tree_levels

TAG_BITS = 5


def extreme_leaves(rng: np.random.Generator, widths: list[int], beats: int) -> np.ndarray:
    """Random leaves, a third of them at their signed extremes (the carry bits must hold)."""
    lo = np.array([-(1 << (w - 1)) for w in widths])
    hi = np.array([(1 << (w - 1)) - 1 for w in widths])
    values = rng.integers(lo, hi + 1, (beats, len(widths)))
    pick = rng.random((beats, len(widths)))
    return np.where(pick < 0.15, lo, np.where(pick < 0.3, hi, values))


@pytest.mark.parametrize(
    "widths, seed, p_valid, p_ready",
    [
        ([8, 8], 1, 1.0, 1.0),
        ([16, 16, 16, 16, 16, 16, 16, 24], 2, 0.7, 0.5),  # P = 7 products + a wider offset leaf
        ([5, 9, 3, 12, 7], 3, 0.5, 0.8),
        ([10, 10, 10], 4, 0.6, 0.6),
    ],
)
def test_adder_tree_rtl_equals_model(widths: list[int], seed: int, p_valid: float, p_ready: float) -> None:
    rng = np.random.default_rng(seed)
    dut = AdderTree(widths, TAG_BITS)
    assert dut.latency == tree_levels(len(widths))
    beats = 120
    leaves = extreme_leaves(rng, widths, beats)
    tags = rng.integers(0, 1 << TAG_BITS, beats)
    inputs = [
        {"leaves": {f"leaf{k}": v for k, v in enumerate(row)}, "tag": t} for row, t in zip(leaves, tags, strict=True)
    ]
    source = StreamSource(dut.i, inputs, rng, p_valid, name="AdderTree.i")
    sink = StreamSink(dut.o, rng, p_ready, name="AdderTree.o")
    run_streams(dut, [source], {sink: beats}, drain=8)
    np.testing.assert_equal(sink.column("sum"), dut.model(leaves), err_msg="AdderTree: sum differs from model")
    np.testing.assert_equal(sink.column("tag"), tags, err_msg="AdderTree: tag not carried with its sum")
    if p_valid == p_ready == 1.0:
        assert sink.cycles == [c + dut.latency for c in source.sent_cycles], "AdderTree: latency"


def test_adder_tree_sum_width_holds_the_extremes() -> None:
    """All leaves at their minimum, then at their maximum: the sums come out exact, and the
    sum is no wider than that worst case needs (one carry bit per pair level)."""
    widths = [8, 8, 8, 8, 8]
    dut = AdderTree(widths)
    assert dut.sum_bits == 11, "AdderTree: pairs +1, second level +1, the odd leaf joins at the third"
    extremes = np.array([[-128] * 5, [127] * 5])
    source = StreamSource(dut.i, [{"leaves": {f"leaf{k}": int(v) for k, v in enumerate(row)}} for row in extremes])
    sink = StreamSink(dut.o, name="AdderTree.o")
    run_streams(dut, [source], {sink: 2})
    np.testing.assert_equal(sink.column("sum"), [-640, 635], err_msg="AdderTree: extreme sums overflowed")
