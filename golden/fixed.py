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
# |frac| <= FRAC_LIMIT keeps every LSB (2**-frac >= 2**-960) and every value of a format up to
# 62 bits (< 2**(61 + 960)) a normal float64, so formats convert to and from float exactly.
FRAC_LIMIT = 960
INT64_MIN = -(1 << 63)
INT64_FLOAT_MAX = float(2**63 - 1024)  # the largest float64 below 2**63


class Rounding(str, Enum):
    """How a right shift drops bits (docs/number-formats.md section 2)."""

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
        if not -FRAC_LIMIT <= self.frac <= FRAC_LIMIT:
            raise ValueError(f"fractional bits must be in -{FRAC_LIMIT}..{FRAC_LIMIT}; got {self.frac!r}")

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
        return np.ldexp(np.asarray(values, dtype=np.float64), -int(self.frac))

    def quantize(
        self, values: ArrayLike, rounding: Rounding = Rounding.HALF_EVEN
    ) -> tuple[IntArray, NDArray[np.bool_]]:
        """Float -> saturated integers, plus a mask of the samples that saturated.

        Finite values beyond the format (even beyond float64 once scaled) saturate; only
        NaN/Inf inputs are refused, since they have no nearest integer.
        """
        v = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise ValueError("cannot quantize NaN/Inf values")
        return saturate(round_float(scale(v, self.frac), rounding), self.bits)


def frac_for_range(max_abs: float, bits: int) -> int:
    """Largest frac such that ``max_abs`` fits in ``bits`` signed bits without saturating.

    Clamped to +-`FRAC_LIMIT`: a range below 2**-960 (denormals, all zeros but one
    1e-300) gets the finest format float64 handles exactly, and its values round to 0.
    """
    if not np.isfinite(max_abs):
        raise ValueError("range must be finite")
    if max_abs <= 0:
        return bits - 1
    # floor(log2)+1 integer bits keeps max_abs * 2**frac <= 2**(bits-2) * 2 - margin.
    frac = int(bits - 1 - (np.floor(np.log2(max_abs)) + 1))
    return min(max(frac, -FRAC_LIMIT), FRAC_LIMIT)


def scale(values: ArrayLike, frac: ArrayLike) -> NDArray[np.float64]:
    """``values * 2**frac`` exactly (``ldexp``): no ``2**frac`` that overflows to inf or
    underflows to 0 on the way, so 1e-320 at frac 1080 is 64.0, not 0 * inf = NaN."""
    with np.errstate(over="ignore"):  # overflow to +-inf is saturation, for `round_float`
        return np.ldexp(np.asarray(values, dtype=np.float64), np.asarray(frac, dtype=np.int64))


def round_float(scaled: ArrayLike, rounding: Rounding) -> IntArray:
    """Round already-scaled floats to integers with the hardware's rounding rule.

    Saturates to the int64 range *in float*, before the cast: casting 2**80 (or inf) to
    int64 is undefined and in practice gives INT64_MIN, which flipped the sign of a huge
    bias before `saturate` could clamp it. Every format is at most 62 bits, so this clamp
    never changes a value that `saturate` would keep. NaN is refused.
    """
    s = np.asarray(scaled, dtype=np.float64)
    if np.isnan(s).any():
        raise ValueError("cannot round NaN")
    if rounding is Rounding.TRUNCATE:
        out = np.floor(s)
    elif rounding is Rounding.HALF_UP:
        out = np.floor(s + 0.5)
    else:
        out = np.round(s)  # NumPy rounds half to even
    return np.clip(out, float(INT64_MIN), INT64_FLOAT_MAX).astype(np.int64)


def round_shift(values: ArrayLike, shift: ArrayLike, rounding: Rounding) -> IntArray:
    """Arithmetic right shift by ``shift`` >= 0 bits with rounding, exactly as `hw.fixed` does.

    The hardware computes, in exact (widening) arithmetic, half-up ``(v + 2**(s-1)) >> s``
    and half-even ``(v + 2**(s-1) - 1 + bit_s(v)) >> s``. Those sums overflow int64 (and
    ``1 << s`` does for s >= 63), so the model splits ``v = q * 2**s + r`` instead
    (``q = v >> s``, ``0 <= r < 2**s``) and rounds up when ``r > 2**(s-1)``, or on a tie
    ``r == 2**(s-1)`` for half-up and for odd ``q`` (half-even): the same integers, exact
    for every shift. For s >= 64 every int64 is within half an LSB of 0, so rounding gives
    0 and truncation gives 0 or -1 (the sign).
    """
    v = np.asarray(values, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    if np.any(s < 0):
        raise ValueError("right shift amounts must be >= 0")
    s63 = np.minimum(s, 63)
    q = v >> s63  # floor(v / 2**s) for every s (s >= 63: the sign)
    if rounding is Rounding.TRUNCATE:
        return q
    low = np.where(s63 >= 63, np.int64(2**63 - 1), (np.int64(1) << np.minimum(s63, 62)) - 1)
    r = v & low  # two's complement: v - q * 2**s, in [0, 2**s)
    half = np.where(s63 > 0, np.int64(1) << np.maximum(s63 - 1, 0), 0)
    tie = r == half
    if rounding is Rounding.HALF_EVEN:
        tie &= (q & 1) == 1
    up = (s63 > 0) & ((r > half) | tie)
    return np.where(s >= 64, 0, q + up)


def saturate(values: ArrayLike, bits: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Clamp to the signed ``bits`` range; also return which samples were clamped.

    ``bits`` may be an array that broadcasts against ``values`` (a width per channel: the FFT
    engines' accumulator, `golden.direct.clamp_accumulator`, carries a per-channel fraction).
    """
    v = np.asarray(values, dtype=np.int64)
    half = np.left_shift(np.int64(1), np.asarray(bits, dtype=np.int64) - 1)
    clipped = np.clip(v, -half, half - 1)
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
