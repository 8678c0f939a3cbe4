"""One radix-2 single-path delay-feedback (SDF) stage of `hw.fft.StreamingFft`, DIF or DIT.

Stage ``s`` of an M-point FFT pairs samples ``L = config.span(s)`` apart inside blocks of 2L.
Its arithmetic is `golden.fft.dif_stage` / `golden.fft.dit_stage` (one `FftConfig` drives
both), and `SdfStage.model` calls them. The two decimations share every part; only the order
of the twiddle multiply and the butterfly differs::

    DIF:  x -> SDF(L) butterfly -> [x W: ComplexMultiplier, round F + sh, saturate] -> y
                                   or [x 1/-j: swap, negate] -> round sh, saturate -> y
    DIT:  x -> [x W: ComplexMultiplier, round F, wrap (never clips)] -> t
            or [x 1/-j: swap, negate] -> t;   t -> SDF(L) butterfly -> round sh, saturate -> y

SDF(L) butterfly: a delay line of L words (registers for L <= 2, else a RAM with a registered
read port) and one adder/subtractor. For the first L samples of each 2L block the input goes
into the line and the line's output (the previous block's differences) goes out; for the
second L the butterfly runs, the sum goes out and the difference goes back into the line.

Why a -j rotation and no multiplier for trivial stages: when every twiddle of a stage is 1 or
-j (DIF: L <= 2; DIT: s <= 1) a swap and a negation yield the same integers as multiplying by
the exact ROM value and rounding, so the golden model needs no special case and the stage
needs no DSP.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike, NDArray

from golden.fft import FftConfig, check_frames, dif_stage, dit_stage
from golden.fixed import IntArray
from hw import fixed as hf
from hw.complex_mul import MAX_DEPTH, ComplexMultiplier, complex_layout
from hw.rom import pack_complex

__all__ = ["SdfStage"]

MULTIPLIER_DEPTH = MAX_DEPTH  # operand, products, sums, output (= the stage output for DIF)


class SdfStage(wiring.Component):
    """Stage ``s`` of a streaming radix-2 SDF FFT: a pipeline of ``latency`` slots frozen by ``en``.

    Every register, delay line and slot counter advances only when ``en`` is high (the FFT's
    global enable), so a slot entering ``x`` with an enabled edge leaves on ``y`` exactly
    ``latency`` enabled edges later. Samples enter in the config's order (DIF: natural, DIT:
    bit-reversed), one frame of M after another, with no gap between frames (a gap would be
    frames of filler, as `hw.fft.StreamingFft` does when draining).

    Parameters
    ----------
    config : golden.fft.FftConfig
        Size, widths, shifts, twiddles, rounding, decimation, direction of the whole FFT.
    stage : int
        The stage index ``s`` (0..log2 M - 1).
    delay : int
        Enabled edges from the FFT's input to this stage's input: the stage's slot counters
        start at ``-delay`` (mod 2L) after reset, so a frame whose first sample enters the FFT
        on the first enabled edge reaches this stage's ``x`` at counter position 0.

    Attributes
    ----------
    config, stage, delay : as given.
    span : int
        L, the distance between the two elements of a butterfly.
    trivial : bool
        All twiddles are 1 or -j: no multiplier, no twiddle ROM.
    latency : int
        ``L + 1 + multiplier_registers(config, stage)``: the delay line, the output register,
        and (non-trivial stages) the multiplier's operand, product and sum registers plus, for
        DIT, the register holding the rounded ``t`` (the DIF product rounds in the output
        register itself).

    Ports
    -----
    en : In(1)
        Pipeline enable.
    x : In(complex_layout(config.stage_input_bits(stage)))
        Stage input, read on enabled edges.
    y : Out(complex_layout(config.widths[stage]))
        Output register: rounded by ``shifts[stage]`` and saturated.
    clipping : Out(1)
        Combinational: the value the next enabled edge loads into ``y`` saturated (the
        model's per-element flag; `StreamingFft` counts it only for slots of real frames).
    """

    def __init__(self, config: FftConfig, stage: int, delay: int = 0) -> None:
        if not 0 <= stage < config.stages or delay < 0:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(f"SdfStage: stage must be 0..{config.stages - 1} and delay >= 0; got {stage}, {delay}")
        self.config, self.stage, self.delay = config, stage, delay
        self.span = config.span(stage)
        self.trivial = config.trivial(stage)
        self.latency = self.latency_of(config, stage)
        super().__init__(
            {
                "en": In(1),
                "x": In(complex_layout(config.stage_input_bits(stage))),
                "y": Out(complex_layout(config.widths[stage])),
                "clipping": Out(1),
            }
        )

    @classmethod
    def latency_of(cls, config: FftConfig, stage: int) -> int:
        """`latency` of stage ``stage`` of ``config``, without building the stage."""
        return config.span(stage) + 1 + cls.multiplier_registers(config, stage)

    @staticmethod
    def multiplier_registers(config: FftConfig, stage: int) -> int:
        """Registers stage ``stage`` adds besides its delay line and output register."""
        if config.trivial(stage):
            return 0
        # DIF: the multiplier's output register is the stage output register; DIT: it holds t
        return MULTIPLIER_DEPTH - 1 + (1 if config.decimation == "dit" else 0)

    def model(self, re: ArrayLike, im: ArrayLike | None = None) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
        """``(y.re, y.im, clipping)`` for input frames (..., M), in stream order: exactly
        `golden.fft.dif_stage` or `golden.fft.dit_stage` for this stage."""
        cfg = self.config
        step = dif_stage if cfg.decimation == "dif" else dit_stage
        r, i = check_frames(replace(cfg, input_bits=cfg.stage_input_bits(self.stage)), re, im)
        return step(cfg, self.stage, r, i)

    # --- parts -------------------------------------------------------------------------------

    def _counter(self, m: Module, name: str, delay: int) -> Signal:
        """Slot position modulo 2L of a point ``delay`` enabled edges behind the FFT input."""
        modulus = 2 * self.span
        c = Signal(range(modulus), name=name, init=(-delay) % modulus)
        with m.If(self.en):
            m.d.sync += c.eq(c + 1)  # modulus is a power of two: the width wraps it
        return c

    def _delay_line(self, m: Module, width: int, ptr: Signal, din_re, din_im):
        """The value written ``L`` enabled edges ago (registers for L <= 2, else a RAM)."""
        length, adv = self.span, self.en
        d_re = Signal(signed(width), name="line_in_re")
        d_im = Signal(signed(width), name="line_in_im")
        m.d.comb += [d_re.eq(din_re), d_im.eq(din_im)]
        if length <= 2:
            regs = [
                (Signal(signed(width), name=f"line_re{k}"), Signal(signed(width), name=f"line_im{k}"))
                for k in range(length)
            ]
            with m.If(adv):
                m.d.sync += [regs[0][0].eq(d_re), regs[0][1].eq(d_im)]
                for k in range(1, length):
                    m.d.sync += [regs[k][0].eq(regs[k - 1][0]), regs[k][1].eq(regs[k - 1][1])]
            return regs[-1]
        mem = memory.Memory(shape=unsigned(2 * width), depth=length, init=[])
        m.submodules.line = mem
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=())  # read-before-write, registered, enabled by en
        m.d.comb += [
            wp.addr.eq(ptr),
            wp.data.eq(Cat(d_re, d_im)),
            wp.en.eq(adv),
            rp.addr.eq(ptr + 1),
            rp.en.eq(adv),
        ]
        return rp.data[:width].as_signed(), rp.data[width:].as_signed()

    def _butterfly(self, m: Module, c: Signal, width: int, x_re, x_im):
        """SDF(L) on ``x`` with slot counter ``c``: returns the outgoing pair element (``width``
        bits, one more than ``x`` needs for the sum) and the block phase (1 = second half)."""
        lg = self.span.bit_length() - 1
        phase2 = c[lg]
        fo_re, fo_im = Signal(signed(width), name="fo_re"), Signal(signed(width), name="fo_im")
        fi_re, fi_im = Signal(signed(width), name="fi_re"), Signal(signed(width), name="fi_im")
        y_re, y_im = Signal(signed(width), name="bf_re"), Signal(signed(width), name="bf_im")
        line_re, line_im = self._delay_line(m, width, c[:lg] if lg else Const(0, 1), fi_re, fi_im)
        m.d.comb += [fo_re.eq(line_re), fo_im.eq(line_im)]
        with m.If(phase2):
            m.d.comb += [fi_re.eq(fo_re - x_re), fi_im.eq(fo_im - x_im), y_re.eq(fo_re + x_re), y_im.eq(fo_im + x_im)]
        with m.Else():
            m.d.comb += [fi_re.eq(x_re), fi_im.eq(x_im), y_re.eq(fo_re), y_im.eq(fo_im)]
        return y_re, y_im, phase2

    def _rotate(self, re: Value, im: Value, enable: Value) -> tuple[Value, Value]:
        """Multiply by -j (forward) or +j (inverse) when ``enable``: a swap and a negation."""
        if self.config.inverse:
            return Mux(enable, -im, re), Mux(enable, re, im)
        return Mux(enable, im, re), Mux(enable, -re, im)

    def _multiplier(
        self, m: Module, c: Signal, a_bits: int, shift: int, out_bits: int, saturate: bool, one_first: bool
    ):
        """Twiddle ROM (2L entries: 1 for one half of the block, W for the other, read through
        a registered port addressed by ``c``) feeding a 4-register `ComplexMultiplier`."""
        cfg = self.config
        T, L = cfg.twiddle_bits, self.span
        wr, wi = cfg.stage_twiddles(self.stage)
        one_r = np.full(L, 1 << cfg.twiddle_frac, dtype=np.int64)
        one_i = np.zeros(L, dtype=np.int64)
        re = np.concatenate([one_r, wr] if one_first else [wr, one_r])
        im = np.concatenate([one_i, wi] if one_first else [wi, one_i])
        m.submodules.twiddle_rom = rom = memory.Memory(shape=unsigned(2 * T), depth=2 * L, init=pack_complex(re, im, T))
        rp = rom.read_port()
        m.submodules.mul = mul = ComplexMultiplier(
            a_bits, T, out_bits, shift, cfg.rounding, saturate=saturate, depth=MULTIPLIER_DEPTH
        )
        m.d.comb += [
            rp.addr.eq(c),
            rp.en.eq(self.en),
            mul.en.eq(self.en),
            mul.b.re.eq(rp.data[:T].as_signed()),  # the ROM port is the multiplier's b register
            mul.b.im.eq(rp.data[T:].as_signed()),
        ]
        return mul

    def _output(self, m: Module, re, im, shift: int) -> None:
        """Output register: round away ``shift`` bits, saturate to the stage width."""
        cfg = self.config
        bits = cfg.widths[self.stage]
        r, fr = hf.saturate(hf.round_shift(re, shift, cfg.rounding), bits)
        i, fi = hf.saturate(hf.round_shift(im, shift, cfg.rounding), bits)
        m.d.comb += self.clipping.eq(fr | fi)
        with m.If(self.en):
            m.d.sync += [self.y.re.eq(r), self.y.im.eq(i)]

    # --- the two decimations ---------------------------------------------------------------

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, s = self.config, self.stage
        d, sh, L = cfg.stage_input_bits(s), cfg.shifts[s], self.span
        x_re, x_im = self.x.re, self.x.im
        c_in = self._counter(m, "pos_in", self.delay)
        if cfg.decimation == "dif":
            y_re, y_im, phase2 = self._butterfly(m, c_in, d + 1, x_re, x_im)
            if self.trivial:
                rot = ~phase2 & c_in[0] if L == 2 else Const(0, 1)  # bottom of pair n = 1: times -j
                self._output(m, *self._rotate(y_re, y_im, rot), sh)
            else:
                # bottom outputs (first half of the block: the line's differences) are pair n = c
                mul = self._multiplier(m, c_in, d + 1, cfg.twiddle_frac + sh, cfg.widths[s], True, one_first=False)
                m.d.comb += [mul.a.re.eq(y_re), mul.a.im.eq(y_im), self.clipping.eq(mul.clipping), self.y.eq(mul.p)]
            return m
        if self.trivial:
            rot = c_in[1] & c_in[0] if L == 2 else Const(0, 1)  # second half, pair n = 1: times -j
            t_re, t_im = self._rotate(x_re, x_im, rot)
            c = c_in
        else:
            # second half of the block (b of pair n = c - L) is multiplied by W, the first by 1;
            # |b * W| <= sqrt 2 * 2**(d-1) * (1 + eps) fits d + 1 bits: the wrap never changes it
            mul = self._multiplier(m, c_in, d, cfg.twiddle_frac, d + 1, False, one_first=True)
            m.d.comb += [mul.a.re.eq(x_re), mul.a.im.eq(x_im)]
            t_re, t_im = mul.p.re, mul.p.im
            c = self._counter(m, "pos", self.delay + mul.latency)
        y_re, y_im, _ = self._butterfly(m, c, d + 2, t_re, t_im)
        self._output(m, y_re, y_im, sh)
        return m
