"""Block `hw.sdf.SdfStage`: RTL == `SdfStage.model` (`golden.fft.dif_stage` / `dit_stage`).

The stage has no valid/ready of its own: `hw.fft.StreamingFft` runs it free (``en`` high),
but the stage is a pure pipeline under any enable pattern, which
`amaranth_pipelines.run_enabled` drives (garbage on ``x`` while disabled; ``y`` must hold):
a random enable checks that every register, counter and the twiddle ROM's read-ahead move
together. Every stage of DIF and DIT, forward and inverse FFTs
is checked — trivial stages (swap/negate) and multiplier stages (twiddle ROM +
`ComplexMultiplier`) — with and without saturation, from counter phase 0 and from a nonzero
``delay`` (the phase a stage has inside the FFT).
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth_pipelines import run_enabled

from golden.fft import FftConfig
from golden.fixed import Rounding
from hw.complex_mul import hard_latency
from hw.fft import INPUT_REGISTERS, StreamingFft
from hw.sdf import SdfStage

FRAMES = 3


def stage_frames(rng: np.random.Generator, bits: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """FRAMES random frames of ``bits``-bit values, a quarter of them at the extremes."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = []
    for _ in range(2):
        v = rng.integers(lo, hi + 1, (FRAMES, size))
        pick = rng.random(v.shape)
        out.append(np.where(pick < 0.15, lo, np.where(pick < 0.25, hi, v)))
    return out[0], out[1]


def check_stage(cfg: FftConfig, s: int, delay: int, seed: int, p_enable: float) -> np.ndarray:
    """Run stage ``s`` on random frames under a random enable; assert y == model. Returns the
    model's clipping flags (so a case can show it exercised saturation)."""
    dut = SdfStage(cfg, s, delay)
    rng = np.random.default_rng(seed)
    d = cfg.stage_input_bits(s)
    re, im = stage_frames(rng, d, cfg.size)
    want_re, want_im, want_clip = dut.model(re, im)
    n = re.size
    # a frame starts where the stage's counter is 0: after ``delay`` edges; random fillers
    # around the frames must not reach their outputs (an SDF only combines one frame's samples)
    edges = delay + n + dut.latency
    x_re, x_im = rng.integers(-(1 << (d - 1)), 1 << (d - 1), (2, edges))
    x_re[delay : delay + n], x_im[delay : delay + n] = re.reshape(-1), im.reshape(-1)
    got = run_enabled(
        dut,
        {"x.re": (dut.x.re, x_re), "x.im": (dut.x.im, x_im)},
        outputs={"re": dut.y.re, "im": dut.y.im},
        combinational={"clipping": dut.clipping},
        p_enable=p_enable,
        seed=seed,
        name=f"SdfStage({cfg.decimation}, s={s})",
    )
    out = slice(delay + dut.latency - 1, delay + dut.latency - 1 + n)
    label = f"SdfStage {cfg.decimation}{' inverse' if cfg.inverse else ''} M={cfg.size} s={s} delay={delay}"
    np.testing.assert_equal(got["re"][out], want_re.reshape(-1), err_msg=f"{label}: y.re differs from model")
    np.testing.assert_equal(got["im"][out], want_im.reshape(-1), err_msg=f"{label}: y.im differs from model")
    np.testing.assert_equal(
        got["clipping"][out], want_clip.reshape(-1).astype(np.int64), err_msg=f"{label}: clipping differs from model"
    )
    return want_clip


CASES = [
    # size, decimation, inverse, shifts, narrow widths (saturate), rounding, p_enable
    pytest.param(16, "dif", False, [1, 0, 1, 0], False, Rounding.HALF_EVEN, 0.6, id="M16-dif-fwd"),
    pytest.param(16, "dit", True, [1, 1, 1, 1], False, Rounding.HALF_UP, 0.5, id="M16-dit-inv"),
    pytest.param(16, "dif", True, [0, 0, 0, 0], True, Rounding.TRUNCATE, 0.7, id="M16-dif-inv-saturating"),
    pytest.param(16, "dit", False, [0, 0, 0, 0], True, Rounding.HALF_EVEN, 0.7, id="M16-dit-fwd-saturating"),
    pytest.param(32, "dit", True, [0, 1, 0, 1, 0], False, Rounding.TRUNCATE, 0.8, id="M32-dit-inv"),
    pytest.param(32, "dif", False, [1, 1, 1, 1, 1], False, Rounding.HALF_UP, 0.8, id="M32-dif-fwd"),
]


@pytest.mark.parametrize("size, decimation, inverse, shifts, narrow, rounding, p_enable", CASES)
def test_sdf_stage_rtl_equals_model_under_random_enable(
    size, decimation, inverse, shifts, narrow, rounding, p_enable
) -> None:
    stages = size.bit_length() - 1
    widths = [9] * stages if narrow else None  # 8-bit input, unscaled: stages saturate
    cfg = FftConfig.create(
        size,
        8,
        shifts=shifts,
        widths=widths,
        twiddle_bits=12,
        rounding=rounding,
        decimation=decimation,
        inverse=inverse,
    )
    clipped = []
    for s in range(stages):
        delay = [0, 3, 5, 2, 6][s]  # the counters' phase must follow ``delay`` (not a multiple of 2L)
        clipped.append(check_stage(cfg, s, delay, seed=size + 10 * s, p_enable=p_enable).any())
    if narrow:
        assert any(clipped), "the saturating case never saturated"
    assert any(SdfStage.rotates(cfg, s) for s in range(stages))  # the -j stage covered
    assert any(cfg.trivial(s) and not SdfStage.rotates(cfg, s) for s in range(stages))  # the L = 1 stage
    assert any(not cfg.trivial(s) for s in range(stages))  # multiplier stages covered


def test_sdf_stage_latency_and_the_fft_is_their_chain() -> None:
    """A stage holds L slots in its line, 1 in its output register, 1 in its butterfly
    register (trivial stages; plus 1 for the -j rotation), or (multiplier stages) the hard
    multiplier's `hw.complex_mul.hard_latency` - 1 registers before the output, plus the butterfly
    register (DIF: in front of the multiplier) and for DIT ``t``; the FFT is the input register
    and the sum."""
    narrow = hard_latency(12, 12)  # every operand of this FFT fits one 18 x 18 tile
    assert narrow == 6
    for decimation, extra in (("dif", narrow), ("dit", narrow + 1)):
        cfg = FftConfig.create(64, 10, decimation=decimation)
        lat = [SdfStage.latency_of(cfg, s) for s in range(cfg.stages)]
        trivial = [1 + SdfStage.rotates(cfg, s) for s in range(cfg.stages)]
        assert lat == [cfg.span(s) + 1 + (trivial[s] if cfg.trivial(s) else extra) for s in range(cfg.stages)]
        fft = StreamingFft(cfg)
        fft._MustUse__silence = True  # latency only
        assert fft.latency == INPUT_REGISTERS + sum(lat) == 1 + (64 - 1) + 6 + 3 + extra * 4


def test_sdf_stage_refuses_a_stage_outside_the_fft() -> None:
    cfg = FftConfig.create(8, 6)
    with pytest.raises(ValueError, match="SdfStage"):
        SdfStage(cfg, 3)
    with pytest.raises(ValueError, match="SdfStage"):
        SdfStage(cfg, 0, delay=-1)
    dit = FftConfig.create(16, 6, decimation="dit")
    with pytest.raises(ValueError, match="delay >= 2"):  # its twiddle ROM reads two slots ahead
        SdfStage(dit, 2, delay=1)
