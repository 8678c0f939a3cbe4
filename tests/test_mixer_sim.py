"""The token mixer (`hw.mixer.ParcMixer`) in cocotb: bit-exact against `golden.mixer`, beat for beat.

The trained checkpoint's mixers of stages 0, 1 and 2 (56×56×16, 28×28×32, 14×14×64) at 8 bits,
direct and FFT, calibrated on real activations (the blocks' inputs on training digits, saved
as the ``.npy`` that ``--calibration`` reads) and driven with held-out digits' activations,
through `sim.run.simulate` exactly as ``python -m sim.run`` does: whole maps back to back,
a reset in the middle of a map, early and missing tlast, all under random input bubbles
and output backpressure, every output beat compared and ``frame_errors`` checked.

One map is 50 176 beats at stage 0, so a case costs a Verilator build of a design with four
corner-turn RAMs and about 10^5 simulated cycles per map (stage 0's 2-map stream alone is
about 4 CPU minutes): CI runs every scenario on the small synthetic checkpoint below; the
trained stages are ``long``: stage 2's direct mixer on a 2-map stream (12 544-beat maps of 64
channels, real activations; about a minute of CPU, moved out of CI for its 20-minute budget)
and the whole (stage, arch) matrix with every scenario
(``python -m pytest -m long tests/test_mixer_sim.py``). A synthetic
7×14 block (H ≠ W, so a transposed axis cannot pass) runs under Icarus too, where an X on a
valid output fails the run (`tests/test_icarus_crosscheck.py`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simutil import assert_bit_exact, engine_name, require_icarus

from hw.design import DesignSpec
from hw.mixer_design import MixerDesign, build_layer_design
from sim.mixer_scenarios import golden_engine, stimulus_maps
from sim.run import SimOptions, SimResult, simulate

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "weights" / "parc" / "model.pt"
STAGES = (0, 1, 2)
ARCHS = ("direct", "fft")
ALL = ("stream", "reset", "tlast")
CI_CASE = (2, "direct", ("stream",))  # stage 2's 2-map stream, the cheapest trained case (long too: module docstring)
MAPS = 2  # maps in the stream scenario
BACKPRESSURE, BUBBLE = 0.3, 0.1
CALIBRATION_DIGITS, TEST_DIGITS = 8, 4


@pytest.fixture(scope="module")
def activations(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[str, np.ndarray]]:
    """Per stage: the ``.npy`` of its block's mixer input on training digits (calibration) and
    the float maps on held-out test digits (stimulus)."""
    torch = pytest.importorskip("torch")
    from golden import parc_net as pn

    torch.set_num_threads(1)
    model = pn.load_model(TRAINED)
    split = pn.load_split(pn.read_provenance(TRAINED)["data"]["split_seed"])
    blocks = {k: f"stages.{k}.0" for k in STAGES}
    train = pn.place_digits(split.train_images[:CALIBRATION_DIGITS], np.random.default_rng([0, 8]))
    calibration = pn.capture_mixer_inputs(model, train, blocks.values())
    test = pn.capture_mixer_inputs(model, pn.test_canvases(split)[:TEST_DIGITS], blocks.values())
    folder = tmp_path_factory.mktemp("mixer_calibration")
    out = {}
    for k, block in blocks.items():
        path = folder / f"stage{k}.npy"
        np.save(path, calibration[block])
        out[k] = (str(path), test[block])
    return out


def trained_mixer(stage: int, arch: str, calibration: str) -> MixerDesign:
    spec = DesignSpec(
        weights=str(TRAINED), layer=f"stages.{stage}.0", n=56 >> stage, arch=arch, bits=8, calibration=calibration
    )
    design = build_layer_design(spec)
    assert isinstance(design, MixerDesign), f"stages.{stage}.0 did not build a mixer"
    return design


def check_mixer_run(design: MixerDesign, result: SimResult, stimulus: np.ndarray | None, seed: int) -> None:
    """Bit-exact, and what the scenarios were built to show did happen: every stream map
    came out, the malformed maps were counted, the reset's check saw a whole map before the
    reset, the mixer kept up with the sink, and its saturation counter equals the golden one."""
    assert_bit_exact(result)
    name = f"mixer {design.top_name}: {engine_name(result)}"
    length = design.engine.length
    per = result.scenarios
    assert result.kind == "mixer" and result.frame_samples == length, name
    assert per["stream"]["compared"] == MAPS * length, f"{name}: stream compared {per['stream']['compared']}"
    if "tlast" in per:
        assert per["tlast"]["expected_frame_errors"] == 2 == per["tlast"]["frame_errors"], f"{name}: malformed maps"
    if "reset" in per:  # the reset falls late enough that the first map's output is out before it (reset_mid_map)
        assert per["reset"]["compared"] >= 2 * length, f"{name}: reset compared {per['reset']['compared']}"
    assert result.cycles_per_sample is not None
    assert result.cycles_per_sample <= 1.05 / (1 - BACKPRESSURE), f"{name}: {result.cycles_per_sample} cycles/element"
    maps = stimulus_maps(design, MAPS, np.random.default_rng(seed), stimulus)  # the stream scenario's maps
    _, saturated = golden_engine(design).run(maps)
    assert per["stream"]["status"]["saturations"] == int(saturated.sum()), f"{name}: saturation count"


CASES = [
    pytest.param(*CI_CASE, id=f"stage{CI_CASE[0]}-{CI_CASE[1]}-stream", marks=pytest.mark.long),
    *(
        pytest.param(stage, arch, ALL, id=f"stage{stage}-{arch}", marks=pytest.mark.long)
        for stage in STAGES
        for arch in ARCHS
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("stage, arch, scenarios", CASES)
def test_trained_mixer_is_bit_exact_under_backpressure(
    activations: dict[int, tuple[str, np.ndarray]], stage: int, arch: str, scenarios: tuple[str, ...]
) -> None:
    calibration, test = activations[stage]
    design = trained_mixer(stage, arch, calibration)
    options = SimOptions(frames=MAPS, seed=stage, backpressure=BACKPRESSURE, bubble=BUBBLE, scenarios=scenarios)
    result = simulate(design, options, stimulus=test)
    check_mixer_run(design, result, test, stage)
    assert np.abs(test).max() > 0.1, "the stimulus is real activations, not an empty background"


def synthetic_checkpoint(path: Path, channels: int = 4, height: int = 7, width: int = 14) -> Path:
    """A ParC-ConvNeXt block ``blk`` (state_dict .npz) with H ≠ W: same seed, same Verilog, one build."""
    rng = np.random.default_rng(0)
    half = channels // 2
    state = {}
    for d, n in {"H": height, "W": width}.items():
        shape = (half, 1, n, 1) if d == "H" else (half, 1, 1, n)
        pe_shape = (1, half, n, 1) if d == "H" else (1, half, 1, n)
        state[f"blk.gcc_{d}.gcc_conv.weight"] = rng.normal(size=shape) / np.sqrt(n)
        state[f"blk.gcc_{d}.gcc_conv.bias"] = rng.normal(size=half) / 4
        state[f"blk.gcc_{d}.pe"] = rng.normal(size=pe_shape) / 4
    np.savez(path, allow_pickle=False, **state)
    return path


SYNTHETIC_CASES = [
    pytest.param(arch, simulator, id=f"{arch}-{simulator}", marks=() if arch == "direct" else pytest.mark.long)
    for arch in ARCHS
    for simulator in ("verilator", "icarus")
]  # CI: the direct mixer; the FFT mixer runs in CI through the latency test's stream


@pytest.mark.slow
@pytest.mark.parametrize("arch, simulator", SYNTHETIC_CASES)
def test_synthetic_non_square_mixer(tmp_path: Path, arch: str, simulator: str) -> None:
    """A 7×14×4 block with Gaussian maps (some full-scale elements: saturation happens),
    every scenario; under Icarus an X on a valid output beat fails the run."""
    if simulator == "icarus":
        require_icarus()
    weights = synthetic_checkpoint(tmp_path / "blk.npz")
    design = build_layer_design(DesignSpec(weights=str(weights), layer="blk", n=7, arch=arch, bits=8))
    assert isinstance(design, MixerDesign)
    seed = 5
    result = simulate(
        design, SimOptions(frames=MAPS, seed=seed, backpressure=BACKPRESSURE, bubble=BUBBLE, simulator=simulator)
    )
    check_mixer_run(design, result, None, seed)
    assert result.simulator == simulator


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch",
    # the FFT case's Verilator build is CI's cost; `tests/test_mixer_hw.py` checks the same bound in Python
    [pytest.param(a, marks=() if a == "direct" else pytest.mark.long) for a in ARCHS],
)
def test_mixer_streams_one_element_per_clock_within_its_latency(tmp_path: Path, arch: str) -> None:
    """No bubbles, no backpressure: the stream leaves at `ParcMixer.elements_per_clock` (1)
    and its first element no later than `ParcMixer.latency` cycles after the first went in
    (exact for the direct engine; an upper bound for the FFT engines, module docstring there)."""
    weights = synthetic_checkpoint(tmp_path / "blk.npz")
    design = build_layer_design(DesignSpec(weights=str(weights), layer="blk", n=7, arch=arch, bits=8))
    assert isinstance(design, MixerDesign)
    result = simulate(design, SimOptions(frames=4, seed=1, backpressure=0, bubble=0, scenarios=("stream",)))
    assert_bit_exact(result)
    stream = result.scenarios["stream"]
    measured = stream["first_output_cycle"] - stream["first_input_cycle"]
    latency = design.engine.latency
    name = f"mixer {design.top_name}"
    assert (measured == latency) if arch == "direct" else (latency - 64 <= measured <= latency), (
        f"{name}: first output {measured} cycles after the first input; stated latency {latency}"
    )
    assert result.cycles_per_sample is not None
    assert result.cycles_per_sample <= 1.001 / design.engine.elements_per_clock, (
        f"{name}: {result.cycles_per_sample} cycles/element"
    )
