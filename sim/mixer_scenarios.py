"""Stimulus and expected output for the token mixer's cocotb bench, from the golden models.

`sim.scenarios` does this for a 1-D engine, whose frames are rows of N; the mixer's frame is
a whole C×H×W map streamed channels last (`golden.mixer.to_hwc_stream`, ``last`` on the
map's final element), so its scenarios are built from maps. The same bench
(`sim.tb_engine`) drives them: it works at beat level and only needs the beats, their
``last`` flags, the expected beats and the expected ``frame_errors``.

Expected outputs come from the integer mixer `golden.mixer.build_engine` for the engine
that was built (direct, or each half's FFT implementation), and malformed maps from
`hw.map_framer.MapFramer.model`, the rule the hardware promises, so the bench never does
arithmetic of its own.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from golden.mixer import Direction, HalfEngine, MixerEngine, build_engine, from_hwc_stream, quantize_map, to_hwc_stream
from hw.map_framer import MapFramer
from hw.mixer_design import DIRECTIONS, MixerDesign
from sim.scenarios import Scenario, reset_scenario

__all__ = ["TLAST_KINDS", "golden_engine", "reset_mid_map", "stimulus_maps", "stream", "tlast_errors"]

TLAST_KINDS = ("early", "missing", "good")  # a short map, an overlong one, and a good one to show resync
EXTREME_FRACTION = 0.01  # Gaussian stimulus: elements set to full scale, so saturation is exercised


def golden_engine(design: MixerDesign) -> MixerEngine:
    """The integer mixer the hardware must equal: ``build_engine`` with the kind that was built.

    Direct is "direct". For FFT each half's engine may differ (native where its N factors,
    padded otherwise, and the user's FFT options): when both halves are the same kind with the
    default options, ``build_engine`` plans them itself (an independent plan); otherwise each
    half runs the plan its hardware engine holds, as `golden.mixer.MixerEngine` would."""
    qm = design.mixer
    if design.spec.arch == "direct":
        return build_engine(qm, "direct")
    impls = {d: str(design.halves[d].arch_info["fft_impl"]) for d in DIRECTIONS}
    custom = set(design.spec.options) - {"fft_impl"}
    if len(set(impls.values())) == 1 and not custom:
        return build_engine(qm, f"fft-{impls['H']}")

    def half(d: Direction) -> HalfEngine:
        return HalfEngine(d, f"fft-{impls[d]}", qm.half(d), design.halves[d].engine.plan)

    return MixerEngine(qm, half("H"), half("W"))


def _real_maps(design: MixerDesign, test: NDArray | None) -> NDArray | None:
    """Float maps of real activations: ``test`` if given, else the design's calibration maps."""
    if test is not None:
        return np.asarray(test, dtype=np.float64).reshape(-1, *design.mixer.shape)
    if design.spec.calibration is not None:
        return np.load(design.spec.calibration, allow_pickle=False).astype(np.float64).reshape(-1, *design.mixer.shape)
    return None


def stimulus_maps(
    design: MixerDesign, maps: int, rng: np.random.Generator, test: NDArray | None = None
) -> NDArray[np.int64]:
    """Input integer maps (maps, C, H, W).

    Real activations when there are some (``test`` float maps, else ``spec.calibration``),
    quantized as the hardware's driver must (`golden.mixer.quantize_map`), because a trained
    network's maps have the structure (flat background, sparse strokes) that synthetic data
    lacks. Otherwise Gaussian maps at a quarter of full scale, with `EXTREME_FRACTION` of the
    elements at full scale so that the outputs saturate somewhere."""
    qm = design.mixer
    real = _real_maps(design, test)
    if real is not None:
        picks = rng.integers(0, real.shape[0], size=maps)
        xi, _ = quantize_map(qm, real[picks])
        return xi.astype(np.int64)
    fmt = qm.data
    shape = (maps, *qm.shape)
    x = np.clip(np.round(rng.normal(0, 2 ** (fmt.bits - 3), size=shape)), fmt.min_int, fmt.max_int)
    extreme = rng.random(shape) < EXTREME_FRACTION
    x[extreme] = rng.choice([fmt.min_int, fmt.max_int], size=int(extreme.sum()))
    return x.astype(np.int64)


def _beats(maps: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Maps (M, C, H, W) as HWC beats, ``last`` on each map's final element."""
    flat = to_hwc_stream(maps).reshape(len(maps), -1)
    lasts = np.zeros(flat.shape, dtype=bool)
    lasts[:, -1] = True
    return flat.reshape(-1).astype(np.int64), lasts.reshape(-1)


def expected_beats(engine: MixerEngine, maps: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The golden output beats of input maps (M, C, H, W)."""
    return _beats(engine.model(maps).astype(np.int64))


def stream(design: MixerDesign, maps: int, seed: int, test: NDArray | None = None) -> Scenario:
    """``maps`` whole maps back to back."""
    x = stimulus_maps(design, maps, np.random.default_rng(seed), test)
    d_in, l_in = _beats(x)
    d_out, l_out = expected_beats(golden_engine(design), x)
    return Scenario("stream", d_in, l_in, d_out, l_out)


def reset_mid_map(design: MixerDesign, seed: int, test: NDArray | None = None, before: int | None = None) -> Scenario:
    """``before`` maps, a reset strictly inside the last of them, then one map from scratch.

    The cut falls in the last quarter of map ``before - 1``, at input beat (before - 1/4)·L or
    later. The first map's output starts ``latency_maps`` map times after its input and takes
    at least a map time, so with ``before`` >= latency_maps + 1.25 (the default, at least 2)
    it has left the design by the cut: the bench's check of the outputs before the reset
    then compares a whole map, not only an empty prefix, and the reset hits a design with
    maps in flight and output under way. The bench sends input up to the end of the map the
    cut falls in, resets when the design has taken ``reset_after`` beats, and sends the map
    after from ``resume_in``."""
    if before is None:
        before = max(2, math.ceil(design.engine.latency_maps + 1.25))
    if before < 1:
        raise ValueError(f"reset_mid_map needs before >= 1 maps; got {before}")
    length = design.engine.length
    if length < 2:
        raise ValueError("a reset strictly inside a map needs maps of at least 2 elements")
    rng = np.random.default_rng(seed + 1)
    x_before = stimulus_maps(design, before, rng, test)
    x_after = stimulus_maps(design, 1, rng, test)
    start = (before - 1) * length
    cut = int(rng.integers(start + max(1, 3 * length // 4), start + length))
    engine = golden_engine(design)
    return reset_scenario(
        (_beats(x_before), expected_beats(engine, x_before)),
        (_beats(x_after), expected_beats(engine, x_after)),
        cut,
    )


def tlast_errors(
    design: MixerDesign, seed: int, test: NDArray | None = None, kinds: tuple[str, ...] = TLAST_KINDS
) -> Scenario:
    """Malformed maps among good ones, one per entry of ``kinds``.

    "early": ``last`` on a random element before the map's end (the design completes the map
    with zeros); "missing": no ``last`` on the map's final element and 1-3 stray beats after it,
    the last of them with ``last`` (the design keeps the map and discards the strays); "good":
    a whole map. What the design processes and how many errors it counts come from
    `MapFramer.model`, the expected output from the golden mixer on those maps."""
    unknown = set(kinds) - {"early", "missing", "good"}
    if unknown:
        raise ValueError(f"unknown tlast kinds {sorted(unknown)}")
    rng = np.random.default_rng(seed + 2)
    length = design.engine.length
    flat = to_hwc_stream(stimulus_maps(design, len(kinds), rng, test)).reshape(len(kinds), -1)
    data, lasts = [], []
    for kind, beats in zip(kinds, flat, strict=True):
        if kind == "early":
            cut = int(rng.integers(1, length)) if length > 1 else 1
            beats = beats[:cut]
        elif kind == "missing":
            beats = np.concatenate([beats, rng.integers(-3, 3, size=int(rng.integers(1, 4)))])
        data.append(beats)
        lasts.append(np.arange(len(beats)) == len(beats) - 1)
    d_in, l_in = np.concatenate(data).astype(np.int64), np.concatenate(lasts)
    kept, errors = MapFramer.model(length, d_in, l_in)
    qm = design.mixer
    maps = from_hwc_stream(np.array(kept, dtype=np.int64), qm.channels, qm.height, qm.width)
    d_out, l_out = expected_beats(golden_engine(design), maps)
    return Scenario("tlast", d_in, l_in, d_out, l_out, frame_errors=errors)
