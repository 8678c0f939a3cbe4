"""Input framing straight into the native engine's pair buffer: x_2p into re, x_2p+1 into im.

Why not `hw.framer.Framer` followed by `hw.feeder.Feeder`, as the other engines do: those keep
two N-sample registers (the frame being collected and the one being fed on), and the feeder's
load-or-rotate multiplexers alone cost about 1.8 k LUT4 at N = 56, 8 bits, more than any other
block of the native engine except the DFT modules; they also hold a pair back for N cycles.
The native engine stores frames in a RAM anyway (`hw.pingpong.PingPongBuffer`), so this block
writes each sample there as it arrives and applies the Framer's rules on the way:

- ``last`` before the N-th sample (early): the partial frame is dropped (its words are simply
  written again by the next frame), the error counter increments, the next sample starts a
  new frame;
- no ``last`` on the N-th sample (missing): the frame is kept, the error counter increments,
  and input is discarded up to and including the next ``last``;
- the channel number counts 0..C-1 over kept frames.

So the frames kept, their channels and the error count are exactly `Framer.model`'s (the tests
compare against it). A pair's bank is claimed by the first sample taken for channel 2p and
committed with the N-th sample of channel 2p + 1 (each write, and the commit, one cycle after
its sample is taken: `WRITE_DELAY`) (or of the last channel of an odd count, whose
imaginary lane is written with zeros alongside). ``i.ready`` is low only while a new pair waits
for a free bank.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.framer import ERROR_COUNTER_BITS
from hw.pingpong import write_signature
from hw.stream import channel_shape, sample_stream

__all__ = ["PairWriter", "WRITE_DELAY"]

WRITE_DELAY = 1  # cycles from taking a sample to its write (and the pair's commit)


class PairWriter(wiring.Component):
    """Samples -> pair buffer words ``Cat(re, im)`` of ``2 * (bits + shift)`` bits, Framer rules.

    Parameters
    ----------
    n, bits, channels : int
        Frame length, sample width, channel count.
    shift : int
        Left shift applied to each sample (the transform's guard bits).

    Ports
    -----
    i : In(sample_stream(bits))                          samples, ``last`` on the N-th.
    w : Out(write_signature(n, 2 * (bits + shift), 2))    the pair buffer's write side (lane 0 re).
    errors : Out(16)                                      malformed frames seen (wraps), counted two cycles after the sample that shows it.
    """

    def __init__(self, n: int, bits: int, channels: int, shift: int) -> None:
        if n < 1 or channels < 1 or shift < 0:
            raise ValueError(f"PairWriter needs n, channels >= 1 and shift >= 0; got {n}, {channels}, {shift}")
        self.n, self.bits, self.channels, self.shift = n, bits, channels, shift
        self.word_bits = bits + shift
        super().__init__(
            {
                "i": In(sample_stream(bits)),
                "w": Out(write_signature(n, 2 * self.word_bits, 2)),
                "errors": Out(ERROR_COUNTER_BITS),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        n, c, zb = self.n, self.channels, self.word_bits
        w = self.w
        count = Signal(range(n + 1))
        skipping = Signal()
        channel = Signal(channel_shape(c))
        pair_open = Signal()  # a bank is claimed for the current pair
        m.d.comb += self.i.ready.eq(skipping | pair_open | w.free)
        accept = self.i.valid & self.i.ready
        take = accept & ~skipping
        last = self.i.payload.last
        odd_channel = channel[0]
        alone = (channel == c - 1) if c % 2 else Const(0)  # the last channel of an odd count
        sample = (self.i.payload.data << self.shift).as_signed()
        filled = count + 1
        # ``count == n - 1``, kept in a register of its own (no adder and comparator between
        # the counter and the frame-end decisions)
        complete = Signal(init=int(n == 1))
        closes = complete & (odd_channel | alone)
        # The claim is decided in the cycle a pair's first sample is taken (``w.free`` said
        # so); the write itself, and the commit with the pair's last write, go out of
        # registers the cycle after, so that no path runs from the buffer's flags through
        # ``i.valid`` into the RAM's write enable.
        # The lane enables are the registered ``take`` ANDed with registered lanes: written as
        # "the lanes if take, else 0", yosys made ``take`` the synchronous reset (LSR) of the
        # enable flip-flops beside the RAM, and the accept's route there was a native N = 56,
        # 16-bit -6 critical path (``writer.pair_open -> buf_in.w__en.LSR``).
        m.d.comb += w.claim.eq(take & ~pair_open)
        took = Signal(name="took")
        lanes = Signal(2, name="lanes")
        m.d.sync += [
            took.eq(take),
            lanes.eq(Mux(odd_channel, 0b10, Mux(alone, 0b11, 0b01))),
            w.addr.eq(count),
            w.data.eq(Mux(odd_channel, sample.as_unsigned() << zb, sample.as_unsigned()[:zb])),
            w.commit.eq(take & closes),
        ]
        m.d.comb += w.en.eq(lanes & took.replicate(2))
        # a malformed frame raises error_seen; the counter counts it a cycle later, so that its
        # 16 enables wait on one register and not on the input handshake. error_seen is plain
        # D logic: written as "0, else 1 on an error" it became a synchronous reset, and the
        # accept's route into its LSR pin was the native N = 56, 16-bit -6 critical path
        # (``writer.skipping -> writer.error_seen.LSR``)
        error_seen = Signal()
        m.d.sync += error_seen.eq(take & Mux(complete, ~last, last))
        with m.If(error_seen):
            m.d.sync += self.errors.eq(self.errors + 1)
        with m.If(take):
            m.d.sync += pair_open.eq(~closes)
            with m.If(complete):
                m.d.sync += [count.eq(0), complete.eq(n == 1), channel.eq(Mux(channel == c - 1, 0, channel + 1))]
                with m.If(~last):  # missing last: keep the frame, discard up to the next last
                    m.d.sync += skipping.eq(1)
            with m.Elif(last):  # early last: drop the partial frame
                m.d.sync += [count.eq(0), complete.eq(n == 1)]
            with m.Else():
                m.d.sync += [count.eq(filled), complete.eq(count == n - 2)]
        with m.If(accept & skipping):
            m.d.sync += skipping.eq(~last)
        return m
