"""The streaming FFT: RTL == `golden.fft.fft_model` bit for bit, and the model vs numpy.fft.

Two questions, two groups of tests: "is the hardware the model?" (Amaranth simulation with
random input bubbles, output backpressure, idle gaps that force a drain, frames back to back)
and "is the model accurate enough?" (hypothesis against `golden.fft.reference`, within
`golden.fft.error_bound`).
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from amaranth_streams import StreamRun, frame_lasts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden.fast_parc_int import fast_parc_int_model, plan_fast_parc
from golden.fft import (
    FftConfig,
    bit_reverse_indices,
    dif_stage,
    error_bound,
    error_bound_l2,
    error_rms,
    fft_model,
    reference,
    twiddle_table,
)
from golden.fixed import Rounding
from golden.quant import quantize_input, quantize_layer, random_layer
from hw.fft import StreamingFft

# --- simulation harness ----------------------------------------------------------------------


def simulate(
    dut: StreamingFft,
    re: np.ndarray,
    im: np.ndarray,
    *,
    seed: int = 0,
    p_gap: float = 0.0,
    gaps: dict[int, int] | None = None,
    bad_last_at: int | None = None,
    missing_at: int | None = None,
    clear_at: int | None = None,
) -> StreamRun:
    """Drive frames (F, M) through the DUT; outputs ``data.re``, ``data.im``, ``last``, the
    cycle of every transfer, ``overflow`` per cycle and both status ports at the end.

    The datapath is free-running, so a real frame comes without bubbles (as from
    `hw.feeder.Feeder`) and every valid output is taken (``o`` has no ready). Between frames
    the input idles: with probability ``p_gap`` per frame for a random 1..2M cycles (a frame
    then waits for position 0, or finds the block stopped), and ``gaps[f]`` cycles before
    frame ``f`` (long enough to drain). ``bad_last_at`` flips ``last`` on that sample;
    ``missing_at`` drops valid in that sample's first cycle; ``clear_at`` pulses
    ``overflow_clear`` in that cycle.
    """
    size = dut.config.size
    frames = re.reshape(-1, size).shape[0]
    lasts = frame_lasts(re.size, size)
    if bad_last_at is not None:
        lasts[bad_last_at] ^= 1
    rng = np.random.default_rng(seed)
    idle = [
        (gaps or {}).get(f, int(rng.integers(1, 2 * size + 1)) if rng.random() < p_gap else 0) for f in range(frames)
    ]
    flat_re, flat_im = re.reshape(-1), im.reshape(-1)
    run = StreamRun(outputs={"data.re": [], "data.im": [], "last": []}, trace={"overflow": []})

    async def bench(ctx) -> None:
        cycle, k, waiting = 0, 0, idle[0]
        dropped = False
        while len(run.out_cycles) < re.size and cycle < 40 * re.size + 20 * dut.latency:
            offer = k < re.size and waiting == 0
            if offer and k == missing_at and not dropped:
                offer, dropped = False, True
            ctx.set(dut.i.valid, offer)
            if offer:
                ctx.set(dut.i.payload.data.re, int(flat_re[k]))
                ctx.set(dut.i.payload.data.im, int(flat_im[k]))
                ctx.set(dut.i.payload.last, int(lasts[k]))
            ctx.set(dut.overflow_clear, int(cycle == clear_at))
            taken = offer and ctx.get(dut.i.ready)
            if ctx.get(dut.o.valid):
                run.outputs["data.re"].append(ctx.get(dut.o.payload.data.re))
                run.outputs["data.im"].append(ctx.get(dut.o.payload.data.im))
                run.outputs["last"].append(ctx.get(dut.o.payload.last))
                run.out_cycles.append(cycle)
            run.trace["overflow"].append(ctx.get(dut.overflow))
            await ctx.tick()
            if taken or (k == missing_at and dropped and waiting == 0 and k % size):
                run.in_cycles.append(cycle)
                k += 1
                if k % size == 0 and k < re.size:
                    waiting = idle[k // size]
            elif waiting:
                waiting -= 1
            cycle += 1
        ctx.set(dut.i.valid, 0)
        for _ in range(2 * dut.latency):  # anything that still comes out is extra
            assert not ctx.get(dut.o.valid), "StreamingFft: more outputs than inputs"
            await ctx.tick()
        run.cycles = cycle
        run.final = {"overflow": ctx.get(dut.overflow), "frame_error": ctx.get(dut.frame_error)}

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run


def random_frames(cfg: FftConfig, frames: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lim = int((1 << (cfg.input_bits - 1)) * scale)
    lo, hi = -lim, min(lim, (1 << (cfg.input_bits - 1)) - 1) + 1
    return rng.integers(lo, hi, (frames, cfg.size)), rng.integers(lo, hi, (frames, cfg.size))


def assert_rtl_equals_model(dut: StreamingFft, re: np.ndarray, im: np.ndarray, run: StreamRun) -> None:
    want_re, want_im, want_ovf = dut.model(re, im)
    n, size = re.size, dut.config.size
    name = f"StreamingFft M={size} {dut.config.decimation}{' inverse' if dut.config.inverse else ''}"
    assert len(run.out_cycles) == n, f"{name}: expected {n} output samples, got {len(run.out_cycles)}"
    np.testing.assert_equal(run.column("data.re"), want_re.reshape(-1), err_msg=f"{name}: real part differs from model")
    np.testing.assert_equal(
        run.column("data.im"), want_im.reshape(-1), err_msg=f"{name}: imaginary part differs from model"
    )
    np.testing.assert_equal(run.column("last"), frame_lasts(n, size), err_msg=f"{name}: last")
    assert run.final["overflow"] == int(want_ovf.any()), f"{name}: overflow port"
    assert run.final["frame_error"] == 0, f"{name}: frame_error set on well-formed frames"


# --- RTL == model ----------------------------------------------------------------------------

SCHEDULES = {
    "scaled": lambda s: [1] * s,
    "unscaled": lambda s: [0] * s,
    "alternate": lambda s: [(k + 1) % 2 for k in range(s)],
}

# (M, frames): few frames at M = 128 keep the Python simulator under a few seconds per case.
RTL_CASES = []
for i, (size, frames) in enumerate([(8, 5), (16, 4), (64, 3), (128, 2)]):
    for j, (decimation, inverse) in enumerate([("dif", False), ("dit", True), ("dif", True), ("dit", False)]):
        k = i + j
        RTL_CASES.append(
            pytest.param(
                size,
                frames,
                decimation,
                inverse,
                list(SCHEDULES)[k % 3],
                list(Rounding)[k % 3],
                id=f"M{size}-{decimation}-{'inv' if inverse else 'fwd'}-{list(SCHEDULES)[k % 3]}-{list(Rounding)[k % 3]}",
            )
        )


@pytest.mark.parametrize("size, frames, decimation, inverse, schedule, rounding", RTL_CASES)
def test_rtl_matches_model_with_gaps_between_frames(size, frames, decimation, inverse, schedule, rounding) -> None:
    stages = size.bit_length() - 1
    cfg = FftConfig.create(
        size,
        10,
        shifts=SCHEDULES[schedule](stages),
        rounding=rounding,
        decimation=decimation,
        inverse=inverse,
        twiddle_bits=12,
    )
    dut = StreamingFft(cfg)
    re, im = random_frames(cfg, frames, seed=size + 7 * inverse)
    # an idle gap before the last frame makes the block drain with filler frames and resync
    run = simulate(dut, re, im, seed=size, p_gap=0.7, gaps={frames - 1: size + dut.latency})
    assert_rtl_equals_model(dut, re, im, run)


@pytest.mark.parametrize("decimation", ["dif", "dit"])
def test_latency_and_full_throughput_back_to_back(decimation: str) -> None:
    cfg = FftConfig.create(16, 8, decimation=decimation, shifts=[1, 0, 1, 0])
    dut = StreamingFft(cfg)
    re, im = random_frames(cfg, 4, seed=3)
    run = simulate(dut, re, im)
    assert_rtl_equals_model(dut, re, im, run)
    assert run.out_cycles[0] - run.in_cycles[0] == dut.latency
    assert np.all(np.diff(run.in_cycles) == 1)
    assert np.all(np.diff(run.out_cycles) == 1)  # frames back to back: 1 sample per clock
    # the last frame drains without a following frame: latency cycles after its last input
    assert run.out_cycles[-1] - run.in_cycles[-1] == dut.latency


def test_rtl_runs_the_fast_parc_default_configs() -> None:
    """The forward and inverse FFTs of a 16-bit N = 14 Fast-ParC engine, on real layer data."""
    q = quantize_layer(random_layer(14, 2, seed=3), 16, np.random.default_rng(3).normal(0, 1, (64, 2, 14)))
    plan = plan_fast_parc(q)
    xq, _ = quantize_input(q, np.random.default_rng(4).normal(0, 1, (1, 2, 14)))
    trace = fast_parc_int_model(plan, xq)
    for cfg, re, im in [
        (plan.params.forward, trace.frames[0], np.zeros_like(trace.frames[0])),
        (plan.params.inverse, trace.p_re[0], trace.p_im[0]),
    ]:
        dut = StreamingFft(cfg)
        run = simulate(dut, re, im, seed=1, p_gap=0.5)
        assert_rtl_equals_model(dut, re, im, run)
        assert run.final["overflow"] == 0


def test_narrow_unscaled_full_scale_input_raises_sticky_overflow() -> None:
    size = 16
    cfg = FftConfig.create(
        size, 8, shifts=[0, 0, 0, 0], widths=[9, 9, 9, 9], rounding=Rounding.HALF_UP, decimation="dif"
    )
    dut = StreamingFft(cfg)
    re = np.random.default_rng(0).integers(-4, 4, (3, size))  # small frames: no overflow
    re[1] = 127  # full-scale DC grows past 9 bits in stage 1
    im = np.zeros_like(re)
    _, _, ovf = dut.model(re, im)
    assert list(ovf) == [False, True, False]
    run = simulate(dut, re, im, p_gap=0.9)
    assert_rtl_equals_model(dut, re, im, run)
    assert (
        run.final["overflow"] == 1 and run.trace["overflow"][run.in_cycles[size - 1]] == 0
    )  # raised by frame 1, sticky
    # overflow_clear drops it once the saturating frame has left the pipeline
    clear_at = 2 * size + dut.latency + 2
    run = simulate(dut, re, im, clear_at=clear_at)
    assert run.trace["overflow"][clear_at] == 1 and run.final["overflow"] == 0
    assert len(run.trace["overflow"]) > clear_at + 1


def test_wrong_last_sets_frame_error_and_data_still_flows() -> None:
    cfg = FftConfig.create(8, 6, decimation="dit", inverse=True)
    dut = StreamingFft(cfg)
    re, im = random_frames(cfg, 2, seed=5)
    run = simulate(dut, re, im, bad_last_at=3)
    assert run.final["frame_error"] == 1
    np.testing.assert_equal(run.column("data.re"), dut.model(re, im)[0].reshape(-1))


def test_a_missing_sample_enters_as_zero_and_sets_frame_error() -> None:
    # the free-running datapath cannot wait inside a frame: the slot goes on with a 0
    cfg = FftConfig.create(16, 8, decimation="dif", shifts=[1, 1, 1, 1])
    dut = StreamingFft(cfg)
    re, im = random_frames(cfg, 3, seed=9)
    run = simulate(dut, re, im, missing_at=21)
    assert run.final["frame_error"] == 1
    zre, zim = re.copy(), im.copy()
    zre[1, 5] = zim[1, 5] = 0
    want_re, want_im, _ = dut.model(zre, zim)
    np.testing.assert_equal(run.column("data.re"), want_re.reshape(-1))
    np.testing.assert_equal(run.column("data.im"), want_im.reshape(-1))


def test_a_follower_steps_with_its_leader_and_carries_the_tags() -> None:
    """Forward DIF -> inverse DIT, the inverse a follower ``phase`` = forward latency behind:
    gaps stop and restart the leader, frames stay aligned, tags ride along."""
    fwd_cfg = FftConfig.create(16, 8, decimation="dif", shifts=[1, 0, 1, 0])
    inv_cfg = FftConfig.create(16, fwd_cfg.output_bits, decimation="dit", inverse=True, shifts=[1, 1, 1, 1])

    class Chain(wiring.Component):
        def __init__(self) -> None:
            self.fwd = StreamingFft(fwd_cfg, tag_bits=3)
            self.inv = StreamingFft(inv_cfg, tag_bits=3, follower=True, phase=self.fwd.latency)
            self.config, self.latency = fwd_cfg, self.fwd.latency + self.inv.latency
            super().__init__(
                {
                    "i": In(self.fwd.i.signature.flip()),
                    "o": Out(self.inv.o.signature),
                    "overflow": Out(1),
                    "overflow_clear": In(1),
                    "frame_error": Out(1),
                    "tag": Out(3),
                }
            )

        def elaborate(self, platform):
            m = Module()
            m.submodules.fwd, m.submodules.inv = fwd, inv = self.fwd, self.inv
            wiring.connect(m, wiring.flipped(self.i), fwd.i)
            frame = Signal(3)
            with m.If(fwd.i.valid & fwd.i.ready & fwd.i.payload.last):
                m.d.sync += frame.eq(frame + 1)
            m.d.comb += [
                fwd.i_tag.eq(frame),
                inv.i.valid.eq(fwd.o.valid),
                inv.i.payload.eq(fwd.o.payload),
                inv.i_tag.eq(fwd.o_tag),
                inv.step.eq(fwd.step),
                fwd.keep_next.eq(inv.busy_next | fwd.o_valid_next),
                self.o.valid.eq(inv.o.valid),
                self.o.payload.eq(inv.o.payload),
                self.tag.eq(inv.o_tag),
                self.frame_error.eq(fwd.frame_error | inv.frame_error),
            ]
            return m

    dut = Chain()
    re, im = random_frames(fwd_cfg, 5, seed=12)
    run = simulate(dut, re, im, seed=3, p_gap=0.8, gaps={3: 3 * dut.latency})
    r, i, _ = fft_model(fwd_cfg, re, im)
    want_re, want_im, _ = fft_model(inv_cfg, r, i)
    np.testing.assert_equal(run.column("data.re"), want_re.reshape(-1))
    np.testing.assert_equal(run.column("data.im"), want_im.reshape(-1))
    assert run.final["frame_error"] == 0
    assert run.out_cycles[0] - run.in_cycles[0] == dut.latency


# --- model conventions -----------------------------------------------------------------------


def test_orders_and_directions_on_a_hand_example() -> None:
    x = np.array([1, 2, 3, 4, 0, 0, 0, 0])
    fwd = FftConfig.create(8, 6, decimation="dif")
    X = np.fft.fft(x)
    re, im, _ = fft_model(fwd, x)
    rev = bit_reverse_indices(8)
    np.testing.assert_array_equal(rev, [0, 4, 2, 6, 1, 5, 3, 7])
    # the 8-point DFT of [1,2,3,4,0,0,0,0] needs sqrt(2)/2 twiddles: compare after rounding
    np.testing.assert_allclose(re + 1j * im, X[rev], atol=1.0)
    # DIT inverse takes the DIF output order and returns natural order: IDFT(DFT(x)) = 8 x
    inv = FftConfig.create(8, fwd.output_bits, decimation="dit", inverse=True)
    back_re, back_im, _ = fft_model(inv, re, im)
    np.testing.assert_allclose(back_re + 1j * back_im, 8 * x, atol=error_bound(inv, input_error=1.0) + 8)
    # exact on an impulse: every twiddle multiplies 0 or an exact 1
    re, im, _ = fft_model(fwd, np.eye(8, dtype=np.int64)[0] * 5)
    np.testing.assert_array_equal(re, np.full(8, 5))
    np.testing.assert_array_equal(im, np.zeros(8))


def test_twiddle_rom_definition() -> None:
    re, im = twiddle_table(16, 18)
    assert re[0] == 1 << 16 and im[0] == 0
    assert re[4] == 0 and im[4] == -(1 << 16)  # W_16^4 = -j exactly
    np.testing.assert_array_equal(re, np.round(np.cos(2 * np.pi * np.arange(16) / 16) * 2**16))
    ire, iim = twiddle_table(16, 18, inverse=True)
    np.testing.assert_array_equal(ire, re)
    np.testing.assert_array_equal(iim, -im)


def test_stage_is_one_rounding_of_the_exact_butterfly() -> None:
    cfg = FftConfig.create(8, 12, shifts=[1, 1, 1], rounding=Rounding.TRUNCATE)
    rng = np.random.default_rng(1)
    re, im = rng.integers(-2048, 2048, (2, 8)), rng.integers(-2048, 2048, (2, 8))
    r, i, _ = dif_stage(cfg, 0, re, im)
    a, b = re[:, :4] + 1j * im[:, :4], re[:, 4:] + 1j * im[:, 4:]
    wr, wi = cfg.stage_twiddles(0)
    bot = (a - b) * (wr + 1j * wi)
    np.testing.assert_array_equal(r[:, :4], np.floor((a + b).real / 2))
    np.testing.assert_array_equal(r[:, 4:], np.floor(bot.real / 2.0 ** (cfg.twiddle_frac + 1)))
    np.testing.assert_array_equal(i[:, 4:], np.floor(bot.imag / 2.0 ** (cfg.twiddle_frac + 1)))


def test_input_outside_the_format_is_refused() -> None:
    cfg = FftConfig.create(8, 6)
    with pytest.raises(ValueError, match="exceeds"):
        fft_model(cfg, np.full(8, 32))
    with pytest.raises(ValueError, match="integers"):
        fft_model(cfg, np.zeros(8))
    with pytest.raises(ValueError, match="power of two"):
        FftConfig.create(12, 6)


# --- model vs numpy.fft ----------------------------------------------------------------------


@st.composite
def configs(draw) -> FftConfig:
    size = 1 << draw(st.integers(3, 10))
    stages = size.bit_length() - 1
    shifts = draw(st.lists(st.integers(0, 1), min_size=stages, max_size=stages))
    return FftConfig.create(
        size,
        draw(st.integers(4, 16)),
        shifts=shifts,
        twiddle_bits=draw(st.sampled_from([10, 16, 18, 25])),
        rounding=draw(st.sampled_from(list(Rounding))),
        decimation=draw(st.sampled_from(["dif", "dit"])),
        inverse=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["uniform", "extreme", "tone"]))
def test_model_is_within_the_error_bound_of_numpy_fft(cfg: FftConfig, seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    full = 1 << (cfg.input_bits - 1)
    if kind == "uniform":
        re, im = random_frames(cfg, 4, seed)
    elif kind == "extreme":  # only full-scale values: largest growth
        re, im = rng.choice([-full, full - 1], (2, 4, cfg.size))
    else:  # a full-scale tone on one bin: the whole frame adds up coherently
        k = rng.integers(0, cfg.size)
        phase = np.exp(2j * np.pi * k * np.arange(cfg.size) / cfg.size)
        re = np.clip(np.round(phase.real * full), -full, full - 1).astype(np.int64)[None]
        im = np.clip(np.round(phase.imag * full), -full, full - 1).astype(np.int64)[None]
    r, i, ovf = fft_model(cfg, re, im)
    assert not ovf.any(), "default widths can never saturate"
    err = np.abs(r + 1j * i - reference(cfg, re, im))
    assert err.max() <= error_bound(cfg)
    norms = np.linalg.norm(re + 1j * im, axis=-1)
    assert np.all(np.linalg.norm(err, axis=-1) <= error_bound_l2(cfg, norms.max()))


@pytest.mark.parametrize("decimation", ["dif", "dit"])
@pytest.mark.parametrize("shifts", ["scaled", "unscaled"])
def test_error_rms_estimate_matches_measurement(decimation: str, shifts: str) -> None:
    cfg = FftConfig.create(256, 12, shifts=SCHEDULES[shifts](8), decimation=decimation, rounding=Rounding.HALF_EVEN)
    re, im = random_frames(cfg, 64, seed=11)
    r, i, _ = fft_model(cfg, re, im)
    rms = np.sqrt(np.mean(np.abs(r + 1j * i - reference(cfg, re, im)) ** 2))
    assert 0.6 * error_rms(cfg) <= rms <= 1.5 * error_rms(cfg)
    assert rms < error_bound(cfg) / 2


def test_reset_in_mid_frame_leaves_no_stale_overflow_and_restarts_cleanly() -> None:
    # saturating frames are in flight when reset hits; the words they leave in the delay lines
    # are flushed by the next frames, which must neither be corrupted nor raise the flag
    size = 16
    cfg = FftConfig.create(
        size, 8, shifts=[0, 0, 0, 0], widths=[9, 9, 9, 9], rounding=Rounding.HALF_UP, decimation="dif"
    )
    rng = np.random.default_rng(4)
    loud = rng.choice([-128, 127], (2, size))
    quiet_re, quiet_im = rng.integers(-4, 4, (3, size)), rng.integers(-4, 4, (3, size))
    assert fft_model(cfg, loud)[2].all() and not fft_model(cfg, quiet_re, quiet_im)[2].any()

    class Top(Elaboratable):
        def __init__(self) -> None:
            self.dut = StreamingFft(cfg)
            self.cd = ClockDomain("sync")

        def elaborate(self, platform):
            m = Module()
            m.domains.sync = self.cd
            m.submodules.dut = self.dut
            return m

    top = Top()
    dut = top.dut
    out: list[tuple[int, int]] = []
    flags: list[int] = []

    async def bench(ctx) -> None:
        samples = [(int(v), 0) for v in loud.reshape(-1)][: size + size // 2 + 5]  # reset inside frame 1
        for re, im in samples:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload.data.re, re)
            ctx.set(dut.i.payload.data.im, im)
            while not ctx.get(dut.i.ready):
                await ctx.tick()
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        assert ctx.get(dut.overflow) == 1  # the loud frame already saturated stage 1
        ctx.set(top.cd.rst, 1)
        await ctx.tick()
        ctx.set(top.cd.rst, 0)
        flags.append(ctx.get(dut.overflow))
        queue = list(zip(quiet_re.reshape(-1), quiet_im.reshape(-1), strict=True))
        for _ in range(20 * size + 4 * dut.latency):
            ctx.set(dut.i.valid, bool(queue))
            if queue:
                ctx.set(dut.i.payload.data.re, int(queue[0][0]))
                ctx.set(dut.i.payload.data.im, int(queue[0][1]))
                ctx.set(dut.i.payload.last, int(len(queue) % size == 1))
                if ctx.get(dut.i.ready):
                    queue.pop(0)
            if ctx.get(dut.o.valid):
                out.append((ctx.get(dut.o.payload.data.re), ctx.get(dut.o.payload.data.im)))
            await ctx.tick()
        flags.append(ctx.get(dut.overflow))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want_re, want_im, _ = fft_model(cfg, quiet_re, quiet_im)
    np.testing.assert_array_equal(np.array(out), np.stack([want_re.reshape(-1), want_im.reshape(-1)], axis=1))
    assert flags == [0, 0]
