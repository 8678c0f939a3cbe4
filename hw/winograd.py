"""Small complex DFT modules (r = 2, 3, 4, 5, 7, 8): pre-adds, constant multiplies, post-adds.

The building blocks of the planned native (Good-Thomas) engine, docs/architecture.md section
6: 56 = 8 x 7, 28 = 4 x 7, 14 = 2 x 7, so every DFT it needs is one of these. Winograd's
short DFTs multiply only by *constants* (none for r = 2 and 4, cos(pi/4) twice for r = 8,
8 real constants for r = 7), so each multiply is a `hw.csd.ConstantMultiplier`: a
shift-add tree in LUTs (``impl="csd"``) or one DSP (``impl="dsp"``).

Arithmetic: exactly `golden.winograd.dft_int` (`WinogradDft.model` calls it). The golden
module is data, ``X = O . diag(c) . A . x`` (`golden.winograd.module`), and so is the
hardware: it is compiled from that same data, not from a second copy of the equations.

    pre-adds     u = A x                          exact sums, one register stage per add
    products     v_i = R(u_i * C_i, F - f)        ConstantMultiplier, then a rounding register
                 v_i = u_i << f                   (trivial products: wires)
    post-adds    X = O v   (inverse: conj(O) v)   exact sums, one register stage per add

Sums are exact, so the only place the hardware could differ from the model is a rounding,
and every rounding is `hw.fixed.round_shift` of the same exact product ``u_i * C_i`` that
the golden model rounds: a sign or factor 2 in front of a multiplier operand is folded into
its constant, never applied after the rounding (``R(-v C) != -R(v C)`` for truncation).

How the adds are found (`_Composer`): each value the golden module names (its pre-add and
post-add signals, e.g. the equations of WINOGRAD7.md, then the multiplier operands and the
outputs) is built, in the golden order, as ``k1 a + k2 b`` (or ``k1 a + k2 b + k3 c``) of
values already built, with k in {+-1, +-2} and, after the products, {+-j, +-2j}; a factor
2 is a shift and j a swap of re/im with one sign, so each such step is one adder or
subtractor per component. Whatever cannot be composed that way is summed from scratch.
The choice only decides the adder structure; every choice gives the same integers.

How the pipeline is scheduled (`_Dataflow`): every add is a register, every multiply a
`ConstantMultiplier` (all padded to the slowest constant's latency) plus one register that
rounds. Each node runs as soon as its operands exist; operands that arrive early wait in
delay registers shared by all their readers, so the latency is the longest path and all
outputs leave together. Negations and factors 2 ride on the references to a value (`_Ref`)
and cost nothing: they choose adder or subtractor, or go into a multiplier's constant.
Each register is as wide as a proven bound on its value: exact linear forms over the input
components and the products' rounding errors (exact ranges for the pre-adds; the post-adds
count each rounding error at its worst, and their outputs are checked to fit golden's
`output_bits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np
from amaranth.hdl import Module, ShapeLike, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike

from golden import winograd as gw
from golden.fixed import IntArray, Rounding
from hw import fixed as hf
from hw.complex_mul import complex_layout
from hw.csd import IMPLS, INT64_MODEL_BITS, ConstantMultiplier, Impl, csd_digits, product_bits, signed_bits
from hw.pipeline import delay

__all__ = ["WinogradDft", "WinogradDftStream", "SIZES"]

SIZES: tuple[int, ...] = tuple(gw.MODULE_SIZES)
MAX_IN_BITS = 32


# --- the dataflow graph ----------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    """One real value of the pipeline, valid ``level`` enabled cycles after the input.

    ``kind`` and ``args``: "input" ``(sample, "re"|"im")``; "add" ``((a, ka), (b, kb))``, the
    value ``ka * a + kb * b`` with ka, kb = +-2**n and not both negative; "mul" ``(a, C)``,
    the exact ``a * C``; "round" ``(mul,)``; "scale" ``(a, k)``, ``k * a`` in a register (an
    output that would otherwise carry a sign). ``form`` is the value as an exact linear form
    over the variables of its `_Dataflow`, and ``lo``/``hi`` its range.
    """

    kind: str
    level: int
    args: tuple
    form: dict[int, Fraction]
    lo: int
    hi: int

    @property
    def bits(self) -> int:
        return signed_bits(self.lo, self.hi)

    def sources(self) -> list[_Node]:
        if self.kind == "add":
            return [self.args[0][0], self.args[1][0]]
        return [self.args[0]] if self.kind in ("mul", "round", "scale") else []


@dataclass(frozen=True)
class _Ref:
    """``coef * node``: a node with a pending factor +-2**n (a sign, a shift) not yet applied."""

    node: _Node
    coef: int = 1


@dataclass
class _Dataflow:
    """Records adds and constant multiplies as a scheduled graph (no Amaranth here).

    Variables of the linear forms: the 2r input components (their integer ranges) and one
    rounding error per product (the range of ``R(p, s) - p / 2**s``).
    """

    in_bits: int
    shift: int  # F - f: bits each product is rounded by
    rounding: Rounding
    mul_latency: int = 1
    variables: list[tuple[Fraction, Fraction]] = field(default_factory=list)
    nodes: list[_Node] = field(default_factory=list)

    def _node(self, kind: str, level: int, args: tuple, form: dict[int, Fraction]) -> _Node:
        form = {v: c for v, c in form.items() if c}
        lo = sum((min(c * self.variables[v][0], c * self.variables[v][1]) for v, c in form.items()), Fraction(0))
        hi = sum((max(c * self.variables[v][0], c * self.variables[v][1]) for v, c in form.items()), Fraction(0))
        node = _Node(kind, level, args, form, math.ceil(lo), math.floor(hi))
        self.nodes.append(node)
        return node

    def _variable(self, lo: Fraction | int, hi: Fraction | int) -> int:
        self.variables.append((Fraction(lo), Fraction(hi)))
        return len(self.variables) - 1

    def input(self, sample: int, part: str) -> _Ref:
        var = self._variable(-(1 << (self.in_bits - 1)), (1 << (self.in_bits - 1)) - 1)
        return _Ref(self._node("input", 0, (sample, part), {var: Fraction(1)}))

    def add(self, a: _Ref, b: _Ref) -> _Ref:
        """``a + b`` in one register stage: an adder, or a subtractor when the signs differ
        (both negative: the sum of the magnitudes, with the sign left pending)."""
        sign = -1 if a.coef < 0 and b.coef < 0 else 1
        ca, cb = a.coef * sign, b.coef * sign
        form: dict[int, Fraction] = {}
        for node, c in ((a.node, ca), (b.node, cb)):
            for v, k in node.form.items():
                form[v] = form.get(v, Fraction(0)) + c * k
        level = max(a.node.level, b.node.level) + 1
        return _Ref(self._node("add", level, ((a.node, ca), (b.node, cb)), form), sign)

    def multiply(self, a: _Ref, constant: int) -> _Ref:
        """``R(value(a) * constant, shift)``: a `ConstantMultiplier` by ``coef * constant`` (the
        pending sign and shift belong to the exact product), then a register that rounds."""
        c = a.coef * int(constant)
        mul = self._node(
            "mul", a.node.level + self.mul_latency, (a.node, c), {v: k * c for v, k in a.node.form.items()}
        )
        s = self.shift
        if s == 0:
            error = self._variable(0, 0)
        elif self.rounding is Rounding.TRUNCATE:  # floor(p / 2**s) - p / 2**s, p an integer
            error = self._variable(Fraction(1 - (1 << s), 1 << s), 0)
        elif self.rounding is Rounding.HALF_UP:
            error = self._variable(Fraction(1 - (1 << (s - 1)), 1 << s), Fraction(1, 2))
        else:
            error = self._variable(Fraction(-1, 2), Fraction(1, 2))
        form = {v: k / (1 << s) for v, k in mul.form.items()} | {error: Fraction(1)}
        return _Ref(self._node("round", mul.level + 1, (mul,), form))

    def settle(self, a: _Ref) -> _Node:
        """A node holding exactly ``value(a)``: the node itself, or one more register that
        applies the pending factor (only an output that would otherwise carry a sign)."""
        if a.coef == 1:
            return a.node
        return self._node("scale", a.node.level + 1, (a.node, a.coef), {v: a.coef * k for v, k in a.node.form.items()})

    def keep_only(self, roots: list[_Node]) -> None:
        """Drop every node no root depends on (a golden signal the structure did not use)."""
        live: set[int] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if id(node) not in live:
                live.add(id(node))
                stack.extend(node.sources())
        self.nodes = [n for n in self.nodes if id(n) in live]


@dataclass(frozen=True, eq=False)
class _Complex:
    """A complex value of the graph: two references, one per component."""

    flow: _Dataflow
    re: _Ref
    im: _Ref

    @property
    def level(self) -> int:
        return max(self.re.node.level, self.im.node.level)

    def __add__(self, other: _Complex) -> _Complex:
        return _Complex(self.flow, self.flow.add(self.re, other.re), self.flow.add(self.im, other.im))

    def times(self, k: complex) -> _Complex:
        """``k * self`` for k = +-2**n or +-2**n j: no hardware, only signs, shifts, a swap."""
        re_k, im_k = int(k.real), int(k.imag)
        if k != complex(re_k, im_k) or (re_k != 0) == (im_k != 0):
            raise ValueError(f"only +-2**n and +-2**n j are free factors; got {k}")
        scale = re_k or im_k
        if abs(scale) & (abs(scale) - 1):
            raise ValueError(f"only +-2**n and +-2**n j are free factors; got {k}")
        re, im = (self.re, self.im) if re_k else (_Ref(self.im.node, -self.im.coef), self.re)  # j z = (-im, re)
        return _Complex(self.flow, _Ref(re.node, scale * re.coef), _Ref(im.node, scale * im.coef))

    def multiplied(self, constant: int) -> _Complex:
        """Both components times the integer ``constant``, each rounded (`_Dataflow.multiply`)."""
        return _Complex(self.flow, self.flow.multiply(self.re, constant), self.flow.multiply(self.im, constant))


def _sum(terms: list[_Complex]) -> _Complex:
    """The sum of ``terms``, the two earliest first (a tree as shallow as their levels allow)."""
    terms = sorted(terms, key=lambda z: z.level)
    while len(terms) > 1:
        a, b = terms.pop(0), terms.pop(0)
        s = a + b
        k = 0
        while k < len(terms) and terms[k].level <= s.level:
            k += 1
        terms.insert(k, s)
    return terms[0]


def _csd_powers(n: int) -> list[int]:
    """``n`` as signed powers of two (canonical signed digits): 3 -> [-1, 4]."""
    return [sign << shift for sign, shift in csd_digits(n)]


PRE_UNITS: tuple[complex, ...] = (1, -1, 2, -2)
POST_UNITS: tuple[complex, ...] = (1, -1, 2, -2, 1j, -1j, 2j, -2j)

Vector = tuple[complex, ...]


class _Composer:
    """Builds values given as linear forms (vectors over a basis) from values already built.

    ``make(target)`` returns, in order of preference: a known value times a free factor (no
    hardware); ``k1 a + k2 b`` (one add per component); ``(k1 a + k2 b) + k3 c`` (two); or
    the sum of the basis terms, each coefficient split into signed powers of two. Among the
    ways of the same kind it takes the one whose result is ready first. Every value made
    (and every intermediate) becomes available to the next targets.
    """

    def __init__(self, basis: list[_Complex], units: tuple[complex, ...]) -> None:
        self.units = units
        self.basis = basis
        size = len(basis)
        self.values: list[tuple[Vector, _Complex]] = []
        self.scaled: dict[Vector, tuple[complex, int]] = {}  # k * vector -> (k, index)
        for n, z in enumerate(basis):
            self._remember(tuple(complex(int(n == i)) for i in range(size)), z)

    def _remember(self, vec: Vector, z: _Complex) -> None:
        index = len(self.values)
        self.values.append((vec, z))
        for k in self.units:
            self.scaled.setdefault(tuple(k * v for v in vec), (k, index))

    def _found(self, vec: Vector) -> _Complex | None:
        hit = self.scaled.get(vec)
        if hit is None:
            return None
        k, index = hit
        return self.values[index][1].times(k)

    def make(self, target: ArrayLike) -> _Complex:
        t: Vector = tuple(complex(v) for v in np.asarray(target).ravel())
        if not any(t):
            raise ValueError("a Winograd signal is identically zero")
        found = self._found(t)
        if found is not None:
            return found
        z = self._two_terms(t) or self._three_terms(t) or self._from_basis(t)
        self._remember(t, z)
        return z

    @staticmethod
    def _minus(t: Vector, k: complex, vec: Vector) -> Vector:
        return tuple(a - k * b for a, b in zip(t, vec, strict=True))

    def _two_terms(self, t: Vector) -> _Complex | None:
        best: tuple[int, _Complex, _Complex] | None = None
        for vec, z in self.values:
            for k in self.units:
                other = self._found(self._minus(t, k, vec))
                if other is not None:
                    a = z.times(k)
                    level = max(a.level, other.level) + 1
                    if best is None or level < best[0]:
                        best = (level, a, other)
        return None if best is None else best[1] + best[2]

    def _three_terms(self, t: Vector) -> _Complex | None:
        best: tuple[int, list[tuple[Vector, _Complex]]] | None = None
        values = list(self.values)
        for i, (va, za) in enumerate(values):
            for ka in self.units:
                rest = self._minus(t, ka, va)
                for vb, zb in values[i:]:
                    for kb in self.units:
                        vc = self._minus(rest, kb, vb)
                        other = self._found(vc)
                        if other is None:
                            continue
                        a = (tuple(ka * v for v in va), za.times(ka))
                        b = (tuple(kb * v for v in vb), zb.times(kb))
                        terms = sorted([a, b, (vc, other)], key=lambda term: term[1].level)
                        level = max(max(terms[0][1].level, terms[1][1].level) + 1, terms[2][1].level) + 1
                        if best is None or level < best[0]:
                            best = (level, terms)
        if best is None:
            return None
        (va, za), (vb, zb), (_, zc) = best[1]
        ab = za + zb
        self._remember(tuple(x + y for x, y in zip(va, vb, strict=True)), ab)  # an intermediate others may reuse
        return ab + zc

    def _from_basis(self, t: Vector) -> _Complex:
        terms = []
        for n, coef in enumerate(t):
            for unit, part in ((1, coef.real), (1j, coef.imag)):
                terms += [self.basis[n].times(unit * p) for p in _csd_powers(int(part))]
        return _sum(terms)


def _compile(flow: _Dataflow, r: int, const_bits: int, frac_bits: int, inverse: bool) -> list[tuple[_Node, _Node]]:
    """The golden module ``r`` as a scheduled dataflow on ``flow``; the output nodes (re, im)."""
    mod = gw.module(r)
    x = [_Complex(flow, flow.input(n, "re"), flow.input(n, "im")) for n in range(r)]
    pre = _Composer(x, PRE_UNITS)
    for kind, form in mod.signals.values():
        if kind == "pre":
            pre.make(form)
    constants = mod.const_ints(const_bits)
    products = []
    for row, trivial, c in zip(mod.pre, mod.trivial, constants, strict=True):
        u = pre.make(row)
        products.append(u.times(1 << frac_bits) if trivial else u.multiplied(int(c)))
    post = _Composer(products, POST_UNITS)
    turn = np.conj if inverse else (lambda a: a)
    for kind, form in mod.signals.values():
        if kind == "post":
            post.make(turn(form))
    outputs = [post.make(turn(row)) for row in mod.post]
    nodes = [(flow.settle(z.re), flow.settle(z.im)) for z in outputs]
    flow.keep_only([n for pair in nodes for n in pair])
    return nodes


def _check_forms(
    flow: _Dataflow, outputs: list[tuple[_Node, _Node]], r: int, const_bits: int, frac_bits: int, inverse: bool
) -> None:
    """Every output's coefficients on the inputs are golden's ``matrix_q * 2**f``: a proof that
    the compiled adds are the golden algorithm, not only a sample of it."""
    q = gw.module(r).matrix_q(const_bits, inverse) * 2.0**frac_bits
    for k, (re, im) in enumerate(outputs):
        for n in range(r):
            want = {
                (re, 2 * n): q[k, n].real,
                (re, 2 * n + 1): -q[k, n].imag,
                (im, 2 * n): q[k, n].imag,
                (im, 2 * n + 1): q[k, n].real,
            }
            for (node, var), value in want.items():
                got = float(node.form.get(var, 0))
                if abs(got - value) > 1e-9 * max(1.0, abs(value)):
                    raise AssertionError(f"WinogradDft(r={r}): output {k} has {got} on input {var}, golden {value}")


@lru_cache(maxsize=64)
def _schedule(
    r: int, in_bits: int, const_bits: int, frac_bits: int, rounding: Rounding, inverse: bool, mul_latency: int
) -> tuple[_Dataflow, list[tuple[_Node, _Node]]]:
    """`_compile` and `_check_forms`, once per configuration (the graph is read-only)."""
    flow = _Dataflow(in_bits, const_bits - frac_bits, rounding, mul_latency)
    outputs = _compile(flow, r, const_bits, frac_bits, inverse)
    _check_forms(flow, outputs, r, const_bits, frac_bits, inverse)
    return flow, outputs


# --- the component ---------------------------------------------------------------------------


def _shifted(value: Value, coef: int) -> Value:
    """``value * |coef|`` for coef = +-2**n: wiring only."""
    return value << (abs(coef).bit_length() - 1)


class WinogradDft(wiring.Component):
    """One r-point complex DFT per enabled cycle, r samples in and r out in parallel.

    A pure pipeline frozen by ``en`` (the one-enable pattern of `hw.complex_mul`): every
    register loads only in cycles with ``en`` high, so the vector entered on an enabled edge
    leaves on ``y`` exactly ``latency`` enabled edges later, and a caller's valid/tags travel
    beside it through `hw.pipeline.delay`. One transform per clock while ``en`` stays high.

    Parameters
    ----------
    r : int
        Transform size: one of `SIZES` (2, 3, 4, 5, 7, 8).
    in_bits : int
        Signed width of the inputs' re/im (2..32).
    const_bits : int
        F, the constants' fraction bits: ``C = round(c * 2**F)`` (golden's ``const_ints``).
        With |c| < 1 (all but the 3-point's -3/2), F = 16 keeps every constant within an
        18-bit DSP port.
    rounding : golden.fixed.Rounding
        Rounding of each product by ``F - frac_bits`` bits.
    impl : "csd" or "dsp"
        Constant multiplies as shift-add trees in LUTs, or one DSP each (`hw.csd`).
    inverse : bool
        The unnormalised inverse DFT: post-adds with j -> -j (no 1/r).
    frac_bits : int
        f, fraction bits of every product kept through the post-adds (0..F): ``y`` is in units
        of ``2**-f`` input LSBs, for a caller that rounds once later.
    levels_per_register : int
        CSD only: adder levels of each multiplier's tree between registers. 1 is fastest and,
        on ECP5, also the smallest: an unregistered a + b + c leaves the carry chain for LUTs
        (7-point, F = 16: 2 saves 18 % of the registers but costs 29 % more LUT sites).

    Attributes
    ----------
    latency : int
        Enabled cycles from ``x`` to ``y``: the longest path, with one register per add and
        `mul_latency` + 1 (the rounding register) per multiply. It depends on ``impl``
        and, for CSD, on the digit counts of the constants.
    out_bits : int
        Signed width of ``y``'s re/im: `golden.winograd.output_bits` (every output over the
        asymmetric input range; the compiled graph's own exact ranges are checked against it).
    constant_multiplies : int
        Nontrivial products, as Winograd/Burrus count multiplies (r = 7: 8, r = 8: 2 by
        cos(pi/4), r = 3: 2, r = 5: 5, r = 2, 4: 0); golden's ``module(r).multiplies``.
    real_multipliers : int
        `ConstantMultiplier` instances: 2 per constant multiply (re and im).
    constants : dict of str to int
        The integer constants by symbol (`golden.winograd.constants`: K0..K3, L0..L3 for r = 7,
        c4 for r = 8; a constant used twice appears once).
    mul_latency : int
        Latency of every `ConstantMultiplier` (the slowest constant's; the others are padded).
    adders : int
        Add/subtract register stages (pre- and post-adds, both components), not counting the
        CSD trees inside the multipliers.

    Ports
    -----
    en : In(1)
        Pipeline enable.
    x : In(ArrayLayout(complex_layout(in_bits), r))
        The r input samples, read on enabled edges; ``x[n]`` is sample n.
    y : Out(ArrayLayout(complex_layout(out_bits), r))
        Registers: ``y[k]`` is bin k of the transform of the ``x`` entered ``latency``
        enabled edges earlier.
    """

    def __init__(
        self,
        r: int,
        in_bits: int,
        const_bits: int,
        rounding: Rounding,
        impl: Impl = "csd",
        inverse: bool = False,
        *,
        frac_bits: int = 0,
        levels_per_register: int = 1,
    ) -> None:
        problem = None
        if r not in SIZES:
            problem = f"WinogradDft size must be one of {SIZES}; got {r}"
        elif impl not in IMPLS:
            problem = f"WinogradDft impl must be one of {IMPLS}; got {impl!r}"
        elif not 2 <= in_bits <= MAX_IN_BITS:
            problem = f"WinogradDft needs in_bits 2..{MAX_IN_BITS}; got {in_bits}"
        elif not gw.MIN_CONST_BITS <= const_bits <= gw.MAX_CONST_BITS or not 0 <= frac_bits <= const_bits:
            problem = (
                f"WinogradDft needs const_bits {gw.MIN_CONST_BITS}..{gw.MAX_CONST_BITS} and frac_bits "
                f"0..const_bits; got {const_bits}, {frac_bits}"
            )
        elif levels_per_register < 1:
            problem = f"WinogradDft needs levels_per_register >= 1; got {levels_per_register}"
        if problem:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(problem)
        self.r, self.in_bits, self.const_bits, self.frac_bits = r, in_bits, const_bits, frac_bits
        self.rounding, self.impl, self.inverse = Rounding(rounding), impl, bool(inverse)
        self.levels_per_register = levels_per_register
        mod = gw.module(r)
        self.constants = gw.constants(r, const_bits)
        self.mul_latency = max(
            (ConstantMultiplier.natural_latency_of(c, impl, levels_per_register) for c in self.constants.values()),
            default=1,
        )
        flow, outputs = self._graph()
        multipliers = [n for n in flow.nodes if n.kind == "mul"]
        widest_product = max((product_bits(n.args[0].bits, n.args[1]) for n in multipliers), default=0)
        if widest_product > INT64_MODEL_BITS:
            self._MustUse__silence = True
            raise ValueError(
                f"WinogradDft(r={r}): products of {widest_product} bits exceed the int64 model "
                f"(in_bits {in_bits}, const_bits {const_bits})"
            )
        self.latency = max(n.level for pair in outputs for n in pair)
        self.real_multipliers = len(multipliers)
        self.constant_multiplies = mod.multiplies
        self.adders = sum(1 for n in flow.nodes if n.kind in ("add", "scale"))
        self.out_bits = gw.output_bits(r, in_bits, const_bits, rounding=self.rounding, frac_bits=frac_bits)
        widest = max(n.bits for pair in outputs for n in pair)
        if widest > self.out_bits or self.real_multipliers != 2 * mod.multiplies:  # a compiler bug, never an input
            raise AssertionError(
                f"WinogradDft(r={r}): outputs need {widest} bits (golden: {self.out_bits}), "
                f"{self.real_multipliers} multipliers for {mod.multiplies} constant multiplies"
            )
        super().__init__(
            {
                "en": In(1),
                "x": In(data.ArrayLayout(complex_layout(in_bits), r)),
                "y": Out(data.ArrayLayout(complex_layout(self.out_bits), r)),
            }
        )

    def _graph(self) -> tuple[_Dataflow, list[tuple[_Node, _Node]]]:
        return _schedule(
            self.r, self.in_bits, self.const_bits, self.frac_bits, self.rounding, self.inverse, self.mul_latency
        )

    def model(self, x_re: ArrayLike, x_im: ArrayLike) -> tuple[IntArray, IntArray]:
        """``(y.re, y.im)``, each (..., r), for inputs (..., r): `golden.winograd.dft_int`."""
        return gw.dft_int(
            self.r,
            x_re,
            x_im,
            const_bits=self.const_bits,
            rounding=self.rounding,
            inverse=self.inverse,
            frac_bits=self.frac_bits,
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.en
        # Every register here is data whose validity the caller tracks (the module has no
        # valid of its own), so none takes the reset: rst then reaches the control flip-flops
        # only, a net the placer can keep short (at N = 56 the reset fanned out to every
        # module register and led the critical path).
        flow, outputs = self._graph()
        chains: dict[int, list[Value]] = {}  # node -> its value at node.level, +1, +2, ...
        names: dict[int, str] = {}

        def at(node: _Node, level: int) -> Value:
            chain = chains[id(node)]
            while len(chain) <= level - node.level:
                reg = Signal(signed(node.bits), name=f"{names[id(node)]}_d{len(chain)}", reset_less=True)
                with m.If(en):
                    m.d.sync += reg.eq(chain[-1])
                chain.append(reg)
            return chain[level - node.level]

        def register(node: _Node, value: Value) -> Value:
            reg = Signal(signed(node.bits), name=names[id(node)], reset_less=True)
            with m.If(en):
                m.d.sync += reg.eq(value)
            return reg

        for index, node in enumerate(flow.nodes):  # creation order is a topological order
            names[id(node)] = f"{node.kind}{index}"
            if node.kind == "input":
                sample, part = node.args
                value: Value = getattr(self.x[sample], part)
            elif node.kind == "add":
                (a, ka), (b, kb) = node.args
                va, vb = _shifted(at(a, node.level - 1), ka), _shifted(at(b, node.level - 1), kb)
                value = register(node, va + vb if ka > 0 and kb > 0 else va - vb if ka > 0 else vb - va)
            elif node.kind == "mul":
                a, c = node.args
                mul = ConstantMultiplier(
                    a.bits, c, self.impl, latency=self.mul_latency, levels_per_register=self.levels_per_register
                )
                m.submodules[names[id(node)]] = mul
                m.d.comb += [mul.en.eq(en), mul.a.eq(at(a, a.level))]
                value = mul.p
            elif node.kind == "round":
                (mul,) = node.args
                value = register(node, hf.round_shift(at(mul, mul.level), flow.shift, self.rounding))
            else:  # scale
                a, k = node.args
                v = _shifted(at(a, node.level - 1), k)
                value = register(node, v if k > 0 else -v)
            chains[id(node)] = [value]
        for k, (re, im) in enumerate(outputs):
            m.d.comb += [self.y[k].re.eq(at(re, self.latency)), self.y[k].im.eq(at(im, self.latency))]
        return m


class WinogradDftStream(wiring.Component):
    """`WinogradDft` as a stream stage: one r-sample vector per beat in, its transform out.

    Flow: the stall-all pattern of `hw.adder_tree.AdderTree`. One enable,
    ``~o.valid | o.ready``, advances the DFT pipeline and the valid/tag chain beside it
    (`hw.pipeline.delay`, ``latency`` registers), and ``i.ready`` is that enable: a beat is
    taken exactly when the pipeline moves, so none is dropped or repeated, and ``o.valid``
    is a register that never depends on ``o.ready``. Bubbles travel as invalid slots; an
    idle input does not hold back the beats already inside (they move on while the output
    is not valid or is taken).

    Parameters
    ----------
    dft : WinogradDft
        The transform (its ``en`` is driven here).
    tag_shape : ShapeLike
        Side information that travels with each vector (frame end, channel, ...); default none.

    Attributes
    ----------
    latency : int
        ``dft.latency``: beats taken to the first output, with no stalls.

    Ports
    -----
    i : In(stream.Signature({data: ArrayLayout(complex_layout(in_bits), r), tag: tag_shape}))
        One input vector per beat.
    o : Out(stream.Signature({data: ArrayLayout(complex_layout(out_bits), r), tag: tag_shape}))
        Its transform and tag, in order.
    """

    def __init__(self, dft: WinogradDft, tag_shape: ShapeLike = 0) -> None:
        self.dft, self.tag_shape, self.latency = dft, tag_shape, dft.latency

        def payload(bits: int) -> data.StructLayout:
            return data.StructLayout({"data": data.ArrayLayout(complex_layout(bits), dft.r), "tag": tag_shape})

        super().__init__(
            {
                "i": In(stream.Signature(payload(dft.in_bits))),
                "o": Out(stream.Signature(payload(dft.out_bits))),
            }
        )

    def model(self, x_re: ArrayLike, x_im: ArrayLike) -> tuple[IntArray, IntArray]:
        """`WinogradDft.model` of each beat's vector (tags pass unchanged)."""
        return self.dft.model(x_re, x_im)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.dft = dft = self.dft
        en = Signal()
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(en),
            dft.en.eq(en),
            dft.x.eq(self.i.payload.data),
            self.o.payload.data.eq(dft.y),
            self.o.valid.eq(delay(m, self.i.valid, self.latency, en, "valid")),
            self.o.payload.tag.eq(delay(m, self.i.payload.tag, self.latency, en, "tag")),
        ]
        return m
