"""The proofs: what each one proves, how deep, and how to run one.

A `Proof` pairs a harness (an Amaranth module: the block from `hw/` unchanged, plus the
properties) with the SymbiYosys depths that settle it, and with *structural* checks of the
block's own netlist: "``o.valid`` never depends on ``o.ready``" is a statement about
combinational paths, so it is checked on the paths themselves (`sim.formal.sby.comb_inputs`)
rather than sampled in a trace. ``cost`` sorts the proofs for the test suite: ``slow`` ones
(seconds) run in the default pytest run, ``long`` ones (minutes) only with ``-m long``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from amaranth.back import rtlil
from amaranth.lib import wiring

from hw.credit_buffer import CreditBuffer
from hw.framer import Framer
from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout
from sim.formal import (
    adder_tree,
    credit_buffer,
    direct_top,
    feeder,
    framer,
    native_top,
    padded_top,
    requantizer,
    slices,
)
from sim.formal.probe import ProbeError
from sim.formal.props import Bench
from sim.formal.sby import Outcome, ToolMissingError, comb_inputs, run_sby

__all__ = ["PROOFS", "Proof", "run_proof"]

ALL_INPUTS = ("*",)  # in a structural check: no input at all may reach the output in a cycle


@dataclass(frozen=True)
class Proof:
    """One proof: a harness, its depths and the structural facts of the block.

    ``comb`` maps an output port of ``block()`` to the input ports that must not reach it
    through combinational logic only (``ALL_INPUTS``: none may; the output is a register).
    ``expect`` is ``"fail"`` for the deliberately broken variants.
    """

    name: str
    what: str
    bench: Callable[[], Bench]
    depth: int
    cover_depth: int
    block: Callable[[], wiring.Component] | None = None
    comb: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cost: str = "slow"
    expect: str = "pass"


def check_paths(proof: Proof) -> str:
    """The structural facts that do not hold, as one line each ("" when all hold)."""
    if proof.block is None or not proof.comb:
        return ""
    block = proof.block()
    inputs = {
        "__".join(map(str, path)) for path, member, _ in block.signature.flatten(block) if member.flow == wiring.In
    }
    cones = comb_inputs(rtlil.convert(block), list(proof.comb))
    problems = []
    for output, forbidden in proof.comb.items():
        banned = inputs if forbidden == ALL_INPUTS else set(forbidden)
        if reached := sorted(cones[output] & banned):
            problems.append(f"{output} depends combinationally on {', '.join(reached)}")
    return "; ".join(problems)


def run_proof(proof: Proof, *, keep: bool = False) -> Outcome:
    """Run the structural checks, then SymbiYosys (prove and cover): ``pass`` when all hold."""
    start = time.monotonic()
    try:
        paths = check_paths(proof)
        design = _rtlil(proof)
    except (ToolMissingError, ProbeError) as exc:  # no toolchain, or hw/ renamed what a harness reads
        return Outcome("error", time.monotonic() - start, str(exc))
    outcome = run_sby(proof.name, design, depth=proof.depth, cover_depth=proof.cover_depth, keep=keep)
    seconds = time.monotonic() - start
    if paths and outcome.status != "error":
        return Outcome("fail", seconds, "; ".join(filter(None, [paths, outcome.detail])), outcome.work_dir)
    return Outcome(outcome.status, seconds, outcome.detail, outcome.work_dir)


def _rtlil(proof: Proof) -> str:
    bench = proof.bench()
    return rtlil.convert(bench.m, ports=[bench.clock], platform="formal")


# docs/stream-contract.md section 4: m_axis comes straight from registers; s_axis_tready
# never depends on s_axis_tvalid
TOP_PATHS = {
    "m_axis_tvalid": ALL_INPUTS,
    "m_axis_tdata": ALL_INPUTS,
    "m_axis_tlast": ALL_INPUTS,
    "s_axis_tready": ("s_axis_tvalid",),
}


def _sample_slice(cls: type[wiring.Component]) -> Callable[[], wiring.Component]:
    return lambda: cls(sample_layout(slices.BITS))


PROOFS: dict[str, Proof] = {
    p.name: p
    for p in [
        Proof(
            "skid",
            "SkidBuffer: identity on beats, none lost or repeated, stream rules; i.ready a register",
            slices.skid_bench,
            depth=4,
            cover_depth=8,
            block=_sample_slice(SkidBuffer),
            comb={"o__valid": ("o__ready",), "o__payload": ("o__ready",), "i__ready": ALL_INPUTS},
        ),
        Proof(
            "register_slice",
            "RegisterSlice: identity on beats, none lost or repeated, stream rules; all outputs registers",
            slices.register_slice_bench,
            depth=4,
            cover_depth=8,
            block=_sample_slice(RegisterSlice),
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS, "i__ready": ALL_INPUTS},
        ),
        Proof(
            "framer",
            "Framer (N=3, 2 bits, C=3): kept frames and errors exactly as Framer.model, frames intact, channel = number mod C",
            framer.framer_bench,
            depth=6,
            cover_depth=14,
            block=lambda: Framer(3, 2, 3),
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS},
        ),
        Proof(
            "framer_ready_next",
            "Framer (N=3, 2 bits, C=3, ready_next): as framer; i.ready and the buffer's shift enable registers equal to their rules",
            lambda: framer.framer_bench(ready_next=True),
            depth=6,
            cover_depth=14,
            block=lambda: Framer(3, 2, 3, ready_next=True),
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS, "i__ready": ALL_INPUTS},
        ),
        Proof(
            "framer_n5",
            "Framer (N=5, 3 bits, C=2): as framer, a larger frame",
            lambda: framer.framer_bench(5, 3, 2),
            depth=8,
            cover_depth=20,
            cost="long",
        ),
        Proof(
            "feeder",
            "Feeder.direct (N=4, 2 bits, C=2, P=3, ready_next): positions x groups beats per frame in order, last on the final one, data = rotation windows",
            feeder.feeder_bench,
            depth=6,
            cover_depth=22,
            block=feeder.small_feeder,
            comb={"o__valid": ALL_INPUTS, "i__ready": ALL_INPUTS},
        ),
        Proof(
            "credit_buffer",
            "CreditBuffer (depth 3): grant = fewer than depth outstanding, i never refused, identity on beats",
            credit_buffer.credit_buffer_bench,
            depth=6,
            cover_depth=10,
            block=lambda: CreditBuffer(sample_layout(2), 3),
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS, "grant": ALL_INPUTS},
        ),
        Proof(
            "credit_buffer_d6",
            "CreditBuffer (depth 6): as credit_buffer, a deeper FIFO",
            lambda: credit_buffer.credit_buffer_bench(6, 3),
            depth=8,
            cover_depth=12,
            cost="long",
        ),
        Proof(
            "requantizer_flow",
            "Requantizer: i.ready = o.ready, stream rules, none lost, last kept, a stall changes no register",
            requantizer.requantizer_flow_bench,
            depth=6,
            cover_depth=10,
            block=requantizer.small_requantizer,
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS, "saturations": ALL_INPUTS},
        ),
        Proof(
            "requantizer_data",
            "Requantizer (6 -> 3 bits, shifts 1 and 3, half-even, saturate): every output = Requantizer.model, saturations exact",
            requantizer.requantizer_data_bench,
            depth=8,
            cover_depth=10,
        ),
        Proof(
            "adder_tree_flow",
            "AdderTree (5 leaves of 2-5 bits, 2-bit tag): i.ready = o.ready, stream rules, none lost, tag kept, a stall changes no register",
            adder_tree.adder_tree_flow_bench,
            depth=5,
            cover_depth=10,
            block=adder_tree.small_adder_tree,
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS},
        ),
        Proof(
            "adder_tree_data",
            "AdderTree (same): every o.sum is the exact sum of the leaves that entered latency cycles earlier",
            adder_tree.adder_tree_data_bench,
            depth=6,
            cover_depth=6,
        ),
        Proof(
            "direct_top",
            "direct engine top (N=3, 4 bits, C=2, P=N): m_axis rules, tlast every N, N outputs per kept frame, frame_errors exact",
            direct_top.direct_top_bench,
            depth=10,
            cover_depth=24,
            block=direct_top.direct_top,
            comb=TOP_PATHS,
        ),
        Proof(
            "direct_top_p2",
            "direct engine top (N=4, 4 bits, C=2, P=2: two groups per output): as direct_top",
            lambda: direct_top.direct_top_bench(direct_top.SPEC_FOLDED),
            depth=12,
            cover_depth=36,
            block=lambda: direct_top.direct_top(direct_top.SPEC_FOLDED),
            comb=TOP_PATHS,
            cost="long",
        ),
        Proof(
            "padded_top",
            "padded FFT engine top (N=2, M=8, 4 bits, C=1): m_axis rules, tlast every N, N outputs per kept frame through both FFTs and the kept FIFO, frame_errors exact",
            padded_top.padded_top_bench,
            depth=14,
            cover_depth=70,
            block=padded_top.padded_top,
            comb=TOP_PATHS,
            cost="long",
        ),
        Proof(
            "native_top",
            "native FFT engine top (N=2, 4 bits, C=1): m_axis rules, tlast every N, N outputs per kept frame through every ping-pong buffer and stage, frame_errors exact",
            native_top.native_top_bench,
            depth=10,
            cover_depth=67,
            block=native_top.native_top,
            comb=TOP_PATHS,
            cost="long",
        ),
        Proof(
            "broken_skid",
            "a SkidBuffer that is always ready (drops a held beat): must FAIL",
            lambda: slices.skid_bench(slices.DroppingSkid),
            depth=4,
            cover_depth=8,
            expect="fail",
        ),
        Proof(
            "broken_skid_valid",
            "a SkidBuffer whose o.valid falls while it holds a beat: must FAIL",
            lambda: slices.skid_bench(slices.FickleSkid),
            depth=4,
            cover_depth=8,
            expect="fail",
        ),
        Proof(
            "broken_padded_top",
            "the padded top with s_axis_tlast unconnected (LastlessTop), port properties only: must FAIL",
            lambda: padded_top.padded_top_bench(wrapper=padded_top.LastlessTop, invariants=False),
            depth=6,
            cover_depth=1,
            expect="fail",
        ),
        Proof(
            "broken_native_top",
            "the native top with s_axis_tlast unconnected (LastlessTop), port properties only: must FAIL",
            lambda: native_top.native_top_bench(wrapper=padded_top.LastlessTop, invariants=False),
            depth=6,
            cover_depth=1,
            expect="fail",
        ),
    ]
}
