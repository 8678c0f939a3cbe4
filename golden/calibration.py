"""Calibration: which magnitude a b-bit quantizer should map to full scale, from sample values.

Why not simply ``max |v|``: one rare large value then sets the step for every other sample.
At 8 bits a Gaussian signal quantized with its sample maximum (about 4.5 sigma for 1e5
samples, more for more samples) wastes resolution that a slightly lower clip buys back at the
cost of saturating a handful of samples. Post-training quantization flows therefore choose the
clip from calibration data: TensorRT's INT8 calibrators (entropy, min-max) and NVIDIA's
pytorch-quantization toolkit for TensorRT (max, percentile, MSE, entropy); hls4ml's numerical
profiling shows each layer's observed ranges so that its fixed-point precision is chosen from
data. Three rules are offered here:

- ``max``: the sample maximum; nothing the calibration data contains saturates (the rule
  `golden.quant.quantize_layer` always used, so it stays the default);
- ``percentile``: that percentile of ``|v|`` (99.99 by default), which ignores the rarest
  outliers;
- ``mse``: the clip that minimises the mean squared error of quantize-with-saturation over the
  samples, the quantity the float-vs-integer comparison (SQNR) actually measures. For a
  Gaussian at 8 bits it lands near 3.9 sigma, the analytic optimum of ACIQ (Banner et al.,
  2019).

Entropy (KL divergence) calibration is left out: it keeps the shape of a histogram, which is
not the error an SQNR measures.

The quantizer the MSE rule scores is the hardware's: symmetric uniform, step
``clip / 2**(bits-1)``, round half-even, integers clamped to ``[-2**(bits-1), 2**(bits-1) - 1]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.checks import as_finite_array
from golden.fixed import FRAC_LIMIT, frac_for_range

CALIBRATION_RULES = ("max", "percentile", "mse")
DEFAULT_PERCENTILE = 99.99  # the ``percentile`` rule's default: of |v|, per signal or channel

MSE_GRID = 256  # coarse candidates, linearly spaced in [MSE_LOW, 1] * max|v|
MSE_LOW = 0.01
MSE_COARSE_SAMPLES = 4096  # the coarse grid scores a stratified subsample of at most this many values
MSE_REFINE_GRID = 32  # candidates around the best so far, scored on every sample, per refinement
MSE_REFINEMENTS = 2
_MSE_CHUNK_ELEMENTS = 1 << 22  # candidates x samples evaluated at once (memory ~32 MiB per array)


def check_rule(rule: str) -> None:
    """One-line ValueError for a rule nobody implements."""
    if rule not in CALIBRATION_RULES:
        raise ValueError(f"calibration rule must be one of {', '.join(CALIBRATION_RULES)}; got {rule!r}")


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 2:
        raise ValueError(f"bits must be an integer >= 2 (a sign bit and one magnitude bit); got {bits!r}")


def check_percentile(percentile: float) -> None:
    """One-line ValueError for a percentile outside (0, 100] (or not a number)."""
    if not isinstance(percentile, (int, float, np.integer, np.floating)) or not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile!r}")


def quantization_mse(
    values: ArrayLike, clips: ArrayLike, bits: int, weights: ArrayLike | None = None
) -> NDArray[np.float64]:
    """Mean squared error of the hardware quantizer over ``values``, one per candidate clip.

    The quantizer is asymmetric by one step (``-2**(bits-1)`` is representable, ``+2**(bits-1)``
    is not), so the signed values matter, not only ``|v|``. Exact on the samples (no
    histogram), optionally weighted (`stratified_subsample`); candidates are scored in chunks
    so memory stays bounded.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    c = np.atleast_1d(np.asarray(clips, dtype=np.float64))
    lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    out = np.empty(c.size)
    per_chunk = max(1, _MSE_CHUNK_ELEMENTS // max(v.size, 1))
    for start in range(0, c.size, per_chunk):
        step = c[start : start + per_chunk, None] / 2.0 ** (bits - 1)
        scaled = v[None, :] / step
        err = (np.clip(np.round(scaled), lo, hi) - scaled) * step  # np.round: half to even
        out[start : start + per_chunk] = np.average(err * err, axis=1, weights=w)
    return out


def stratified_subsample(values: NDArray[np.float64], size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At most ``size`` values and their weights that stand for ``values`` in a weighted MSE.

    The largest half (by magnitude) is kept exactly, weight 1: those are the samples a clip
    saturates, and the optimum is decided by them. The rest are every k-th of their sorted
    values, weight k: evenly spread in quantile, so their rounding error averages like the
    full set's (far better than a random draw would). Deterministic. Fewer than ``size``
    values come back unchanged, with weight 1.
    """
    v = np.ravel(values)
    if v.size <= size:
        return v, np.ones(v.size)
    order = np.argsort(np.abs(v), kind="stable")
    tail = v[order[-(size // 2) :]]
    bulk = np.sort(v[order[: -(size // 2)]])
    k = -(-bulk.size // (size - size // 2))
    picked = bulk[k // 2 :: k]
    weights = np.concatenate([np.full(picked.size, bulk.size / picked.size), np.ones(tail.size)])
    return np.concatenate([picked, tail]), weights


def _mse_clip(v: NDArray[np.float64], bits: int, peak: float) -> float:
    """Grid search, then refine around the best candidate (twice); ties go to the smaller clip.

    The MSE as a function of the clip is not smooth (rounding boundaries move past samples), so
    the search is derivative-free: 256 candidates at 1%..100% of max |v| (spacing 0.4% of the
    range) scored on a stratified subsample of 4096 values (`stratified_subsample`: a large
    calibration set would otherwise cost 256 passes over every sample), then twice 32
    candidates spanning +-2 spacings of the best, scored exactly on every sample.
    """
    grid = np.linspace(MSE_LOW * peak, peak, MSE_GRID)
    sub, weights = stratified_subsample(v, MSE_COARSE_SAMPLES)
    best_clip = float(grid[np.argmin(quantization_mse(sub, grid, bits, weights))])
    best_score = float(quantization_mse(v, best_clip, bits)[0])
    spacing = float(grid[1] - grid[0])
    for _ in range(MSE_REFINEMENTS):
        lo, hi = max(best_clip - 2 * spacing, MSE_LOW * peak), min(best_clip + 2 * spacing, peak)
        fine = np.linspace(lo, hi, MSE_REFINE_GRID)
        scores = quantization_mse(v, fine, bits)
        k = int(np.argmin(scores))
        if scores[k] < best_score:
            best_clip, best_score = float(fine[k]), float(scores[k])
        spacing = float(fine[1] - fine[0])
    return best_clip


def clip_level(values: ArrayLike, rule: str, bits: int, *, percentile: float = DEFAULT_PERCENTILE) -> float:
    """The magnitude a signed ``bits``-bit symmetric quantizer should map to full scale.

    ``rule`` is one of `CALIBRATION_RULES` (module docstring). All-zero values give 0.0 (the
    caller's format for "nothing to represent"). Empty, NaN/Inf or non-numeric values, an
    unknown rule, ``bits < 2`` and a percentile outside (0, 100] are one-line ValueErrors.
    """
    check_rule(rule)
    _check_bits(bits)
    check_percentile(percentile)
    v = as_finite_array(values, "calibration values")
    magnitude = np.abs(v)
    peak = float(magnitude.max())
    if peak == 0.0:
        return 0.0
    if rule == "max":
        return peak
    if rule == "percentile":
        return float(np.percentile(magnitude, percentile))
    return _mse_clip(v, int(bits), peak)


def channel_clip_levels(
    values: ArrayLike, rule: str, bits: int, *, axis_channels: int = -2, percentile: float = DEFAULT_PERCENTILE
) -> NDArray[np.float64]:
    """One `clip_level` per channel of values shaped ``(..., C, N)`` (channel axis ``axis_channels``).

    Per channel because a ParC layer's channels have independent weights, so their outputs
    have independent ranges: the per-channel output scale (`golden.quant.quantize_layer`,
    ``out_scale="per-channel"``) maps each channel's own clip to full scale.
    """
    check_rule(rule)
    v = as_finite_array(values, "calibration values")
    if v.ndim < 2:
        raise ValueError(f"values must have a channel axis and a sample axis (..., C, N); got shape {v.shape}")
    if not -v.ndim <= axis_channels < v.ndim:
        raise ValueError(f"axis_channels {axis_channels} is out of range for shape {v.shape}")
    rows = np.moveaxis(v, axis_channels, 0).reshape(v.shape[axis_channels], -1)
    return np.array([clip_level(row, rule, bits, percentile=percentile) for row in rows], dtype=np.float64)


def pow2_frac(values: ArrayLike, rule: str, bits: int, *, percentile: float = DEFAULT_PERCENTILE) -> int:
    """Fractional bits of the power-of-two ``bits``-bit format for these values under ``rule``.

    A power-of-two format cannot put an arbitrary clip at full scale: its full scale is
    ``2**(bits-1-frac)``, so a clip falls between two formats. ``max`` and ``percentile`` take
    the finer format that still holds the clip (`golden.fixed.frac_for_range`, what the sample
    maximum always used). ``mse`` scores both neighbours with the quantizer's own MSE and keeps
    the better one: an MSE clip of 4.05 for unit Gaussian data at 8 bits would otherwise
    double the step (full scale 8) where full scale 4 clips only 0.006 % of the samples.
    """
    clip = clip_level(values, rule, bits, percentile=percentile)
    frac = frac_for_range(clip, bits)
    if rule != "mse" or clip == 0.0 or frac >= FRAC_LIMIT:
        return frac
    v = as_finite_array(values, "calibration values")
    fracs = (frac, frac + 1)
    scores = quantization_mse(v, [float(np.ldexp(2.0 ** (bits - 1), -f)) for f in fracs], bits)
    return fracs[int(np.argmin(scores))]  # a tie keeps the format that holds the clip
