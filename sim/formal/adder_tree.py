"""Harnesses of `hw.adder_tree.AdderTree`, a stall-all pipeline (`sim.formal.pipelines`).

Leaves of unequal widths (an odd one passes a level unpaired, as the direct engine's offset
leaf does) and a tag, so every path of the tree is there:

- flow, with any ``o.ready``: ``i.ready = o.ready``, stream rules, nothing lost or repeated,
  the tag leaves with its beat, a stall changes no register;
- data, with ``o.ready`` high: ``o.sum`` is the exact sum of the leaves (`AdderTree.model`,
  the integer sum) that entered ``latency`` cycles earlier, for every leaf value.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Cover

from hw.adder_tree import AdderTree
from sim.formal.pipelines import pipeline_bench, stall_all_flow, unstalled_output
from sim.formal.probe import Probe
from sim.formal.props import Bench

__all__ = ["WIDTHS", "adder_tree_data_bench", "adder_tree_flow_bench", "small_adder_tree"]

WIDTHS = (3, 3, 4, 2, 5)  # five leaves: three levels, an unpaired leaf at two of them
TAG_BITS = 2


def small_adder_tree() -> AdderTree:
    return AdderTree(list(WIDTHS), TAG_BITS)


def _bench() -> tuple[Bench, Probe]:
    return pipeline_bench(small_adder_tree())


def adder_tree_flow_bench() -> Bench:
    bench, probe = _bench()
    dut = probe.dut
    levels = dut.latency
    stages = [(probe.signal(f"valid_d{k}"), probe.signal(f"tag_d{k}")) for k in reversed(range(levels))]
    stall_all_flow(bench, probe, dut.i.payload.tag, dut.o.payload.tag, stages)
    return bench


def adder_tree_data_bench() -> Bench:
    bench, probe = _bench()
    m, dut = bench.m, probe.dut
    leaves = [dut.i.payload.leaves[f"leaf{k}"] for k in range(len(WIDTHS))]
    valid, delayed = unstalled_output(bench, probe, Cat(dut.i.payload.tag, *leaves), dut.latency)
    tag, start = delayed[:TAG_BITS], TAG_BITS
    total = 0
    for width in WIDTHS:
        total = total + delayed[start : start + width].as_signed()
        start += width
    with m.If(valid):
        m.d.comb += [Assert(dut.o.payload.sum == total), Assert(dut.o.payload.tag == tag)]
    m.d.comb += Cover(valid & (dut.o.payload.sum == sum(-(1 << (w - 1)) for w in WIDTHS)))  # all leaves at minimum
    return bench
