"""Block `hw.shared_dft.SharedDft`: one forward `WinogradDft` serving two stages, optionally folded.

"Is the shared module the golden module?": two clients fire random vectors in cycles that obey
the block's contract (at most one fire per cycle; folded, none in the cycle right after a fire),
with back-to-back fires from alternating clients (the tightest schedule the engine's start phases
can produce) and idle stretches; every input port that is not being read carries random garbage,
so a wrong client selection or, folded, a second half read from the port instead of the held
imaginary parts shows up. ``y`` must equal ``dft.model(re, im)`` (`golden.winograd.dft_int`)
exactly, `SharedDft.latency` cycles after each fire: the folded module works on real vectors and
recombines ``DFT(a + j b) = (A.re - B.im) + j (A.im + B.re)``, which is bit-exact only because the
pre-adds are real and every product is rounded per component, so any slip in the recombination
or the timing of the second half fails here.

Client 1 plays the engine's inverse stage: it fires ``swap(x)`` and swaps the result, which must be
the inverse module ``gw.dft_int(..., inverse=True)`` (the trick `hw.pfa_stage.PfaStage` relies on
to share a forward module). Every size unfolded, every foldable size folded, all three roundings,
several input widths, constant and kept-fraction widths, CSD and DSP constants, and full-scale
stimuli: all-most-negative and all-most-positive vectors and, for every output bin and component,
the rails that drive it to its extremes (`test_block_winograd.extreme_vectors`), so the module's
output width and the recombining adders are exercised at their limits.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.sim import Simulator
from test_block_winograd import extreme_vectors

from golden import winograd as gw
from golden.fixed import Rounding
from hw.shared_dft import FOLD_MIN_R, SharedDft
from hw.winograd import SIZES, WinogradDft

RANDOM_VECTORS = 30


@dataclass(frozen=True)
class Fire:
    """One use of the module: ``client`` (0 or 1) fires in ``cycle`` the logical vector
    ``(re, im)``; client 1 drives it swapped (the inverse stage's trick)."""

    cycle: int
    client: int
    re: np.ndarray
    im: np.ndarray


def vectors(rng: np.random.Generator, r: int, bits: int, const_bits: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random vectors (a fifth of the components on a rail, most-negative included) and the
    full-scale vectors that drive each forward and each inverse output to its extremes, shuffled."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def random_part() -> np.ndarray:
        v = rng.integers(lo, hi + 1, (RANDOM_VECTORS, r))
        pick = rng.random(v.shape)
        return np.where(pick < 0.1, lo, np.where(pick < 0.2, hi, v))

    fwd_re, fwd_im = extreme_vectors(r, bits, const_bits, inverse=False)
    inv_re, inv_im = extreme_vectors(r, bits, const_bits, inverse=True)
    re = np.concatenate([random_part(), fwd_re, inv_re])
    im = np.concatenate([random_part(), fwd_im, inv_im])
    order = rng.permutation(len(re))
    return list(re[order]), list(im[order])


def schedule(rng: np.random.Generator, re: list[np.ndarray], im: list[np.ndarray], slot: int) -> list[Fire]:
    """One fire per vector, in cycles the contract allows: consecutive fires at least ``slot``
    cycles apart (1 unfolded, 2 folded). Half the gaps are exactly ``slot`` with the client
    alternating (the tightest schedule of two stages), the rest random, same client or not. The
    first fire comes at cycle 1 or later: ``fire0_next`` announces each fire a cycle ahead."""
    fires = []
    cycle, client = 1 + int(rng.integers(0, 3)), int(rng.integers(0, 2))
    for a, b in zip(re, im, strict=True):
        fires.append(Fire(cycle, client, a, b))
        if rng.random() < 0.5:
            cycle, client = cycle + slot, 1 - client
        else:
            cycle, client = cycle + slot + int(rng.integers(0, 4)), int(rng.integers(0, 2))
    return fires


def run_shared(dut: SharedDft, fires: list[Fire], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Drive the fires (garbage on every port not read), return ``y`` for each fire, read after
    the clock edge that is ``latency`` edges after the fire's (the edge of the fire is edge 1)."""
    rng = np.random.default_rng(seed)
    r, bits = dut.r, dut.in_bits
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    by_cycle = {f.cycle: f for f in fires}
    due = {f.cycle + dut.latency - 1: k for k, f in enumerate(fires)}  # edge after which y holds fire k
    cycles = fires[-1].cycle + dut.latency
    got: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(fires)
    ports = ((dut.x0, dut.fire0), (dut.x1, dut.fire1))

    async def bench(ctx) -> None:
        for cycle in range(cycles):
            fire = by_cycle.get(cycle)
            coming = by_cycle.get(cycle + 1)  # fire0_next: anything when no fire follows
            ctx.set(dut.fire0_next, int(coming.client == 0) if coming is not None else int(rng.integers(2)))
            for client, (x, strobe) in enumerate(ports):
                mine = fire is not None and fire.client == client
                ctx.set(strobe, int(mine))
                if mine:
                    assert fire is not None
                    a, b = (fire.re, fire.im) if client == 0 else (fire.im, fire.re)
                else:
                    a, b = rng.integers(lo, hi, r), rng.integers(lo, hi, r)
                for e in range(r):
                    ctx.set(x[e].re, int(a[e]))
                    ctx.set(x[e].im, int(b[e]))
            await ctx.tick()
            k = due.get(cycle)
            if k is not None:
                got[k] = (
                    np.array([ctx.get(dut.y[e].re) for e in range(r)], dtype=np.int64),
                    np.array([ctx.get(dut.y[e].im) for e in range(r)], dtype=np.int64),
                )

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert all(g is not None for g in got)
    return [g for g in got if g is not None]


CASES = [
    # r, fold, in_bits, const_bits, frac_bits, rounding, impl
    pytest.param(2, False, 6, 12, 0, Rounding.HALF_UP, "csd", id="r2"),
    pytest.param(3, False, 10, 14, 2, Rounding.TRUNCATE, "dsp", id="r3"),
    pytest.param(4, False, 8, 12, 1, Rounding.HALF_EVEN, "csd", id="r4"),
    pytest.param(5, False, 12, 16, 3, Rounding.HALF_UP, "csd", id="r5"),
    pytest.param(7, False, 9, 8, 4, Rounding.HALF_EVEN, "csd", id="r7-ties"),
    pytest.param(8, False, 11, 14, 0, Rounding.TRUNCATE, "dsp", id="r8"),
    pytest.param(4, True, 9, 12, 2, Rounding.TRUNCATE, "csd", id="r4-folded"),
    pytest.param(5, True, 10, 8, 3, Rounding.HALF_EVEN, "csd", id="r5-folded-ties"),
    pytest.param(5, True, 7, 16, 0, Rounding.TRUNCATE, "dsp", id="r5-folded-dsp"),
    pytest.param(7, True, 8, 16, 2, Rounding.TRUNCATE, "csd", id="r7-folded"),
    pytest.param(7, True, 12, 7, 3, Rounding.HALF_UP, "dsp", id="r7-folded-ties"),
    pytest.param(8, True, 10, 14, 1, Rounding.HALF_UP, "csd", id="r8-folded"),
]


def test_cases_cover_every_size_and_rounding() -> None:
    """The brief of this file, kept honest: every size unfolded, every foldable size folded, each
    rounding both ways."""
    values = [p.values for p in CASES]
    assert {v[0] for v in values if not v[1]} == set(SIZES)
    assert {v[0] for v in values if v[1]} == {r for r in SIZES if r >= FOLD_MIN_R}
    for fold in (False, True):
        assert {v[5] for v in values if v[1] == fold} == set(Rounding)


@pytest.mark.parametrize("r, fold, in_bits, const_bits, frac_bits, rounding, impl", CASES)
def test_shared_dft_equals_the_golden_module_for_both_clients(
    r: int, fold: bool, in_bits: int, const_bits: int, frac_bits: int, rounding: Rounding, impl: str
) -> None:
    seed = 10 * r + in_bits + fold
    rng = np.random.default_rng(seed)
    dft = WinogradDft(r, in_bits, const_bits, rounding, impl, frac_bits=frac_bits)  # type: ignore[arg-type]
    dut = SharedDft(dft, fold)
    assert (dut.latency, dut.slot) == ((dft.latency + 2, 2) if fold else (dft.latency + 1, 1))  # + the input register
    assert (dut.r, dut.in_bits, dut.out_bits, dut.fold) == (r, in_bits, dft.out_bits, fold)
    re, im = vectors(rng, r, in_bits, const_bits)
    fires = schedule(rng, re, im, dut.slot)
    tight = [b.client != a.client and b.cycle - a.cycle == dut.slot for a, b in zip(fires, fires[1:], strict=False)]
    assert sum(tight) >= 10, "the schedule must fire back to back from alternating clients"
    got = run_shared(dut, fires, seed)
    label = f"SharedDft(r={r}, fold={fold}, in_bits={in_bits}, F={const_bits}, f={frac_bits}, {rounding}, {impl})"
    kw = dict(const_bits=const_bits, rounding=rounding, frac_bits=frac_bits)
    for k, (fire, (y_re, y_im)) in enumerate(zip(fires, got, strict=True)):
        where = f"{label}: fire {k} (client {fire.client}, cycle {fire.cycle}, x = {fire.re} + j {fire.im})"
        driven = (fire.re, fire.im) if fire.client == 0 else (fire.im, fire.re)
        want_re, want_im = dft.model(*driven)
        np.testing.assert_equal(y_re, want_re, err_msg=f"{where}: y.re != dft.model")
        np.testing.assert_equal(y_im, want_im, err_msg=f"{where}: y.im != dft.model")
        if fire.client == 1:  # the inverse stage's trick: swap(DFT(swap(x))) == IDFT(x)
            inv_re, inv_im = gw.dft_int(r, fire.re, fire.im, inverse=True, **kw)  # type: ignore[arg-type]
            np.testing.assert_equal(y_im, inv_re, err_msg=f"{where}: swapped y.im != inverse module re")
            np.testing.assert_equal(y_re, inv_im, err_msg=f"{where}: swapped y.re != inverse module im")


def test_full_scale_most_negative_vectors_reach_the_output_width() -> None:
    """A guard on the stimulus: the full-scale vectors drive some output to the edge of ``out_bits``
    (the module's width, which the folded recombination must also hold)."""
    for r in SIZES:
        bits, const_bits = 8, 14
        re, im = extreme_vectors(r, bits, const_bits, inverse=False)
        y_re, y_im = gw.dft_int(r, re, im, const_bits=const_bits, rounding=Rounding.TRUNCATE)
        width = gw.output_bits(r, bits, const_bits, rounding=Rounding.TRUNCATE)
        peak = max(int(np.abs(y_re).max()), int(np.abs(y_im).max()))
        assert peak >= 1 << (width - 2), f"r={r}: full-scale outputs reach only {peak} of {width} bits"


# A refused SharedDft (and its module) was never elaborated: Amaranth warns when they are collected.
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_refuses_folding_small_modules_and_an_inverse_module() -> None:
    """Folded, a vector holds the module for 2 cycles, and two stages fire every r cycles: r >= 4.
    The inverse stage swaps re/im around a forward module, so an inverse module is a mistake."""
    for r in (2, 3):
        dft = WinogradDft(r, 8, 12, Rounding.HALF_EVEN)
        dft._MustUse__silence = True
        with pytest.raises(ValueError, match=f"r >= {FOLD_MIN_R}"):
            SharedDft(dft, fold=True)
    for fold in (False, True):
        dft = WinogradDft(5, 8, 12, Rounding.HALF_EVEN, inverse=True)
        dft._MustUse__silence = True
        with pytest.raises(ValueError, match="forward"):
            SharedDft(dft, fold=fold)
    gc.collect()  # their "created but never used" warnings belong to this test
