"""Bit-exact integer model of the Fast-ParC engine (forward FFT, spectrum ROM, inverse FFT).

Dataflow for one row (channel c, N samples ``x_q``, ``M = FftParams.m >= 2N - 1``, a power of 2):

1. frame  ``u = [x_q, x_q[:N-1], 0, ..., 0]`` (M samples, real) shifted left by ``input_shift``
   (g guard bits; PE is *not* added: it lives in the folded offset, docs/number-formats.md section 6);
2. ``X = FFT_DIF(u)``: `golden.fft` forward, natural in, bit-reversed out (`FftParams.forward`);
3. ``P = sat(R(X * Hq[c], product_shift), inverse_input_bits)``, ``Hq[c]`` = spectrum ROM:
   ``round(conj(DFT_M(w_q[c] zero-padded)) * 2**spectrum_exp[c])`` in ``spectrum_bits`` signed
   bits, stored in bit-reversed order (so no reorder buffer anywhere);
4. ``O = IFFT_DIT(P)``: `golden.fft` inverse, bit-reversed in, natural out; keep ``Y = Re O[:N]``
   (``O[N:]`` are linear-correlation tails, ``Im O`` is rounding noise);
5. ``Y`` is the correlation in units of ``2**E[c]`` accumulator LSBs with
   ``E[c] = shift[c] - guard_bits`` (by choice of ``spectrum_exp``); align it with the folded
   offset ROM of the direct engine (`QuantizedLayer.offset`, accumulator LSBs), exactly:
   ``v = Y * 2**(E - e0) + offset * 2**(-e0)``, ``e0 = min(E, 0)``, and
   ``y_q = requantize(v, shift[c] - e0, output.bits, rounding, saturate)`` (one rounding, the
   direct engine's rule). ``v`` is the accumulator (in units of ``2**e0`` accumulator LSBs):
   with a narrow one (`ParcFormat.acc_sat_bits` = K) it saturates to ``K - e0`` bits first
   (`golden.direct.output_stage`). The generator reads every constant from `FastParcPlan`.

Scales: ``Y * 2**E[c] ~= corr(w_q, x_q)`` because ``E[c] = sum(fwd shifts) + product_shift +
sum(inv shifts) - input_shift - spectrum_exp[c] - log2 M`` (the IFFT is unnormalised).

Defaults (`FftParams.default`) and why nothing overflows
-------------------------------------------------------
``M = max(8, next power of two >= 2N - 1)`` (16, 32, 64, 128 for N = 7, 14, 28, 56),
``input_shift g = 3``, ``guard_bits G = 4``, ``headroom_bits h = 2``, 18-bit twiddles and
spectrum ROM (DSP 18-bit port; ``bits + 4`` above 16-bit data or output), rounding = the
layer's. For bits <= 16 every multiplier operand fits 25 x 18 (checked by the tests); e.g.
N = 56, bits = 16: forward widths 21,22,22,23,24,24,24 with shifts 0,0,0,0,0,1,1, IFFT input
27 bits, widths 26,25,25,25,24,23,22 with shifts 1,1,0,0,1,1,1.

- Forward: an output of DIF stage s sums at most ``count_s = ceil((2N-1) 2**(s+1) / M)`` of the
  2N-1 non-zero inputs, so ``|re|, |im| <= count_s * 2**(bits-1+g)``; widths follow that bound,
  capped at 24 bits (the DIF multiplier operand ``a - b`` then fits a 25-bit DSP port; above
  16-bit data the cap is ``bits + g + 5``) by shifting the stages that would exceed it. The
  forward FFT can never saturate, whatever x is.
- Inverse: the DIT intermediate values of stage s are aliased sums of the outputs, which gives
  the exact bound ``|z_s| <= max_i |O[i]| * 2**(sum of the shifts after s)``; the IFFT output
  ``O`` has ``W_O = output.bits + G + h`` bits (``O`` in output LSB / 2**G) and stage s has
  ``W_O + (shifts after s)`` bits, so the IFFT and the product saturate only if some
  correlation value (valid or linear tail) exceeds ``2**h`` times the output range: only when
  the output saturates anyway, or for offsets (PE/bias) larger than the output range.
  All stages shift except the earliest multiplier stages, left unscaled where needed to keep
  multiplier stage inputs <= 25 bits (above 16 bits: 3 stages may widen).
- ``spectrum_exp[c]`` puts every channel's IFFT output at the same G bits below its output
  LSB; ``product_shift`` (one constant) is the largest for which every channel's ROM fits
  ``spectrum_bits`` (channels with smaller spectra use fewer ROM bits).
- int64: every model value fits (``golden.fft`` checks width + twiddle + 3 <= 63, the plan
  checks the aligned accumulator <= 62 bits).
- The output shift of a channel is at most `ParcFormat.max_shift` (`quantize_layer` clamps the
  weight scales), so the aligned IFFT output, ``output.bits + headroom + shift`` bits, stays
  <= acc_bits + headroom - 1: a pruned channel (weights 1e-20) no longer asks for shifts of 72.

User options (`plan_with_options`, what ``hw.generate --arch fft`` calls)
---------------------------------------------------------------------
Each option has a range (`FFT_OPTION_RANGES`, ``m``: powers of two from `fft_size` to 4x);
inside them, a combination must fit the widths above and keep `FastParcPlan.error_bound`
<= max(8 LSB, 4x the defaults' bound). A refusal is a `golden.cli.UserError` naming the options
whose reset to the default fixes it, spelled as the caller names them (CLI flags).

Error bound (`FastParcPlan.error_bound`, tested in tests/test_fast_parc_int.py)
------------------------------------------------------------------------------
Against the float result of the *quantized* layer, ``golden.fast_parc(x_q, w_q, pe_q, b_q)``
in output LSBs (= ``(corr(w_q, x_q) + offset) / 2**shift``), when nothing saturates:

    |y_q - y_float| <= r_out + 2**-G * (T_fwd + T_rom + T_prod + T_inv)

with ``r_out`` = 1/2 (half-up, half-even) or 1 (truncate), ``K = sqrt(M) / 2**sum(inv shifts)``
(the exact IFFT maps an L2 norm to any single output), ``p = product_shift``,
``|u| = sqrt(2N-1) 2**(bits-1+g)`` (L2 norm of a full-scale frame), ``|X| = sqrt(M) |u| /
2**sum(fwd shifts)`` (Parseval), ``rho(k)`` = max complex rounding error of a k-bit shift:

    T_fwd  = K * error_bound_l2(forward, |u|) * max|Hq| / 2**p   forward rounding + twiddles
    T_rom  = K * |X| * (sqrt(2) / 2) / 2**p                       spectrum ROM rounding
    T_prod = K * sqrt(M) * rho(p)                                 product rounding
    T_inv  = min(error_bound(inverse, peak|P|), error_bound_l2(inverse, |P|))

(`golden.fft.error_bound` / `error_bound_l2` are per-sample / per-frame worst cases of one FFT.)
It is a true worst case (all roundings aligned) and therefore loose: with the default options
0.9 .. 4.1 output LSBs for random layers at N = 7/14 and 2.1 .. 80 for the trained N = 28/56
layers, 8 to 16 bits (it grows with M and bits; `FastParcPlan.error_bound`). The statistical estimate
`FastParcPlan.error_rms` (rounding variances propagated through the pipeline) predicts the
measured RMS of ``Y * 2**E - corr`` within ~25%: 0.04 LSB at 8 and 12 bits, 0.06-0.08 LSB at
16 bits. Measured on `random_layer` (32 channels) with Gaussian inputs quantized by
`quantize_layer`, 2048 rows: the result equals `golden.direct.direct_model` on 94-97% of
samples and is never more than 1 LSB away (every N in 7/14/28/56, bits in 8/12/16); the FFT
path SQNR (vs the exact integer correlation) is 52-53 dB at 8 bits, 77-78 dB at 12, 96-98 dB at
16; SQNR vs the float layer is within 0.1 dB of the direct engine's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.cli import UserError
from golden.direct import check_int_input, output_stage
from golden.fft import (
    FftConfig,
    bit_reverse_indices,
    complex_multiply,
    error_bound,
    error_bound_l2,
    error_rms,
    fft_model,
    rounding_error_max,
    rounding_mse,
)
from golden.fixed import IntArray, Rounding, saturate
from golden.quant import QuantizedLayer

__all__ = [
    "FftParams",
    "FastParcPlan",
    "FastParcTrace",
    "plan_fast_parc",
    "plan_with_options",
    "fast_parc_int_model",
    "frame_rows",
    "fft_size",
    "fft_option_range",
    "FFT_OPTION_RANGES",
]

FORWARD_MAX_BITS = 24  # DIF multiplies a - b (one bit wider): fits a 25-bit DSP operand
INVERSE_MAX_BITS = 25  # DIT multiplies its stage input
# Above 16 bits the 25x18 DSP limits cost accuracy; the caps then grow with the data width
# (multipliers become DSP cascades): forward >= bits + g + 5, inverse >= O width + 3.
FORWARD_EXTRA_BITS = 5
INVERSE_EXTRA_BITS = 3
DEFAULT_TWIDDLE_BITS = 18
DEFAULT_SPECTRUM_BITS = 18
DEFAULT_INPUT_SHIFT = 3
DEFAULT_GUARD_BITS = 4
DEFAULT_HEADROOM_BITS = 2
MIN_FFT_SIZE = 8  # smallest size of hw.fft.StreamingFft
INT64_MODEL_BITS = 62  # widest value the int64 models hold with a bit to spare

# What `plan_with_options` (the user-facing path: hw.generate --arch fft) accepts, per
# `FftParams.default` keyword. Past these ends an option buys nothing (input_shift > 8: the
# forward FFT's rounding is already ~1e-3 LSB; guard_bits > 12: the IFFT's is ~1e-4 LSB) or
# only breaks widths (headroom beyond 8 bits: 256x the output range); ROM widths stop at
# 27 bits, a 27x27 DSP cascade. Fine but costly combinations are then judged by the error
# bound (`ERROR_LIMIT_LSB`, `ERROR_LIMIT_RATIO`).
FFT_OPTION_RANGES: dict[str, tuple[int, int]] = {
    "input_shift": (0, 8),
    "guard_bits": (0, 12),
    "headroom_bits": (0, 8),
    "twiddle_bits": (6, 27),
    "spectrum_bits": (6, 27),
}
FFT_SIZE_FACTOR = 4  # m from fft_size(N) to 4x that: a larger M adds latency and rounding, nothing else
# Options may cost accuracy, within reason: the worst-case error bound (`FastParcPlan.error_bound`)
# must stay <= max(ERROR_LIMIT_LSB, ERROR_LIMIT_RATIO x the default configuration's bound).
ERROR_LIMIT_LSB = 8.0
ERROR_LIMIT_RATIO = 4.0


def fft_size(n: int) -> int:
    """Smallest power of two >= 2N - 1 (and >= 8): exact circular correlation of length N."""
    return max(MIN_FFT_SIZE, 1 << int(2 * n - 2).bit_length())


def _signed_bits(v: float) -> int:
    """Smallest signed width whose positive range holds ``v`` (>= 0)."""
    return 2 if v < 1 else int(math.floor(math.log2(v))) + 2


@dataclass(frozen=True)
class FftParams:
    """FFT-side constants of one Fast-ParC engine (everything but the per-layer ROMs).

    ``forward``/``inverse`` give the two `golden.fft.FftConfig` (DIF forward on ``bits +
    input_shift``-bit real frames; DIT inverse on the ``inverse_input_bits`` product), which
    `hw.fft.StreamingFft` takes as they are. Build with `FftParams.default`.
    """

    n: int
    bits: int  # input (x) bits of the layer format
    m: int
    input_shift: int  # g guard bits: the forward FFT sees x << g
    forward_widths: tuple[int, ...]
    forward_shifts: tuple[int, ...]
    inverse_input_bits: int
    inverse_widths: tuple[int, ...]
    inverse_shifts: tuple[int, ...]
    twiddle_bits: int = DEFAULT_TWIDDLE_BITS
    spectrum_bits: int = DEFAULT_SPECTRUM_BITS
    guard_bits: int = 4  # IFFT output LSB = output LSB / 2**guard_bits
    rounding: Rounding = Rounding.HALF_EVEN

    def __post_init__(self) -> None:
        if self.m < 2 * self.n - 1:
            raise ValueError(f"M = {self.m} < 2N - 1 = {2 * self.n - 1}: the correlation would alias")
        for name in ("input_shift", "guard_bits"):
            if getattr(self, name) < 0:  # a negative shift is no hardware (and no int64 model)
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)}")
        if not 2 <= self.spectrum_bits <= 27:
            raise ValueError(f"spectrum_bits must be 2..27; got {self.spectrum_bits}")
        forward, _ = self.forward, self.inverse  # build (and so validate) both configs now
        product = forward.output_bits + self.spectrum_bits + 1  # X * Hq, summed: one more bit
        if product > INT64_MODEL_BITS:
            raise ValueError(
                f"the spectrum product needs {product} bits (forward FFT output {forward.output_bits} + "
                f"spectrum_bits {self.spectrum_bits} + 1; at most {INT64_MODEL_BITS})"
            )

    @property
    def stages(self) -> int:
        return self.m.bit_length() - 1

    @property
    def forward(self) -> FftConfig:
        return FftConfig(
            self.m,
            self.bits + self.input_shift,
            self.forward_widths,
            self.forward_shifts,
            self.twiddle_bits,
            self.rounding,
            "dif",
            False,
        )

    @property
    def inverse(self) -> FftConfig:
        return FftConfig(
            self.m,
            self.inverse_input_bits,
            self.inverse_widths,
            self.inverse_shifts,
            self.twiddle_bits,
            self.rounding,
            "dit",
            True,
        )

    @classmethod
    def default(
        cls,
        n: int,
        bits: int,
        *,
        output_bits: int | None = None,
        m: int | None = None,
        input_shift: int = DEFAULT_INPUT_SHIFT,
        guard_bits: int = DEFAULT_GUARD_BITS,
        headroom_bits: int = DEFAULT_HEADROOM_BITS,
        twiddle_bits: int | None = None,
        spectrum_bits: int | None = None,
        rounding: Rounding = Rounding.HALF_EVEN,
    ) -> FftParams:
        """Widths and schedules from N and bits (see the module docstring for the bounds).

        Twiddle and spectrum ROMs default to 18 bits (the DSP's 18-bit port) up to 16-bit
        data and output, then ``bits + 4`` (at most 27, and at most what keeps the int64 model
        exact).
        """
        if headroom_bits < 0:
            raise ValueError(f"headroom_bits must be >= 0; got {headroom_bits}")
        if input_shift < 0:
            raise ValueError(f"input_shift must be >= 0; got {input_shift}")
        precision = max(bits, bits if output_bits is None else int(output_bits))
        wide = DEFAULT_TWIDDLE_BITS if precision <= 16 else min(27, precision + 4)
        auto_twiddle = twiddle_bits is None
        twiddle_bits = wide if twiddle_bits is None else int(twiddle_bits)
        spectrum_bits = wide if spectrum_bits is None else int(spectrum_bits)
        m = fft_size(n) if m is None else int(m)
        out_bits = bits if output_bits is None else int(output_bits)
        S = m.bit_length() - 1
        ext = 2 * n - 1
        # forward: follow the count bound, shift the stages that would pass the cap
        fwd_cap = max(FORWARD_MAX_BITS, bits + input_shift + FORWARD_EXTRA_BITS)
        fwd_w, fwd_sh, total = [], [], 0
        in_peak = 2.0 ** (bits - 1 + input_shift)
        for s in range(S):
            count = min(1 << (s + 1), -(-ext * (1 << (s + 1)) // m))
            slack = (1 + 2.0 ** -(twiddle_bits - 3)) ** (s + 1)
            peak = count * in_peak * slack + (s + 1)
            sh = 1 if _signed_bits(peak / 2.0**total) > fwd_cap else 0
            total += sh
            fwd_sh.append(sh)
            fwd_w.append(_signed_bits(peak / 2.0**total))
        # inverse: width of O, then w_s = W_O + (shifts after s); scale late stages first
        w_out = out_bits + guard_bits + headroom_bits
        room = max(INVERSE_MAX_BITS - w_out, INVERSE_EXTRA_BITS)  # shifts allowed after stage 1
        inv_sh = [1] * S
        for s in range(2, S):
            if sum(inv_sh[s:]) > room:
                inv_sh[s] = 0
        inv_w = [w_out + sum(inv_sh[s + 1 :]) for s in range(S)]
        if auto_twiddle:  # golden.fft needs data width + twiddle width + 3 <= 63
            twiddle_bits = min(twiddle_bits, 60 - max(fwd_w + inv_w + [w_out + sum(inv_sh), bits + input_shift]))
        return cls(
            n,
            bits,
            m,
            input_shift,
            tuple(fwd_w),
            tuple(fwd_sh),
            w_out + sum(inv_sh),
            tuple(inv_w),
            tuple(inv_sh),
            twiddle_bits,
            spectrum_bits,
            guard_bits,
            rounding,
        )

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "bits": self.bits,
            "m": self.m,
            "input_shift": self.input_shift,
            "forward": self.forward.to_dict(),
            "inverse": self.inverse.to_dict(),
            "spectrum_bits": self.spectrum_bits,
            "guard_bits": self.guard_bits,
        }


@dataclass(frozen=True)
class FastParcPlan:
    """One quantized layer mapped onto the FFT engine: every constant the hardware holds."""

    layer: QuantizedLayer
    params: FftParams
    spectrum_re: IntArray  # (C, M) bit-reversed order, spectrum_bits signed
    spectrum_im: IntArray
    spectrum_exp: IntArray  # (C,) ROM scale: Hq = round(H * 2**spectrum_exp)
    product_shift: int
    y_exp: IntArray  # (C,) E: IFFT output LSB = 2**E accumulator LSBs
    notes: dict = field(default_factory=dict)

    @property
    def align(self) -> tuple[IntArray, IntArray, IntArray]:
        """(Y left shift, offset left shift, final right shift) per channel, all >= 0."""
        e0 = np.minimum(self.y_exp, 0)
        return self.y_exp - e0, -e0, self.layer.shift - e0

    def error_terms(self) -> dict[str, float]:
        """The parts of `error_bound`, each in output LSBs (see the module docstring)."""
        p, q = self.params, self.layer
        fwd, inv = p.forward, p.inverse
        M, ext, r2 = p.m, 2 * p.n - 1, math.sqrt(2.0)
        x_peak = 2.0 ** (q.fmt.data.bits - 1 + p.input_shift)  # |x << g|
        u_norm = math.sqrt(ext) * x_peak  # L2 norm of a forward input frame
        x_norm = math.sqrt(M) * u_norm / 2.0**fwd.total_shift  # L2 norm of the exact spectrum
        h_max = float(np.max(np.abs(self.spectrum_re + 1j * self.spectrum_im)))
        scale = 2.0**-self.product_shift
        to_out = float(np.max(2.0 ** (self.y_exp - q.shift)))  # IFFT LSB in output LSBs
        inv_gain = math.sqrt(M) / 2.0**inv.total_shift  # exact IFFT: L2 -> any element
        e_x = error_bound_l2(fwd, u_norm)
        p_peak = (ext * x_peak / 2.0**fwd.total_shift + error_bound(fwd, x_peak)) * h_max * scale + 1
        p_norm = (x_norm + e_x) * h_max * scale + math.sqrt(M)  # L2 norm of the IFFT input
        inner = min(error_bound(inv, p_peak), error_bound_l2(inv, p_norm))
        return {
            "forward_fft": inv_gain * e_x * h_max * scale * to_out,
            "spectrum_rom": inv_gain * x_norm * (r2 / 2) * scale * to_out,
            "product_rounding": inv_gain
            * math.sqrt(M)
            * r2
            * rounding_error_max(self.product_shift, p.rounding)
            * to_out,
            "inverse_fft": inner * to_out,
            "output_rounding": 1.0 if q.fmt.rounding is Rounding.TRUNCATE else 0.5,
        }

    def error_bound(self) -> float:
        """Worst-case |y_q - y_float| in output LSBs when nothing saturates (module docstring)."""
        return float(sum(self.error_terms().values()))

    def error_rms(self, x_rms: float) -> float:
        """Estimated RMS of ``Y * 2**E - corr`` in output LSBs (rounding noise only; no final
        rounding), for inputs of RMS ``x_rms`` (input LSBs): propagated rounding variances."""
        p, q = self.params, self.layer
        fwd, inv = p.forward, p.inverse
        ext = 2 * p.n - 1
        var_x = error_rms(fwd) ** 2  # X LSBs^2, complex
        x_sig = ext * (x_rms * 2.0**p.input_shift) ** 2 / 4.0**fwd.total_shift  # mean |X|^2
        h = self.spectrum_re + 1j * self.spectrum_im
        h2 = float(np.mean(np.abs(h) ** 2))
        rom_mse = 2 * 1 / 12  # spectrum ROM rounding per bin (complex)
        var_p = (var_x * h2 + x_sig * rom_mse) / 4.0**self.product_shift + 2 * rounding_mse(
            self.product_shift, p.rounding
        )
        var_o = error_rms(inv, math.sqrt(var_p)) ** 2 / 2  # real part only
        return math.sqrt(var_o) * float(np.max(2.0 ** (self.y_exp - q.shift)))


def plan_fast_parc(q: QuantizedLayer, params: FftParams | None = None) -> FastParcPlan:
    """Spectrum ROM, its exponents and the product shift for one quantized layer."""
    n = q.fmt.n
    p = (
        FftParams.default(n, q.fmt.data.bits, output_bits=q.fmt.output.bits, rounding=q.fmt.rounding)
        if params is None
        else params
    )
    if p.n != n or p.bits != q.fmt.data.bits:
        raise ValueError(f"FftParams are for N={p.n}, bits={p.bits}; the layer has N={n}, bits={q.fmt.data.bits}")
    M, S = p.m, p.stages
    padded = np.zeros((q.channels, M))
    padded[:, :n] = q.weight
    spectrum = np.conj(np.fft.fft(padded, axis=-1))
    peak = np.maximum(np.abs(spectrum.real), np.abs(spectrum.imag)).max(axis=-1)
    limit = (1 << (p.spectrum_bits - 1)) - 1
    # largest exponent per channel at which the ROM still fits (rounding included)
    # (an all-zero kernel fits any exponent: it must not constrain the others)
    zero = peak == 0
    fit = np.array([_largest_exp(v, limit) for v in peak], dtype=np.int64)
    y_exp = q.shift - p.guard_bits
    const = p.forward.total_shift + p.inverse.total_shift - p.input_shift - S
    # spectrum_exp = product_shift + const - y_exp <= fit for every channel
    product_shift = int(np.min((fit + y_exp - const)[~zero])) if not zero.all() else 0
    notes = {}
    if product_shift < 0:
        notes["product_shift_clamped"] = product_shift
        product_shift = 0
    spectrum_exp = np.where(zero, product_shift + const - y_exp, np.minimum(product_shift + const - y_exp, fit))
    y_exp = product_shift + const - spectrum_exp  # equals shift - guard unless clamped
    scaled = spectrum * np.exp2(spectrum_exp.astype(np.float64))[:, None]
    rev = bit_reverse_indices(M)
    h_re, sat_re = saturate(np.round(scaled.real).astype(np.int64), p.spectrum_bits)
    h_im, sat_im = saturate(np.round(scaled.imag).astype(np.int64), p.spectrum_bits)
    if sat_re.any() or sat_im.any():  # cannot happen by construction of `fit`
        raise AssertionError("spectrum ROM saturated")
    plan = FastParcPlan(q, p, h_re[:, rev], h_im[:, rev], spectrum_exp, product_shift, y_exp, notes)
    y_shift, off_shift, _ = plan.align
    acc_w = q.fmt.acc_bits + int(off_shift.max()) + 1
    if acc_w > INT64_MODEL_BITS:  # offsets shifted left by guard_bits - shift
        raise ValueError(
            f"the aligned offset needs {acc_w} bits (at most {INT64_MODEL_BITS}): guard_bits={p.guard_bits} "
            f"exceeds the smallest output shift ({int(q.shift.min())}) by {int(off_shift.max())}"
        )
    o_w = p.inverse.output_bits + int(y_shift.max()) + 1
    if o_w > INT64_MODEL_BITS:  # IFFT output (output bits + guard + headroom) shifted up to the accumulator
        raise ValueError(
            f"the aligned IFFT output needs {o_w} bits (at most {INT64_MODEL_BITS}): {p.inverse.output_bits}-bit "
            f"IFFT output (headroom included) shifted left by {int(y_shift.max())}"
        )
    return plan


def fft_option_range(option: str, n: int) -> tuple[int, int]:
    """The accepted range of one `FftParams.default` keyword (``m``: powers of two in it)."""
    if option == "m":
        return fft_size(n), FFT_SIZE_FACTOR * fft_size(n)
    if option not in FFT_OPTION_RANGES:
        raise UserError(f"unknown FFT option {option!r}; choose from {', '.join(['m', *FFT_OPTION_RANGES])}")
    return FFT_OPTION_RANGES[option]


def plan_with_options(
    q: QuantizedLayer, options: Mapping[str, int], names: Mapping[str, str] | None = None
) -> FastParcPlan:
    """``plan_fast_parc(q, FftParams.default(..., **options))`` for options a user chose, or a
    `UserError` that names the option at fault, spelled as in ``names`` (e.g. CLI flags).

    Checks, in order: each option's range (`fft_option_range`); that the widths it implies
    fit (FftConfig and the int64 model); that the worst-case error bound stays within
    ``max(ERROR_LIMIT_LSB, ERROR_LIMIT_RATIO * bound of the defaults)``. A failing combination
    is blamed on the options whose reset to the default alone fixes it (else on all of them),
    with the direction that helps. Without options the defaults are returned as they are.
    """
    names = dict(names or {})

    def label(key: str) -> str:
        return names.get(key, key)

    n, bits = q.fmt.n, q.fmt.data.bits
    opts = {k: int(v) for k, v in options.items() if v is not None}
    for key, value in opts.items():
        lo, hi = fft_option_range(key, n)
        if key == "m":
            if value < 1 or value & (value - 1) or not lo <= value <= hi:
                raise UserError(
                    f"{label(key)} must be a power of two in {lo}..{hi} for N={n} (>= 2N-1, >= {MIN_FFT_SIZE}); got {value}"
                )
        elif not lo <= value <= hi:
            raise UserError(f"{label(key)} must be in {lo}..{hi}; got {value}")

    def attempt(chosen: Mapping[str, int]) -> FastParcPlan | str:
        try:
            params = FftParams.default(n, bits, output_bits=q.fmt.output.bits, rounding=q.fmt.rounding, **chosen)
            return plan_fast_parc(q, params)
        except ValueError as exc:
            return str(exc)

    def spelled(text: str) -> str:  # the golden messages name keywords; say them as the user did
        return re.sub(r"\b(" + "|".join(map(re.escape, FFT_OPTION_RANGES)) + r")\b", lambda m: label(m.group(1)), text)

    default = attempt({})
    if isinstance(default, str):
        raise UserError(f"the FFT engine cannot be built for this layer at {bits} bits: {spelled(default)}")
    if not opts:
        return default
    limit = max(ERROR_LIMIT_LSB, ERROR_LIMIT_RATIO * default.error_bound())

    def accepted(plan: FastParcPlan | str) -> TypeGuard[FastParcPlan]:
        return not isinstance(plan, str) and plan.error_bound() <= limit

    plan = attempt(opts)
    if accepted(plan):
        return plan
    culprits = list(opts)
    for size in range(1, len(opts)):  # the smallest sets of options whose reset fixes it
        fixes = [
            set(c) for c in combinations(opts, size) if accepted(attempt({k: v for k, v in opts.items() if k not in c}))
        ]
        if fixes:
            culprits = [k for k in opts if any(k in c for c in fixes)]
            break
    defaults = {
        "m": default.params.m,
        "twiddle_bits": default.params.twiddle_bits,
        "spectrum_bits": default.params.spectrum_bits,
        "input_shift": DEFAULT_INPUT_SHIFT,
        "guard_bits": DEFAULT_GUARD_BITS,
        "headroom_bits": DEFAULT_HEADROOM_BITS,
    }
    said = [f"{label(k)}={opts[k]}" for k in culprits]
    chosen = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
    one = len(said) == 1
    advice = " or ".join(
        f"{'raise' if opts[k] < defaults[k] else 'lower'} {label(k)} (default {defaults[k]})" for k in culprits
    )
    if isinstance(plan, str):
        raise UserError(
            f"{chosen} {'does' if one else 'do'} not fit this layer at {bits} bits: {spelled(plan)}; {advice}"
        )
    raise UserError(
        f"{chosen} {'makes' if one else 'make'} the worst-case FFT error bound {plan.error_bound():.3g} output LSBs "
        f"(the defaults give {default.error_bound():.3g}; at most {limit:.3g} accepted); {advice}"
    )


def _largest_exp(peak: float, limit: int) -> int:
    if peak == 0:
        return 0
    e = int(math.floor(math.log2(limit / peak)))
    while np.round(peak * 2.0**e) > limit:
        e -= 1
    while np.round(peak * 2.0 ** (e + 1)) <= limit:
        e += 1
    return e


def frame_rows(x_q: IntArray, m: int) -> IntArray:
    """``[x, x[:N-1]]`` zero-padded to M: the forward FFT input frame of every row."""
    n = x_q.shape[-1]
    frames = np.zeros(x_q.shape[:-1] + (m,), dtype=np.int64)
    frames[..., :n] = x_q
    frames[..., n : 2 * n - 1] = x_q[..., : n - 1]
    return frames


@dataclass(frozen=True)
class FastParcTrace:
    """Every intermediate integer of `fast_parc_int_model` (for benches and debugging)."""

    frames: IntArray  # (..., C, M) forward input (already << input_shift)
    x_re: IntArray  # forward output, bit-reversed
    x_im: IntArray
    p_re: IntArray  # product, bit-reversed
    p_im: IntArray
    o_re: IntArray  # inverse output, natural order
    o_im: IntArray
    y: IntArray  # (..., C, N) output integers
    saturated: NDArray[np.bool_]  # output samples that saturated (or wrapped)
    fft_overflow: NDArray[np.bool_]  # (..., C) rows where the FFTs or the product saturated
    acc_saturated: NDArray[np.bool_]  # (..., C, N) accumulators that saturated (ParcFormat.acc_sat_bits)


def fast_parc_int_model(plan: FastParcPlan, x: ArrayLike) -> FastParcTrace:
    """Integers of the Fast-ParC engine for input rows (..., C, N) in the layer's input format."""
    q, p = plan.layer, plan.params
    xi = check_int_input(q, x)
    n = q.fmt.n
    frames = frame_rows(xi, p.m) << p.input_shift
    x_re, x_im, ovf_f = fft_model(p.forward, frames, np.zeros_like(frames))
    pr, pi = complex_multiply(x_re, x_im, plan.spectrum_re, plan.spectrum_im, plan.product_shift, p.rounding)
    pr, sr = saturate(pr, p.inverse_input_bits)
    pi, si = saturate(pi, p.inverse_input_bits)
    o_re, o_im, ovf_i = fft_model(p.inverse, pr, pi)
    y_shift, off_shift, _ = plan.align
    v = (o_re[..., :n] << y_shift[:, None]) + (q.offset << off_shift[:, None])
    y, sat, acc_sat = output_stage(q, v, off_shift)  # the final shift is shift + off_shift
    overflow = ovf_f | ovf_i | (sr | si).any(axis=-1)
    return FastParcTrace(frames, x_re, x_im, pr, pi, o_re, o_im, y, sat, overflow, acc_sat)
