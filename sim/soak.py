"""``python -m sim.soak``: random configurations through the batch Verilator driver, every sample checked.

Example::

    python -m sim.soak --samples 10000000 --seed 1               # the acceptance run (docs/soak.md)
    python -m sim.soak --samples 10000000 --seed 1 --case 17     # case 17 of that run, alone
    python -m sim.soak --samples 20000 --seed 3 --max-n 16 --list  # the plan only, no simulation

The cocotb bench (`sim.run`) checks chosen scenarios; the soak looks for what nobody thought
of. Each *case* is one generated design drawn at random — arch (direct, fft native, fft
padded), N in 2..130, bits 4..24, channels 1..8, P for the direct engine, target, sometimes an
FFT option, random or extreme weights — and several *segments* of input rows, each with its
own random data (full-scale runs included), input bubbles and output backpressure
(probabilities in [0, 0.99]). Every segment goes through `sim.batch.run_batch` and every
output sample and tlast flag is compared with the integer golden model
(`sim.scenarios.expected_frames`, i.e. ``design.engine.model``).

Reproducible: a case's design and stimulus depend only on ``--seed``, its index and
``--max-n``; how many samples it gets depends also on ``--samples`` and ``--cases`` (the budget
is shared out so that every segment costs about the same simulated time). A failing case
prints the one command that reruns exactly that case (``--case I``).

Progress goes to stderr; the last line on stdout is JSON: ``samples, mismatches, cases,
failures, seconds, samples_per_s, seed, ...``. Exit status: 0 no mismatch, 1 any mismatch or
failure, 2 bad options. From Python: ``soak(samples, seed, ...) -> SoakResult``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from golden.bundle import RANDOM_WEIGHTS
from golden.cli import Parser, UserError, one_line, run
from golden.fast_parc_int import FFT_OPTION_RANGES, FFT_SIZE_FACTOR, fft_size
from golden.native_fft import plan_native
from golden.pfa import supported
from golden.quant import (
    MAX_N,
    MIN_N,
    OUTPUT_SCALES,
    PE_OFFSETS,
    SUPPORTED_BITS,
    bias_share_bits,
    exact_acc_bits,
    quantize_layer,
    random_layer,
)
from hw.design import OVERFLOWS, ROUNDINGS, WEIGHT_SCALES, Design, DesignSpec, build_design
from hw.target import TARGETS
from sim.batch import build_batch, run_batch
from sim.scenarios import expected_frames

DEFAULT_SAMPLES = 1_000_000
DEFAULT_MAX_N = 130  # the range; --max-n up to the generator's MAX_N
MAX_CHANNELS = 8
MAX_CASES = 32  # default --cases: one per SAMPLES_PER_CASE, at most this (builds take 10-70 s each)
SAMPLES_PER_CASE = 300_000
MAX_STRESS = 0.99  # bubble/backpressure probabilities are drawn from [0, 0.99]: at 1.0 nothing ever moves
# `run_batch` stops a run after `expected * 64 + 100_000` cycles (its hang guard). A segment is cut
# into calls short enough that even a pessimistic cycle count stays far inside that guard.
GUARD_CYCLES_PER_SAMPLE = 64
GUARD_ROOM = 80_000
MAX_CALL_SAMPLES = 400_000  # per run_batch call: bounded memory and regular progress
WEIGHT_ATTEMPTS = 6  # weight sets drawn before falling back to plain random weights
INTERESTING_N = (2, 3, 4, 5, 7, 8, 9, 14, 15, 16, 17, 28, 31, 32, 33, 56, 63, 64, 65, 120, 127, 128, 129, 130)
NATIVE_OPTION_RANGES = {"spectrum_bits": (8, 27), "guard_bits": (0, 16), "input_shift": (0, 8)}


# --- the plan: what each case is, drawn from (seed, index) only -------------------------------


@dataclass(frozen=True)
class Segment:
    """One stretch of input rows with its own data and flow control."""

    frames: int  # rows of N samples (channel = row % C, from channel 0 after each reset)
    bubble: float  # probability of an idle input cycle
    backpressure: float  # probability that m_axis_tready is low
    seed: int  # data and the batch driver's flow-control RNG


@dataclass(frozen=True)
class CaseConfig:
    """One generated design and the segments streamed through it."""

    index: int
    arch: str  # "direct" or "fft"
    fft_impl: str | None  # "native" or "padded" for fft
    n: int
    bits: int
    channels: int
    parallel: int | None  # direct engine only
    target: str
    options: dict[str, int]  # one FFT option sometimes (dropped if the generator refuses it)
    segments: tuple[Segment, ...]
    # precision settings (issue 15), `DesignSpec` fields: weight_bits, out_bits, out_scale,
    # pe_offset; drawn from a stream of their own so the rest of a case is what it always was
    precision: dict[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return sum(s.frames for s in self.segments) * self.n

    @property
    def granule(self) -> int:
        """Frames a run must be a multiple of: whole rows of C for the native engine, which
        holds channel 2p's frame until channel 2p + 1's arrives; one frame otherwise."""
        return self.channels if self.fft_impl == "native" else 1

    @property
    def engine_cycles_per_sample(self) -> float:
        """The engine's own rate without stalls (direct: ceil(N/P); padded: M/N; native 1)."""
        if self.arch == "direct":
            return float(math.ceil(self.n / (self.parallel or self.n)))
        if self.fft_impl == "padded":
            return self.options.get("fft_size", fft_size(self.n)) / self.n
        return 1.0

    def describe(self) -> str:
        arch = self.arch if self.fft_impl is None else f"fft-{self.fft_impl}"
        extra = f" P={self.parallel}" if self.parallel is not None else ""
        extra += "".join(f" {k}={v}" for k, v in self.options.items())
        extra += "".join(f" {k}={v}" for k, v in self.precision.items())
        return f"{arch} N={self.n} bits={self.bits} C={self.channels}{extra} {self.target}"

    def to_dict(self) -> dict:
        return asdict(self)


def _stress(rng: np.random.Generator) -> float:
    """A bubble or backpressure probability: none, light, heavy or extreme (up to 0.99)."""
    u = rng.random()
    if u < 0.2:
        return 0.0
    lo, hi = (0.0, 0.5) if u < 0.6 else (0.5, 0.9) if u < 0.85 else (0.9, MAX_STRESS)
    return round(float(rng.uniform(lo, hi)), 4)


def _pessimistic_cycles(cps: float, bubble: float, backpressure: float) -> float:
    """Cycles per sample, at most: engine rate, input and output waits added (they overlap in practice)."""
    return cps + 1 / (1 - bubble) + 1 / (1 - backpressure)


def _call_frames(config: CaseConfig, segment: Segment) -> int:
    """Frames per run_batch call: short enough for its hang guard even at the pessimistic rate."""
    cost = _pessimistic_cycles(config.engine_cycles_per_sample, segment.bubble, segment.backpressure)
    limit = MAX_CALL_SAMPLES
    if cost > GUARD_CYCLES_PER_SAMPLE:
        limit = min(limit, int(GUARD_ROOM / (cost - GUARD_CYCLES_PER_SAMPLE)))
    g = config.granule
    return max(g, limit // config.n // g * g)


def _guard_fits(cps: float, n: int, granule: int, bubble: float, backpressure: float) -> bool:
    cost = _pessimistic_cycles(cps, bubble, backpressure)
    return granule * n * (cost - GUARD_CYCLES_PER_SAMPLE) <= GUARD_ROOM


def draw_case(seed: int, index: int, max_n: int = DEFAULT_MAX_N) -> CaseConfig:
    """Case ``index`` of ``seed``: its design and its segments' flow control (frames still 0;
    `plan` shares out the samples). Depends on nothing else, so ``--case I`` draws the same."""
    rng = np.random.default_rng([seed, index, 0])
    u = rng.random()
    arch, impl = ("direct", None) if u < 0.4 else ("fft", "native") if u < 0.7 else ("fft", "padded")
    native_ns = [n for n in range(MIN_N, max_n + 1) if supported(n)]
    allowed = native_ns if impl == "native" else list(range(MIN_N, max_n + 1))
    favourites = [n for n in INTERESTING_N if n in allowed]
    n = int(rng.choice(favourites if favourites and rng.random() < 0.5 else allowed))
    widths = [b for b in SUPPORTED_BITS if impl != "native" or b <= _native_max_bits(n)]
    bits = int(rng.choice(widths))
    channels = int(rng.integers(1, MAX_CHANNELS + 1))
    parallel = None
    if arch == "direct":
        u = rng.random()
        if u < 0.4:
            parallel = n
        elif u < 0.7:
            parallel = int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))
        else:
            parallel = int(rng.integers(1, n + 1))
    u = rng.random()
    target = "generic" if u < 0.6 else TARGETS[1] if u < 0.8 else TARGETS[2]
    options: dict[str, int] = {}
    if arch == "fft" and rng.random() < 0.3:
        ranges = dict(NATIVE_OPTION_RANGES) if impl == "native" else {"fft_size": (0, 0), **FFT_OPTION_RANGES}
        key = str(rng.choice(sorted(ranges)))
        if key == "fft_size":
            options[key] = fft_size(n) << int(rng.integers(0, FFT_SIZE_FACTOR.bit_length()))
        else:
            options[key] = int(rng.integers(ranges[key][0], ranges[key][1] + 1))
    skeleton = CaseConfig(index, arch, impl, n, bits, channels, parallel, target, options, ())
    cps, granule = skeleton.engine_cycles_per_sample, skeleton.granule
    segments = []
    for _ in range(int(rng.integers(2, 6))):
        bubble, backpressure = _stress(rng), _stress(rng)
        while not _guard_fits(cps, n, granule, bubble, backpressure):  # a native row at 0.99/0.99
            bubble, backpressure = round(bubble * 0.9, 4), round(backpressure * 0.9, 4)
        segments.append(Segment(0, bubble, backpressure, int(rng.integers(0, 2**31))))
    precision = draw_precision(np.random.default_rng([seed, index, 2]), bits, n)
    return CaseConfig(index, arch, impl, n, bits, channels, parallel, target, options, tuple(segments), precision)


def draw_precision(rng: np.random.Generator, bits: int, n: int) -> dict[str, Any]:
    """Half the cases keep the defaults; the rest draw weight and output widths up to the data
    width (W4A8 and the like: wider ones pass the native plan's width caps less often than the
    data alone), the output-scale and PE-offset modes, the rounding, the overflow mode, the
    weight scale, a saturating accumulator (output bits .. the exact width at N) and the bias's
    own width, each on its own. (No input scale: the soak has no calibration data, which a
    per-channel input scale needs.)"""
    if rng.random() < 0.5:
        return {}
    drawn: dict[str, Any] = {}
    if rng.random() < 0.6:
        drawn["weight_bits"] = int(rng.integers(SUPPORTED_BITS.start, bits + 1))
    if rng.random() < 0.4:
        drawn["out_bits"] = int(rng.integers(SUPPORTED_BITS.start, bits + 1))
    if rng.random() < 0.6:
        drawn["out_scale"] = str(rng.choice(OUTPUT_SCALES))
    if rng.random() < 0.3:
        drawn["pe_offset"] = str(rng.choice(PE_OFFSETS))
    if rng.random() < 0.3:
        drawn["rounding"] = str(rng.choice(ROUNDINGS))
    if rng.random() < 0.2:
        drawn["overflow"] = str(rng.choice(OVERFLOWS))
    if rng.random() < 0.3:
        drawn["weight_scale"] = str(rng.choice(WEIGHT_SCALES))
    exact = exact_acc_bits(n, bits, drawn.get("weight_bits", bits))
    if rng.random() < 0.2:
        drawn["acc_bits"] = int(rng.integers(drawn.get("out_bits", bits), exact + 1))
    if rng.random() < 0.2:
        drawn["bias_bits"] = int(rng.integers(SUPPORTED_BITS.start, bias_share_bits(exact) + 1))
    return drawn


@functools.cache
def _native_max_bits(n: int) -> int:
    """The widest data the native engine's default plan takes at this N (above about 18 bits
    its first pre-adds pass the 25-bit cap and `hw.generate` refuses it with one line), so
    the soak draws only what the generator builds and every case is simulated. Searched from
    the top: a refusal is found early in the plan, a plan that holds costs up to seconds."""
    for bits in reversed(SUPPORTED_BITS):
        try:
            plan_native(quantize_layer(random_layer(n, 1), bits))
        except ValueError:
            continue
        return bits
    return SUPPORTED_BITS.start - 1


def default_cases(samples: int) -> int:
    """One case per `SAMPLES_PER_CASE` samples, 1..`MAX_CASES`: builds (10-70 s) must not dominate."""
    return max(1, min(MAX_CASES, samples // SAMPLES_PER_CASE))


def plan(samples: int, seed: int, cases: int | None = None, max_n: int = DEFAULT_MAX_N) -> list[CaseConfig]:
    """Every case of a run, with its share of ``samples``.

    A segment's share is proportional to 1/sqrt(its cycles per sample), so that a slow
    configuration (P = 1, backpressure 0.99) gets fewer samples but no segment dominates the
    wall time; shares are rounded up to whole granules (>= one row of C frames)."""
    check_options(samples, cases, None, max_n)
    k = default_cases(samples) if cases is None else cases
    drawn = [draw_case(seed, i, max_n) for i in range(k)]
    weights = [
        [
            1 / math.sqrt(max(c.engine_cycles_per_sample, 1 / (1 - s.bubble), 1 / (1 - s.backpressure)))
            for s in c.segments
        ]
        for c in drawn
    ]
    total = sum(map(sum, weights))
    out = []
    for c, ws in zip(drawn, weights, strict=True):
        g = c.granule
        segments = []
        for s, w in zip(c.segments, ws, strict=True):
            frames = math.ceil(samples * w / total / c.n)
            frames = max(c.channels, -(-frames // g) * g)
            segments.append(Segment(frames, s.bubble, s.backpressure, s.seed))
        out.append(CaseConfig(**{**asdict(c), "segments": tuple(segments)}))
    return out


def check_options(samples: int, cases: int | None, case: int | None, max_n: int) -> None:
    """Refuse bad options before anything is built (`UserError`: one line, exit status 2)."""
    if samples < 1:
        raise UserError(f"--samples must be >= 1; got {samples}")
    if cases is not None and cases < 1:
        raise UserError(f"--cases must be >= 1; got {cases}")
    k = default_cases(samples) if cases is None else cases
    if case is not None and not 0 <= case < k:
        raise UserError(f"--case must be in 0..{k - 1} (this run has {k} cases); got {case}")
    if not MIN_N <= max_n <= MAX_N:
        raise UserError(f"--max-n must be in {MIN_N}..{MAX_N}; got {max_n}")


def repro_command(samples: int, seed: int, cases: int, index: int, max_n: int = DEFAULT_MAX_N) -> str:
    """The one command that reruns case ``index`` exactly as this run ran it."""
    extra = f" --max-n {max_n}" if max_n != DEFAULT_MAX_N else ""
    return f"python -m sim.soak --samples {samples} --seed {seed} --cases {cases}{extra} --case {index}"


# --- weights: random or extreme, drawn when the case is built ---------------------------------


def _extreme_row(rng: np.random.Generator, n: int, a: float) -> tuple[str, NDArray[np.float64]]:
    """One channel's kernel: a named extreme pattern at amplitude ``a`` (just below a power of
    two, so that the quantized taps reach +max, saturating, and exactly -2**(bits-1))."""
    kind = str(
        rng.choice(["max", "min", "alternating", "zero", "spike", "halves", "pruned", "normal", "uniform", "ramp"])
    )
    idx = np.arange(n)
    row = {
        "max": np.full(n, a),
        "min": np.full(n, -a),
        "alternating": np.where(idx % 2 == rng.integers(0, 2), a, -a),
        "zero": np.zeros(n),
        "spike": np.where(idx == rng.integers(0, n), a * rng.choice([-1.0, 1.0]), 0.0),
        "halves": np.where(idx < n // 2, a, -a),
        "pruned": 1e-20 * rng.choice([-1.0, 1.0], n),
        "normal": np.clip(rng.normal(0, a / 3, n), -a, a),
        "uniform": rng.uniform(-a, a, n),
        "ramp": np.linspace(-a, a, n),
    }[kind]
    return kind, np.asarray(row, dtype=np.float64)


def draw_weights(rng: np.random.Generator, n: int, c: int) -> tuple[str, dict[str, NDArray[np.float64]] | int]:
    """A weight set: a description and either the seed of the generator's own random weights
    (``--weights random --seed S``) or the float arrays of an extreme set (weight, pe, bias,
    sometimes a calibration set that makes the formats tight so full-scale inputs saturate)."""
    if rng.random() < 0.3:
        wseed = int(rng.integers(0, 2**31))
        return f"random(seed={wseed})", wseed
    a = math.ldexp(1 - 2.0**-40, int(rng.integers(-8, 6)))
    same = rng.random() < 0.5
    rows = [_extreme_row(rng, n, a)] * c if same else [_extreme_row(rng, n, a) for _ in range(c)]
    weight = np.stack([r for _, r in rows])
    pe_kind = str(rng.choice(["zero", "zero", "small", "saturating", "alternating"]))
    pe = {
        "zero": np.zeros((c, n)),
        "small": rng.normal(0, 0.5, (c, n)),
        "saturating": rng.choice([-20.0, 20.0], (c, n)),
        "alternating": np.where(np.arange(n) % 2, 15.9, -15.9) * np.ones((c, 1)),
    }[pe_kind]
    bias_kind = str(rng.choice(["zero", "normal", "large"]))
    bias = {
        "zero": np.zeros(c),
        "normal": rng.normal(0, a, c),
        "large": rng.choice([-1.0, 1.0], c) * a * n * 4,
    }[bias_kind]
    arrays = {"weight": weight, "pe": pe, "bias": bias}
    calib = ""
    if rng.random() < 0.4:
        sigma = float(rng.choice([0.01, 0.1, 1.0]))
        arrays["calibration"] = rng.normal(0, sigma, (8, c, n))
        calib = f" calibration(sigma={sigma})"
    kinds = rows[0][0] if same else ",".join(k for k, _ in rows)
    return f"extreme(a={a:.3g}: {kinds}; pe {pe_kind}; bias {bias_kind}{calib})", arrays


@dataclass
class BuiltCase:
    design: Design
    weights: str  # what weights the design got
    options: dict[str, int]  # FFT options in effect
    refused: list[str] = field(default_factory=list)  # the generator's refusals on the way


def build_case(config: CaseConfig, seed: int) -> BuiltCase:
    """The case's design: weights drawn from (seed, index); a set or option the generator
    refuses (a `UserError`: an outlier channel, an FFT plan over its error bound) is redrawn,
    the option dropped after half the attempts, and plain random weights come last. The
    refusals are reported, never hidden: they are the generator's documented limits."""
    rng = np.random.default_rng([seed, config.index, 1])
    refused: list[str] = []
    with tempfile.TemporaryDirectory(prefix="parc_soak_") as tmp:
        for attempt in range(WEIGHT_ATTEMPTS + 1):
            if attempt < WEIGHT_ATTEMPTS:
                weights, drawn = draw_weights(rng, config.n, config.channels)
            else:
                weights, drawn = f"random(seed={config.index})", config.index
            options = dict(config.options) if attempt < WEIGHT_ATTEMPTS // 2 else {}
            path, wseed = RANDOM_WEIGHTS, 0
            if isinstance(drawn, int):
                wseed = drawn
            else:
                path = str(Path(tmp, f"w{attempt}.npz"))
                np.savez(path, allow_pickle=False, **drawn)
            arch_options: dict[str, object] = {**options}
            if config.fft_impl is not None:
                arch_options["fft_impl"] = config.fft_impl
            spec = DesignSpec(
                arch=config.arch,
                n=config.n,
                bits=config.bits,
                channels=config.channels,
                parallel=config.parallel,
                weights=path,
                seed=wseed,
                options=arch_options,
                target=config.target,
                **config.precision,
            )
            try:
                return BuiltCase(build_design(spec), weights, options, refused)
            except ValueError as exc:
                if attempt == WEIGHT_ATTEMPTS:
                    raise
                refused.append(f"{weights} {options or ''}: {exc}".strip())
    raise AssertionError("unreachable")  # pragma: no cover


# --- stimulus ----------------------------------------------------------------------------------

ROW_STYLES = ("uniform", "gauss", "max", "min", "alternating", "runs", "spike", "zero")
ROW_WEIGHTS = (0.35, 0.3, 0.06, 0.06, 0.06, 0.1, 0.04, 0.03)


def segment_rows(config: CaseConfig, segment: Segment) -> NDArray[np.int64]:
    """Input rows [frames, N]: per row uniform full range, Gaussian at a random scale, all
    min, all max, alternating min/max, runs of min and max, a single spike, or zeros."""
    rng = np.random.default_rng([segment.seed, 2])
    n, frames = config.n, segment.frames
    lo, hi = -(1 << (config.bits - 1)), (1 << (config.bits - 1)) - 1
    style = rng.choice(len(ROW_STYLES), size=frames, p=ROW_WEIGHTS)
    rows = rng.integers(lo, hi + 1, size=(frames, n), dtype=np.int64)  # "uniform"
    sigma = np.exp2(rng.uniform(0, config.bits - 1, size=(frames, 1)))
    gauss = np.clip(np.round(rng.normal(0, 1, size=(frames, n)) * sigma), lo, hi).astype(np.int64)
    idx = np.arange(n)
    alternating = np.where((idx + rng.integers(0, 2, size=(frames, 1))) % 2 == 0, hi, lo)
    runs = np.where(np.cumsum(rng.random((frames, n)) < 0.15, axis=1) % 2 == 0, hi, lo)
    spike = np.where(idx == rng.integers(0, n, size=(frames, 1)), rng.choice([lo, hi], size=(frames, 1)), 0)
    for code, values in enumerate(
        (rows, gauss, np.full_like(rows, hi), np.full_like(rows, lo), alternating, runs, spike, np.zeros_like(rows))
    ):
        pick = style == code
        rows[pick] = values[pick]
    return rows


# --- running -----------------------------------------------------------------------------------


def golden_rows(design: Design, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """What the RTL must emit for ``rows`` (one run from reset): the engine's integer model."""
    return expected_frames(design, rows)


@dataclass
class CaseResult:
    """What one case found."""

    index: int
    config: dict  # CaseConfig.to_dict()
    description: str
    weights: str
    options: dict[str, int]
    refused: list[str]  # weight sets / options the generator refused before one was built
    samples: int  # output samples checked (a failed run counts all of its samples)
    mismatches: int  # wrong data, plus the unverified samples
    unverified: int  # samples of runs that failed to build or simulate, or ended early (counted as mismatches)
    tlast_errors: int  # runs whose tlast flags were not exactly on every N-th output
    errors: list[str]
    first_mismatch: dict | None
    build_seconds: float
    sim_seconds: float
    repro: str
    # the generator refused the configuration itself (with its own random weights and default
    # options): nothing built or simulated; listed apart, since it is no mismatch of the RTL
    refused_config: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.tlast_errors == 0 and not self.errors


def run_case(
    config: CaseConfig, seed: int, repro: str, on_samples: Callable[[int], None] = lambda _: None
) -> CaseResult:
    """Build the case's design and stream each segment through the batch driver, in calls
    that stay inside its hang guard; compare every output sample and the tlast flags."""
    result = CaseResult(
        config.index, config.to_dict(), config.describe(), "", {}, [], 0, 0, 0, 0, [], None, 0.0, 0.0, repro
    )
    start = time.monotonic()
    try:
        built = build_case(config, seed)
    except ValueError as exc:  # refused even with its own random weights and default options
        result.refused_config = one_line(exc)
        result.build_seconds = round(time.monotonic() - start, 1)
        on_samples(config.samples)
        return result
    result.weights, result.options, result.refused = built.weights, built.options, built.refused
    try:
        build_batch(built.design)
    except RuntimeError as exc:  # Verilator rejects the generated Verilog: nothing of the case is verified
        result.errors.append(f"build: {exc}")
        result.samples = result.mismatches = result.unverified = config.samples
        result.build_seconds = round(time.monotonic() - start, 1)
        on_samples(config.samples)
        return result
    result.build_seconds = round(time.monotonic() - start, 1)
    start = time.monotonic()
    for s, segment in enumerate(config.segments):
        rows = segment_rows(config, segment)
        step = _call_frames(config, segment)
        for call, first in enumerate(range(0, len(rows), step)):
            part = rows[first : first + step]
            where = {"segment": s, "call": call, "bubble": segment.bubble, "backpressure": segment.backpressure}
            result.samples += part.size
            try:
                out = run_batch(
                    built.design,
                    part,
                    bubble=segment.bubble,
                    backpressure=segment.backpressure,
                    seed=(segment.seed + call) % 2**31,
                )
                want = golden_rows(built.design, part)
            except (RuntimeError, ValueError) as exc:  # simulation failed or stopped early (a hang); a model error
                result.mismatches += part.size
                result.unverified += part.size
                result.errors.append(f"segment {s} call {call}: {exc}")
                result.first_mismatch = result.first_mismatch or {**where, "error": str(exc)}
                on_samples(part.size)
                continue
            wrong = out.output != want
            result.mismatches += int(wrong.sum())
            if not out.lasts_ok:
                result.tlast_errors += 1
                result.first_mismatch = result.first_mismatch or {**where, "tlast": "not on every N-th output"}
            if wrong.any() and result.first_mismatch is None:
                f, i = (int(v) for v in np.argwhere(wrong)[0])
                result.first_mismatch = {
                    **where,
                    "frame": f,
                    "channel": f % config.channels,
                    "position": i,
                    "got": int(out.output[f, i]),
                    "want": int(want[f, i]),
                }
            on_samples(part.size)
    result.sim_seconds = round(time.monotonic() - start, 1)
    return result


@dataclass
class SoakResult:
    """Totals of a soak run (`to_dict` is the JSON line) and each case's result."""

    samples: int
    mismatches: int  # output samples that differ from the golden model, plus the unverified ones
    unverified: int  # samples of cases that failed to build or runs that failed (in mismatches too)
    tlast_errors: int  # runs whose tlast flags were not exactly on every N-th output
    cases: int  # cases run
    failures: list[dict]  # per failing case: index, config, first mismatch, errors, repro
    seconds: float
    samples_per_s: float
    seed: int
    samples_requested: int
    cases_planned: int
    max_n: int
    build_seconds: float
    sim_seconds: float
    refused: int  # weight sets / options the generator refused (redrawn; not failures)
    refused_configs: list[dict]  # cases whose configuration the generator refused outright (not run)
    command: str
    case_results: list[CaseResult] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.tlast_errors == 0 and not self.failures

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "case_results"}


def soak(
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    *,
    cases: int | None = None,
    only: int | None = None,
    max_n: int = DEFAULT_MAX_N,
    progress: bool = False,
) -> SoakResult:
    """Run the plan (`plan`) — or only case ``only`` of it — and total the results.

    ``progress`` shows a tqdm bar on stderr and one line per case; a failing case always
    prints its reproduction command there."""
    check_options(samples, cases, only, max_n)
    k = default_cases(samples) if cases is None else cases
    configs = plan(samples, seed, k, max_n)
    chosen = configs if only is None else [configs[only]]
    start = time.monotonic()
    results: list[CaseResult] = []
    bar = tqdm(
        total=sum(c.samples for c in chosen),
        unit="sample",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        mininterval=2.0,
        dynamic_ncols=True,
    )
    with bar:
        for config in chosen:
            bar.set_postfix_str(f"case {config.index}/{k}: {config.describe()}", refresh=True)
            repro = repro_command(samples, seed, k, config.index, max_n)
            r = run_case(config, seed, repro, bar.update)
            results.append(r)
            status = "ok" if r.ok else f"FAILED: {r.mismatches} mismatches, {r.tlast_errors} tlast errors"
            line = (
                f"case {config.index}: {config.describe()}, weights {r.weights}: {r.samples} samples {status} "
                f"(build {r.build_seconds} s, sim {r.sim_seconds} s)"
            )
            if r.refused_config is not None:
                tqdm.write(
                    f"case {config.index}: {config.describe()}: the generator refuses this configuration "
                    f"({r.refused_config}); not simulated\n  reproduce: {repro}",
                    file=sys.stderr,
                )
            elif not r.ok:
                detail = r.first_mismatch or (r.errors[:1] or [""])[0]
                tqdm.write(f"{line}\n  first: {detail}\n  reproduce: {repro}", file=sys.stderr)
            elif progress:
                bar.write(line, file=sys.stderr)
    seconds = time.monotonic() - start
    failures = [
        {
            "case": r.index,
            "config": r.description,
            "weights": r.weights,
            "mismatches": r.mismatches,
            "unverified": r.unverified,
            "tlast_errors": r.tlast_errors,
            "first_mismatch": r.first_mismatch,
            "errors": r.errors[:3],
            "repro": r.repro,
        }
        for r in results
        if not r.ok
    ]
    total = sum(r.samples for r in results)
    extra = f" --max-n {max_n}" if max_n != DEFAULT_MAX_N else ""
    only_flag = f" --case {only}" if only is not None else ""
    return SoakResult(
        samples=total,
        mismatches=sum(r.mismatches for r in results),
        unverified=sum(r.unverified for r in results),
        tlast_errors=sum(r.tlast_errors for r in results),
        cases=len(results),
        failures=failures,
        seconds=round(seconds, 1),
        samples_per_s=round(total / seconds, 1) if seconds > 0 else 0.0,
        seed=seed,
        samples_requested=samples,
        cases_planned=k,
        max_n=max_n,
        build_seconds=round(sum(r.build_seconds for r in results), 1),
        sim_seconds=round(sum(r.sim_seconds for r in results), 1),
        refused=sum(len(r.refused) for r in results),
        refused_configs=[
            {"case": r.index, "config": r.description, "error": r.refused_config, "repro": r.repro}
            for r in results
            if r.refused_config is not None
        ],
        command=f"python -m sim.soak --samples {samples} --seed {seed} --cases {k}{extra}{only_flag}",
        case_results=results,
    )


# --- command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "sim.soak",
        "Soak: random designs, data, bubbles and backpressure through the batch Verilator driver, "
        "every output sample checked against the golden model (docs/soak.md).",
        "python -m sim.soak --samples 10000000 --seed 1",
    )
    p.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help=f"output samples in all (default {DEFAULT_SAMPLES})"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of everything drawn (default 0)")
    p.add_argument(
        "--cases",
        type=int,
        default=None,
        help=f"random designs to build (default: samples / {SAMPLES_PER_CASE}, 1..{MAX_CASES})",
    )
    p.add_argument("--case", type=int, default=None, help="run only this case (the command a failure prints)")
    p.add_argument(
        "--max-n", type=int, default=DEFAULT_MAX_N, help=f"largest N drawn (default {DEFAULT_MAX_N}; 2..{MAX_N})"
    )
    p.add_argument("--list", action="store_true", help="print the plan, one JSON line per case, and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-case lines (failures still print)")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    check_options(args.samples, args.cases, args.case, args.max_n)
    if args.list:
        configs = plan(args.samples, args.seed, args.cases, args.max_n)
        for c in configs if args.case is None else [configs[args.case]]:
            print(json.dumps({"case": c.index, "describe": c.describe(), "samples": c.samples, **c.to_dict()}))
        return 0
    result = soak(args.samples, args.seed, cases=args.cases, only=args.case, max_n=args.max_n, progress=not args.quiet)
    print(json.dumps(result.to_dict()), flush=True)
    return 0 if result.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m sim.soak", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
