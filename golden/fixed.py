"""Fixed-point formats and the integer arithmetic the hardware performs.

One description for both sides: the Amaranth generators read widths from these
dataclasses and the golden models call these functions, so a rounding or saturation
rule exists exactly once in NumPy (here) and once in HDL (`hw.fixed`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]

MIN_BITS = 2
MAX_BITS = 24  # keeps every accumulator of the supported designs inside int64


class Rounding(str, Enum):
    """How a right shift drops bits (PARC.md section 5)."""

    TRUNCATE = "truncate"  # floor, two's-complement truncation
    HALF_UP = "half-up"  # add half an LSB, then floor
    HALF_EVEN = "half-even"  # convergent rounding: ties go to the even neighbour

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class FixedFormat:
    """Signed two's complement: ``bits`` in total, value = integer / 2**frac."""

    bits: int
    frac: int

    def __post_init__(self) -> None:
        if not isinstance(self.bits, (int, np.integer)) or not 1 <= self.bits <= 62:
            raise ValueError(f"fixed-point width must be 1..62 bits; got {self.bits!r}")
        if not isinstance(self.frac, (int, np.integer)):
            raise ValueError(f"fractional bits must be an integer; got {self.frac!r}")

    @property
    def min_int(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max_int(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** (-self.frac)

    def to_dict(self) -> dict[str, int]:
        return {"bits": int(self.bits), "frac": int(self.frac)}

    def to_float(self, values: ArrayLike) -> NDArray[np.float64]:
        return np.asarray(values, dtype=np.float64) * self.lsb

    def quantize(self, values: ArrayLike, rounding: Rounding = Rounding.HALF_EVEN) -> tuple[IntArray, NDArray[np.bool_]]:
        """Float -> saturated integers, plus a mask of the samples that saturated."""
        scaled = np.asarray(values, dtype=np.float64) * 2.0**self.frac
        if not np.all(np.isfinite(scaled)):
            raise ValueError("cannot quantize NaN/Inf values")
        rounded = round_float(scaled, rounding)
        return saturate(rounded, self.bits)


def frac_for_range(max_abs: float, bits: int) -> int:
    """Largest frac such that ``max_abs`` fits in ``bits`` signed bits without saturating."""
    if not np.isfinite(max_abs):
        raise ValueError("range must be finite")
    if max_abs <= 0:
        return bits - 1
    # floor(log2)+1 integer bits keeps max_abs * 2**frac <= 2**(bits-2) * 2 - margin.
    return int(bits - 1 - (np.floor(np.log2(max_abs)) + 1))


def round_float(scaled: NDArray[np.float64], rounding: Rounding) -> IntArray:
    """Round already-scaled floats to integers with the hardware's rounding rule."""
    if rounding is Rounding.TRUNCATE:
        out = np.floor(scaled)
    elif rounding is Rounding.HALF_UP:
        out = np.floor(scaled + 0.5)
    else:
        out = np.round(scaled)  # NumPy rounds half to even
    return out.astype(np.int64)


def round_shift(values: ArrayLike, shift: ArrayLike, rounding: Rounding) -> IntArray:
    """Arithmetic right shift by ``shift`` >= 0 bits with rounding, exactly as `hw.fixed` does.

    half-up: ``(v + 2**(s-1)) >> s``; half-even: ``(v + 2**(s-1) - 1 + bit_s(v)) >> s``.
    """
    v = np.asarray(values, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    if np.any(s < 0):
        raise ValueError("right shift amounts must be >= 0")
    if rounding is Rounding.TRUNCATE:
        return v >> s
    half = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    if rounding is Rounding.HALF_UP:
        return (v + half) >> s
    odd = (v >> s) & 1
    return (v + np.where(s > 0, half - 1 + odd, 0)) >> s


def saturate(values: ArrayLike, bits: int) -> tuple[IntArray, NDArray[np.bool_]]:
    """Clamp to the signed ``bits`` range; also return which samples were clamped."""
    v = np.asarray(values, dtype=np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    clipped = np.clip(v, lo, hi)
    return clipped, clipped != v


def wrap(values: ArrayLike, bits: int) -> tuple[IntArray, NDArray[np.bool_]]:
    """Two's-complement wrap to ``bits``; also return which samples wrapped."""
    v = np.asarray(values, dtype=np.int64)
    m = np.int64(1) << bits
    wrapped = ((v + (m >> 1)) % m) - (m >> 1)
    return wrapped, wrapped != v


def fit(values: ArrayLike, bits: int, saturating: bool) -> tuple[IntArray, NDArray[np.bool_]]:
    """Narrow to ``bits`` by saturation or wrap, as configured."""
    return saturate(values, bits) if saturating else wrap(values, bits)


def requantize(
    values: ArrayLike, shift: ArrayLike, bits: int, rounding: Rounding, saturating: bool
) -> tuple[IntArray, NDArray[np.bool_]]:
    """Right shift with rounding, then narrow: the output stage of every engine."""
    return fit(round_shift(values, shift, rounding), bits, saturating)


def replace(fmt: FixedFormat, **changes: int) -> FixedFormat:
    return dataclasses.replace(fmt, **changes)
