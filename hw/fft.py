"""Pipelined streaming radix-2 FFT (single-path delay feedback, R2SDF), one sample per clock.

The arithmetic is `golden.fft` (one `FftConfig` drives both): DIF = natural in / bit-reversed
out, DIT = bit-reversed in / natural out, forward or inverse (conjugate twiddles), per-stage
shift schedule, rounding and saturation. `StreamingFft.model` is `golden.fft.fft_model`.

Pipeline structure (S = log2 M stages, stage s pairs samples L apart)
--------------------------------------------------------------------
A chain of S `hw.sdf.SdfStage` blocks (one class for DIF and DIT), all driven by one enable:

DIF stage:  SDF(L) -> [x twiddle: ComplexMultiplier operands | products | sums] -> round/shift/saturate register
DIT stage:  [x twiddle: ComplexMultiplier operands | products | sums | round to t] -> SDF(L) -> round/sat register

An SDF(L) is a delay line of L words (registers for L <= 2, else a RAM with a registered
read port) and one adder/subtractor (see `hw.sdf`). Stages whose twiddles are all 1 or -j
(DIF: L <= 2; DIT: s <= 1) have no multiplier and no multiplier registers (a -j rotation is a
swap and a negation), which yields the same integers as multiplying by the exact ROM value,
so the model needs no special case. `StreamingFft` adds only the frame bookkeeping below.

Latency (input transfer to output transfer with no stalls, `StreamingFft.latency`):
``(M - 1) + S + sum over stages with a multiplier of (3 for DIF, 4 for DIT)``
(delay lines + one output register per stage + operand/product/sum registers, and for DIT
the register holding the rounded ``t = R(b * W, F)``); DIF/DIT: 25/27 at M = 16, 81/85 at 64,
149/154 at 128, 1057/1065 at 1024. Resources: 4 multipliers per stage with a multiplier
(S - 2 stages; e.g. 20 DSP48E1 for M = 128 with yosys synth_xilinx), delay lines of M - 1
words in total, twiddle ROMs of 2L words per multiplier stage.

Flow control: one global pipeline enable
----------------------------------------
Every register, delay line and counter advances together (``adv``), so the pipeline is a
chain of ``latency`` slots. A slot is advanced in when the output register is free (empty, or
being consumed this cycle) and there is something to put in:

- a *real* sample: an input transfer. Frames are aligned to slot positions 0..M-1; a real frame
  only starts at slot position 0; input bubbles inside a real frame simply stall everything
  (``i.valid`` low = no advance), so bubbles cost nothing and change no result.
- a *filler* zero, to drain: when the input is idle at a frame boundary while earlier real
  frames are still inside the pipeline, the block runs a whole filler frame of zeros (fillers
  never mix with real frames: an SDF butterfly only combines samples of one frame). A new real
  frame waits for the filler frame to end (at most M-1 cycles, only after an idle input).
  Draining the last frame takes ``ceil((latency - 1) / M)`` filler frames; its last output
  leaves ``latency`` cycles after its last input, as in steady state.

So the last frame comes out without a following frame, ``o.valid`` is a register that never
depends on ``o.ready``, and ``i.ready`` depends only on ``o.valid``/``o.ready`` and the frame
state (never on ``i.valid``). Each output slot's real/filler tag comes from a short history of
input frame tags (no per-slot valid bits in the delay lines).

Frames: ``o.payload.last`` marks output index M-1 of every real frame. ``i.payload.last`` is
not needed (frames are counted); a transfer whose ``last`` disagrees with the count sets the
sticky ``frame_error``. ``overflow`` is sticky: set when any stage saturates on a slot of a
real frame (exactly the model's per-frame flag: filler slots, and words left in the delay
lines by a reset in mid-frame, are ignored), cleared by ``overflow_clear``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.fft import FftConfig, fft_model
from hw.complex_mul import complex_layout
from hw.sdf import SdfStage

__all__ = ["complex_layout", "complex_sample_layout", "StreamingFft"]


def complex_sample_layout(bits: int) -> data.StructLayout:
    """Stream payload: ``data.re``, ``data.im`` (signed ``bits``) and ``last``."""
    return data.StructLayout({"data": complex_layout(bits), "last": unsigned(1)})


class StreamingFft(wiring.Component):
    """Streaming R2SDF FFT of size M, 1 complex sample per clock, frames back to back.

    Parameters
    ----------
    config : golden.fft.FftConfig
        Size, input width, per-stage widths and shifts, twiddle width, rounding, decimation
        ("dif": natural in, bit-reversed out; "dit": bit-reversed in, natural out), inverse.

    Attributes
    ----------
    config : FftConfig
    latency : int
        Cycles from an input transfer to the transfer of the output slot it starts, with no
        stalls (the number of slots in the pipeline: the sum of the stages'
        `hw.sdf.SdfStage.latency`); see the module docstring.

    Ports
    -----
    i : In(stream.Signature(complex_sample_layout(config.input_bits)))
        Input samples; ``payload.data.re/im`` signed, ``payload.last`` checked only.
    o : Out(stream.Signature(complex_sample_layout(config.output_bits)))
        Output samples in the config's output order; ``payload.last`` on index M-1.
    overflow : Out(1)
        Sticky: some stage saturated since reset or the last ``overflow_clear``.
    overflow_clear : In(1)
        Clears ``overflow`` (a saturation in the same cycle wins).
    frame_error : Out(1)
        Sticky: an input transfer's ``last`` disagreed with the frame count.
    """

    def __init__(self, config: FftConfig) -> None:
        self.config = config
        cfg = config
        self._stage_delay: list[int] = []  # slot delay from the block input to each stage input
        delay = 0
        for s in range(cfg.stages):
            self._stage_delay.append(delay)
            delay += SdfStage.latency_of(cfg, s)
        self.latency = delay
        super().__init__(
            {
                "i": In(stream.Signature(complex_sample_layout(cfg.input_bits))),
                "o": Out(stream.Signature(complex_sample_layout(cfg.output_bits))),
                "overflow": Out(1),
                "overflow_clear": In(1),
                "frame_error": Out(1),
            }
        )

    def model(self, re, im=None):
        """What the block outputs for frames (..., M): ``(re, im, overflow per frame)``."""
        return fft_model(self.config, re, im)

    # --- top -------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        M = cfg.size

        # Frame bookkeeping: slot position, filler frames, tags of recent input frames.
        D1 = self.latency - 1
        a, b = divmod(D1, M)
        n_pending = a + (b > 0)  # input frames (newest first) that may still be inside
        in_pos = Signal(range(M))
        filling = Signal()
        hist = Signal(a + 2)  # hist[k] = 1 if the k-th newest input frame is real
        o_valid = Signal()
        o_last = Signal()
        adv = Signal()

        at_boundary = ~in_pos.any()  # not "== 0": Amaranth emits !vector, which lint flags
        out_free = ~o_valid | self.o.ready
        real_ok = at_boundary | ~filling
        take_real = Signal()
        fill = Signal()
        pending = hist[:n_pending].any()
        m.d.comb += [
            self.i.ready.eq(out_free & real_ok),
            take_real.eq(self.i.valid & real_ok),
            fill.eq(Mux(at_boundary, ~self.i.valid & pending, filling)),
            adv.eq((take_real | fill) & out_free),
        ]

        x_re = Signal(signed(cfg.input_bits))
        x_im = Signal(signed(cfg.input_bits))
        m.d.comb += [
            x_re.eq(Mux(take_real, self.i.payload.data.re, 0)),
            x_im.eq(Mux(take_real, self.i.payload.data.im, 0)),
        ]

        flags = []
        for s in range(cfg.stages):
            m.submodules[f"s{s}"] = stage = SdfStage(cfg, s, self._stage_delay[s])
            m.d.comb += [stage.en.eq(adv), stage.x.re.eq(x_re), stage.x.im.eq(x_im)]
            x_re, x_im = stage.y.re, stage.y.im
            flags.append(stage.clipping)

        # The output register (last stage) holds slot K - D1 after advance K; its frame is
        # hist_next[a + (in_pos < b)] and its position (in_pos - D1) mod M. The same rule
        # tells whether the value entering any stage's output register belongs to a real frame.
        hist_next = Signal(a + 2)
        m.d.comb += hist_next.eq(Mux(at_boundary, Cat(take_real, hist[:-1]), hist))

        def real_slot(d: int):
            """The slot ``d`` advances behind the one entering now is part of a real frame."""
            fa, fb = divmod(d, M)
            return Mux(in_pos < fb, hist_next[fa + 1], hist_next[fa]) if fb else hist_next[fa]

        tag = real_slot(D1)
        ends = self._stage_delay[1:] + [self.latency]  # slot delay after each stage
        real_flags = [flag & real_slot(end - 1) for flag, end in zip(flags, ends, strict=True)]
        with m.If(adv):
            m.d.sync += [
                in_pos.eq(Mux(in_pos == M - 1, 0, in_pos + 1)),
                hist.eq(hist_next),
                o_valid.eq(tag),
                o_last.eq(in_pos == (D1 - 1) % M),
            ]
            with m.If(at_boundary):
                m.d.sync += filling.eq(fill)
        with m.Elif(self.o.ready):
            m.d.sync += o_valid.eq(0)

        m.d.comb += [
            self.o.valid.eq(o_valid),
            self.o.payload.data.re.eq(x_re),
            self.o.payload.data.im.eq(x_im),
            self.o.payload.last.eq(o_last),
        ]

        with m.If(adv & Cat(*real_flags).any()):  # fillers, and stale delay-line words after a reset, never count
            m.d.sync += self.overflow.eq(1)
        with m.Elif(self.overflow_clear):
            m.d.sync += self.overflow.eq(0)
        with m.If(take_real & adv & (self.i.payload.last != (in_pos == M - 1))):
            m.d.sync += self.frame_error.eq(1)
        return m
