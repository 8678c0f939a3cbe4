"""Pipelined streaming radix-2 FFT (single-path delay feedback, R2SDF), one sample per clock.

The arithmetic is `golden.fft` (one `FftConfig` drives both): DIF = natural in / bit-reversed
out, DIT = bit-reversed in / natural out, forward or inverse (conjugate twiddles), per-stage
shift schedule, rounding and saturation. `StreamingFft.model` is `golden.fft.fft_model`.

Pipeline structure (S = log2 M stages, stage s pairs samples L apart)
--------------------------------------------------------------------
DIF stage:  SDF(L) -> [x twiddle: operands | products | sums] -> round/shift/saturate register
DIT stage:  [x twiddle: operands | products | sums | round to t] -> SDF(L) -> round/sat register
An SDF(L) is a delay line of L words (registers for L <= 2, else a RAM with a registered
read port) and one adder/subtractor: for the first L samples of each 2L block the input goes
into the delay line and the line's output (the previous block's differences) goes out; for the
second L the butterfly runs, the sum goes out and the difference goes back into the line.
Stages whose twiddles are all 1 or -j (DIF: L <= 2; DIT: s <= 1) have no multiplier and no
multiplier registers (a -j rotation is a swap and a negation), which yields the same integers
as multiplying by the exact ROM value, so the model needs no special case.

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

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.fft import FftConfig, fft_model
from hw import fixed as hf

__all__ = ["complex_layout", "complex_sample_layout", "StreamingFft"]

MULTIPLIER_STAGES = 3  # operand, product and sum registers of a twiddle multiplier


def complex_layout(bits: int) -> data.StructLayout:
    return data.StructLayout({"re": signed(bits), "im": signed(bits)})


def complex_sample_layout(bits: int) -> data.StructLayout:
    """Stream payload: ``data.re``, ``data.im`` (signed ``bits``) and ``last``."""
    return data.StructLayout({"data": complex_layout(bits), "last": unsigned(1)})


def _pack_twiddles(re: np.ndarray, im: np.ndarray, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    return [(int(r) & mask) | ((int(i) & mask) << bits) for r, i in zip(re, im)]


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
        stalls (the number of slots in the pipeline); see the module docstring.

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
            delay += cfg.span(s) + 1 + self.multiplier_registers(cfg, s)
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

    @staticmethod
    def multiplier_registers(cfg: FftConfig, s: int) -> int:
        """Registers stage ``s`` adds besides its delay line and output register."""
        if cfg.trivial(s):
            return 0
        return MULTIPLIER_STAGES + (1 if cfg.decimation == "dit" else 0)  # DIT: rounded t

    def model(self, re, im=None):
        """What the block outputs for frames (..., M): ``(re, im, overflow per frame)``."""
        return fft_model(self.config, re, im)

    # --- building blocks -------------------------------------------------------------------

    @staticmethod
    def _counter(m: Module, name: str, modulus: int, delay: int, adv: Signal) -> Signal:
        """Slot position modulo ``modulus`` of a point ``delay`` slots down the pipeline."""
        c = Signal(range(modulus), name=name, init=(-delay) % modulus)
        with m.If(adv):
            m.d.sync += c.eq(c + 1)  # modulus is a power of two: the width wraps it
        return c

    @staticmethod
    def _delay_line(m: Module, name: str, length: int, width: int, adv: Signal, ptr: Signal, din_re, din_im):
        """Value written ``length`` advances ago (registers for short lines, else a RAM)."""
        d_re = Signal(signed(width), name=f"{name}_in_re")
        d_im = Signal(signed(width), name=f"{name}_in_im")
        m.d.comb += [d_re.eq(din_re), d_im.eq(din_im)]
        if length <= 2:
            regs = [(Signal(signed(width), name=f"{name}_re{k}"), Signal(signed(width), name=f"{name}_im{k}")) for k in range(length)]
            with m.If(adv):
                m.d.sync += [regs[0][0].eq(d_re), regs[0][1].eq(d_im)]
                for k in range(1, length):
                    m.d.sync += [regs[k][0].eq(regs[k - 1][0]), regs[k][1].eq(regs[k - 1][1])]
            return regs[-1]
        mem = memory.Memory(shape=unsigned(2 * width), depth=length, init=[])
        m.submodules[name] = mem
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=())  # read-before-write, registered, enabled by adv
        m.d.comb += [
            wp.addr.eq(ptr),
            wp.data.eq(Cat(d_re, d_im)),
            wp.en.eq(adv),
            rp.addr.eq(ptr + 1),
            rp.en.eq(adv),
        ]
        return rp.data[:width].as_signed(), rp.data[width:].as_signed()

    def _twiddle_rom(self, m: Module, name: str, s: int, addr: Signal, adv: Signal, one_first: bool):
        """Registered twiddle read: 2L entries, 1 for one half of the block, W for the other."""
        cfg = self.config
        T = cfg.twiddle_bits
        L = cfg.span(s)
        wr, wi = cfg.stage_twiddles(s)
        one_r = np.full(L, 1 << cfg.twiddle_frac, dtype=np.int64)
        one_i = np.zeros(L, dtype=np.int64)
        re = np.concatenate([one_r, wr] if one_first else [wr, one_r])
        im = np.concatenate([one_i, wi] if one_first else [wi, one_i])
        rom = memory.Memory(shape=unsigned(2 * T), depth=2 * L, init=_pack_twiddles(re, im, T))
        m.submodules[name] = rom
        rp = rom.read_port()
        m.d.comb += [rp.addr.eq(addr), rp.en.eq(adv)]
        return rp.data[:T].as_signed(), rp.data[T:].as_signed()

    @staticmethod
    def _multiply(m: Module, name: str, adv: Signal, v_re, v_im, w_re, w_im, width: int, twiddle_bits: int):
        """Operand registers (twiddle already registered by its ROM), products, then sums."""
        o_re = Signal(signed(width), name=f"{name}_op_re")
        o_im = Signal(signed(width), name=f"{name}_op_im")
        pw = width + twiddle_bits
        p = [Signal(signed(pw), name=f"{name}_p{k}") for k in range(4)]
        s_re = Signal(signed(pw + 1), name=f"{name}_sum_re")
        s_im = Signal(signed(pw + 1), name=f"{name}_sum_im")
        with m.If(adv):
            m.d.sync += [o_re.eq(v_re), o_im.eq(v_im)]
            m.d.sync += [p[0].eq(o_re * w_re), p[1].eq(o_im * w_im), p[2].eq(o_re * w_im), p[3].eq(o_im * w_re)]
            m.d.sync += [s_re.eq(p[0] - p[1]), s_im.eq(p[2] + p[3])]
        return s_re, s_im

    def _rotate(self, re, im, enable):
        """Multiply by -j (forward) or +j (inverse) when ``enable``: a swap and a negation."""
        if self.config.inverse:
            return Mux(enable, -im, re), Mux(enable, re, im)
        return Mux(enable, im, re), Mux(enable, -re, im)

    def _round_fit(self, m: Module, name: str, adv: Signal, re, im, shift: int, bits: int):
        """Output register of a stage: round away ``shift`` bits, saturate; comb overflow flag."""
        rounding = self.config.rounding
        r, fr = hf.saturate(hf.round_shift(re, shift, rounding), bits)
        i, fi = hf.saturate(hf.round_shift(im, shift, rounding), bits)
        out_re = Signal(signed(bits), name=f"{name}_re")
        out_im = Signal(signed(bits), name=f"{name}_im")
        flag = Signal(name=f"{name}_sat")
        m.d.comb += flag.eq(fr | fi)
        with m.If(adv):
            m.d.sync += [out_re.eq(r), out_im.eq(i)]
        return out_re, out_im, flag

    # --- stages ----------------------------------------------------------------------------

    def _dif_stage(self, m: Module, s: int, adv: Signal, x_re, x_im):
        cfg = self.config
        L, d, sh, bits = cfg.span(s), cfg.stage_input_bits(s), cfg.shifts[s], cfg.widths[s]
        lg = L.bit_length() - 1
        c = self._counter(m, f"s{s}_pos", 2 * L, self._stage_delay[s], adv)
        phase2 = c[lg]
        fo_re, fo_im = Signal(signed(d + 1), name=f"s{s}_fo_re"), Signal(signed(d + 1), name=f"s{s}_fo_im")
        fi_re, fi_im = Signal(signed(d + 1), name=f"s{s}_fi_re"), Signal(signed(d + 1), name=f"s{s}_fi_im")
        y_re, y_im = Signal(signed(d + 1), name=f"s{s}_y_re"), Signal(signed(d + 1), name=f"s{s}_y_im")
        line_re, line_im = self._delay_line(m, f"s{s}_line", L, d + 1, adv, c[:lg] if lg else Const(0, 1), fi_re, fi_im)
        m.d.comb += [fo_re.eq(line_re), fo_im.eq(line_im)]
        with m.If(phase2):
            m.d.comb += [fi_re.eq(fo_re - x_re), fi_im.eq(fo_im - x_im), y_re.eq(fo_re + x_re), y_im.eq(fo_im + x_im)]
        with m.Else():
            m.d.comb += [fi_re.eq(x_re), fi_im.eq(x_im), y_re.eq(fo_re), y_im.eq(fo_im)]
        if cfg.trivial(s):
            rot = ~phase2 & c[0] if L == 2 else Const(0, 1)  # bottom of pair n = 1: times -j
            r_re, r_im = self._rotate(y_re, y_im, rot)
            return self._round_fit(m, f"s{s}_out", adv, r_re, r_im, sh, bits)
        # Bottom outputs (first half of the block: the line's differences) are pair n = c.
        w_re, w_im = self._twiddle_rom(m, f"s{s}_rom", s, c, adv, one_first=False)
        p_re, p_im = self._multiply(m, f"s{s}_mul", adv, y_re, y_im, w_re, w_im, d + 1, cfg.twiddle_bits)
        return self._round_fit(m, f"s{s}_out", adv, p_re, p_im, cfg.twiddle_frac + sh, bits)

    def _dit_stage(self, m: Module, s: int, adv: Signal, x_re, x_im):
        cfg = self.config
        L, d, sh, bits = cfg.span(s), cfg.stage_input_bits(s), cfg.shifts[s], cfg.widths[s]
        lg = L.bit_length() - 1
        c_in = self._counter(m, f"s{s}_in_pos", 2 * L, self._stage_delay[s], adv)
        t_re, t_im = Signal(signed(d + 1), name=f"s{s}_t_re"), Signal(signed(d + 1), name=f"s{s}_t_im")
        if cfg.trivial(s):
            rot = c_in[1] & c_in[0] if L == 2 else Const(0, 1)  # second half, pair n = 1: times -j
            r_re, r_im = self._rotate(x_re, x_im, rot)
            m.d.comb += [t_re.eq(r_re), t_im.eq(r_im)]
            c = c_in
        else:
            # Second half of the block (b of pair n = c - L) is multiplied by W, the first by 1.
            w_re, w_im = self._twiddle_rom(m, f"s{s}_rom", s, c_in, adv, one_first=True)
            p_re, p_im = self._multiply(m, f"s{s}_mul", adv, x_re, x_im, w_re, w_im, d, cfg.twiddle_bits)
            with m.If(adv):  # |b * W| <= sqrt 2 * 2**(d-1) * (1 + eps): d + 1 bits, never clipped
                m.d.sync += [
                    t_re.eq(hf.round_shift(p_re, cfg.twiddle_frac, cfg.rounding)),
                    t_im.eq(hf.round_shift(p_im, cfg.twiddle_frac, cfg.rounding)),
                ]
            c = self._counter(m, f"s{s}_pos", 2 * L, self._stage_delay[s] + MULTIPLIER_STAGES + 1, adv)
        phase2 = c[lg]
        fo_re, fo_im = Signal(signed(d + 2), name=f"s{s}_fo_re"), Signal(signed(d + 2), name=f"s{s}_fo_im")
        fi_re, fi_im = Signal(signed(d + 2), name=f"s{s}_fi_re"), Signal(signed(d + 2), name=f"s{s}_fi_im")
        y_re, y_im = Signal(signed(d + 2), name=f"s{s}_y_re"), Signal(signed(d + 2), name=f"s{s}_y_im")
        line_re, line_im = self._delay_line(m, f"s{s}_line", L, d + 2, adv, c[:lg] if lg else Const(0, 1), fi_re, fi_im)
        m.d.comb += [fo_re.eq(line_re), fo_im.eq(line_im)]
        with m.If(phase2):
            m.d.comb += [fi_re.eq(fo_re - t_re), fi_im.eq(fo_im - t_im), y_re.eq(fo_re + t_re), y_im.eq(fo_im + t_im)]
        with m.Else():
            m.d.comb += [fi_re.eq(t_re), fi_im.eq(t_im), y_re.eq(fo_re), y_im.eq(fo_im)]
        return self._round_fit(m, f"s{s}_out", adv, y_re, y_im, sh, bits)

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
        stage = self._dif_stage if cfg.decimation == "dif" else self._dit_stage
        for s in range(cfg.stages):
            x_re, x_im, flag = stage(m, s, adv, x_re, x_im)
            flags.append(flag)

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
        real_flags = [flag & real_slot(end - 1) for flag, end in zip(flags, ends)]
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
