"""ROM packing (`hw.rom.pack_words`, `pack_complex`) and block `hw.rom.ChannelRom`.

Packing: words round-trip, and fields sliced out of a packed word in hardware (as the engines
slice them) are the values packed. ChannelRom: RTL == `ChannelRom.model` under a random read
enable (a stalled pipeline must keep its operand)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from amaranth_pipelines import run_enabled

from hw.rom import ChannelRom, pack_complex, pack_words, unpack_words


@pytest.mark.parametrize("bits, fields", [(4, 7), (8, 3), (13, 2), (18, 1)])
def test_pack_words_round_trips(bits: int, fields: int) -> None:
    rng = np.random.default_rng(bits)
    values = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (40, fields))
    values[0], values[1] = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    words = pack_words(values, bits)
    assert all(0 <= w < 1 << (bits * fields) for w in words), "pack_words: words must be unsigned and fit"
    np.testing.assert_equal(unpack_words(words, bits, fields), values, err_msg="pack_words/unpack_words")
    assert words[2] & ((1 << bits) - 1) == values[2, 0] & ((1 << bits) - 1), "pack_words: element 0 in the LSBs"


def test_pack_complex_is_re_low_im_high() -> None:
    rng = np.random.default_rng(1)
    re, im = rng.integers(-(1 << 17), 1 << 17, (2, 50))
    words = pack_complex(re, im, 18)
    assert words == pack_words(np.stack([re, im], axis=-1), 18), "pack_complex != pack_words of (re, im)"
    np.testing.assert_equal(unpack_words(words, 18, 2), np.stack([re, im], axis=-1))


def test_packed_fields_read_back_in_hardware() -> None:
    """A ROM initialised with `pack_words`, read and sliced ``word[k*bits:(k+1)*bits].as_signed()``
    as `hw.direct` slices its weight word, returns the packed values."""
    bits, fields = 6, 5
    rng = np.random.default_rng(2)
    values = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (8, fields))
    m = Module()
    m.submodules.rom = rom = Memory(shape=unsigned(bits * fields), depth=len(values), init=pack_words(values, bits))
    port = rom.read_port(domain="comb")
    outs = [Signal(signed(bits), name=f"f{k}") for k in range(fields)]
    m.d.comb += [o.eq(port.data[k * bits : (k + 1) * bits].as_signed()) for k, o in enumerate(outs)]
    got = []

    async def bench(ctx) -> None:
        for addr in range(len(values)):
            ctx.set(port.addr, addr)
            got.append([ctx.get(o) for o in outs])

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    np.testing.assert_equal(got, values, err_msg="packed ROM fields read back differently")


@pytest.mark.parametrize(
    "channels, n, target", [(1, 7, None), (3, 5, None), (4, 8, None), (3, 5, "generic"), (1, 7, "generic")]
)
def test_channel_rom_rtl_equals_model(channels: int, n: int, target: str | None) -> None:
    """Each enabled edge loads ``values[channel, index]``, seen ``latency`` enabled edges
    later; with ``en`` low (random garbage on the address) ``data`` holds, so a stalled
    pipeline keeps its operand."""
    rng = np.random.default_rng(channels * 10 + n)
    values = rng.integers(-(1 << 20), 1 << 20, (channels, n))
    dut = ChannelRom(values, target=target)
    reads = 150
    chans, idxs = rng.integers(0, channels, reads), rng.integers(0, n, reads)
    got = run_enabled(
        dut,
        {"channel": (dut.channel, chans), "index": (dut.index, idxs)},
        {"data": dut.data},
        p_enable=0.6,
        seed=channels,
    )
    lag = dut.latency - 1  # the slot entered at edge j shows after edge j + latency - 1
    assert dut.latency == (1 if target is None else 2)
    np.testing.assert_equal(
        got["data"][lag:], dut.model(chans, idxs)[: reads - lag], err_msg="ChannelRom: data differs from model"
    )
