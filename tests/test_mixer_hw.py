"""`hw.mixer.ParcMixer` (the ParC-ConvNeXt token mixer on HWC-streamed maps) against `golden.mixer`.

Why: the mixer is where the 1-D engines meet whole feature maps. Its own logic (map framing,
the channel split and merge, four corner turns, the re-marked ``last`` of every inner block)
computes nothing, so any mistake in it shows up as misplaced samples: a bit-exact compare with
`golden.mixer.build_engine(qm, kind).model` on whole maps is the test that matters.

Checked here, on small maps so that each simulation takes seconds:

- bit-exact against the golden mixer for the direct, native FFT and padded FFT engines,
  several maps back to back with random input bubbles and output backpressure; the default
  split, a non-default one and the smallest mixer (C = 2: one channel per half); ``last``
  on every map's final element and nowhere else; ``saturations`` equal to the golden count
  of saturated outputs (a test with many of them), ``frame_errors`` 0 on well-formed maps;
- timing with no bubbles and no backpressure: the direct engines' first output exactly
  `ParcMixer.latency` cycles after the first input, the FFT engines' no later; then one
  element per clock in and out (direct, native); the padded engine's maps leave one per
  ``L / elements_per_clock`` cycles in steady state, the rate `elements_per_clock` promises;
- recovery: a reset in the middle of a map (the rest of that map is an early ``last``, a
  zero-completed map) and malformed maps (early and missing ``last``): the output is the
  golden mixer of the maps `hw.map_framer.MapFramer.model` lists, ``frame_errors`` its count;
- structure: the ``overflow`` port only with an FFT engine; constructor errors; `memory()`
  (each turn's words are banks × 2^ceil(log2 frame), the sum is ``ram_bits``); the Verilog
  passes the repo's lint.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import ResetInserter, Signal
from amaranth.lib import wiring
from amaranth_streams import StreamRun, StreamSink, StreamSource, frame_lasts, run_stream, run_streams
from numpy.typing import NDArray

from golden.mixer import MixerEngine, QuantizedMixer, build_engine, from_hwc_stream, quantize_mixer, random_mixer
from golden.mixer import to_hwc_stream as hwc
from golden.quant import QuantizedLayer
from hw.design import ARCHITECTURES, DesignSpec
from hw.direct import DirectEngine
from hw.lint import lint, waiver_text
from hw.map_framer import MapFramer
from hw.mixer import ParcMixer

BITS = 8


@dataclass(frozen=True)
class Case:
    kind: str  # golden.mixer.ENGINES, resolved: direct, fft-native, fft-padded
    channels: int
    height: int
    width: int
    split: int | None = None  # None: golden.mixer.default_split

    def __str__(self) -> str:
        return f"{self.kind}-c{self.channels}h{self.height}w{self.width}s{self.split}"


DIRECT = Case("direct", 4, 5, 6)
DIRECT_SPLIT = Case("direct", 4, 6, 5, split=1)  # non-default split, H > W
DIRECT_TWO = Case("direct", 2, 4, 3)  # one channel per half
NATIVE = Case("fft-native", 4, 7, 12)
NATIVE_SQUARE = Case("fft-native", 4, 7, 7)  # the timing test's: 0.6 of NATIVE's simulation
NATIVE_TWO = Case("fft-native", 2, 7, 12)  # one channel per half: a native half slower than 1/clock
PADDED = Case("fft-padded", 3, 5, 6, split=1)


def engine(kind: str, layer: QuantizedLayer) -> wiring.Component:
    """The 1-D engine ``hw.design`` builds for one half (as `golden.mixer.build_engine` resolves it)."""
    if kind == "direct":
        return DirectEngine(layer)
    impl = kind.removeprefix("fft-")
    built, _ = ARCHITECTURES["fft"](DesignSpec(arch="fft", n=layer.fmt.n, options={"fft_impl": impl}), layer)
    return built


def quantized(case: Case, seed: int = 1, bits: int = BITS, **quantize_kwargs: Any) -> QuantizedMixer:
    """The case's seeded random mixer, calibrated on normal maps (std 1), ``bits`` wide."""
    mixer = random_mixer(case.channels, case.height, case.width, split=case.split, seed=seed)
    calibration = np.random.default_rng(seed).normal(size=(4, *mixer.shape))
    return quantize_mixer(mixer, bits, calibration=calibration, **quantize_kwargs)


def build(case: Case, **kwargs: Any) -> tuple[ParcMixer, MixerEngine]:
    qm = quantized(case, **kwargs)
    mx = ParcMixer(engine(case.kind, qm.h), engine(case.kind, qm.w), case.height, case.width)
    return mx, build_engine(qm, case.kind)


def random_maps(count: int, shape: tuple[int, ...], seed: int) -> NDArray[np.int64]:
    return np.random.default_rng(seed).integers(-(1 << (BITS - 1)), 1 << (BITS - 1), (count, *shape))


def probes(mx: ParcMixer) -> dict[str, Any]:
    status = {"frame_errors": mx.frame_errors, "saturations": mx.saturations}
    if mx.has_overflow:
        status["overflow"] = mx.overflow
    return status


def run_maps(mx: ParcMixer, maps: NDArray[np.int64], seed: int, p_valid: float, p_ready: float) -> StreamRun:
    """Whole maps in, HWC order, ``last`` on each map's final element; as many elements out."""
    flat = hwc(maps).reshape(-1)
    return run_stream(
        mx,
        {"data": flat, "last": frame_lasts(flat.size, mx.length)},
        ("data", "last"),
        expect=flat.size,
        seed=seed,
        p_valid=p_valid,
        p_ready=p_ready,
        probes=probes(mx),
        drain=min(mx.length, 100),  # anything extra that is under way comes out here
    )


def check_output(mx: ParcMixer, golden: MixerEngine, maps: NDArray[np.int64], run: StreamRun, what: str) -> None:
    """Output == the golden mixer of ``maps``, ``last`` per map, saturations counted alike."""
    want, saturated = golden.run(maps)
    np.testing.assert_equal(run.column("data"), hwc(want).reshape(-1), err_msg=f"{what}: data differ from golden")
    np.testing.assert_equal(run.column("last"), frame_lasts(want.size, mx.length), err_msg=f"{what}: last")
    assert run.final["saturations"] == int(saturated.sum()), f"{what}: saturations"


# --- bit-exact ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, count, p_valid, p_ready",
    [
        (DIRECT, 3, 0.7, 0.6),
        (DIRECT_SPLIT, 3, 0.6, 0.8),
        (DIRECT_TWO, 4, 0.8, 0.5),
        (NATIVE, 2, 0.85, 0.8),
        (PADDED, 3, 0.7, 0.6),
    ],
    ids=str,
)
def test_bit_exact_under_bubbles_and_backpressure(case: Case, count: int, p_valid: float, p_ready: float) -> None:
    mx, golden = build(case)
    assert (mx.channels, mx.split) == (case.channels, golden.qm.split)
    maps = random_maps(count, golden.qm.shape, case.channels + case.height)
    run = run_maps(mx, maps, seed=case.width, p_valid=p_valid, p_ready=p_ready)
    check_output(mx, golden, maps, run, str(case))
    assert run.final["frame_errors"] == 0, f"{case}: frame_errors on well-formed maps"
    if mx.has_overflow:
        assert run.final["overflow"] == 0, f"{case}: FFT overflow on in-range input"


def test_saturations_are_counted_as_golden_counts_them() -> None:
    """The output format pinned one bit finer than calibration chose: about half the outputs
    saturate; ``saturations`` is the golden mixer's count of them, both halves together."""
    chosen = quantized(DIRECT).output.frac
    mx, golden = build(DIRECT, output_frac=chosen + 1)
    maps = random_maps(2, golden.qm.shape, 7)
    _, saturated = golden.run(maps)
    assert 0.1 * saturated.size < saturated.sum() < saturated.size, "test setup: saturate some outputs, not all"
    for half in (slice(0, mx.split), slice(mx.split, None)):
        assert saturated[:, half].any(), "test setup: both halves saturate"
    run = run_maps(mx, maps, seed=7, p_valid=0.8, p_ready=0.8)
    check_output(mx, golden, maps, run, "saturating maps")


# --- timing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case, count", [(DIRECT, 4), (DIRECT_SPLIT, 3), (DIRECT_TWO, 4), (NATIVE_SQUARE, 2)], ids=str)
def test_one_element_per_clock(case: Case, count: int) -> None:
    """No bubbles, no backpressure: every input taken in consecutive cycles, the first output
    `latency` cycles after the first input (direct: exactly; FFT: at most, the bound), then
    one output per clock across maps: N maps take latency + N L cycles."""
    mx, golden = build(case)
    assert mx.elements_per_clock == 1.0
    maps = random_maps(count, golden.qm.shape, 11)
    run = run_maps(mx, maps, seed=11, p_valid=1.0, p_ready=1.0)
    check_output(mx, golden, maps, run, str(case))
    elements = count * mx.length
    assert run.in_cycles == list(range(elements)), f"{case}: input stalled"
    first = run.out_cycles[0] - run.in_cycles[0]
    if case.kind == "direct":
        assert first == mx.latency, f"{case}: first output after {first} cycles, latency says {mx.latency}"
    else:
        assert first <= mx.latency, f"{case}: first output after {first} cycles, latency bound {mx.latency}"
    start = run.out_cycles[0]
    assert run.out_cycles == list(range(start, start + elements)), f"{case}: output stalled"


def test_latency_bound_with_a_one_channel_native_half() -> None:
    """`ParcMixer.latency` is an upper bound for FFT engines too, also when a half has one channel."""
    mx, golden = build(NATIVE_TWO)
    maps = random_maps(1, golden.qm.shape, 15)
    run = run_maps(mx, maps, seed=15, p_valid=1.0, p_ready=1.0)
    check_output(mx, golden, maps, run, str(NATIVE_TWO))
    first = run.out_cycles[0] - run.in_cycles[0]
    assert first <= mx.latency, f"{NATIVE_TWO}: first output after {first} cycles, latency bound {mx.latency}"


def test_padded_engine_sustains_elements_per_clock() -> None:
    """The padded FFT takes M > N cycles per line (M/N = 16/6 for the W half): with maps
    offered back to back they leave one per ``L / elements_per_clock`` cycles (160 here: the
    ParC-W half, 2 of 3 channels, limits; its 10 lines of a map take 16 cycles each), neither
    slower nor faster, each map's elements in consecutive cycles, the first no later than
    `latency`."""
    mx, golden = build(PADDED)
    epc = mx.elements_per_clock
    assert epc < 1.0
    count = 3
    maps = random_maps(count, golden.qm.shape, 12)
    run = run_maps(mx, maps, seed=12, p_valid=1.0, p_ready=1.0)
    check_output(mx, golden, maps, run, "padded")
    out = np.array(run.out_cycles).reshape(count, mx.length)
    assert out[0, 0] - run.in_cycles[0] <= mx.latency, "padded: first output later than the latency bound"
    assert (np.diff(out, axis=1) == 1).all(), "padded: a map's elements not in consecutive cycles"
    periods = np.diff(out[:, 0])
    assert (np.abs(periods - mx.length / epc) <= 1).all(), f"padded: map periods {periods}, L/epc = {mx.length / epc}"


# --- recovery --------------------------------------------------------------------------------------


class ResetMidMap(StreamSource):
    """Pulses ``rst`` for one cycle (offering nothing) when beat ``at`` is next, then goes on
    with beat ``at``: the mixer sees the tail of that map after the reset."""

    def __init__(self, stream: Any, beats: list[dict[str, int]], rng: np.random.Generator, *, rst: Signal, at: int):
        super().__init__(stream, beats, rng, 0.8, name="ParcMixer.i")
        self.rst, self.at = rst, at
        self.reset_cycle: int | None = None

    def drive(self, ctx: Any) -> None:
        if self.reset_cycle is None and self._index == self.at and not self._holding:
            ctx.set(self.rst, 1)
            ctx.set(self.stream.valid, 0)
            return
        ctx.set(self.rst, 0)
        super().drive(ctx)

    def observe(self, ctx: Any, cycle: int) -> None:
        if self.reset_cycle is None and self._index == self.at and not self._holding:
            self.reset_cycle = cycle
            return
        super().observe(ctx, cycle)


class SinkAfterReset(StreamSink):
    """Keeps only what it takes after the source's reset cycle."""

    def __init__(self, stream: Any, rng: np.random.Generator, source: ResetMidMap) -> None:
        super().__init__(stream, rng, 0.7, name="ParcMixer.o")
        self.source = source

    def observe(self, ctx: Any, cycle: int) -> None:
        super().observe(ctx, cycle)
        if self.source.reset_cycle == cycle:
            self.payloads.clear()
            self.cycles.clear()


def test_reset_in_mid_map_recovers() -> None:
    """Reset while map 2 streams in and maps 0 and 1 are still inside: the tail of map 2
    is an early ``last`` (one frame error, completed with zeros: its output is the golden
    mixer of that zero-completed map), maps 3 and 4 come out exactly."""
    mx, golden = build(DIRECT)
    length, count, cut = mx.length, 5, 2 * mx.length + 37
    maps = random_maps(count, golden.qm.shape, 13)
    flat = hwc(maps).reshape(-1)
    lasts = frame_lasts(flat.size, length)
    rst = Signal()
    rng = np.random.default_rng(13)
    beats = [{"data": int(v), "last": int(t)} for v, t in zip(flat, lasts, strict=True)]
    source = ResetMidMap(mx.i, beats, rng, rst=rst, at=cut)
    sink = SinkAfterReset(mx.o, rng, source)
    after = MapFramer.model(length, flat[cut:], lasts[cut:])[0]
    run = run_streams(
        ResetInserter(rst)(mx),
        [source],
        {sink: len(after) * length},
        probes=probes(mx),
        drain=length,
        max_cycles=40 * flat.size + 20 * mx.latency,
    )
    assert source.reset_cycle is not None and len(after) == 3
    want_maps = from_hwc_stream(np.array(after), *golden.qm.shape)
    np.testing.assert_equal(want_maps[1:], maps[3:])  # the model: tail + zeros, then maps 3, 4
    run.outputs = {"data": [p["data"] for p in sink.payloads], "last": [p["last"] for p in sink.payloads]}
    check_output(mx, golden, want_maps, run, "after the reset")
    assert run.final["frame_errors"] == 1, "the map cut by the reset is one early last"


def test_malformed_maps_are_completed_or_resynchronised() -> None:
    """Early ``last`` (the map completed with zeros), missing ``last`` (the map kept, input
    dropped up to the next ``last``), one after the other: the output is the golden mixer of
    the maps `MapFramer.model` lists, ``frame_errors`` its count, the maps after are exact."""
    mx, golden = build(DIRECT)
    length = mx.length
    shape = golden.qm.shape
    rng = np.random.default_rng(14)
    good = hwc(random_maps(4, shape, 14))
    pieces: list[tuple[NDArray[np.int64], list[int]]] = []

    def piece(values: NDArray[np.int64], last_at: int | None) -> None:
        pieces.append((values, [int(k == last_at) for k in range(len(values))]))

    junk = rng.integers(-128, 128, 2 * length)
    piece(good[0], length - 1)
    piece(junk[:50], 49)  # early last
    piece(good[1], None)  # missing last ...
    piece(junk[50:57], 6)  # ... input dropped up to the next last
    piece(junk[60:61], 0)  # early last on the first element
    piece(good[2], length - 1)
    piece(good[3], length - 1)
    samples = np.concatenate([p[0] for p in pieces])
    lasts = [t for p in pieces for t in p[1]]
    kept, errors = MapFramer.model(length, samples, lasts)
    assert (len(kept), errors) == (6, 3)
    kept_maps = from_hwc_stream(np.array(kept), *shape)
    run = run_stream(
        mx,
        {"data": samples, "last": lasts},
        ("data", "last"),
        expect=len(kept) * length,
        seed=14,
        p_valid=0.8,
        p_ready=0.7,
        probes=probes(mx),
        drain=length,
    )
    check_output(mx, golden, kept_maps, run, "malformed maps")
    assert run.final["frame_errors"] == errors


# --- structure ---------------------------------------------------------------------------------------


def unused(*blocks: Any) -> None:
    """Blocks built for their properties only (never elaborated): no unused warning."""
    for block in blocks:
        block._MustUse__silence = True
        if isinstance(block, ParcMixer):
            unused(block.h_engine, block.w_engine, *block.turns.values())


def built_for_properties(case: Case, **kwargs: Any) -> ParcMixer:
    mx, _ = build(case, **kwargs)
    unused(mx)
    return mx


def test_overflow_port_only_with_an_fft_engine() -> None:
    direct, native, padded = (built_for_properties(c) for c in (DIRECT, NATIVE, PADDED))
    assert "overflow" not in direct.signature.members and not direct.has_overflow
    for mx in (native, padded):
        assert "overflow" in mx.signature.members and mx.has_overflow
    qm = quantized(NATIVE)
    mixed = ParcMixer(DirectEngine(qm.h), engine("fft-native", qm.w), NATIVE.height, NATIVE.width)
    unused(mixed)
    assert "overflow" in mixed.signature.members, "an FFT engine in one half: the port is there"


@pytest.mark.parametrize("case", [DIRECT, DIRECT_TWO, PADDED], ids=str)
def test_memory_manifest(case: Case) -> None:
    """Each turn: banks × 2^ceil(log2 frame) words of the data (in) or output width; the total
    is ``ram_bits``; the H half holds whole maps of its channels, the W half image rows."""
    mx = built_for_properties(case)
    ch, cw, h, w = mx.split, mx.w_channels, case.height, case.width
    memory = mx.memory()
    turns = memory["corner_turns"]
    expected = {  # name: (frame elements, banks, width)
        "h_in": (h * w * ch, 2, mx.in_bits),
        "h_out": (h * w * ch, 2, mx.out_bits),
        "w_in": (w * cw, 2, mx.in_bits),
        "w_out": (w * cw, mx.w_banks, mx.out_bits),
    }
    assert set(turns) == set(expected)
    for name, (frame, banks, width) in expected.items():
        turn = turns[name]
        assert math.prod(turn["frame"]) == frame and turn["banks"] == banks, name
        assert turn["words"] == banks * (1 << math.ceil(math.log2(frame))), name
        assert (turn["width"], turn["bits"]) == (width, turn["words"] * width), name
    assert memory["total_bits"] == mx.ram_bits == sum(t["bits"] for t in turns.values())
    assert mx.w_banks >= mx.w_banks_needed and mx.w_banks & (mx.w_banks - 1) == 0


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")  # the half-built mixers
def test_refuses_mismatched_engines() -> None:
    qm = quantized(DIRECT)
    h, w = DirectEngine(qm.h), DirectEngine(qm.w)
    unused(h, w)
    with pytest.raises(ValueError, match="N = H"):
        ParcMixer(h, w, DIRECT.height, DIRECT.width + 1)
    with pytest.raises(ValueError, match="N = H"):
        ParcMixer(w, h, DIRECT.height, DIRECT.width)  # halves swapped (H != W)
    wide_in = quantized(DIRECT, bits=BITS + 2)
    wide_out = quantized(DIRECT, output_bits=BITS + 4)
    for other in (wide_in, wide_out):
        w_other = DirectEngine(other.w)
        unused(w_other)
        with pytest.raises(ValueError, match="share the input width and the output width"):
            ParcMixer(h, w_other, DIRECT.height, DIRECT.width)
    gc.collect()  # their warnings here, where they are filtered


def test_verilog_converts_and_passes_lint(tmp_path: Path) -> None:
    mx, _ = build(DIRECT_TWO)
    text = verilog.convert(mx, name="parc_mixer", emit_src=False)
    (tmp_path / "parc_mixer.v").write_text(text)
    (tmp_path / "parc_mixer.vlt").write_text(waiver_text("parc_mixer.v"))
    result = lint(tmp_path / "parc_mixer.v", tmp_path / "parc_mixer.vlt", "parc_mixer")
    assert result.returncode == 0, result.stderr
