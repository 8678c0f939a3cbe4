"""Fast-ParC streaming engine: FFT -> spectrum ROM -> inverse FFT -> folded offset, 1 point/clock.

The arithmetic is `golden.fast_parc_int` (one `FastParcPlan` drives both): `FastParcEngine.model`
calls `fast_parc_int_model`, and the two FFTs are `hw.fft.StreamingFft` built from the plan's
`FftConfig`s. Dataflow of one frame (N samples of channel c, ``M = plan.params.m``)::

    Framer --frame--> Feeder.fft --M points--> StreamingFft(DIF, fwd, leader) --X, bit-reversed-->
      ComplexMultiplier (X * Hq[c], spectrum ROM) --> StreamingFft(DIT, inv, follower)
      --O, natural--> keep Re O[0..N-1] --> kept FIFO --> + ChannelRom offset[c, i]
      --> [AccSaturator] --> Requantizer --> o

- Feeder (`hw.feeder.Feeder.fft`): copies the framed row ``u`` into a rotating register (the
  same block `hw.direct` uses) and emits the M-point frame ``[u, u[:N-1], 0, ..., 0]``, one
  point per clock, without bubbles; the engine shifts it left by ``input_shift`` (imag 0);
- product: the spectrum ROM (`hw.target.BlockRam`, ``Hq`` of every channel in bit-reversed
  order at address ``c * M + k``, so no reorder buffer exists anywhere) is read while X waits
  two registers, then the hard-block `hw.complex_mul.ComplexMultiplier` (5 registers: the
  multipliers' three, sums, round/saturate to the inverse FFT input width);
- output: O[N..M-1] (linear-correlation tails) are dropped; O[0..N-1].re go into the kept
  FIFO with their index and channel, then a register, the offset ROM read
  (`hw.rom.ChannelRom`), ``v = Y << y_shift[c] + offset[c, i] << offset_shift[c]`` (the ROM
  holds the offsets already shifted), with a narrow accumulator (``fmt.acc_sat_bits`` = K) an
  `hw.requantizer.AccSaturator` that saturates ``v`` to ``K + offset_shift[c]`` bits (``v``
  is the accumulator in units of ``2**-offset_shift`` accumulator LSBs), then
  `hw.requantizer.Requantizer` (the layer's rounding and saturation, counted) into ``o``.

Frame tags: the channel of a frame rides with it: `StreamingFft` carries a per-frame tag
(``i_tag`` -> ``o_tag``), the product pipeline delays it beside the data, and the kept FIFO
stores it with each kept sample. No tag FIFO, nothing to size.

Flow control: free-running from the feeder to the kept FIFO, credits for backpressure
-------------------------------------------------------------------------------------
No register between the Feeder and the kept FIFO has an enable (the datapath of both FFTs and
the product runs every cycle), so backpressure never fans out to the arithmetic. The forward
FFT is the *leader*: it starts a frame at its slot position 0 when the Feeder has one and
``admit`` is high, and it holds its slot counters when the whole chain is empty (so a frame
after an idle spell starts at once: the latency is exact). The inverse FFT is its *follower*
(`StreamingFft` ``follower``): it takes the leader's ``step``, ``phase`` = L_fwd + product
slots behind, so each product frame reaches it exactly at its own position 0; the leader runs
on (filler frames) while a real slot is in the product pipeline or the inverse FFT
(``keep_next``, a cycle ahead).

Credits: the kept FIFO has `kept_depth` words; a counter of free words not yet promised
(``room``) loses N when the leader starts a frame and gains one per word read out; ``admit``
is ``room >= N``, which the leader loads into its ``i.ready`` register. So the FIFO never overflows whatever the output does, and
with no backpressure every frame finds its room: `kept_depth` covers every frame between its
start and its last word read. The output stage (FIFO read, register, offset ROM, sum,
Requantizer) is a short pipeline advanced by ``~o.valid | o.ready`` (valid never depends on
ready), as in `hw.direct`. Backpressure up to ~1 - N/M costs no throughput. Reset is
synchronous for every control register; memory contents need no reset.

Latency (input transfer of a frame's last sample to its first output, no stalls)::

    latency = 2 (framer full, feeder take) + L_fwd + 9 (product, hand-over) + L_inv + 2 (kept FIFO)
              + 4 (register, offset ROM read, sum) [+ AccSaturator.latency] + Requantizer.latency

``L_fwd``/``L_inv`` = `StreamingFft.latency` = ``1 + (M - 1) + S + 3 + (S - 2) * 5`` (DIF) and
``... * 7`` (DIT), ``S = log2 M``: N = 56, M = 128: 2 + 163 + 9 + 173 + 2 + 4 + 4 = 357 cycles
(the constants come from the blocks' class attributes). One frame every M clocks:
``cycles_per_sample = M / N`` = 16/7 = 2.29 for every paper size (M = 16, 32, 64, 128 for
N = 7, 14, 28, 56).

Resources (N = 56, 8 bits): 44 multipliers (4 per FFT stage with non-trivial twiddles,
2 (S - 2) = 10 stages, plus 4 in the product; operands <= 25 x 18 up to 16-bit data, i.e. one
DSP48 each), FFT delay lines of M - 1 complex words each (LUT RAM, block RAM from L = 16),
twiddle ROMs, spectrum ROM of ``C * M`` words of ``2 * spectrum_bits`` (36) bits, offset ROM
of ``C * 2**ceil(log2 N)`` words (rows padded: no address multiplier), the Framer's and the
feeder's N-word registers, the kept FIFO (`kept_depth` words). See `scripts.synth` for the
yosys/nextpnr figures.
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from golden.fast_parc_int import FastParcPlan, FastParcTrace, FftParams, fast_parc_int_model, plan_fast_parc
from golden.quant import QuantizedLayer
from hw.complex_mul import ComplexMultiplier, hard_latency
from hw.feeder import Feeder
from hw.fft import StreamingFft
from hw.framer import ERROR_COUNTER_BITS, Framer
from hw.mux import per_channel
from hw.pipeline import delay
from hw.requantizer import SATURATION_COUNTER_BITS, Requantizer, acc_clamp_bits, acc_clamp_latency, output_stage
from hw.rom import ChannelRom, pack_complex
from hw.sdf import SdfStage
from hw.stream import sample_stream
from hw.target import BlockRam, check_target

__all__ = ["FastParcEngine", "FEED_STAGES", "KEPT_STAGES", "OUTPUT_STAGES"]

FEED_STAGES = Framer.latency + Feeder.latency  # framer full -> feeder take -> first point on the FFT
# The product's stages (`FastParcEngine.multiply_stages`): the spectrum ROM read (X waits), then
# the hard ComplexMultiplier (`hw.complex_mul.hard_latency` of its operand widths); then
# (`FastParcEngine.product_stages`) + the hand-over register: the inverse FFT (a follower) takes
# the leader's step and the product one cycle late, both from registers beside it, so neither
# crosses the chip on its way to the inverse FFT's input and control (a -6 critical path
# before); it runs as before, a cycle later
HANDOVER_STAGES = 1
KEPT_STAGES = 2  # the kept-sample FIFO (SyncFIFOBuffered: written, readable two cycles later)
OFFSET_STAGES = 1 + BlockRam.read_latency + 1  # kept word register, offset ROM read (a target ChannelRom), sum
OUTPUT_STAGES = OFFSET_STAGES + Requantizer.latency  # exact accumulator (`FastParcEngine.output_stages`)
# cycles from a kept write to its credit's return, beyond KEPT_STAGES; the last one is the
# register that returns a read's credit (`FastParcEngine`, ``returned``)
CREDIT_SLACK = 5


class FastParcEngine(wiring.Component):
    """Streaming fixed-point ParC via Fast-ParC (FFT, spectrum ROM, inverse FFT), bit-exact.

    Parameters
    ----------
    layer : QuantizedLayer
        Weights, folded PE/bias offsets, formats (as for `hw.direct.DirectEngine`).
    params : golden.fast_parc_int.FftParams, optional
        FFT size, widths, scaling schedules, twiddle/spectrum bits (default
        ``FftParams.default(N, bits, output_bits=..., rounding=layer rounding)``).
    target : str
        `hw.target.TARGETS` entry: how the hard multipliers and block RAMs are written.

    Attributes
    ----------
    plan : FastParcPlan       every constant the hardware holds (ROMs, shifts, FFT configs).
    m : int                   FFT size M (power of two >= 2N - 1).
    latency : int             cycles from accepting a frame's last sample to its first output.
    output_stages : int       cycles from the kept FIFO's output to ``o``: `OUTPUT_STAGES`, plus
                              `hw.requantizer.AccSaturator.latency` with a narrow accumulator.
    clamp_bits : list or None per channel, the width of the narrow accumulator's clamp.
    cycles_per_sample : float M / N (the FFTs take one point per clock, M points per frame).
    multiply_stages : int     spectrum ROM read + the hard product's latency (wider operands
                              than 18 bits: more, `hw.complex_mul.hard_latency`).
    product_stages : int      ``multiply_stages`` + the hand-over register.

    Ports
    -----
    i : In(stream of {data: signed(in_bits), last})     frames of N samples, channels in turn.
    o : Out(stream of {data: signed(out_bits), last})   outputs, ``last`` on the N-th.
    frame_errors : Out(16)    malformed input frames (`hw.framer`).
    saturations : Out(32)     output samples that saturated (or wrapped).
    overflow : Out(1)         sticky: a forward/inverse FFT stage or the product saturated.
    """

    def __init__(self, layer: QuantizedLayer, params: FftParams | None = None, *, target: str = "generic") -> None:
        self.target = check_target(target)
        self.layer = layer
        self.plan: FastParcPlan = plan_fast_parc(layer, params)
        self.params = self.plan.params
        self.n = layer.fmt.n
        self.m = self.params.m
        # the FFT blocks (latency, model); `elaborate` builds fresh instances of the same configs
        self.forward = StreamingFft(self.params.forward, target=self.target)
        self.inverse = StreamingFft(self.params.inverse, target=self.target)
        for fft in (self.forward, self.inverse):
            fft._MustUse__silence = True
        self.clamp_bits = acc_clamp_bits(self.plan.layer, self.plan.align[1])
        self.multiply_stages = BlockRam.read_latency + hard_latency(
            self.params.forward.output_bits, self.params.spectrum_bits
        )
        self.product_stages = self.multiply_stages + HANDOVER_STAGES
        super().__init__(
            {
                "i": In(sample_stream(layer.fmt.data.bits)),
                "o": Out(sample_stream(layer.fmt.output.bits)),
                "frame_errors": Out(ERROR_COUNTER_BITS),
                "saturations": Out(SATURATION_COUNTER_BITS),
                "overflow": Out(1),
            }
        )

    @property
    def output_stages(self) -> int:
        return OUTPUT_STAGES + acc_clamp_latency(self.clamp_bits)

    @property
    def latency(self) -> int:
        chain = FEED_STAGES + self.forward.latency + self.product_stages + self.inverse.latency + KEPT_STAGES
        return chain + self.output_stages

    @property
    def kept_depth(self) -> int:
        """Kept-sample FIFO depth: room for the N results of every frame that can hold a
        credit at once with no backpressure (from its start on the forward FFT to its last
        result read), plus one frame: frames start one every M clocks and the output rides
        out backpressure up to ~1 - N/M."""
        chain = self.forward.latency + self.product_stages + self.inverse.latency + KEPT_STAGES + CREDIT_SLACK
        return self.n * (math.ceil((chain + self.n) / self.m) + 1)

    @property
    def cycles_per_sample(self) -> float:
        return self.m / self.n

    def model(self, x: np.ndarray) -> np.ndarray:
        """Integers the engine emits for integer frames ``x`` of shape (..., C, N)."""
        return fast_parc_int_model(self.plan, x).y

    def trace(self, x: np.ndarray) -> FastParcTrace:
        """Every intermediate integer (`golden.fast_parc_int.FastParcTrace`)."""
        return fast_parc_int_model(self.plan, x)

    def info(self) -> dict:
        """Manifest fields of this architecture."""
        p, plan = self.params, self.plan
        y_shift, off_shift, final_shift = plan.align
        return {
            "fft_size": p.m,
            "throughput_samples_per_clock": p.n / p.m,
            "fft": {
                **p.to_dict(),
                "rounding": str(p.rounding),
                "twiddle_bits": p.twiddle_bits,
                "forward_latency": self.forward.latency,
                "inverse_latency": self.inverse.latency,
                "product_shift": plan.product_shift,
                "product_bits": p.inverse_input_bits,
                "spectrum_exp": plan.spectrum_exp.tolist(),
                "y_exp": plan.y_exp.tolist(),
                "align": {
                    "y_shift": y_shift.tolist(),
                    "offset_shift": off_shift.tolist(),
                    "final_shift": final_shift.tolist(),
                },
                "error_bound_lsb": round(plan.error_bound(), 3),
                "notes": dict(plan.notes),
            },
            "latency_formula": f"{FEED_STAGES} + L_fwd + {self.product_stages} + L_inv + {KEPT_STAGES} + {self.output_stages} "
            f"(L = StreamingFft.latency: 1 + (M-1) + S + 3 + (S-2) * ({self._stage_extra('dif')} DIF, {self._stage_extra('dit')} DIT))",
            "overflow_port": "overflow: sticky, set when a forward/inverse FFT stage or the spectrum product saturated",
            "pe_handling": "folded: ROM offset[c,i] = corr(w_q, pe_q)[i] + b_q, aligned to the IFFT output and added before requantizing",
        }

    def _stage_extra(self, decimation: str) -> str:
        """Registers of a multiplier stage beyond its delay line and output register, for the
        latency formula: one number when the stages agree, else each stage's (operands over
        18 bits lengthen the hard multipliers, `hw.sdf.SdfStage.extra_registers`)."""
        cfg = self.params.forward if self.params.forward.decimation == decimation else self.params.inverse
        extras = sorted(
            {SdfStage.extra_registers(cfg, s) for s in range(cfg.stages) if not cfg.trivial(s)}
            or {hard_latency(2, 2) + (decimation == "dit")}
        )
        return "/".join(str(e) for e in extras)

    def spectrum_words(self) -> list[int]:
        """Spectrum ROM words (re in the low ``spectrum_bits``), address ``c * M + k``."""
        sb = self.params.spectrum_bits
        return pack_complex(self.plan.spectrum_re.reshape(-1), self.plan.spectrum_im.reshape(-1), sb)

    def offset_values(self) -> np.ndarray:
        """Offset ROM (C, N): ``offset << offset_shift[c]``, the model's aligned offset term."""
        _, off_shift, _ = self.plan.align
        return self.layer.offset << off_shift[:, None]

    def elaborate(self, platform) -> Module:
        m = Module()
        q, p, plan = self.layer, self.params, self.plan
        n, M, C = self.n, self.m, q.channels
        fmt = q.fmt
        fwd_cfg, inv_cfg = p.forward, p.inverse

        m.submodules.framer = framer = Framer(n, fmt.data.bits, C, ready_next=True)
        # the feeder's i.ready is a register computed from the forward FFT's next ready: the
        # framer's accept (its shift register's enable, N * bits flip-flops, and s_axis_tready)
        # then waits on registers only, not on a chain through the feeder and the FFT's
        # slot counter (the padded engine's critical path at 16 bits)
        m.submodules.feeder = feeder = Feeder.fft(n, fmt.data.bits, C, M, ready_next=True)
        ch_bits = len(framer.o.payload.channel)
        m.submodules.fft_fwd = fwd = StreamingFft(fwd_cfg, tag_bits=ch_bits, target=self.target)
        m.submodules.fft_inv = inv = StreamingFft(
            inv_cfg,
            tag_bits=ch_bits,
            follower=True,
            phase=self.forward.latency + self.multiply_stages,
            target=self.target,
        )

        # --- framer -> feeder -> forward FFT: [u, u[:N-1], 0...] << input_shift -----------------
        wiring.connect(m, wiring.flipped(self.i), framer.i)
        wiring.connect(m, framer.o, feeder.i)
        m.d.comb += [
            self.frame_errors.eq(framer.errors),
            fwd.i.valid.eq(feeder.o.valid),
            fwd.i.payload.data.re.eq(feeder.o.payload.data[0] << p.input_shift),
            fwd.i.payload.data.im.eq(0),
            fwd.i.payload.last.eq(feeder.o.payload.last),
            fwd.i_tag.eq(feeder.o.payload.channel),
            feeder.o.ready.eq(fwd.i.ready),
            feeder.o_ready_next.eq(fwd.i_ready_next),
            framer.o_ready_next.eq(feeder.i_ready_next),
        ]

        # --- credits: a frame starts only when the kept FIFO has room for its N results ------
        depth = self.kept_depth
        room = Signal(range(depth + 1), init=depth)
        frame_start = Signal()
        returned = Signal()  # a word read out of the kept FIFO last cycle: its credit comes back
        room_next = Signal.like(room)
        m.d.comb += [
            frame_start.eq(fwd.i.valid & fwd.i.ready & ~feeder.o.payload.index.any()),
            room_next.eq(room - Mux(frame_start, n, 0) + returned),
        ]
        m.d.sync += room.eq(room_next)
        # fwd.i.ready is a register loaded from admit: a frame starting one cycle later finds
        # at least this room (a start cannot come in between: the cycle after a start is inside
        # its frame)
        m.d.comb += fwd.admit.eq(room >= n)

        # --- product: P = sat(R(X * Hq[c], product_shift)), free-running --------------------------
        sb, pw = p.spectrum_bits, p.inverse_input_bits
        m.submodules.spectrum_rom = spectrum_rom = BlockRam(
            2 * sb, C * M, self.spectrum_words(), writable=False, target=self.target
        )
        m.submodules.product = mul = ComplexMultiplier(
            fwd_cfg.output_bits, sb, pw, plan.product_shift, p.rounding, saturate=True, target=self.target
        )
        k = Signal(range(M))  # bin index (bit-reversed order) of the point on fwd.o
        with m.If(fwd.o.valid):
            m.d.sync += k.eq(k + 1)  # M is a power of two: the width wraps it
        on = Const(1)
        lead = BlockRam.read_latency
        m.d.comb += [
            spectrum_rom.r_addr.eq(Cat(k, fwd.o_tag[: (C - 1).bit_length()])),
            mul.en.eq(1),
            mul.a.eq(delay(m, fwd.o.payload.data, lead, on, "prod_x")),
            mul.b.re.eq(spectrum_rom.r_data[:sb].as_signed()),
            mul.b.im.eq(spectrum_rom.r_data[sb:].as_signed()),
        ]
        valids = [fwd.o.valid]  # the slots in the product pipeline: which are real
        if mul.latency + lead != self.multiply_stages:  # hard_latency must describe this block
            raise AssertionError(f"FastParcEngine: product latency {mul.latency} is not the planned one")
        for d in range(1, self.product_stages + 1):
            valids.append(delay(m, valids[-1], 1, on, f"prod_valid{d}"))
        valid_entering_p, prod_valid = valids[self.multiply_stages - 1], valids[-1]
        product_sat = Signal()
        with m.If(valid_entering_p & mul.clipping):
            m.d.sync += product_sat.eq(1)
        m.d.comb += [
            inv.i.valid.eq(prod_valid),
            inv.i.payload.data.eq(delay(m, mul.p, HANDOVER_STAGES, on, "handover")),
            inv.i.payload.last.eq(delay(m, fwd.o.payload.last, self.product_stages, on, "prod_last")),
            inv.i_tag.eq(delay(m, fwd.o_tag, self.product_stages, on, "prod_tag")),
            inv.step.eq(delay(m, fwd.step, HANDOVER_STAGES, on, "handover_step")),
        ]
        # the leader runs on while any real slot is past it: in the product or the inverse FFT.
        # It takes that a cycle ahead (its step is one LUT behind registers): next cycle's
        # valids are the forward FFT's next o.valid and this cycle's valids shifted on
        m.d.comb += fwd.keep_next.eq(fwd.o_valid_next | Cat(*valids[:-1]).any() | inv.busy_next)

        # --- inverse FFT output: keep O[0..N-1].re, drop the tails ------------------------------
        idx_shape = unsigned(max((n - 1).bit_length(), 1))
        kept = data.StructLayout(
            {"re": signed(inv_cfg.output_bits), "index": idx_shape, "channel": unsigned(max(ch_bits, 1))}
        )
        m.submodules.kept_fifo = kept_fifo = SyncFIFOBuffered(width=kept.size, depth=depth)
        j = Signal(range(M))
        kept_in = Signal(kept)
        m.d.comb += [
            kept_in.re.eq(inv.o.payload.data.re),
            kept_in.index.eq(j),
            kept_in.channel.eq(inv.o_tag),
            kept_fifo.w_data.eq(kept_in),
            kept_fifo.w_en.eq(inv.o.valid & (j < n)),  # never full: the room reserved the room
        ]
        with m.If(inv.o.valid):
            m.d.sync += j.eq(j + 1)

        # --- output: v = Y << y_shift[c] + aligned offset; requantize ----------------------------
        y_shift, _, final_shift = plan.align
        m.submodules.offset_rom = offsets = ChannelRom(self.offset_values(), target=self.target)
        en_o = Signal()  # the output pipeline's one enable
        m.d.comb += en_o.eq(~self.o.valid | self.o.ready)
        # the FIFO's block RAM drives only a register (its clock-to-out is most of a cycle)
        y_in = data.View(kept, delay(m, kept_fifo.r_data, 1, en_o, "out_kept"))
        y_valid = delay(m, kept_fifo.r_rdy, 1, en_o, "out_kept_valid")
        y_last = y_in.index == n - 1
        m.d.comb += [
            kept_fifo.r_en.eq(en_o),
            offsets.channel.eq(y_in.channel),
            offsets.index.eq(y_in.index),
            offsets.en.eq(en_o),
        ]
        # the credit of a read comes back a cycle later, from a register: the output's enable
        # (from the Requantizer's valid at the far end of the pipeline) then stops there, not
        # in the credit adder beside the FIFO (``requantizer.o__valid -> room``, 8.3 ns, the
        # N = 56, 16-bit -6 critical path); kept_depth has the cycle in its CREDIT_SLACK
        m.d.sync += returned.eq(en_o & kept_fifo.r_rdy)
        rom_latency = offsets.latency
        a_y = delay(m, y_in.re, rom_latency, en_o, "out_y")  # beside the offset ROM read
        a_ch = delay(m, y_in.channel, rom_latency, en_o, "out_channel")
        shifted = a_y << per_channel(y_shift, a_ch)
        b_v = Signal(signed(max(len(shifted), len(offsets.data)) + 1), name="out_v")
        with m.If(en_o):
            m.d.sync += b_v.eq(shifted + offsets.data)
        acc_in, requant = output_stage(m, len(b_v), fmt, final_shift, self.clamp_bits)
        m.d.comb += [
            acc_in.valid.eq(delay(m, y_valid, rom_latency + 1, en_o, "out_valid")),
            acc_in.payload.value.eq(b_v),
            acc_in.payload.channel.eq(delay(m, a_ch, 1, en_o, "out_channel_v")),
            acc_in.payload.last.eq(delay(m, y_last, rom_latency + 1, en_o, "out_last")),
            requant.o.ready.eq(en_o),
            self.o.valid.eq(requant.o.valid),
            self.o.payload.eq(requant.o.payload),
            self.saturations.eq(requant.saturations),
        ]

        m.d.comb += [
            fwd.overflow_clear.eq(0),
            inv.overflow_clear.eq(0),
            self.overflow.eq(fwd.overflow | inv.overflow | product_sat),
        ]
        return m
