"""Bit-exact integer model of the streaming radix-2 FFT (`hw.fft.StreamingFft`).

Orders and directions
---------------------
- ``decimation="dif"``: natural-order input, bit-reversed output (the forward FFT of Fast-ParC).
- ``decimation="dit"``: bit-reversed input, natural-order output (the inverse FFT), so the pair
  needs no reorder buffer: DIF output -> pointwise multiply (spectrum ROM in bit-reversed order)
  -> DIT input.
- ``inverse=True`` conjugates every twiddle: the block computes the *unnormalised* inverse DFT
  ``sum_k X[k] exp(+2 pi i k n / M)``; any 1/M comes only from the scaling schedule.

Both orders compute, for a frame ``x`` of M complex integers (``S = log2 M`` stages),

    out = DFT_M(x) / 2**sum(shifts)   (+ rounding errors; DFT conjugated when inverse)

Twiddle ROM
-----------
``twiddle_bits = T`` signed bits with ``F = T - 2`` fractional bits, so +1 and -1 are exact:
``Wq[k] = (round(cos(2 pi k / M) * 2**F), round(-/+ sin(2 pi k / M) * 2**F))`` (round half
to even, in float64; no ties occur). Each component is within 2**-(F+1) of the ideal value, so
``|Wq / 2**F - W| <= eps = max over the stage's ROM`` (computed exactly by `twiddle_error`).

Per-stage arithmetic (one stage = one SDF stage in hardware)
------------------------------------------------------------
Stage ``s`` pairs elements ``L`` apart inside blocks of ``2L`` (DIF: ``L = M >> (s+1)``,
DIT: ``L = 1 << s``); ``a``/``b`` are the first/second element of a pair, ``n = 0..L-1`` the
index inside the half block, ``sh = shifts[s]``, ``R(v, k)`` = `golden.fixed.round_shift` with
the configured rounding, ``sat`` = saturate to ``widths[s]`` bits (sets the overflow flag):

    DIF:  top = sat(R(a + b, sh))
          bot = sat(R((a - b) * Wq[n * 2**s], F + sh))        one rounding per output
    DIT:  t   = R(b * Wq[n * M / (2L)], F)                    (exact when the twiddle is 1 or -j)
          top = sat(R(a + t, sh)),  bot = sat(R(a - t, sh))

Complex products are exact integer sums ``ar*wr - ai*wi`` / ``ar*wi + ai*wr`` rounded once, so
the hardware may use any multiplier structure (4 or 3 DSPs, or none for trivial twiddles: a
product with an exactly representable 1 or -j rounds to the same integer as the bypass).

int64 safety
------------
The widest intermediate is the complex product sum: ``(d + 1) + T + 1`` bits for a stage input
width ``d`` (DIF multiplies ``a - b``; DIT multiplies ``b`` and later adds ``a * 1``).
`FftConfig` requires ``max(width) + T + 3 <= 63``, so every value fits int64 with a bit to spare.

Error bound (`error_bound`)
---------------------------
With no saturation, every output differs from ``reference()`` (float64 DFT / 2**sum(shifts)) by
at most ``E_S`` (complex magnitude, output LSBs), from this recursion in stage-input LSBs,
``E_0 = 0``, ``A_0`` = peak input magnitude, ``rho(k) = 0`` if ``k == 0`` else ``sqrt(2) r(k)``
with ``r = 1/2`` for half-up/half-even and ``1 - 2**-k`` for truncation:

    DIF:  E' = max(2E / 2**sh + rho(sh),  (2E (1 + eps) + 2A eps) / 2**sh + rho(F + sh))
    DIT:  E' = (E + E (1 + eps) + A eps + rho(F)) / 2**sh + rho(sh)
    A'  = 2A / 2**sh

(``eps = 0`` and no ``rho(F)`` term for stages whose twiddles are all 1 or -j.) The bound is a
worst case (all roundings aligned); typical errors are far smaller (see `error_rms`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.fixed import IntArray, Rounding, round_shift, saturate

__all__ = [
    "DECIMATIONS",
    "FftConfig",
    "bit_reverse_indices",
    "twiddle_table",
    "twiddle_error",
    "complex_multiply",
    "dif_stage",
    "dit_stage",
    "fft_model",
    "reference",
    "error_bound",
    "error_bound_l2",
    "error_rms",
    "rounding_error_max",
    "rounding_mse",
]

DECIMATIONS = ("dif", "dit")
MIN_SIZE, MAX_SIZE = 2, 1 << 16
MAX_DATA_BITS = 40


def _log2(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE or size > MAX_SIZE or size & (size - 1):
        raise ValueError(f"FFT size must be a power of two in {MIN_SIZE}..{MAX_SIZE}; got {size!r}")
    return int(size).bit_length() - 1


@dataclass(frozen=True)
class FftConfig:
    """Everything that fixes the integers a streaming FFT computes (read by `hw.fft` too).

    Parameters
    ----------
    size : int
        M, a power of two.
    input_bits : int
        Signed width of the input re/im.
    widths : tuple of int
        Signed width of each stage's output re/im (``len == log2 M``); stages saturate to it.
    shifts : tuple of int
        Right shift (0, 1 or 2) applied in each stage (the scaling schedule).
    twiddle_bits : int
        Signed twiddle width T (fraction ``T - 2`` bits). 18 fits the 18-bit DSP port.
    rounding : Rounding
        Rounding of every stage's right shift.
    decimation : {"dif", "dit"}
        DIF: natural in, bit-reversed out. DIT: bit-reversed in, natural out.
    inverse : bool
        Conjugate twiddles (unnormalised inverse DFT).
    """

    size: int
    input_bits: int
    widths: tuple[int, ...]
    shifts: tuple[int, ...]
    twiddle_bits: int = 18
    rounding: Rounding = Rounding.HALF_EVEN
    decimation: str = "dif"
    inverse: bool = False

    def __post_init__(self) -> None:
        stages = _log2(self.size)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts))
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        if self.decimation not in DECIMATIONS:
            raise ValueError(f"decimation must be one of {DECIMATIONS}; got {self.decimation!r}")
        if len(self.widths) != stages or len(self.shifts) != stages:
            raise ValueError(
                f"need {stages} stage widths and shifts for M={self.size}; got {len(self.widths)} and {len(self.shifts)}"
            )
        if any(s not in (0, 1, 2) for s in self.shifts):
            raise ValueError(f"stage shifts must be 0, 1 or 2; got {self.shifts}")
        if not 2 <= self.input_bits <= MAX_DATA_BITS or any(not 2 <= w <= MAX_DATA_BITS for w in self.widths):
            raise ValueError(
                f"data widths must be 2..{MAX_DATA_BITS} bits; got input {self.input_bits}, stages {self.widths}"
            )
        if not 4 <= self.twiddle_bits <= 27:
            raise ValueError(f"twiddle_bits must be 4..27; got {self.twiddle_bits}")
        if max(self.widths + (self.input_bits,)) + self.twiddle_bits + 3 > 63:
            raise ValueError("data width + twiddle width + 3 must be <= 63 (int64 model)")

    @classmethod
    def create(
        cls,
        size: int,
        input_bits: int,
        *,
        shifts: Iterable[int] | None = None,
        widths: Iterable[int] | None = None,
        twiddle_bits: int = 18,
        rounding: Rounding = Rounding.HALF_EVEN,
        decimation: str = "dif",
        inverse: bool = False,
    ) -> FftConfig:
        """Fill defaults: unscaled (all shifts 0) and widths that can never saturate.

        Default ``widths[s] = input_bits + 1 + sum(1 - shifts[t] for t <= s)``: one bit for the
        complex peak (|re + i im| <= sqrt 2 * full scale) and one per unscaled stage, so the
        complex magnitude bound ``sqrt 2 * 2**(input_bits-1) * 2**(stages so far)`` always fits.
        """
        stages = _log2(size)
        sh = tuple(int(s) for s in (np.zeros(stages, dtype=int) if shifts is None else shifts))
        if widths is None:
            if len(sh) != stages:
                raise ValueError(f"need {stages} stage shifts for M={size}; got {len(sh)}")
            widths = tuple(int(w) for w in input_bits + 1 + np.cumsum([max(1 - s, 0) for s in sh]))
        return cls(size, input_bits, tuple(widths), sh, twiddle_bits, rounding, decimation, inverse)

    @property
    def stages(self) -> int:
        return _log2(self.size)

    @property
    def twiddle_frac(self) -> int:
        return self.twiddle_bits - 2

    @property
    def output_bits(self) -> int:
        return self.widths[-1]

    @property
    def total_shift(self) -> int:
        return int(sum(self.shifts))

    def stage_input_bits(self, s: int) -> int:
        return self.input_bits if s == 0 else self.widths[s - 1]

    def span(self, s: int) -> int:
        """Distance L between the two elements of a butterfly in stage ``s``."""
        return self.size >> (s + 1) if self.decimation == "dif" else 1 << s

    def twiddle_exponents(self, s: int) -> NDArray[np.int64]:
        """Exponent k of W_M^k applied to pair n = 0..L-1 of stage ``s``."""
        n = np.arange(self.span(s), dtype=np.int64)
        return n << s if self.decimation == "dif" else n * (self.size // (2 * self.span(s)))

    def trivial(self, s: int) -> bool:
        """True when the stage's twiddles are all 1 or -j (exact: no multiplier needed)."""
        return self.span(s) <= 2 if self.decimation == "dif" else s <= 1

    def stage_twiddles(self, s: int) -> tuple[IntArray, IntArray]:
        re, im = twiddle_table(self.size, self.twiddle_bits, self.inverse)
        k = self.twiddle_exponents(s)
        return re[k], im[k]

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "input_bits": self.input_bits,
            "widths": list(self.widths),
            "shifts": list(self.shifts),
            "twiddle_bits": self.twiddle_bits,
            "rounding": str(self.rounding),
            "decimation": self.decimation,
            "inverse": self.inverse,
        }


def bit_reverse_indices(size: int) -> NDArray[np.int64]:
    """``r[k]`` = k with its log2(size) bits reversed (an involution)."""
    bits = _log2(size)
    k = np.arange(size, dtype=np.int64)
    r = np.zeros_like(k)
    for b in range(bits):
        r |= ((k >> b) & 1) << (bits - 1 - b)
    return r


@lru_cache(maxsize=64)
def _twiddles(size: int, bits: int, inverse: bool) -> tuple[IntArray, IntArray]:
    frac = bits - 2
    k = np.arange(size, dtype=np.float64)
    ang = 2.0 * np.pi * k / size
    re = np.round(np.cos(ang) * 2.0**frac).astype(np.int64)
    im = np.round((1.0 if inverse else -1.0) * np.sin(ang) * 2.0**frac).astype(np.int64)
    re.setflags(write=False)
    im.setflags(write=False)
    return re, im


def twiddle_table(size: int, bits: int, inverse: bool = False) -> tuple[IntArray, IntArray]:
    """Quantized ``W_M^k = exp(-/+ 2 pi i k / M)``, k = 0..M-1, with ``bits - 2`` fraction bits."""
    _log2(size)
    return _twiddles(int(size), int(bits), bool(inverse))


def twiddle_error(cfg: FftConfig, s: int) -> float:
    """max |Wq/2**F - W| over the twiddles of stage ``s`` (0 for trivial stages)."""
    re, im = cfg.stage_twiddles(s)
    k = cfg.twiddle_exponents(s)
    ideal = np.exp((1j if cfg.inverse else -1j) * 2 * np.pi * k / cfg.size)
    return float(np.max(np.abs((re + 1j * im) / 2.0**cfg.twiddle_frac - ideal)))


def complex_multiply(
    ar: ArrayLike, ai: ArrayLike, br: ArrayLike, bi: ArrayLike, shift: int, rounding: Rounding
) -> tuple[IntArray, IntArray]:
    """``R(a * b, shift)``: exact integer complex product, rounded once per component."""
    ar, ai, br, bi = (np.asarray(v, dtype=np.int64) for v in (ar, ai, br, bi))
    return round_shift(ar * br - ai * bi, shift, rounding), round_shift(ar * bi + ai * br, shift, rounding)


def _fit(re: IntArray, im: IntArray, bits: int) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
    r, fr = saturate(re, bits)
    i, fi = saturate(im, bits)
    return r, i, fr | fi


def _pairs(v: IntArray, span: int) -> tuple[IntArray, IntArray]:
    blocks = v.reshape(v.shape[:-1] + (v.shape[-1] // (2 * span), 2, span))
    return blocks[..., 0, :], blocks[..., 1, :]


def _join(top: IntArray, bot: IntArray) -> IntArray:
    return np.stack([top, bot], axis=-2).reshape(top.shape[:-2] + (-1,))


def dif_stage(cfg: FftConfig, s: int, re: IntArray, im: IntArray) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
    """Stage ``s`` of the DIF FFT on (..., M) frames; returns re, im, per-element overflow."""
    L, sh, f = cfg.span(s), cfg.shifts[s], cfg.twiddle_frac
    ar, br = _pairs(re, L)
    ai, bi = _pairs(im, L)
    wr, wi = cfg.stage_twiddles(s)
    top_r, top_i = round_shift(ar + br, sh, cfg.rounding), round_shift(ai + bi, sh, cfg.rounding)
    bot_r, bot_i = complex_multiply(ar - br, ai - bi, wr, wi, f + sh, cfg.rounding)
    return _fit(_join(top_r, bot_r), _join(top_i, bot_i), cfg.widths[s])


def dit_stage(cfg: FftConfig, s: int, re: IntArray, im: IntArray) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
    """Stage ``s`` of the DIT FFT on (..., M) frames; returns re, im, per-element overflow."""
    L, sh, f = cfg.span(s), cfg.shifts[s], cfg.twiddle_frac
    ar, br = _pairs(re, L)
    ai, bi = _pairs(im, L)
    wr, wi = cfg.stage_twiddles(s)
    tr, ti = complex_multiply(br, bi, wr, wi, f, cfg.rounding)
    out_r = _join(round_shift(ar + tr, sh, cfg.rounding), round_shift(ar - tr, sh, cfg.rounding))
    out_i = _join(round_shift(ai + ti, sh, cfg.rounding), round_shift(ai - ti, sh, cfg.rounding))
    return _fit(out_r, out_i, cfg.widths[s])


def check_frames(cfg: FftConfig, re: ArrayLike, im: ArrayLike | None = None) -> tuple[IntArray, IntArray]:
    """Integer (..., M) frames inside the input width, or a ValueError."""
    r = np.asarray(re)
    i = np.zeros_like(r) if im is None else np.asarray(im)
    for name, v in (("re", r), ("im", i)):
        if v.dtype.kind not in "iu":
            raise ValueError(f"FFT model input {name} must be integers; got dtype {v.dtype}")
    if r.shape != i.shape or r.ndim < 1 or r.shape[-1] != cfg.size:
        raise ValueError(f"re and im must both be (..., {cfg.size}); got {r.shape} and {i.shape}")
    lo, hi = -(1 << (cfg.input_bits - 1)), (1 << (cfg.input_bits - 1)) - 1
    for name, v in (("re", r), ("im", i)):
        if v.size and (v.min() < lo or v.max() > hi):
            raise ValueError(f"FFT input {name} exceeds {cfg.input_bits} signed bits")
    return r.astype(np.int64), i.astype(np.int64)


def fft_model(
    cfg: FftConfig, re: ArrayLike, im: ArrayLike | None = None
) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
    """The integers `hw.fft.StreamingFft` outputs for frames (..., M), in its output order.

    Returns ``(re, im, overflow)`` with ``overflow`` of shape (...,): True for frames in which
    any stage saturated (what drives the hardware's sticky flag).
    """
    r, i = check_frames(cfg, re, im)
    stage = dif_stage if cfg.decimation == "dif" else dit_stage
    overflow = np.zeros(r.shape[:-1], dtype=bool)
    for s in range(cfg.stages):
        r, i, flags = stage(cfg, s, r, i)
        overflow |= flags.any(axis=-1)
    return r, i, overflow


def reference(cfg: FftConfig, re: ArrayLike, im: ArrayLike | None = None) -> NDArray[np.complex128]:
    """Float64 ideal of `fft_model`: DFT / 2**sum(shifts), in the block's input/output orders."""
    x = np.asarray(re, dtype=np.float64) + 1j * (0 if im is None else np.asarray(im, dtype=np.float64))
    rev = bit_reverse_indices(cfg.size)
    if cfg.decimation == "dit":
        x = x[..., rev]
    y = np.fft.ifft(x, axis=-1) * cfg.size if cfg.inverse else np.fft.fft(x, axis=-1)
    if cfg.decimation == "dif":
        y = y[..., rev]
    return y / 2.0**cfg.total_shift


def rounding_error_max(shift: int, rounding: Rounding) -> float:
    """Largest |R(v, shift) - v / 2**shift| for one real component."""
    if shift <= 0:
        return 0.0
    return 1.0 - 2.0**-shift if Rounding(rounding) is Rounding.TRUNCATE else 0.5


def error_bound(cfg: FftConfig, input_peak: float | None = None, input_error: float = 0.0) -> float:
    """Worst-case |out - reference| (complex magnitude, output LSBs) when nothing saturates.

    ``input_peak``: bound on |re + i im| of the input (default: sqrt 2 * full scale);
    ``input_error``: error already present on the input (input LSBs, complex magnitude).
    See the module docstring for the recursion.
    """
    A = math.sqrt(2.0) * 2.0 ** (cfg.input_bits - 1) if input_peak is None else float(input_peak)
    E = float(input_error)
    f = cfg.twiddle_frac

    def rho(k: int) -> float:
        return math.sqrt(2.0) * rounding_error_max(k, cfg.rounding)

    for s in range(cfg.stages):
        sh = cfg.shifts[s]
        trivial = cfg.trivial(s)
        eps = 0.0 if trivial else twiddle_error(cfg, s)
        if cfg.decimation == "dif":
            top = 2 * E / 2**sh + rho(sh)
            bot = (2 * E * (1 + eps) + 2 * A * eps) / 2**sh + (rho(sh) if trivial else rho(f + sh))
            E = max(top, bot)
        else:
            t_err = E * (1 + eps) + A * eps + (0.0 if trivial else rho(f))
            E = (E + t_err) / 2**sh + rho(sh)
        A = 2 * A / 2**sh
    return E


def error_bound_l2(cfg: FftConfig, input_norm: float, input_error_norm: float = 0.0) -> float:
    """Worst-case L2 norm (over one frame) of ``out - reference`` when nothing saturates.

    ``input_norm`` bounds the L2 norm of an input frame (input LSBs), ``input_error_norm`` that of
    an error already on the input. Per stage, with ``e`` the error norm and ``a`` the signal norm
    (each butterfly is sqrt 2 times a unitary map, each twiddle has |Wq / 2**F| <= 1 + eps):

        DIF:  e' = (sqrt2 (1 + eps) e + sqrt2 eps a) / 2**sh + sqrt(M/2 (rho_top**2 + rho_bot**2))
        DIT:  e' = sqrt2 ((1 + eps) e + eps a + sqrt(M/2) rho(F)) / 2**sh + sqrt(M) rho(sh)
        a'  = sqrt2 a / 2**sh

    Useful where the signal enters only through its energy (Parseval), which a per-sample worst
    case would overstate by up to sqrt(M).
    """
    e, a = float(input_error_norm), float(input_norm)
    f, M, r2 = cfg.twiddle_frac, cfg.size, math.sqrt(2.0)

    def rho(k: int) -> float:
        return r2 * rounding_error_max(k, cfg.rounding)

    for s in range(cfg.stages):
        sh, trivial = cfg.shifts[s], cfg.trivial(s)
        eps = 0.0 if trivial else twiddle_error(cfg, s)
        if cfg.decimation == "dif":
            rho_bot = rho(sh) if trivial else rho(f + sh)
            e = (r2 * (1 + eps) * e + r2 * eps * a) / 2**sh + math.sqrt(M / 2 * (rho(sh) ** 2 + rho_bot**2))
        else:
            t_round = 0.0 if trivial else math.sqrt(M / 2) * rho(f)
            e = r2 * ((1 + eps) * e + eps * a + t_round) / 2**sh + math.sqrt(M) * rho(sh)
        a = r2 * a / 2**sh
    return e


def rounding_mse(shift: int, rounding: Rounding) -> float:
    """Mean of (R(v, shift) - v / 2**shift)**2 over uniformly distributed low bits of v."""
    if shift <= 0:
        return 0.0
    k = min(int(shift), 12)  # beyond 12 bits the discrete distribution is uniform to 1e-8
    v = np.arange(1 << (k + 1), dtype=np.int64)  # both parities of the kept LSB (half-even)
    e = round_shift(v, k, Rounding(rounding)) - v / 2.0**k
    return float(np.mean(e**2))


def error_rms(cfg: FftConfig, input_rms: float = 0.0) -> float:
    """Statistical estimate of the RMS complex error per output (output LSBs).

    Models every rounding as independent noise of mean square `rounding_mse` per component
    (bias included) and propagates the variance through the remaining stages (each stage
    doubles it, each shift divides it by 4). Twiddle quantization is ignored. An estimate, not
    a bound: tests compare it with measurements within a factor.
    """
    var = float(input_rms) ** 2
    f = cfg.twiddle_frac

    def mse(k: int) -> float:
        return 2 * rounding_mse(k, cfg.rounding)  # two components per complex value

    for s in range(cfg.stages):
        sh, trivial = cfg.shifts[s], cfg.trivial(s)
        if cfg.decimation == "dif":  # half the outputs are tops, half twiddled bottoms
            var = 2 * var / 4**sh + 0.5 * mse(sh) + 0.5 * mse(sh if trivial else f + sh)
        else:
            var = (2 * var + (0.0 if trivial else mse(f))) / 4**sh + mse(sh)
    return math.sqrt(var)
