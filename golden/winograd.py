"""Small Winograd DFT modules (2, 3, 4, 5, 7, 8 points): float algorithms and their bit-exact integer twins.

Why these modules: the native engine (docs/architecture.md section 6) computes an N-point DFT by
the Good-Thomas prime-factor algorithm (`golden.pfa`) from short DFTs whose only multiplies are
by *constants*, so the hardware needs no twiddle ROM and no general multiplier: a constant
multiply is a shift-add tree (CSD) in LUTs or one DSP, and both give the same integer.

Every module is stored as data, in the Winograd form ``X = O . diag(c) . A . x``:

- ``pre``  (m x r, small integers): the pre-additions ``u = A x`` (exact, the width grows);
- ``consts`` (m reals) and ``trivial`` (m bools): product ``i`` is ``v_i = c_i u_i``; a trivial
  product has ``c_i = 1`` exactly and is a wire (no multiplier, no rounding). |c| < 1 except the
  3-point's ``c1 = -3/2`` (Burrus' form), so a product is at most as wide as its operand there;
- ``const_symbols``: the constants' names (``constants(r, F)`` maps them to ``C_int``):
  3-point c1, s1; 5-point C1, C2, S1, S2, S3; 7-point K0..K3, L0..L3 (/work/shared/WINOGRAD7.md);
  8-point c4 = cos(pi/4) (used twice);
- ``post`` (r x m, Gaussian integers ``a + j b``): the post-additions ``X = O v``. A factor
  ``j`` is a swap of re/im with one negation and a factor 2 is a shift: wiring, no multiplier.

Constants are real and each multiplies the re and the im part of a complex operand alike, so a
module with ``k`` nontrivial products does ``2k`` real constant multiplies on complex data.

Integer arithmetic (`dft_int`, what the hardware must do, bit for bit)
------------------------------------------------------------------------
With ``F = const_bits`` and ``R = golden.fixed.round_shift`` (the layer's rounding):

    C_int[i] = round_half_even(c_i * 2**F)                   (Python ``round``; no ties occur)
    u        = A x                                           exact integer pre-adds
    v_i      = u_i << f                                      trivial product (wire)
    v_i      = (R(u_i.re * C_int[i], F - f), R(u_i.im * C_int[i], F - f))   one rounding per component
    X        = O v                                           exact integer post-adds (Gaussian integers)

``f = frac_bits`` (default 0, ``0 <= f <= F``) keeps f fraction bits of every product through the
post-adds, so X is in units of ``2**-f`` input LSBs; the caller's stage shift removes them with
its single rounding. ``dft_int(x, frac_bits=f) == dft_int(x << f)`` exactly (the pre-adds are
exact), but the multiplier operands stay as wide as ``A x``. The exact product ``u * C_int`` may
be formed by any circuit (CSD shift-add tree, DSP); it is rounded once, and a sign or a factor
2 in front of a multiply belongs to the exact product (``R(-u C)`` is not ``-R(u C)`` unless
half-even). The order of the pre- and post-additions is free: integer sums are exact, only the
rounding points above define the result. The named intermediate signals of each module (the
7-point's are the equations of /work/shared/WINOGRAD7.md; `WinogradModule.signals`,
`WinogradModule.describe`) are one adder structure with known bounds (`signal_bounds`).

Inverse DFT (``inverse=True``): the same pre-adds and products, post-adds with ``j -> -j``
(``conj(O)``), i.e. ``sum_n x[n] exp(+2 pi j n k / r)``, unnormalised. This equals, bit for bit,
``swap(dft_int(swap(x)))`` with ``swap(re, im) = (im, re)`` (wiring only: the constants act on re
and im alike, so the swap commutes with every rounding), which is how hardware can reuse a
forward module. The *conjugate* trick ``conj(dft(conj(x)))`` is bit-exact only for half-even
rounding (truncate and half-up are not odd functions); do not use it for the other modes.

Growth and rounding error (per component, input ``|x.re|, |x.im| <= P``)
------------------------------------------------------------------------
- ``growth(r)`` = max_k sum_n (|cos| + |sin|)(2 pi n k / r): the exact DFT's component bound,
  ``|X.re|, |X.im| <= growth * P``: 2 (r=2), 3.73 (3), 4 (4), 6.31 (5), 8.88 (7), 9.66 (8),
  i.e. 1, 1.9, 2, 2.7, 3.2, 3.3 bits. `output_bound` adds the quantized constants and rounding;
  `output_range`/`output_bits` give the exact signed width over the asymmetric input range
  ``[-2**(b-1), 2**(b-1) - 1]``: for 8-bit inputs 9 (r=2), 10 (3, 4), 11 (5), 12 (7, 8) bits.
- ``operand_growth(r)`` = max row sum |A| (the widest pre-add, a multiplier operand or a wire):
  2 (2, 3), 4 (4, 5), 8 (7: ``a0 + a1 = x1 + x2 - 2x3 - 2x4 + x5 + x6``; 8: ``t7 + t8``).
  The nontrivial (multiplied) operands grow by at most 2 (3), 4 (5), 8 (7), 4 (8).
- ``rounding_error_bound(r, F, rounding, frac_bits)`` = max_k sum_i (|Re O_ki| + |Im O_ki|) *
  rho(F - frac_bits) * 2**-frac_bits over nontrivial products, ``rho`` = 1/2 (half-up/even) or
  ``1 - 2**-k`` (truncate), in input LSBs: the integer module against the same algorithm with
  the quantized constants in exact arithmetic. Half-even, ``frac_bits = 0``: 0 (2, 4), 1 (3),
  2.5 (5), 7 (7: the post-adds weigh products by up to 3), 1 (8). Each fraction bit kept
  through the post-adds (``frac_bits``) halves it.
- Constant quantization (``|C_int / 2**F - c| <= 2**-(F+1)``) is a *linear* error; `matrix_q`
  gives the exact matrix the integer module implements, `error_bound` the total against the DFT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.fft import rounding_error_max
from golden.fixed import IntArray, Rounding, round_shift

__all__ = [
    "MODULE_SIZES",
    "WinogradModule",
    "module",
    "dft_float",
    "dft_int",
    "pre_add",
    "multiply_int",
    "post_add",
    "growth",
    "operand_growth",
    "signal_bounds",
    "output_bound",
    "rounding_error_bound",
    "error_bound",
    "constants",
    "output_bits",
    "output_range",
    "signed_width",
    "check_const_bits",
    "check_frac_bits",
    "MAX_CONST_BITS",
]

MODULE_SIZES = (2, 3, 4, 5, 7, 8)
MIN_CONST_BITS, MAX_CONST_BITS = 2, 30
INT64_LIMIT = 1 << 62  # every exact product/sum of the model stays below this (int64, a bit to spare)


@dataclass(frozen=True)
class WinogradModule:
    """One small DFT as data: ``X = post . diag(consts) . pre . x`` (module docstring)."""

    size: int
    pre: IntArray  # (m, r) pre-addition matrix A
    consts: tuple[float, ...]  # (m,) real constants c_i; 1.0 where trivial
    trivial: tuple[bool, ...]  # (m,) product i is a wire (c_i == 1 exactly)
    post_re: IntArray  # (r, m) real part of the post-addition matrix O
    post_im: IntArray  # (r, m) imaginary part of O
    product_names: tuple[str, ...]  # (m,) names of the products (m0, n1, ... as in the equations)
    const_names: tuple[str, ...]  # (m,) the constant and its meaning, e.g. "K1 = (h0 - h2)/3"; "1" when trivial
    const_symbols: tuple[str, ...]  # (m,) short name of the constant ("K1", "c4"); "1" when trivial
    signals: dict[str, tuple[str, NDArray]] = field(default_factory=dict)  # name -> ("pre"|"post", form)

    @property
    def products(self) -> int:
        """m: products including the trivial ones (wires)."""
        return len(self.consts)

    @property
    def multiplies(self) -> int:
        """Nontrivial constant multiplies on complex data (each is 2 real ones on re and im)."""
        return int(sum(not t for t in self.trivial))

    @property
    def post(self) -> NDArray[np.complex128]:
        return self.post_re + 1j * self.post_im

    def const_ints(self, const_bits: int) -> IntArray:
        """``C_int = round(c * 2**F)`` per product (trivial products: 2**F, never used)."""
        check_const_bits(const_bits)
        return np.array([round(c * 2.0**const_bits) for c in self.consts], dtype=np.int64)

    def matrix(self, inverse: bool = False) -> NDArray[np.complex128]:
        """The r x r matrix of the algorithm with exact constants (== the DFT matrix)."""
        post = np.conj(self.post) if inverse else self.post
        return np.asarray(post @ (np.asarray(self.consts)[:, None] * self.pre), dtype=np.complex128)

    def matrix_q(self, const_bits: int, inverse: bool = False) -> NDArray[np.complex128]:
        """The matrix the integer module implements before rounding (quantized constants)."""
        c = np.where(self.trivial, 1.0, self.const_ints(const_bits) / 2.0**const_bits)
        post = np.conj(self.post) if inverse else self.post
        return np.asarray(post @ (c[:, None] * self.pre), dtype=np.complex128)

    def describe(self) -> str:
        """The algorithm as text: pre-adds, products with their constants, outputs."""
        lines = [f"{self.size}-point Winograd DFT: {self.multiplies} constant multiplies, {self.products} products"]
        for name, (kind, form) in self.signals.items():
            lines.append(f"  {kind:4s} {name} = {_form_text(form, kind, self.product_names)}")
        for i, (pname, cname) in enumerate(zip(self.product_names, self.const_names, strict=True)):
            lines.append(
                f"  prod {pname} = {cname} * ({_form_text(self.pre[i], 'pre')})"
                + ("" if self.trivial[i] else f"   [{self.consts[i]:+.15f}]")
            )
        for k in range(self.size):
            lines.append(f"  out  X{k} = {_form_text(self.post[k], 'post', self.product_names)}")
        return "\n".join(lines)


def _form_text(form: NDArray, kind: str, names: tuple[str, ...] | None = None) -> str:
    terms = []
    for i, a in enumerate(np.asarray(form).ravel()):
        if a == 0:
            continue
        sym = f"x{i}" if kind == "pre" else (names[i] if names else f"p{i}")
        a = complex(a)
        coef = {1: "+", -1: "-", 1j: "+j*", -1j: "-j*"}.get(a)
        if coef is None:
            if a.imag == 0:
                coef = f"{int(a.real):+d}*"
            elif a.real == 0:
                coef = f"{int(a.imag):+d}j*"
            else:
                coef = f"+({int(a.real)}{int(a.imag):+d}j)*"
        terms.append(f"{coef}{sym}")
    return " ".join(terms).lstrip("+") or "0"


def check_const_bits(const_bits: int) -> None:
    """``const_bits`` (F) is an integer in 2..30 (30: products of 32-bit operands stay exact in int64)."""
    if not isinstance(const_bits, (int, np.integer)) or not MIN_CONST_BITS <= const_bits <= MAX_CONST_BITS:
        raise ValueError(f"const_bits must be an integer in {MIN_CONST_BITS}..{MAX_CONST_BITS}; got {const_bits!r}")


def check_frac_bits(frac_bits: int, const_bits: int) -> None:
    """``frac_bits`` (f) is an integer in 0..const_bits (a product cannot keep more bits than it has)."""
    if not isinstance(frac_bits, (int, np.integer)) or not 0 <= frac_bits <= const_bits:
        raise ValueError(f"frac_bits must be an integer in 0..const_bits ({const_bits}); got {frac_bits!r}")


# --------------------------------------------------------------------------------------------
# The algorithms, written as equations. A tiny builder turns them into the matrices above, so
# the equations a hardware author reads are the data the models run.
# --------------------------------------------------------------------------------------------


class _Builder:
    """Collects pre-add forms (integer vectors over x), products and post-add forms."""

    def __init__(self, r: int) -> None:
        self.r = r
        self.pre_rows: list[IntArray] = []
        self.consts: list[float] = []
        self.trivial: list[bool] = []
        self.pnames: list[str] = []
        self.cnames: list[str] = []
        self.symbols: list[str] = []
        self.signals: dict[str, tuple[str, NDArray]] = {}
        self.post_signals: dict[str, dict[int, complex]] = {}

    def x(self) -> list[IntArray]:
        return [np.eye(self.r, dtype=np.int64)[i] for i in range(self.r)]

    def pre(self, name: str, form: IntArray) -> IntArray:
        self.signals[name] = ("pre", np.asarray(form, dtype=np.int64))
        return form

    def mul(
        self, name: str, form: IntArray, const: float = 1.0, symbol: str = "1", meaning: str = ""
    ) -> dict[int, complex]:
        """Register product ``name = const * form`` (``symbol`` names the constant, "1" for a
        wire); returns it as a post-add form."""
        self.pre_rows.append(np.asarray(form, dtype=np.int64))
        self.consts.append(float(const))
        self.trivial.append(symbol == "1")
        self.pnames.append(name)
        self.symbols.append(symbol)
        self.cnames.append(symbol if not meaning else f"{symbol} = {meaning}")
        return {len(self.consts) - 1: 1 + 0j}

    def post(self, name: str, form: dict[int, complex]) -> dict[int, complex]:
        self.post_signals[name] = form
        return form

    def build(self, outputs: list[dict[int, complex]]) -> WinogradModule:
        m = len(self.consts)

        def dense(form: dict[int, complex]) -> NDArray[np.complex128]:
            v = np.zeros(m, dtype=np.complex128)
            for i, a in form.items():
                v[i] += a
            return v

        post = np.array([dense(f) for f in outputs])
        signals = dict(self.signals)
        signals.update({name: ("post", dense(f)) for name, f in self.post_signals.items()})
        for arr in (post.real, post.imag):
            if not np.array_equal(arr, np.round(arr)):
                raise AssertionError("post-additions must be Gaussian integers")
        return WinogradModule(
            self.r,
            np.array(self.pre_rows, dtype=np.int64),
            tuple(self.consts),
            tuple(self.trivial),
            post.real.astype(np.int64),
            post.imag.astype(np.int64),
            tuple(self.pnames),
            tuple(self.cnames),
            tuple(self.symbols),
            signals,
        )


def _add(*forms: tuple[complex, dict[int, complex]]) -> dict[int, complex]:
    """Linear combination sum(a * f) of post-add forms (a: Gaussian integer)."""
    out: dict[int, complex] = {}
    for a, f in forms:
        for i, v in f.items():
            out[i] = out.get(i, 0) + a * v
    return {i: v for i, v in out.items() if v != 0}


J = 1j


def _dft2(b: _Builder) -> list[dict[int, complex]]:
    x = b.x()
    m0 = b.mul("m0", x[0] + x[1])
    m1 = b.mul("m1", x[0] - x[1])
    return [m0, m1]


def _dft3(b: _Builder) -> list[dict[int, complex]]:
    """Winograd/Burrus 3-point: ``X0 = x0 + t1``, ``X1,2 = X0 + c1 t1 -/+ j s1 (x1 - x2)`` with
    ``c1 = cos(2pi/3) - 1 = -3/2`` (the one constant with |c| >= 1: its product is one bit wider
    than its operand) and ``s1 = sin(2pi/3)``. Since ``c1 * 2**F`` is exact, ``X0 + R(c1 t1)``
    equals ``x0 + R(-t1 / 2)``: the form with the constant -1/2 gives the same integers."""
    x = b.x()
    t1 = b.pre("t1", x[1] + x[2])
    m0 = b.mul("m0", x[0] + t1)
    m1 = b.mul("m1", t1, math.cos(2 * math.pi / 3) - 1, "c1", "cos(2pi/3) - 1 = -3/2")
    m2 = b.mul("m2", x[1] - x[2], math.sin(2 * math.pi / 3), "s1", "sin(2pi/3)")
    s1 = b.post("s1", _add((1, m0), (1, m1)))
    return [m0, _add((1, s1), (-J, m2)), _add((1, s1), (J, m2))]


def _dft4(b: _Builder) -> list[dict[int, complex]]:
    x = b.x()
    t1 = b.pre("t1", x[0] + x[2])
    t2 = b.pre("t2", x[1] + x[3])
    m0 = b.mul("m0", t1 + t2)
    m1 = b.mul("m1", t1 - t2)
    m2 = b.mul("m2", x[0] - x[2])
    m3 = b.mul("m3", x[1] - x[3])
    return [m0, _add((1, m2), (-J, m3)), m1, _add((1, m2), (J, m3))]


def _dft5(b: _Builder) -> list[dict[int, complex]]:
    """Winograd 5-point, u = 2 pi / 5, with (sin u + sin 2u) halved and doubled in the post-adds
    so that every |c| < 1 (products never wider than their operand)."""
    u = 2 * math.pi / 5
    x = b.x()
    t1 = b.pre("t1", x[1] + x[4])
    t2 = b.pre("t2", x[2] + x[3])
    t3 = b.pre("t3", x[1] - x[4])
    t4 = b.pre("t4", x[3] - x[2])
    t5 = b.pre("t5", t1 + t2)
    m0 = b.mul("m0", x[0])
    m1 = b.mul("m1", t5)
    m2 = b.mul("m2", t5, (math.cos(u) + math.cos(2 * u)) / 2, "C1", "(cos u + cos 2u)/2 = -1/4")
    m3 = b.mul("m3", t1 - t2, (math.cos(u) - math.cos(2 * u)) / 2, "C2", "(cos u - cos 2u)/2")
    m4 = b.mul("m4", t3 + t4, math.sin(u), "S1", "sin u")
    m5 = b.mul("m5", t4, (math.sin(u) + math.sin(2 * u)) / 2, "S2", "(sin u + sin 2u)/2")
    m6 = b.mul("m6", t3, math.sin(u) - math.sin(2 * u), "S3", "sin u - sin 2u")
    s1 = b.post("s1", _add((1, m0), (1, m2)))
    s2 = b.post("s2", _add((1, s1), (1, m3)))
    s4 = b.post("s4", _add((1, s1), (-1, m3)))
    q1 = b.post("q1", _add((1, m4), (-2, m5)))
    q2 = b.post("q2", _add((1, m4), (-1, m6)))
    return [
        _add((1, m0), (1, m1)),
        _add((1, s2), (-J, q1)),
        _add((1, s4), (-J, q2)),
        _add((1, s4), (J, q2)),
        _add((1, s2), (J, q1)),
    ]


def _dft7(b: _Builder) -> list[dict[int, complex]]:
    """/work/shared/WINOGRAD7.md: Rader by the generator 3, folded by +-1, a 3-point cyclic
    (cosine) and a 3-point negacyclic (sine) convolution with 4 multiplies each."""
    h = (math.cos(2 * math.pi / 7), math.cos(6 * math.pi / 7), math.cos(4 * math.pi / 7))
    g = (math.sin(2 * math.pi / 7), math.sin(6 * math.pi / 7), math.sin(4 * math.pi / 7))
    K0, K1, K2 = sum(h) / 3, (h[0] - h[2]) / 3, (h[1] - h[2]) / 3
    L0, L1, L2 = (g[0] - g[1] + g[2]) / 3, (g[0] - g[2]) / 3, (g[1] + g[2]) / 3
    x = b.x()
    s1, s2, s3 = b.pre("s1", x[1] + x[6]), b.pre("s2", x[2] + x[5]), b.pre("s3", x[3] + x[4])
    d1, d2, d3 = b.pre("d1", x[1] - x[6]), b.pre("d2", x[2] - x[5]), b.pre("d3", x[3] - x[4])
    S = b.pre("S", s1 + s2 + s3)
    a0, a1 = b.pre("a0", s1 - s3), b.pre("a1", s2 - s3)
    b0, b1, b2 = d1, -d2, -d3
    T = b.pre("T", b0 - b1 + b2)
    e, f = b.pre("e", b0 - b2), b.pre("f", b1 + b2)
    p0 = b.mul("x0", x[0])
    pS = b.mul("S", S)
    m0 = b.mul("m0", S, K0, "K0", "(h0 + h1 + h2)/3 = -1/6")
    m1 = b.mul("m1", a0, K1, "K1", "(h0 - h2)/3")
    m2 = b.mul("m2", a1, K2, "K2", "(h1 - h2)/3")
    m3 = b.mul("m3", a0 + a1, K1 + K2, "K3", "K1 + K2")
    n0 = b.mul("n0", T, L0, "L0", "(g0 - g1 + g2)/3")
    n1 = b.mul("n1", e, L1, "L1", "(g0 - g2)/3")
    n2 = b.mul("n2", f, L2, "L2", "(g1 + g2)/3")
    n3 = b.mul("n3", e + f, L1 + L2, "L3", "L1 + L2")
    c0 = b.post("c0", _add((1, m1), (-1, m2)))
    c1 = b.post("c1", _add((1, m3), (-1, m1), (-2, m2)))
    r0 = b.post("r0", _add((1, m0), (2, c0), (-1, c1)))
    r1 = b.post("r1", _add((1, m0), (2, c1), (-1, c0)))
    r2 = b.post("r2", _add((1, m0), (-1, c0), (-1, c1)))
    u0 = b.post("u0", _add((1, n1), (-1, n2)))
    u1 = b.post("u1", _add((1, n3), (-1, n1)))
    q0 = b.post("q0", _add((1, n0), (2, u0), (1, u1)))
    q1 = b.post("q1", _add((-1, n0), (1, u0), (2, u1)))
    q2 = b.post("q2", _add((1, n0), (-1, u0), (1, u1)))
    e0 = b.post("e0", _add((1, p0), (1, r0)))
    e1 = b.post("e1", _add((1, p0), (1, r1)))
    e2 = b.post("e2", _add((1, p0), (1, r2)))
    return [
        _add((1, p0), (1, pS)),
        _add((1, e0), (-J, q0)),
        _add((1, e2), (-J, q2)),
        _add((1, e1), (-J, q1)),
        _add((1, e1), (J, q1)),
        _add((1, e2), (J, q2)),
        _add((1, e0), (J, q0)),
    ]


def _dft8(b: _Builder) -> list[dict[int, complex]]:
    """Winograd 8-point: even/odd 4-point halves; W8 and W8**3 reduce to 2 multiplies by cos(pi/4)."""
    c = math.cos(math.pi / 4)
    x = b.x()
    t1, t2 = b.pre("t1", x[0] + x[4]), b.pre("t2", x[2] + x[6])
    t3, t4 = b.pre("t3", x[1] + x[5]), b.pre("t4", x[1] - x[5])
    t5, t6 = b.pre("t5", x[3] + x[7]), b.pre("t6", x[3] - x[7])
    t7, t8 = b.pre("t7", t1 + t2), b.pre("t8", t3 + t5)
    m0 = b.mul("m0", t7 + t8)
    m1 = b.mul("m1", t7 - t8)
    m2 = b.mul("m2", t1 - t2)
    m3 = b.mul("m3", x[0] - x[4])
    m4 = b.mul("m4", t4 - t6, c, "c4", "cos(pi/4)")
    m5 = b.mul("m5", t3 - t5)
    m6 = b.mul("m6", x[2] - x[6])
    m7 = b.mul("m7", t4 + t6, c, "c4", "cos(pi/4)")
    s1 = b.post("s1", _add((1, m3), (1, m4)))
    s2 = b.post("s2", _add((1, m6), (1, m7)))
    s3 = b.post("s3", _add((1, m3), (-1, m4)))
    s4 = b.post("s4", _add((1, m6), (-1, m7)))
    return [
        m0,
        _add((1, s1), (-J, s2)),
        _add((1, m2), (-J, m5)),
        _add((1, s3), (J, s4)),
        m1,
        _add((1, s3), (-J, s4)),
        _add((1, m2), (J, m5)),
        _add((1, s1), (J, s2)),
    ]


_ALGORITHMS: dict[int, Callable[[_Builder], list[dict[int, complex]]]] = {
    2: _dft2,
    3: _dft3,
    4: _dft4,
    5: _dft5,
    7: _dft7,
    8: _dft8,
}


@cache
def module(r: int) -> WinogradModule:
    """The ``r``-point module (r in `MODULE_SIZES`)."""
    if r not in _ALGORITHMS:
        raise ValueError(f"no Winograd module for {r} points; available: {MODULE_SIZES}")
    b = _Builder(r)
    mod = b.build(_ALGORITHMS[r](b))
    for arr in (mod.pre, mod.post_re, mod.post_im):
        arr.setflags(write=False)
    return mod


# --------------------------------------------------------------------------------------------
# Float and integer evaluation (along the last axis; any leading batch axes)
# --------------------------------------------------------------------------------------------


def _last_axis(x: NDArray, r: int, name: str) -> None:
    if x.ndim < 1 or x.shape[-1] != r:
        raise ValueError(f"{name} must have the module size {r} on its last axis; got shape {x.shape}")


def dft_float(r: int, x: ArrayLike, *, inverse: bool = False) -> NDArray[np.complex128]:
    """The float algorithm (exact constants, same pre/post-adds) on (..., r): == numpy.fft.fft
    (``inverse``: ``r * numpy.fft.ifft``, unnormalised)."""
    mod = module(r)
    xa = np.asarray(x, dtype=np.complex128)
    _last_axis(xa, r, "x")
    u = xa @ mod.pre.T.astype(np.float64)
    v = u * np.asarray(mod.consts)
    post = np.conj(mod.post) if inverse else mod.post
    return v @ post.T


def pre_add(r: int, x_re: ArrayLike, x_im: ArrayLike) -> tuple[IntArray, IntArray]:
    """``u = A x`` on integer (..., r) -> (..., m): exact pre-additions."""
    mod = module(r)
    re, im = (np.asarray(v, dtype=np.int64) for v in (x_re, x_im))
    _last_axis(re, r, "x_re")
    _last_axis(im, r, "x_im")
    a = mod.pre.T
    return re @ a, im @ a


def multiply_int(
    r: int, u_re: ArrayLike, u_im: ArrayLike, *, const_bits: int, rounding: Rounding, frac_bits: int = 0
) -> tuple[IntArray, IntArray]:
    """``v_i = R(u_i * C_int[i], F - f)`` per component, ``v_i = u_i << f`` for trivial
    products; (..., m) -> (..., m), ``f = frac_bits``."""
    mod = module(r)
    check_frac_bits(frac_bits, const_bits)
    re, im = (np.asarray(v, dtype=np.int64) for v in (u_re, u_im))
    _last_axis(re, mod.products, "u_re")
    _last_axis(im, mod.products, "u_im")
    c = mod.const_ints(const_bits)
    peak = max(int(np.abs(re).max(initial=0)), int(np.abs(im).max(initial=0)))
    if peak * int(np.abs(c).max()) >= INT64_LIMIT:
        raise ValueError(f"operands up to {peak} times {const_bits}-bit constants exceed the exact int64 model")
    triv = np.asarray(mod.trivial)
    rnd = Rounding(rounding)
    if peak >= INT64_LIMIT >> frac_bits:
        raise ValueError(f"operands up to {peak} shifted by {frac_bits} fraction bits exceed the exact int64 model")
    out_re = np.where(triv, re << frac_bits, round_shift(re * c, const_bits - frac_bits, rnd))
    out_im = np.where(triv, im << frac_bits, round_shift(im * c, const_bits - frac_bits, rnd))
    return out_re, out_im


def post_add(r: int, v_re: ArrayLike, v_im: ArrayLike, *, inverse: bool = False) -> tuple[IntArray, IntArray]:
    """``X = O v`` (inverse: ``conj(O) v``) on integer (..., m) -> (..., r): exact post-additions."""
    mod = module(r)
    re, im = (np.asarray(v, dtype=np.int64) for v in (v_re, v_im))
    _last_axis(re, mod.products, "v_re")
    _last_axis(im, mod.products, "v_im")
    o_re, o_im = mod.post_re.T, (-mod.post_im.T if inverse else mod.post_im.T)
    return re @ o_re - im @ o_im, re @ o_im + im @ o_re


def dft_int(
    r: int,
    x_re: ArrayLike,
    x_im: ArrayLike,
    *,
    const_bits: int,
    rounding: Rounding,
    inverse: bool = False,
    frac_bits: int = 0,
) -> tuple[IntArray, IntArray]:
    """The bit-exact integer ``r``-point module on (..., r) integer frames (module docstring).

    No right shift and no saturation here: the caller (a PFA stage) rounds the exact module
    output by its stage shift and narrows it. The output, in units of ``2**-frac_bits`` input
    LSBs, is bounded by `output_bound` (about ``log2 growth(r) + frac_bits`` bits of growth).
    """
    u_re, u_im = pre_add(r, x_re, x_im)
    v_re, v_im = multiply_int(r, u_re, u_im, const_bits=const_bits, rounding=rounding, frac_bits=frac_bits)
    return post_add(r, v_re, v_im, inverse=inverse)


# --------------------------------------------------------------------------------------------
# Bounds (per real component, for complex input with |re|, |im| <= P)
# --------------------------------------------------------------------------------------------


def _component_l1(rows: ArrayLike) -> NDArray[np.float64]:
    """Per row, max over inputs with |re|, |im| <= 1 of |Re(row . z)| (= of |Im|): sum |Re| + |Im|."""
    a = np.atleast_2d(np.asarray(rows, dtype=np.complex128))
    return np.asarray(np.sum(np.abs(a.real) + np.abs(a.imag), axis=-1), dtype=np.float64)


def growth(r: int) -> float:
    """max_k sum_n (|cos| + |sin|)(2 pi n k / r): the exact DFT's per-component gain."""
    n = np.arange(r)
    return float(_component_l1(np.exp(-2j * np.pi * np.outer(n, n) / r)).max())


def operand_growth(r: int) -> int:
    """max_i sum_n |A_in|: the widest pre-add (constant multiplier operand) over the input."""
    return int(np.abs(module(r).pre).sum(axis=1).max())


def signal_bounds(r: int, const_bits: int | None = None) -> dict[str, float]:
    """Per named intermediate signal and product (and ``X<k>``), its component gain over the
    input: ``|signal.re|, |signal.im| <= gain * P`` in exact arithmetic (quantized constants if
    ``const_bits`` is given). Add `rounding_error_bound`-style terms for the integer module."""
    mod = module(r)
    c = (
        np.asarray(mod.consts)
        if const_bits is None
        else np.where(mod.trivial, 1.0, mod.const_ints(const_bits) / 2.0**const_bits)
    )
    out: dict[str, float] = {}
    for name, (kind, form) in mod.signals.items():
        out[name] = (
            float(np.abs(form).sum()) if kind == "pre" else float(_component_l1(form @ (c[:, None] * mod.pre))[0])
        )
    for i, name in enumerate(mod.product_names):
        out[f"prod {name}"] = float(abs(c[i]) * np.abs(mod.pre[i]).sum())
    rows = mod.post @ (c[:, None] * mod.pre)
    for k, g in enumerate(_component_l1(rows)):
        out[f"X{k}"] = float(g)
    return out


def rounding_error_bound(r: int, const_bits: int, rounding: Rounding, frac_bits: int = 0) -> float:
    """Worst-case |dft_int - matrix_q . x| per output component, in input LSBs (module docstring)."""
    check_frac_bits(frac_bits, const_bits)
    mod = module(r)
    nontrivial = ~np.asarray(mod.trivial)
    gain = (np.abs(mod.post_re) + np.abs(mod.post_im))[:, nontrivial].sum(axis=1).max(initial=0)
    return float(gain) * rounding_error_max(const_bits - frac_bits, rounding) * 2.0**-frac_bits


def output_bound(r: int, input_peak: float, const_bits: int, rounding: Rounding, frac_bits: int = 0) -> float:
    """Largest |X.re|, |X.im| of `dft_int` (integer units, ``2**-frac_bits`` input LSBs) for
    inputs with |re|, |im| <= input_peak."""
    mod = module(r)
    q = float(_component_l1(mod.matrix_q(const_bits)).max())
    return (q * input_peak + rounding_error_bound(r, const_bits, rounding, frac_bits)) * 2.0**frac_bits


def error_bound(r: int, input_peak: float, const_bits: int, rounding: Rounding, frac_bits: int = 0) -> float:
    """Worst-case |dft_int(x) / 2**frac_bits - DFT(x)| per component (input LSBs) for |re|, |im|
    <= input_peak: constant quantization (exact over all such inputs) plus rounding."""
    mod = module(r)
    n = np.arange(r)
    exact = np.exp(-2j * np.pi * np.outer(n, n) / r)
    const_err = float(_component_l1(mod.matrix_q(const_bits) - exact).max()) * input_peak
    return const_err + rounding_error_bound(r, const_bits, rounding, frac_bits)


def constants(r: int, const_bits: int) -> dict[str, int]:
    """The integer constants ``C = round(c * 2**F)`` by symbol (a symbol used twice, like the
    8-point's ``c4``, appears once): {} (2, 4), c1 = -3/2 and s1 (3), C1..C2, S1..S3 (5),
    K0..K3, L0..L3 (7), c4 = cos(pi/4) (8)."""
    mod = module(r)
    ints = mod.const_ints(const_bits)
    return {sym: int(c) for sym, c, t in zip(mod.const_symbols, ints, mod.trivial, strict=True) if not t}


def output_range(r: int, in_bits: int, const_bits: int, rounding: Rounding, frac_bits: int = 0) -> tuple[float, float]:
    """(lo, hi) bounding every output re/im of `dft_int` for inputs in ``[-2**(in_bits-1),
    2**(in_bits-1) - 1]``: the exact extremes of ``matrix_q . x`` over that (asymmetric) range,
    widened by `rounding_error_bound`, in output units (``2**-frac_bits`` input LSBs)."""
    m = module(r).matrix_q(const_bits)
    coef = np.concatenate([m.real, -m.imag], axis=1), np.concatenate([m.imag, m.real], axis=1)  # re, im rows
    lo_in, hi_in = -(2.0 ** (in_bits - 1)), 2.0 ** (in_bits - 1) - 1
    hi = max(float(np.max(np.sum(np.maximum(c * lo_in, c * hi_in), axis=1))) for c in coef)
    lo = min(float(np.min(np.sum(np.minimum(c * lo_in, c * hi_in), axis=1))) for c in coef)
    e = rounding_error_bound(r, const_bits, rounding, frac_bits)
    return (lo - e) * 2.0**frac_bits, (hi + e) * 2.0**frac_bits


@cache
def output_bits(
    r: int, in_bits: int, const_bits: int | None = None, *, rounding: Rounding | None = None, frac_bits: int = 0
) -> int:
    """Signed width that holds every output re/im of `dft_int` for ``in_bits``-bit inputs
    (`output_range`). Without ``const_bits`` (and/or ``rounding``) the width holds for every
    const_bits in max(2, frac_bits)..30 (and every rounding mode): coarse constants change the gain.
    E.g. 8-bit inputs: 9 (r=2), 10 (3, 4), 11 (5), 12 (7, 8)."""
    if not isinstance(in_bits, (int, np.integer)) or not 1 <= in_bits <= 40:
        raise ValueError(f"in_bits must be an integer in 1..40; got {in_bits!r}")
    fs = range(max(MIN_CONST_BITS, frac_bits), MAX_CONST_BITS + 1) if const_bits is None else (const_bits,)
    modes = tuple(Rounding) if rounding is None else (Rounding(rounding),)
    width = 1
    for f in fs:
        for mode in modes:
            lo, hi = output_range(r, in_bits, f, mode, frac_bits)
            # outputs are integers; the margin absorbs float64 rounding of the bound itself
            width = max(width, signed_width(math.ceil(lo - 1e-6), math.floor(hi + 1e-6)))
    return width


def signed_width(lo: int, hi: int) -> int:
    """Smallest signed width holding every integer in [lo, hi]."""
    need_hi = hi.bit_length() + 1 if hi > 0 else 1
    need_lo = (-lo - 1).bit_length() + 1 if lo < 0 else 1
    return max(need_hi, need_lo)
