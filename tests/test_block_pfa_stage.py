"""Block `hw.pfa_stage.PfaStage`: frames through ping-pong buffers == `PfaStage.model`, on time.

The stage is tested as the engine uses it: between two `hw.pingpong.PingPongBuffer` s, a
random writer filling the source and a random reader draining the destination (the bus models
of `tests/test_block_pingpong.py`, whose `ProtocolChecker` also proves that the stage claims
only free banks and releases only full ones). Every module size, forward and inverse, random
read/write permutation tables (the index maps are only tables), stage shifts 0 and > 0 with
kept product fraction bits, all three roundings, CSD and DSP constants, several frames back to
back. The inverse both ways: an inverse module, and a forward module with re/im swapped around
it (``inverse=True``, what a stage sharing its module runs; its model equals the inverse
module's); source words narrower than the module (``in_bits``, sign-extended). Saturation: a
narrow ``out_bits`` clips full-scale frames after small ones; ``overflow`` must rise one cycle
after the first clipped write and stay high.

Timing (`PfaStage.latency`, ``frame_cycles``) is measured with a source filled as fast as the
protocol allows and a destination released as soon as it is full: the stage then starts a frame
every ``frame_cycles``, writes its N outputs in ``write_table`` order in N consecutive cycles
(committing with the last), the first ``latency`` cycles after its first read. With a
``start_phase`` frames start only in its slots; two stages sharing one module (``owned=False``,
phases 0 and r // 2, as the engine pairs them) run at once and never fire it in the same cycle.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from amaranth.hdl import Module, Mux
from test_block_pingpong import BufferedStages, StageRun, run_buffered_stage, run_buffered_stages

from golden.fixed import Rounding, round_shift, saturate
from hw.pfa_stage import PfaStage
from hw.rom import pack_complex, unpack_words
from hw.winograd import SIZES, WinogradDft

CONST_BITS = 14


def make_stage(
    r: int,
    n: int,
    *,
    inverse: bool,
    stage_shift: int,
    frac: int,
    in_bits: int,
    out_bits: int | None,
    rounding: Rounding,
    impl: str,
    seed: int,
    swap: bool = False,
    src_bits: int | None = None,
    start_phase: int | None = None,
) -> PfaStage:
    """A stage with random permutation tables; ``out_bits`` None: wide enough never to clip.
    ``swap``: the inverse on a forward module (re/im swapped around it, as a stage that shares
    its module with a forward stage runs); ``src_bits``: source words narrower than the module."""
    rng = np.random.default_rng(seed)
    dft = WinogradDft(r, in_bits, CONST_BITS, rounding, impl, inverse and not swap, frac_bits=frac)  # type: ignore[arg-type]
    bits = dft.out_bits - stage_shift if out_bits is None else out_bits
    tables = rng.permutation(n).tolist(), rng.permutation(n).tolist()
    return PfaStage(
        dft,
        *tables,
        stage_shift + frac,
        bits,
        rounding,
        in_bits=src_bits,
        inverse=inverse and swap,
        start_phase=start_phase,
    )


def latency_of(r: int, **kw: object) -> int:
    """``latency`` of a stage of these parameters (it does not depend on N): a timing test picks
    N >= latency, so that a destination bank is free again when the frame after next starts."""
    stage = make_stage(r, r, impl="csd", seed=0, **kw)  # type: ignore[arg-type]
    stage._MustUse__silence = stage.dft._MustUse__silence = True
    return stage.latency


def random_frames(
    rng: np.random.Generator, frames: int, n: int, bits: int, scale_bits: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(F, N) re and im, full scale of ``bits`` (a fifth at the extremes), or within
    ``scale_bits`` bits when given."""
    b = bits if scale_bits is None else scale_bits
    lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
    out = []
    for _ in range(2):
        v = rng.integers(lo, hi + 1, (frames, n))
        pick = rng.random(v.shape)
        out.append(np.where(pick < 0.1, lo, np.where(pick < 0.2, hi, v)))
    return out[0], out[1]


def clipped_writes(stage: PfaStage, re: np.ndarray, im: np.ndarray) -> np.ndarray:
    """(F, N) in write order: which outputs saturate (the model's sums before narrowing)."""
    order = np.asarray(stage.read_table)
    f = re.shape[0]
    vr, vi = re[:, order].reshape(f, -1, stage.r), im[:, order].reshape(f, -1, stage.r)
    if stage.inverse:  # the inverse on a forward module: re and im swapped around it
        yi, yr = stage.dft.model(vi, vr)
    else:
        yr, yi = stage.dft.model(vr, vi)
    clip = np.zeros((f, stage.n), dtype=bool)
    for y in (yr, yi):
        clip |= saturate(round_shift(y, stage.shift, stage.rounding), stage.out_bits)[1].reshape(f, stage.n)
    return clip


def source_words(stage: PfaStage, re: np.ndarray, im: np.ndarray) -> list[list[int]]:
    return [pack_complex(a, b, stage.in_bits) for a, b in zip(re, im, strict=True)]


def words_to_complex(words: list[list[int]], bits: int) -> tuple[np.ndarray, np.ndarray]:
    fields = np.array([unpack_words(frame, bits, 2) for frame in words])
    return fields[..., 0], fields[..., 1]


def label(stage: PfaStage) -> str:
    direction = "inverse module" if stage.dft.inverse else "swapped forward module" if stage.inverse else "forward"
    return (
        f"PfaStage(r={stage.r}, N={stage.n}, {direction}, {stage.dft.impl}, in_bits={stage.in_bits}/"
        f"{stage.dft.in_bits}, shift={stage.shift}, out_bits={stage.out_bits}, {stage.rounding}, "
        f"start_phase={stage.start_phase})"
    )


def assert_written_as_model(stage: PfaStage, run: StageRun, want_re: np.ndarray, want_im: np.ndarray) -> None:
    """Each frame's writes: N, in ``write_table`` order, in consecutive cycles, the model's words."""
    name = label(stage)
    for f, writes in enumerate(run.writes):
        assert [w.addr for w in writes] == stage.write_table, f"{name}: frame {f} not written in write_table order"
        cycles = [w.cycle for w in writes]
        assert cycles == list(range(cycles[0], cycles[0] + stage.n)), f"{name}: frame {f}'s writes not back to back"
        got_re, got_im = words_to_complex([[w.data for w in writes]], stage.out_bits)
        order = np.asarray(stage.write_table)
        np.testing.assert_equal(got_re[0], want_re[f, order], err_msg=f"{name}: frame {f} re written")
        np.testing.assert_equal(got_im[0], want_im[f, order], err_msg=f"{name}: frame {f} im written")


CASES = [
    # r, N, inverse, swapped forward module, stage shift, fraction bits, narrow out_bits (saturate),
    # source bits (None: the module's), rounding, impl
    pytest.param(2, 10, False, False, 0, 0, False, None, Rounding.HALF_EVEN, "csd", id="r2-fwd"),
    pytest.param(2, 6, True, False, 1, 0, True, None, Rounding.HALF_UP, "csd", id="r2-inv-saturating"),
    pytest.param(2, 8, True, True, 0, 1, False, 7, Rounding.TRUNCATE, "csd", id="r2-swap-narrow-source"),
    pytest.param(3, 12, True, False, 1, 1, False, None, Rounding.TRUNCATE, "dsp", id="r3-inv-shift"),
    pytest.param(3, 9, False, False, 0, 2, True, None, Rounding.HALF_EVEN, "csd", id="r3-fwd-saturating"),
    pytest.param(3, 6, True, True, 1, 2, True, None, Rounding.HALF_UP, "csd", id="r3-swap-saturating"),
    pytest.param(4, 12, False, False, 2, 0, False, None, Rounding.HALF_UP, "csd", id="r4-fwd-shift"),
    pytest.param(4, 8, True, True, 2, 0, False, None, Rounding.HALF_EVEN, "dsp", id="r4-swap-shift"),
    pytest.param(5, 10, True, False, 0, 2, True, None, Rounding.HALF_EVEN, "dsp", id="r5-inv-saturating"),
    pytest.param(5, 15, False, False, 2, 1, False, 6, Rounding.TRUNCATE, "csd", id="r5-fwd-narrow-source"),
    pytest.param(7, 14, False, False, 3, 2, False, None, Rounding.HALF_EVEN, "csd", id="r7-fwd-shift"),
    pytest.param(7, 7, True, False, 0, 2, True, None, Rounding.HALF_UP, "csd", id="r7-inv-saturating"),
    pytest.param(7, 14, True, True, 3, 2, False, 8, Rounding.HALF_EVEN, "csd", id="r7-swap-narrow-source"),
    pytest.param(8, 16, True, False, 3, 2, False, None, Rounding.TRUNCATE, "dsp", id="r8-inv-shift"),
    pytest.param(8, 8, False, False, 0, 0, True, None, Rounding.HALF_EVEN, "csd", id="r8-fwd-saturating"),
    pytest.param(8, 8, True, True, 0, 2, True, None, Rounding.TRUNCATE, "csd", id="r8-swap-saturating"),
]

FRAMES = 6
IN_BITS = 10


@pytest.mark.parametrize("r, n, inverse, swap, stage_shift, frac, saturating, src_bits, rounding, impl", CASES)
def test_frames_through_buffers_equal_the_model(
    r: int,
    n: int,
    inverse: bool,
    swap: bool,
    stage_shift: int,
    frac: int,
    saturating: bool,
    src_bits: int | None,
    rounding: Rounding,
    impl: str,
) -> None:
    seed = 31 * r + n + 7 * inverse + 3 * swap
    stage = make_stage(
        r,
        n,
        inverse=inverse,
        swap=swap,
        stage_shift=stage_shift,
        frac=frac,
        in_bits=IN_BITS,
        src_bits=src_bits,
        out_bits=IN_BITS - 1 if saturating else None,
        rounding=rounding,
        impl=impl,
        seed=seed,
    )
    assert stage.in_bits == (IN_BITS if src_bits is None else src_bits)
    name = label(stage)
    rng = np.random.default_rng(seed)
    re, im = random_frames(rng, FRAMES, n, stage.in_bits)  # full scale of the source words (sign-extended)
    if saturating:  # small frames first: overflow must stay low until the first clipped write
        re[:2], im[:2] = random_frames(rng, 2, n, stage.in_bits, scale_bits=stage.in_bits - 4)
    clip = clipped_writes(stage, re, im)
    assert clip.any() == saturating, f"{name}: the case must{'' if saturating else ' not'} saturate"
    if saturating:
        assert not clip[:2].any(), f"{name}: the small frames must not saturate"
    want_re, want_im = stage.model(re, im)
    run = run_buffered_stage(stage, source_words(stage, re, im), seed=seed)
    got_re, got_im = words_to_complex(run.frames, stage.out_bits)
    np.testing.assert_equal(got_re, want_re, err_msg=f"{name}: re read from the destination differs from the model")
    np.testing.assert_equal(got_im, want_im, err_msg=f"{name}: im read from the destination differs from the model")
    assert_written_as_model(stage, run, want_re, want_im)
    overflow = np.array(run.overflow)
    assert np.all(np.diff(overflow) >= 0), f"{name}: overflow is not sticky"
    if saturating:
        first = np.flatnonzero(clip.reshape(-1))[0]
        f, k = divmod(int(first), n)
        rise = run.writes[f][k].cycle + 1
        assert overflow[rise - 1] == 0 and overflow[rise] == 1, (
            f"{name}: overflow rose in cycle {int(np.argmax(overflow))}, the first clipped write was in {rise - 1}"
        )
    else:
        assert not overflow.any(), f"{name}: overflow set without saturation"


@pytest.mark.parametrize("r", SIZES)
def test_back_to_back_frames_take_frame_cycles_and_the_latency_is_measured(r: int) -> None:
    """Nothing holds the stage up (source filled at once, destination released at once): a
    frame starts every ``frame_cycles`` = N (the next frame's reads follow the last read without
    a gap, `PingPongBuffer`'s ``next_ready``), and each frame's first write comes ``latency``
    cycles after its first read (N reads end with the release). The destination bank of frame
    f is needed again by frame f + 2, so N must cover the latency (N >= latency)."""
    kw = dict(
        inverse=r in (3, 7, 8), stage_shift=1, frac=1, in_bits=IN_BITS, out_bits=None, rounding=Rounding.HALF_EVEN
    )
    n = r * math.ceil(latency_of(r, **kw) / r)
    stage = make_stage(r, n, impl="csd", seed=r, **kw)  # type: ignore[arg-type]
    name = label(stage)
    assert stage.frame_cycles == n
    rng = np.random.default_rng(r)
    re, im = random_frames(rng, FRAMES, n, IN_BITS)
    # 4 banks: a bank's round trip (the stage's latency, N writes, the reader's N reads) is
    # longer than 2 frames at one frame per N cycles (the engine gets a pair per 2N cycles)
    run = run_buffered_stage(stage, source_words(stage, re, im), seed=r, eager=True, banks=4)
    want_re, want_im = stage.model(re, im)
    assert_written_as_model(stage, run, want_re, want_im)
    first_reads = [c - (n - 1) for c in run.src_releases]
    assert np.diff(first_reads).tolist() == [stage.frame_cycles] * (FRAMES - 1), (
        f"{name}: frames started at {first_reads}, expected every {stage.frame_cycles} cycles"
    )
    assert np.diff(run.dst_claims).tolist() == [stage.frame_cycles] * (FRAMES - 1), f"{name}: claims {run.dst_claims}"
    measured = [w[0].cycle - c for w, c in zip(run.writes, first_reads, strict=True)]
    assert measured == [stage.latency] * FRAMES, f"{name}: first write after the first read: {measured} cycles"


# A refused PfaStage was never elaborated: Amaranth warns when it is collected.
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_refuses_tables_it_cannot_use() -> None:
    dft = WinogradDft(4, 8, CONST_BITS, Rounding.HALF_EVEN)
    dft._MustUse__silence = True
    with pytest.raises(ValueError, match="r=4"):
        PfaStage(dft, list(range(10)), list(range(10)), 0, 10, Rounding.HALF_EVEN)  # 10 % 4 != 0
    with pytest.raises(ValueError, match="r=4"):
        PfaStage(dft, list(range(8)), list(range(4)), 0, 10, Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="permutations"):
        PfaStage(dft, [0, 1, 2, 3, 4, 5, 6, 6], list(range(8)), 0, 10, Rounding.HALF_EVEN)
    with pytest.raises(ValueError, match="permutations"):
        PfaStage(dft, list(range(8)), list(range(1, 9)), 0, 10, Rounding.HALF_EVEN)
    gc.collect()  # their "created but never used" warnings belong to this test


@pytest.mark.parametrize("r", SIZES)
def test_swapped_forward_module_is_the_inverse_module(r: int) -> None:
    """``IDFT(x) = swap(DFT(swap(x)))`` holds for the integer modules too (every product and sum
    is the same integer operation on the other component): a stage running the inverse on a
    forward module (the shared-module engine) has the model of one with an inverse module."""
    rng = np.random.default_rng(r)
    kw = dict(stage_shift=1, frac=2, in_bits=IN_BITS, out_bits=None, rounding=Rounding.HALF_EVEN, impl="csd", seed=r)
    swapped = make_stage(r, 4 * r, inverse=True, swap=True, **kw)  # type: ignore[arg-type]
    module = make_stage(r, 4 * r, inverse=True, swap=False, **kw)  # type: ignore[arg-type]
    for stage in (swapped, module, swapped.dft, module.dft):
        stage._MustUse__silence = True
    assert swapped.read_table == module.read_table and swapped.out_bits == module.out_bits
    re, im = random_frames(rng, 50, 4 * r, IN_BITS)
    for got, want in zip(swapped.model(re, im), module.model(re, im), strict=True):
        np.testing.assert_equal(got, want, err_msg=f"r={r}: swapped forward module != inverse module")


@pytest.mark.parametrize("r, phase", [(2, 1), (5, 3), (7, 0), (8, 4)])
def test_a_start_phase_starts_frames_only_in_its_slot(r: int, phase: int) -> None:
    """With ``start_phase`` a frame starts only when the free-running counter (cycle mod r since
    reset) equals the phase; back to back, the next frame follows after N reads
    (``frame_cycles``), still in the phase since r divides N, with the same latency."""
    kw = dict(inverse=False, stage_shift=0, frac=1, in_bits=IN_BITS, out_bits=None, rounding=Rounding.HALF_UP)
    n = r * math.ceil(latency_of(r, **kw) / r)
    stage = make_stage(r, n, impl="csd", seed=r, start_phase=phase, **kw)  # type: ignore[arg-type]
    name = label(stage)
    assert stage.max_start_wait == r - 1
    re, im = random_frames(np.random.default_rng(r), FRAMES, n, IN_BITS)
    run = run_buffered_stage(stage, source_words(stage, re, im), seed=r, eager=True, banks=4)
    assert_written_as_model(stage, run, *stage.model(re, im))
    starts = [c - stage.claim_delay for c in run.dst_claims]  # the claim leaves a register
    assert all(c % r == phase for c in starts), f"{name}: frames started in cycles {starts}"
    period = stage.frame_cycles
    assert np.diff(run.dst_claims).tolist() == [period] * (FRAMES - 1), f"{name}: starts {run.dst_claims}"
    first_reads = [c - (n - 1) for c in run.src_releases]
    assert [w[0].cycle - c for w, c in zip(run.writes, first_reads, strict=True)] == [stage.latency] * FRAMES


@pytest.mark.parametrize("r", [2, 5, 7, 8])
def test_two_stages_share_one_module_in_their_own_slots(r: int) -> None:
    """A forward and an inverse stage on one forward module (``owned=False``), as the engine pairs
    them: start phases 0 and r // 2, so their module firings never coincide; both run at once
    with random protocol timing, each equal to its model, the narrower one's source words
    sign-extended into the shared module."""
    n = 3 * r
    dft = WinogradDft(r, IN_BITS, CONST_BITS, Rounding.HALF_EVEN, "csd", False, frac_bits=1)
    rng = np.random.default_rng(r)
    stages = [
        PfaStage(
            dft,
            rng.permutation(n).tolist(),
            rng.permutation(n).tolist(),
            shift,
            bits,
            Rounding.HALF_EVEN,
            in_bits=src_bits,
            inverse=inverse,
            owned=False,
            start_phase=phase,
        )
        for inverse, phase, src_bits, shift, bits in (
            (False, 0, IN_BITS - 2, 1, IN_BITS + 2),
            (True, r // 2, IN_BITS, 2, IN_BITS),
        )
    ]
    forward, inverse = stages

    def share(m: Module) -> None:
        m.submodules.dft = dft
        m.d.comb += [
            dft.en.eq(1),
            dft.x.eq(Mux(forward.module_fire, forward.module_x, inverse.module_x)),
            forward.module_y.eq(dft.y),
            inverse.module_y.eq(dft.y),
        ]

    frames = [random_frames(rng, FRAMES, n, stage.in_bits) for stage in stages]
    runs = run_buffered_stages(
        BufferedStages(stages, share),
        [source_words(stage, *f) for stage, f in zip(stages, frames, strict=True)],
        seed=r,
        probes={"fire_fwd": forward.module_fire, "fire_inv": inverse.module_fire},
    )
    fires = np.array(runs[0].trace["fire_fwd"]), np.array(runs[0].trace["fire_inv"])
    assert fires[0].sum() == fires[1].sum() == FRAMES * n // r, (
        f"r={r}: module firings {fires[0].sum()}, {fires[1].sum()}"
    )
    assert not np.any(fires[0] & fires[1]), f"r={r}: both stages fired the shared module in one cycle"
    near = np.abs(np.flatnonzero(fires[0])[:, None] - np.flatnonzero(fires[1])[None, :]) < r
    assert near.any(), f"r={r}: the two stages never used the module at the same time (a weak test)"
    for stage, run, (re, im) in zip(stages, runs, frames, strict=True):
        want_re, want_im = stage.model(re, im)
        got_re, got_im = words_to_complex(run.frames, stage.out_bits)
        np.testing.assert_equal(got_re, want_re, err_msg=f"{label(stage)}, shared: re")
        np.testing.assert_equal(got_im, want_im, err_msg=f"{label(stage)}, shared: im")
        assert_written_as_model(stage, run, want_re, want_im)
