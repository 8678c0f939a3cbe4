"""Selecting among constants or signals by an index: trees of 2:1 multiplexers.

Why not `amaranth.hdl.Array`: an Array index becomes a ``case`` inside ``always @*`` in the
Verilog, and a 4-state simulator (Icarus) evaluates such a block only when one of its inputs
changes; an index that still holds its reset value then leaves the result X (a native-engine
buffer flag stayed X and stalled the engine). Ternary operators become ``assign`` statements,
which every simulator evaluates at time 0, and synthesis maps both forms alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Const, Mux, Value, unsigned


def select(options: list, index: Value) -> object:
    """``options[index]`` as a tree of 2:1 multiplexers, padded to a power of two.

    Padding with the last option makes every index value defined (no X in simulation), so the
    index needs no range check. Only the low ``ceil(log2(len(options)))`` bits are used.
    """
    level = list(options)
    if len(level) == 1:
        return level[0]
    size = 1 << (len(level) - 1).bit_length()
    level += [level[-1]] * (size - len(level))
    bit = 0
    while len(level) > 1:
        level = [Mux(index[bit], level[2 * i + 1], level[2 * i]) for i in range(len(level) // 2)]
        bit += 1
    return level[0]


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
    chosen = select([bits[k] for k in range(len(bits))], index)
    assert isinstance(chosen, Value)
    return chosen


__all__ = ["select", "per_channel", "equals", "pick"]
