"""Multiplication by a constant integer: a canonical-signed-digit shift-add tree, or one DSP.

The small DFT modules (`hw.winograd`) multiply only by constants (cos(pi/4) in the 8-point
DFT, 8 real constants in the 7-point one). A constant multiply needs no general multiplier:

- ``impl="csd"``: ``v * C = sum_i s_i * (v << k_i)`` over the canonical signed digits of C
  (`csd_digits`: digits -1/0/+1, no two adjacent nonzero, the fewest nonzero digits of any
  signed-digit form, about a third of the bits). The terms are summed by a pairwise tree of
  adders/subtractors in LUTs and carry chains, with a register after every level (or every
  ``levels_per_register`` levels), so its speed does not depend on the constant and no DSP
  is used. This is the route to 200 MHz on ECP5, where unregistered DSPs stop near 140 MHz.
- ``impl="dsp"``: ``v * Const(C)`` between an operand and a product register; yosys maps the
  ``*`` to one DSP (MULT18X18D on ECP5, DSP48E1 on 7-series) when it is wide enough to be
  worth one, and the LUT budget stays for the rest of the design.

Both compute the exact product (no rounding here: the caller rounds once, as its golden
model does), so they are interchangeable bit for bit, and `ConstantMultiplier.model` is
the integer product itself.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from amaranth.hdl import Const, Module, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike

from golden.fixed import IntArray
from hw.pipeline import delay

__all__ = [
    "ConstantMultiplier",
    "Impl",
    "IMPLS",
    "csd_digits",
    "signed_bits",
    "product_bits",
    "DSP_LATENCY",
    "INT64_MODEL_BITS",
]

Impl = Literal["csd", "dsp"]
IMPLS: tuple[str, ...] = ("csd", "dsp")
DSP_LATENCY = 2  # operand register, product register
INT64_MODEL_BITS = 62  # widest exact product the int64 model holds with a bit to spare


def csd_digits(c: int) -> list[tuple[int, int]]:
    """The canonical signed digits of ``c``: ``[(sign, shift), ...]``, shifts ascending.

    ``c == sum(sign << shift)`` with sign in {-1, +1}; no two shifts are adjacent (the
    non-adjacent form), which is the unique signed-digit form with that property and has the
    fewest nonzero digits of all. ``csd_digits(0) == []``; a negative ``c`` gets the digits of
    ``-c`` negated.

    Why it matters: every nonzero digit is one term of the shift-add tree, so the digit count
    sets the adders of a CSD multiplier (digits - 1).
    """
    c = int(c)
    digits: list[tuple[int, int]] = []
    shift = 0
    while c:
        if c & 1:
            sign = 2 - (c & 3)  # c = 1 (mod 4): digit +1; c = 3 (mod 4): digit -1, carry up
            digits.append((sign, shift))
            c -= sign
        c >>= 1
        shift += 1
    return digits


def signed_bits(lo: int, hi: int) -> int:
    """Fewest two's-complement bits that hold every integer in ``[lo, hi]`` (at least 1)."""
    need = 1
    for v in (int(lo), int(hi)):
        need = max(need, (v if v >= 0 else ~v).bit_length() + 1)
    return need


def product_bits(in_bits: int, constant: int) -> int:
    """Signed width of ``a * constant`` over every ``in_bits``-bit ``a`` (the most negative too)."""
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    return signed_bits(min(lo * constant, hi * constant), max(lo * constant, hi * constant))


class ConstantMultiplier(wiring.Component):
    """``p = a * constant``, exact, ``latency`` enabled cycles after ``a``: frozen by ``en``.

    Every register loads only in cycles with ``en`` high, so the block is a pure pipeline
    slot-for-slot with its caller's other stages (the one-enable pattern of `hw.complex_mul`);
    the caller carries valid/tags beside it with `hw.pipeline.delay` (``latency`` cycles).

    CSD tree (``impl="csd"``): the terms ``a << k`` of the nonzero digits are summed pairwise;
    each partial sum is ``a * K`` for the sum K of its digits, so its register is exactly as
    wide as ``a * K`` needs. A subtractor takes a pair with opposite signs, so only a constant
    whose digits are all negative (-1, -4, -5, ...) needs a final negation, which goes into
    the output register. Registers: one after every ``levels_per_register`` adder levels and
    always one on ``p``; a constant with one digit (a power of two) or zero is a wire into
    the output register.

    DSP (``impl="dsp"``): operand register, ``a * Const(constant)``, product register.

    A requested ``latency`` above the natural one (`natural_latency`) adds enabled registers
    on the input, where the word is narrowest, so that multipliers of different constants can
    share one schedule.

    Parameters
    ----------
    in_bits : int
        Signed width of ``a`` (2..40).
    constant : int
        The integer constant C (any sign; 0 gives p = 0).
    impl : "csd" or "dsp"
        Shift-add tree in LUTs, or one ``*`` for a DSP.
    latency : int, optional
        Enabled cycles from ``a`` to ``p``; at least `natural_latency` (the default).
    levels_per_register : int
        CSD only: adder levels between registers (1 = fastest; 2 halves the registers).

    Attributes
    ----------
    digits : list of (sign, shift)
        ``csd_digits(constant)``.
    adders : int
        Adders/subtractors of the CSD tree (``len(digits) - 1``, plus a final negation when
        every digit is negative); 0 for the DSP.
    out_bits : int
        Signed width of ``p``: exactly what ``a * constant`` needs over the input range.
    natural_latency, latency : int
        Registers of the bare structure, and of this block (the same unless padded).

    Ports
    -----
    en : In(1)
        Pipeline enable: every register loads when high, holds when low.
    a : In(signed(in_bits))
        Multiplicand, read on enabled edges.
    p : Out(signed(out_bits))
        Output register: ``a * constant`` of the ``a`` entered ``latency`` enabled edges ago.
    """

    def __init__(
        self,
        in_bits: int,
        constant: int,
        impl: Impl = "csd",
        *,
        latency: int | None = None,
        levels_per_register: int = 1,
    ) -> None:
        constant = int(constant)
        out_bits = product_bits(in_bits, constant)
        digits = csd_digits(constant)
        buildable = impl in IMPLS and levels_per_register >= 1
        natural = self.natural_latency_of(constant, impl, levels_per_register) if buildable else 0
        problem = None
        if impl not in IMPLS:
            problem = f"ConstantMultiplier impl must be one of {IMPLS}; got {impl!r}"
        elif not 2 <= in_bits <= 40:
            problem = f"ConstantMultiplier needs in_bits 2..40; got {in_bits}"
        elif levels_per_register < 1:
            problem = f"ConstantMultiplier needs levels_per_register >= 1; got {levels_per_register}"
        elif out_bits > INT64_MODEL_BITS:
            problem = f"ConstantMultiplier product of {out_bits} bits exceeds the int64 model"
        elif latency is not None and latency < natural:
            problem = f"ConstantMultiplier({impl}, {constant}) needs latency >= {natural}; got {latency}"
        if problem:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(problem)
        self.in_bits, self.constant, self.impl = in_bits, constant, impl
        self.levels_per_register = levels_per_register
        self.digits = digits
        self.out_bits = out_bits
        all_negative = bool(digits) and all(s < 0 for s, _ in digits)
        self.adders = 0 if impl == "dsp" else max(len(digits) - 1, 0) + int(all_negative)
        self.natural_latency = natural
        self.latency = natural if latency is None else latency
        super().__init__({"en": In(1), "a": In(signed(in_bits)), "p": Out(signed(out_bits))})

    @staticmethod
    def natural_latency_of(constant: int, impl: Impl, levels_per_register: int = 1) -> int:
        """`natural_latency` of a multiplier by ``constant``, without building it."""
        if impl == "dsp":
            return DSP_LATENCY
        terms = len(csd_digits(constant))
        levels = math.ceil(math.log2(terms)) if terms > 1 else 0
        return max(1, math.ceil(levels / levels_per_register))

    def model(self, a: ArrayLike) -> IntArray:
        """``a * constant``: the exact integer product (int64; `out_bits` <= 62 is checked)."""
        return np.asarray(a, dtype=np.int64) * np.int64(self.constant)

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.en
        a = delay(m, self.a, self.latency - self.natural_latency, en, "pad")
        if self.impl == "dsp":
            op = delay(m, a, 1, en, "operand")
            product = op * Const(self.constant, signed(signed_bits(self.constant, self.constant)))
            with m.If(en):
                m.d.sync += self.p.eq(product)
            return m
        with m.If(en):
            m.d.sync += self.p.eq(self._tree(m, a))
        return m

    def _tree(self, m: Module, a: Value) -> Value:
        """The CSD sum of ``a``'s shifted terms, registered every ``levels_per_register``
        levels; returns the last level's (combinational) value, which ``p`` registers."""
        if not self.digits:
            return Const(0, signed(1))
        lo, hi = -(1 << (self.in_bits - 1)), (1 << (self.in_bits - 1)) - 1

        def width(k: int) -> int:  # a * k over the input range
            return signed_bits(min(lo * k, hi * k), max(lo * k, hi * k))

        # (value, sign, K): the partial sum equals sign * value and value == a * K
        terms: list[tuple[Value, int, int]] = [(a << shift, sign, 1 << shift) for sign, shift in self.digits]
        level = 0
        while len(terms) > 1:
            level += 1
            nxt: list[tuple[Value, int, int]] = []
            for j in range(0, len(terms) - 1, 2):
                (va, sa, ka), (vb, sb, kb) = terms[j], terms[j + 1]
                if sa == sb:
                    nxt.append((va + vb, sa, ka + kb))
                elif sa > 0:
                    nxt.append((va - vb, 1, ka - kb))
                else:
                    nxt.append((vb - va, 1, kb - ka))
            if len(terms) % 2:
                nxt.append(terms[-1])
            if len(nxt) > 1 and level % self.levels_per_register == 0:  # the last level is p
                regs = []
                for j, (v, s, k) in enumerate(nxt):
                    reg = Signal(signed(width(k)), name=f"l{level}_{j}")
                    with m.If(self.en):
                        m.d.sync += reg.eq(v)
                    regs.append((reg, s, k))
                nxt = regs
            terms = nxt
        value, sign, _ = terms[0]
        return value if sign > 0 else -value
