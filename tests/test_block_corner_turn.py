"""Block `hw.corner_turn.CornerTurn`: RTL == `CornerTurn.model` beat for beat, one sample per clock.

The model is `corner_turn` (``frame.reshape(dims).transpose(perm)``), itself checked against the
index formulas of the ParC layer's turns. The RTL runs with random input bubbles and output
backpressure for the layer's cases (ParC-H's (H, W, C) -> (C, W, H) and, in the engines'
channel order, -> (W, C, H); ParC-W's per-row (W, C) -> (C, W); their inverses back to HWC; a
rotation; the identity; one-sample frames), several frames back to back; a reset in mid-frame
must leave the later frames correct, malformed frames (early or missing ``last``) must be
counted and dropped as `hw.framer.Framer.model` says; without bubbles or backpressure F frames
take F L + L - 1 + latency cycles. The Verilog passes the repo's lint.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth_streams import StreamSink, StreamSource, frame_lasts, run_stream, run_streams
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.corner_turn import CornerTurn, corner_turn, inverse_permutation, read_levels
from hw.framer import Framer
from hw.lint import lint, waiver_text

WIDTH = 8


def random_frames(count: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), (count, length))


def model_only(block: CornerTurn) -> CornerTurn:
    """A block built for its model or properties only (never elaborated): no unused warning."""
    block._MustUse__silence = True
    return block


def label(dut: CornerTurn) -> str:
    return f"CornerTurn({dut.dims}, {dut.perm}, banks={dut.banks})"


# --- the model ------------------------------------------------------------------------------------


def test_model_is_the_parc_layer_turns() -> None:
    """ParC-H: out[c, w, h] = in[h, w, c] (or in the engines' channel-cycling order out[w, c, h]);
    ParC-W per row: out[c, w] = in[w, c]; the inverse permutation brings them back to HWC."""
    h, w, c = 3, 4, 2
    fmap = random_frames(1, h * w * c, 0).reshape(h, w, c)
    column_major = corner_turn(fmap.reshape(1, -1), (h, w, c), (2, 1, 0)).reshape(c, w, h)
    for i, j, k in np.ndindex(h, w, c):
        assert column_major[k, j, i] == fmap[i, j, k]
    # the engines take frames of channels 0..C-1 in turn (docs/stream-contract.md): ParC-H in
    # (W, C, H) order, so frame w * C + c is column w of channel c
    engine_order = corner_turn(fmap.reshape(1, -1), (h, w, c), (1, 2, 0)).reshape(w * c, h)
    for f in range(w * c):
        np.testing.assert_equal(engine_order[f], fmap[:, f // c, f % c])
    row = fmap[1]
    per_channel = corner_turn(row.reshape(1, -1), (w, c), (1, 0)).reshape(c, w)
    np.testing.assert_equal(per_channel, row.T)
    back = corner_turn(column_major.reshape(1, -1), (c, w, h), inverse_permutation((2, 1, 0)))
    np.testing.assert_equal(back.reshape(h, w, c), fmap)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=4).flatmap(
        lambda d: st.tuples(st.just(d), st.permutations(range(len(d))))
    )
)
def test_read_walk_visits_the_permuted_order(case: tuple[list[int], list[int]]) -> None:
    """The mixed-radix walk of `read_levels` (merged and size-1 axes dropped) reads exactly the
    addresses of the permuted frame, each once; the inverse turn undoes the turn."""
    dims, perm = tuple(case[0]), tuple(case[1])
    levels = read_levels(dims, perm)
    assert all(level.count > 1 for level in levels) or math.prod(dims) == 1
    counts = [level.count for level in levels]
    walk = [sum(i * level.stride for i, level in zip(idx, levels, strict=True)) for idx in np.ndindex(*counts)]
    length = math.prod(dims)
    np.testing.assert_equal(walk, corner_turn(np.arange(length)[None], dims, perm)[0])
    frames = random_frames(2, length, 1)
    out_dims = tuple(dims[p] for p in perm)
    np.testing.assert_equal(corner_turn(corner_turn(frames, dims, perm), out_dims, inverse_permutation(perm)), frames)


def test_adjacent_axes_merge_into_one_counter() -> None:
    assert read_levels((3, 5), (0, 1)) == read_levels((15,), (0,))  # identity: one plain counter
    assert [(v.count, v.stride) for v in read_levels((2, 3, 4), (1, 2, 0))] == [(12, 1), (2, 12)]
    assert [(v.count, v.stride) for v in read_levels((3, 4, 2), (2, 1, 0))] == [(2, 1), (4, 2), (3, 8)]


def test_ram_size_is_banks_times_a_power_of_two_bank() -> None:
    """What the layer reports as BRAM: 56 x 56 x 8 = 25088 words need 32768-word banks."""
    big = model_only(CornerTurn((56, 56, 8), (2, 1, 0), 8))
    assert (big.ram_words, big.ram_bits) == (2 * 32768, 2 * 32768 * 8)
    small = model_only(CornerTurn((3, 4, 2), (2, 1, 0), 10, banks=4))
    assert (small.ram_words, small.ram_bits) == (4 * 32, 4 * 32 * 10)
    assert model_only(small.inverse()).dims == (2, 4, 3) and small.out_dims == (2, 4, 3)


# --- RTL == model -----------------------------------------------------------------------------------

CASES = [
    # dims, perm, banks, p_valid, p_ready
    pytest.param((3, 4, 2), (2, 1, 0), 2, 0.8, 0.6, id="parc-h-HWC-to-CWH"),
    pytest.param((2, 4, 3), (2, 1, 0), 2, 0.9, 0.4, id="parc-h-CWH-to-HWC"),
    pytest.param((3, 4, 2), (1, 2, 0), 2, 0.8, 0.8, id="parc-h-HWC-to-WCH-engine-order"),
    pytest.param((4, 2, 3), (2, 0, 1), 2, 0.7, 0.9, id="parc-h-WCH-to-HWC"),
    pytest.param((5, 3), (1, 0), 2, 0.5, 0.9, id="parc-w-row-WC-to-CW"),
    pytest.param((3, 5), (1, 0), 4, 0.9, 0.5, id="parc-w-row-CW-to-WC-4-banks"),
    pytest.param((1, 4, 3), (2, 0, 1), 2, 0.7, 0.7, id="rotation"),
    pytest.param((3, 1, 4), (1, 2, 0), 2, 0.7, 0.7, id="rotation-inverse"),
    pytest.param((3, 5), (0, 1), 2, 0.6, 0.6, id="identity"),
    pytest.param((1,), (0,), 2, 1.0, 0.3, id="one-sample-frames"),
]


def run_turn(dut: CornerTurn, frames: np.ndarray, *, seed: int, p_valid: float, p_ready: float, **options: Any):
    flat = frames.reshape(-1)
    return run_stream(
        dut,
        {"data": flat, "last": frame_lasts(flat.size, dut.length)},
        ("data", "last"),
        expect=flat.size,
        seed=seed,
        p_valid=p_valid,
        p_ready=p_ready,
        probes={"frame_errors": dut.frame_errors},
        drain=dut.length + dut.latency,  # anything more that comes out is extra
        **options,
    )


@pytest.mark.parametrize("dims, perm, banks, p_valid, p_ready", CASES)
def test_rtl_equals_model_under_bubbles_and_backpressure(
    dims: tuple[int, ...], perm: tuple[int, ...], banks: int, p_valid: float, p_ready: float
) -> None:
    dut = CornerTurn(dims, perm, WIDTH, banks=banks)
    count = max(3, 48 // dut.length)
    frames = random_frames(count, dut.length, sum(dims) + banks)
    run = run_turn(dut, frames, seed=len(dims) + banks, p_valid=p_valid, p_ready=p_ready)
    got = run.column("data").reshape(count, dut.length)
    np.testing.assert_equal(got, dut.model(frames), err_msg=f"{label(dut)}: data differ from the model")
    np.testing.assert_equal(run.column("last"), frame_lasts(frames.size, dut.length), err_msg=f"{label(dut)}: last")
    assert run.final["frame_errors"] == 0, f"{label(dut)}: frame_errors on well-formed frames"


class Chain(Elaboratable):
    """``first`` then ``second``, stream to stream, as the layer joins its corner turns."""

    def __init__(self, first: CornerTurn, second: CornerTurn) -> None:
        self.first, self.second = first, second
        self.i, self.o = first.i, second.o
        self.latency = first.latency + second.latency

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.first, m.submodules.second = self.first, self.second
        wiring.connect(m, self.first.o, self.second.i)
        return m


def test_turn_then_its_inverse_gives_the_frames_back() -> None:
    """HWC -> CWH -> HWC through two blocks (the second built by `CornerTurn.inverse`)."""
    turn = CornerTurn((3, 4, 2), (2, 1, 0), WIDTH)
    chain = Chain(turn, turn.inverse())
    frames = random_frames(4, turn.length, 5)
    run = run_stream(
        chain,
        {"data": frames, "last": frame_lasts(frames.size, turn.length)},
        ("data",),
        expect=frames.size,
        seed=5,
        p_valid=0.8,
        p_ready=0.5,
        drain=turn.length,
    )
    np.testing.assert_equal(run.column("data").reshape(frames.shape), frames, err_msg="turn + inverse")


# --- timing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims, perm", [((3, 4, 2), (2, 1, 0)), ((5, 3), (1, 0)), ((2, 2), (1, 0))])
def test_one_sample_per_clock_with_two_banks(dims: tuple[int, ...], perm: tuple[int, ...]) -> None:
    """No bubbles, no backpressure: every input taken in consecutive cycles, the first output
    ``latency`` cycles after the first frame's last input, then one per clock across frames:
    F frames take F L + L - 1 + latency cycles (measured in cycles of the simulation)."""
    dut = CornerTurn(dims, perm, WIDTH)
    length, count = dut.length, 5
    run = run_turn(dut, random_frames(count, length, 2), seed=2, p_valid=1.0, p_ready=1.0)
    assert run.in_cycles == list(range(count * length)), f"{label(dut)}: input stalled"
    first = run.in_cycles[length - 1] + dut.latency
    assert run.out_cycles == list(range(first, first + count * length)), f"{label(dut)}: output stalled"
    assert run.out_cycles[-1] + 1 == count * length + length - 1 + dut.latency


# --- recovery ---------------------------------------------------------------------------------------


class ResetMidFrame(StreamSource):
    """A source that pulses ``rst`` (for one cycle, offering nothing) when beat ``at`` is next,
    then carries on with beat ``at``: the block sees the tail of that frame after the reset."""

    def __init__(
        self,
        stream: Any,
        beats: list[dict[str, int]],
        rng: np.random.Generator,
        p_valid: float,
        *,
        rst: Signal,
        at: int,
    ) -> None:
        super().__init__(stream, beats, rng, p_valid, name="CornerTurn.i")
        self.rst, self.at = rst, at
        self.reset_cycle: int | None = None
        self._resetting = False

    def drive(self, ctx: Any) -> None:
        if self.reset_cycle is None and self._index == self.at:
            self._resetting, self._holding = True, False
            ctx.set(self.rst, 1)
            ctx.set(self.stream.valid, 0)
            return
        ctx.set(self.rst, 0)
        super().drive(ctx)

    def observe(self, ctx: Any, cycle: int) -> None:
        if self._resetting and self.reset_cycle is None:
            self.reset_cycle = cycle
            return
        super().observe(ctx, cycle)


class SinkAfterReset(StreamSink):
    """Keeps only what it takes after the source's reset cycle."""

    def __init__(self, stream: Any, rng: np.random.Generator, p_ready: float, source: ResetMidFrame) -> None:
        super().__init__(stream, rng, p_ready, name="CornerTurn.o")
        self.source = source

    def observe(self, ctx: Any, cycle: int) -> None:
        super().observe(ctx, cycle)
        if self.source.reset_cycle == cycle:
            self.payloads.clear()
            self.cycles.clear()


def test_reset_in_mid_frame_recovers() -> None:
    """Reset while frame 2 arrives and frames 0 and 1 are still being read out: the tail of
    frame 2 is an early ``last`` (one error, dropped), frames 3.. come out exactly."""
    dut = CornerTurn((3, 4, 2), (2, 1, 0), WIDTH)
    length, count = dut.length, 6
    frames = random_frames(count, length, 3)
    flat = frames.reshape(-1)
    lasts = frame_lasts(flat.size, length)
    rst = Signal()
    rng = np.random.default_rng(3)
    beats = [{"data": int(v), "last": int(t)} for v, t in zip(flat, lasts, strict=True)]
    source = ResetMidFrame(dut.i, beats, rng, 0.8, rst=rst, at=2 * length + length // 2)
    sink = SinkAfterReset(dut.o, rng, 0.6, source)
    run = run_streams(
        ResetInserter(rst)(dut),
        [source],
        {sink: (count - 3) * length},
        probes={"frame_errors": dut.frame_errors},
        drain=length + dut.latency,
        max_cycles=40 * flat.size,
    )
    assert source.reset_cycle is not None
    got = sink.column("data").reshape(count - 3, length)
    np.testing.assert_equal(got, dut.model(frames[3:]), err_msg="frames after the reset")
    np.testing.assert_equal(sink.column("last"), frame_lasts(got.size, length))
    assert run.final["frame_errors"] == 1, "the frame cut by the reset is one early last"


def test_malformed_frames_are_counted_and_dropped() -> None:
    """An early ``last`` (frame dropped), a missing one (frame kept, input skipped up to the next
    ``last``): the frames out and the error count are `Framer.model`'s, the frames after are exact."""
    dut = CornerTurn((2, 3, 2), (2, 1, 0), WIDTH)
    length = dut.length
    rng = np.random.default_rng(6)
    pieces: list[tuple[np.ndarray, np.ndarray]] = []

    def frame(size: int, last_at: int | None) -> None:
        values = rng.integers(-128, 128, size)
        lasts = np.zeros(size, dtype=np.int64)
        if last_at is not None:
            lasts[last_at] = 1
        pieces.append((values, lasts))

    frame(length, length - 1)  # good
    frame(length // 2, length // 2 - 1)  # early last
    frame(length, length - 1)  # good
    frame(length, None)  # missing last ...
    frame(5, 4)  # ... junk up to the next last
    frame(length, length - 1)  # good
    frame(1, 0)  # early last on the first sample
    frame(length, length - 1)  # good
    samples = np.concatenate([p[0] for p in pieces])
    lasts = np.concatenate([p[1] for p in pieces])
    kept, errors = Framer.model(length, samples, lasts)
    assert (len(kept), errors) == (5, 3)
    run = run_stream(
        dut,
        {"data": samples, "last": lasts},
        ("data", "last"),
        expect=len(kept) * length,
        seed=6,
        p_valid=0.8,
        p_ready=0.6,
        probes={"frame_errors": dut.frame_errors},
        drain=length + dut.latency,
    )
    np.testing.assert_equal(run.column("data").reshape(-1, length), dut.model(np.array(kept)))
    assert run.final["frame_errors"] == errors


# --- Verilog ------------------------------------------------------------------------------------------


def test_verilog_converts_and_passes_lint(tmp_path: Path) -> None:
    text = verilog.convert(CornerTurn((3, 4, 2), (2, 1, 0), WIDTH), name="corner_turn", emit_src=False)
    (tmp_path / "corner_turn.v").write_text(text)
    (tmp_path / "corner_turn.vlt").write_text(waiver_text("corner_turn.v"))
    result = lint(tmp_path / "corner_turn.v", tmp_path / "corner_turn.vlt", "corner_turn")
    assert result.returncode == 0, result.stderr


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize(
    "dims, perm, width, banks, match",
    [
        ((3, 0), (0, 1), 8, 2, "sizes >= 1"),
        ((), (), 8, 2, "sizes >= 1"),
        ((3, 4), (0, 0), 8, 2, "permutation"),
        ((3, 4), (0, 1, 2), 8, 2, "permutation"),
        ((3, 4), (1, 0), 0, 2, "width >= 1"),
        ((3, 4), (1, 0), 8, 3, "power of two"),
    ],
)
def test_refuses_what_it_cannot_build(
    dims: tuple[int, ...], perm: tuple[int, ...], width: int, banks: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        CornerTurn(dims, perm, width, banks=banks)
    gc.collect()
