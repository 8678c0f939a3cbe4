"""Hard blocks with their registers: the multiplier and the block RAM every engine builds on.

Why: a 200 MHz clock on an FPGA needs the registers *inside* the hard blocks. An ECP5
MULT18X18D without its input registers runs at about 141 MHz, a block RAM without its output
register at about 138 MHz (../shared/PARC.md section 4), and yosys does not move fabric
registers into either. So every engine asks this module for a multiplier or a RAM with a
fixed, stated register structure, and the ``target`` decides how it is written:

- ``generic``: portable Verilog with the registers placed where vendor tools absorb them
  (input, pipeline and output register around a ``*``; a register right after the RAM read);
- ``ecp5``: the Lattice primitives, instantiated with those registers switched on;
- ``xc7``: the generic structure (Vivado packs it into DSP48E1 / RAMB18E1 registers).

Whatever the target, a block's ports, latency and arithmetic are the same, so the engines and
the golden models never see the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from amaranth.hdl import Module, Shape, ShapeLike, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["TARGETS", "check_target", "sim_model_files", "Multiplier", "BlockRam"]

TARGETS = ("generic", "ecp5", "xc7")


def check_target(target: str) -> str:
    """``target`` if it is one of `TARGETS`, else ValueError naming them."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    return target


def sim_model_files(target: str) -> list[Path]:
    """Verilog files a simulator needs beside the design's own (the behavioural twins of the
    vendor primitives a target instantiates); synthesis never reads them."""
    check_target(target)
    return []


class Multiplier(wiring.Component):
    """``p = a * b`` through the three registers of a hard multiplier: latency 3.

    Registers: ``a`` and ``b`` (input), the product (pipeline), ``p`` (output); all load
    while ``en`` is high (``en`` defaults to 1: a free-running pipeline leaves it undriven).
    ``p`` is exact: ``len(a) + len(b)`` bits, signed when either operand is.

    Ports
    -----
    a : In(a_shape)
    b : In(b_shape)
    en : In(1), init 1
        Clock enable of every register.
    p : Out(signed or unsigned(len(a) + len(b)))
        The product of the operands presented ``latency`` enabled cycles earlier.
    """

    latency = 3

    def __init__(self, a_shape: ShapeLike, b_shape: ShapeLike, target: str = "generic") -> None:
        self.target = check_target(target)
        self.a_shape, self.b_shape = Shape.cast(a_shape), Shape.cast(b_shape)
        width = self.a_shape.width + self.b_shape.width
        p_shape = signed(width) if self.a_shape.signed or self.b_shape.signed else unsigned(width)
        super().__init__({"a": In(self.a_shape), "b": In(self.b_shape), "en": In(1, init=1), "p": Out(p_shape)})

    def elaborate(self, platform) -> Module:
        m = Module()
        a = Signal(self.a_shape, name="a_reg")
        b = Signal(self.b_shape, name="b_reg")
        product = Signal(self.p.shape(), name="m_reg")
        with m.If(self.en):
            m.d.sync += [a.eq(self.a), b.eq(self.b), product.eq(a * b), self.p.eq(product)]
        return m


class BlockRam(wiring.Component):
    """A simple dual-port RAM (or ROM) whose read data comes out of an output register.

    Read: ``r_addr`` is sampled on an edge where ``r_en`` is high; the word appears on
    ``r_data`` after the next edge where ``r_en`` is high (``read_latency`` = 2 enabled
    cycles) and holds while ``r_en`` is low. Write: ``w_data`` lands at ``w_addr`` on an edge
    where ``w_en`` is high, lane by lane when ``granularity`` splits the word. A read and a
    write of the same address in one cycle return the old word or the new one, unspecified:
    callers never do it.

    Parameters
    ----------
    width, depth : int
        Word width and number of words.
    init : sequence of int
        Initial contents (a ROM when ``writable`` is False).
    granularity : int, optional
        Lane width of ``w_en`` (``width`` must be a multiple).
    writable : bool
        False builds a ROM: no write port (``w_*`` are ignored).
    target : str
        One of `TARGETS`.
    """

    read_latency = 2

    def __init__(
        self,
        width: int,
        depth: int,
        init: Sequence[int] = (),
        *,
        granularity: int | None = None,
        writable: bool = True,
        target: str = "generic",
    ) -> None:
        self.target = check_target(target)
        self.width, self.depth, self.init = int(width), int(depth), list(init)
        self.granularity, self.writable = granularity, writable
        lanes = 1 if granularity is None else width // granularity
        addr = max((self.depth - 1).bit_length(), 1)
        super().__init__(
            {
                "w_addr": In(addr),
                "w_data": In(self.width),
                "w_en": In(lanes),
                "r_addr": In(addr),
                "r_en": In(1, init=1),
                "r_data": Out(self.width),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.ram = ram = Memory(shape=unsigned(self.width), depth=self.depth, init=self.init)
        if self.writable:
            wp = ram.write_port(granularity=self.granularity)
            m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en)]
        rp = ram.read_port()
        m.d.comb += [rp.addr.eq(self.r_addr), rp.en.eq(self.r_en)]
        with m.If(self.r_en):
            m.d.sync += self.r_data.eq(rp.data)
        return m
