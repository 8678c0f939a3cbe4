"""Output requantizer: round-shift an exact wide value to the output width, then saturate or wrap.

Every engine ends in this block: their datapaths keep every bit exactly, and the only rounding
and narrowing of a ParC output happens here, once, with the channel's own shift. It counts
the outputs that had to be clipped, since that is the one place a clip can happen.

Why four register stages: a per-channel variable shift, its rounding add, the tie test of
half-even rounding and the saturation test are each a carry chain or a wide reduction; in one
cycle they limited an engine to 41.7 MHz (issue 14). Split, no stage holds more than one carry
chain or about three LUT levels:

- A: the channel's shift class and rounding constant ``half = 2**(s-1)`` (constants selected by
  the channel number), the value;
- B: ``sum = value + half`` (the one carry chain);
- C: for each distinct shift ``s``: ``sum >> s`` (the class's output bits), the tie flag
  ``sum mod 2**s == 0`` and the overflow flag (the bits above the output not all equal to its
  sign), each a reduction of ``sum``'s registered bits;
- D: pick the class's result, clear the LSB on a half-even tie, clamp (or wrap) to the output.

Half-even as half-up plus a tie fix: ``(v + 2**(s-1)) >> s`` rounds ties up; a tie has
``v mod 2**s == 2**(s-1)``, i.e. ``sum mod 2**s == 0``, and the even neighbour is then the
half-up result with its LSB cleared. Clearing that LSB never changes whether a value fits, so
the overflow test reads the half-up result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import NDArray

from golden import fixed as gf
from golden.fixed import Rounding
from hw.mux import per_channel, select
from hw.pipeline import delay
from hw.stream import channel_shape, sample_stream

SATURATION_COUNTER_BITS = 32


class Requantizer(wiring.Component):
    """``o.data = fit(round_shift(value, shift[channel]), out_bits)``, 4 registers, counted clips.

    Flow: a stall-all pipeline. ``i.ready = o.ready`` and every register (and the counter)
    loads while ``o.ready`` is high; an engine with a free-running datapath ties ``o.ready``
    high, an enable-driven one gives it its pipeline enable.

    Parameters
    ----------
    in_bits : int
        Width of the signed input value.
    out_bits : int
        Width of the signed output sample.
    shifts : int or sequence of int
        Right shift (>= 0), one per channel; channels with equal shifts share one datapath
        (all equal: no multiplexer at all).
    rounding : golden.fixed.Rounding
        How the shift drops bits.
    saturate : bool
        Clamp to the output range (True) or wrap in two's complement (False).

    Attributes
    ----------
    latency : int
        4 (stages A-D, see the module docstring).
    channels : int
        Number of shifts.
    classes : list of int
        The distinct shifts, ascending.

    Ports
    -----
    i : In(stream.Signature({value: signed(in_bits), channel: channel_shape(channels), last: 1}))
        The exact value, the channel whose shift applies, and the frame-end marker.
    o : Out(stream.Signature(sample_layout(out_bits)))
        ``{data, last}``: the requantized sample.
    saturations : Out(32)
        Outputs whose value did not fit (saturated or wrapped) since reset; wraps. Counted one
        enabled cycle after the sample leaves (the count never sits on the output's path).
    """

    latency = 4

    def __init__(
        self,
        in_bits: int,
        out_bits: int,
        shifts: int | Sequence[int] | NDArray[np.integer],
        rounding: Rounding,
        saturate: bool,
    ) -> None:
        self.shifts = np.atleast_1d(np.asarray(shifts, dtype=np.int64))
        if np.any(self.shifts < 0):
            raise ValueError(f"requantizer shifts must be >= 0; got {self.shifts.tolist()}")
        self.in_bits, self.out_bits = in_bits, out_bits
        self.rounding, self.saturate = Rounding(rounding), bool(saturate)
        self.channels = len(self.shifts)
        self.classes = sorted({int(s) for s in self.shifts})
        layout = data.StructLayout({"value": signed(in_bits), "channel": channel_shape(self.channels), "last": 1})
        super().__init__(
            {
                "i": In(stream.Signature(layout)),
                "o": Out(sample_stream(out_bits)),
                "saturations": Out(SATURATION_COUNTER_BITS),
            }
        )

    def model(self, values: np.ndarray, channels: np.ndarray | int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`golden.fixed.requantize` with each value's channel shift: (samples, clipped mask)."""
        return gf.requantize(values, self.shifts[np.asarray(channels)], self.out_bits, self.rounding, self.saturate)

    def elaborate(self, platform) -> Module:
        m = Module()
        en = self.o.ready
        ob, classes = self.out_bits, self.classes
        rounds = self.rounding is not Rounding.TRUNCATE
        # wide enough that value + 2**(s-1) is exact and every slice below stays inside the sum
        width = max(self.in_bits, max(classes) + 1) + 1
        m.d.comb += self.i.ready.eq(en)
        valid_c = delay(m, self.i.valid, 3, en, "rq_valid")  # beside stages A-C

        # A: shift class and rounding constant from the channel (constants: LUTs, no arithmetic)
        class_of = [classes.index(int(s)) for s in self.shifts]
        half_of = [1 << (int(s) - 1) if rounds and s > 0 else 0 for s in self.shifts]
        value_a = delay(m, self.i.payload.value, 1, en, "rq_value")
        cls_a = delay(m, _as_value(per_channel(class_of, self.i.payload.channel)), 1, en, "rq_class")
        half_a = delay(m, _as_value(per_channel(half_of, self.i.payload.channel)), 1, en, "rq_half")

        # B: the rounding add
        sum_b = Signal(signed(width), name="rq_sum")
        with m.If(en):
            m.d.sync += sum_b.eq(value_a + half_a)
        cls_b = delay(m, cls_a, 1, en, "rq_class_b")

        # C: per shift class, its output bits and its tie / overflow flags
        low_c = Signal(signed(ob), name="rq_low")
        sign_c = Signal(name="rq_sign")
        ties, overs = [], []
        for k, s in enumerate(classes):
            tie, over = Signal(name=f"rq_tie{k}"), Signal(name=f"rq_over{k}")
            with m.If(en):
                if self.rounding is Rounding.HALF_EVEN and s > 0:
                    m.d.sync += tie.eq(~sum_b[:s].any())
                top = sum_b[s + ob - 1 :]  # must be all sign bits for the result to fit
                if len(top) > 1:
                    m.d.sync += over.eq(~(top.all() | ~top.any()))
            ties.append(tie)
            overs.append(over)
        with m.If(en):
            m.d.sync += [
                low_c.eq(select([_low_bits(sum_b, s, ob) for s in classes], cls_b)),
                sign_c.eq(sum_b[-1]),
            ]
        cls_c = delay(m, cls_b, 1, en, "rq_class_c")

        # D: pick, fix the tie, clamp or wrap
        tie_d = _as_value(select(ties, cls_c))
        over_d = _as_value(select(overs, cls_c))
        rounded = Signal(signed(ob), name="rq_rounded")
        m.d.comb += rounded.eq(Mux(tie_d, low_c & ~Const(1, ob), low_c))
        if self.saturate:
            lo, hi = -(1 << (ob - 1)), (1 << (ob - 1)) - 1
            y = Mux(over_d, Mux(sign_c, Const(lo, signed(ob)), Const(hi, signed(ob))), rounded)
        else:
            y = rounded
        clipped = Signal(name="rq_clipped")
        with m.If(en):
            m.d.sync += [
                self.o.payload.data.eq(y),
                self.o.valid.eq(valid_c),
                self.o.payload.last.eq(delay(m, self.i.payload.last, 3, en, "rq_last")),
                clipped.eq(valid_c & over_d),
            ]
            with m.If(clipped):
                m.d.sync += self.saturations.eq(self.saturations + 1)
        return m


def _as_value(v: object) -> Value:
    """A `per_channel` / `select` result (an int when every option is equal) as a Value."""
    if isinstance(v, Value):
        return v
    assert isinstance(v, int), f"expected an int or a Value, got {type(v).__name__}"
    return Const(v)


def _low_bits(value: Value, shift: int, bits: int) -> Value:
    """The low ``bits`` bits of ``value >> shift`` (sign-extended when fewer remain)."""
    shifted = value.as_signed() >> shift
    return shifted if len(shifted) <= bits else shifted[:bits].as_signed()


__all__ = ["Requantizer", "SATURATION_COUNTER_BITS"]
