"""Blocks `hw.map_framer.MapFramer` and `hw.map_framer.FrameMarker`: RTL == their models.

Why: `hw.mixer.ParcMixer` trusts `MapFramer` to turn any input into whole maps, one map out
for every map in, and from then on only counts beats (each inner block's ``last`` comes from
a `FrameMarker`). If the framer got a malformed map wrong, every later map would be out of
step with the mixer's channel and pixel counters.

Checked here:

- `MapFramer.model` on hand-made sequences: well-formed maps, an early ``last`` (the map is
  completed with zeros and counted), a missing ``last`` (the map is counted, and input is
  discarded up to and including the next ``last``), several malformed maps in a row, maps
  of one element, and a tail without ``last`` (never a map).
- The RTL against the model under random bubbles and backpressure: the data, ``last`` on
  element L - 1 of every map and nowhere else, and ``errors``; nothing extra comes out.
- The timing the docstring promises: ``i.ready`` is low while the zeros go out (no input
  is taken and the output runs at one per clock), and high while input is discarded, even
  while the output is stalled.
- Hypothesis over random beat sequences with random ``last`` flags (derandomized: CI always
  draws the same sequences).
- `FrameMarker`: ``last`` set on every ``period``-th transfer (period 1 included), whatever
  the incoming ``last``; data, ``valid`` and ``ready`` pass through combinationally.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pytest
from amaranth_streams import StreamRun, StreamSink, StreamSource, frame_lasts, run_stream, run_streams
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.map_framer import FrameMarker, MapFramer

WIDTH = 8


def random_values(rng: np.random.Generator, count: int) -> list[int]:
    return [int(v) for v in rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), count)]


class Beats:
    """An input sequence built map by map: ``good`` maps, maps cut short, maps without ``last``."""

    def __init__(self, length: int, seed: int) -> None:
        self.length, self.rng = length, np.random.default_rng(seed)
        self.samples: list[int] = []
        self.lasts: list[int] = []

    def piece(self, size: int, last_at: int | None) -> Beats:
        """``size`` random beats, ``last`` on beat ``last_at`` only (None: nowhere)."""
        self.samples += random_values(self.rng, size)
        self.lasts += [int(k == last_at) for k in range(size)]
        return self

    def good(self, count: int = 1) -> Beats:
        for _ in range(count):
            self.piece(self.length, self.length - 1)
        return self

    def early(self, size: int) -> Beats:
        assert 1 <= size < self.length
        return self.piece(size, size - 1)

    def missing(self, junk: int) -> Beats:
        """A map without ``last``, then ``junk`` beats, the last of them with ``last``."""
        return self.piece(self.length, None).piece(junk, junk - 1)


def run_framer(
    length: int,
    samples: list[int],
    lasts: list[int],
    *,
    seed: int = 0,
    p_valid: float = 1.0,
    p_ready: float = 1.0,
    sink: StreamSink | None = None,
    dut: MapFramer | None = None,
) -> tuple[MapFramer, StreamRun, StreamSink]:
    """``MapFramer(length)`` (or ``dut``) fed the beats; collects the model's count of output
    beats, then drains with the sink always ready (anything extra is caught by the compare)."""
    dut = dut if dut is not None else MapFramer(length, WIDTH)
    maps, _ = MapFramer.model(length, samples, lasts)
    rng = np.random.default_rng(seed)
    beats = [{"data": s, "last": t} for s, t in zip(samples, lasts, strict=True)]
    source = StreamSource(dut.i, beats, rng, p_valid, name="MapFramer.i")
    sink = sink if sink is not None else StreamSink(dut.o, rng, p_ready, name="MapFramer.o")
    run = run_streams(
        dut,
        [source],
        {sink: len(maps) * length},
        probes={"errors": dut.errors, "i_ready": dut.i.ready},
        drain=2 * length + 4,
    )
    run.in_cycles, run.out_cycles = source.sent_cycles, sink.cycles
    return dut, run, sink


def check_against_model(length: int, samples: list[int], lasts: list[int], run: StreamRun, sink: StreamSink) -> None:
    maps, errors = MapFramer.model(length, samples, lasts)
    want = np.array(maps, dtype=np.int64).reshape(-1)
    np.testing.assert_equal(sink.column("data"), want, err_msg=f"MapFramer({length}): data differ from the model")
    np.testing.assert_equal(sink.column("last"), frame_lasts(want.size, length), err_msg=f"MapFramer({length}): last")
    assert run.final["errors"] == errors, f"MapFramer({length}): errors = {run.final['errors']}, model says {errors}"


# --- the models -----------------------------------------------------------------------------------


def test_model_passes_well_formed_maps() -> None:
    b = Beats(4, 0).good(3)
    maps, errors = MapFramer.model(4, b.samples, b.lasts)
    assert maps == [b.samples[0:4], b.samples[4:8], b.samples[8:12]]
    assert errors == 0


def test_model_completes_a_short_map_with_zeros() -> None:
    b = Beats(5, 1).good().early(2).good()
    maps, errors = MapFramer.model(5, b.samples, b.lasts)
    assert maps == [b.samples[0:5], b.samples[5:7] + [0, 0, 0], b.samples[7:12]]
    assert errors == 1


def test_model_resyncs_after_a_missing_last() -> None:
    """The L beats without ``last`` are a map; the beats after them up to and including the
    next ``last`` are dropped; the map after that is whole again."""
    b = Beats(4, 2).missing(3).good()
    maps, errors = MapFramer.model(4, b.samples, b.lasts)
    assert maps == [b.samples[0:4], b.samples[7:11]]
    assert errors == 1


def test_model_several_malformed_maps_in_a_row() -> None:
    b = Beats(4, 3).early(1).early(3).missing(1).missing(6).early(2).good()
    s = b.samples
    maps, errors = MapFramer.model(4, s, b.lasts)
    assert (
        maps
        == [
            [s[0], 0, 0, 0],
            s[1:4] + [0],
            s[4:8],  # missing last; s[8] (junk with last) dropped
            s[9:13],  # missing last; s[13:19] dropped
            s[19:21] + [0, 0],
            s[21:25],
        ]
    )
    assert errors == 5


def test_model_maps_of_one_element() -> None:
    """L = 1: every beat with ``last`` is a map; one without is a map with a missing ``last``,
    and the beats after it are dropped up to and including the next ``last``."""
    maps, errors = MapFramer.model(1, [5, 6, 7, 8, 9, 10], [1, 0, 0, 1, 1, 1])
    assert maps == [[5], [6], [9], [10]]
    assert errors == 1


def test_model_ignores_an_unfinished_tail() -> None:
    maps, errors = MapFramer.model(4, [1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 0, 0])
    assert (maps, errors) == ([[1, 2, 3, 4]], 0)


def test_frame_marker_model() -> None:
    assert FrameMarker.model(7, 3) == [0, 0, 1, 0, 0, 1, 0]
    assert FrameMarker.model(3, 1) == [1, 1, 1]


# --- the RTL ----------------------------------------------------------------------------------------


def malformed_mix(length: int, seed: int) -> Beats:
    b = Beats(length, seed).good(2)
    if length > 1:
        b.early(1).early(length - 1).good().early(max(length // 2, 1))
    return b.missing(3).good().missing(1).missing(length + 2).good(2)


@pytest.mark.parametrize(
    "length, malformed, p_valid, p_ready, seed",
    [
        (6, False, 1.0, 1.0, 1),
        (6, False, 0.6, 0.5, 2),
        (6, True, 0.7, 0.6, 3),
        (6, True, 1.0, 0.4, 4),
        (1, False, 0.7, 0.7, 5),
        (1, True, 0.8, 0.5, 6),
        (2, True, 0.5, 0.8, 7),
    ],
)
def test_rtl_equals_model(length: int, malformed: bool, p_valid: float, p_ready: float, seed: int) -> None:
    b = malformed_mix(length, seed) if malformed else Beats(length, seed).good(8)
    _, run, sink = run_framer(length, b.samples, b.lasts, seed=seed, p_valid=p_valid, p_ready=p_ready)
    check_against_model(length, b.samples, b.lasts, run, sink)
    if malformed:
        assert run.final["errors"] > 0, "test setup: no malformed map"


def test_input_waits_while_the_zeros_go_out() -> None:
    """No bubbles, no backpressure: after an early ``last`` on element k, the L - 1 - k zeros
    leave one per clock with ``i.ready`` low, and the next map's first beat is taken in the
    cycle after the last zero; everything else streams at one beat per clock."""
    length, k = 6, 1
    b = Beats(length, 8).good().early(k + 1).good()
    _, run, sink = run_framer(length, b.samples, b.lasts)
    check_against_model(length, b.samples, b.lasts, run, sink)
    zeros = length - 1 - k
    early = length + k  # the beat with the early last, taken in cycle `early`
    assert run.in_cycles == [*range(early + 1), *range(early + 1 + zeros, len(b.samples) + zeros)]
    assert run.out_cycles == list(range(3 * length)), "output stalled"
    assert run.trace["i_ready"][early + 1 : early + 1 + zeros] == [0] * zeros, "i.ready while padding"
    assert run.trace["i_ready"][early + 1 + zeros] == 1


class SinkStalled(StreamSink):
    """Ready in every cycle except ``stalled`` (a range)."""

    def __init__(self, stream: Any, stalled: range) -> None:
        super().__init__(stream, name="MapFramer.o")
        self.stalled = stalled
        self._cycle = 0

    def drive(self, ctx: Any, always: bool = False) -> None:
        self._ready = always or self._cycle not in self.stalled
        ctx.set(self.stream.ready, self._ready)

    def observe(self, ctx: Any, cycle: int) -> None:
        super().observe(ctx, cycle)
        self._cycle = cycle + 1


def test_discarded_input_is_taken_even_while_the_output_stalls() -> None:
    """After a map without ``last``, the junk up to and including the next ``last`` is taken
    one beat per clock although the output is stalled; the next map waits for the output."""
    length, junk, resume = 5, 4, 20
    b = Beats(length, 9).missing(junk).good()
    dut = MapFramer(length, WIDTH)
    _, run, sink = run_framer(length, b.samples, b.lasts, sink=SinkStalled(dut.o, range(length, resume)), dut=dut)
    check_against_model(length, b.samples, b.lasts, run, sink)
    taken = length + junk
    assert run.in_cycles[:taken] == list(range(taken)), "junk not taken while the output stalls"
    assert run.in_cycles[taken:] == list(range(resume, resume + length))
    assert run.out_cycles == [*range(length), *range(resume, resume + length)]


def test_errors_count_in_the_cycle_after_the_beat() -> None:
    """The malformed map is counted in the cycle after the beat that shows it (as
    `hw.framer.Framer` counts): ``errors`` reads 1 from two cycles after that beat on."""
    length = 4
    b = Beats(length, 10).good().early(2).good()
    _, run, _ = run_framer(length, b.samples, b.lasts)
    errors = run.trace["errors"]
    early = length + 1  # cycle of the early last's transfer
    assert errors[: early + 2] == [0] * (early + 2), f"errors by cycle: {errors}"
    assert errors[early + 2 :] == [1] * (len(errors) - early - 2), f"errors by cycle: {errors}"


@st.composite
def beat_sequences(draw: st.DrawFn) -> tuple[int, list[int], list[int], int]:
    """A map length, random beats with a ``last`` on each with probability 1/length or so,
    then one well-formed map (so that the sequence ends between maps), and a seed."""
    length = draw(st.integers(1, 5))
    count = draw(st.integers(0, 4 * length + 4))
    lasts = draw(st.lists(st.integers(0, length), min_size=count, max_size=count))
    flags = [int(x == 0) for x in lasts] + [0] * (length - 1) + [1]
    samples = random_values(np.random.default_rng(count), len(flags))
    return length, samples, flags, draw(st.integers(0, 2**16))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(beat_sequences())
def test_rtl_equals_model_on_random_sequences(case: tuple[int, list[int], list[int], int]) -> None:
    length, samples, lasts, seed = case
    _, run, sink = run_framer(length, samples, lasts, seed=seed, p_valid=0.7, p_ready=0.6)
    check_against_model(length, samples, lasts, run, sink)


# --- FrameMarker -------------------------------------------------------------------------------------


@pytest.mark.parametrize("period, seed", [(1, 1), (3, 2), (7, 3)])
def test_frame_marker_marks_every_period(period: int, seed: int) -> None:
    """``last`` on every ``period``-th transfer whatever comes in (here: random ``last``);
    data unchanged; ``o.valid`` is ``i.valid`` and ``i.ready`` is ``o.ready`` in every cycle."""
    dut = FrameMarker(period, WIDTH)
    rng = np.random.default_rng(seed)
    count = 5 * period + 2
    data = rng.integers(-128, 128, count)
    run = run_stream(
        dut,
        {"data": data, "last": rng.integers(0, 2, count)},
        ("data", "last"),
        expect=count,
        seed=seed,
        p_valid=0.7,
        p_ready=0.6,
        drain=4,
        probes={"i_valid": dut.i.valid, "o_valid": dut.o.valid, "i_ready": dut.i.ready, "o_ready": dut.o.ready},
    )
    np.testing.assert_equal(run.column("data"), data)
    assert list(run.column("last")) == FrameMarker.model(count, period)
    assert run.trace["o_valid"] == run.trace["i_valid"], "o.valid is not i.valid"
    assert run.trace["i_ready"] == run.trace["o_ready"], "i.ready is not o.ready"
    assert run.in_cycles == run.out_cycles, "a beat did not pass in its own cycle"


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize("block", [MapFramer, FrameMarker])
def test_refuses_an_empty_frame(block: type) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        block(0, WIDTH)
    gc.collect()
