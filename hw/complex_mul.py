"""Pipelined complex multiplier: 4 real products, 2 sums, one rounding, then saturate or wrap.

One block for every complex product of the FFT engine: the twiddle multiply of a non-trivial
SDF stage (`hw.sdf.SdfStage`) and the spectral product ``X * Hq[c]`` of `hw.fast_parc`. Its
arithmetic is `golden.fft.complex_multiply` (the exact integer product, rounded once per
component) followed by `golden.fixed.fit` (saturate or wrap to the output width); `model`
calls exactly those two functions.

Why this structure: the exact sum ``ar*br - ai*bi`` rounded once is what the golden models
define, so the hardware keeps the full-width products and sums (``a_bits + b_bits`` and one
more bit) and rounds only at the end. Each real product is one DSP (operands up to 25 x 18
bits); 4 products rather than 3 (Gauss) keep every operand within one DSP port.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike, NDArray

from golden.fft import complex_multiply
from golden.fixed import IntArray, Rounding, fit
from hw import fixed as hf
from hw.target import Multiplier, check_target

__all__ = ["complex_layout", "ComplexMultiplier", "MAX_DEPTH", "hard_latency"]

MAX_DEPTH = 4  # operand, products, sums, output registers
INT64_MODEL_BITS = 62  # widest exact sum the int64 model holds with a bit to spare


def multiplier_problem(name: str, a_bits: int, b_bits: int, out_bits: int, shift: int, depth: int) -> str | None:
    """Why a complex multiplier with these parameters cannot be built (None: it can). Shared by
    `ComplexMultiplier` and `hw.gauss_mul.GaussMultiplier`, which have the same registers."""
    if not 1 <= depth <= MAX_DEPTH:
        return f"{name} depth must be 1..{MAX_DEPTH}; got {depth}"
    if min(a_bits, b_bits, out_bits) < 2 or shift < 0:
        return f"{name} needs widths >= 2 and shift >= 0; got {a_bits}, {b_bits}, {out_bits}, {shift}"
    if a_bits + b_bits + 1 > INT64_MODEL_BITS:
        return f"{name} sum of {a_bits + b_bits + 1} bits exceeds the int64 model"
    return None


def hard_latency(a_bits: int, b_bits: int) -> int:
    """`ComplexMultiplier.latency` with a ``target``, without building it: the hard
    multipliers' `hw.target.Multiplier.latency_of` (3 when ``a_bits, b_bits <= 18``; more for
    wider operands, whose partial products are summed through registers), then the sums,
    rounding and output registers. The same on every target."""
    return Multiplier.latency_of(signed(a_bits), signed(b_bits)) + 3


def complex_layout(bits: int) -> data.StructLayout:
    """A complex integer: ``re``, ``im``, both ``signed(bits)``."""
    return data.StructLayout({"re": signed(bits), "im": signed(bits)})


class ComplexMultiplier(wiring.Component):
    """``p = fit(R(a * b, shift), out_bits)``: a pipeline of ``depth`` registers frozen by ``en``.

    Registers, in order (``depth`` keeps the last ``depth`` of them):

    ====  =========================================  ==========================================
    4     operand register on ``a``                   ``b`` comes from its own register loaded
                                                      by the same enable (a ROM read port), so
                                                      ``b`` is read one enabled cycle after ``a``
    3     products ``ar*br, ai*bi, ar*bi, ai*br``     ``a_bits + b_bits`` bits each
    2     sums ``ar*br - ai*bi``, ``ar*bi + ai*br``   one more bit (exact)
    1     output: round away ``shift`` bits, then     the only rounding; ``clipping`` flags it
          saturate (or wrap) to ``out_bits``
    ====  =========================================  ==========================================

    With ``target`` given, the block is built for clock rate instead: 4 `hw.target.Multiplier`
    (input, pipeline and output register: the hard multiplier's own, plus its adder-tree
    registers when an operand is wider than 18 bits), then the sums register, then the
    rounding register, then the output register (saturation or wrap): ``latency`` =
    `hard_latency` (6 for operands of at most 18 bits, 7 or 8 above), ``b`` arrives with its
    ``a`` (``b_delay`` 0) and ``depth`` is ignored.
    Every carry chain is then one short adder between two registers: a sum of two products,
    a rounding add, or the range check.

    Without a register the step is combinational. A register loads only in cycles with ``en``
    high, so the block is a pure pipeline: the caller decides when it advances (the FFT's
    global enable, or ``~valid | ready`` of a stream stage) and carries valid/last beside it
    (`hw.pipeline.delay` with ``latency`` cycles).

    Usage (the spectral product of `hw.fast_parc`: X from the forward FFT, Hq from a ROM read
    port enabled by the same ``en``, so ``depth=4`` and ``b`` one cycle behind ``a``)::

        mul = ComplexMultiplier(a_bits=xw, b_bits=sb, out_bits=pw, shift=plan.product_shift,
                                rounding=p.rounding, saturate=True, depth=4)
        m.submodules.product = mul
        m.d.comb += [mul.en.eq(en_p), mul.a.eq(fwd.o.payload.data),
                     mul.b.re.eq(h_port.data[:sb]), mul.b.im.eq(h_port.data[sb:])]
        # mul.p: the product, `mul.latency` (4) enabled cycles after its ``a``;
        # mul.clipping & en_p & <valid of the slot entering the output register>: saturation.

    Parameters
    ----------
    a_bits, b_bits : int
        Signed widths of the operands' re/im.
    out_bits : int
        Signed width of the result's re/im.
    shift : int
        Bits rounded away (e.g. the twiddle fraction plus a stage's scaling shift).
    rounding : golden.fixed.Rounding
        Rounding of that shift.
    saturate : bool
        True: clamp to ``out_bits`` (``clipping`` = saturated); False: two's-complement wrap
        (``clipping`` = wrapped; for callers that prove the result fits, e.g. the DIT ``t``).
    depth : int
        Pipeline registers, 1..4 (see the table).
    target : str, optional
        `hw.target.TARGETS` entry: build with hard multipliers (see above).

    Attributes
    ----------
    latency : int
        ``depth`` (`hard_latency` with ``target``): enabled cycles from ``a`` at the port to
        its product on ``p``.
    b_delay : int
        Enabled cycles ``b`` arrives after its ``a`` (1 when ``depth == 4`` without
        ``target``, else 0).
    product_bits, sum_bits : int
        Widths of the exact products and sums.

    Ports
    -----
    en : In(1)
        Pipeline enable: every register loads when high, holds when low.
    a : In(complex_layout(a_bits))
        Data operand.
    b : In(complex_layout(b_bits))
        Coefficient operand, ``b_delay`` enabled cycles after ``a``.
    p : Out(complex_layout(out_bits))
        Output register: the fitted product.
    clipping : Out(1)
        Combinational: the value the next enabled edge loads into ``p`` saturated (or wrapped).
        Qualify it with ``en`` and the validity of that slot.
    """

    def __init__(
        self,
        a_bits: int,
        b_bits: int,
        out_bits: int,
        shift: int,
        rounding: Rounding,
        *,
        saturate: bool = True,
        depth: int = MAX_DEPTH,
        target: str | None = None,
    ) -> None:
        problem = multiplier_problem("ComplexMultiplier", a_bits, b_bits, out_bits, shift, depth)
        if problem:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(problem)
        self.a_bits, self.b_bits, self.out_bits = a_bits, b_bits, out_bits
        self.shift, self.rounding, self.saturate, self.depth = shift, Rounding(rounding), saturate, depth
        self.target = None if target is None else check_target(target)
        self.product_bits = a_bits + b_bits
        self.sum_bits = self.product_bits + 1
        self.latency = depth if self.target is None else hard_latency(a_bits, b_bits)
        self.b_delay = 1 if depth == MAX_DEPTH and self.target is None else 0
        super().__init__(
            {
                "en": In(1),
                "a": In(complex_layout(a_bits)),
                "b": In(complex_layout(b_bits)),
                "p": Out(complex_layout(out_bits)),
                "clipping": Out(1),
            }
        )

    def model(
        self, a_re: ArrayLike, a_im: ArrayLike, b_re: ArrayLike, b_im: ArrayLike
    ) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
        """``(p.re, p.im, clipping)`` for operand pairs: `golden.fft.complex_multiply`, then
        `golden.fixed.fit` of each component (clipping = either component clipped)."""
        re, im = complex_multiply(a_re, a_im, b_re, b_im, self.shift, self.rounding)
        r, cr = fit(re, self.out_bits, self.saturate)
        i, ci = fit(im, self.out_bits, self.saturate)
        return r, i, cr | ci

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.en

        def stage(present: bool, value, name: str):
            """``value`` through an enabled register when the pipeline keeps this step."""
            if not present:
                return value
            reg = Signal(value.shape(), name=name)
            with m.If(en):
                m.d.sync += reg.eq(value)
            return reg

        if self.target is None:
            a_re = stage(self.depth >= 4, self.a.re, "op_re")
            a_im = stage(self.depth >= 4, self.a.im, "op_im")
            b_re, b_im = self.b.re, self.b.im
            exact = [a_re * b_re, a_im * b_im, a_re * b_im, a_im * b_re]  # a_bits + b_bits each
            p = [stage(self.depth >= 3, v, f"prod{k}") for k, v in enumerate(exact)]
            s_re = stage(self.depth >= 2, p[0] - p[1], "sum_re")  # one more bit: exact
            s_im = stage(self.depth >= 2, p[2] + p[3], "sum_im")
            r, cr = hf.requantize(s_re, self.shift, self.out_bits, self.rounding, self.saturate)
            i, ci = hf.requantize(s_im, self.shift, self.out_bits, self.rounding, self.saturate)
        else:
            pairs = [(self.a.re, self.b.re), (self.a.im, self.b.im), (self.a.re, self.b.im), (self.a.im, self.b.re)]
            p = []
            for k, (x, y) in enumerate(pairs):
                m.submodules[f"mul{k}"] = mul = Multiplier(x.shape(), y.shape(), self.target)
                m.d.comb += [mul.a.eq(x), mul.b.eq(y), mul.en.eq(en)]
                p.append(mul.p)
            s_re = stage(True, p[0] - p[1], "sum_re")
            s_im = stage(True, p[2] + p[3], "sum_im")
            # the rounding add gets a register of its own: a sum of ~30 bits rounded, then
            # range-checked, in one cycle was a ~35-level carry path (the padded FFT's
            # critical path at N = 56)
            s_re = stage(True, hf.round_shift(s_re, self.shift, self.rounding), "rounded_re")
            s_im = stage(True, hf.round_shift(s_im, self.shift, self.rounding), "rounded_im")
            r, cr = hf.fit(s_re, self.out_bits, self.saturate)
            i, ci = hf.fit(s_im, self.out_bits, self.saturate)
        m.d.comb += self.clipping.eq(cr | ci)
        with m.If(en):
            m.d.sync += [self.p.re.eq(r), self.p.im.eq(i)]
        return m
