"""Every command answers bad input with one line on stderr and exit status 2 (golden.cli).

Each probe runs the command in-process inside a fresh working folder that holds a sentinel
file, and checks the whole contract: exit status 2, exactly one line on stderr naming the
problem, no traceback, the sentinel untouched and nothing else left behind.
"""

from __future__ import annotations

import importlib
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SENTINEL = "keep-me.txt"
COMMANDS = {
    "hw.generate": "hw.generate",
    "sim.run": "sim.run",
    "golden.weights": "golden.weights",
    "golden.export": "golden.export",
    "scripts.report": "scripts.report",
    "scripts.synth": "scripts.synth",
    "scripts.bench": "scripts.bench",
    "scripts.train": "scripts.train",
}


def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / SENTINEL).write_text("user data\n")
    (work / "notes.txt").write_text("this is not a weight file\n")
    np.savez(work / "list_meta.npz", weight=np.ones((2, 7)), meta=np.array("[1, 2, 3]"))
    np.save(work / "calib_5.npy", np.zeros((3, 4, 5)))
    (work / "broken.toml").write_text("n = \n")
    (work / "unknown.toml").write_text("n = 7\nfrobnicate = 1\n")
    (work / "flag.toml").write_text("n = 7\nno-lint = 3\n")
    (work / "range.toml").write_text("n = 7\nweights = 'random'\nweight-bits = 2\n")
    (work / "acc.toml").write_text("n = 7\nweights = 'random'\nacc-bits = 30\n")
    np.save(work / "calib_nan.npy", np.full((3, 4, 7), np.nan))
    monkeypatch.chdir(work)
    # Simulator builds and caches must not land in the working folder either.
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(tmp_path / "build"))
    return work


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_command(command: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    main = importlib.import_module(COMMANDS[command]).main
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits through SystemExit; the status is what counts
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


LONG_NAME = "a" * 300
TRAINED = str(Path(__file__).resolve().parent.parent / "weights" / "parc" / "model.pt")

# (command, argv, words the one error line must contain)
PROBES: list[tuple[str, list[str], tuple[str, ...]]] = [
    # hw.generate: options
    ("hw.generate", [], ("--n",)),
    ("hw.generate", ["--n", "x"], ("--n",)),
    ("hw.generate", ["--n", "1", "--weights", "random"], ("N",)),
    ("hw.generate", ["--n", "5000", "--weights", "random"], ("N", "1024")),
    ("hw.generate", ["--n", "7", "--bits", "3", "--weights", "random"], ("bits",)),
    ("hw.generate", ["--n", "7", "--bits", "99", "--weights", "random"], ("bits",)),
    ("hw.generate", ["--n", "7", "--arch", "nope", "--weights", "random"], ("arch",)),
    ("hw.generate", ["--n", "7", "--channels", "0", "--weights", "random"], ("channels",)),
    ("hw.generate", ["--n", "7", "--parallel", "0", "--weights", "random"], ("parallel",)),
    ("hw.generate", ["--n", "7", "--parallel", "8", "--weights", "random"], ("parallel",)),
    ("hw.generate", ["--n", "7", "--arch", "fft", "--parallel", "2", "--weights", "random"], ("--parallel",)),
    ("hw.generate", ["--n", "7", "--guard-bits", "3", "--weights", "random"], ("--guard-bits", "fft")),
    ("hw.generate", ["--n", "7", "--name", "module", "--weights", "random"], ("--name", "keyword")),
    ("hw.generate", ["--n", "7", "--name", "1abc", "--weights", "random"], ("--name",)),
    ("hw.generate", ["--n", "7", "--name", "top-level", "--weights", "random"], ("--name",)),
    ("hw.generate", ["--n", "7", "--name", LONG_NAME, "--weights", "random"], ("--name",)),
    ("hw.generate", ["--n", "7", "--arch", "fft", "--input-shift", "-1", "--weights", "random"], ("--input-shift",)),
    (
        "hw.generate",
        ["--n", "7", "--arch", "fft", "--headroom-bits", "60", "--weights", "random"],
        ("--headroom-bits",),
    ),
    # hw.generate: --fft-impl (hw.generate.add_fft_arguments, shared with sim.run)
    (
        "hw.generate",
        ["--n", "13", "--arch", "fft", "--fft-impl", "native", "--weights", "random"],
        ("--fft-impl native", "N=13", "--fft-impl padded"),
    ),
    (
        "hw.generate",
        ["--n", "7", "--arch", "fft", "--fft-impl", "bogus", "--weights", "random"],
        ("--fft-impl", "bogus"),
    ),
    (
        "hw.generate",
        ["--n", "56", "--arch", "fft", "--fft-impl", "native", "--fft-size", "128", "--weights", "random"],
        ("--fft-size", "padded only"),
    ),
    ("hw.generate", ["--n", "7", "--fft-impl", "padded", "--weights", "random"], ("--fft-impl", "--arch fft only")),
    ("hw.generate", ["--n", "7", "--target", "bogus", "--weights", "random"], ("--target", "bogus", "ecp5")),
    # hw.generate: scales (issue 15)
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration", "missing.npy"], ("--calibration", "missing")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration", "notes.txt"], ("--calibration", ".npy")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration", "list_meta.npz"], ("--calibration", ".npz")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration", "calib_5.npy"], ("--calibration", "4, 7")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration", "calib_nan.npy"], ("--calibration", "finite")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--calibration-rule", "bogus"], ("--calibration-rule",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--out-scale", "bogus"], ("--out-scale",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--in-scale", "bogus"], ("--in-scale",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--data-frac", "x"], ("--data-frac", "auto")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--out-frac", "5000"], ("--out-frac", "960")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--out-frac", "40"], ("--out-frac", "finer")),
    (
        "hw.generate",
        ["--n", "7", "--weights", "random", "--percentile", "99"],
        ("--percentile", "--calibration-rule percentile"),
    ),
    (
        "hw.generate",
        ["--n", "7", "--weights", "random", "--calibration-rule", "percentile", "--percentile", "101"],
        ("--percentile", "(0, 100]"),
    ),
    ("hw.generate", ["--n", "7", "--weights", "random", "--in-scale", "per-channel"], ("--in-scale", "--calibration")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--pe-offset", "bogus"], ("--pe-offset",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--weight-bits", "3"], ("--weight-bits", "4..24")),
    ("hw.generate", ["--n", "7", "--weights", "random", "--rounding", "up"], ("--rounding",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--overflow", "clip"], ("--overflow",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--weight-scale", "per-row"], ("--weight-scale",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--out-bits", "30"], ("--out-bits", "4..24")),
    # hw.generate: a checkpoint block's token mixer (issue 17)
    ("hw.generate", ["--weights", TRAINED, "--layer", "stages.9.0"], ("stages.9.0", "stages.0.0.gcc_H")),
    ("hw.generate", ["--weights", TRAINED, "--layer", "stages.0.0", "--n", "28"], ("--n 28", "56x56")),
    ("hw.generate", ["--weights", TRAINED, "--layer", "stages.0.0", "--channels", "4"], ("--channels", "mixer")),
    (
        "hw.generate",
        ["--weights", TRAINED, "--layer", "stages.2.0", "--calibration", "calib_5.npy"],
        ("--calibration", "64, 14, 14"),
    ),
    (
        "hw.generate",
        ["--weights", TRAINED, "--layer", "stages.2.0", "--in-scale", "per-channel"],
        ("--in-scale", "--calibration"),
    ),
    (
        "hw.generate",
        ["--weights", TRAINED, "--layer", "stages.2.0", "--arch", "fft", "--parallel", "2"],
        ("--parallel",),
    ),
    # hw.generate: --config (TOML)
    ("hw.generate", ["--config", "missing.toml"], ("--config", "missing.toml")),
    ("hw.generate", ["--config", "broken.toml"], ("--config", "TOML")),
    ("hw.generate", ["--config", "unknown.toml"], ("--config", "frobnicate")),
    ("hw.generate", ["--config", "flag.toml"], ("no-lint", "true or false")),
    ("hw.generate", ["--config", "range.toml"], ("--weight-bits", "4..24")),
    ("hw.generate", ["--config", "acc.toml"], ("--acc-bits 30", "exact accumulator (22 bits")),
    # hw.generate: weight files
    ("hw.generate", ["--n", "7", "--weights", "missing.npz"], ("missing.npz",)),
    ("hw.generate", ["--n", "7", "--weights", "notes.txt"], ("notes.txt",)),
    ("hw.generate", ["--n", "7", "--weights", "list_meta.npz"], ("meta",)),
    ("hw.generate", ["--n", "14", "--weights", "list_meta.npz"], ("N",)),
    # hw.generate: outputs that are not ours
    ("hw.generate", ["--n", "7", "--weights", "random", "--no-lint", "--out", "."], ("--out",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--no-lint", "--out", SENTINEL], ("--out",)),
    ("hw.generate", ["--n", "7", "--weights", "random", "--no-lint", "--out", f"{SENTINEL}/sub"], (SENTINEL,)),
    # sim.run (all refused before any simulator build)
    ("sim.run", ["--n", "7", "--weights", "random", "--backpressure", "1.5"], ("--backpressure",)),
    ("sim.run", ["--n", "7", "--weights", "random", "--frames", "0"], ("--frames",)),
    ("sim.run", ["--n", "7", "--weights", "random", "--simulator", "ghdl"], ("--simulator",)),
    ("sim.run", ["--n", "7", "--weights", "random", "--scenarios", "bogus"], ("scenario",)),
    ("sim.run", ["--n", "1", "--weights", "random"], ("N",)),
    ("sim.run", ["--n", "7", "--weights", "notes.txt"], ("notes.txt",)),
    ("sim.run", ["--n", "13", "--arch", "fft", "--fft-impl", "native", "--weights", "random"], ("--fft-impl", "N=13")),
    ("sim.run", ["--n", "7", "--arch", "fft", "--fft-impl", "bogus", "--weights", "random"], ("--fft-impl", "bogus")),
    (
        "sim.run",
        ["--n", "56", "--arch", "fft", "--fft-impl", "native", "--fft-size", "128", "--weights", "random"],
        ("--fft-size", "padded only"),
    ),
    ("sim.run", ["--n", "7", "--fft-impl", "native", "--weights", "random"], ("--fft-impl", "--arch fft only")),
    ("sim.run", ["--n", "7", "--guard-bits", "3", "--weights", "random"], ("--guard-bits", "--arch fft only")),
    ("sim.run", ["--n", "7", "--target", "bogus", "--weights", "random"], ("--target", "bogus", "ecp5")),
    # golden.weights
    ("golden.weights", [], ("path",)),
    ("golden.weights", ["missing.pt"], ("missing.pt",)),
    ("golden.weights", ["notes.txt"], ("notes.txt",)),
    ("golden.weights", ["list_meta.npz", "--n", "-5"], ("--n",)),
    # golden.export
    ("golden.export", ["--weights", "missing.pt"], ("required",)),
    ("golden.export", ["--weights", "missing.pt", "--layer", "a", "--out", "b.npz"], ("missing.pt",)),
    ("golden.export", ["--weights", "notes.txt", "--layer", "a", "--out", "b.npz"], ("notes.txt",)),
    ("golden.export", ["--weights", "list_meta.npz", "--layer", "a", "--bits", "99", "--out", "b.npz"], ("bits",)),
    # scripts
    ("scripts.report", ["--bits", "x"], ("--bits",)),
    ("scripts.report", ["--bits", "3"], ("--bits",)),
    ("scripts.report", ["--arch", "nope"], ("--arch",)),
    ("scripts.report", ["--images", "0"], ("--images",)),
    ("scripts.report", ["--weights", "missing.pt"], ("--weights",)),
    ("scripts.synth", ["--n", "x"], ("--n",)),
    ("scripts.synth", ["--n", "1", "--no-pnr"], ("N",)),
    ("scripts.synth", ["--arch", "nope"], ("arch",)),
    ("scripts.synth", ["--jobs", "0"], ("--jobs",)),
    ("scripts.bench", ["--n", "1"], ("--n",)),
    ("scripts.bench", ["--min-time", "0"], ("--min-time",)),
    ("scripts.train", ["--epochs", "0"], ("--epochs",)),
    ("scripts.train", ["--threads", "0"], ("--threads",)),
    ("scripts.train", ["--mixer", "mlp"], ("--mixer",)),
]


def assert_one_line_refusal(code: int, out: str, err: str, words: tuple[str, ...], command: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"python -m {command}: error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize(("command", "argv", "words"), PROBES, ids=[f"{c}:{' '.join(a)[:60]}" for c, a, _ in PROBES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(command, argv, words, tmp_path, monkeypatch, capsys):
    work = _workdir(tmp_path, monkeypatch)
    before = _snapshot(work)
    code, out, err = run_command(command, argv, capsys)
    assert_one_line_refusal(code, out, err, words, command)
    assert _snapshot(work) == before, "a refused command changed the working folder"
    assert sorted(p.name for p in work.iterdir()) == sorted(before), "a refused command left files behind"


# --------------------------------------------------------------------------- random argument lists

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_./ ", max_size=12)
_INTISH = st.one_of(st.integers(-3, 30).map(str), st.sampled_from(["x", "7.5", "", "1e3", "-0"]))
_GENERATE_FLAGS = {
    "--n": st.one_of(st.sampled_from(["2", "3", "7", "8", "12"]), _INTISH),
    "--bits": st.one_of(st.sampled_from(["4", "8", "12"]), _INTISH),
    "--arch": st.sampled_from(["direct", "fft", "FFT", "", "padded"]),
    "--channels": _INTISH,
    "--parallel": _INTISH,
    "--weights": st.sampled_from(["random", "notes.txt", "list_meta.npz", "missing.npz", ""]),
    "--seed": _INTISH,
    "--name": st.one_of(_TEXT, st.sampled_from(["top", "wire", "my_top", "_x"])),
    "--out": st.sampled_from(["gen", ".", SENTINEL, "new/deeper", "", "gen/"]),
    "--guard-bits": _INTISH,
    "--input-shift": _INTISH,
    "--fft-size": st.sampled_from(["16", "32", "64", "12", "-4", "0"]),
    "--fft-impl": st.sampled_from(["auto", "native", "padded", "bogus", ""]),
    "--acc-bits": _INTISH,
    "--bias-bits": _INTISH,
}


@st.composite
def generate_argv(draw: st.DrawFn) -> list[str]:
    flags = draw(st.lists(st.sampled_from(sorted(_GENERATE_FLAGS)), unique=True, max_size=6))
    argv = ["--no-lint"]
    for flag in flags:
        argv += [flag, draw(_GENERATE_FLAGS[flag])]
    if draw(st.booleans()):
        argv += ["--n", draw(st.sampled_from(["7", "8", "3"])), "--weights", "random"]
    return argv


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=generate_argv())
def test_random_generate_arguments_never_crash_or_touch_user_files(argv, tmp_path_factory, monkeypatch, capsys):
    tmp_path = tmp_path_factory.mktemp("probe")
    work = _workdir(tmp_path, monkeypatch)
    before = _snapshot(work)
    code, out, err = run_command("hw.generate", argv, capsys)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    after = _snapshot(work)
    assert after[SENTINEL] == before[SENTINEL]
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert after == before, argv
    else:
        assert {k: v for k, v in after.items() if k in before} == before, argv
