"""Delay lines for the side signals (valid, last, tags) that travel beside a pipeline.

Every engine stage is a pipeline frozen by one enable; whatever must arrive together with a
stage's result (its valid bit, frame end, channel tag) goes through exactly as many enabled
registers as the result. `delay` is the one way to build such a chain, so a stage's latency
is stated once, as ``cycles``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, ValueCastable


def delay(m: Module, value: Value | ValueCastable, cycles: int, enable: Value, name: str) -> Value | ValueCastable:
    """``value`` delayed by ``cycles`` registers that load only while ``enable`` is high.

    Parameters
    ----------
    m : Module
        Where the registers go (``m.d.sync``).
    value : Value or View
        Anything with a shape; a `data.View` comes back as a view of the same layout.
    cycles : int
        Number of registers (0 returns ``value`` itself).
    enable : Value
        The pipeline enable of the stage the chain runs beside.
    name : str
        Registers are named ``{name}_d0``, ``{name}_d1``, ... (visible in waveforms).
    """
    if cycles < 0:
        raise ValueError(f"a delay needs cycles >= 0; got {cycles}")
    shape = value.shape()
    for c in range(cycles):
        reg = Signal(shape, name=f"{name}_d{c}")
        with m.If(enable):
            m.d.sync += reg.eq(value)
        value = reg
    return value


__all__ = ["delay"]
