"""Block `hw.spectral_stage.SpectralStage` between ping-pong buffers == a NumPy reference.

The stage has no ``model`` of its own, so `reference` below is its docstring's dataflow written
with the golden blocks (`golden.fixed.round_shift` / `saturate`, `golden.fft.complex_multiply`
for the exact product that the 3-multiply hardware must reproduce): per bin k < H and
``m = (-k) mod N``, separation of the two channels from ``Z[k]``, ``Z[m]``, the product with
the pair's two ROM rows, recombination into ``Y[k]`` and ``Y[N-k]``. It is `golden.native_fft`'s
``sep``/``prod``/``rec`` for one pair, on any spectrum (not only a real kernel's).

Cases: N = 7, 12, 14, 56 (odd N mirrors the last bin, even N not bin N/2), 1 to 3 channel
pairs over more frames than pairs (the pair counter wraps; each frame must use its own pair's
ROM rows), random complex spectra anywhere within ``spectrum_bits`` (``c``, ``c + d`` and
``d - c`` all fit: the ROM triple), full-scale random spectra ``Z``, random source layouts
(``read_table``), all roundings, shifts 0 and > 0, random protocol timing (bus models of
`tests/test_block_pingpong.py`). Saturation: each of the three blocks narrowed in turn, after
small frames; ``overflow`` must stay low until the first frame that saturates and then stay
high. Timing: the measured first-read-to-first-write delay is ``latency`` for every frame,
writes land at fixed cycles (``Y[k]`` 2k cycles after the first, ``Y[N-k]`` one later), and
with nothing holding it up the stage starts a frame every ``frame_cycles``.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import pytest
from test_block_pingpong import StageRun, run_buffered_stage

from golden.fft import complex_multiply
from golden.fixed import IntArray, Rounding, round_shift, saturate
from hw.rom import pack_complex, unpack_words
from hw.spectral_stage import SpectralStage

Z_BITS = 12
SPECTRUM_BITS = 10


@dataclass
class Reference:
    """What the stage must write (F, N) natural order, and which block saturated, per frame."""

    y_re: IntArray
    y_im: IntArray
    sep_clip: np.ndarray  # (F,)
    prod_clip: np.ndarray
    rec_clip: np.ndarray

    @property
    def clip(self) -> np.ndarray:
        return self.sep_clip | self.prod_clip | self.rec_clip


def reference(stage: SpectralStage, src_re: np.ndarray, src_im: np.ndarray) -> Reference:
    """The docstring's dataflow for source buffers (F, N); frame f is pair ``f % pairs``."""
    n, h, rnd = stage.n, stage.h, stage.rounding
    sigma, p_shift, rho = stage.shifts
    frames = src_re.shape[0]
    table = np.asarray(stage.read_table)
    zr, zi = src_re[:, table], src_im[:, table]  # natural bins: Z[k] is at read_table[k]
    k = np.arange(h)
    m = (-k) % n

    def fit(v: np.ndarray, shift: int, bits: int) -> tuple[IntArray, np.ndarray]:
        out, clipped = saturate(round_shift(v, shift, rnd), bits)
        return out, np.asarray(clipped.reshape(frames, -1).any(axis=1))

    xc_re, c1 = fit(zr[:, k] + zr[:, m], sigma, stage.sep_bits)
    xc_im, c2 = fit(zi[:, k] - zi[:, m], sigma, stage.sep_bits)
    xd_re, c3 = fit(zi[:, k] + zi[:, m], sigma, stage.sep_bits)
    xd_im, c4 = fit(zr[:, m] - zr[:, k], sigma, stage.sep_bits)
    pair = np.arange(frames) % stage.pairs
    hr, hi = stage.spectrum_re, stage.spectrum_im

    def product(x_re: IntArray, x_im: IntArray, row: np.ndarray) -> tuple[IntArray, IntArray, np.ndarray]:
        pr, pi = complex_multiply(x_re, x_im, hr[row], hi[row], p_shift, rnd)
        (pr, fr), (pi, fi) = saturate(pr, stage.prod_bits), saturate(pi, stage.prod_bits)
        return pr, pi, np.asarray((fr | fi).any(axis=1))

    pc_re, pc_im, p1 = product(xc_re, xc_im, 2 * pair)
    pd_re, pd_im, p2 = product(xd_re, xd_im, 2 * pair + 1)
    lo_re, r1 = fit(pc_re - pd_im, rho, stage.rec_bits)
    lo_im, r2 = fit(pc_im + pd_re, rho, stage.rec_bits)
    mirrored = np.arange(1, n - h + 1)  # bins k whose Y[N-k] is written
    hi_re, r3 = fit((pc_re + pd_im)[:, mirrored], rho, stage.rec_bits)
    hi_im, r4 = fit((pd_re - pc_im)[:, mirrored], rho, stage.rec_bits)
    y_re, y_im = np.empty((frames, n), dtype=np.int64), np.empty((frames, n), dtype=np.int64)
    y_re[:, :h], y_im[:, :h] = lo_re, lo_im
    y_re[:, n - mirrored], y_im[:, n - mirrored] = hi_re, hi_im
    return Reference(y_re, y_im, c1 | c2 | c3 | c4, p1 | p2, r1 | r2 | r3 | r4)


def random_spectrum(rng: np.random.Generator, rows: int, h: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, H) ``c``, ``d`` with ``c``, ``c + d``, ``d - c`` all in ``signed(bits)``: ``|c| + |d|``
    within the positive range, plus the corners (``d`` at the most negative value with ``c = 0``,
    ``c`` or ``d`` at full scale alone)."""
    lim = (1 << (bits - 1)) - 1
    c = rng.integers(-lim, lim + 1, (rows, h))
    room = lim - np.abs(c)
    d = rng.integers(-room, room + 1)
    corners = [(0, -lim - 1), (lim, 0), (-lim, 0), (0, lim)]
    for row in range(rows):
        cc, dd = corners[row % len(corners)]
        bin_ = int(rng.integers(0, h))
        c[row, bin_], d[row, bin_] = cc, dd
    for v in (c, c + d, d - c):
        assert v.min() >= -lim - 1 and v.max() <= lim
    return c, d


def full_scale(rng: np.random.Generator, frames: int, n: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = []
    for _ in range(2):
        v = rng.integers(lo, hi + 1, (frames, n))
        pick = rng.random(v.shape)
        out.append(np.where(pick < 0.1, lo, np.where(pick < 0.2, hi, v)))
    return out[0], out[1]


def make_stage(
    n: int, pairs: int, shifts: tuple[int, int, int], rounding: Rounding, narrow: str | None, seed: int
) -> SpectralStage:
    """Widths that never clip (each block holds its worst case), or one block narrowed."""
    rng = np.random.default_rng(seed)
    sigma, p_shift, rho = shifts
    sep = Z_BITS + 1
    prod = sep + SPECTRUM_BITS - p_shift + 1
    rec = prod + 2
    if narrow == "sep":
        sep = Z_BITS - 1
    elif narrow == "prod":
        prod = sep + SPECTRUM_BITS - p_shift - 3
        rec = prod + 2
    elif narrow == "rec":
        rec = prod - 5
    c, d = random_spectrum(rng, 2 * pairs, n // 2 + 1, SPECTRUM_BITS)
    return SpectralStage(
        n,
        rng.permutation(n).tolist(),
        c,
        d,
        z_bits=Z_BITS,
        sep_bits=sep,
        prod_bits=prod,
        rec_bits=rec,
        spectrum_bits=SPECTRUM_BITS,
        separation_shift=sigma,
        product_shift=p_shift,
        recombine_shift=rho,
        rounding=rounding,
    )


def label(stage: SpectralStage) -> str:
    return (
        f"SpectralStage(N={stage.n}, pairs={stage.pairs}, shifts={stage.shifts}, widths sep/prod/rec="
        f"{stage.sep_bits}/{stage.prod_bits}/{stage.rec_bits}, {stage.rounding})"
    )


def source_words(re: np.ndarray, im: np.ndarray) -> list[list[int]]:
    return [pack_complex(a, b, Z_BITS) for a, b in zip(re, im, strict=True)]


def check_writes(stage: SpectralStage, run: StageRun, ref: Reference) -> None:
    """Per frame: the words written are the reference's, ``Y[k]`` at ``first + 2k`` and ``Y[N-k]``
    one cycle later, and the first write ``latency`` cycles after the first read (2H reads end
    with the release)."""
    n, h = stage.n, stage.h
    name = label(stage)
    addrs = [a for k in range(h) for a in ([k, n - k] if 1 <= k <= n - h else [k])]
    offsets = [o for k in range(h) for o in ([2 * k, 2 * k + 1] if 1 <= k <= n - h else [2 * k])]
    for f, writes in enumerate(run.writes):
        assert [w.addr for w in writes] == addrs, f"{name}: frame {f} written at {[w.addr for w in writes]}"
        first = writes[0].cycle
        assert [w.cycle - first for w in writes] == offsets, f"{name}: frame {f}'s writes at the wrong cycles"
        words = unpack_words([w.data for w in writes], stage.rec_bits, 2)
        np.testing.assert_equal(words[:, 0], ref.y_re[f, addrs], err_msg=f"{name}: frame {f} re written")
        np.testing.assert_equal(words[:, 1], ref.y_im[f, addrs], err_msg=f"{name}: frame {f} im written")
        first_read = run.src_releases[f] - (2 * h - 1)
        assert first - first_read == stage.latency, (
            f"{name}: frame {f}: first write {first - first_read} cycles after the first read, latency {stage.latency}"
        )


CASES = [
    # N, pairs, frames, (sigma, product shift, rho), rounding, narrowed block
    pytest.param(7, 3, 7, (0, 5, 0), Rounding.HALF_EVEN, None, id="N7-3pairs"),
    pytest.param(12, 2, 5, (1, 7, 1), Rounding.TRUNCATE, None, id="N12-2pairs-shifts"),
    pytest.param(14, 3, 7, (0, 6, 0), Rounding.HALF_UP, None, id="N14-3pairs"),
    pytest.param(56, 2, 4, (1, 8, 1), Rounding.HALF_EVEN, None, id="N56-2pairs-shifts"),
    pytest.param(7, 1, 3, (1, 4, 0), Rounding.HALF_UP, "sep", id="N7-1pair-sep-saturates"),
    pytest.param(12, 2, 5, (0, 6, 1), Rounding.HALF_EVEN, "prod", id="N12-prod-saturates"),
    pytest.param(14, 1, 4, (0, 5, 1), Rounding.TRUNCATE, "rec", id="N14-rec-saturates"),
]


@pytest.mark.parametrize("n, pairs, frames, shifts, rounding, narrow", CASES)
def test_frames_through_buffers_equal_the_reference(
    n: int, pairs: int, frames: int, shifts: tuple[int, int, int], rounding: Rounding, narrow: str | None
) -> None:
    seed = 10 * n + pairs
    stage = make_stage(n, pairs, shifts, rounding, narrow, seed)
    name = label(stage)
    rng = np.random.default_rng(seed + 1)
    re, im = full_scale(rng, frames, n, Z_BITS)
    if narrow:  # a small frame first: overflow must stay low until a frame saturates
        re[0], im[0] = rng.integers(-8, 8, (2, n))
    ref = reference(stage, re, im)
    clips = {"sep": ref.sep_clip, "prod": ref.prod_clip, "rec": ref.rec_clip}
    for block, clipped in clips.items():
        assert clipped.any() == (block == narrow), f"{name}: {block} must{'' if block == narrow else ' not'} saturate"
    if narrow:
        assert not ref.clip[0], f"{name}: the small frame must not saturate"
    run = run_buffered_stage(stage, source_words(re, im), seed=seed)
    got = np.array([unpack_words(frame, stage.rec_bits, 2) for frame in run.frames])
    np.testing.assert_equal(got[..., 0], ref.y_re, err_msg=f"{name}: re read from the destination")
    np.testing.assert_equal(got[..., 1], ref.y_im, err_msg=f"{name}: im read from the destination")
    check_writes(stage, run, ref)
    overflow = np.array(run.overflow)
    assert np.all(np.diff(overflow) >= 0), f"{name}: overflow is not sticky"
    assert overflow[-1] == int(ref.clip.any()), f"{name}: overflow = {overflow[-1]} at the end"
    if narrow:
        first = int(np.flatnonzero(ref.clip)[0])
        start = run.src_releases[first] - (2 * stage.h - 1)  # that frame's first read
        assert not overflow[:start].any(), f"{name}: overflow rose before the first saturating frame was read"


@pytest.mark.parametrize("n", [12, 14, 56])
def test_back_to_back_frames_take_frame_cycles(n: int) -> None:
    """Source filled as fast as the protocol allows, destination released the cycle it is full:
    a frame (a pair) starts every ``frame_cycles`` = 2H + 1, at its latency, with the data
    right (checked on the writes: the destination is never read). A destination bank is held
    from a frame's claim to its commit (the latency and 2H writes), so the buffer gets the
    banks that round trip needs (as the engine's `banks` gives them)."""
    stage = make_stage(n, 2, (0, 6, 0), Rounding.HALF_EVEN, None, seed=n)
    name = label(stage)
    frames = 5
    re, im = full_scale(np.random.default_rng(n), frames, n, Z_BITS)
    banks = 2 if stage.latency + 2 * stage.h + 2 <= 2 * stage.frame_cycles else 4
    run = run_buffered_stage(stage, source_words(re, im), seed=n, eager=True, banks=banks)
    check_writes(stage, run, reference(stage, re, im))
    assert stage.frame_cycles == 2 * stage.h + 1
    starts = np.diff(run.src_releases).tolist()
    assert starts == [stage.frame_cycles] * (frames - 1), f"{name}: frames {starts} cycles apart"
    assert np.diff(run.dst_claims).tolist() == [stage.frame_cycles] * (frames - 1), f"{name}: claims {run.dst_claims}"


def test_rom_words_hold_the_triple_per_pair_and_bin() -> None:
    """The ROM layout the hardware addresses (``Cat(k, channel)``, bins padded to a power of two):
    ``c``, ``c + d``, ``d - c`` from the LSBs, zero padding."""
    stage = make_stage(7, 2, (0, 5, 0), Rounding.HALF_EVEN, None, seed=3)
    stage._MustUse__silence = True
    words = stage.rom_words()
    pad = 4  # H = 4 bins
    assert len(words) == 4 * pad
    fields = unpack_words(words, SPECTRUM_BITS, 3).reshape(4, pad, 3)
    c, d = stage.spectrum_re, stage.spectrum_im
    np.testing.assert_equal(fields[:, :, 0], c)
    np.testing.assert_equal(fields[:, :, 1], c + d)
    np.testing.assert_equal(fields[:, :, 2], d - c)


# A refused SpectralStage was never elaborated: Amaranth warns when it is collected.
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_refuses_spectra_of_the_wrong_shape() -> None:
    common = dict(
        z_bits=10,
        sep_bits=11,
        prod_bits=12,
        rec_bits=13,
        spectrum_bits=8,
        separation_shift=0,
        product_shift=4,
        recombine_shift=0,
        rounding=Rounding.HALF_EVEN,
    )
    with pytest.raises(ValueError, match="spectrum must be"):
        SpectralStage(7, list(range(7)), np.zeros((2, 3)), np.zeros((2, 3)), **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="even number"):
        SpectralStage(7, list(range(7)), np.zeros((3, 4)), np.zeros((3, 4)), **common)  # type: ignore[arg-type]
    gc.collect()  # the refused stages' "created but never used" warnings belong to this test


@pytest.mark.parametrize("n", [7, 12])
def test_overflow_counts_only_written_outputs(n: int) -> None:
    """The recombination computes ``Y[N-k]`` for every bin but writes it only for 1 <= k <= N - H;
    at k = 0 (and k = N/2 for even N) that value is no output, and golden's ``rec`` (like the
    reference) has no such element to saturate. Here it alone would clip: ``Y[0] = 0`` while
    the unwritten ``Y[N-0] = (Pc.re + Pd.im, ...)`` is twice full scale; ``overflow`` must stay 0.
    (Unreachable in the engine: a real kernel's bins 0 and N/2 are real, and then both values
    are equal. Hence a block-level check.)"""
    h = n // 2 + 1
    c, d = np.zeros((2, h), dtype=np.int64), np.zeros((2, h), dtype=np.int64)
    c[0, 0] = d[1, 0] = 300  # Hc[0] = 300, Hd[0] = 300 j
    stage = SpectralStage(
        n,
        list(range(n)),
        c,
        d,
        z_bits=Z_BITS,
        sep_bits=Z_BITS + 1,
        prod_bits=Z_BITS + SPECTRUM_BITS + 2,
        rec_bits=Z_BITS + 8,
        spectrum_bits=SPECTRUM_BITS,
        separation_shift=0,
        product_shift=0,
        recombine_shift=0,
        rounding=Rounding.HALF_EVEN,
    )
    re, im = np.zeros((2, n), dtype=np.int64), np.zeros((2, n), dtype=np.int64)
    re[:, 0] = im[:, 0] = (1 << (Z_BITS - 1)) - 1  # Z[0] = A + jA: Xc[0] = 2A, Xd[0] = 2A
    ref = reference(stage, re, im)
    assert not ref.clip.any() and ref.y_re[0, 0] == ref.y_im[0, 0] == 0
    unwritten = 2 * 2 * ((1 << (Z_BITS - 1)) - 1) * 300  # Pc.re + Pd.im
    assert unwritten > (1 << (stage.rec_bits - 1)), "the unwritten value must be out of range"
    run = run_buffered_stage(stage, source_words(re, im), seed=n)
    got = np.array([unpack_words(frame, stage.rec_bits, 2) for frame in run.frames])
    np.testing.assert_equal(got[..., 0], ref.y_re)
    assert run.overflow[-1] == 0, (
        f"{label(stage)}: overflow set by Y[N-0] = {unwritten}, a value that is never written "
        f"(rec_bits {stage.rec_bits}); golden's rec saturates only written outputs"
    )
