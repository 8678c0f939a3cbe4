"""Selecting among constants or signals by an index, without incomplete case statements."""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Array, Const, Value, unsigned


def select(options: list, index: Value) -> object:
    """``options[index]`` as a mux padded to a power of two.

    Padding with the last option makes every index value defined, so the generated Verilog
    has no incomplete ``case`` (no latch inference, no X in simulation) and the index needs
    no range check. Only the low ``ceil(log2(len(options)))`` bits of ``index`` are used.
    """
    if len(options) == 1:
        return options[0]
    size = 1 << (len(options) - 1).bit_length()
    return Array(options + [options[-1]] * (size - len(options)))[index[: size.bit_length() - 1]]


def per_channel(values: Iterable[int], channel: Value) -> int | object:
    """A per-channel non-negative constant: an int when all channels agree, else a mux on ``channel``.

    The common case (one shift for every channel) then costs no logic at all, and a shift by
    an int constant stays a wire shift in `hw.fixed`.
    """
    values = [int(v) for v in values]
    if all(v == values[0] for v in values):
        return values[0]
    width = max(max(values).bit_length(), 1)
    return select([Const(v, unsigned(width)) for v in values], channel)


def equals(value: Value, constant: int) -> Value:
    """``value == constant`` without a logical NOT on a multi-bit value: Amaranth writes
    ``x == 0`` as ``!x``, which Verilator's -Wall flags (WIDTHTRUNC) for a multi-bit ``x``."""
    return ~value.any() if constant == 0 else value == constant


def pick(bits: Value, index: Value) -> Value:
    """Bit ``index`` of ``bits`` as a multiplexer (``bit_select`` becomes a shift that
    Verilator's -Wall flags as truncated when its result is one bit)."""
    return Array([bits[k] for k in range(len(bits))])[index]


__all__ = ["select", "per_channel", "equals", "pick"]
