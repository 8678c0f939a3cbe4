"""Pipelined streaming radix-2 FFT (single-path delay feedback, R2SDF), one sample per clock.

The arithmetic is `golden.fft` (one `FftConfig` drives both): DIF = natural in / bit-reversed
out, DIT = bit-reversed in / natural out, forward or inverse (conjugate twiddles), per-stage
shift schedule, rounding and saturation. `StreamingFft.model` is `golden.fft.fft_model`.

Pipeline structure (S = log2 M stages, stage s pairs samples L apart)
--------------------------------------------------------------------
An input register, then a chain of S `hw.sdf.SdfStage` blocks (one class for DIF and DIT).
Every path between two registers holds one carry chain at most (butterfly register, rotation
register, hard multipliers with their own registers, sums register; see `hw.sdf`), so the
clock rate is set by one adder, not by a stage.

Latency (input transfer to output slot, `StreamingFft.latency`): ``1 + (M - 1) + S + 3 +
(S - 2) * (5 for DIF, 7 for DIT)`` when every multiplier operand fits 18 bits: the input
register, the delay lines, every stage's output register, the butterfly registers of the two
trivial stages and the rotation register of the L = 2 one, and per multiplier stage the
multipliers' input, pipeline and output registers and the sums and rounding registers
(`hw.complex_mul.hard_latency` - 1; DIT: plus the rounded ``t`` and the butterfly register;
a stage whose operands are wider takes 1 or 2 more, the multipliers' adder-tree registers,
`hw.sdf.SdfStage.extra_registers`); DIF/DIT 33/37 at M = 16, 93/101 at 64, 163/173 at 128. Resources: 4 multipliers per multiplier stage, delay
lines of M - 1 words in total, twiddle ROMs of 2L words per multiplier stage.

Flow control: a free-running datapath
-------------------------------------
No register of the datapath has an enable: every cycle each slot moves one step. What the
block controls is which slots are *real*: a real frame is M consecutive input transfers that
start at slot position 0 (``in_pos``); the slots between real frames are *filler* (zeros in,
garbage out, never valid: an SDF butterfly only combines samples of one block, so fillers and
real frames never mix). Each output slot's real/filler tag (and the frame's ``tag``) comes
from a short history of input frames (no per-slot valid bits in the delay lines).

- *Leader* (default): ``i.ready`` (a register) is ``admit`` of the cycle before at position 0
  and high inside a real frame. A
  real frame must come without bubbles: a missing sample inside one enters as 0 and sets
  the sticky ``frame_error`` (the engine's `hw.feeder.Feeder` never leaves one).
- The slot counters (``in_pos``, the stages' counters, the frame history) advance on
  ``step``: always inside a frame; at position 0 only when a frame starts, a real frame is
  still inside (``busy``: filler frames drain it), or ``keep_next`` asked a cycle before. So
  an idle block holds its counters at position 0, exactly as after reset, and a frame that
  comes after an idle spell starts at once: its latency is exact.
- ``step`` drives every stage's counters and the output valid: hundreds of flip-flops across
  the chip. So it is one LUT behind registers: everything but a frame's start is decided a
  cycle ahead into the register ``step_hold`` (from the next slot position, the next frame
  history and the consumer's ``keep_next``), and ``at_boundary`` is a register too. The
  padded engine's −6 critical path was this net while ``keep`` was an OR of a dozen valids.
- *Follower* (``follower=True``): ``step`` is an input (the leader's). A second FFT placed a
  fixed ``phase`` slots behind a leader (the engine's inverse FFT) steps in lock with it, so
  the leader's frame boundaries reach it exactly at its own position 0; ``i.ready`` is 1.

``o`` has no ready (``always_ready``): its consumer takes every valid beat. An engine with
output backpressure therefore admits a frame (``admit``) only when it holds room for all
its results (`hw.fast_parc`: a credit-counted FIFO).

Frames: ``o.payload.last`` marks output index M-1 of every real frame. ``i.payload.last`` is
not needed (frames are counted); a transfer whose ``last`` disagrees with the count sets the
sticky ``frame_error``. ``overflow`` is sticky: set (one cycle after the slot's output
register loads) when any stage saturates on a slot of a real frame (exactly the model's
per-frame flag: filler slots, and words left in the delay lines by a reset in mid-frame, are
ignored), cleared by ``overflow_clear``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.fft import FftConfig, fft_model
from hw.complex_mul import complex_layout
from hw.sdf import SdfStage
from hw.target import check_target

__all__ = ["complex_layout", "complex_sample_layout", "StreamingFft", "INPUT_REGISTERS"]

INPUT_REGISTERS = 1  # the input register in front of stage 0


def complex_sample_layout(bits: int) -> data.StructLayout:
    """Stream payload: ``data.re``, ``data.im`` (signed ``bits``) and ``last``."""
    return data.StructLayout({"data": complex_layout(bits), "last": unsigned(1)})


class StreamingFft(wiring.Component):
    """Streaming R2SDF FFT of size M, 1 complex sample per clock, free-running datapath.

    Parameters
    ----------
    config : golden.fft.FftConfig
        Size, input width, per-stage widths and shifts, twiddle width, rounding, decimation
        ("dif": natural in, bit-reversed out; "dit": bit-reversed in, natural out), inverse.
    tag_bits : int
        Width of the per-frame tag carried from ``i_tag`` (sampled with a frame's first
        point) to ``o_tag`` (held with the frame's outputs); 0: no tag ports.
    follower : bool
        Take ``step`` from a leader instead of deciding it (see the module docstring).
    phase : int
        Follower only: slots by which this block's input lags its leader's input.
    target : str
        `hw.target.TARGETS` entry for the multipliers and twiddle ROMs.

    Attributes
    ----------
    config : FftConfig
    latency : int
        Cycles from an input transfer to the output of the slot it starts (the number of
        registers on the path); see the module docstring.
    pending_frames : int
        Input frames (newest first) whose samples may still be inside: the engine steps on
        while one of them was real.

    Ports
    -----
    i : In(stream.Signature(complex_sample_layout(config.input_bits)))
        Input samples; ``payload.last`` checked only. Real frames come without bubbles.
    o : Out(stream.Signature(complex_sample_layout(config.output_bits), always_ready=True))
        Output samples in the config's output order; ``payload.last`` on index M-1.
    i_tag, o_tag : In/Out(tag_bits), only when ``tag_bits``
        Frame tags.
    admit : In(1), init 1
        Leader: a real frame may start at position 0 in the next cycle (``i.ready`` is a
        register loaded from it).
    i_ready_next : Out(1), leader only
        The value ``i.ready`` takes at the next edge, so that a source can make its own
        ready a register too (`hw.feeder.Feeder` with ``ready_next``).
    keep_next : In(1)
        Leader: step on through position 0 in the next cycle (a follower or a pipeline behind
        will still hold a real slot then).
    o_valid_next, busy_next : Out(1)
        The values ``o.valid`` and ``busy`` take at the next edge, from which a consumer
        computes ``keep_next``.
    step : Out(1), or In(1) for a follower
        The slot counters advance in this cycle.
    busy : Out(1)
        A real frame may be inside: one of the last ``latency / M + 2`` input frames was real
        (a follower's leader keeps stepping while it is high).
    overflow : Out(1)
        Sticky: some stage saturated since reset or the last ``overflow_clear``.
    overflow_clear : In(1)
        Clears ``overflow`` (a saturation in the same cycle wins).
    frame_error : Out(1)
        Sticky: an input transfer's ``last`` disagreed with the frame count, a real frame
        missed a sample, or (follower) a sample came outside a real frame.
    """

    def __init__(
        self,
        config: FftConfig,
        *,
        tag_bits: int = 0,
        follower: bool = False,
        phase: int = 0,
        target: str = "generic",
    ) -> None:
        self.config = config
        self.target = check_target(target)
        self.tag_bits, self.follower, self.phase = tag_bits, follower, phase if follower else 0
        cfg = config
        self._stage_delay: list[int] = []  # slot delay from the block input to each stage input
        delay = INPUT_REGISTERS
        for s in range(cfg.stages):
            self._stage_delay.append(delay)
            delay += SdfStage.latency_of(cfg, s)
        self.latency = delay
        # input frames (newest first) that may still hold a sample inside after this cycle:
        # ceil((latency - 1) / M)
        self.pending_frames = -(-(delay - 1) // cfg.size)
        ports = {
            "i": In(stream.Signature(complex_sample_layout(cfg.input_bits))),
            "o": Out(stream.Signature(complex_sample_layout(cfg.output_bits), always_ready=True)),
            "admit": In(1, init=1),
            "keep_next": In(1),
            "step": In(1) if follower else Out(1),
            "busy": Out(1),
            "busy_next": Out(1),
            "o_valid_next": Out(1),
            "overflow": Out(1),
            "overflow_clear": In(1),
            "frame_error": Out(1),
        }
        if tag_bits:
            ports.update({"i_tag": In(tag_bits), "o_tag": Out(tag_bits)})
        if not follower:
            ports["i_ready_next"] = Out(1)
        super().__init__(ports)

    def model(self, re, im=None):
        """What the block outputs for frames (..., M): ``(re, im, overflow per frame)``."""
        return fft_model(self.config, re, im)

    # --- top -------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        M = cfg.size

        # Frame bookkeeping: slot position, tags of recent input frames.
        D1 = self.latency - 1
        a = D1 // M
        n_pending = self.pending_frames
        in_pos = Signal(range(M), init=(-self.phase) % M)
        hist = Signal(a + 2)  # hist[k] = 1 if the k-th newest input frame is real
        tags = [Signal(max(self.tag_bits, 1), name=f"tag{k}") for k in range(a + 2)]
        o_valid = Signal()
        o_last = Signal()
        o_tag = Signal(max(self.tag_bits, 1))
        step = Signal()

        # at_boundary is in_pos == 0, kept as a register beside in_pos
        at_boundary = Signal(init=int(in_pos.init == 0))
        pos_next = Mux(step, Mux(in_pos == M - 1, 0, in_pos + 1), in_pos)
        m.d.sync += at_boundary.eq(~pos_next.any())  # not "== 0": Amaranth emits !vector, which lint flags
        in_real = hist[0]  # inside a frame: the frame being input is real
        start = Signal()  # a real frame starts in this cycle
        take = Signal()  # a real sample is due in this cycle
        step_hold = Signal()  # leader: step whether or not a frame starts (decided a cycle ahead)
        if self.follower:
            m.d.comb += [
                step.eq(self.step),
                self.i.ready.eq(1),
                start.eq(at_boundary & self.i.valid & step),
                take.eq(start | (~at_boundary & in_real & step)),
            ]
        else:
            # i.ready is a register (a source's ready logic never waits on the slot counter):
            # next cycle's position 0 takes ``admit`` as it is now, a position inside a frame
            # follows that frame's realness
            ready = Signal()
            real_next = Mux(step & at_boundary, start, in_real)
            m.d.comb += self.i_ready_next.eq(Mux(pos_next.any(), real_next, self.admit))
            m.d.sync += ready.eq(self.i_ready_next)
            m.d.comb += [
                self.i.ready.eq(ready),
                start.eq(at_boundary & self.i.valid & ready),
                take.eq(start | (~at_boundary & in_real)),
                step.eq(step_hold | start),
                self.step.eq(step),
            ]
        m.d.comb += self.busy.eq(hist.any())  # every frame that may be inside, and a few more

        x_re = Signal(signed(cfg.input_bits), name="x_re")  # the input register
        x_im = Signal(signed(cfg.input_bits), name="x_im")
        m.d.sync += [
            x_re.eq(Mux(take & self.i.valid, self.i.payload.data.re, 0)),
            x_im.eq(Mux(take & self.i.valid, self.i.payload.data.im, 0)),
        ]

        flags = []
        for s in range(cfg.stages):
            m.submodules[f"s{s}"] = stage = SdfStage(cfg, s, self.phase + self._stage_delay[s], target=self.target)
            m.d.comb += [stage.step.eq(step), stage.x.re.eq(x_re), stage.x.im.eq(x_im)]
            x_re, x_im = stage.y.re, stage.y.im
            flags.append(stage.clipping)

        # The output register (last stage) holds slot K - D1 after step K; its frame is
        # hist_next[a + (in_pos < D1 mod M)] and its position (in_pos - D1) mod M. The same rule
        # tells whether the value entering any stage's output register belongs to a real frame.
        hist_next = Signal(a + 2)
        tags_next = [Signal.like(t, name=f"tag_next{k}") for k, t in enumerate(tags)]
        m.d.comb += hist_next.eq(Mux(at_boundary, Cat(start, hist[:-1]), hist))
        for k, t in enumerate(tags_next):
            newer = tags[k - 1] if k else (self.i_tag if self.tag_bits else 0)
            m.d.comb += t.eq(Mux(at_boundary, newer, tags[k]))

        def frame_of(d: int, history):
            """Entry of ``history`` for the slot ``d`` steps behind the one entering now."""
            fa, fb = divmod(d, M)
            return Mux(in_pos < fb, history[fa + 1], history[fa]) if fb else history[fa]

        hist_after = Mux(step, hist_next, hist)  # hist at the next edge
        m.d.comb += [
            self.busy_next.eq(hist_after.any()),
            self.o_valid_next.eq(step & frame_of(D1, hist_next)),
        ]
        if not self.follower:
            # off position 0, a real frame still inside (filler frames drain it), or asked
            pending = hist_after[:n_pending].any() if n_pending else 0
            m.d.sync += step_hold.eq(pos_next.any() | pending | self.keep_next)

        ends = [*self._stage_delay[1:], self.latency]  # slot delay after each stage
        # A real slot saturated: each stage's flag and whether its slot is real are registered
        # apart (the flag beside its stage: it comes out of a rounding adder), ANDed a cycle
        # later, then made sticky.
        clip_regs = Signal(len(flags))
        real_regs = Signal(len(flags))
        m.d.sync += [
            clip_regs.eq(Cat(*flags)),
            real_regs.eq(Cat(*[frame_of(end - 1, hist_next) & step for end in ends])),
        ]
        flag_regs = clip_regs & real_regs
        with m.If(step):
            m.d.sync += [
                in_pos.eq(Mux(in_pos == M - 1, 0, in_pos + 1)),
                hist.eq(hist_next),
                o_valid.eq(frame_of(D1, hist_next)),
                o_last.eq(in_pos == (D1 - 1) % M),
                o_tag.eq(frame_of(D1, tags_next)),
            ]
            with m.If(at_boundary):
                m.d.sync += [t.eq(n) for t, n in zip(tags, tags_next, strict=True)]
        with m.Else():
            m.d.sync += o_valid.eq(0)

        m.d.comb += [
            self.o.valid.eq(o_valid),
            self.o.payload.data.re.eq(x_re),
            self.o.payload.data.im.eq(x_im),
            self.o.payload.last.eq(o_last),
        ]
        if self.tag_bits:
            m.d.comb += self.o_tag.eq(o_tag)

        with m.If(flag_regs.any()):  # fillers, and stale delay-line words after a reset, never count
            m.d.sync += self.overflow.eq(1)
        with m.Elif(self.overflow_clear):
            m.d.sync += self.overflow.eq(0)
        bad_last = take & self.i.valid & (self.i.payload.last != (in_pos == M - 1))
        missing = take & ~self.i.valid
        stray = (self.i.valid & ~take) if self.follower else 0
        with m.If(bad_last | missing | stray):
            m.d.sync += self.frame_error.eq(1)
        return m
