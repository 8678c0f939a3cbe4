"""Frame feeder: copies a whole frame into a rotating register and streams it out rotated.

Both engines read a frame as a sequence of its circular rotations: at rotation position i
the register holds ``R[k] = u[(i + k) mod N]``. Rotating the register (instead of indexing a
frame buffer with ``(i + k) mod N``) keeps every tap a fixed wire from one register, so the
read side needs no N-way multiplexer per tap and no modulo arithmetic.

- `hw.direct`: output i needs all of ``R`` (taps ``R[k] * w[k]``), ``P`` taps per beat, so it
  visits each position for ``G = ceil(N/P)`` beats (group g: ``R[g*P .. g*P + P-1]``, zero
  beyond N) and rotates after the last group: `Feeder.direct`.
- `hw.fast_parc`: the forward FFT wants ``[u, u[:N-1], 0, ..., 0]``, one point per clock for
  M points: ``R[0]`` at positions ``i < 2N-1``, zero after: `Feeder.fft`.

While the Feeder emits frame k, the Framer fills with frame k+1; the next frame is taken in
the cycle the last beat leaves, so frames follow back to back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.mux import equals, select
from hw.stream import channel_shape, frame_layout


@dataclass(frozen=True)
class FeederBeats:
    """What a Feeder emits, one row per beat (`Feeder.model`); the fields are the payload's."""

    data: np.ndarray  # (beats, width) int64
    channel: np.ndarray  # (beats,)
    index: np.ndarray  # (beats,) rotation position i
    group: np.ndarray  # (beats,) window g within the position
    last: np.ndarray  # (beats,) 1 on a frame's final beat


class Feeder(wiring.Component):
    """Rotating frame register: takes whole frames, emits windows of their rotations.

    Beat ``(i, g)`` of a frame ``u`` (positions ``i = 0..positions-1``, groups
    ``g = 0..groups-1``) carries ``data[j] = u[(i + g*width + j) mod N]`` for
    ``g*width + j < N`` and ``i < live``, else 0.

    Parameters
    ----------
    n, bits : int
        Frame length N and signed sample width, as for the `hw.framer.Framer` feeding it.
    channels : int
        Channel count C: sets the shape of the channel number carried from frame to beats.
    width : int
        Samples per beat (``1 <= width <= n``).
    groups : int
        Beats per rotation position; the register rotates by one after the last.
    positions : int
        Rotation positions per frame (the register wraps around after N).
    live : int, optional
        Positions that carry samples; later ones emit zeros (default: all).
    ready_next : bool, optional
        The consumer's ``o.ready`` is a register whose next value it offers on
        ``o_ready_next``: then ``i.ready`` is a register too (computed a cycle ahead), so the
        producer's accept logic (the Framer's, whose load enable spans the frame) waits for
        no logic here; ``i_ready_next`` offers that register's next value in turn, so the
        Framer's ``i.ready`` can be a register as well (`hw.framer.Framer` ``ready_next``).

    Attributes
    ----------
    latency : int
        1: the first beat is valid the cycle after the frame is taken.
    beats_per_frame : int
        ``positions * groups``.

    Ports
    -----
    i : In(stream.Signature(frame_layout(n, bits, channels)))
        Whole frames (`hw.framer.Framer.o`). ``i.ready`` is high while idle, and in the
        cycle the current frame's final beat transfers (combinationally from ``o.ready``).
    o : Out(stream.Signature({data: ArrayLayout(signed(bits), width), channel, index, group, last}))
        The beats; ``o.valid`` is a register, the payload comes from registers through one
        ``groups``-way multiplexer per output sample.
    o_ready_next : In(1), only with ``ready_next``
        The value ``o.ready`` will have in the next cycle.
    i_ready_next : Out(1), only with ``ready_next``
        The value ``i.ready`` will have in the next cycle.
    """

    latency = 1

    def __init__(
        self,
        n: int,
        bits: int,
        channels: int,
        *,
        width: int,
        groups: int,
        positions: int,
        live: int | None = None,
        ready_next: bool = False,
    ) -> None:
        if not 1 <= width <= n:
            raise ValueError(f"feeder width must be in 1..N={n}; got {width}")
        if groups < 1 or positions < 1:
            raise ValueError(f"feeder needs groups >= 1 and positions >= 1; got {groups}, {positions}")
        self.n, self.bits, self.channels = n, bits, channels
        self.width, self.groups, self.positions = width, groups, positions
        self.live = positions if live is None else int(live)
        self.ready_next = ready_next
        layout = data.StructLayout(
            {
                "data": data.ArrayLayout(signed(bits), width),
                "channel": channel_shape(channels),
                "index": range(max(positions, 2)),
                "group": range(max(groups, 2)),
                "last": 1,
            }
        )
        ports = {"i": In(stream.Signature(frame_layout(n, bits, channels))), "o": Out(stream.Signature(layout))}
        if ready_next:
            ports.update(o_ready_next=In(1), i_ready_next=Out(1))
        super().__init__(ports)

    @classmethod
    def direct(cls, n: int, bits: int, channels: int, parallel: int, *, ready_next: bool = False) -> Feeder:
        """The direct engine's pattern: N outputs, each ``ceil(N/P)`` groups of P taps."""
        groups = math.ceil(n / parallel)
        return cls(n, bits, channels, width=parallel, groups=groups, positions=n, ready_next=ready_next)

    @classmethod
    def fft(cls, n: int, bits: int, channels: int, size: int, *, ready_next: bool = False) -> Feeder:
        """The FFT engine's pattern: ``[u, u[:N-1], 0, ..., 0]``, one point per beat, M beats."""
        return cls(n, bits, channels, width=1, groups=1, positions=size, live=2 * n - 1, ready_next=ready_next)

    @property
    def beats_per_frame(self) -> int:
        return self.positions * self.groups

    def model(self, frames: np.ndarray, channels: np.ndarray | None = None) -> FeederBeats:
        """The beats emitted for ``frames`` (F, N) taken with ``channels`` (default f % C)."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1, self.n)
        f = frames.shape[0]
        channels = np.arange(f) % self.channels if channels is None else np.asarray(channels)
        i, g, j = np.meshgrid(np.arange(self.positions), np.arange(self.groups), np.arange(self.width), indexing="ij")
        k = g * self.width + j
        keep = (k < self.n) & (i < self.live)
        taps = frames[:, (i + k) % self.n] * keep  # (F, positions, groups, width)
        index, group = np.meshgrid(np.arange(self.positions), np.arange(self.groups), indexing="ij")
        last = (index == self.positions - 1) & (group == self.groups - 1)
        beats = self.beats_per_frame
        return FeederBeats(
            data=taps.reshape(f * beats, self.width),
            channel=np.repeat(channels, beats),
            index=np.tile(index.reshape(-1), f),
            group=np.tile(group.reshape(-1), f),
            last=np.tile(last.reshape(-1).astype(np.int64), f),
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        n, width, groups = self.n, self.width, self.groups
        rot = Signal(self.i.payload.frame.shape(), name="rot")
        busy = Signal()
        index = Signal.like(self.o.payload.index, name="index")
        group = Signal.like(self.o.payload.group, name="group")
        channel = Signal.like(self.o.payload.channel, name="channel")

        # Flags for "this beat ends its position / the frame", kept as registers beside index
        # and group: the rotating register's load enable (N * bits flip-flops) and i.ready
        # then wait for no compare.
        position_done = Signal(init=groups == 1, name="position_done")
        frame_done = Signal(init=groups == 1 and self.positions == 1, name="frame_done")
        send = self.o.valid & self.o.ready
        take = self.i.valid & self.i.ready
        last_index = self.positions - 1
        # Each flag loads its next value, computed once here (a take restarts the frame, a
        # send steps it): the look-ahead ready and rotation below read the same values.
        next_position_done = Mux(
            take,
            groups == 1,
            Mux(send, Mux(position_done, groups == 1, equals(group, groups - 2)), position_done),
        )
        next_done = Mux(
            take,
            (groups == 1) & (last_index == 0),
            Mux(
                send,
                Mux(
                    position_done,
                    (groups == 1) & equals(index, last_index - 1),
                    equals(group, groups - 2) & equals(index, last_index),
                ),
                frame_done,
            ),
        )
        next_busy = take | (busy & ~(send & frame_done))
        m.d.sync += [position_done.eq(next_position_done), frame_done.eq(next_done), busy.eq(next_busy)]
        if self.ready_next:
            # i.ready as a register: its next value from the next busy, frame_done and o.ready
            ready = Signal(init=1, name="ready")
            m.d.comb += self.i_ready_next.eq(~next_busy | (self.o_ready_next & next_done))
            m.d.sync += ready.eq(self.i_ready_next)
            m.d.comb += self.i.ready.eq(ready)
            # The rotation of the frame register (N * bits flip-flops) decided a cycle ahead
            # too, into a register of its own: ``send & position_done`` had the consumer's
            # ready register (inside the FFT, across the chip) as the clock enable of every
            # one of them, the padded N = 56, 16-bit -6 critical path
            # (``fft_fwd.ready -> feeder.rot.CE``, 8.5 ns).
            rotate = Signal(name="rotate")
            m.d.sync += rotate.eq(next_busy & self.o_ready_next & next_position_done)
        else:
            m.d.comb += self.i.ready.eq(~busy | (self.o.ready & frame_done))
            rotate = send & position_done
        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.channel.eq(channel),
            self.o.payload.index.eq(index),
            self.o.payload.group.eq(group),
            self.o.payload.last.eq(frame_done),
        ]
        zero = Const(0, signed(self.bits))
        for j in range(width):
            tap = select([rot[g * width + j] if g * width + j < n else zero for g in range(groups)], group)
            if self.live < self.positions:
                tap = Mux(index < self.live, tap, 0)
            m.d.comb += self.o.payload.data[j].eq(tap)

        with m.If(send):
            m.d.sync += group.eq(Mux(position_done, 0, group + 1))
            with m.If(position_done):
                m.d.sync += index.eq(index + 1)
        with m.If(rotate):
            m.d.sync += rot.eq(rot.as_value().rotate_right(self.bits))
        with m.If(take):
            m.d.sync += [
                index.eq(0),
                group.eq(0),
                rot.eq(self.i.payload.frame),
                channel.eq(self.i.payload.channel),
            ]
        return m


__all__ = ["Feeder", "FeederBeats"]
