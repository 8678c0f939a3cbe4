"""The proofs: what each one proves, how deep, and how to run one.

A `Proof` pairs a harness (an Amaranth module: the block from `hw/` unchanged, plus the
properties) with the SymbiYosys depths that settle it, and with *structural* checks of the
block's own netlist: "``o.valid`` never depends on ``o.ready``" is a statement about
combinational paths, so it is checked on the paths themselves (`sim.formal.sby.comb_inputs`)
rather than sampled in a trace. ``cost`` sorts the proofs for the test suite: ``fast`` ones
run in every pytest, ``slow`` ones are marked slow, ``long`` ones are deselected by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from amaranth.back import rtlil
from amaranth.lib import wiring

from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout
from hw.credit_buffer import CreditBuffer
from hw.framer import Framer
from sim.formal import credit_buffer, framer, requantizer, slices
from sim.formal.props import Bench
from sim.formal.sby import Outcome, ToolMissing, comb_inputs, run_sby

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
    cost: str = "fast"
    expect: str = "pass"


def check_paths(proof: Proof) -> str:
    """The structural facts that do not hold, as one line each ("" when all hold)."""
    if proof.block is None or not proof.comb:
        return ""
    block = proof.block()
    inputs = {"__".join(map(str, path)) for path, member, _ in block.signature.flatten(block) if member.flow == wiring.In}
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
    except ToolMissing as exc:
        return Outcome("error", 0.0, str(exc))
    outcome = run_sby(proof.name, _rtlil(proof), depth=proof.depth, cover_depth=proof.cover_depth, keep=keep)
    seconds = time.monotonic() - start
    if paths and outcome.status != "error":
        return Outcome("fail", seconds, "; ".join(filter(None, [paths, outcome.detail])), outcome.work_dir)
    return Outcome(outcome.status, seconds, outcome.detail, outcome.work_dir)


def _rtlil(proof: Proof) -> str:
    bench = proof.bench()
    return rtlil.convert(bench.m, ports=[bench.clock], platform="formal")


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
            "credit_buffer",
            "CreditBuffer (depth 3): grant = fewer than depth outstanding, i never refused, identity on beats",
            credit_buffer.credit_buffer_bench,
            depth=6,
            cover_depth=10,
            block=lambda: CreditBuffer(sample_layout(2), 3),
            comb={"o__valid": ALL_INPUTS, "o__payload": ALL_INPUTS, "grant": ALL_INPUTS},
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
            "broken_skid",
            "a SkidBuffer that is always ready (drops a held beat): must FAIL",
            lambda: slices.skid_bench(slices.DroppingSkid),
            depth=4,
            cover_depth=8,
            expect="fail",
        ),
    ]
}
