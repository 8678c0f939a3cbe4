"""Bit-exact integer model of the direct-form engine (`hw.direct.DirectEngine`).

The engine computes, per channel c and position i, with no intermediate rounding:

    acc[i] = sum_k w_q[c, k] * x_q[(i + k) mod N] + offset[c, i]      (exact, acc_bits wide)
    acc[i] = sat(acc[i], acc_sat_bits)                                (only with a narrow accumulator)
    y_q[i] = fit(round_shift(acc[i], shift[c]), output.bits)          (one rounding, then sat/wrap)

The last two lines are every engine's output stage (`output_stage`): the FFT engines reach the
same point with the correlation in finer units and call it too.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.fixed import IntArray, requantize, saturate
from golden.parc import circulant
from golden.quant import QuantizedLayer


def check_int_input(q: QuantizedLayer, x: ArrayLike) -> IntArray:
    """Integer rows (..., C, N) inside the input format, or a ValueError."""
    xi = np.asarray(x)
    if xi.dtype.kind not in "iu":
        raise ValueError(f"integer model input must be integers; got dtype {xi.dtype}")
    xi = xi.astype(np.int64)
    if xi.ndim < 2 or xi.shape[-2:] != (q.channels, q.fmt.n):
        raise ValueError(f"input must be (..., {q.channels}, {q.fmt.n}); got {xi.shape}")
    fmt = q.fmt.data
    if xi.size and (xi.min() < fmt.min_int or xi.max() > fmt.max_int):
        raise ValueError(f"input exceeds the {fmt.bits}-bit input format")
    return xi


def accumulate(q: QuantizedLayer, x: ArrayLike) -> IntArray:
    """The exact accumulator value before output rounding."""
    xi = check_int_input(q, x)
    return np.einsum("cij,...cj->...ci", circulant(q.weight), xi) + q.offset


def clamp_accumulator(
    q: QuantizedLayer, acc: ArrayLike, frac_bits: ArrayLike = 0
) -> tuple[IntArray, NDArray[np.bool_]]:
    """Accumulator values (..., C, N) saturated to the layer's narrow accumulator
    (`golden.quant.ParcFormat.acc_sat_bits`), and which ones saturated; unchanged without one.

    ``frac_bits`` (per channel, >= 0): bits the values carry below the accumulator LSB (the FFT
    engines' aligned IFFT output, ``-e0``). The clamp keeps them: ``acc_sat_bits`` integer bits
    of accumulator LSBs plus those, so the limits are ``-2**(K-1)`` and ``2**(K-1) - 2**-f``
    accumulator LSBs.
    """
    values = np.asarray(acc, dtype=np.int64)
    k = q.fmt.acc_sat_bits
    if k is None:
        return values, np.zeros(values.shape, dtype=np.bool_)
    return saturate(values, (k + np.asarray(frac_bits, dtype=np.int64)).reshape(-1, 1))


def output_stage(
    q: QuantizedLayer, acc: ArrayLike, frac_bits: ArrayLike = 0
) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_]]:
    """Every engine's end: `clamp_accumulator`, then one rounding shift by ``shift[c] +
    frac_bits[c]`` and the output's saturation or wrap. Returns the output integers, the
    outputs that saturated (or wrapped) and the accumulators that saturated."""
    clamped, acc_saturated = clamp_accumulator(q, acc, frac_bits)
    shift = (q.shift + np.asarray(frac_bits, dtype=np.int64)).reshape(-1, 1)
    y, saturated = requantize(clamped, shift, q.fmt.output.bits, q.fmt.rounding, q.fmt.saturate)
    return y, saturated, acc_saturated


def direct_model(q: QuantizedLayer, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Output integers of the direct engine and a mask of saturated (or wrapped) samples."""
    y, saturated, _ = output_stage(q, accumulate(q, x))
    return y, saturated


def per_channel_count(q: QuantizedLayer, mask: NDArray[np.bool_]) -> IntArray:
    """(C,) how many samples of each channel a (..., C, N) mask marks."""
    return mask.reshape(-1, q.channels, q.fmt.n).sum(axis=(0, 2)).astype(np.int64)


def saturated_per_channel(q: QuantizedLayer, x: ArrayLike) -> IntArray:
    """(C,) how many outputs of each channel saturated (or wrapped) on input rows (..., C, N).

    ``QuantizedLayer.saturated`` counts what the quantizer clipped in the ROMs; this counts the
    stream. A calibrated clip (`golden.calibration`, percentile or MSE) or a folded output
    scale (`golden.quant.quantize_layer`, ``out_scale``) saturates a channel's rarest outputs
    on purpose, so the count per channel is how one checks that "rare" holds on real data.
    """
    _, mask = direct_model(q, x)
    return per_channel_count(q, mask)


def acc_saturated_per_channel(q: QuantizedLayer, x: ArrayLike) -> IntArray:
    """(C,) how many accumulator values of each channel saturated on input rows (..., C, N)
    (`golden.quant.ParcFormat.acc_sat_bits`; all 0 for an exact accumulator).

    A narrow accumulator trades range for width (hls4ml's accumulator type): this says how
    often a channel paid for it on given data. The hardware has no counter for it; its
    ``saturations`` port counts the outputs, which a saturated accumulator usually also
    saturates (not always: with a large shift the clamped value can lie inside the output's
    range). For the FFT engines, read ``acc_saturated`` of their traces.
    """
    _, acc_saturated = clamp_accumulator(q, accumulate(q, x))
    return per_channel_count(q, acc_saturated)
