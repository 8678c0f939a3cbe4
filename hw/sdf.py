"""One radix-2 single-path delay-feedback (SDF) stage of `hw.fft.StreamingFft`, DIF or DIT.

Stage ``s`` of an M-point FFT pairs samples ``L = config.span(s)`` apart inside blocks of 2L.
Its arithmetic is `golden.fft.dif_stage` / `golden.fft.dit_stage` (one `FftConfig` drives
both), and `SdfStage.model` calls them. The two decimations share every part; only the order
of the twiddle multiply and the butterfly differs::

    DIF:  x -> SDF(L) butterfly | b | [x W: ComplexMultiplier, round F + sh, saturate] -> y
                                   or | b | [x -j: swap, negate | r |] round sh, saturate -> y
    DIT:  x -> [x W: ComplexMultiplier, round F, wrap (never clips)] -> t
            or [x -j: swap, negate | t |];   t -> SDF(L) butterfly | b | round sh, saturate -> y

Registers (``| b |`` the butterfly register, ``| r |``/``| t |`` the rotation register) cut
every path to one carry chain: the butterfly add, the negation of the -j rotation, the rounding
add (its saturation check follows as a few LUT levels), a sum of two products. The complex
multiplier is the hard-block form (`hw.complex_mul.hard_latency` registers, the multipliers'
own input/pipeline/output registers and, for operands over 18 bits, their adder tree's) and reads its twiddle from a `hw.target.BlockRam` ROM
addressed `TWIDDLE_LEAD` slots ahead.

Two enables: ``en`` loads every register (a free-running FFT ties it high), ``step`` advances
the slot counters only (the FFT holds them while it is empty, so a frame that arrives after an
idle spell starts at counter position 0 at once: its latency is exact).

SDF(L) butterfly: a delay line of L words (registers for L <= 2, a RAM with a registered read
port below `LINE_RAM_MIN`, else a `hw.target.BlockRam` read two slots ahead) and one adder/subtractor. For the first L samples of each 2L block the input goes
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
from hw.complex_mul import ComplexMultiplier, complex_layout, hard_latency
from hw.rom import pack_complex
from hw.target import BlockRam, check_target

__all__ = ["SdfStage"]

TWIDDLE_LEAD = BlockRam.read_latency  # the twiddle ROM is addressed this many slots ahead
LINE_RAM_MIN = 16  # delay lines this long go to a `BlockRam` (its output register: a block RAM's
# own clock-to-out is ~5.6 ns on ECP5 -6); shorter ones are LUT RAM with one read register


class SdfStage(wiring.Component):
    """Stage ``s`` of a streaming radix-2 SDF FFT: a pipeline of ``latency`` slots.

    Every register, delay line and slot counter loads only when ``en`` is high, and the slot
    counters advance only when ``en & step`` (`hw.fft.StreamingFft` ties ``en`` high and holds
    ``step`` low only while no sample of a real frame is inside), so a slot entering ``x``
    with an enabled edge leaves on ``y`` exactly ``latency`` enabled edges later. Samples enter
    in the config's order (DIF: natural, DIT: bit-reversed), one frame of M after another.

    Parameters
    ----------
    config : golden.fft.FftConfig
        Size, widths, shifts, twiddles, rounding, decimation, direction of the whole FFT.
    stage : int
        The stage index ``s`` (0..log2 M - 1).
    delay : int
        Enabled edges from the FFT's input to this stage's input: the stage's slot counters
        start at ``-delay`` (mod 2L) after reset, so a frame whose first sample enters the FFT
        on the first enabled edge reaches this stage's ``x`` at counter position 0. A DIT
        multiplier stage needs ``delay >= TWIDDLE_LEAD``: its ROM reads ahead of ``x`` (a DIF
        one multiplies the butterfly's output, at least L >= 4 slots after ``x``).
    target : str
        `hw.target.TARGETS` entry for the multipliers and the twiddle ROM.

    Attributes
    ----------
    config, stage, delay : as given.
    span : int
        L, the distance between the two elements of a butterfly.
    trivial : bool
        All twiddles are 1 or -j: no multiplier, no twiddle ROM.
    latency : int
        ``L + 1 + extra_registers(config, stage)``: the delay line, the output register and
        the others (see `extra_registers`).

    Ports
    -----
    en : In(1), init 1
        Register enable.
    step : In(1), init 1
        Slot counter enable (with ``en``).
    x : In(complex_layout(config.stage_input_bits(stage)))
        Stage input, read on enabled edges.
    y : Out(complex_layout(config.widths[stage]))
        Output register: rounded by ``shifts[stage]`` and saturated.
    clipping : Out(1)
        Combinational: the value the next enabled edge loads into ``y`` saturated (the
        model's per-element flag; `StreamingFft` counts it only for slots of real frames).
    """

    def __init__(self, config: FftConfig, stage: int, delay: int = 0, *, target: str = "generic") -> None:
        self.target = check_target(target)
        if not 0 <= stage < config.stages or delay < 0:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(f"SdfStage: stage must be 0..{config.stages - 1} and delay >= 0; got {stage}, {delay}")
        if not config.trivial(stage) and config.decimation == "dit" and delay < TWIDDLE_LEAD:
            self._MustUse__silence = True
            raise ValueError(f"SdfStage: a multiplier stage needs delay >= {TWIDDLE_LEAD}; got {delay}")
        self.config, self.stage, self.delay = config, stage, delay
        self.span = config.span(stage)
        self.trivial = config.trivial(stage)
        self.latency = self.latency_of(config, stage)
        super().__init__(
            {
                "en": In(1, init=1),
                "step": In(1, init=1),
                "x": In(complex_layout(config.stage_input_bits(stage))),
                "y": Out(complex_layout(config.widths[stage])),
                "clipping": Out(1),
            }
        )

    @classmethod
    def latency_of(cls, config: FftConfig, stage: int) -> int:
        """`latency` of stage ``stage`` of ``config``, without building the stage."""
        return config.span(stage) + 1 + cls.extra_registers(config, stage)

    @staticmethod
    def rotates(config: FftConfig, stage: int) -> bool:
        """The trivial stage with L = 2: some of its points are multiplied by -j (or +j)."""
        return config.trivial(stage) and config.span(stage) == 2

    @classmethod
    def extra_registers(cls, config: FftConfig, stage: int) -> int:
        """Registers stage ``stage`` has besides its delay line and output register: the
        butterfly register (1) and the rotation register (1) of a trivial stage; a multiplier
        stage: `hw.complex_mul.hard_latency` of its operand widths (its output register is the
        stage output for DIF, ``t`` for DIT), plus the butterfly register (DIT: and the output
        register)."""
        if config.trivial(stage):
            return 1 + cls.rotates(config, stage)
        return cls.multiplier_latency(config, stage) - 1 + (2 if config.decimation == "dit" else 1)

    @staticmethod
    def multiplier_latency(config: FftConfig, stage: int) -> int:
        """Latency of a multiplier stage's `ComplexMultiplier` (the operand widths `_multiplier`
        gets: DIF the butterfly output, one bit over the stage input; DIT the stage input)."""
        a_bits = config.stage_input_bits(stage) + (1 if config.decimation == "dif" else 0)
        return hard_latency(a_bits, config.twiddle_bits)

    def model(self, re: ArrayLike, im: ArrayLike | None = None) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
        """``(y.re, y.im, clipping)`` for input frames (..., M), in stream order: exactly
        `golden.fft.dif_stage` or `golden.fft.dit_stage` for this stage."""
        cfg = self.config
        step = dif_stage if cfg.decimation == "dif" else dit_stage
        r, i = check_frames(replace(cfg, input_bits=cfg.stage_input_bits(self.stage)), re, im)
        return step(cfg, self.stage, r, i)

    # --- parts -------------------------------------------------------------------------------

    def _counter(self, m: Module, name: str, delay: int) -> Signal:
        """Slot position modulo 2L of a point ``delay`` enabled edges behind the FFT input
        (a negative ``delay``: ahead of it)."""
        modulus = 2 * self.span
        c = Signal(range(modulus), name=name, init=(-delay) % modulus)
        with m.If(self.en & self.step):
            m.d.sync += c.eq(c + 1)  # modulus is a power of two: the width wraps it
        return c

    def _register(self, m: Module, value: Value, name: str) -> Signal:
        reg = Signal(value.shape(), name=name)
        with m.If(self.en):
            m.d.sync += reg.eq(value)
        return reg

    def _delay_line(self, m: Module, width: int, ptr: Value, din_re, din_im):
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
        if length < LINE_RAM_MIN:
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
        # a block RAM with its output register: the word written at ptr(t - L) = ptr(t) is
        # read at t - 2 from ptr(t - 2) + 2, never the address written in the same cycle
        m.submodules.line = ram = BlockRam(2 * width, length, target=self.target)
        m.d.comb += [
            ram.w_addr.eq(ptr),
            ram.w_data.eq(Cat(d_re, d_im)),
            ram.w_en.eq(adv),
            ram.r_addr.eq(ptr + BlockRam.read_latency),
            ram.r_en.eq(adv),
        ]
        return ram.r_data[:width].as_signed(), ram.r_data[width:].as_signed()

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
        self, m: Module, delay: int, a_bits: int, shift: int, out_bits: int, saturate: bool, one_first: bool
    ) -> ComplexMultiplier:
        """Twiddle ROM (2L entries: 1 for one half of the block, W for the other; a
        `BlockRam` read `TWIDDLE_LEAD` slots ahead of the operand, which is ``delay`` slots
        behind the FFT input) feeding a hard-block `ComplexMultiplier`."""
        cfg = self.config
        T, L = cfg.twiddle_bits, self.span
        wr, wi = cfg.stage_twiddles(self.stage)
        one_r = np.full(L, 1 << cfg.twiddle_frac, dtype=np.int64)
        one_i = np.zeros(L, dtype=np.int64)
        re = np.concatenate([one_r, wr] if one_first else [wr, one_r])
        im = np.concatenate([one_i, wi] if one_first else [wi, one_i])
        m.submodules.twiddle_rom = rom = BlockRam(
            2 * T, 2 * L, pack_complex(re, im, T), writable=False, target=self.target
        )
        lead = self._counter(m, "twiddle_addr", delay - TWIDDLE_LEAD)
        m.submodules.mul = mul = ComplexMultiplier(
            a_bits, T, out_bits, shift, cfg.rounding, saturate=saturate, target=self.target
        )
        if mul.latency != self.multiplier_latency(cfg, self.stage):  # latency_of must describe this block
            raise AssertionError(f"SdfStage {self.stage}: multiplier latency {mul.latency} is not the planned one")
        m.d.comb += [
            rom.r_addr.eq(lead),
            rom.r_en.eq(self.en),
            mul.en.eq(self.en),
            mul.b.re.eq(rom.r_data[:T].as_signed()),
            mul.b.im.eq(rom.r_data[T:].as_signed()),
        ]
        return mul

    def _output(self, m: Module, re, im, shift: int) -> None:
        """Output register: round away ``shift`` bits, saturate to the stage width."""
        cfg = self.config
        bits = cfg.widths[self.stage]
        r, fr = hf.requantize(re, shift, bits, cfg.rounding, True)
        i, fi = hf.requantize(im, shift, bits, cfg.rounding, True)
        m.d.comb += self.clipping.eq(fr | fi)
        with m.If(self.en):
            m.d.sync += [self.y.re.eq(r), self.y.im.eq(i)]

    # --- the two decimations ---------------------------------------------------------------

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, s = self.config, self.stage
        d, sh = cfg.stage_input_bits(s), cfg.shifts[s]
        x_re, x_im = self.x.re, self.x.im
        c_in = self._counter(m, "pos_in", self.delay)
        rotates = self.rotates(cfg, s)
        if cfg.decimation == "dif":
            y_re, y_im, phase2 = self._butterfly(m, c_in, d + 1, x_re, x_im)
            if self.trivial:
                b_re, b_im = self._register(m, y_re, "b_re"), self._register(m, y_im, "b_im")
                if rotates:  # bottom of pair n = 1 (first half of the block, odd slot): times -j
                    rot = self._register(m, ~phase2 & c_in[0], "b_rot")
                    r_re, r_im = self._rotate(b_re, b_im, rot)
                    b_re, b_im = self._register(m, r_re, "r_re"), self._register(m, r_im, "r_im")
                self._output(m, b_re, b_im, sh)
            else:
                # bottom outputs (first half of the block: the line's differences) are pair n = c.
                # The butterfly sum gets its register before the multiplier's: the hard
                # multipliers sit in DSP columns away from the adder, and an operand over 18
                # bits feeds two of them; the add plus that route was the padded N = 56,
                # 16-bit -6 critical path (``s3 -> s3.mul.mul0.mult_18_0.A``, 8.7 ns).
                b_re, b_im = self._register(m, y_re, "b_re"), self._register(m, y_im, "b_im")
                mul = self._multiplier(
                    m, self.delay + 1, d + 1, cfg.twiddle_frac + sh, cfg.widths[s], True, one_first=False
                )
                m.d.comb += [mul.a.re.eq(b_re), mul.a.im.eq(b_im), self.clipping.eq(mul.clipping), self.y.eq(mul.p)]
            return m
        if self.trivial:
            if rotates:  # second half, pair n = 1: times -j
                r_re, r_im = self._rotate(x_re, x_im, c_in[1] & c_in[0])
                t_re, t_im = self._register(m, r_re, "t_re"), self._register(m, r_im, "t_im")
                c = self._counter(m, "pos", self.delay + 1)
            else:
                t_re, t_im, c = x_re, x_im, c_in
        else:
            # second half of the block (b of pair n = c - L) is multiplied by W, the first by 1;
            # |b * W| <= sqrt 2 * 2**(d-1) * (1 + eps) fits d + 1 bits: the wrap never changes it
            mul = self._multiplier(m, self.delay, d, cfg.twiddle_frac, d + 1, False, one_first=True)
            m.d.comb += [mul.a.re.eq(x_re), mul.a.im.eq(x_im)]
            t_re, t_im = mul.p.re, mul.p.im
            c = self._counter(m, "pos", self.delay + mul.latency)
        y_re, y_im, _ = self._butterfly(m, c, d + 2, t_re, t_im)
        self._output(m, self._register(m, y_re, "b_re"), self._register(m, y_im, "b_im"), sh)
        return m
