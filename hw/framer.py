"""Input framing: collect N samples, check ``last``, hand whole frames on as one stream beat.

Shared by both engines so a malformed frame is handled the same way everywhere:

- ``last`` before the N-th sample (early): the partial frame is dropped, the error counter
  increments, the next sample starts a new frame.
- no ``last`` on the N-th sample (missing): the N samples are processed as a frame, the error
  counter increments, and input is discarded up to and including the next ``last``.

Mirrors the event_tlast_unexpected / event_tlast_missing behaviour of vendor FFT cores.
The channel number of each frame counts 0..C-1 over accepted frames.
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hw.mux import equals
from hw.stream import frame_layout, sample_stream

ERROR_COUNTER_BITS = 16


class Framer(wiring.Component):
    """Shift-register frame buffer with tlast checking; emits each whole frame as one beat.

    The buffer is the payload of ``o``: a consumer copies all N samples in the cycle it takes
    the beat, and the Framer refills in that very cycle (the sample accepted with a take lands
    in the freed buffer), so frames can stream back to back at one sample per clock.

    Parameters
    ----------
    n : int
        Samples per frame.
    bits : int
        Sample width (signed).
    channels : int
        Frames per channel cycle: the channel number counts 0..C-1 over emitted frames.
    ready_next : bool, optional
        The consumer's ``o.ready`` is a register whose next value it offers on
        ``o_ready_next`` (`hw.feeder.Feeder` ``i_ready_next``): then ``i.ready`` is a register
        too, computed a cycle ahead from the next ``full`` and ``skipping``. The accept then
        waits only on registers (``s_axis_tvalid`` and this one), not on a chain through the
        consumer's ready; that chain was the padded engine's -6 critical path
        (``feeder.ready -> framer.error``). The buffer's shift enable gets a register of its
        own (``shift_ok``), so the N * bits enable and the control logic share no gate.

    Attributes
    ----------
    latency : int
        1: the frame's beat is valid the cycle after its N-th sample was accepted.

    Ports
    -----
    i : In(stream.Signature(sample_layout(bits)))
        Input samples, ``payload.last`` marks the N-th sample of a frame.
    o : Out(stream.Signature(frame_layout(n, bits, channels)))
        Whole frames: ``payload.frame[k]`` is the k-th sample, ``payload.channel`` its channel.
        ``o.valid`` is a register; ``i.ready`` depends on ``o.ready`` (a take frees the buffer),
        or with ``ready_next`` is a register.
    o_ready_next : In(1), only with ``ready_next``
        The value ``o.ready`` will have in the next cycle.
    errors : Out(16)
        Malformed frames seen (wraps), counted the cycle after the sample that shows it.
    """

    latency = 1

    def __init__(self, n: int, bits: int, channels: int, *, ready_next: bool = False) -> None:
        self.n, self.bits, self.channels = n, bits, channels
        self.ready_next = ready_next
        ports = {
            "i": In(sample_stream(bits)),
            "o": Out(stream.Signature(frame_layout(n, bits, channels))),
            "errors": Out(ERROR_COUNTER_BITS),
        }
        if ready_next:
            ports["o_ready_next"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        n, bits = self.n, self.bits
        buffer = Signal(self.o.payload.frame.shape(), name="buffer")
        channel = Signal.like(self.o.payload.channel, name="channel")
        # Control kept so that no decision waits for an adder or a compare behind ``o.ready``
        # (a take): the buffer's load enable fans out to N * bits registers. ``count`` counts
        # the samples of the frame being filled (0 while a whole frame waits: accepting then
        # implies a take), the flags beside it are registers.
        count = Signal(range(n))
        full = Signal()  # a whole frame waits: o.valid
        almost = Signal(init=n == 1)  # count == n - 1: the next sample completes a frame
        skipping = Signal()  # discarding the tail of a frame whose last was missing
        error = Signal()  # a malformed frame this cycle: counted in the next (off the take path)
        take = full & self.o.ready
        m.d.comb += [
            self.o.valid.eq(full),
            self.o.payload.frame.eq(buffer),
            self.o.payload.channel.eq(channel),
        ]
        accept = self.i.valid & self.i.ready
        sample, last = self.i.payload.data, self.i.payload.last
        # Each control register loads its next value, computed once here: the look-ahead
        # ready below reads the same values, so the rules exist in one place. ``fill``: the
        # sample joins the frame (not discarded); a completing one fills the buffer after a
        # take freed it; skipping ends on a last and starts on a missing one.
        fill = accept & ~skipping
        full_next = (fill & almost) | (full & ~take)
        skipping_next = Mux(accept, Mux(skipping, ~last, almost & ~last), skipping)
        # an early last or a missing one; plain D logic, so yosys makes no sync reset of it
        # (an LSR on the take path)
        error_next = fill & Mux(almost, ~last, last)
        m.d.sync += [full.eq(full_next), skipping.eq(skipping_next), error.eq(error_next)]
        if self.ready_next:
            ready = Signal(init=1, name="ready")
            m.d.sync += ready.eq(skipping_next | ~full_next | self.o_ready_next)
            m.d.comb += self.i.ready.eq(ready)
            # ``ready & ~skipping`` as a register of its own (a different function, so yosys
            # keeps it apart from ``ready``): the buffer's shift enable, which spans N * bits
            # flip-flops, then shares no gate with the accept that the control registers and
            # ``ready`` itself read. Shared, that gate sat at the buffer's centroid and
            # ``ready -> accept -> ready`` crossed the chip twice: the padded N = 56, 16-bit
            # -6 critical path (``framer.i__ready -> framer.i__ready``, 8.7 ns).
            shift_ok = Signal(init=1, name="shift_ok")
            m.d.sync += shift_ok.eq(~skipping_next & (~full_next | self.o_ready_next))
            shift = self.i.valid & shift_ok
        else:
            m.d.comb += self.i.ready.eq(skipping | ~full | take)
            shift = fill
        with m.If(take):  # the consumer copies the buffer: it is free this very cycle
            m.d.sync += channel.eq(Mux(channel == self.channels - 1, 0, channel + 1))
        with m.If(shift):
            m.d.sync += buffer.eq(Cat(buffer.as_value()[bits:], sample))  # shift in at the top
        with m.If(fill):
            with m.If(almost | last):  # a whole frame, or an early last dropping a partial one
                m.d.sync += [count.eq(0), almost.eq(n == 1)]
            with m.Else():
                m.d.sync += [count.eq(count + 1), almost.eq(equals(count, n - 2))]
        with m.If(error):
            m.d.sync += self.errors.eq(self.errors + 1)
        return m

    @staticmethod
    def model(n: int, samples: Iterable[int], lasts: Iterable[int]) -> tuple[list[list[int]], int]:
        """Frames the hardware keeps from a sample/last sequence, and its error count.

        The k-th kept frame is emitted with channel ``k % channels``.
        """
        return split_frames(n, samples, lasts, complete_short=False)


def split_frames(
    length: int, samples: Iterable[int], lasts: Iterable[int], *, complete_short: bool
) -> tuple[list[list[int]], int]:
    """The frames of ``length`` a framer keeps from a sample/last sequence, and its error
    count: the model shared by `Framer` and `hw.map_framer.MapFramer`, so the two agree on
    what is malformed. A missing ``last`` keeps the frame and discards input up to and
    including the next ``last``. An early ``last`` drops the partial frame (`Framer`) or, with
    ``complete_short``, completes it with zeros (`MapFramer`, whose maps are already partly
    on their way)."""
    frames: list[list[int]] = []
    current: list[int] = []
    errors = 0
    skipping = False
    for value, last in zip(samples, lasts, strict=True):
        if skipping:
            skipping = not last
            continue
        current.append(int(value))
        if len(current) == length:
            frames.append(current)
            current = []
            if not last:
                errors += 1
                skipping = True
        elif last:
            errors += 1
            if complete_short:
                frames.append(current + [0] * (length - len(current)))
            current = []
    return frames, errors
