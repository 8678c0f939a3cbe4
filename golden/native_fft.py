"""Bit-exact integer model of the native Fast-ParC engine (prime-factor FFT, no padding).

Why (docs/architecture.md section 6): an N-point DFT computes the circular correlation of
length N directly, so the native engine needs no power-of-two padding (the FFT engine pays
2.29 cycles per sample for it). N = 56, 28, 14, 7, 12, 21, 24, 42, ... are products of coprime
Winograd module sizes (`golden.pfa.supported`), whose modules multiply only by constants
(`golden.winograd`). Two real channels share one complex transform.

Dataflow for one row of one channel pair ``(c, d) = (2p, 2p + 1)`` (an odd channel count pads
one zero channel: zero input, zero kernel, its output dropped). ``R`` = `golden.fixed.round_shift`
with the layer's rounding, ``sat_W`` = saturate to W signed bits (sets the overflow flag; the
widths come from worst-case bounds, so it never fires), all per real component:

1. ``z``: ``z = (x_c << g) + j (x_d << g)``, natural order, ``g = input_shift`` guard bits.
2. Forward PFA, stage s = 0 .. d-1 along buffer axis s (module r_s, `golden.pfa` buffer layout;
   the Ruritanian input map is a read address, not arithmetic). Per module instance:
   ``fwd{s}.operands``: ``u = A x`` (`winograd.pre_add`, exact);
   ``fwd{s}.products``: ``v = winograd.multiply_int(u, const_bits=F, frac_bits=f_s)``;
   ``fwd{s}.out``:      ``X = sat_W(R(O v, sh_s + f_s))`` (`winograd.post_add`), sh_s = forward shift.
   I.e. ``sat_W(R(winograd.dft_int(x, frac_bits=f_s), sh_s + f_s))``: one module, one rounding.
   ``f_s`` (`NativePlan.forward_frac_bits`) is chosen per stage from 0..frac_bits to minimise
   the module's summed worst-case rounding error: 0 for an unshifted 8-point (or 2-, 4-point)
   stage, ``frac_bits`` for a 7-point one. The last output, read through the CRT map, is ``Z``
   in natural order.
3. ``sep``: for bins k = 0 .. H-1 (``H = N // 2 + 1``), ``m = (-k) mod N``, shift sigma:
   ``Xc = sat_W(R((Zr[k] + Zr[m], Zi[k] - Zi[m]), sigma))``     (= 2 DFT(x_c)[k] / 2**sigma)
   ``Xd = sat_W(R((Zi[k] + Zi[m], Zr[m] - Zr[k]), sigma))``     (= 2 DFT(x_d)[k] / 2**sigma)
   adds only (the ``/ 2j`` of the textbook formula is the swap above and the scale bookkeeping).
   Layout (..., P, 2, H): index 0 is channel c, 1 is channel d.
4. ``prod``: ``P = sat_W(R(X * Hq, p))`` with ``Hq[ch, k] = c + j d`` from the spectrum ROM: the
   exact complex product rounded once per component (`golden.fft.complex_multiply`). Hardware
   uses 3 multiplies with the stored triple ``(c, c + d, d - c)``: ``k1 = c (a + b)``,
   ``k2 = a (d - c)``, ``k3 = b (c + d)``, ``re = k1 - k3``, ``im = k1 + k2`` (exact: the same
   integers). Bins 0 and N/2 are real (1 multiply).
5. ``rec``: ``Y[k] = Pc[k] + j Pd[k]`` for k < H, ``conj(Pc[N-k]) + j conj(Pd[N-k])`` above:
   ``Y = sat_W(R((Pc.re - Pd.im, Pc.im + Pd.re), rho))`` resp. ``((Pc.re + Pd.im)[N-k],
   (Pd.re - Pc.im)[N-k])``, natural order (adds only; rho = 0 by default).
6. Inverse PFA: ``Y`` read through the CRT map into buffer layout, stages ``inv{s}`` along the
   buffer axes in *reverse* order with the inverse modules (post-adds with j -> -j, i.e.
   `winograd.dft_int(..., inverse=True)` == swap re/im around the forward module), shifts
   ``sh'_s``; the last output read through the Ruritanian map is ``O`` in natural order.
   ``Re O`` is channel c, ``Im O`` channel d.
7. Align and requantize, as `golden.fast_parc_int` (FFT engine): ``O`` is the correlation
   ``corr(w_q, x_q)`` in units of ``2**E[ch]`` accumulator LSBs, ``E = shift - guard_bits``;
   with ``e0 = min(E, 0)``:
   ``v = (O << (E - e0)) + (offset << -e0)``, ``y = requantize(v, shift - e0, ...)``, after the
   narrow accumulator's saturation, if any (`golden.direct.output_stage`).

Scales. The unnormalised inverse gains N; the ``1/N`` is folded into the ROM offline:
``Hq[ch] = round(conj(DFT_N(w_q[ch]))[0..H-1] / N * 2**spectrum_exp[ch])`` (round half even),
with ``spectrum_exp = p + K - E``, ``K = sum sh + sigma + rho + sum sh' - g - 1``, so that
``O * 2**E ~= corr``. ``p`` (one constant) is the largest for which every live channel's triple
fits ``spectrum_bits`` signed bits; it is clamped at 0 (recorded in ``notes``), which then moves
``E`` for the channels whose spectra are too small. All of ``c``, ``c + d``, ``d - c`` fit.

Widths and shifts (`plan_native`): every block's width is the worst case over *all* inputs,
computed exactly: the engine is linear between rounding points, so the float pipeline with the
quantized constants and ROM, run on unit inputs, gives each block's signal as a matrix of the
2N inputs of a pair (worst case = row L1 norm times full scale), and the same pipeline run
from unit roundings at each rounding point gives the worst accumulated rounding error there.
Hence no stage can overflow, whatever the input (tested with adversarial full-scale rows).
Forward stages (and sigma) shift only where a width would pass ``max_bits`` (default 25: a DSP
operand, pre-adds included); inverse stages shift by ``ceil(log2 r)`` (fully scaled, like the
FFT engine's inverse), except that early ones are left less shifted where a width would pass
``max_bits``. The final inverse output ``O`` is not capped (it feeds only the aligner).

Defaults (`NativeParams.default`): g = 3, guard G = 4, F = 17 and S = 18 (18-bit constants and
ROM words: one DSP port) up to 12-bit data/output, ``bits + 5`` and ``bits + 6`` above (at 16 bits
18-bit words would make the constant/ROM error 3 LSB instead of 0.2), frac_bits = 3,
max_bits = 25, ``share_modules``: one module per size serves the forward and the inverse stage
(`hw.shared_dft`), so both keep the fraction count that minimises their summed rounding error
(`_stage_frac`): at N = 56 the 8-point stages keep 3 (alone, the unshifted forward one would
keep 0; sharing costs 0.04 LSB of bound at 8 bits, frac_bits 3 instead of 2 buys it back at
12 bits). Widths (`NativePlan.widths`, ``.sum``: the exact sums before each rounding) at N = 56,
8 bits, the shipped layer: ``sep`` 18, ``prod`` 19, ``rec`` 19, forward outputs 15 and 18,
inverse outputs 17 and 15.

Error (`NativePlan.error_bound`): against the float correlation of the quantized layer, in
output LSBs, when the output does not saturate,

    |y - (corr(w_q, x_q) + offset) / 2**shift| <= r_out + 2**(E - shift) max_i ( x_max sum_j |T_q - T|_ij
                                                                       + sum_rounding |tail| rho )

with ``T_q`` the pipeline's matrix (quantized constants and ROM) and ``T`` the exact correlation
matrix (both in O units): an exact worst case over the inputs for the constant/ROM error and
over the roundings (each at most ``rho``) for the rounding error. `NativePlan.error_rms`
propagates variances through the same matrices instead.

Measured (tests/test_native_fft_golden.py), shipped trained layers with their test activations,
8 / 12 / 16 bits: worst-case bound 0.82 / 0.98 / 1.98 output LSBs at N = 56 and 0.66 / 0.72 /
0.89 at N = 28 (below 1 up to 12 bits: within 1 LSB of the float value for *any* input);
outputs equal to the direct engine's 98.3 / 98.2 / 95.6 % (N = 56) and 98.3 / 98.2 / 97.8 %
(N = 28), never more than 1 LSB apart (the FFT engine: 97.1 / 97.1 / 91.8 % at N = 56).
Pipeline RMS 0.021 / 0.022 / 0.056 LSB at N = 56 (`error_rms`). Against the unquantized float
layer the worst error equals the direct engine's at 8 and 12 bits (weight quantization
dominates). At 16 bits the 25-bit cap leaves the first inverse stage unscaled; ``max_bits=27``
lowers the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden import winograd
from golden.direct import check_int_input, output_stage
from golden.fft import complex_multiply, rounding_error_max, rounding_mse
from golden.fixed import IntArray, Rounding, round_shift, saturate
from golden.pfa import PfaMap, apply_along, pfa_map, supported
from golden.quant import QuantizedLayer

__all__ = [
    "NativeParams",
    "NativePlan",
    "NativeTrace",
    "plan_native",
    "native_model",
    "multiply_counts",
    "block_names",
]

DEFAULT_INPUT_SHIFT = 3
DEFAULT_GUARD_BITS = 4
DEFAULT_CONST_BITS = 17  # |c| < 1: 18-bit signed constants, one DSP port
DEFAULT_SPECTRUM_BITS = 18
DEFAULT_FRAC_BITS = 3  # fraction bits of the constant products kept through the post-adds
DEFAULT_MAX_BITS = 25  # DSP operand (25 x 18), pre-adds included
INT64_MODEL_BITS = 62


def _signed_bits(v: float) -> int:
    """Smallest signed width whose positive range holds ``v`` (>= 0)."""
    return 2 if v < 1 else int(math.floor(math.log2(v))) + 2


@dataclass(frozen=True)
class NativeParams:
    """User-level constants of one native engine (the plan derives shifts and widths from them).

    ``factors`` order the forward stages (buffer axes); the inverse runs them in reverse.
    """

    n: int
    bits: int
    factors: tuple[int, ...]
    input_shift: int = DEFAULT_INPUT_SHIFT  # g: the forward transform sees x << g
    const_bits: int = DEFAULT_CONST_BITS  # F: module constants round(c * 2**F)
    frac_bits: int = DEFAULT_FRAC_BITS  # f: product fraction bits kept through the post-adds
    spectrum_bits: int = DEFAULT_SPECTRUM_BITS  # S: ROM words c, c + d, d - c
    guard_bits: int = DEFAULT_GUARD_BITS  # G: O's LSB is 2**-G output LSBs
    max_bits: int = DEFAULT_MAX_BITS
    rounding: Rounding = Rounding.HALF_EVEN
    # one r-point module serves the forward and the inverse stage of size r (the inverse is the
    # forward with re/im swapped around it), so both keep the same product fraction bits
    share_modules: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(int(f) for f in self.factors))
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        pfa_map(self.n, self.factors)  # validates the factorisation
        for name, lo, hi in (
            ("input_shift", 0, 12),
            ("guard_bits", 0, 16),
            ("spectrum_bits", 4, 30),
            ("max_bits", 8, 48),
            ("bits", 2, 24),
        ):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in {lo}..{hi}; got {v!r}")
        winograd.check_const_bits(self.const_bits)
        winograd.check_frac_bits(self.frac_bits, self.const_bits)

    @classmethod
    def default(
        cls,
        n: int,
        bits: int,
        *,
        output_bits: int | None = None,
        rounding: Rounding = Rounding.HALF_EVEN,
        factors: tuple[int, ...] | None = None,
        **overrides: int | bool,
    ) -> NativeParams:
        """Defaults for N and bits. Constants and ROM are 18-bit words (one DSP port) up to 12
        bits of data or output; above, ``bits + 6`` (the constant and ROM errors scale with the
        signal, so their precision must follow it to stay below the output LSB)."""
        fac = supported(n) if factors is None else tuple(factors)
        if fac is None:
            raise ValueError(f"N={n} has no coprime factorisation into Winograd module sizes {winograd.MODULE_SIZES}")
        precision = max(bits, bits if output_bits is None else int(output_bits))
        word = 18 if precision <= 12 else min(30, precision + 6)
        kw: dict[str, Any] = {"const_bits": word - 1, "spectrum_bits": word}
        kw.update(overrides)
        return cls(n, bits, fac, rounding=rounding, **kw)

    @property
    def pfa(self) -> PfaMap:
        return pfa_map(self.n, self.factors)

    @property
    def bins(self) -> int:
        """H = N // 2 + 1 unique bins of a real channel."""
        return self.n // 2 + 1

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "bits": self.bits,
            "factors": list(self.factors),
            "input_shift": self.input_shift,
            "const_bits": self.const_bits,
            "frac_bits": self.frac_bits,
            "spectrum_bits": self.spectrum_bits,
            "guard_bits": self.guard_bits,
            "max_bits": self.max_bits,
            "rounding": str(self.rounding),
            "share_modules": self.share_modules,
        }


def block_names(factors: tuple[int, ...]) -> list[str]:
    """The pipeline's blocks in order (each is a trace entry and a width)."""
    d = len(factors)
    names = [f"fwd{s}.{part}" for s in range(d) for part in ("operands", "products", "out")]
    names += ["sep", "prod", "rec"]
    names += [f"inv{s}.{part}" for s in range(d) for part in ("operands", "products", "out")]
    return names


@dataclass(frozen=True)
class _Schedule:
    forward_shifts: tuple[int, ...]
    separation_shift: int
    recombine_shift: int
    inverse_shifts: tuple[int, ...]
    forward_frac: tuple[int, ...] = ()  # fraction bits kept by each stage's products (`_stage_frac`)
    inverse_frac: tuple[int, ...] = ()

    @property
    def scale_const(self) -> int:
        """K without g + 1: sum of every data-path right shift."""
        return sum(self.forward_shifts) + self.separation_shift + self.recombine_shift + sum(self.inverse_shifts)


# ------------------------------------------------------------------------------------------------
# Arithmetic: the same block code runs bit-exact (integers) or as its linear float shadow
# ------------------------------------------------------------------------------------------------


class _IntArith:
    exact = False

    def __init__(self, rounding: Rounding) -> None:
        self.rounding = rounding

    def rshift(self, v: NDArray, s: int) -> NDArray:
        return round_shift(v, s, self.rounding)

    def fit(self, v: NDArray, bits: int | None) -> tuple[NDArray, NDArray[np.bool_]]:
        if bits is None:
            return v, np.zeros(v.shape, dtype=bool)
        return saturate(v, bits)


class _FloatArith:
    """No rounding, no saturation: the pipeline as the linear map the integers approximate."""

    exact = True

    def rshift(self, v: NDArray, s: int) -> NDArray:
        return v * 2.0**-s

    def fit(self, v: NDArray, bits: int | None) -> tuple[NDArray, NDArray[np.bool_]]:
        return v, np.zeros((), dtype=bool)


_Arith = _IntArith | _FloatArith


@dataclass(frozen=True)
class _Config:
    """Everything the blocks need: params, schedule, widths (None: unsaturated) and ROM."""

    params: NativeParams
    sched: _Schedule
    widths: Mapping[str, int | None]
    rom: tuple[NDArray, NDArray] | None  # (P, 2, H) re, im of Hq (zero rows for a padded channel)
    product_shift: int

    def stage(self, block: str) -> tuple[bool, int, int]:
        """(inverse, stage index, buffer axis) of a module block."""
        inverse = block.startswith("inv")
        s = int(block[3 : block.index(".")])
        d = len(self.params.factors)
        return inverse, s, (d - 1 - s) if inverse else s

    def shift_frac(self, block: str) -> tuple[int, int]:
        """(stage shift, product fraction bits) of a module block."""
        inverse, s, _ = self.stage(block)
        if inverse:
            return self.sched.inverse_shifts[s], self.sched.inverse_frac[s]
        return self.sched.forward_shifts[s], self.sched.forward_frac[s]


def _module_block(cfg: _Config, block: str, re: NDArray, im: NDArray, ar: _Arith) -> tuple[NDArray, NDArray, NDArray]:
    """One part of a PFA stage on buffers (..., P, *factors); the module axis is the stage's."""
    p = cfg.params
    inverse, s, axis = cfg.stage(block)
    r = p.factors[axis]
    mod = winograd.module(r)
    ax = re.ndim - len(p.factors) + axis
    part = block.split(".")[1]
    sh, f = cfg.shift_frac(block)
    flags = np.zeros((), dtype=bool)
    if part == "operands":
        if ar.exact:
            a = mod.pre.T.astype(np.float64)
            fn = lambda v: v @ a  # noqa: E731
            return apply_along(fn, re, ax), apply_along(fn, im, ax), flags
        u = winograd.pre_add(r, np.moveaxis(re, ax, -1), np.moveaxis(im, ax, -1))
        return np.moveaxis(u[0], -1, ax), np.moveaxis(u[1], -1, ax), flags
    if part == "products":
        ur, ui = np.moveaxis(re, ax, -1), np.moveaxis(im, ax, -1)
        vr: NDArray
        vi: NDArray
        if ar.exact:
            c = np.where(mod.trivial, 1.0, mod.const_ints(p.const_bits) / 2.0**p.const_bits) * 2.0**f
            vr, vi = ur * c, ui * c
        else:
            vr, vi = winograd.multiply_int(r, ur, ui, const_bits=p.const_bits, rounding=p.rounding, frac_bits=f)
        return np.moveaxis(vr, -1, ax), np.moveaxis(vi, -1, ax), flags
    # out: post-adds, one rounding by the stage shift plus the product fraction bits, narrow
    vr, vi = np.moveaxis(re, ax, -1), np.moveaxis(im, ax, -1)
    if ar.exact:
        post = np.conj(mod.post) if inverse else mod.post
        x = (vr + 1j * vi) @ post.T
        xr, xi = x.real, x.imag
    else:
        xr, xi = winograd.post_add(r, vr, vi, inverse=inverse)
    w = cfg.widths.get(block)
    xr, fr = ar.fit(ar.rshift(xr, sh + f), w)
    xi, fi = ar.fit(ar.rshift(xi, sh + f), w)
    return np.moveaxis(xr, -1, ax), np.moveaxis(xi, -1, ax), np.moveaxis(fr | fi, -1, ax) if fr.ndim else flags


def _separate(cfg: _Config, re: NDArray, im: NDArray, ar: _Arith) -> tuple[NDArray, NDArray, NDArray]:
    """Forward output buffer -> Z natural -> (..., P, 2, H) separated spectra (adds, one shift)."""
    p = cfg.params
    pm = p.pfa
    zr, zi = pm.scatter(re, "freq"), pm.scatter(im, "freq")
    k = np.arange(p.bins)
    m = (-k) % p.n
    xr = np.stack([zr[..., k] + zr[..., m], zi[..., k] + zi[..., m]], axis=-2)
    xi = np.stack([zi[..., k] - zi[..., m], zr[..., m] - zr[..., k]], axis=-2)
    w = cfg.widths.get("sep")
    xr, fr = ar.fit(ar.rshift(xr, cfg.sched.separation_shift), w)
    xi, fi = ar.fit(ar.rshift(xi, cfg.sched.separation_shift), w)
    return xr, xi, fr | fi


def _product(cfg: _Config, re: NDArray, im: NDArray, ar: _Arith) -> tuple[NDArray, NDArray, NDArray]:
    """Spectral product with the ROM, one rounding per component."""
    assert cfg.rom is not None
    hr, hi = cfg.rom
    if ar.exact:
        pr = (re * hr - im * hi) * 2.0**-cfg.product_shift
        pi = (re * hi + im * hr) * 2.0**-cfg.product_shift
    else:
        pr, pi = complex_multiply(re, im, hr, hi, cfg.product_shift, cfg.params.rounding)
    w = cfg.widths.get("prod")
    pr, fr = ar.fit(pr, w)
    pi, fi = ar.fit(pi, w)
    return pr, pi, fr | fi


def _recombine(cfg: _Config, re: NDArray, im: NDArray, ar: _Arith) -> tuple[NDArray, NDArray, NDArray]:
    """(..., P, 2, H) channel spectra -> one complex spectrum (..., P, N), natural order."""
    n, h = cfg.params.n, cfg.params.bins
    cr, ci, dr, di = re[..., 0, :], im[..., 0, :], re[..., 1, :], im[..., 1, :]
    mirror = n - np.arange(h, n)  # bins above H read bin N - k
    yr = np.concatenate([cr - di, (cr + di)[..., mirror]], axis=-1)
    yi = np.concatenate([ci + dr, (dr - ci)[..., mirror]], axis=-1)
    w = cfg.widths.get("rec")
    yr, fr = ar.fit(ar.rshift(yr, cfg.sched.recombine_shift), w)
    yi, fi = ar.fit(ar.rshift(yi, cfg.sched.recombine_shift), w)
    return yr, yi, fr | fi


def _run_block(cfg: _Config, block: str, re: NDArray, im: NDArray, ar: _Arith) -> tuple[NDArray, NDArray, NDArray]:
    if block == "sep":
        return _separate(cfg, re, im, ar)
    if block == "prod":
        return _product(cfg, re, im, ar)
    if block == "rec":
        return _recombine(cfg, re, im, ar)
    if block == "fwd0.operands":  # the frame enters the forward PFA through the Ruritanian map
        re, im = cfg.params.pfa.gather(re, "time"), cfg.params.pfa.gather(im, "time")
    if block == "inv0.operands":  # the spectrum enters the inverse through the CRT map
        re, im = cfg.params.pfa.gather(re, "freq"), cfg.params.pfa.gather(im, "freq")
    return _module_block(cfg, block, re, im, ar)


def _pipeline(
    cfg: _Config, re: NDArray, im: NDArray, ar: _Arith, start: int = 0, stop: int | None = None
) -> tuple[dict[str, tuple[NDArray, NDArray]], NDArray]:
    """Run blocks ``start .. stop-1`` on ``(re, im)`` (the input of block ``start``); returns each
    block's output and the OR of the saturation flags reduced to the leading (..., P) axes."""
    names = block_names(cfg.params.factors)
    out: dict[str, tuple[NDArray, NDArray]] = {}
    overflow = np.zeros((), dtype=bool)
    for block in names[start:stop]:
        re, im, flags = _run_block(cfg, block, re, im, ar)
        if flags.ndim:
            lead = re.ndim - _layout_ndim(cfg, block)
            overflow = overflow | flags.reshape(flags.shape[:lead] + (-1,)).any(axis=-1)
        out[block] = (re, im)
    out["__last__"] = (re, im)
    return out, overflow


def _layout_ndim(cfg: _Config, block: str) -> int:
    if block in ("sep", "prod"):
        return 2
    if block == "rec":
        return 1
    return len(cfg.params.factors)


def _rounding_mask(cfg: _Config, block: str) -> NDArray[np.float64]:
    """Max rounding error per element of a block's output layout (no pair axis)."""
    p, sched = cfg.params, cfg.sched
    rho = lambda s: rounding_error_max(s, p.rounding)  # noqa: E731
    if block in ("sep", "prod"):
        s = sched.separation_shift if block == "sep" else cfg.product_shift
        return np.full((2, p.bins), rho(s))
    if block == "rec":
        return np.full((p.n,), rho(sched.recombine_shift))
    _, _, axis = cfg.stage(block)
    sh, f = cfg.shift_frac(block)
    shape = list(p.factors)
    part = block.split(".")[1]
    if part == "operands":
        return np.zeros(shape)
    if part == "products":
        mod = winograd.module(p.factors[axis])
        shape[axis] = mod.products
        per = np.where(mod.trivial, 0.0, rho(p.const_bits - f))
        view = [1] * len(shape)
        view[axis] = mod.products
        return np.broadcast_to(per.reshape(view), shape).copy()
    return np.full(shape, rho(sh + f))


def _rounding_mse(cfg: _Config, block: str) -> NDArray[np.float64]:
    """Mean square rounding error per element (the statistical model of `error_rms`)."""
    p, sched = cfg.params, cfg.sched
    mse = lambda s: rounding_mse(s, p.rounding)  # noqa: E731
    mask = _rounding_mask(cfg, block)
    if block == "sep":
        return np.full(mask.shape, mse(sched.separation_shift))
    if block == "prod":
        return np.full(mask.shape, mse(cfg.product_shift))
    if block == "rec":
        return np.full(mask.shape, mse(sched.recombine_shift))
    part = block.split(".")[1]
    sh, f = cfg.shift_frac(block)
    if part == "products":
        return np.where(mask > 0, mse(p.const_bits - f), 0.0)
    if part == "out":
        return np.full(mask.shape, mse(sh + f))
    return np.zeros(mask.shape)


# ------------------------------------------------------------------------------------------------
# Worst-case analysis: the pipeline's matrices (module docstring)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    ideal: dict[str, NDArray]  # block -> (P or 1, *layout) max over re/im of the signal bound
    err: dict[str, NDArray]  # block -> (P or 1, *layout) accumulated rounding error bound
    o_const: NDArray  # (2P, N) x_max * sum |T_q - T| in O units (channel rows)
    o_const_sq: NDArray  # (2P, N) sum (T_q - T)**2 (per unit input variance)
    o_terms: dict[str, NDArray]  # source block -> (2P, N) worst-case rounding contribution at O
    o_var: NDArray  # (2P, N) propagated rounding variance at O


def _pair_layer(q: QuantizedLayer) -> tuple[int, NDArray, NDArray]:
    """(pairs, live mask (2P,), weights (2P, N)) with a zero channel appended for odd C."""
    c, n = q.weight.shape
    pairs = (c + 1) // 2
    w = np.zeros((2 * pairs, n), dtype=np.int64)
    w[:c] = q.weight
    live = np.zeros(2 * pairs, dtype=bool)
    live[:c] = True
    return pairs, live, w


def _to_channels(re: NDArray, im: NDArray) -> NDArray:
    """(..., P, N) re/im -> (..., 2P, N) with Re -> channel 2p, Im -> 2p + 1."""
    return np.stack([re, im], axis=-2).reshape(re.shape[:-2] + (2 * re.shape[-2], re.shape[-1]))


def _analyse(cfg: _Config, live: NDArray, stop: int | None = None, t_exact: NDArray | None = None) -> _Analysis:
    """Signal and rounding-error bounds of every block before ``stop`` (module docstring).

    ``ideal[b]``: run the float pipeline on a unit input LSB at each of a pair's 2N inputs; the
    worst case over all inputs of an element is its row L1 norm times full scale (exact, the
    pipeline being linear). ``err[b]``: inject a unit error at every rounding point of each
    earlier block, run the rest of the pipeline; the worst case is the L1 norm weighted by each
    point's largest rounding error. With the whole pipeline (and ``t_exact``) also the output
    terms of `NativePlan.error_terms` and the variances of `NativePlan.error_rms`.
    """
    p = cfg.params
    names = block_names(p.factors)
    stop = len(names) if stop is None else stop
    n = p.n
    x_max = 2.0 ** (p.bits - 1)
    pairs = live.size // 2
    ar = _FloatArith()
    basis = np.eye(2 * n)[:, None, :] * 2.0**p.input_shift  # (2N inputs, 1, N): z = x << g
    runs, _ = _pipeline(cfg, basis[..., :n], basis[..., n:], ar, 0, stop)
    weight = _input_weight(live, n, x_max)[0::2, :, 0].T  # (2N, P): full scale per input and pair
    ideal: dict[str, NDArray] = {}
    for b in names[:stop]:
        re, im = runs[b]
        wv = weight if re.shape[1] == pairs else weight.max(axis=1, keepdims=True)
        wv = wv.reshape(wv.shape + (1,) * (re.ndim - 2))
        ideal[b] = np.maximum((np.abs(re) * wv).sum(axis=0), (np.abs(im) * wv).sum(axis=0))
    err = {b: np.zeros((1,) + ideal[b].shape[1:]) for b in names[:stop]}
    full = stop == len(names)
    o_terms: dict[str, NDArray] = {}
    o_var = np.zeros((2 * pairs, n))
    for i, b in enumerate(names[:stop]):
        mask = _rounding_mask(cfg, b)
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        err[b] = err[b] + mask  # its own rounding
        size = idx.size
        flat = np.zeros((size, 1, mask.size))
        flat[np.arange(size), 0, idx] = 1.0
        inj = flat.reshape((size, 1) + mask.shape)
        zero = np.zeros_like(inj)
        r = np.tile(mask.ravel()[idx], 2)  # unit error on re, then on im, of each rounding point
        v = np.tile(_rounding_mse(cfg, b).ravel()[idx], 2)
        later, _ = _pipeline(cfg, np.concatenate([inj, zero]), np.concatenate([zero, inj]), ar, i + 1, stop)
        for b2 in names[i + 1 : stop]:
            re, im = later[b2]
            rv = r.reshape((-1,) + (1,) * (re.ndim - 1))
            contrib = np.maximum((np.abs(re) * rv).sum(axis=0), (np.abs(im) * rv).sum(axis=0))
            err[b2] = err[b2] + contrib
        if full:
            o = _o_responses(cfg, *later["__last__"])  # (2P, 2*size, N)
            o_terms[b] = (np.abs(o) * r[None, :, None]).sum(axis=1)
            o_var = o_var + (o**2 * v[None, :, None]).sum(axis=1)
    if full:
        if t_exact is None:
            raise ValueError("the whole pipeline's analysis needs the exact correlation matrix")
        dt = _o_responses(cfg, *runs["__last__"]) - t_exact  # (2P, 2N, N) per unit input
        o_const = (np.abs(dt) * _input_weight(live, n, x_max)).sum(axis=1)
        o_const_sq = (dt**2 * (_input_weight(live, n, 1.0) > 0)).sum(axis=1)
    else:
        o_const = o_const_sq = np.zeros((2 * pairs, n))
    return _Analysis(ideal, err, o_const, o_const_sq, o_terms, o_var)


def _o_responses(cfg: _Config, re: NDArray, im: NDArray) -> NDArray:
    """Last inverse buffers (B, P, *factors) -> (2P channels, B, N) natural-order outputs
    (channel 2p = Re O of pair p, channel 2p + 1 = Im O)."""
    o_re, o_im = cfg.params.pfa.scatter(re, "time"), cfg.params.pfa.scatter(im, "time")
    if o_re.shape[1] == 1 and cfg.rom is not None:
        o_re = np.broadcast_to(o_re, (o_re.shape[0], cfg.rom[0].shape[0], o_re.shape[2]))
        o_im = np.broadcast_to(o_im, o_re.shape)
    pairs, b, n = o_re.shape[1], o_re.shape[0], o_re.shape[2]
    return np.stack([o_re.transpose(1, 0, 2), o_im.transpose(1, 0, 2)], axis=1).reshape(2 * pairs, b, n)


def _input_weight(live: NDArray, n: int, x_max: float) -> NDArray:
    """(2P, 2N, 1): full scale of each of the pair's 2N inputs (0 for a padded channel)."""
    pairs = live.size // 2
    w = np.zeros((pairs, 2 * n))
    w[:, :n] = np.where(live[0::2], x_max, 0.0)[:, None]
    w[:, n:] = np.where(live[1::2], x_max, 0.0)[:, None]
    return np.repeat(w, 2, axis=0)[:, :, None]


def _exact_matrix(w: NDArray, y_exp: NDArray) -> NDArray:
    """(2P, 2N, N): the exact correlation in O units per unit input of the pair's 2N inputs.

    ``corr(w, e_j)[i] = w[(j - i) mod N]``; channel 2p sees the first N inputs, 2p + 1 the last N.
    """
    chans, n = w.shape
    j = np.arange(n)
    circ = w[:, (j[:, None] - j[None, :]) % n] * np.exp2(-y_exp.astype(np.float64))[:, None, None]  # [ch, j, i]
    t = np.zeros((chans, 2 * n, n))
    t[0::2, :n] = circ[0::2]
    t[1::2, n:] = circ[1::2]
    return t


# ------------------------------------------------------------------------------------------------
# The plan: shifts, widths, ROM, error bounds
# ------------------------------------------------------------------------------------------------


def _rom_fit(h: NDArray[np.complex128], limit: int) -> int:
    """Largest e with max(|c|, |c + d|, |d - c|) <= limit, ``c + j d = round(h * 2**e)``."""
    peak = float(np.max(np.maximum.reduce([np.abs(h.real), np.abs(h.real + h.imag), np.abs(h.imag - h.real)])))
    if peak == 0:
        return 0

    def fits(e: int) -> bool:
        c, d = np.round(h.real * 2.0**e), np.round(h.imag * 2.0**e)
        return max(np.abs(c).max(), np.abs(c + d).max(), np.abs(d - c).max()) <= limit

    e = int(math.floor(math.log2(limit / peak)))
    while not fits(e):
        e -= 1
    while fits(e + 1):
        e += 1
    return e


@dataclass(frozen=True)
class NativePlan:
    """One quantized layer mapped onto the native engine: every constant the hardware holds.

    ROM (per channel c, bins k = 0 .. H-1): ``rom_c``, ``rom_c_plus_d``, ``rom_d_minus_c``
    (``spectrum_bits`` signed each); ``spectrum_re/_im`` = (c, d). Widths: ``widths[block]``
    is the signed width of every re/im value of that block (`block_names`), ``widths[block +
    ".sum"]`` that of the exact sum before its rounding (post-adds, separation, product,
    recombination), ``widths["z"]`` the forward input; ``widths["prod.operand"]`` bounds the
    3-multiply pre-add ``a + b``.
    """

    layer: QuantizedLayer
    params: NativeParams
    forward_shifts: tuple[int, ...]
    separation_shift: int
    product_shift: int
    recombine_shift: int
    inverse_shifts: tuple[int, ...]
    widths: dict[str, int]
    spectrum_re: IntArray  # (C, H) c
    spectrum_im: IntArray  # (C, H) d
    spectrum_exp: IntArray  # (C,) Hq = round(conj(DFT(w_q)) / N * 2**spectrum_exp)
    y_exp: IntArray  # (C,) E: O's LSB is 2**E accumulator LSBs
    forward_frac_bits: tuple[int, ...]  # fraction bits kept by each stage's products
    inverse_frac_bits: tuple[int, ...]
    analysis: _Analysis = field(repr=False, compare=False)
    notes: dict = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return (self.layer.channels + 1) // 2

    @property
    def pfa(self) -> PfaMap:
        return self.params.pfa

    @property
    def rom_c(self) -> IntArray:
        return self.spectrum_re

    @property
    def rom_c_plus_d(self) -> IntArray:
        return self.spectrum_re + self.spectrum_im

    @property
    def rom_d_minus_c(self) -> IntArray:
        return self.spectrum_im - self.spectrum_re

    @property
    def align(self) -> tuple[IntArray, IntArray, IntArray]:
        """(O left shift, offset left shift, final right shift) per channel, all >= 0."""
        e0 = np.minimum(self.y_exp, 0)
        return self.y_exp - e0, -e0, self.layer.shift - e0

    @cached_property
    def _config(self) -> _Config:
        pairs, _, _ = _pair_layer(self.layer)
        h = (
            np.zeros((2 * pairs, self.params.bins), dtype=np.int64),
            np.zeros((2 * pairs, self.params.bins), dtype=np.int64),
        )
        h[0][: self.layer.channels] = self.spectrum_re
        h[1][: self.layer.channels] = self.spectrum_im
        rom = (h[0].reshape(pairs, 2, -1), h[1].reshape(pairs, 2, -1))
        sched = _Schedule(
            self.forward_shifts,
            self.separation_shift,
            self.recombine_shift,
            self.inverse_shifts,
            self.forward_frac_bits,
            self.inverse_frac_bits,
        )
        saturating = {b: w for b, w in self.widths.items() if b.endswith(".out") or b in ("sep", "prod", "rec")}
        return _Config(self.params, sched, saturating, rom, self.product_shift)

    def _to_output_lsb(self) -> NDArray:
        return np.exp2((self.y_exp - self.layer.shift).astype(np.float64))

    def error_terms(self) -> dict[str, float]:
        """Worst-case contribution of each error source, output LSBs (max over channels and
        positions of that term alone; `error_bound` is the max of their sum)."""
        c = self.layer.channels
        scale = self._to_output_lsb()[:, None]
        a = self.analysis
        terms = {"constants_and_rom": float((a.o_const[:c] * scale).max())}
        for b, t in a.o_terms.items():
            terms[b] = float((t[:c] * scale).max())
        terms["output_rounding"] = 1.0 if self.layer.fmt.rounding is Rounding.TRUNCATE else 0.5
        return terms

    def error_bounds(self) -> NDArray[np.float64]:
        """Per channel: worst-case |y - (corr(w_q, x_q) + offset) / 2**shift| in output LSBs,
        for any input when the output does not saturate (module docstring)."""
        c = self.layer.channels
        a = self.analysis
        total = a.o_const[:c] + sum((t[:c] for t in a.o_terms.values()), np.zeros((c, self.params.n)))
        r_out = 1.0 if self.layer.fmt.rounding is Rounding.TRUNCATE else 0.5
        return r_out + total.max(axis=1) * self._to_output_lsb()

    def error_bound(self) -> float:
        """The largest of `error_bounds` (the number the FFT engine's `error_bound` also gives)."""
        return float(self.error_bounds().max())

    def pipeline_bound(self) -> float:
        """`error_bound` without the output rounding: how far ``v / 2**(shift - e0)`` can be
        from the exact value. Below 1/2 (half-up/even), a layer's output can differ from the
        direct engine's only next to a rounding tie, and by 1 LSB."""
        r_out = 1.0 if self.layer.fmt.rounding is Rounding.TRUNCATE else 0.5
        return self.error_bound() - r_out

    def error_rms(self, x_rms: float) -> float:
        """Statistical estimate of the RMS of ``O * 2**E - corr`` in output LSBs (no output
        rounding) for inputs of RMS ``x_rms`` input LSBs: independent roundings of mean square
        `golden.fft.rounding_mse` and independent inputs, propagated through the matrices."""
        c = self.layer.channels
        a = self.analysis
        var = (a.o_const_sq[:c] * float(x_rms) ** 2 + a.o_var[:c]) * self._to_output_lsb()[:, None] ** 2
        return float(math.sqrt(var.mean()))

    def to_dict(self) -> dict:
        return {
            "params": self.params.to_dict(),
            "forward_shifts": list(self.forward_shifts),
            "separation_shift": self.separation_shift,
            "product_shift": self.product_shift,
            "recombine_shift": self.recombine_shift,
            "inverse_shifts": list(self.inverse_shifts),
            "forward_frac_bits": list(self.forward_frac_bits),
            "inverse_frac_bits": list(self.inverse_frac_bits),
            "widths": dict(self.widths),
            "spectrum_exp": self.spectrum_exp.tolist(),
            "y_exp": self.y_exp.tolist(),
            "error_bound_lsb": self.error_bound(),
            "notes": dict(self.notes),
        }


def _widths(cfg: _Config, an: _Analysis, names: list[str]) -> dict[str, int]:
    """Signed widths from the bounds (a relative margin of 1e-9 covers float64 sums)."""
    out: dict[str, int] = {}
    margin = 1 + 1e-9
    for b in names:
        if b not in an.ideal:
            continue
        total = an.ideal[b] + an.err[b]
        out[b] = _signed_bits(float(total.max()) * margin)
        mask = _rounding_mask(cfg, b)
        if b.endswith(".out") or b in ("sep", "prod", "rec"):
            shift = _block_shift(cfg, b)
            before = (an.ideal[b] + an.err[b] - mask) * 2.0**shift
            out[b + ".sum"] = _signed_bits(float(before.max()) * margin)
    if "sep" in out:
        out["prod.operand"] = out["sep"] + 1
    return out


def _block_shift(cfg: _Config, b: str) -> int:
    """The right shift of a rounding block (the product's fraction bits included)."""
    if b == "sep":
        return cfg.sched.separation_shift
    if b == "prod":
        return cfg.product_shift
    if b == "rec":
        return cfg.sched.recombine_shift
    sh, f = cfg.shift_frac(b)
    return sh + f


def _frac_cost(p: NativeParams, r: int, shift: int, f: int) -> float:
    """Worst-case rounding error of one r-point stage that keeps ``f`` product fraction bits
    and shifts by ``shift`` (`_stage_frac`)."""
    mod = winograd.module(r)
    weight = float((np.abs(mod.post_re) + np.abs(mod.post_im))[:, ~np.asarray(mod.trivial)].sum())
    products = weight * rounding_error_max(p.const_bits - f, p.rounding) * 2.0**-f
    return products + r * rounding_error_max(shift + f, p.rounding)


def _stage_frac(p: NativeParams, r: int, shifts: tuple[int, ...]) -> int:
    """Fraction bits a module's products keep: the f in 0..frac_bits that minimises its
    worst-case rounding error summed over its outputs (every output reaches the engine's output,
    so the sum is what propagates): products through the post-adds, ``sum_k,i |O_ki| rho(F - f)
    2**-f``, plus the output rounding ``r rho(shift + f)``; ties take fewer bits. ``shifts``:
    the stage shift of every stage the module serves (one, or a forward and an inverse stage
    when modules are shared), whose costs add. An unshifted 8-point stage alone keeps none (4 of
    its 8 outputs are exact, and f = 0 saves the output rounding: 4 vs 5 LSB), a 7-point stage
    keeps them all (34, 21, 12 LSB for f = 0, 1, 2)."""
    return min(range(p.frac_bits + 1), key=lambda f: (sum(_frac_cost(p, r, sh, f) for sh in shifts), f))


def _with_frac(p: NativeParams, sched: _Schedule) -> _Schedule:
    d = len(p.factors)
    if p.share_modules:
        by_size = {
            r: _stage_frac(p, r, (sched.forward_shifts[s], sched.inverse_shifts[d - 1 - s]))
            for s, r in enumerate(p.factors)
        }
        fwd = tuple(by_size[r] for r in p.factors)
        inv = tuple(by_size[p.factors[d - 1 - s]] for s in range(d))
    else:
        fwd = tuple(_stage_frac(p, p.factors[s], (sched.forward_shifts[s],)) for s in range(d))
        inv = tuple(_stage_frac(p, p.factors[d - 1 - s], (sched.inverse_shifts[s],)) for s in range(d))
    return replace(sched, forward_frac=fwd, inverse_frac=inv)


def _forward_schedule(p: NativeParams, live: NDArray) -> tuple[_Schedule, _Analysis]:
    """Forward shifts and sigma: unscaled unless a width would pass ``max_bits`` (then shift the
    nearest block before it by one more bit, and repeat)."""
    d = len(p.factors)
    names = block_names(p.factors)
    stop = names.index("sep") + 1
    fwd, sigma = [0] * d, 0
    inv = tuple(int(math.ceil(math.log2(p.factors[d - 1 - s]))) for s in range(d))
    if p.bits + p.input_shift + int(math.ceil(math.log2(winograd.operand_growth(p.factors[0])))) > p.max_bits:
        raise ValueError(
            f"input_shift={p.input_shift}: the first pre-adds of {p.bits}-bit data exceed max_bits={p.max_bits}"
        )
    for _ in range(8 * d + 16):
        sched = _with_frac(p, _Schedule(tuple(fwd), sigma, 0, inv))
        cfg = _Config(p, sched, {}, None, 0)
        an = _analyse(cfg, live, stop)
        widths = _widths(cfg, an, names[:stop])
        over = [
            b
            for b in names[:stop]
            if not b.endswith(".products") and (widths[b] + (1 if b == "sep" else 0)) > p.max_bits
        ]
        if not over:
            return sched, an
        b = over[0]
        if b == "sep":
            sigma += 1
        else:
            _, s, _ = cfg.stage(b)
            if b.endswith(".out"):
                fwd[s] += 1
            elif s == 0:
                raise ValueError(
                    f"the forward transform of {p.bits}-bit data with input_shift={p.input_shift} "
                    f"cannot fit max_bits={p.max_bits}"
                )
            else:
                fwd[s - 1] += 1
    raise AssertionError("forward schedule did not converge")


def plan_native(q: QuantizedLayer, params: NativeParams | None = None) -> NativePlan:
    """Shifts, widths, spectrum ROM and error bounds of the native engine for one layer."""
    n = q.fmt.n
    p = (
        NativeParams.default(n, q.fmt.data.bits, output_bits=q.fmt.output.bits, rounding=q.fmt.rounding)
        if params is None
        else params
    )
    if p.n != n or p.bits != q.fmt.data.bits:
        raise ValueError(f"NativeParams are for N={p.n}, bits={p.bits}; the layer has N={n}, bits={q.fmt.data.bits}")
    pairs, live, w = _pair_layer(q)
    d = len(p.factors)
    names = block_names(p.factors)
    fsched, _ = _forward_schedule(p, live)

    # ROM exponents: independent of the shifts (the product shift absorbs them) unless clamped
    spectrum = np.conj(np.fft.fft(w, axis=-1))[:, : p.bins] / n
    limit = (1 << (p.spectrum_bits - 1)) - 1
    fit = np.array([_rom_fit(h, limit) for h in spectrum], dtype=np.int64)
    zero = ~np.any(spectrum != 0, axis=1) | ~live
    e_target = np.zeros(2 * pairs, dtype=np.int64)
    e_target[: q.channels] = q.shift - p.guard_bits

    inv = list(fsched.inverse_shifts)
    notes: dict = {}
    for _ in range(8 * d + 16):
        sched = _with_frac(p, replace(fsched, inverse_shifts=tuple(inv)))
        const = sched.scale_const - p.input_shift - 1
        p_shift = int(np.min((fit + e_target - const)[~zero])) if not zero.all() else 0
        if p_shift < 0:
            notes["product_shift_clamped"] = p_shift
            p_shift = 0
        else:
            notes.pop("product_shift_clamped", None)
        sexp = np.where(zero, p_shift + const - e_target, np.minimum(p_shift + const - e_target, fit))
        y_exp = p_shift + const - sexp
        scaled = spectrum * np.exp2(sexp.astype(np.float64))[:, None]
        h_re = np.where(live[:, None], np.round(scaled.real), 0).astype(np.int64)
        h_im = np.where(live[:, None], np.round(scaled.imag), 0).astype(np.int64)
        rom = (h_re.reshape(pairs, 2, -1), h_im.reshape(pairs, 2, -1))
        cfg = _Config(p, sched, {}, rom, p_shift)
        an = _analyse(cfg, live, None, _exact_matrix(w, y_exp))
        widths = _widths(cfg, an, names)
        inv_blocks = [
            b for b in names if b.startswith("inv") and not b.endswith(".products") and b != f"inv{d - 1}.out"
        ]
        over = [b for b in inv_blocks if widths[b] > p.max_bits]
        if not over:
            break
        b = over[0]
        _, s, _ = cfg.stage(b)
        first = s if b.endswith(".operands") else s + 1
        later = [t for t in range(first, d) if inv[t] > 0]
        if not later:
            raise ValueError(
                f"{b} needs {widths[b]} bits even with its later stages unscaled (max_bits={p.max_bits}); "
                "lower guard_bits or raise max_bits"
            )
        inv[later[0]] -= 1
    else:
        raise AssertionError("inverse schedule did not converge")

    for b, wb in widths.items():
        if b.endswith(".operands") and wb + p.const_bits + 1 > INT64_MODEL_BITS:
            raise ValueError(f"{b}: {wb}-bit operands times {p.const_bits}-bit constants exceed the int64 model")
        if wb > INT64_MODEL_BITS:
            raise ValueError(f"{b} needs {wb} bits (at most {INT64_MODEL_BITS} in the int64 model)")
    if widths["sep"] + p.spectrum_bits + 1 > INT64_MODEL_BITS:
        raise ValueError("the spectral product exceeds the int64 model")
    widths["z"] = p.bits + p.input_shift
    if np.any(np.maximum.reduce([np.abs(h_re), np.abs(h_re + h_im), np.abs(h_im - h_re)]) > limit):
        raise AssertionError("spectrum ROM triple does not fit")  # cannot happen: `_rom_fit`
    c = q.channels
    plan = NativePlan(
        q,
        p,
        sched.forward_shifts,
        sched.separation_shift,
        p_shift,
        sched.recombine_shift,
        sched.inverse_shifts,
        widths,
        h_re[:c],
        h_im[:c],
        sexp[:c],
        y_exp[:c],
        sched.forward_frac,
        sched.inverse_frac,
        an,
        notes,
    )
    y_shift, off_shift, _ = plan.align
    if (
        widths[f"inv{d - 1}.out"] + int(y_shift.max()) + 1 > INT64_MODEL_BITS
        or q.fmt.acc_bits + int(off_shift.max()) + 1 > INT64_MODEL_BITS
    ):
        raise ValueError("the aligned output exceeds the int64 model (guard_bits too large for this layer's shifts)")
    return plan


# ------------------------------------------------------------------------------------------------
# The integer model
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeTrace:
    """Every intermediate integer of `native_model` for input rows (..., C, N).

    ``blocks[name] = (re, im)`` in pipeline order (`block_names`), shapes (..., P, ...):
    forward/inverse module blocks in buffer layout ``(..., P, *factors)`` (`golden.pfa`; the
    module axis of ``*.operands``/``*.products`` has the module's product count m instead),
    ``sep``/``prod`` ``(..., P, 2, H)``, ``rec`` ``(..., P, N)`` natural order.
    """

    z_re: IntArray  # (..., P, N) forward input, natural order (x << g)
    z_im: IntArray
    blocks: dict[str, tuple[IntArray, IntArray]]
    spectrum_re: IntArray  # (..., P, N) Z = forward output in natural bin order
    spectrum_im: IntArray
    o_re: IntArray  # (..., P, N) inverse output, natural order: Re -> channel 2p, Im -> 2p + 1
    o_im: IntArray
    acc: IntArray  # (..., C, N) aligned value before the output rounding (and the acc_sat_bits clamp)
    y: IntArray  # (..., C, N) output integers
    saturated: NDArray[np.bool_]  # (..., C, N) output samples that saturated (or wrapped)
    overflow: NDArray[np.bool_]  # (..., P) rows in which any internal block saturated
    acc_saturated: NDArray[np.bool_]  # (..., C, N) accumulators that saturated (ParcFormat.acc_sat_bits)


def native_model(plan: NativePlan, x: ArrayLike) -> NativeTrace:
    """Integers of the native engine for input rows (..., C, N) in the layer's input format."""
    q, p = plan.layer, plan.params
    xi = check_int_input(q, x)
    pairs, c, n = plan.pairs, q.channels, p.n
    padded = np.zeros(xi.shape[:-2] + (2 * pairs, n), dtype=np.int64)
    padded[..., :c, :] = xi
    z_re, z_im = padded[..., 0::2, :] << p.input_shift, padded[..., 1::2, :] << p.input_shift
    cfg = plan._config
    blocks, overflow = _pipeline(cfg, z_re, z_im, _IntArith(p.rounding))
    last_re, last_im = blocks.pop("__last__")
    d = len(p.factors)
    fwd_re, fwd_im = blocks[f"fwd{d - 1}.out"]
    o_re, o_im = p.pfa.scatter(last_re, "time"), p.pfa.scatter(last_im, "time")
    o = _to_channels(o_re, o_im)[..., :c, :]
    y_shift, off_shift, _ = plan.align
    acc = (o << y_shift[:, None]) + (q.offset << off_shift[:, None])
    y, sat, acc_sat = output_stage(q, acc, off_shift)  # the final shift is shift + off_shift
    overflow = np.broadcast_to(overflow, xi.shape[:-2] + (pairs,)).copy()
    return NativeTrace(
        z_re,
        z_im,
        blocks,
        p.pfa.scatter(fwd_re, "freq"),
        p.pfa.scatter(fwd_im, "freq"),
        o_re,
        o_im,
        acc,
        y,
        sat,
        overflow,
        acc_sat,
    )


def multiply_counts(n: int, factors: tuple[int, ...] | None = None) -> dict[str, float]:
    """Multiplies of the data path (hardware facts, docs/architecture.md section 6).

    General (data x weight) multiplies: per channel row, 1 per real bin (0 and N/2) and 3 per
    complex bin of the N // 2 + 1 unique bins. Constant multiplies: each nontrivial module
    product multiplies re and im, so a transform does ``2 sum_s (N / r_s) multiplies(r_s)``
    real ones; two transforms (forward, inverse) serve 2 channels of N samples.
    """
    fac = supported(n) if factors is None else tuple(factors)
    if fac is None:
        raise ValueError(f"N={n} is not supported")
    h = n // 2 + 1
    real_bins = 1 + (n % 2 == 0)
    general = real_bins + 3 * (h - real_bins)
    per_transform = 2 * sum((n // r) * winograd.module(r).multiplies for r in fac)
    counts: dict[str, float] = {
        "general_per_row": general,
        "general_per_sample": general / n,
        "constant_real_per_transform": per_transform,
        "constant_real_per_sample": 2 * per_transform / (2 * n),
    }
    for r in fac:
        counts[f"module{r}_constant_multiplies"] = winograd.module(r).multiplies
    return counts
