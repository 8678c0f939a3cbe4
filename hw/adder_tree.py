"""Pipelined adder tree: the sum of L signed leaves, one register level per tree level.

A balanced pairwise tree keeps every adder two operands wide and one register deep, so its
speed does not depend on the number of leaves (P products + an offset in `hw.direct`); each
level grows only by the one carry bit its pair sum needs, so no register is wider than the
partial sum it holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Module, ShapeLike, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.pipeline import delay


def _level_widths(widths: Sequence[int]) -> list[list[int]]:
    """Widths of the partial sums at each level: pairs widen by one bit, an odd leaf passes."""
    levels = [list(widths)]
    while len(levels[-1]) > 1:
        prev = levels[-1]
        nxt = [max(prev[j], prev[j + 1]) + 1 for j in range(0, len(prev) - 1, 2)]
        if len(prev) % 2:
            nxt.append(prev[-1])
        levels.append(nxt)
    return levels


class AdderTree(wiring.Component):
    """Registered pairwise sum of signed leaves of (possibly) different widths, with a tag.

    Flow: a stall-all pipeline. ``i.ready = o.ready`` and every register (sums, valid, tag)
    advances while ``o.ready`` is high, so an engine that drives ``o.ready`` with its one
    pipeline enable (``~out.valid | out.ready``) freezes the tree together with every other
    stage. Used on its own it is a legal stream stage that never drops or repeats a beat.

    Parameters
    ----------
    widths : sequence of int
        Width of each signed leaf, in leaf order (at least one leaf).
    tag_shape : ShapeLike
        Side information that travels with the sum (frame end, channel, ...); default none.

    Attributes
    ----------
    latency : int
        ``ceil(log2 L)`` register levels from an input beat to its sum.
    sum_bits : int
        Width of ``o.payload.sum``: exact for any leaf values (one carry bit per level).

    Ports
    -----
    i : In(stream.Signature({leaves: {"leaf0": signed(widths[0]), ...}, tag: tag_shape}))
        One set of leaves per beat; ``payload.leaves.leaf<k>`` is leaf k.
    o : Out(stream.Signature({sum: signed(sum_bits), tag: tag_shape}))
        Their sum and the beat's tag, ``latency`` beats later.
    """

    def __init__(self, widths: Sequence[int], tag_shape: ShapeLike = 0) -> None:
        if not widths:
            raise ValueError("an adder tree needs at least one leaf")
        self.widths = [int(w) for w in widths]
        self._levels = _level_widths(self.widths)
        self.sum_bits = self._levels[-1][0]
        self.tag_shape = tag_shape  # kept as given: a layout stays a layout on `o`
        leaves = data.StructLayout({f"leaf{k}": signed(w) for k, w in enumerate(self.widths)})
        super().__init__(
            {
                "i": In(stream.Signature(data.StructLayout({"leaves": leaves, "tag": self.tag_shape}))),
                "o": Out(stream.Signature(data.StructLayout({"sum": signed(self.sum_bits), "tag": self.tag_shape}))),
            }
        )

    @property
    def latency(self) -> int:
        return len(self._levels) - 1

    def model(self, leaves: np.ndarray) -> np.ndarray:
        """Sums of ``leaves`` (..., L): exact integers (int64 while ``sum_bits`` <= 63)."""
        leaves = np.asarray(leaves)
        assert leaves.shape[-1] == len(self.widths), f"expected {len(self.widths)} leaves, got {leaves.shape[-1]}"
        return leaves.astype(np.int64 if self.sum_bits <= 63 else object).sum(axis=-1)

    def elaborate(self, platform) -> Module:
        m = Module()
        enable = self.o.ready
        level = [self.i.payload.leaves[f"leaf{k}"] for k in range(len(self.widths))]
        for depth, widths in enumerate(self._levels[1:]):
            nxt = []
            for j, width in enumerate(widths):
                s = Signal(signed(width), name=f"l{depth}_{j}")
                pair = level[2 * j : 2 * j + 2]
                with m.If(enable):
                    m.d.sync += s.eq(pair[0] + pair[1] if len(pair) == 2 else pair[0])
                nxt.append(s)
            level = nxt
        m.d.comb += [
            self.i.ready.eq(enable),
            self.o.valid.eq(delay(m, self.i.valid, self.latency, enable, "valid")),
            self.o.payload.tag.eq(delay(m, self.i.payload.tag, self.latency, enable, "tag")),
            self.o.payload.sum.eq(level[0]),
        ]
        return m


def tree_levels(leaves: int) -> int:
    """Register levels of an `AdderTree` of ``leaves`` leaves: ``ceil(log2 leaves)``."""
    return math.ceil(math.log2(leaves)) if leaves > 1 else 0


__all__ = ["AdderTree", "tree_levels"]
