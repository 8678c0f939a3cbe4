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
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from golden.fixed import Rounding
from hw import fixed as hf
from hw.complex_mul import complex_layout
from hw.gauss_mul import GaussMultiplier
from hw.pfa_stage import address_table
from hw.pingpong import address_bits, read_signature, write_signature
from hw.pipeline import delay
from hw.rom import pack_words

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
        self.multiplier = GaussMultiplier(sep_bits, spectrum_bits, prod_bits, product_shift, self.rounding)
        self.multiplier._MustUse__silence = True
        # read Z[k] (1) + read register (1) + Z[m] (1) + sep register (1) + multiplier + Pd behind Pc (1) + rec register (1)
        self.latency = 1 + 1 + 1 + 1 + self.multiplier.latency + 1 + 1
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
        last_read = busy & (j == 2 * h - 1)
        m.d.comb += [
            dst.claim.eq(start),
            src.addr.eq(address_table(table, address_bits(n), j)),
            src.en.eq(1),
            src.release.eq(last_read),
        ]
        with m.If(start):
            m.d.sync += [busy.eq(1), j.eq(0)]
        with m.Elif(busy):
            m.d.sync += j.eq(j + 1)
            with m.If(last_read):
                m.d.sync += [busy.eq(0), pair.eq(Mux(pair == self.pairs - 1, 0, pair + 1))]

        # --- separation ------------------------------------------------------------------------------
        # a register right after the RAM (its unregistered output is slow; see hw.pfa_stage)
        z = data.View(complex_layout(self.z_bits), delay(m, src.data, 1, one, "read"))
        arrived = delay(m, busy, 2, one, "arrived")
        second = delay(m, j[0], 2, one, "second")
        bin_in = delay(m, j[1:], 2, one, "bin")
        pair_in = delay(m, pair, 2, one, "pair")
        zk = Signal(complex_layout(self.z_bits))
        with m.If(arrived & ~second):
            m.d.sync += zk.eq(z)
        sep_valid = Signal()
        xc = Signal(complex_layout(self.sep_bits))
        xd = Signal(complex_layout(self.sep_bits))
        k_sep = Signal(range(h))
        pair_sep = Signal.like(pair)
        sums = [zk.re + z.re, zk.im - z.im, zk.im + z.im, z.re - zk.re]
        fitted = [hf.saturate(hf.round_shift(v, sigma, self.rounding), self.sep_bits) for v in sums]
        m.d.sync += sep_valid.eq(arrived & second)
        with m.If(arrived & second):
            m.d.sync += [
                xc.re.eq(fitted[0][0]),
                xc.im.eq(fitted[1][0]),
                xd.re.eq(fitted[2][0]),
                xd.im.eq(fitted[3][0]),
                k_sep.eq(bin_in),
                pair_sep.eq(pair_in),
            ]
            with m.If(fitted[0][1] | fitted[1][1] | fitted[2][1] | fitted[3][1]):
                m.d.sync += self.overflow.eq(1)

        # --- product: Xc then Xd, each with its channel's ROM triple ---------------------------------
        mul = self.multiplier
        m.submodules.product = mul
        m.submodules.spectrum_rom = rom = Memory(
            shape=unsigned(3 * self.spectrum_bits), depth=len(self.rom_words()), init=self.rom_words()
        )
        port = rom.read_port()
        phase = delay(m, sep_valid, 1, one, "phase")  # the Xd slot
        sb = self.spectrum_bits
        m.d.comb += [
            mul.en.eq(1),
            mul.a.eq(Mux(phase, xd, xc)),
            port.addr.eq(Cat(k_sep, Const(0, unsigned(address_bits(h) - len(k_sep))), phase, pair_sep)),
            port.en.eq(1),
            mul.c.eq(port.data[:sb].as_signed()),
            mul.c_plus_d.eq(port.data[sb : 2 * sb].as_signed()),
            mul.d_minus_c.eq(port.data[2 * sb :].as_signed()),
        ]
        d = mul.latency
        p_valid = delay(m, sep_valid | phase, d, one, "product_valid")
        p_second = delay(m, phase, d, one, "product_second")
        p_bin = delay(m, k_sep, d + 1, one, "product_bin")  # k_sep is held over both slots
        with m.If(p_valid & mul.clipping):
            m.d.sync += self.overflow.eq(1)

        # --- recombination -----------------------------------------------------------------------------
        pc = Signal(complex_layout(self.prod_bits))
        with m.If(p_valid & ~p_second):
            m.d.sync += pc.eq(mul.p)
        pd = mul.p
        y_lo = Signal(complex_layout(self.rec_bits))  # Y[k]
        y_hi = Signal(complex_layout(self.rec_bits))  # Y[N - k]
        rec_valid = Signal()
        k_rec = Signal(range(h))
        rsums = [pc.re - pd.im, pc.im + pd.re, pc.re + pd.im, pd.re - pc.im]
        rfit = [hf.saturate(hf.round_shift(v, rho, self.rounding), self.rec_bits) for v in rsums]
        m.d.sync += rec_valid.eq(p_valid & p_second)
        with m.If(p_valid & p_second):
            m.d.sync += [
                y_lo.re.eq(rfit[0][0]),
                y_lo.im.eq(rfit[1][0]),
                y_hi.re.eq(rfit[2][0]),
                y_hi.im.eq(rfit[3][0]),
                k_rec.eq(p_bin),
            ]
            # Y[N-k] exists only for 1 <= k <= N - H: an unwritten value must not flag overflow
            has_mirror = self._has_mirror(p_bin)
            with m.If(rfit[0][1] | rfit[1][1] | (has_mirror & (rfit[2][1] | rfit[3][1]))):
                m.d.sync += self.overflow.eq(1)
        mirrored = self._has_mirror(k_rec)
        second_write = delay(m, rec_valid & mirrored, 1, one, "mirror_write")

        # --- writes: Y[k] at k, Y[N-k] at N-k the cycle after -------------------------------------------
        count = Signal(range(n))
        write = rec_valid | second_write
        abits = address_bits(n)
        m.d.comb += [
            dst.addr.eq(Mux(second_write, Const(n, unsigned(abits + 1)) - k_rec, k_rec)),
            dst.data.eq(Mux(second_write, y_hi, y_lo)),
            dst.en.eq(write),
            dst.commit.eq(write & (count == n - 1)),
        ]
        with m.If(write):
            m.d.sync += count.eq(Mux(count == n - 1, 0, count + 1))
        return m
