"""Fast-ParC streaming engine: FFT -> spectrum ROM -> inverse FFT -> folded offset, 1 point/clock.

The arithmetic is `golden.fast_parc_int` (one `FastParcPlan` drives both): `FastParcEngine.model`
calls `fast_parc_int_model`, and the two FFTs are `hw.fft.StreamingFft` built from the plan's
`FftConfig`s. Dataflow of one frame (N samples of channel c, ``M = plan.params.m``)::

    Framer --frame--> Feeder.fft --M points--> StreamingFft(DIF, fwd) --X, bit-reversed-->
      ComplexMultiplier (X * Hq[c], spectrum ROM) --> SkidBuffer --> StreamingFft(DIT, inv)
      --O, natural--> keep Re O[0..N-1] --> kept FIFO (N) --> + ChannelRom offset[c, i]
      --> Requantizer --> o

- Feeder (`hw.feeder.Feeder.fft`): copies the framed row ``u`` into a rotating register (the
  same block `hw.direct` uses) and emits the M-point frame ``[u, u[:N-1], 0, ..., 0]``, one
  point per clock; the engine shifts it left by ``input_shift`` (imag 0);
- product (`hw.complex_mul.ComplexMultiplier`, 4 pipeline registers: operands + spectrum ROM
  read, 4 products, 2 sums, round/saturate to the inverse FFT input width); the ROM holds
  ``Hq`` of every channel in bit-reversed order at address ``c * M + k``, so no reorder buffer
  exists anywhere;
- output: O[N..M-1] (linear-correlation tails) are consumed as they come and never stall;
  O[0..N-1].re go through a FIFO of N entries, then 3 pipeline registers: offset ROM read
  (`hw.rom.ChannelRom`), ``v = Y << y_shift[c] + offset[c, i] << offset_shift[c]`` (the ROM
  holds the offsets already shifted), `hw.requantizer.Requantizer` (the layer's rounding and
  saturation, counted) into ``o``.

Frame tags: the channel of a frame (``Framer.o.payload.channel``, 0..C-1 in turn) is pushed
into a tag FIFO when the Feeder takes the frame (a frame waits in the Framer while that FIFO is
full), read by the product stage (spectrum ROM address) while the frame leaves the forward FFT,
and moved to a second tag FIFO with the frame's last point; the output stage reads it there
(offset ROM address, per-channel shifts) and pops it with the frame's N-th output. The FFTs
keep frame order and lose nothing, so the head of each FIFO is the frame passing that point.
Depths (`tag_depths`) cover every frame that can be between the two points; the writers also
wait on a full FIFO, so correctness never rests on that count.

Flow control: every stage is a pipeline advanced by one enable (``~out.valid | out.ready``);
valid never depends on ready. The output stage's enable is the Requantizer's ``o.ready``, as in
`hw.direct`. The skid buffer and the kept FIFO give the two FFTs ready inputs that are
registers, so no combinational ready path runs through both FFTs; the kept FIFO also absorbs
output backpressure during a frame's N outputs (M - N tail slots drain it), so random
backpressure up to ~1 - N/M costs no throughput. The FFTs drain themselves with filler frames:
the last frame comes out without a following frame. Reset is synchronous for every register
(tags, counters, FFT frame state); memory contents need no reset.

Latency (input transfer of a frame's last sample to its first output, no stalls)::

    latency = 2 (framer full, feeder take) + L_fwd + 4 (product) + L_inv + 1 (kept FIFO) + 3

``L_fwd``/``L_inv`` = `StreamingFft.latency` = ``(M - 1) + S + 3 (S - 2)`` (DIF) and
``(M - 1) + S + 4 (S - 2)`` (DIT), ``S = log2 M``: N = 56, M = 128: 2 + 149 + 4 + 154 + 1 + 3
= 313 cycles (N = 7/14/28: 62/103/176). One frame every M clocks: ``cycles_per_sample = M / N``
= 16/7 = 2.29 for every paper size (M = 16, 32, 64, 128 for N = 7, 14, 28, 56).

Resources (N = 56, 8 bits): 44 multipliers (4 per FFT stage with non-trivial twiddles,
2 (S - 2) = 10 stages, plus 4 in the product; operands <= 25 x 18 up to 16-bit data, i.e. one
DSP48 each), FFT delay lines of M - 1 complex words each (RAM), twiddle ROMs, spectrum ROM of
``C * M`` words of ``2 * spectrum_bits`` (36) bits, offset ROM of ``C * 2**ceil(log2 N)`` words
(rows padded: no address multiplier), the Framer's and the feeder's N-word registers, an
N-entry kept FIFO and two small tag FIFOs. yosys, C = 4: Xilinx 7 44 DSP48E1, 4.8 k LUT,
2.9 k FF, 1 RAMB18; ECP5 44 MULT18X18D, 6.8 k LUT4, 5.1 k FF, 8 DP16KD (`scripts.synth`).
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.fast_parc_int import FastParcPlan, FastParcTrace, FftParams, fast_parc_int_model, plan_fast_parc
from golden.quant import QuantizedLayer
from hw.complex_mul import ComplexMultiplier
from hw.feeder import Feeder
from hw.fft import StreamingFft, complex_sample_layout
from hw.framer import ERROR_COUNTER_BITS, Framer
from hw.mux import per_channel
from hw.pipeline import delay
from hw.requantizer import SATURATION_COUNTER_BITS, Requantizer
from hw.rom import ChannelRom, pack_complex
from hw.skid import SkidBuffer
from hw.stream import sample_stream

__all__ = ["FastParcEngine", "SkidBuffer", "FEED_STAGES", "PRODUCT_STAGES", "KEPT_STAGES", "OUTPUT_STAGES"]

FEED_STAGES = Framer.latency + Feeder.latency  # framer full -> feeder take -> first point on the FFT
PRODUCT_STAGES = 4  # ComplexMultiplier: operands + ROM read, products, sums, round/saturate
KEPT_STAGES = 1  # the kept-sample FIFO (written, then readable the next cycle)
OFFSET_STAGES = 2  # offset ROM read + Y, aligned sum
OUTPUT_STAGES = OFFSET_STAGES + Requantizer.latency


class FastParcEngine(wiring.Component):
    """Streaming fixed-point ParC via Fast-ParC (FFT, spectrum ROM, inverse FFT), bit-exact.

    Parameters
    ----------
    layer : QuantizedLayer
        Weights, folded PE/bias offsets, formats (as for `hw.direct.DirectEngine`).
    params : golden.fast_parc_int.FftParams, optional
        FFT size, widths, scaling schedules, twiddle/spectrum bits (default
        ``FftParams.default(N, bits, output_bits=..., rounding=layer rounding)``).

    Attributes
    ----------
    plan : FastParcPlan       every constant the hardware holds (ROMs, shifts, FFT configs).
    m : int                   FFT size M (power of two >= 2N - 1).
    latency : int             cycles from accepting a frame's last sample to its first output.
    cycles_per_sample : float M / N (the FFTs take one point per clock, M points per frame).

    Ports
    -----
    i : In(stream of {data: signed(in_bits), last})     frames of N samples, channels in turn.
    o : Out(stream of {data: signed(out_bits), last})   outputs, ``last`` on the N-th.
    frame_errors : Out(16)    malformed input frames (`hw.framer`).
    saturations : Out(32)     output samples that saturated (or wrapped).
    overflow : Out(1)         sticky: a forward/inverse FFT stage or the product saturated.
    """

    def __init__(self, layer: QuantizedLayer, params: FftParams | None = None) -> None:
        self.layer = layer
        self.plan: FastParcPlan = plan_fast_parc(layer, params)
        self.params = self.plan.params
        self.n = layer.fmt.n
        self.m = self.params.m
        # the FFT blocks (latency, model); `elaborate` builds fresh instances of the same configs
        self.forward = StreamingFft(self.params.forward)
        self.inverse = StreamingFft(self.params.inverse)
        for fft in (self.forward, self.inverse):
            fft._MustUse__silence = True
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
    def latency(self) -> int:
        return FEED_STAGES + self.forward.latency + PRODUCT_STAGES + self.inverse.latency + KEPT_STAGES + OUTPUT_STAGES

    @property
    def kept_depth(self) -> int:
        """Kept-sample FIFO depth: one frame's N outputs, so output backpressure is absorbed
        while the inverse FFT keeps running (the frame's M - N tail slots drain it)."""
        return self.n

    @property
    def cycles_per_sample(self) -> float:
        return self.m / self.n

    @property
    def tag_depths(self) -> tuple[int, int]:
        """Tag FIFO depths: frames between feeder take and the product stage, and between the
        product stage and the output stage (pipeline slots / M, rounded up, plus the frame in
        the feeder and a partly filled frame at each end)."""
        m = self.m
        first = math.ceil(self.forward.latency / m) + 2
        second = (
            math.ceil((PRODUCT_STAGES + 1 + self.inverse.latency) / m) + 1 + math.ceil(self.kept_depth / self.n) + 1
        )
        return first, second

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
            "latency_formula": "2 + L_fwd + 4 + L_inv + 1 + 3 (L = StreamingFft.latency: (M-1) + S + 3(S-2) DIF, (M-1) + S + 4(S-2) DIT)",
            "overflow_port": "overflow: sticky, set when a forward/inverse FFT stage or the spectrum product saturated",
            "pe_handling": "folded: ROM offset[c,i] = corr(w_q, pe_q)[i] + b_q, aligned to the IFFT output and added before requantizing",
        }

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

        m.submodules.framer = framer = Framer(n, fmt.data.bits, C)
        m.submodules.feeder = feeder = Feeder.fft(n, fmt.data.bits, C, M)
        m.submodules.fft_fwd = fwd = StreamingFft(fwd_cfg)
        m.submodules.fft_inv = inv = StreamingFft(inv_cfg)
        depth1, depth2 = self.tag_depths
        ch_bits = len(framer.o.payload.channel)
        m.submodules.tags_fwd = tags1 = SyncFIFO(width=ch_bits, depth=depth1)
        m.submodules.tags_inv = tags2 = SyncFIFO(width=ch_bits, depth=depth2)

        # --- framer -> feeder: a frame enters only when its channel tag has room ---------------
        wiring.connect(m, wiring.flipped(self.i), framer.i)
        take = framer.o.valid & framer.o.ready
        m.d.comb += [
            self.frame_errors.eq(framer.errors),
            feeder.i.valid.eq(framer.o.valid & tags1.w_rdy),
            feeder.i.payload.eq(framer.o.payload),
            framer.o.ready.eq(feeder.i.ready & tags1.w_rdy),
            tags1.w_en.eq(take),
            tags1.w_data.eq(framer.o.payload.channel),
        ]

        # --- feeder -> forward FFT: [u, u[:N-1], 0...] << input_shift, one point per transfer ---
        m.d.comb += [
            fwd.i.valid.eq(feeder.o.valid),
            fwd.i.payload.data.re.eq(feeder.o.payload.data[0] << p.input_shift),
            fwd.i.payload.data.im.eq(0),
            fwd.i.payload.last.eq(feeder.o.payload.last),
            feeder.o.ready.eq(fwd.i.ready),
        ]

        # --- product: P = sat(R(X * Hq[c], product_shift)) ------------------------------------
        sb, pw = p.spectrum_bits, p.inverse_input_bits
        m.submodules.spectrum_rom = spectrum_rom = Memory(
            shape=unsigned(2 * sb), depth=C * M, init=self.spectrum_words()
        )
        h_port = spectrum_rom.read_port()
        m.submodules.product = mul = ComplexMultiplier(
            fwd_cfg.output_bits, sb, pw, plan.product_shift, p.rounding, saturate=True, depth=PRODUCT_STAGES
        )
        m.submodules.skid_product = skid_a = SkidBuffer(complex_sample_layout(pw))
        en_p = Signal()
        k = Signal(range(M))  # bin index (bit-reversed order) of the point on fwd.o
        x_last = fwd.o.payload.last
        # a frame's last point moves its tag on: wait if the second tag FIFO is full (never
        # happens with `tag_depths`, but correctness does not rest on that count)
        m.d.comb += [
            en_p.eq(~skid_a.i.valid | skid_a.i.ready),
            fwd.o.ready.eq(en_p & (tags2.w_rdy | ~x_last)),
            h_port.addr.eq(Cat(k, tags1.r_data)),
            h_port.en.eq(en_p),
        ]
        take_x = fwd.o.valid & fwd.o.ready
        m.d.comb += [
            tags1.r_en.eq(take_x & x_last),
            tags2.w_en.eq(take_x & x_last),
            tags2.w_data.eq(tags1.r_data),
        ]
        with m.If(take_x):
            m.d.sync += k.eq(k + 1)
        # Hq[c, k] is read by the same enable one cycle after X: the multiplier's b operand
        m.d.comb += [
            mul.en.eq(en_p),
            mul.a.eq(fwd.o.payload.data),
            mul.b.re.eq(h_port.data[:sb].as_signed()),
            mul.b.im.eq(h_port.data[sb:].as_signed()),
        ]
        valid_entering_p = delay(m, take_x, PRODUCT_STAGES - 1, en_p, "prod_valid")  # the slot in the sum registers
        m.d.comb += [
            skid_a.i.valid.eq(delay(m, valid_entering_p, 1, en_p, "prod_valid_out")),
            skid_a.i.payload.last.eq(delay(m, x_last, PRODUCT_STAGES, en_p, "prod_last")),
            skid_a.i.payload.data.eq(mul.p),
        ]
        product_sat = Signal()
        with m.If(en_p & valid_entering_p & mul.clipping):
            m.d.sync += product_sat.eq(1)
        wiring.connect(m, skid_a.o, inv.i)

        # --- inverse FFT output: keep O[0..N-1].re, consume the tails at once --------------------
        idx_shape = unsigned(max((n - 1).bit_length(), 1))
        kept = data.StructLayout({"re": signed(inv_cfg.output_bits), "index": idx_shape})
        m.submodules.kept_fifo = kept_fifo = SyncFIFO(width=kept.size, depth=self.kept_depth)
        j = Signal(range(M))
        keep = j < n
        kept_in = Signal(kept)
        m.d.comb += [
            kept_in.re.eq(inv.o.payload.data.re),
            kept_in.index.eq(j),
            kept_fifo.w_data.eq(kept_in),
            kept_fifo.w_en.eq(inv.o.valid & keep),
            inv.o.ready.eq(kept_fifo.w_rdy | ~keep),
        ]
        with m.If(inv.o.valid & inv.o.ready):
            m.d.sync += j.eq(j + 1)

        # --- output: v = Y << y_shift[c] + aligned offset; requantize ----------------------------
        y_shift, _, final_shift = plan.align
        m.submodules.offset_rom = offsets = ChannelRom(self.offset_values())
        en_o = Signal()  # the output pipeline's one enable
        m.d.comb += en_o.eq(~self.o.valid | self.o.ready)
        y_in = data.View(kept, kept_fifo.r_data)
        y_last = y_in.index == n - 1
        m.d.comb += [
            kept_fifo.r_en.eq(en_o),
            offsets.channel.eq(tags2.r_data),
            offsets.index.eq(y_in.index),
            offsets.en.eq(en_o),
            tags2.r_en.eq(kept_fifo.r_rdy & en_o & y_last),
        ]
        a_y = delay(m, y_in.re, 1, en_o, "out_y")  # beside the offset ROM read
        a_ch = delay(m, tags2.r_data, 1, en_o, "out_channel")
        shifted = a_y << per_channel(y_shift, a_ch)
        b_v = Signal(signed(max(len(shifted), len(offsets.data)) + 1), name="out_v")
        with m.If(en_o):
            m.d.sync += b_v.eq(shifted + offsets.data)
        m.submodules.requantizer = requant = Requantizer(
            len(b_v), fmt.output.bits, final_shift, fmt.rounding, fmt.saturate
        )
        m.d.comb += [
            requant.i.valid.eq(delay(m, kept_fifo.r_rdy, OFFSET_STAGES, en_o, "out_valid")),
            requant.i.payload.value.eq(b_v),
            requant.i.payload.channel.eq(delay(m, a_ch, 1, en_o, "out_channel_v")),
            requant.i.payload.last.eq(delay(m, y_last, OFFSET_STAGES, en_o, "out_last")),
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
