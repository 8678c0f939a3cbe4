"""Bit-exact integer model of the Fast-ParC engine (forward FFT, spectrum ROM, inverse FFT).

Dataflow for one row (channel c, N samples ``x_q``, ``M = FftParams.m >= 2N - 1``, a power of 2):

1. frame  ``u = [x_q, x_q[:N-1], 0, ..., 0]`` (M samples, real) shifted left by ``input_shift``
   (g guard bits; PE is *not* added: it lives in the folded offset, PARC.md section 5);
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
   direct engine's rule). The generator reads every constant from `FastParcPlan`.

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
It is a true worst case (all roundings aligned) and therefore loose: 1.6 .. 99 output LSBs for
the paper's N and bits (it grows with M and bits). The statistical estimate
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
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.direct import check_int_input
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
from golden.fixed import IntArray, Rounding, requantize, saturate
from golden.quant import QuantizedLayer

__all__ = ["FftParams", "FastParcPlan", "FastParcTrace", "plan_fast_parc", "fast_parc_int_model", "frame_rows", "fft_size"]

FORWARD_MAX_BITS = 24  # DIF multiplies a - b (one bit wider): fits a 25-bit DSP operand
INVERSE_MAX_BITS = 25  # DIT multiplies its stage input
# Above 16 bits the 25x18 DSP limits cost accuracy; the caps then grow with the data width
# (multipliers become DSP cascades): forward >= bits + g + 5, inverse >= O width + 3.
FORWARD_EXTRA_BITS = 5
INVERSE_EXTRA_BITS = 3
DEFAULT_TWIDDLE_BITS = 18
DEFAULT_SPECTRUM_BITS = 18
MIN_FFT_SIZE = 8  # smallest size of hw.fft.StreamingFft


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
        self.forward  # validate both configs now
        self.inverse

    @property
    def stages(self) -> int:
        return self.m.bit_length() - 1

    @property
    def forward(self) -> FftConfig:
        return FftConfig(
            self.m, self.bits + self.input_shift, self.forward_widths, self.forward_shifts,
            self.twiddle_bits, self.rounding, "dif", False,
        )

    @property
    def inverse(self) -> FftConfig:
        return FftConfig(
            self.m, self.inverse_input_bits, self.inverse_widths, self.inverse_shifts,
            self.twiddle_bits, self.rounding, "dit", True,
        )

    @classmethod
    def default(
        cls,
        n: int,
        bits: int,
        *,
        output_bits: int | None = None,
        m: int | None = None,
        input_shift: int = 3,
        guard_bits: int = 4,
        headroom_bits: int = 2,
        twiddle_bits: int | None = None,
        spectrum_bits: int | None = None,
        rounding: Rounding = Rounding.HALF_EVEN,
    ) -> "FftParams":
        """Widths and schedules from N and bits (see the module docstring for the bounds).

        Twiddle and spectrum ROMs default to 18 bits (the DSP's 18-bit port) up to 16-bit
        data and output, then ``bits + 4`` (at most 27, and at most what keeps the int64 model
        exact).
        """
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
        inv_w = [w_out + sum(inv_sh[s + 1:]) for s in range(S)]
        if auto_twiddle:  # golden.fft needs data width + twiddle width + 3 <= 63
            twiddle_bits = min(twiddle_bits, 60 - max(fwd_w + inv_w + [w_out + sum(inv_sh), bits + input_shift]))
        return cls(
            n, bits, m, input_shift, tuple(fwd_w), tuple(fwd_sh), w_out + sum(inv_sh), tuple(inv_w), tuple(inv_sh),
            twiddle_bits, spectrum_bits, guard_bits, rounding,
        )

    def to_dict(self) -> dict:
        return {
            "n": self.n, "bits": self.bits, "m": self.m, "input_shift": self.input_shift,
            "forward": self.forward.to_dict(), "inverse": self.inverse.to_dict(),
            "spectrum_bits": self.spectrum_bits, "guard_bits": self.guard_bits,
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
            "product_rounding": inv_gain * math.sqrt(M) * r2 * rounding_error_max(self.product_shift, p.rounding) * to_out,
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
        var_p = (var_x * h2 + x_sig * rom_mse) / 4.0**self.product_shift + 2 * rounding_mse(self.product_shift, p.rounding)
        var_o = error_rms(inv, math.sqrt(var_p)) ** 2 / 2  # real part only
        return math.sqrt(var_o) * float(np.max(2.0 ** (self.y_exp - q.shift)))


def plan_fast_parc(q: QuantizedLayer, params: FftParams | None = None) -> FastParcPlan:
    """Spectrum ROM, its exponents and the product shift for one quantized layer."""
    n = q.fmt.n
    p = FftParams.default(n, q.fmt.data.bits, output_bits=q.fmt.output.bits, rounding=q.fmt.rounding) if params is None else params
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
    acc_w = q.fmt.acc_bits + int(off_shift.max())
    o_w = p.inverse.output_bits + int(y_shift.max())
    if max(acc_w, o_w) + 1 > 62:
        raise ValueError("aligned accumulator exceeds 62 bits; lower guard_bits")
    return plan


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
    y_shift, off_shift, final_shift = plan.align
    v = (o_re[..., :n] << y_shift[:, None]) + (q.offset << off_shift[:, None])
    y, sat = requantize(v, final_shift[:, None], q.fmt.output.bits, q.fmt.rounding, q.fmt.saturate)
    overflow = ovf_f | ovf_i | (sr | si).any(axis=-1)
    return FastParcTrace(frames, x_re, x_im, pr, pi, o_re, o_im, y, sat, overflow)
