"""Streaming corner turn: frames re-ordered by an axis permutation through ping-pong RAM banks.

Why: a feature map streams in channels-last raster order (for h, for w, for c), but the 1-D
ParC engines take frames of N consecutive samples of *one* channel. ParC-W needs each row
regrouped per channel ((W, C) -> (C, W)), ParC-H each column per channel over the whole map
((H, W, C) -> (C, W, H), or (W, C, H) for the engines, which take the channels' frames in
turn: docs/stream-contract.md), and the results must go back to HWC. All of these are one
operation: a frame of ``L = prod(dims)`` samples arrives in row-major order of ``dims`` and
leaves in the row-major order of the permuted axes
(``frame.reshape(dims).transpose(perm).reshape(-1)``, `corner_turn`).

Dataflow::

    i --PairWriter (Framer's tlast rules, one channel)--> PingPongBuffer (banks of L words)
      --permuted read walk (stride counters)--> RAM read (2 cycles) --> CreditBuffer --> o

- Input: `hw.pair_writer.PairWriter` with one channel is exactly a framing writer: it writes
  sample k of a frame at address k (its imaginary lane, always zero with one channel, is left
  unconnected) and applies `hw.framer.Framer`'s malformed-frame rules (early ``last``: the
  partial frame is dropped; missing ``last``: the frame is kept and input discarded up to the
  next ``last``), counted in ``frame_errors``.
- Read walk: a mixed-radix counter over the permuted axes (``levels``: size-1 axes dropped,
  axes that stay adjacent merged, so the identity is one level and needs no carry at all). The
  address is one register that moves by a precomputed constant per step: the stride of the
  level that steps minus the spans of the inner levels that wrap. Which constant is chosen by
  the levels' ``at_end`` registers; so the path to the RAM address is a small multiplexer of
  constants and one adder, and neither an address table (56 x 56 x 8 = 25 k entries) nor a
  multiplier is built.
- Output: the RAM is read free-running (its enable is always on, as in the native engine's
  output stage) and the words land in a `hw.credit_buffer.CreditBuffer`; a read is issued only
  while a credit is left, so ``o.ready`` reaches only that FIFO and its counter and no word in
  the 2-cycle read pipeline is ever lost or repeated.

Throughput: one sample per clock in and out with two banks. With the writer's register (write
and commit one cycle after the sample) and the buffer's registered ``ready``, the reader
releases frame f's bank in the very cycle frame f + 2's first sample arrives, and the buffer's
registered ``free`` says so only a cycle later. The writer wins that cycle back: it takes the
first sample while the bank is being *released* (``release`` now means ``free`` next cycle)
and claims the bank a cycle later, together with that sample's write. (At L = 1 a claim is
still travelling when the next sample comes, so one-sample frames go at half rate.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike, NDArray

from hw.credit_buffer import CreditBuffer
from hw.framer import ERROR_COUNTER_BITS
from hw.mux import equals
from hw.pair_writer import WRITE_DELAY, PairWriter
from hw.pingpong import READ_LATENCY, PingPongBuffer, address_bits
from hw.pipeline import delay
from hw.stream import sample_layout, sample_stream
from hw.target import check_target

__all__ = ["CornerTurn", "Level", "corner_turn", "inverse_permutation", "read_levels"]

# cycles from a frame's last sample taken to its first word offered on ``o``, no stalls: the
# writer's register, the buffer's ``ready`` register, the RAM read, the output FIFO
LATENCY = WRITE_DELAY + 1 + READ_LATENCY + CreditBuffer.latency


def corner_turn(frames: ArrayLike, dims: Sequence[int], perm: Sequence[int]) -> NDArray[np.int64]:
    """Frames (F, L) in row-major order of ``dims``, each re-ordered to the axes ``perm``."""
    frames = np.asarray(frames, dtype=np.int64)
    length = math.prod(dims)
    assert frames.ndim == 2 and frames.shape[1] == length, f"expected frames (F, {length}), got {frames.shape}"
    axes = (0, *(p + 1 for p in perm))
    return frames.reshape(-1, *dims).transpose(axes).reshape(-1, length)


def inverse_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes ``perm``: turning by ``perm``, then by this, is the identity."""
    return tuple(int(k) for k in np.argsort(perm))


@dataclass(frozen=True)
class Level:
    """One digit of the read walk: ``count`` positions, ``stride`` words apart in the bank."""

    count: int
    stride: int


def read_levels(dims: Sequence[int], perm: Sequence[int]) -> list[Level]:
    """The read walk of a corner turn, outermost level first.

    Output axis k walks input axis ``perm[k]``, whose row-major stride is the product of the
    input dims after it. Axes of size 1 are dropped, and a level whose stride is the whole span
    of the level inside it is merged with it (axes that stay adjacent); an empty walk (L = 1)
    keeps one level of one position.
    """
    strides = [math.prod(dims[a + 1 :]) for a in range(len(dims))]
    levels: list[Level] = []
    for axis in perm:
        if dims[axis] == 1:
            continue
        level = Level(dims[axis], strides[axis])
        if levels and levels[-1].stride == level.count * level.stride:
            level = Level(levels.pop().count * level.count, level.stride)
        levels.append(level)
    return levels or [Level(1, 1)]


class CornerTurn(wiring.Component):
    """Frames of ``L = prod(dims)`` samples in, each re-ordered to the axis order ``perm``.

    Parameters
    ----------
    dims : tuple of int
        The frame's shape, in the order the samples arrive (row-major, last axis fastest).
    perm : tuple of int
        The output axis order: output axis k is input axis ``perm[k]`` (numpy ``transpose``).
    width : int
        Sample width (signed, as `hw.stream.sample_stream`).
    banks : int
        Frame banks in the RAM (a power of two >= 2); 2 sustain one sample per clock.
    target : str
        How the RAM is written (`hw.target.TARGETS`).

    Attributes
    ----------
    length : int
        L, samples per frame.
    out_dims : tuple of int
        The output frame's shape (``dims`` permuted).
    levels : list of Level
        The read walk (`read_levels`).
    latency : int
        6: cycles from the transfer of a frame's last sample on ``i`` to its first sample
        valid on ``o``, with ``o`` ready (1 write register + 1 ``ready`` register + 2 RAM
        read + 2 output FIFO). The same between back-to-back frames; a frame's first output
        comes ``L - 1 + latency`` cycles after its first input.
    ram_words, ram_bits : int
        RAM used: ``banks * 2**ceil(log2 L)`` words of ``width`` bits (the bank is the top
        address bits). Besides it: the output FIFO's 5 words of ``width + 1`` bits.

    Ports
    -----
    i : In(sample_stream(width))
        Samples in ``dims`` order, ``last`` on the L-th. ``i.ready`` is low only while no bank
        is free (the output is stalled, or the reader is a frame behind); it depends on
        registers only, never on ``i.valid`` or ``o.ready``.
    o : Out(sample_stream(width))
        Samples in ``perm`` order, ``last`` on each frame's L-th. ``o.valid`` and ``o.payload``
        are registers.
    frame_errors : Out(16)
        Malformed input frames seen (wraps), as `hw.framer.Framer` counts them, two cycles
        after the sample that shows it. Kept frames are `hw.framer.Framer.model`'s.
    """

    latency = LATENCY

    def __init__(
        self, dims: tuple[int, ...], perm: tuple[int, ...], width: int, *, banks: int = 2, target: str = "generic"
    ) -> None:
        dims, perm = tuple(int(d) for d in dims), tuple(int(p) for p in perm)
        if not dims or min(dims) < 1:
            raise ValueError(f"CornerTurn needs dims of sizes >= 1; got {dims}")
        if sorted(perm) != list(range(len(dims))):
            raise ValueError(f"perm must be a permutation of the {len(dims)} axes of dims; got {perm}")
        if width < 1:
            raise ValueError(f"CornerTurn needs width >= 1; got {width}")
        if banks < 2 or banks & (banks - 1):
            raise ValueError(f"CornerTurn needs a power of two >= 2 banks; got {banks}")
        self.dims, self.perm, self.width, self.banks = dims, perm, width, banks
        self.target = check_target(target)
        self.length = math.prod(dims)
        self.out_dims = tuple(dims[p] for p in perm)
        self.levels = read_levels(dims, perm)
        super().__init__(
            {"i": In(sample_stream(width)), "o": Out(sample_stream(width)), "frame_errors": Out(ERROR_COUNTER_BITS)}
        )

    @property
    def ram_words(self) -> int:
        """Words of the frame RAM: ``banks`` banks of ``2**ceil(log2 L)`` (`PingPongBuffer`)."""
        return self.banks << address_bits(self.length)

    @property
    def ram_bits(self) -> int:
        return self.ram_words * self.width

    def model(self, frames: ArrayLike) -> NDArray[np.int64]:
        """Frames (F, L) in, the frames (F, L) ``o`` carries (`corner_turn`)."""
        return corner_turn(frames, self.dims, self.perm)

    def inverse(self) -> CornerTurn:
        """The corner turn that puts this one's output back in input order (e.g. CWH -> HWC)."""
        return CornerTurn(
            self.out_dims, inverse_permutation(self.perm), self.width, banks=self.banks, target=self.target
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        length, width = self.length, self.width
        m.submodules.writer = writer = PairWriter(length, width, 1, 0)
        m.submodules.buffer = buffer = PingPongBuffer(length, width, banks=self.banks, target=self.target)
        m.submodules.output = output = CreditBuffer(sample_layout(width), CreditBuffer.depth_for(READ_LATENCY))
        wiring.connect(m, wiring.flipped(self.i), writer.i)
        m.d.comb += self.frame_errors.eq(writer.errors)
        r = buffer.r

        # --- read walk: one register per level says it is at its last position -------------------
        issue = Signal()  # a read this cycle: a full bank and room for its word
        levels = self.levels
        at_end = [Signal(name=f"at_end{k}", init=level.count == 1) for k, level in enumerate(levels)]
        carry = [Const(1)] * len(levels)  # level k steps when every level inside it is at its end
        for k in range(len(levels) - 2, -1, -1):
            carry[k] = carry[k + 1] & at_end[k + 1]
        end_of_frame = carry[0] & at_end[0]
        for k, level in enumerate(levels):
            index = Signal(range(level.count), name=f"index{k}")
            with m.If(issue & carry[k]):
                m.d.sync += [
                    index.eq(Mux(at_end[k], 0, index + 1)),
                    at_end[k].eq(Mux(at_end[k], level.count == 1, equals(index, max(level.count - 2, 0)))),
                ]
        # the address of the current read; a step adds the stride of the innermost level not at
        # its end and takes back the spans of the levels inside it (they wrap to 0), modulo the bank
        bits = address_bits(length)
        addr = Signal(unsigned(bits), name="read_addr")
        step: Value = Const(0, unsigned(bits))
        for k, level in enumerate(levels):  # outermost first: the innermost choice wins
            wrapped = sum((inner.count - 1) * inner.stride for inner in levels[k + 1 :])
            step = Mux(~at_end[k], Const((level.stride - wrapped) % (1 << bits), unsigned(bits)), step)
        with m.If(issue):
            m.d.sync += addr.eq(Mux(end_of_frame, 0, (addr + step)[:bits]))
        m.d.comb += [
            issue.eq(r.ready & output.grant),
            output.take.eq(issue),
            r.addr.eq(addr),
            r.en.eq(1),
            r.release.eq(issue & end_of_frame),
        ]
        one = Const(1)
        m.d.comb += [
            output.i.valid.eq(delay(m, issue, READ_LATENCY, one, "read_valid")),
            output.i.payload.data.eq(r.data),
            output.i.payload.last.eq(delay(m, end_of_frame, READ_LATENCY, one, "read_last")),
        ]
        wiring.connect(m, output.o, wiring.flipped(self.o))

        # --- write side: the writer's lane 0, its claim one cycle late ------------------------------
        # PairWriter claims in the cycle it takes a frame's first sample and writes that sample a
        # cycle later (`WRITE_DELAY`); the claim is delayed to go with that write. So the writer
        # needs the bank free one cycle ahead, which it is when it is free now or being released
        # now (with every bank claimed, the one the next claim takes is the one being read).
        # ``claim_late`` blocks a second claim while the first still travels (L = 1 only).
        w = writer.w
        claim_late = Signal()
        m.d.sync += claim_late.eq(w.claim)
        m.d.comb += [
            w.free.eq(~claim_late & (buffer.w.free | r.release)),
            buffer.w.claim.eq(claim_late),
            buffer.w.addr.eq(w.addr),
            buffer.w.data.eq(w.data[:width]),
            buffer.w.en.eq(w.en[0]),
            buffer.w.commit.eq(w.commit),
        ]
        return m
