"""Formal proofs of the stream blocks (`sim.formal`, docs/formal.md): each one passes, and the
checker can fail.

Every proof runs SymbiYosys (k-induction and cover) from the pip wheels, 2-8 s each, the
direct engine's top 15-35 s; the larger variants and the FFT engines' tops (minutes: their
cover traces are ~60 cycles long) are marked long. Four tests show the checks have teeth:
two broken skid buffers (one loses a beat, one drops valid before the transfer) and both FFT
tops with ``s_axis_tlast`` unconnected fail with a counterexample from reset, a slice whose
``i.ready`` is a wire fails the structural check, and a harness whose claimed invariant is
false fails. A harness that
reads a register `hw/` no longer has reports an error, not a pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amaranth.hdl import Assert, Module

import sim.formal.__main__ as cli
from hw.skid import RegisterSlice, SkidBuffer
from hw.stream import sample_layout
from sim.formal import slices
from sim.formal.__main__ import main
from sim.formal.proofs import ALL_INPUTS, PROOFS, Proof, check_paths, run_proof
from sim.formal.props import Bench
from sim.formal.sby import Outcome

MARKS = {"slow": [pytest.mark.slow], "long": [pytest.mark.long]}


@pytest.fixture(autouse=True)
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Proof work folders go to a temporary build folder, never the repository's."""
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    return tmp_path / "build"


@pytest.mark.parametrize(
    "name", [pytest.param(p.name, marks=MARKS[p.cost]) for p in PROOFS.values() if p.expect == "pass"]
)
def test_proof_passes(name: str, build_dir: Path) -> None:
    outcome = run_proof(PROOFS[name])
    assert outcome.status == "pass", f"{name}: {outcome.status}: {outcome.detail}"
    assert not any((build_dir / "formal").iterdir()), "a passed proof leaves its work folder behind"


@pytest.mark.parametrize(
    "name", [pytest.param(p.name, marks=MARKS[p.cost]) for p in PROOFS.values() if p.expect == "fail"]
)
def test_broken_variant_fails_from_reset(name: str) -> None:
    """``broken_skid`` loses a beat, ``broken_skid_valid`` drops valid before the transfer;
    ``broken_padded_top`` and ``broken_native_top`` leave ``s_axis_tlast`` unconnected, and
    their port properties alone (no strengthening invariant that could fail first) refute
    ``frame_errors`` from reset."""
    outcome = run_proof(PROOFS[name])
    assert outcome.status == "fail", outcome.detail
    assert "FAIL for basecase" in outcome.detail, "expected a real counterexample, not only a failed induction"


class WireSkid(SkidBuffer):
    """Broken on purpose: ``i.ready`` is ``o.ready`` (a combinational path the contract forbids)."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(self.o.ready)
        return m


def test_structural_check_sees_a_combinational_ready() -> None:
    proof = Proof(
        "wire_skid",
        "",
        slices.skid_bench,
        depth=1,
        cover_depth=1,
        block=lambda: WireSkid(sample_layout(slices.BITS)),
        comb={"i__ready": ALL_INPUTS, "o__valid": ("o__ready",)},
    )
    assert check_paths(proof) == "i__ready depends combinationally on o__ready"
    assert check_paths(PROOFS["skid"]) == ""


@pytest.mark.slow
def test_a_false_invariant_is_refuted() -> None:
    """The register slice does hold a second beat when ``o`` stalls: claiming it never does
    must fail, so the harness's environment really produces backpressure."""

    def bench() -> Bench:
        b, probe, _ = slices.slice_bench(RegisterSlice(sample_layout(slices.BITS)))
        b.m.d.comb += Assert(~probe.signal("full"))
        return b

    outcome = run_proof(Proof("false_invariant", "", bench, depth=3, cover_depth=4))
    assert outcome.status == "fail", outcome.detail


def test_a_renamed_register_is_an_error_not_a_pass() -> None:
    def bench() -> Bench:
        b, probe, _ = slices.slice_bench(SkidBuffer(sample_layout(slices.BITS)))
        probe.signal("no_such_register")
        return b

    outcome = run_proof(Proof("renamed", "", bench, depth=1, cover_depth=1))
    assert outcome.status == "error"
    assert "no signal 'no_such_register'" in outcome.detail and "'full'" in outcome.detail


def test_cli_lists_and_refuses_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in PROOFS)
    assert main(["--only", "no_such_proof"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "no_such_proof" in err


def test_cli_prints_a_json_summary_last(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """One line per proof, then the JSON summary; exit 1 when any proof did not pass. (The
    proofs themselves are stubbed: the tests above run them.)"""
    results = {"skid": Outcome("pass", 1.0), "broken_skid": Outcome("fail", 2.0, "failed assertion")}
    monkeypatch.setattr(cli, "run_proof", lambda proof, keep=False: results[proof.name])
    assert main(["--only", "skid", "--only", "broken_skid"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["proofs"] == {"skid": "pass", "broken_skid": "fail"}
    assert [line.split()[:2] for line in lines[:-1]] == [["skid", "pass"], ["broken_skid", "fail"]]
    assert main(["--only", "skid"]) == 0
