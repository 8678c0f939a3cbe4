"""One r-point DFT module for the forward and the inverse stage of size r, optionally folded.

Why (docs/architecture.md section 6): a `hw.pfa_stage.PfaStage` hands its module one vector
every r cycles, and only while it has a frame (about half the time at one sample per clock),
so a module of its own would idle most of the time, and the modules are the engine's largest
blocks. Two savings follow, both exact:

- *Sharing*: the inverse DFT is the forward one with re and im swapped around it (the stage
  does the swap, `PfaStage(inverse=True)`), so the forward and the inverse stage of size r
  use one module. Their start phases keep their vectors in different cycles.
- *Folding* (r >= 4): the module's pre-adds and constant products act on re and im alike, so
  a module fed with real vectors does half the work. A complex vector ``x = a + j b`` goes in
  as ``a`` (with imaginary part 0) and, the next cycle, as ``b``; the module's outputs
  ``A = DFT(a)`` and ``B = DFT(b)`` give ``DFT(x) = (A.re - B.im) + j (A.im + B.re)``. Every
  product is the same integer as in the complex module (`golden.winograd` rounds each real
  product on its own), and the post-adds are exact, so the result is bit for bit the same.
  Synthesis removes the half of the module whose inputs are the constant 0. A vector then
  occupies the module for two cycles, which the stages' phases leave free for r >= 4.

Ports: ``x0``/``fire0`` and ``x1``/``fire1`` (one per client stage; at most one fire per
cycle, and with folding none in the cycle after a fire), ``fire0_next`` (``fire0`` of the
next cycle), ``y``: the transform of the vector fired `latency` cycles earlier (the same wires
for both clients).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.complex_mul import complex_layout
from hw.winograd import WinogradDft

__all__ = ["SharedDft", "FOLD_MIN_R"]

FOLD_MIN_R = 4  # two 2-cycle slots must fit in r cycles


class SharedDft(wiring.Component):
    """A forward `WinogradDft` serving two stages, folded over two cycles when ``fold``.

    Attributes
    ----------
    latency : int   cycles from a fire to its result on ``y``: the module's, plus the input
                    register, plus 1 folded.
    slot : int      cycles a vector occupies the module (1, or 2 folded).
    """

    def __init__(self, dft: WinogradDft, fold: bool) -> None:
        if dft.inverse:
            raise ValueError("SharedDft needs a forward module (the inverse stage swaps re/im itself)")
        if fold and dft.r < FOLD_MIN_R:
            raise ValueError(f"folding needs r >= {FOLD_MIN_R} (two 2-cycle slots per r cycles); got r={dft.r}")
        self.dft, self.fold, self.r = dft, bool(fold), dft.r
        self.in_bits, self.out_bits = dft.in_bits, dft.out_bits
        self.latency = dft.latency + 1 + (1 if fold else 0)
        self.slot = 2 if fold else 1
        vector_in = data.ArrayLayout(complex_layout(dft.in_bits), dft.r)
        super().__init__(
            {
                "x0": In(vector_in),
                "fire0": In(1),
                "x1": In(vector_in),
                "fire1": In(1),
                "fire0_next": In(1),
                "y": Out(data.ArrayLayout(complex_layout(dft.out_bits), dft.r)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.dft = dft = self.dft
        r = self.r
        m.d.comb += dft.en.eq(1)
        # The chosen vector goes through a register of its own: a fire flag selects between
        # two stages' vectors in every lane of the module, and that select (one flip-flop
        # fanning out to 2 r in_bits multiplexers across the module) in front of the first
        # adders was the native engine's critical path at -8.
        # The select itself is a register of the module's own, loaded from client 0's next
        # fire: client 0's ``fire`` register sits in its stage, and its route to the 2 r in_bits
        # multiplexer selects across the chip was the native N = 56, 16-bit -6 critical path
        # (``fwd1.fire -> dft7.x_reg``). It takes no reset (so yosys keeps it apart from the
        # stage's own ``fire``): in a cycle without a fire the selected vector is unused.
        vector = Signal(data.ArrayLayout(complex_layout(self.in_bits), r), name="x_reg", reset_less=True)
        pick0 = Signal(name="pick0", reset_less=True)
        fired = Signal(name="fired")
        m.d.sync += [
            pick0.eq(self.fire0_next),
            vector.eq(Mux(pick0, self.x0, self.x1)),
            fired.eq(self.fire0 | self.fire1),
        ]
        if not self.fold:
            m.d.comb += [dft.x.eq(vector), self.y.eq(dft.y)]
            return m
        second = Signal()  # the cycle after a fire: the imaginary parts go in
        imag = Signal(data.ArrayLayout(signed(self.in_bits), r), reset_less=True)
        m.d.sync += second.eq(fired)
        with m.If(fired):
            m.d.sync += [imag[e].eq(vector[e].im) for e in range(r)]
        for e in range(r):
            m.d.comb += [dft.x[e].re.eq(Mux(second, imag[e], vector[e].re)), dft.x[e].im.eq(0)]
        first = Signal(data.ArrayLayout(complex_layout(self.out_bits), r), reset_less=True)  # DFT(a), one cycle old
        m.d.sync += first.eq(dft.y)
        for e in range(r):  # DFT(a + j b) = (A.re - B.im) + j (A.im + B.re), B = dft.y now
            m.d.comb += [
                self.y[e].re.eq(first[e].re - dft.y[e].im),
                self.y[e].im.eq(first[e].im + dft.y[e].re),
            ]
        return m
