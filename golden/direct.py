"""Bit-exact integer model of the direct-form engine (`hw.direct.DirectEngine`).

The engine computes, per channel c and position i, with no intermediate rounding:

    acc[i] = sum_k w_q[c, k] * x_q[(i + k) mod N] + offset[c, i]      (exact, acc_bits wide)
    y_q[i] = fit(round_shift(acc[i], shift[c]), output.bits)          (one rounding, then sat/wrap)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.fixed import IntArray, requantize
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


def direct_model(q: QuantizedLayer, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Output integers of the direct engine and a mask of saturated (or wrapped) samples."""
    return requantize(accumulate(q, x), q.shift[:, None], q.fmt.output.bits, q.fmt.rounding, q.fmt.saturate)


def saturated_per_channel(q: QuantizedLayer, x: ArrayLike) -> IntArray:
    """(C,) how many outputs of each channel saturated (or wrapped) on input rows (..., C, N).

    ``QuantizedLayer.saturated`` counts what the quantizer clipped in the ROMs; this counts the
    stream. A calibrated clip (`golden.calibration`, percentile or MSE) or a folded output
    scale (`golden.quant.quantize_layer`, ``out_scale``) saturates a channel's rarest outputs
    on purpose, so the count per channel is how one checks that "rare" holds on real data.
    """
    _, mask = direct_model(q, x)
    return mask.reshape(-1, q.channels, q.fmt.n).sum(axis=(0, 2)).astype(np.int64)
