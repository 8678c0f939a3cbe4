"""``--acc-bits`` and ``--bias-bits`` (issue 15, hls4ml-style separate widths).

A narrow accumulator (`golden.quant.ParcFormat.acc_sat_bits`) saturates the sum of products and
offset before the output shift, in every golden model and every engine; a bias width gives the
bias a power-of-two format of its own (`golden.quant.quantize_layer`, ``bias_bits``), which only
changes the offset ROM. These tests hold: the golden properties (saturation happens and is
counted, K = exact is the exact accumulator, the bias format is the documented one), the RTL of
all three engines bit-exact against the golden models with the accumulator really saturating,
the latency property of the engines that gained a clamp, the CLI and manifest records, and that
a design without the options is exactly the one built before them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from amaranth_streams import StreamSink, StreamSource, frame_lasts, run_stream, run_streams
from test_cli_errors import assert_one_line_refusal, run_command

from golden.cli import UserError
from golden.direct import acc_saturated_per_channel, accumulate, direct_model, per_channel_count
from golden.fast_parc_int import FastParcTrace, FftParams, fast_parc_int_model, plan_fast_parc
from golden.fixed import Rounding, frac_for_range, requantize, saturate
from golden.native_fft import NativeParams, NativeTrace, native_model, plan_native
from golden.parc import circulant
from golden.quant import FloatLayer, ParcFormat, quantize_input, quantize_layer, random_layer
from hw.design import DesignSpec, build_design
from hw.direct import DirectEngine
from hw.generate import main as generate_main
from hw.requantizer import AccSaturator
from sim.batch import run_batch
from sim.scenarios import expected_frames

N, C, SEED = 7, 3, 1  # seed 1: output shifts 9, 10, 10 (per-channel clamp widths in the FFT engines)
NARROW = 15  # the exact accumulator is 22 bits at N = 7, 8 bits; full-scale rows need 17


def full_scale_rows(q, frames: int, seed: int = 0) -> np.ndarray:
    """(frames, N) input rows: mostly +-full scale (the accumulator saturates), some uniform."""
    fmt = q.fmt.data
    rng = np.random.default_rng(seed)
    rows = rng.choice([fmt.min_int, fmt.max_int], size=(frames, q.fmt.n))
    rows[::3] = rng.integers(fmt.min_int, fmt.max_int + 1, size=rows[::3].shape)
    return rows


def grouped(q, rows: np.ndarray) -> np.ndarray:
    return rows.reshape(-1, q.channels, q.fmt.n)


def unelaborated(engine: DirectEngine) -> DirectEngine:
    """An engine asked only for its properties (no "never used" warning)."""
    engine._MustUse__silence = True
    return engine


# --------------------------------------------------------------------------- golden: --acc-bits


def test_narrow_accumulator_saturates_before_the_shift_and_is_counted() -> None:
    layer = random_layer(N, C, SEED)
    exact, narrow = quantize_layer(layer, 8), quantize_layer(layer, 8, acc_bits=NARROW)
    x = grouped(exact, full_scale_rows(exact, 60))
    acc = accumulate(exact, x)
    clamped, hit = saturate(acc, NARROW)
    want, _ = requantize(clamped, exact.shift[:, None], 8, exact.fmt.rounding, True)
    np.testing.assert_array_equal(direct_model(narrow, x)[0], want)
    counts = acc_saturated_per_channel(narrow, x)
    np.testing.assert_array_equal(counts, per_channel_count(narrow, hit))
    assert np.all(counts > 0), counts
    assert not np.array_equal(direct_model(narrow, x)[0], direct_model(exact, x)[0])
    assert not acc_saturated_per_channel(exact, x).any()


@pytest.mark.parametrize("rounding", list(Rounding))
def test_acc_bits_of_output_plus_shift_cost_nothing_when_the_output_saturates(rounding: Rounding) -> None:
    """``K >= output.bits + shift[c]``: a value the clamp changes saturates the output anyway
    (docs/number-formats.md section 5), so the outputs are the exact accumulator's; one bit
    less is not free."""
    layer = random_layer(N, C, SEED)
    calib = np.random.default_rng(6).normal(0, 0.2, (64, C, N))  # an output format full-scale rows overrun
    exact = quantize_layer(layer, 8, calib, rounding=rounding)
    x = grouped(exact, full_scale_rows(exact, 60, seed=6))
    k = 8 + int(exact.shift.max())
    free = quantize_layer(layer, 8, calib, rounding=rounding, acc_bits=k)
    assert acc_saturated_per_channel(free, x).any(), "test setup: nothing saturates"
    np.testing.assert_array_equal(direct_model(free, x)[0], direct_model(exact, x)[0])
    tight = quantize_layer(layer, 8, calib, rounding=rounding, acc_bits=k - 1)
    assert not np.array_equal(direct_model(tight, x)[0], direct_model(exact, x)[0])


@pytest.mark.parametrize("model", ["direct", "padded", "native"])
def test_acc_bits_equal_to_the_exact_width_is_the_exact_accumulator(model: str) -> None:
    layer = random_layer(N, C, SEED)
    exact = quantize_layer(layer, 8)
    same = quantize_layer(layer, 8, acc_bits=exact.fmt.acc_bits)
    x = grouped(exact, full_scale_rows(exact, 60, seed=2))
    if model == "direct":
        np.testing.assert_array_equal(direct_model(same, x)[0], direct_model(exact, x)[0])
        assert not acc_saturated_per_channel(same, x).any()
        assert unelaborated(DirectEngine(same)).clamp_bits is None  # provably idle: not built, no cycles
    else:
        run = (
            (lambda q: fast_parc_int_model(plan_fast_parc(q), x))
            if model == "padded"
            else (lambda q: native_model(plan_native(q), x))
        )
        a, b = run(exact), run(same)
        np.testing.assert_array_equal(a.y, b.y)
        assert not b.acc_saturated.any()


@pytest.mark.parametrize("model", ["padded", "native"])
def test_fft_models_saturate_the_aligned_accumulator_with_its_fraction_bits(model: str) -> None:
    """With guard bits above the output shifts, the FFT models' accumulator carries ``-e0``
    bits below the accumulator LSB (per channel); the clamp keeps them: ``K - e0`` bits."""
    q = quantize_layer(random_layer(N, C, SEED), 8, acc_bits=NARROW)
    x = grouped(q, full_scale_rows(q, 60, seed=3))
    if model == "padded":
        padded = plan_fast_parc(q, FftParams.default(N, 8, guard_bits=12))
        padded_trace = fast_parc_int_model(padded, x)
        y_shift, off_shift, final = padded.align
        v = (padded_trace.o_re[..., :N] << y_shift[:, None]) + (q.offset << off_shift[:, None])
        trace: FastParcTrace | NativeTrace = padded_trace
    else:
        native = plan_native(q, NativeParams.default(N, 8, guard_bits=12))
        native_trace = native_model(native, x)
        _, off_shift, final = native.align
        v, trace = native_trace.acc, native_trace
    assert len(set(off_shift.tolist())) > 1, "test setup: no per-channel fraction bits"
    clamped, hit = saturate(v, NARROW + off_shift[:, None])
    np.testing.assert_array_equal(trace.acc_saturated, hit)
    assert per_channel_count(q, hit).min() > 0
    want, _ = requantize(clamped, final[:, None], 8, q.fmt.rounding, True)
    np.testing.assert_array_equal(trace.y, want)
    # the FFT result stays within an LSB or two of the direct engine's, saturating alike
    assert np.abs(trace.y - direct_model(q, x)[0]).max() <= 2


def test_acc_bits_are_checked() -> None:
    layer = random_layer(N, C, SEED)
    with pytest.raises(UserError, match=r"acc_bits 23 is wider than the exact accumulator \(22 bits"):
        quantize_layer(layer, 8, acc_bits=23)
    with pytest.raises(UserError, match="acc_bits 7 is narrower than the 8-bit output"):
        quantize_layer(layer, 8, acc_bits=7)
    assert quantize_layer(layer, 8, acc_bits=8, output_bits=8).fmt.acc_sat_bits == 8


# --------------------------------------------------------------------------- golden: --bias-bits


def test_bias_bits_quantize_in_a_format_of_their_own() -> None:
    rng = np.random.default_rng(4)
    weight = rng.normal(0, 0.1, (4, N))
    bias = np.array([0.3, -0.0123, 5e-6, -0.7])
    layer = FloatLayer.create(weight, rng.normal(0, 0.1, (4, N)), bias)
    base = quantize_layer(layer, 8)
    for k in (4, 6, 10):
        q = quantize_layer(layer, 8, bias_bits=k)
        assert q.fmt.bias_bits == k and q.fmt == ParcFormat(**{**vars(base.fmt), "bias_bits": k})
        own = np.array([frac_for_range(abs(b), k) for b in bias])
        bias_frac = q.bias_frac
        assert bias_frac is not None
        np.testing.assert_array_equal(bias_frac, np.minimum(own, q.acc_frac))  # never finer than the acc
        np.testing.assert_array_equal(q.bias_align, q.acc_frac - bias_frac)
        ints = q.bias >> q.bias_align
        np.testing.assert_array_equal(ints << q.bias_align, q.bias)  # an exact alignment
        assert np.all(np.abs(ints) <= 2 ** (k - 1))
        error = np.abs(np.ldexp(q.bias.astype(float), -q.acc_frac) - bias)
        assert np.all(error <= np.ldexp(0.5, -bias_frac)), (k, error)
        # weights, PE and formats are the default's: only the bias (and the offset ROM) changed
        np.testing.assert_array_equal(q.weight, base.weight)
        np.testing.assert_array_equal(q.pe, base.pe)
        np.testing.assert_array_equal(q.offset - q.bias[:, None], base.offset - base.bias[:, None])


def test_bias_bits_saturate_in_their_format_and_are_counted() -> None:
    """127.7 LSBs of a 8-bit bias rounds onto 128: saturated to 127 and counted; a bias too
    large for the bias's share of the accumulator saturates in its format too."""
    weight = np.full((2, N), 0.01)
    layer = FloatLayer.create(weight, None, np.array([127.7 / 2**9, 1e9]))
    q = quantize_layer(layer, 8, bias_bits=8, output_frac=0)
    assert q.saturated["bias"] == 2
    assert int(q.bias[0] >> q.bias_align[0]) == 127 and q.bias_frac is not None and q.bias_frac[0] == 9
    assert int(q.bias[1] >> q.bias_align[1]) == 127  # its format's top, aligned
    assert int(q.bias[1]) < 2 ** (q.fmt.acc_bits - 3)


def test_exact_pe_offset_folds_the_quantized_bias() -> None:
    layer = random_layer(N, C, SEED)
    q = quantize_layer(layer, 8, bias_bits=5, pe_offset="exact")
    corr = np.einsum("cij,cj->ci", circulant(q.weight).astype(float), np.ldexp(layer.pe, int(q.fmt.data.frac)))
    want = np.round(corr + q.bias[:, None]).astype(np.int64)  # half-even, as the layer rounds
    np.testing.assert_array_equal(q.offset, want)


def test_float_error_bound_covers_the_coarser_bias() -> None:
    """`QuantizedLayer.float_error_bound` grows by the bias format's LSB (``2**bias_align``
    accumulator LSBs), and holds on inputs that saturate nothing."""
    layer = random_layer(N, C, SEED)
    rng = np.random.default_rng(8)
    for k in (None, 4):
        q = quantize_layer(layer, 8, bias_bits=k)
        xi, _ = quantize_input(q, rng.normal(0, 0.5, (200, C, N)))
        y, saturated = direct_model(q, xi)
        assert not saturated.any()
        error = np.abs(q.dequantize_output(y) - layer.forward(xi * q.fmt.data.lsb)) / q.output_lsb[:, None]
        assert np.all(error.max(axis=(0, 2)) <= q.float_error_bound()), k
    assert np.all(q.bias_align > 0), "test setup: the 4-bit bias is not coarser than the accumulator"


def test_acc_saturator_block_equals_its_model() -> None:
    """`hw.requantizer.AccSaturator` alone, under bubbles and backpressure: one width per
    channel (two of them equal, one at the input's width, which never clamps)."""
    rng = np.random.default_rng(9)
    dut = AccSaturator(18, [9, 12, 9, 18])
    channels = rng.integers(0, 4, 300)
    values = rng.integers(-(1 << 17), 1 << 17, 300) >> rng.integers(0, 12, 300)
    beats = [{"value": int(v), "channel": int(c), "last": int(c == 3)} for v, c in zip(values, channels, strict=True)]
    source = StreamSource(dut.i, beats, rng, 0.7, name="AccSaturator.i")
    sink = StreamSink(dut.o, rng, 0.6, name="AccSaturator.o")
    run_streams(dut, [source], {sink: len(beats)}, drain=4)
    want, clipped = dut.model(values, channels)
    assert clipped.any() and not clipped[channels == 3].any()
    np.testing.assert_array_equal(sink.column("value"), want)
    np.testing.assert_array_equal(sink.column("channel"), channels)
    assert dut.out_bits == 18


def test_bias_bits_are_checked() -> None:
    layer = random_layer(N, C, SEED)
    for bad in (3, 21, 4.0):
        with pytest.raises(UserError, match=r"bias_bits must be in 4\.\.20"):
            quantize_layer(layer, 8, bias_bits=bad)  # type: ignore[arg-type]


def test_default_formats_are_unchanged() -> None:
    """Without the options nothing new is written: dicts, manifests and Verilog of earlier
    designs stay byte-identical (checked against the main branch when this was written)."""
    layer = random_layer(N, C, SEED)
    q = quantize_layer(layer, 8)
    assert set(q.fmt.to_dict()) == {"n", "data", "output", "weight_bits", "pe_bits", "acc_bits", "rounding", "saturate"}
    assert "bias_frac" not in q.to_dict()
    both = quantize_layer(layer, 8, acc_bits=16, bias_bits=6)
    assert ParcFormat.from_dict(both.fmt.to_dict()) == both.fmt
    design = build_design(DesignSpec(n=N, weights="random", channels=C, seed=SEED))
    manifest = design.manifest("x.v")
    assert "acc_sat_bits" not in manifest and "bias_bits" not in manifest["scales"]
    explicit = build_design(DesignSpec(n=N, weights="random", channels=C, seed=SEED, acc_bits=None, bias_bits=None))
    assert explicit.verilog() == design.verilog()
    assert "acc_saturator" not in design.verilog()


# --------------------------------------------------------------------------- RTL


RTL_CASES: dict[
    str, dict[str, Any]
] = {  # DesignSpec fields; the FFT engines with guard bits above the output shifts, so that
    # their accumulator carries fraction bits below the accumulator LSB (per-channel clamp widths)
    "direct": {"arch": "direct"},
    "padded-wrap": {"arch": "fft", "overflow": "wrap", "options": {"fft_impl": "padded", "guard_bits": 12}},
    "native-half-up": {"arch": "fft", "rounding": "half-up", "options": {"fft_impl": "native", "guard_bits": 12}},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(RTL_CASES))
def test_rtl_with_narrow_accumulator_and_bias_bits_is_bit_exact(case: str) -> None:
    spec = DesignSpec(n=N, weights="random", channels=C, seed=SEED, acc_bits=NARROW, bias_bits=5, **RTL_CASES[case])
    arch = spec.arch
    design = build_design(spec)
    q = design.layer
    rows = full_scale_rows(q, 60, seed=5)
    want = expected_frames(design, rows)
    if arch == "direct":
        assert acc_saturated_per_channel(q, grouped(q, rows)).min() > 0, "test setup: nothing saturates"
    else:
        assert len(set(design.engine.clamp_bits)) > 1, "test setup: no per-channel fraction bits below the acc LSB"
        assert design.engine.trace(grouped(q, rows)).acc_saturated.any(), "test setup: nothing saturates"
    assert not np.array_equal(want, expected_frames(build_design(DesignSpec(**{**vars(spec), "acc_bits": None})), rows))
    result = run_batch(design, rows, bubble=0.2, backpressure=0.3, seed=7)
    np.testing.assert_array_equal(result.output, want)
    assert result.lasts_ok


@pytest.mark.parametrize("parallel", [7, 3], ids=["P7", "P3-folded"])
def test_direct_latency_with_the_clamp_is_as_documented(parallel: int) -> None:
    """The clamp adds its two registers to ``latency``, and the first output comes then
    (Amaranth simulation of the engine, bit-exact as well)."""
    q = quantize_layer(random_layer(N, 2, SEED), 8, acc_bits=NARROW)
    engine = DirectEngine(q, parallel)
    exact = unelaborated(DirectEngine(quantize_layer(random_layer(N, 2, SEED), 8), parallel))
    assert engine.latency == exact.latency + 2
    rows = full_scale_rows(q, 4, seed=parallel)
    flat = rows.reshape(-1)
    run = run_stream(engine, {"data": flat, "last": frame_lasts(flat.size, N)}, ("data",), expect=flat.size)
    np.testing.assert_array_equal(run.column("data"), engine.model(grouped(q, rows)).reshape(-1))
    assert run.out_cycles[0] - run.in_cycles[N - 1] == engine.latency


@pytest.mark.parametrize("impl", ["padded", "native"])
def test_fft_engines_count_the_clamp_in_their_latency(impl: str) -> None:
    """The bit-exact batch runs above say nothing of timing; the benches of
    tests/test_fft_sim.py and tests/test_native_engine.py measure ``latency`` of the same
    output pipeline, which the clamp lengthens by its two registers."""
    spec = DesignSpec(arch="fft", n=N, weights="random", channels=C, seed=SEED, options={"fft_impl": impl})
    exact, narrow = build_design(spec), build_design(DesignSpec(**{**vars(spec), "acc_bits": NARROW}))
    assert narrow.engine.latency == exact.engine.latency + 2


# --------------------------------------------------------------------------- CLI, manifest, config


def test_generate_records_both_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = tmp_path / "design.toml"
    config.write_text(
        f'n = {N}\nweights = "random"\nchannels = {C}\nacc-bits = {NARROW}\nbias_bits = 6\nno-lint = true\n'
    )
    assert generate_main(["--config", str(config), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["top"] == f"parc_direct_n{N}_b8_a{NARROW}_bb6"
    assert (manifest["acc_bits"], manifest["acc_sat_bits"]) == (22, NARROW)
    assert manifest["latency_cycles"] == build_design(DesignSpec(n=N, weights="random", channels=C)).engine.latency + 2
    scales = manifest["scales"]
    assert scales["bias_bits"] == 6 and len(scales["bias_frac"]) == C
    assert all(f <= 5 + w for f, w in zip(scales["bias_frac"], manifest["weight_frac"], strict=True))
    assert (out / f"parc_direct_n{N}_b8_a{NARROW}_bb6.v").exists()


@pytest.mark.parametrize(
    "command, argv, words",
    [
        ("hw.generate", ["--acc-bits", "23"], ("--acc-bits 23", "exact accumulator (22 bits")),
        ("hw.generate", ["--acc-bits", "6"], ("--acc-bits 6", "8-bit output")),
        ("hw.generate", ["--acc-bits", "x"], ("--acc-bits",)),
        ("hw.generate", ["--bias-bits", "21"], ("--bias-bits", "4..20")),
        ("hw.generate", ["--bias-bits", "0"], ("--bias-bits", "4..20")),
        ("sim.run", ["--acc-bits", "40"], ("--acc-bits 40", "22 bits")),
    ],
)
def test_bad_widths_are_one_line_exit_2(
    command: str, argv: list[str], words: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    code, out, err = run_command(command, ["--n", str(N), "--weights", "random", *argv], capsys)
    assert_one_line_refusal(code, out, err, words, command)
    assert not any(tmp_path.iterdir()), "a refused command wrote something"
