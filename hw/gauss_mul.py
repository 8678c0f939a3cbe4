"""Pipelined complex multiplier by a ROM constant with 3 real products (Gauss), one rounding.

The 3-DSP alternative to `hw.complex_mul.ComplexMultiplier` for products whose second factor
``h = c + j*d`` is a constant read from a ROM (the spectrum ``Hq[c]`` of `hw.fast_parc`, FFT
twiddles). Its arithmetic is the same: `golden.fft.complex_multiply` (the exact integer
product, rounded once per component) followed by `golden.fixed.fit` (saturate or wrap);
`GaussMultiplier.model` calls exactly those two functions with the plain ``(c, d)``.

Why Gauss, and why a triple in the ROM: with ``s = ar + ai``,

    k1 = c * s,   k2 = ar * (d - c),   k3 = ai * (c + d)
    k1 - k3 = ar*c - ai*d,   k1 + k2 = ar*d + ai*c

are the same integers as the 4-product form, so rounding them once gives the golden result
bit for bit, with one DSP less per complex product. The two sums ``c + d`` and ``d - c`` of a
constant cost nothing when precomputed: the ROM stores the triple ``(c, c + d, d - c)``
(`gauss_triple`) instead of ``(c, d)``, in a wider word (``3 * h_bits + 2`` bits packed
tightly, ``3 * h_bits + 3`` in `hw.rom.pack_words`'s equal fields, instead of ``2 * h_bits``),
and the only adder left on the data side is ``ar + ai``.

The price is operand width: ``ar + ai``, ``c + d`` and ``d - c`` carry one more bit than
their inputs. Each product still fits one 25 x 18 DSP48E1 while ``a_bits, h_bits <= 18``
(the widened operand on the 25-bit port, the other on the 18-bit one); a 18 x 18 DSP
(ECP5 MULT18X18D) needs ``a_bits, h_bits <= 17``, which is why `ComplexMultiplier` (4
products, no widening) stays the default there.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike, NDArray

from golden.fft import complex_multiply
from golden.fixed import IntArray, Rounding, fit
from hw import fixed as hf
from hw.complex_mul import MAX_DEPTH, complex_layout, multiplier_problem
from hw.pipeline import delay
from hw.target import TARGETS, Multiplier

__all__ = ["GaussMultiplier", "gauss_triple", "MAX_DEPTH", "MULTIPLIERS", "hard_latency"]

MULTIPLIERS = 3  # real products per complex product: the point of the block


def hard_latency(a_bits: int, h_bits: int, triple_bits: int | None = None) -> int:
    """`GaussMultiplier.latency` with a ``target``, without building it: the operand register,
    the three `hw.target.Multiplier` in step (the slowest one's `~hw.target.Multiplier.latency_of`:
    3 when every operand fits 18 bits, more when one is cut into tiles), then join, sums,
    rounding and fit. The same on every target."""
    triple = h_bits + 1 if triple_bits is None else triple_bits
    products = max(
        Multiplier.latency_of(signed(a_bits), signed(h_bits)),
        Multiplier.latency_of(signed(a_bits), signed(triple)),
    )
    return 1 + products + 4  # operands, Multiplier, join, sums, rounding, fit (GaussMultiplier.mul_latency)


def gauss_triple(c: ArrayLike, d: ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
    """The ROM words ``(c, c + d, d - c)`` of the constant ``c + j*d`` (int64 arrays).

    For ROM builders: ``pack_words(np.stack(gauss_triple(re, im), axis=-1), h_bits + 1)``
    gives one word per constant (``c`` sign-extends into its field; the reader takes
    ``word[:h_bits]`` for it, or the whole ``h_bits + 1`` field and keeps the low bits).
    """
    cc, dd = np.asarray(c, dtype=np.int64), np.asarray(d, dtype=np.int64)
    return cc, cc + dd, dd - cc


class GaussMultiplier(wiring.Component):
    """``p = fit(R(a * h, shift), out_bits)`` with 3 multiplies, ``h = c + j*d`` from a ROM triple.

    Registers, in order (``depth`` keeps the last ``depth`` of them, as `ComplexMultiplier`):

    ====  =========================================  ==========================================
    4     operand register: ``ar``, ``ai`` and the    the pre-add is computed *into* it, so no
          pre-add ``s = ar + ai`` (``a_bits + 1``)    adder sits in front of a DSP; the triple
                                                      comes from a ROM read port loaded by the
                                                      same enable, so it is read one enabled
                                                      cycle after ``a``
    3     products ``k1 = c*s``, ``k2 = ar*(d-c)``,   ``a_bits + h_bits + 1`` bits each
          ``k3 = ai*(c+d)``
    2     sums ``k1 - k3``, ``k1 + k2``               ``a_bits + h_bits + 1`` bits: the exact
                                                      ``ar*c - ai*d``, ``ar*d + ai*c`` need no
                                                      more (the same width as ComplexMultiplier)
    1     output: round away ``shift`` bits, then     the only rounding; ``clipping`` flags it
          saturate (or wrap) to ``out_bits``
    ====  =========================================  ==========================================

    With ``target`` (one of `hw.target.TARGETS`) the block is built for clock rate instead,
    every product a `hw.target.Multiplier` (its input, pipeline and output registers: a hard
    multiplier's), ``depth`` ignored, `hard_latency` registers (8 when the operands fit
    18 bits; rows 2-4 take the products' `hw.target.Multiplier.latency_of`, 1 or 2 more for
    wider ones):

    ====  =========================================  ==========================================
    1     operand register: ``ar``, ``ai``, and       ``s_hi`` has ``a_bits`` bits, so every
          ``s = ar + ai`` split as ``s_hi = s >> 1``  product operand is as narrow as the data:
          and ``s_lo = s & 1``                        ``a_bits, triple_bits <= 18`` fit one
                                                      18 x 18 DSP each (ECP5 MULT18X18D)
    2-4   `Multiplier`: ``kh = c*s_hi``,              the triple arrives one enabled cycle after
          ``k2 = ar*(d-c)``, ``k3 = ai*(c+d)``        ``a`` (``h_delay``), with the operands
    5     ``k1 = 2 kh + (s_lo ? c : 0)``, the same    ``= c*s`` exactly
          integer as ``c*s``; k2, k3 wait
    6     sums ``k1 - k3``, ``k1 + k2``               exact
    7     round away ``shift`` bits                   one carry chain per register
    8     output: saturate (or wrap) to ``out_bits``  ``clipping`` flags it
    ====  =========================================  ==========================================

    Without a register the step is combinational, through a named wire (with ``depth < 4`` the
    pre-add sits in front of the products). A register loads only in cycles with ``en`` high, so the block is a pure
    pipeline: the caller decides when it advances and carries valid/last beside it
    (`hw.pipeline.delay` with ``latency`` cycles).

    The sums are exact only for a consistent triple (``c + d`` and ``d - c`` of one ``c, d``
    that each fit ``signed(h_bits)``), which `gauss_triple` guarantees; anything else is
    not a constant this block multiplies by.

    Usage (the spectral product of `hw.fast_parc` with a triple ROM read port enabled by the
    same ``en``, so ``depth=4`` and the triple one cycle behind ``a``)::

        mul = GaussMultiplier(a_bits=xw, h_bits=sb, out_bits=pw, shift=plan.product_shift,
                              rounding=p.rounding, saturate=True, depth=4)
        m.submodules.product = mul
        w = sb + 1  # ROM word: pack_words(np.stack(gauss_triple(re, im), axis=-1), w)
        m.d.comb += [mul.en.eq(en_p), mul.a.eq(fwd.o.payload.data),
                     mul.c.eq(h_port.data[:sb]), mul.c_plus_d.eq(h_port.data[w:2 * w]),
                     mul.d_minus_c.eq(h_port.data[2 * w:])]
        # mul.p: the product, `mul.latency` (4) enabled cycles after its ``a``

    Parameters
    ----------
    a_bits, h_bits : int
        Signed widths of the data's re/im and of the constant's ``c``, ``d``.
    out_bits : int
        Signed width of the result's re/im.
    shift : int
        Bits rounded away.
    rounding : golden.fixed.Rounding
        Rounding of that shift.
    saturate : bool
        True: clamp to ``out_bits`` (``clipping`` = saturated); False: two's-complement wrap
        (``clipping`` = wrapped).
    depth : int
        Pipeline registers, 1..4 (see the table); without ``target`` only.
    target : str, optional
        Build the clock-rate pipeline (second table) on `hw.target.Multiplier` of this target.
    triple_bits : int, optional
        (with ``target``) Signed width that ``c + d`` and ``d - c`` occupy (default
        ``h_bits + 1``; a ROM whose triple fields are ``h_bits`` wide passes ``h_bits``): the
        width of their multiplier operands.

    Attributes
    ----------
    latency : int
        ``depth`` (`hard_latency` with ``target``): enabled cycles from ``a`` at the port to its
        product on ``p``.
    h_delay, b_delay : int
        Enabled cycles the triple arrives after its ``a`` (1 when ``depth == 4``, else 0);
        ``b_delay`` is the same under `ComplexMultiplier`'s name.
    multipliers : int
        3: real products in the design.
    mul_latency : int
        (with ``target``) Latency of each of the three `hw.target.Multiplier`: the slowest
        one's natural latency, the others padded to it, so ``k1``, ``k2``, ``k3`` stay in step.
    pre_add_bits, product_bits, sum_bits : int
        Widths of ``ar + ai``, of the products and of the exact sums.

    Ports
    -----
    en : In(1)
        Pipeline enable: every register loads when high, holds when low.
    a : In(complex_layout(a_bits))
        Data operand.
    c : In(signed(h_bits))
        Real part of the constant, ``h_delay`` enabled cycles after ``a``.
    c_plus_d, d_minus_c : In(signed(h_bits + 1))
        ``c + d`` and ``d - c`` of the same constant, with ``c``.
    p : Out(complex_layout(out_bits))
        Output register: the fitted product.
    clipping : Out(1)
        Combinational: the value the next enabled edge loads into ``p`` saturated (or wrapped).
        Qualify it with ``en`` and the validity of that slot.
    """

    multipliers = MULTIPLIERS

    def __init__(
        self,
        a_bits: int,
        h_bits: int,
        out_bits: int,
        shift: int,
        rounding: Rounding,
        *,
        saturate: bool = True,
        depth: int = MAX_DEPTH,
        target: str | None = None,
        triple_bits: int | None = None,
    ) -> None:
        problem = multiplier_problem("GaussMultiplier", a_bits, h_bits, out_bits, shift, depth)
        if problem is None and target is not None and target not in TARGETS:
            problem = f"GaussMultiplier target must be one of {', '.join(TARGETS)}; got {target!r}"
        triple_bits = h_bits + 1 if triple_bits is None else int(triple_bits)
        if problem is None and not h_bits <= triple_bits <= h_bits + 1:
            problem = f"GaussMultiplier triple_bits must be h_bits or h_bits + 1; got {triple_bits}"
        if problem:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(problem)
        self.a_bits, self.h_bits, self.out_bits = a_bits, h_bits, out_bits
        self.shift, self.rounding, self.saturate, self.depth = shift, Rounding(rounding), saturate, depth
        self.target, self.triple_bits = target, triple_bits
        self.pre_add_bits = a_bits + 1
        self.product_bits = a_bits + h_bits + 1  # every product: (a_bits + 1) x h_bits or a_bits x (h_bits + 1)
        self.sum_bits = a_bits + h_bits + 1
        self.mul_latency = hard_latency(a_bits, h_bits, triple_bits) - 5  # the three products in step
        self.latency = depth if target is None else hard_latency(a_bits, h_bits, triple_bits)
        self.h_delay = self.b_delay = 1 if depth == MAX_DEPTH or target is not None else 0
        super().__init__(
            {
                "en": In(1),
                "a": In(complex_layout(a_bits)),
                "c": In(signed(h_bits)),
                "c_plus_d": In(signed(triple_bits)),
                "d_minus_c": In(signed(triple_bits)),
                "p": Out(complex_layout(out_bits)),
                "clipping": Out(1),
            }
        )

    gauss_triple = staticmethod(gauss_triple)

    def model(
        self, a_re: ArrayLike, a_im: ArrayLike, c: ArrayLike, d: ArrayLike
    ) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
        """``(p.re, p.im, clipping)`` for data ``a`` and the plain constant ``c + j*d`` (not the
        triple): `golden.fft.complex_multiply`, then `golden.fixed.fit` of each component."""
        re, im = complex_multiply(a_re, a_im, c, d, self.shift, self.rounding)
        r, cr = fit(re, self.out_bits, self.saturate)
        i, ci = fit(im, self.out_bits, self.saturate)
        return r, i, cr | ci

    def _elaborate_hard(self, m: Module) -> None:
        """The clock-rate pipeline of the second table (``target`` given)."""
        en, target = self.en, self.target
        assert target is not None

        def reg(value: Value, name: str) -> Signal:
            r = Signal(value.shape(), name=name)
            with m.If(en):
                m.d.sync += r.eq(value)
            return r

        total = self.a.re + self.a.im  # a_bits + 1: exactly 2 * s_hi + s_lo
        a_re, a_im = reg(self.a.re, "op_re"), reg(self.a.im, "op_im")
        s_hi = reg(total[1:].as_signed(), "op_sum_hi")  # floor(s / 2): a_bits
        s_lo = reg(total[0], "op_sum_lo")
        products = []
        for name, x, h in (("kh", s_hi, self.c), ("k2", a_re, self.d_minus_c), ("k3", a_im, self.c_plus_d)):
            mul = Multiplier(x.shape(), h.shape(), target, latency=self.mul_latency)  # in step
            m.submodules[name] = mul
            m.d.comb += [mul.en.eq(en), mul.a.eq(x), mul.b.eq(h)]
            products.append(mul.p)
        kh, k2, k3 = products
        lat = self.mul_latency
        c_late = delay(m, self.c, lat, en, "c_late")  # c beside kh (both a cycle behind s_lo)
        lo_late = delay(m, s_lo, lat, en, "lo_late")
        k1 = reg(((kh << 1) + Mux(lo_late, c_late, 0))[: self.sum_bits].as_signed(), "k1")
        k2_d, k3_d = reg(k2, "k2_d"), reg(k3, "k3_d")
        s_re = reg((k1 - k3_d)[: self.sum_bits].as_signed(), "sum_re")
        s_im = reg((k1 + k2_d)[: self.sum_bits].as_signed(), "sum_im")
        r_re = reg(hf.round_shift(s_re, self.shift, self.rounding), "rounded_re")
        r_im = reg(hf.round_shift(s_im, self.shift, self.rounding), "rounded_im")
        r, cr = hf.fit(r_re, self.out_bits, self.saturate)
        i, ci = hf.fit(r_im, self.out_bits, self.saturate)
        m.d.comb += self.clipping.eq(cr | ci)
        with m.If(en):
            m.d.sync += [self.p.re.eq(r), self.p.im.eq(i)]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        if self.target is not None:
            self._elaborate_hard(m)
            return m
        en = self.en

        def stage(present: bool, value: Value, name: str) -> Value:
            """``value`` through an enabled register when the pipeline keeps this step, else
            through a wire: a product used twice (``k1``) or a sum read several times by the
            rounding and the fit must stay one ``$mul``, not one copy per use of the expression."""
            reg = Signal(value.shape(), name=name)
            if present:
                with m.If(en):
                    m.d.sync += reg.eq(value)
            else:
                m.d.comb += reg.eq(value)
            return reg

        def exact(value: Value, name: str) -> Value:
            """``value`` cut to `sum_bits`: Amaranth widens ``k1 -+ k`` by one bit that the
            exact ``ar*c - ai*d`` / ``ar*d + ai*c`` never use."""
            return stage(self.depth >= 2, value[: self.sum_bits].as_signed(), name)

        a_re = stage(self.depth >= 4, self.a.re, "op_re")
        a_im = stage(self.depth >= 4, self.a.im, "op_im")
        a_sum = stage(self.depth >= 4, self.a.re + self.a.im, "op_sum")  # a_bits + 1
        k1 = stage(self.depth >= 3, self.c * a_sum, "k1")
        k2 = stage(self.depth >= 3, a_re * self.d_minus_c, "k2")
        k3 = stage(self.depth >= 3, a_im * self.c_plus_d, "k3")
        s_re = exact(k1 - k3, "sum_re")
        s_im = exact(k1 + k2, "sum_im")
        r, cr = hf.fit(hf.round_shift(s_re, self.shift, self.rounding), self.out_bits, self.saturate)
        i, ci = hf.fit(hf.round_shift(s_im, self.shift, self.rounding), self.out_bits, self.saturate)
        m.d.comb += self.clipping.eq(cr | ci)
        with m.If(en):
            m.d.sync += [self.p.re.eq(r), self.p.im.eq(i)]
        return m
