"""Amaranth twins of `golden.fixed`: the same rounding and narrowing, as combinational logic.

Each function returns expressions; the caller decides where the pipeline registers go.
`tests/test_hw_fixed.py` simulates them against the NumPy versions on random values.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Value, signed

from golden.fixed import Rounding


def round_shift(value: Value, shift: int | Value, rounding: Rounding) -> Value:
    """``value >> shift`` with rounding; ``shift`` is a constant or an unsigned signal (>= 0).

    Exact for any shift, as `golden.fixed.round_shift`: Amaranth arithmetic widens, and the
    rounding constant ``2**(shift-1)`` gets a shape that holds it even when the shift exceeds
    the value's width (the result is then 0, or the sign when truncating).
    """
    width = len(value) + 1
    v = value.as_signed()
    if rounding is Rounding.TRUNCATE:
        return v >> shift
    if isinstance(shift, int):
        if shift < 0:
            raise ValueError(f"right shift amounts must be >= 0; got {shift}")
        if shift == 0:
            return v
        if rounding is Rounding.HALF_UP:
            return (v + Const(1 << (shift - 1), signed(max(width, shift) + 1))) >> shift
        # half - 1 + odd as one addend: bit shift-1 is ``odd``, the bits below it ``~odd``
        # (2**(shift-1) when odd, 2**(shift-1) - 1 when even), so the rounding is a single
        # carry chain; ``v + half - 1 + odd`` would chain three adders.
        odd = v[shift] if shift < len(value) else v[-1]
        return (v + Cat((~odd).replicate(shift - 1), odd)) >> shift
    # Variable shift: the same formulas, with 0 meaning "no rounding term".
    nonzero = shift.any()
    below = (shift - 1).as_unsigned()[: len(shift)]  # the rounding bit's position
    half = Mux(nonzero, Const(1, signed(width + 1)) << below, 0)
    if rounding is Rounding.HALF_UP:
        return (v + half) >> shift
    # half - 1 + odd without adders: 2**(shift-1) when odd, else the ones below that bit
    # (the complement of all-ones shifted up), so the rounding stays one carry chain
    odd = (v >> shift)[0]
    ones_below = ~(Const(-1, signed(width + 1)) << below)
    return (v + Mux(nonzero, Mux(odd, half, ones_below), 0)) >> shift


def fits_in(value: Value, bits: int) -> Value:
    """Whether a signed value fits in ``bits``: its bits from ``bits - 1`` up are all equal
    (all sign). A tree of LUTs, where ``lo <= v <= hi`` would be two carry chains."""
    top = value.as_signed()[bits - 1 :]
    return top.all() | ~top.any()


def saturate(value: Value, bits: int) -> tuple[Value, Value]:
    """Clamp a signed value to ``bits``; returns (clamped, overflowed)."""
    v = value.as_signed()
    if len(v) <= bits:  # always fits (a slice v[:bits] would drop the sign here)
        return v, Const(0)
    fits = fits_in(v, bits)
    lo, hi = Const(-(1 << (bits - 1)), signed(bits)), Const((1 << (bits - 1)) - 1, signed(bits))
    return Mux(fits, v[:bits].as_signed(), Mux(v[-1], lo, hi)), ~fits


def wrap(value: Value, bits: int) -> tuple[Value, Value]:
    """Two's-complement wrap to ``bits``; returns (wrapped, changed)."""
    v = value.as_signed()
    if len(v) <= bits:
        return v, Const(0)
    return v[:bits].as_signed(), ~fits_in(v, bits)


def fit(value: Value, bits: int, saturating: bool) -> tuple[Value, Value]:
    return saturate(value, bits) if saturating else wrap(value, bits)


def requantize(
    value: Value, shift: int | Value, bits: int, rounding: Rounding, saturating: bool
) -> tuple[Value, Value]:
    """Output stage of every engine: round-shift then saturate or wrap."""
    return fit(round_shift(value, shift, rounding), bits, saturating)


__all__ = ["round_shift", "fits_in", "saturate", "wrap", "fit", "requantize"]
