"""Output requantizer: round-shift an exact wide value to the output width, then saturate or wrap.

Both engines end in this block: their datapaths keep every bit exactly, and the only rounding
and narrowing of a ParC output happens here, once, with the channel's own shift. It counts
the outputs that had to be clipped, since that is the one place a clip can happen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import NDArray

from golden import fixed as gf
from golden.fixed import Rounding
from hw.fixed import requantize
from hw.mux import per_channel
from hw.stream import channel_shape, sample_stream

SATURATION_COUNTER_BITS = 32


class Requantizer(wiring.Component):
    """``o.data = fit(round_shift(value, shift[channel]), out_bits)``, one register, counted clips.

    Flow: a stall-all pipeline register. ``i.ready = o.ready`` and the output register (and
    the counter) load while ``o.ready`` is high. As the last stage of an engine it gets
    ``o.ready = ~o.valid | out.ready``, the engine's one pipeline enable.

    Parameters
    ----------
    in_bits : int
        Width of the signed input value.
    out_bits : int
        Width of the signed output sample.
    shifts : int or sequence of int
        Right shift (>= 0), one per channel; a single value, or all channels equal, costs no
        multiplexer.
    rounding : golden.fixed.Rounding
        How the shift drops bits.
    saturate : bool
        Clamp to the output range (True) or wrap in two's complement (False).

    Attributes
    ----------
    latency : int
        1 (the output register).
    channels : int
        Number of shifts.

    Ports
    -----
    i : In(stream.Signature({value: signed(in_bits), channel: channel_shape(channels), last: 1}))
        The exact value, the channel whose shift applies, and the frame-end marker.
    o : Out(stream.Signature(sample_layout(out_bits)))
        ``{data, last}``: the requantized sample.
    saturations : Out(32)
        Outputs whose value did not fit (saturated or wrapped) since reset; wraps.
    """

    latency = 1

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
        enable = self.o.ready
        shift = per_channel(self.shifts, self.i.payload.channel)
        y, clipped = requantize(self.i.payload.value, shift, self.out_bits, self.rounding, self.saturate)
        m.d.comb += self.i.ready.eq(enable)
        with m.If(enable):
            m.d.sync += [
                self.o.valid.eq(self.i.valid),
                self.o.payload.data.eq(y),
                self.o.payload.last.eq(self.i.payload.last),
            ]
            with m.If(self.i.valid & clipped):
                m.d.sync += self.saturations.eq(self.saturations + 1)
        return m


__all__ = ["Requantizer", "SATURATION_COUNTER_BITS"]
