"""The native engine's middle stage: separate two channels, multiply by their kernels, recombine.

Why (docs/architecture.md section 6, PARC.md section 4): one complex transform carries two real
channels, ``z = x_c + j x_d``. Their spectra are recovered from the conjugate-symmetric pair
``Z[k], Z[N-k]`` with adds only, so each channel's N // 2 + 1 unique bins are multiplied by
its own kernel spectrum (3 real multiplies per bin, `hw.gauss_mul.GaussMultiplier`), and the
two products are put back together as one spectrum for one inverse transform. This is where
the engine's only data x weight multiplies are: one complex multiplier, busy for
``2 (N // 2 + 1)`` of every ``2N`` clocks.

Dataflow of one frame (a pair), per bin k = 0 .. H-1 (``m = (-k) mod N``, all golden blocks of
`golden.native_fft`)::

    read Z[k], Z[m] (two cycles)
    sep   Xc = sat(R((Zr[k] + Zr[m], Zi[k] - Zi[m]), sigma)),  Xd = sat(R((Zi[k] + Zi[m], Zr[m] - Zr[k]), sigma))
    prod  Pc = sat(R(Xc * Hq[2p, k], p_shift)), then Pd = ... Hq[2p + 1, k] (ROM: c, c + d, d - c)
    rec   Y[k] = sat(R((Pc.re - Pd.im, Pc.im + Pd.re), rho)),  Y[N-k] = sat(R((Pc.re + Pd.im, Pd.re - Pc.im), rho))
    write Y[k] at k, then Y[N-k] at N-k (when 1 <= k <= N - H): natural order

Like `hw.pfa_stage.PfaStage`, a frame starts only when its source is ready and the destination
bank can be claimed, and then never waits: the writes land at fixed cycles.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from golden.fixed import Rounding
from hw import fixed as hf
from hw.complex_mul import complex_layout
from hw.gauss_mul import GaussMultiplier
from hw.pfa_stage import read_address
from hw.pingpong import READ_LATENCY, address_bits, read_signature, write_signature
from hw.pipeline import delay
from hw.rom import pack_words
from hw.target import BlockRam, check_target

__all__ = ["SpectralStage"]


class SpectralStage(wiring.Component):
    """Separation, spectral product and recombination of one channel pair per frame.

    Parameters
    ----------
    n : int
        Transform size N.
    read_table : sequence of int
        Source address of natural bin k (the forward transform's output layout), N entries.
    spectrum_re, spectrum_im : array (2P, H)
        ``Hq = c + j d`` per channel (a padded channel's rows are zero).
    z_bits, sep_bits, prod_bits, rec_bits : int
        Widths: the source words, and the saturation widths of the three blocks.
    spectrum_bits : int
        Signed width of each ROM field ``c``, ``c + d``, ``d - c``.
    separation_shift, product_shift, recombine_shift : int
        The three roundings.
    rounding : golden.fixed.Rounding

    Attributes
    ----------
    latency : int        cycles from a frame's first read to its first write.
    frame_cycles : int   cycles between the starts of back-to-back frames: 2H reads + 1.

    Ports
    -----
    src : Out(read_signature(N, 2 * z_bits))
    dst : Out(write_signature(N, 2 * rec_bits))
    overflow : Out(1)    sticky: a separation, product or recombination output saturated.
    """

    def __init__(
        self,
        n: int,
        read_table: list[int],
        spectrum_re: np.ndarray,
        spectrum_im: np.ndarray,
        *,
        z_bits: int,
        sep_bits: int,
        prod_bits: int,
        rec_bits: int,
        spectrum_bits: int,
        separation_shift: int,
        product_shift: int,
        recombine_shift: int,
        rounding: Rounding,
        target: str = "generic",
    ) -> None:
        self.n, self.h = n, n // 2 + 1
        self.read_table = [int(a) for a in read_table]
        self.spectrum_re = np.asarray(spectrum_re, dtype=np.int64)
        self.spectrum_im = np.asarray(spectrum_im, dtype=np.int64)
        if self.spectrum_re.shape != self.spectrum_im.shape or self.spectrum_re.shape[1:] != (self.h,):
            raise ValueError(f"SpectralStage: spectrum must be (2P, {self.h}); got {self.spectrum_re.shape}")
        if self.spectrum_re.shape[0] % 2:
            raise ValueError("SpectralStage: the spectrum needs an even number of channel rows (pairs)")
        self.pairs = self.spectrum_re.shape[0] // 2
        self.z_bits, self.sep_bits, self.prod_bits, self.rec_bits = z_bits, sep_bits, prod_bits, rec_bits
        self.spectrum_bits = spectrum_bits
        self.shifts = (separation_shift, product_shift, recombine_shift)
        self.rounding = Rounding(rounding)
        self.target = check_target(target)
        self.multiplier = GaussMultiplier(
            sep_bits,
            spectrum_bits,
            prod_bits,
            product_shift,
            self.rounding,
            target=self.target,
            triple_bits=spectrum_bits,
        )
        self.multiplier._MustUse__silence = True
        # read Z[k] (READ_LATENCY) + Z[m] (1) + sep sums (1) + sep fit (1) + multiplier + Pd
        # behind Pc (1) + rec sums (1) + rec fit (1) + write register (1)
        self.latency = READ_LATENCY + 1 + 2 + self.multiplier.latency + 1 + 2 + 1
        self.frame_cycles = 2 * self.h + 1
        super().__init__(
            {
                "src": Out(read_signature(n, 2 * z_bits)),
                "dst": Out(write_signature(n, 2 * rec_bits)),
                "overflow": Out(1),
            }
        )

    def rom_words(self) -> list[int]:
        """Spectrum ROM: word ``Cat(k, channel)`` (bins padded to a power of two) holds
        ``c``, ``c + d``, ``d - c`` in that order from the LSBs, ``spectrum_bits`` each."""
        c, d = self.spectrum_re, self.spectrum_im
        rows, h = c.shape
        pad = 1 << address_bits(h)
        triples = np.zeros((rows, pad, 3), dtype=np.int64)
        triples[:, :h] = np.stack([c, c + d, d - c], axis=-1)
        return pack_words(triples.reshape(-1, 3), self.spectrum_bits)

    def _has_mirror(self, k: Value) -> Value:
        """``1 <= k <= N - H``: bin k also gives Y[N - k] (no comparison that is always true)."""
        above_zero = k.any()
        return above_zero if self.n - self.h >= self.h - 1 else above_zero & (k <= self.n - self.h)

    def elaborate(self, platform) -> Module:
        m = Module()
        n, h = self.n, self.h
        src, dst = self.src, self.dst
        sigma, _, rho = self.shifts
        one = Const(1)

        # --- reads: Z[k], Z[(-k) mod N] for k = 0 .. H-1 -------------------------------------------
        table = [a for k in range(h) for a in (self.read_table[k], self.read_table[(-k) % n])]
        busy = Signal()
        j = Signal(range(2 * h))
        pair = Signal(range(max(self.pairs, 2)))
        start = ~busy & src.ready & dst.free
        at_last = Signal()  # a register: j == 2H - 1, set a cycle ahead (see PfaStage)
        last_read = busy & at_last
        # registers only towards the buffers (as `hw.pfa_stage.PfaStage`): the address restarts
        # while idle, the claim arrives a cycle after the start (the next start is a frame away)
        claim = delay(m, start, 1, one, "claim")
        m.d.comb += [
            dst.claim.eq(claim),
            src.addr.eq(read_address(m, table, address_bits(n), j, restart=~busy, advance=busy, reset_less=True)),
            src.en.eq(1),
            src.release.eq(last_read),
        ]
        # idle, j is 0 and at_last 0 (the last read wraps them): a start only sets busy, so
        # that no flag of the buffers drives j's synchronous reset (see `hw.pfa_stage.PfaStage`)
        with m.If(start):
            m.d.sync += busy.eq(1)
        with m.Elif(busy):
            m.d.sync += [j.eq(Mux(at_last, 0, j + 1)), at_last.eq(j == 2 * h - 2)]
            with m.If(last_read):
                m.d.sync += [busy.eq(0), pair.eq(Mux(pair == self.pairs - 1, 0, pair + 1))]

        # --- separation ------------------------------------------------------------------------------
        # the buffer's word comes out of the RAM's output register (`READ_LATENCY` cycles)
        z = data.View(complex_layout(self.z_bits), src.data)
        arrived = delay(m, busy, READ_LATENCY, one, "arrived")
        second = delay(m, j[0], READ_LATENCY, one, "second")
        bin_in = delay(m, j[1:], READ_LATENCY, one, "bin")
        pair_in = delay(m, pair, READ_LATENCY, one, "pair")
        # data registers take no reset (their valids do): rst stays a short net
        zk = Signal(complex_layout(self.z_bits), reset_less=True)
        with m.If(arrived & ~second):
            m.d.sync += zk.eq(z)
        # the sums in one register, their rounding and saturation in the next: one carry
        # chain per cycle
        sum_valid = Signal()
        sums = [zk.re + z.re, zk.im - z.im, zk.im + z.im, z.re - zk.re]
        sum_regs = [Signal(v.shape(), name=f"sep_sum{i}", reset_less=True) for i, v in enumerate(sums)]
        k_sum = Signal(range(h))
        pair_sum = Signal.like(pair)
        m.d.sync += sum_valid.eq(arrived & second)
        with m.If(arrived & second):
            m.d.sync += [r.eq(v) for r, v in zip(sum_regs, sums, strict=True)]
            m.d.sync += [k_sum.eq(bin_in), pair_sum.eq(pair_in)]
        sep_valid = Signal()
        xc = Signal(complex_layout(self.sep_bits), reset_less=True)
        xd = Signal(complex_layout(self.sep_bits), reset_less=True)
        k_sep = Signal(range(h))
        pair_sep = Signal.like(pair)
        fitted = [hf.saturate(hf.round_shift(v, sigma, self.rounding), self.sep_bits) for v in sum_regs]
        m.d.sync += sep_valid.eq(sum_valid)
        with m.If(sum_valid):
            m.d.sync += [
                xc.re.eq(fitted[0][0]),
                xc.im.eq(fitted[1][0]),
                xd.re.eq(fitted[2][0]),
                xd.im.eq(fitted[3][0]),
                k_sep.eq(k_sum),
                pair_sep.eq(pair_sum),
            ]
        # each saturation flag is registered beside its adder and ORed into the sticky overflow a
        # cycle later: a wide OR on the adders' cycle, into overflow's enable, was the 16-bit
        # engines' critical path (as in `hw.fft.StreamingFft`)
        clips = [sum_valid & f[1] for f in fitted]

        # --- product: Xc then Xd, each with its channel's ROM triple ---------------------------------
        # The triple comes out of the ROM's output register `h_delay` cycles after its operand,
        # so the ROM reads a slot's address READ_LATENCY - h_delay cycles ahead of it: Xc's in
        # the cycle before sep_valid (sum_valid), Xd's in the sep_valid cycle.
        mul = self.multiplier
        m.submodules.product = mul
        words = self.rom_words()
        m.submodules.spectrum_rom = rom = BlockRam(
            3 * self.spectrum_bits, len(words), words, writable=False, target=self.target
        )
        if READ_LATENCY - mul.h_delay != 1:
            raise AssertionError("the spectrum ROM's read is scheduled one cycle ahead of its slot")
        phase = delay(m, sep_valid, 1, one, "phase")  # the Xd slot
        sb = self.spectrum_bits
        pad = Const(0, unsigned(address_bits(h) - len(k_sep)))
        m.d.comb += [
            mul.en.eq(1),
            mul.a.eq(Mux(phase, xd, xc)),
            rom.r_addr.eq(Mux(sep_valid, Cat(k_sep, pad, one, pair_sep), Cat(k_sum, pad, Const(0), pair_sum))),
            rom.r_en.eq(1),
            mul.c.eq(rom.r_data[:sb].as_signed()),
            mul.c_plus_d.eq(rom.r_data[sb : 2 * sb].as_signed()),
            mul.d_minus_c.eq(rom.r_data[2 * sb :].as_signed()),
        ]
        d = mul.latency
        p_valid = delay(m, sep_valid | phase, d, one, "product_valid")
        p_second = delay(m, phase, d, one, "product_second")
        p_bin = delay(m, k_sep, d + 1, one, "product_bin")  # k_sep is held over both slots
        clips.append(p_valid & mul.clipping)

        # --- recombination: sums, then rounding and saturation -------------------------------------
        pc = Signal(complex_layout(self.prod_bits), reset_less=True)
        with m.If(p_valid & ~p_second):
            m.d.sync += pc.eq(mul.p)
        pd = mul.p
        rsums = [pc.re - pd.im, pc.im + pd.re, pc.re + pd.im, pd.re - pc.im]
        rsum_regs = [Signal(v.shape(), name=f"rec_sum{i}", reset_less=True) for i, v in enumerate(rsums)]
        rsum_valid = Signal()
        k_rsum = Signal(range(h))
        m.d.sync += rsum_valid.eq(p_valid & p_second)
        with m.If(p_valid & p_second):
            m.d.sync += [r.eq(v) for r, v in zip(rsum_regs, rsums, strict=True)]
            m.d.sync += k_rsum.eq(p_bin)
        y_lo = Signal(complex_layout(self.rec_bits), reset_less=True)  # Y[k]
        y_hi = Signal(complex_layout(self.rec_bits), reset_less=True)  # Y[N - k]
        rec_valid = Signal()
        k_rec = Signal(range(h))
        rfit = [hf.saturate(hf.round_shift(v, rho, self.rounding), self.rec_bits) for v in rsum_regs]
        m.d.sync += rec_valid.eq(rsum_valid)
        with m.If(rsum_valid):
            m.d.sync += [
                y_lo.re.eq(rfit[0][0]),
                y_lo.im.eq(rfit[1][0]),
                y_hi.re.eq(rfit[2][0]),
                y_hi.im.eq(rfit[3][0]),
                k_rec.eq(k_rsum),
            ]
        # Y[N-k] exists only for 1 <= k <= N - H: an unwritten value must not flag overflow
        has_mirror = self._has_mirror(k_rsum)
        clips += [rsum_valid & rfit[0][1], rsum_valid & rfit[1][1]]
        clips += [rsum_valid & has_mirror & rfit[2][1], rsum_valid & has_mirror & rfit[3][1]]
        clip_regs = Signal(len(clips), name="clip_flags")
        m.d.sync += clip_regs.eq(Cat(*clips))
        with m.If(clip_regs.any()):
            m.d.sync += self.overflow.eq(1)
        mirrored = self._has_mirror(k_rec)
        second_write = delay(m, rec_valid & mirrored, 1, one, "mirror_write")

        # --- writes: Y[k] at k, Y[N-k] at N-k the cycle after -------------------------------------------
        count = Signal(range(n))
        write = rec_valid | second_write
        abits = address_bits(n)
        m.d.sync += [  # a write register: the buffer's bank flags are the only logic behind it
            dst.addr.eq(Mux(second_write, Const(n, unsigned(abits + 1)) - k_rec, k_rec)),
            dst.data.eq(Mux(second_write, y_hi, y_lo)),
            dst.en.eq(write),
            dst.commit.eq(write & (count == n - 1)),
        ]
        with m.If(write):
            m.d.sync += count.eq(Mux(count == n - 1, 0, count + 1))
        return m
