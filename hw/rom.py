"""ROMs: word packing shared by every engine ROM, and the per-(channel, index) constant ROM.

Amaranth `Memory` initialisers are unsigned words; the engines store several signed fields
per word (P*G weight taps, or a complex twiddle/spectrum value) so that one read port delivers
them all in one cycle. Both packings put field 0 in the least significant bits and store each
field as its two's-complement ``bits``-bit pattern; the reader slices ``word[k*bits:(k+1)*bits]``
and reinterprets it ``.as_signed()``. One definition here keeps the writer and every reader
agreeing on that layout (`tests/test_block_rom.py` checks the round trip through hardware).

`ChannelRom` is the one table both engines index by (channel, position): their folded PE/bias
offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from amaranth.hdl import Cat, Module, Shape, ShapeLike, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.stream import channel_shape
from hw.target import BlockRam


def pack_words(values: np.ndarray | Sequence[Sequence[int]], bits: int) -> list[int]:
    """Rows of signed integers -> one unsigned ROM word per row, element 0 in the LSBs.

    Parameters
    ----------
    values : array_like of int, shape (rows, fields)
        Each element must fit ``signed(bits)`` (wider values are silently truncated to their
        low ``bits`` bits, as the hardware slice would).
    bits : int
        Width of one field.

    Returns
    -------
    list of int
        ``rows`` words of ``fields * bits`` bits each.
    """
    mask = (1 << bits) - 1
    return [sum((int(v) & mask) << (bits * k) for k, v in enumerate(row)) for row in values]


def pack_complex(re: Iterable[int], im: Iterable[int], bits: int) -> list[int]:
    """Complex integers -> one ``2*bits``-bit word each: real part in the LSBs, imaginary above.

    The same as ``pack_words(np.stack([re, im], axis=-1), bits)``; kept as its own name because
    every complex ROM (FFT twiddles, weight spectra) reads it as ``{re, im}``.
    """
    mask = (1 << bits) - 1
    return [(int(r) & mask) | ((int(i) & mask) << bits) for r, i in zip(re, im, strict=True)]


def unpack_words(words: Iterable[int], bits: int, fields: int) -> np.ndarray:
    """Inverse of `pack_words`: words -> int64 array of shape (len(words), fields), sign-extended."""
    mask = (1 << bits) - 1
    half = 1 << (bits - 1)
    out = [[((int(w) >> (bits * k)) & mask) for k in range(fields)] for w in words]
    arr = np.array(out, dtype=np.int64).reshape(-1, fields)
    return np.where(arr >= half, arr - (1 << bits), arr)


class ChannelRom(wiring.Component):
    """A constant per (channel, index): ``data = values[channel, index]``, one cycle after ``en``.

    Rows are padded to a power of two, so the address is ``Cat(index, channel)``: no address
    multiplier and no adder, for the price of ``C * (2**ceil(log2 N) - N)`` unused words. Both
    engines keep their folded PE/bias offsets ``offset[c, i]`` here.

    Parameters
    ----------
    values : array_like of int, shape (C, N)
        The constants.
    shape : ShapeLike, optional
        Shape of ``data`` (default: the smallest signed range holding every value and 0).
    target : str, optional
        None (default): an Amaranth `Memory` with one read register (latency 1). A target
        name (`hw.target.TARGETS`): a `hw.target.BlockRam`, whose output register lets a block
        RAM run at 200 MHz (latency 2, its ``read_latency``).

    Attributes
    ----------
    latency : int
        1 (a synchronous read port); ``BlockRam.read_latency`` for an instance built with a
        ``target`` (the class attribute is the default's).

    Ports
    -----
    channel : In(channel_shape(C))
        Row.
    index : In(range(N) rounded up to whole bits)
        Column.
    en : In(1)
        Read enable: ``data`` loads the addressed word at the clock edge while high and
        holds otherwise, so a stalled pipeline keeps its operand (with a ``target``, both
        read registers load on it).
    data : Out(shape)
        ``values[channel, index]`` of the address ``latency`` enabled cycles earlier (0 after
        reset, before any read; indices >= N read 0).
    """

    latency = 1

    def __init__(self, values: np.ndarray, shape: ShapeLike | None = None, *, target: str | None = None) -> None:
        self.values = np.asarray(values, dtype=np.int64)
        if self.values.ndim != 2:
            raise ValueError(f"a channel ROM holds a (C, N) table; got shape {self.values.shape}")
        channels, n = self.values.shape
        self.index_bits = max((n - 1).bit_length(), 1)
        if shape is None:
            shape = range(min(int(self.values.min()), -1), max(int(self.values.max()), 0) + 1)
        self.shape = Shape.cast(shape)
        self.target = target
        if target is not None:
            self.latency = BlockRam.read_latency
        super().__init__(
            {
                "channel": In(channel_shape(channels)),
                "index": In(unsigned(self.index_bits)),
                "en": In(1),
                "data": Out(self.shape),
            }
        )

    def words(self) -> list[int]:
        """Memory contents, row c at addresses ``c << index_bits`` onwards (padding reads 0)."""
        channels, n = self.values.shape
        padded = np.zeros((channels, 1 << self.index_bits), dtype=np.int64)
        padded[:, :n] = self.values
        return [int(v) for v in padded.reshape(-1)]

    def model(self, channels: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """``values[channel, index]`` for each enabled read."""
        return self.values[np.asarray(channels), np.asarray(indices)]

    def elaborate(self, platform) -> Module:
        m = Module()
        words = self.words()
        channel_bits = (self.values.shape[0] - 1).bit_length()  # a single channel needs no row bits
        address = Cat(self.index, self.channel[:channel_bits])
        if self.target is not None:
            mask = (1 << self.shape.width) - 1
            m.submodules.table = ram = BlockRam(
                self.shape.width, len(words), [w & mask for w in words], writable=False, target=self.target
            )
            word = Signal(self.shape, name="word")
            m.d.comb += [ram.r_addr.eq(address), ram.r_en.eq(self.en), word.eq(ram.r_data), self.data.eq(word)]
            return m
        # not named like the engines' instance of this block: Verilator rejects a memory that
        # hides the instance name of the module holding it (VARHIDDEN)
        m.submodules.table = rom = Memory(shape=self.shape, depth=len(words), init=words)
        port = rom.read_port()
        m.d.comb += [
            port.addr.eq(address),
            port.en.eq(self.en),
            self.data.eq(port.data),
        ]
        return m


__all__ = ["pack_words", "pack_complex", "unpack_words", "ChannelRom"]
