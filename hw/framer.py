"""Input framing: collect N samples, check ``last``, hand whole frames to a compute stage.

Shared by both engines so a malformed frame is handled the same way everywhere:

- ``last`` before the N-th sample (early): the partial frame is dropped, the error counter
  increments, the next sample starts a new frame.
- no ``last`` on the N-th sample (missing): the N samples are processed as a frame, the error
  counter increments, and input is discarded up to and including the next ``last``.

Mirrors the event_tlast_unexpected / event_tlast_missing behaviour of vendor FFT cores.
The channel number of each frame counts 0..C-1 over accepted frames.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.stream import sample_stream

ERROR_COUNTER_BITS = 16


class Framer(wiring.Component):
    """Shift-register frame buffer with tlast checking.

    Parameters
    ----------
    n : samples per frame.  bits : sample width.  channels : frames per channel cycle.

    Attributes
    ----------
    i : In(sample stream)       input samples.
    frame : list of Signal      the buffered frame, ``frame[k]`` = k-th sample (valid while ``full``).
    full : Out(1)               a whole frame is waiting.
    take : In(1)                the consumer copies ``frame`` this cycle (only when ``full``).
    channel : Out(range(C))     channel of the waiting frame.
    errors : Out(16)            malformed frames seen (wraps).
    """

    def __init__(self, n: int, bits: int, channels: int) -> None:
        self.n, self.bits, self.channels = n, bits, channels
        super().__init__(
            {
                "i": In(sample_stream(bits)),
                "full": Out(1),
                "take": In(1),
                "channel": Out(range(max(channels, 2))),
                "errors": Out(ERROR_COUNTER_BITS),
            }
        )
        self.frame = [Signal(signed(bits), name=f"frame_{k}") for k in range(n)]

    def elaborate(self, platform) -> Module:
        m = Module()
        n = self.n
        count = Signal(range(n + 1))
        skipping = Signal()  # discarding the tail of a frame whose last was missing
        m.d.comb += [
            self.full.eq(count == n),
            self.i.ready.eq(skipping | (count != n) | self.take),
        ]
        accept = self.i.valid & self.i.ready
        sample, last = self.i.payload.data, self.i.payload.last
        base = Mux(self.take, 0, count)  # a taken frame frees the buffer this very cycle
        with m.If(self.take):
            m.d.sync += count.eq(0)
            m.d.sync += self.channel.eq(Mux(self.channel == self.channels - 1, 0, self.channel + 1))
        with m.If(accept):
            with m.If(skipping):
                m.d.sync += skipping.eq(~last)
            with m.Else():
                m.d.sync += [a.eq(b) for a, b in zip(self.frame, self.frame[1:] + [sample])]
                filled = base + 1
                with m.If((filled != n) & last):  # early last: drop the partial frame
                    m.d.sync += [count.eq(0), self.errors.eq(self.errors + 1)]
                with m.Else():
                    m.d.sync += count.eq(filled)
                    with m.If((filled == n) & ~last):  # missing last: keep frame, resync
                        m.d.sync += [skipping.eq(1), self.errors.eq(self.errors + 1)]
        return m

    @staticmethod
    def model(n: int, samples, lasts) -> tuple[list[list[int]], int]:
        """Frames the hardware keeps from a sample/last sequence, and its error count."""
        frames: list[list[int]] = []
        current: list[int] = []
        errors = 0
        skipping = False
        for value, last in zip(samples, lasts):
            if skipping:
                skipping = not last
                continue
            current.append(int(value))
            if len(current) < n and last:
                errors += 1
                current = []
            elif len(current) == n:
                frames.append(current)
                current = []
                if not last:
                    errors += 1
                    skipping = True
        return frames, errors
