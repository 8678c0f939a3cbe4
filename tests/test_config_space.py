"""Issue 15: every combination of settings is bit-exact, RTL against golden, at small N.

The other RTL tests pin one setting at a time (a width, a rounding, a target) next to the
defaults of the rest; the settings interact (the output shift depends on the weight scale
and the output width, the exact PE offset on the folded output scale, the wrap on the
calibration that sets the output format), so hypothesis draws them all at once: engine,
N, widths, channels, seeded random weights, a calibration file with its rule, the target,
rounding and overflow, and input rows that start with full-scale extremes. Each drawn
design is built by `hw.design.build_design`, Verilated by `sim.batch` and every output
sample and tlast is compared with the engine's integer model (`sim.scenarios.expected_frames`).

A Verilator build costs 10-30 s, so the default run is the pinned corners (`@example`) only
(CI time); the ``long`` variant draws designs, derandomized so that every run tests the
same ones (``PARC_HYPOTHESIS_EXAMPLES``, default `LONG_EXAMPLES_DEFAULT`).
Builds are cached by Verilog hash (``sim_build``), so a rerun costs elaboration and
simulation only. The long run::

    PARC_HYPOTHESIS_EXAMPLES=200 python -m pytest tests/test_config_space.py -m long
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, example, given, note, reject, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from golden.bundle import RANDOM_WEIGHTS
from golden.calibration import CALIBRATION_RULES
from golden.pfa import supported
from golden.quant import INPUT_SCALES, OUTPUT_SCALES, PE_OFFSETS
from hw.design import (
    ARCHITECTURES,
    FFT_IMPLS,
    OVERFLOWS,
    ROUNDINGS,
    WEIGHT_SCALES,
    Design,
    DesignSpec,
    build_design,
)
from hw.target import TARGETS
from sim.batch import run_batch
from sim.scenarios import expected_frames, frames_to_complete

LONG_EXAMPLES_DEFAULT = 50
EXAMPLES_ENV = "PARC_HYPOTHESIS_EXAMPLES"  # how many designs the long variant draws

N_MOSTLY = 7  # the paper's smallest N; a prime, so the native engine runs its Winograd 7 alone
N_OTHERS = (5, 6, 8, 9, 12, 14)  # 5, 9: padded/direct only (not prime-factor sizes); the rest all engines
WIDTHS = st.integers(4, 12)  # data, weight and output widths, drawn independently
MAX_CHANNELS = 3
# The calibration data's standard deviation, from well below the random layers' PE (about 0.2:
# the PE and bias then set the output format) to well above it (the inputs set it, and the
# sign-matched full-scale rows of `stimulus` overflow it, so saturate/wrap and the rules' clips matter).
CALIBRATION_SIGMAS = (0.01, 0.1, 0.5, 2.0, 16.0)
FLOW = (0.0, 0.3, 0.9)  # input bubble / output backpressure probabilities of the batch driver
RANDOM_FRAMES = 12  # at most, after the extreme rows

# Every engine `--arch` builds: the direct one, and the FFT engine in each `--fft-impl`.
ENGINES: tuple[tuple[str, str | None], ...] = tuple(
    (arch, impl) for arch in ARCHITECTURES for impl in (FFT_IMPLS if arch == "fft" else (None,))
)

# The DesignSpec fields drawn independently of the engine and N, one strategy each, from the
# canonical choices. A new setting is one line here.
PRECISION: dict[str, st.SearchStrategy[Any]] = {
    "bits": WIDTHS,
    "weight_bits": WIDTHS,
    "out_bits": WIDTHS,
    "rounding": st.sampled_from(ROUNDINGS),
    "overflow": st.sampled_from(OVERFLOWS),
    "weight_scale": st.sampled_from(WEIGHT_SCALES),
    "out_scale": st.sampled_from(OUTPUT_SCALES),
    "in_scale": st.sampled_from(INPUT_SCALES),  # per-channel without calibration: refused, rejected
    # accumulator: exact (None), or saturating at K in out_bits..exact (>= 14 here; wider K is
    # refused when it exceeds the exact width, and the example rejected)
    "acc_bits": st.sampled_from([None, None, 12, 14, 16, 20]),
    "bias_bits": st.sampled_from([None, None, 4, 6, 8, 12]),  # always <= the exact width - 2
    "pe_offset": st.sampled_from(PE_OFFSETS),
    "calibration_rule": st.sampled_from(CALIBRATION_RULES),
    "target": st.sampled_from(TARGETS),
}


@dataclass(frozen=True)
class Calibration:
    """A Gaussian calibration set, written as a .npy when the case is built (its path is no
    part of the drawn case, so a failing case prints whole and reruns anywhere)."""

    sigma: float
    rows: int
    seed: int

    def write(self, folder: Path, channels: int, n: int) -> str:
        path = folder / "calibration.npy"
        np.save(path, np.random.default_rng(self.seed).normal(0.0, self.sigma, (self.rows, channels, n)))
        return str(path)


@dataclass(frozen=True)
class Case:
    """One drawn design and what is streamed through it."""

    spec: DesignSpec  # calibration=None here: `calibration` is written beside the build
    calibration: Calibration | None
    random_frames: int  # uniform full-range rows after the extreme ones
    stimulus_seed: int
    bubble: float
    backpressure: float


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Engine, N (mostly 7; only prime-factor sizes for the native engine), P for the direct
    engine, channels, weight seed, every `PRECISION` setting, optionally a calibration file,
    then the stimulus and flow control. Simplest first, so hypothesis shrinks towards the
    direct engine at N=7 and the first choice of each setting."""
    arch, impl = draw(st.sampled_from(ENGINES))
    n = draw(st.just(N_MOSTLY) | st.sampled_from([n for n in N_OTHERS if impl != "native" or supported(n)]))
    parallel = draw(st.none() | st.integers(1, n)) if arch == "direct" else None
    spec = DesignSpec(
        arch=arch,
        n=n,
        channels=draw(st.integers(1, MAX_CHANNELS)),
        parallel=parallel,
        weights=RANDOM_WEIGHTS,
        seed=draw(st.integers(0, 2**16)),
        options={} if impl is None else {"fft_impl": impl},
        **draw(st.fixed_dictionaries(PRECISION)),
    )
    calibration = draw(
        st.none() | st.builds(Calibration, st.sampled_from(CALIBRATION_SIGMAS), st.integers(1, 64), st.integers(0, 99))
    )
    return Case(
        spec,
        calibration,
        random_frames=draw(st.integers(0, RANDOM_FRAMES)),
        stimulus_seed=draw(st.integers(0, 2**16)),
        bubble=draw(st.sampled_from(FLOW)),
        backpressure=draw(st.sampled_from(FLOW)),
    )


def stimulus(case: Case, design: Design) -> NDArray[np.int64]:
    """Input rows (row f is channel f % C). Each channel first gets the rows that drive its
    accumulator furthest: full scale with the signs of its weights (output 0 reaches
    ``sum |w| * max``, the row that overflows a calibrated output format) and the opposite
    signs, then all-max, all-min and alternating max/min; then ``random_frames`` uniform
    full-range rows."""
    layer, fmt = design.layer, design.layer.fmt
    lo, hi = fmt.data.min_int, fmt.data.max_int
    positive = layer.weight >= 0  # (C, N): tap k meets x[(i + k) mod N], so x = sign(w) maxes output 0
    alternating = np.broadcast_to(np.arange(fmt.n) % 2 == 1, positive.shape)
    per_channel = [np.where(positive, hi, lo), np.where(positive, lo, hi), np.full(positive.shape, hi)]
    per_channel += [np.full(positive.shape, lo), np.where(alternating, lo, hi)]
    rng = np.random.default_rng(case.stimulus_seed)
    random_rows = rng.integers(lo, hi, (case.random_frames, fmt.n), endpoint=True)
    rows = np.concatenate([*per_channel, random_rows]).astype(np.int64)
    return np.concatenate([rows, np.zeros((frames_to_complete(design, len(rows)), fmt.n), dtype=np.int64)])


def check_bit_exact(case: Case) -> None:
    """Build the case's design, stream its rows through the Verilated RTL and compare every
    output sample and tlast flag with the golden model. A combination the generator refuses
    must say so in one line, and is then not counted as an example."""
    with tempfile.TemporaryDirectory(prefix="parc_config_space_") as tmp:
        spec = case.spec
        if case.calibration is not None:
            spec = replace(spec, calibration=case.calibration.write(Path(tmp), spec.channels or 1, spec.n))
        try:
            design = build_design(spec)
        except ValueError as exc:  # UserError included: the generator's documented limits
            assert "\n" not in str(exc), f"a refusal must be one line: {exc!r}"
            note(f"refused: {exc}")
            reject()
        rows = stimulus(case, design)
        rtl = run_batch(design, rows, bubble=case.bubble, backpressure=case.backpressure, seed=case.stimulus_seed)
    want = expected_frames(design, rows)
    wrong = np.argwhere(rtl.output != want)
    if len(wrong):
        f, i = (int(v) for v in wrong[0])
        pytest.fail(
            f"{len(wrong)} of {want.size} samples differ; first: frame {f} (channel {f % design.layer.channels}) "
            f"position {i}: RTL {int(rtl.output[f, i])}, golden {int(want[f, i])}; spec {spec!r}"
        )
    assert rtl.lasts_ok, f"tlast not exactly on every N-th output; spec {spec!r}"


def long_examples() -> int:
    """``PARC_HYPOTHESIS_EXAMPLES`` (a positive integer), else `LONG_EXAMPLES_DEFAULT`."""
    value = os.environ.get(EXAMPLES_ENV, str(LONG_EXAMPLES_DEFAULT))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{EXAMPLES_ENV} must be a positive integer; got {value!r}")
    return int(value)


# Builds dominate: no deadline, and the same designs on every run. The long run shrinks, to
# hand back a minimal failing case.
BASE = settings(deadline=None, derandomize=True)


@pytest.mark.slow
@settings(BASE, phases=(Phase.explicit,))
@given(case=cases())
# W4A8 with a 12-bit output and a 14-bit saturating accumulator (exact: 18), calibrated (mse),
# three channels, Vivado attributes
@example(
    case=Case(
        DesignSpec(
            arch="direct",
            n=7,
            bits=8,
            weight_bits=4,
            out_bits=12,
            acc_bits=14,
            channels=3,
            weights=RANDOM_WEIGHTS,
            seed=1,
            target="xc7",
            calibration_rule="mse",
        ),
        Calibration(0.5, 32, 1),
        random_frames=6,
        stimulus_seed=1,
        bubble=0.3,
        backpressure=0.3,
    )
)
# truncate + wrap, calibrated (mse clips): the sign-matched full-scale rows overflow and wrap
@example(
    case=Case(
        DesignSpec(
            arch="fft",
            n=7,
            bits=6,
            weight_bits=6,
            out_bits=5,
            channels=2,
            weights=RANDOM_WEIGHTS,
            seed=2,
            options={"fft_impl": "padded"},
            rounding="truncate",
            overflow="wrap",
            calibration_rule="mse",
        ),
        Calibration(0.5, 64, 2),
        random_frames=4,
        stimulus_seed=2,
        bubble=0.0,
        backpressure=0.9,
    )
)
# one weight scale for the tensor, real per-channel output and input scales, the exact PE offset
@example(
    case=Case(
        DesignSpec(
            arch="fft",
            n=14,
            bits=10,
            weight_bits=7,
            out_bits=9,
            channels=3,
            weights=RANDOM_WEIGHTS,
            seed=3,
            options={"fft_impl": "native"},
            weight_scale="per-tensor",
            out_scale="per-channel",
            in_scale="per-channel",
            pe_offset="exact",
            calibration_rule="mse",
        ),
        Calibration(0.5, 64, 3),
        random_frames=5,
        stimulus_seed=3,
        bubble=0.3,
        backpressure=0.0,
    )
)
# ECP5 primitives (MULT18X18D, DP16KD) with weights wider than the data, P not dividing N, a 6-bit bias
@example(
    case=Case(
        DesignSpec(
            arch="direct",
            n=7,
            bits=4,
            weight_bits=12,
            out_bits=4,
            channels=2,
            parallel=3,
            weights=RANDOM_WEIGHTS,
            seed=4,
            target="ecp5",
            rounding="half-up",
            out_scale="shared",
            bias_bits=6,
        ),
        None,
        random_frames=3,
        stimulus_seed=4,
        bubble=0.9,
        backpressure=0.3,
    )
)
def test_every_setting_combination_is_bit_exact(case: Case) -> None:
    check_bit_exact(case)


@pytest.mark.long
@settings(BASE, max_examples=long_examples())
@given(case=cases())
def test_every_setting_combination_is_bit_exact_long(case: Case) -> None:
    check_bit_exact(case)
