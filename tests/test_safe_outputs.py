"""Issue 11: no command ever deletes or overwrites a file it did not write.

Library level (`golden.files`) first, then every writing command in-process (bad --out is
refused before any real work, so these stay fast), then the simulator's temporary and
cached folders (`sim.runner`), with fake runners instead of Verilator builds.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from golden.cli import UserError
from golden.files import (
    OutputFolder,
    atomic_write,
    atomic_write_text,
    check_output_file,
    read_manifest,
    with_suffix,
)

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = "the user's own file\n"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Everything under ``folder`` (hidden names too): path -> bytes (None for folders)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def foreign_folder(tmp_path: Path, name: str = "theirs") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "notes.txt").write_text(SENTINEL)
    return folder


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def write_one(
    target: Path, tool: str = "t", files: dict[str, str] | None = None, content: dict | None = None
) -> list[Path]:
    with OutputFolder(target, tool=tool) as out:
        for name, text in (files or {"a.txt": "a"}).items():
            (out.path / name).write_text(text)
        return out.commit(content)


# ---------------------------------------------------------------------------- golden.files


def test_new_folder_appears_whole_with_umask_modes(tmp_path: Path, umask_027) -> None:
    target = tmp_path / "new" / "deeper" / "out"
    write_one(target, files={"a.txt": "a", "b.bin": "b"}, content={"top": "x"})
    assert sorted(os.listdir(target)) == ["a.txt", "b.bin", "manifest.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o750  # not mkdtemp's 0700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o750
    for name in ("a.txt", "b.bin", "manifest.json"):
        assert stat.S_IMODE((target / name).stat().st_mode) == 0o640
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest == {
        "top": "x",
        "generator": "parc-hw",
        "files": ["a.txt", "b.bin"],
        "written_by": {"t": ["a.txt", "b.bin"]},
    }
    assert os.listdir(target.parent) == ["out"]  # no staging folder left beside it


def test_atomic_write_gives_umask_mode_and_leaves_nothing_on_failure(tmp_path: Path, umask_027) -> None:
    atomic_write_text(tmp_path / "f.txt", "x")
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o640  # not mkstemp's 0600

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "made" / "for" / "g.npz", broken)
    with pytest.raises(OSError):
        atomic_write(tmp_path / "f.txt", broken)
    assert tree(tmp_path) == {"f.txt": b"x"}  # no temp file, no folder made for it


@pytest.mark.parametrize("kind", ["file", "foreign folder", "device", "link to foreign", "broken link"])
def test_refused_targets_are_one_line_and_untouched(tmp_path: Path, kind: str) -> None:
    theirs = foreign_folder(tmp_path)
    target = {
        "file": theirs / "notes.txt",
        "foreign folder": theirs,
        "device": Path(os.devnull),
        "link to foreign": tmp_path / "link",
        "broken link": tmp_path / "dangling",
    }[kind]
    if kind == "link to foreign":
        target.symlink_to(theirs)
    if kind == "broken link":
        target.symlink_to(tmp_path / "nowhere")
    before = tree(tmp_path)
    device_before = os.stat(os.devnull)
    with pytest.raises(UserError) as err:
        OutputFolder(target, tool="t", option="--out")
    message = str(err.value)
    assert message.startswith(f"--out {target}:") and "\n" not in message
    assert tree(tmp_path) == before
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode) and os.stat(os.devnull).st_ino == device_before.st_ino


def test_current_folder_and_its_parents_are_refused_unless_ours(tmp_path: Path, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(SENTINEL)
    monkeypatch.chdir(work)
    for target in (".", "", str(work), ".."):
        with pytest.raises(UserError, match="current folder"):
            OutputFolder(target, tool="t")
    (work / "notes.txt").unlink()  # even an empty current folder: `--out .` is refused
    with pytest.raises(UserError, match="current folder"):
        OutputFolder(".", tool="t")
    (work / "notes.txt").write_text(SENTINEL)
    write_one(work / "sub")
    monkeypatch.chdir(work / "sub")  # our own output: a re-run from inside it is fine
    write_one(Path("."), files={"a.txt": "again"})
    assert (work / "sub" / "a.txt").read_text() == "again" and (work / "notes.txt").read_text() == SENTINEL


def test_an_empty_folder_is_accepted(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    write_one(target)
    assert sorted(os.listdir(target)) == ["a.txt", "manifest.json"]


def test_rerun_replaces_only_our_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_one(target, tool="report", files={"report.md": "1", "old_plot.png": "p"})
    write_one(target, tool="bench", files={"bench.md": "b"})
    (target / "notes.txt").write_text(SENTINEL)  # the user's own file in our folder
    write_one(target, tool="report", files={"report.md": "2", "new_plot.png": "q"})
    assert (target / "notes.txt").read_text() == SENTINEL
    assert (target / "report.md").read_text() == "2" and (target / "bench.md").read_text() == "b"
    assert not (target / "old_plot.png").exists()  # stale file of the same tool: removed
    manifest = read_manifest(target)
    assert manifest is not None
    assert manifest["files"] == ["bench.md", "new_plot.png", "report.md"]
    assert manifest["written_by"] == {"bench": ["bench.md"], "report": ["new_plot.png", "report.md"]}
    assert not [p for p in os.listdir(target) if p.startswith(".")]


def test_collision_with_a_user_file_refuses_before_touching_anything(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_one(target, files={"report.md": "1"})
    (target / "extra.md").write_text(SENTINEL)
    before = tree(tmp_path)
    with pytest.raises(UserError, match="extra.md"):
        OutputFolder(target, tool="t", expect=["report.md", "extra.md"])
    with pytest.raises(UserError, match="extra.md"):  # names only known at commit: refused there too
        write_one(target, files={"report.md": "2", "extra.md": "ours?"})
    assert tree(tmp_path) == before


def test_failure_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    new = tmp_path / "made" / "out"
    ours = tmp_path / "ours"
    write_one(ours)
    before = tree(tmp_path)
    for target in (new, ours):
        with pytest.raises(RuntimeError):
            with OutputFolder(target, tool="t") as out:
                (out.path / "a.txt").write_text("half")
                raise RuntimeError("simulated crash")
    assert tree(tmp_path) == before


def test_manifests_that_are_not_ours_or_point_outside_are_foreign(tmp_path: Path) -> None:
    (tmp_path / "victim.txt").write_text(SENTINEL)
    for name, manifest in {
        "other": {"generator": "someone else", "files": ["a"]},
        "escape": {"generator": "parc-hw", "files": ["../victim.txt"]},
        "nolist": {"generator": "parc-hw"},
    }.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        assert read_manifest(folder) is None
        with pytest.raises(UserError, match="not empty"):
            OutputFolder(folder, tool="t")
    assert (tmp_path / "victim.txt").read_text() == SENTINEL


def test_single_file_rules(tmp_path: Path) -> None:
    assert with_suffix(tmp_path / "noext", ".npz") == (tmp_path / "noext.npz", True)
    assert with_suffix(tmp_path / "b.npz", ".npz") == (tmp_path / "b.npz", False)
    (tmp_path / "theirs.npz").write_text(SENTINEL)
    (tmp_path / "ours.npz").write_text("ours")
    (tmp_path / "link.npz").symlink_to(tmp_path / "ours.npz")
    is_ours = lambda p: p.read_text() == "ours"  # noqa: E731
    check_output_file(tmp_path / "ours.npz", option="--out", is_ours=is_ours, what="ours")
    check_output_file(tmp_path / "new" / "x.npz", option="--out", is_ours=is_ours, what="ours")
    for bad in ("theirs.npz", "link.npz", "."):
        with pytest.raises(UserError, match="^--out "):
            check_output_file(tmp_path / bad, option="--out", is_ours=is_ours, what="ours")
    with pytest.raises(UserError, match="not a folder"):
        check_output_file(tmp_path / "theirs.npz" / "x.npz", option="--out", is_ours=is_ours, what="ours")


def test_committed_output_folders_accept_their_default_reruns() -> None:
    from scripts.bench import BENCH_FILES
    from scripts.report_render import REPORT_FILES
    from scripts.synth import SYNTH_FILES
    from scripts.train import TRAIN_FILES

    for folder, tool, files in [
        ("reports", "scripts.report", REPORT_FILES),
        ("reports", "scripts.bench", BENCH_FILES),
        ("reports/synth", "scripts.synth", SYNTH_FILES),
        ("weights/parc", "scripts.train", TRAIN_FILES),
        ("weights/dw7", "scripts.train", TRAIN_FILES),
    ]:
        OutputFolder(ROOT / folder, tool=tool, expect=files)  # raises if the re-run would be refused
        manifest = read_manifest(ROOT / folder)
        assert manifest is not None, folder
        assert set(files) <= set(manifest["written_by"][tool])


# ---------------------------------------------------------------------------- the commands


def assert_one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def bad_targets(tmp_path: Path) -> dict[str, Path]:
    theirs = foreign_folder(tmp_path)
    return {"foreign folder": theirs, "file": theirs / "notes.txt", "device": Path(os.devnull)}


GENERATE = ["--n", "7", "--channels", "2", "--weights", "random", "--no-lint"]


def test_generate_refuses_what_it_did_not_write(tmp_path: Path, capsys, monkeypatch) -> None:
    from hw.generate import main

    for kind, target in bad_targets(tmp_path).items():
        before = tree(tmp_path)
        assert main([*GENERATE, "--out", str(target)]) == 2, kind
        assert_one_line_error(capsys, "--out", str(target))
        assert tree(tmp_path) == before and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    monkeypatch.chdir(tmp_path / "theirs")
    assert main([*GENERATE, "--out", "."]) == 2
    assert_one_line_error(capsys, "current folder")
    assert sorted(os.listdir(".")) == ["notes.txt"]  # no '..old.*' or staging folder anywhere
    assert sorted(os.listdir(tmp_path)) == ["theirs"]


def test_generate_reruns_into_its_own_folder_and_keeps_user_files(tmp_path: Path, capsys) -> None:
    from hw.generate import main

    out = tmp_path / "g"
    assert main([*GENERATE, "--out", str(out)]) == 0
    (out / "notes.txt").write_text(SENTINEL)
    assert main([*GENERATE, "--bits", "12", "--name", "other", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == [
        "manifest.json",
        "notes.txt",
        "other.core",
        "other.v",
        "other.vlt",
        "rom_offsets.hex",
        "rom_weights.hex",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["bits"] == 12 and manifest["generator"].startswith("parc-hw")
    assert manifest["files"] == ["other.core", "other.v", "other.vlt", "rom_offsets.hex", "rom_weights.hex"]
    assert sorted(os.listdir(tmp_path)) == ["g"]


def test_generate_failure_leaves_nothing_behind(tmp_path: Path, capsys, monkeypatch) -> None:
    import hw.generate

    ours = tmp_path / "ours"
    assert hw.generate.main([*GENERATE, "--out", str(ours)]) == 0
    (ours / "notes.txt").write_text(SENTINEL)
    before = tree(tmp_path)

    def disk_full(design, folder, prefix="") -> None:
        (Path(folder) / "rom_weights.hex").write_text("half")
        raise OSError(28, "No space left on device", str(Path(folder) / "rom_weights.hex"))

    monkeypatch.setattr(hw.generate, "write_rom_files", disk_full)
    for out in (ours, tmp_path / "new" / "g"):
        assert hw.generate.main([*GENERATE, "--bits", "12", "--out", str(out)]) == 2
        assert_one_line_error(capsys, "No space left")
        assert tree(tmp_path) == before  # no staging folder, no half file, no parent made for it


def test_generate_accepts_an_output_from_before_the_files_record(tmp_path: Path) -> None:
    from hw.generate import main

    out = tmp_path / "g"
    assert main([*GENERATE, "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("generator", "files", "written_by"):
        del manifest[key]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*GENERATE, "--name", "renamed", "--out", str(out)]) == 0
    assert not (out / "parc_direct_n7_b8.v").exists() and (out / "renamed.v").exists()


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A small foreign checkpoint: export --no-activations needs no network run."""
    state = {
        "stages.2.8.gcc_conv_1H.weight": np.random.default_rng(0).normal(0, 0.1, (4, 1, 14, 1)).astype(np.float32),
        "stages.2.8.gcc_conv_1H.bias": np.zeros(4, np.float32),
        "stages.2.8.gcc_conv_1H.meta_pe": np.full((1, 4, 14, 1), 0.01, np.float32),
    }
    path = tmp_path / "src" / "gcc.npz"
    path.parent.mkdir()
    np.savez(path, allow_pickle=False, **state)
    return path


def export_args(checkpoint: Path, out: Path | str) -> list[str]:
    return ["--weights", str(checkpoint), "--layer", "stages.2.8.gcc_conv_1H", "--no-activations", "--out", str(out)]


def test_export_appends_npz_and_says_so(tmp_path: Path, checkpoint: Path, capsys) -> None:
    from golden.bundle import load_bundle
    from golden.export import main

    out = tmp_path / "o"
    out.mkdir()
    assert main(export_args(checkpoint, out / "noext")) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'noext.npz'} (.npz appended to --out)" in printed and "(0 KiB)" not in printed
    assert os.listdir(out) == ["noext.npz"]  # no 0-byte 'noext', no hidden '.noext.*.npz'
    assert load_bundle(out / "noext.npz").layer.n == 14
    assert main(export_args(checkpoint, out / "noext")) == 0  # our own bundle: replaced
    assert "appended" in capsys.readouterr().out and os.listdir(out) == ["noext.npz"]


def test_export_refuses_foreign_files(tmp_path: Path, checkpoint: Path, capsys, monkeypatch) -> None:
    from golden.export import main

    targets = bad_targets(tmp_path)
    (tmp_path / "theirs" / "data.npz").write_bytes(checkpoint.read_bytes())  # a .npz, but not a bundle of ours
    targets["foreign npz"] = tmp_path / "theirs" / "data.npz"
    targets["source itself"] = checkpoint
    targets["current folder"] = Path(".")
    monkeypatch.chdir(tmp_path / "theirs")
    for kind, target in targets.items():
        before = tree(tmp_path)
        assert main(export_args(checkpoint, target)) == 2, kind
        assert_one_line_error(capsys, "--out")
        assert tree(tmp_path) == before


def test_export_failure_leaves_no_hidden_file(tmp_path: Path, checkpoint: Path, capsys, monkeypatch) -> None:
    import golden.bundle
    from golden.export import main

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(golden.bundle.np, "savez_compressed", disk_full)
    out = tmp_path / "o"
    out.mkdir()
    assert main(export_args(checkpoint, out / "b.npz")) == 2
    assert_one_line_error(capsys, "No space left")
    assert os.listdir(out) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_unwritable_out_is_one_line(tmp_path: Path, checkpoint: Path, capsys) -> None:
    from golden.export import main as export_main
    from hw.generate import main as generate_main

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert generate_main([*GENERATE, "--out", str(locked / "g")]) == 2
        assert_one_line_error(capsys, "not writable")
        assert export_main(export_args(checkpoint, locked / "b.npz")) == 2
        assert_one_line_error(capsys, "not writable")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    "command, argv",
    [
        ("scripts.report", ["--quick"]),
        ("scripts.bench", ["--quick", "--no-progress"]),
        ("scripts.synth", ["--arch", "direct", "--n", "7", "--bits", "8", "--no-pnr", "--no-progress"]),
    ],
)
def test_report_bench_synth_refuse_before_any_work(
    tmp_path: Path, capsys, monkeypatch, command: str, argv: list[str]
) -> None:
    import importlib

    module = importlib.import_module(command)
    targets = bad_targets(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "notes.txt").write_text(SENTINEL)
    monkeypatch.chdir(work)
    targets["current folder"] = Path(".")
    for kind, target in targets.items():
        before = tree(tmp_path)
        assert module.main([*argv, "--out", str(target)]) == 2, kind
        assert_one_line_error(capsys, "--out")
        assert tree(tmp_path) == before


def test_train_refuses_before_training(tmp_path: Path, capsys) -> None:
    from scripts.train import main

    theirs = tmp_path / "theirs"
    (theirs / "parc").mkdir(parents=True)
    (theirs / "parc" / "notes.txt").write_text(SENTINEL)
    (tmp_path / "file").write_text(SENTINEL)
    for out in (theirs, tmp_path / "file", Path(os.devnull)):  # OUT/parc foreign; OUT a file, a device
        before = tree(tmp_path)
        assert main(["--epochs", "1", "--out", str(out)]) == 2
        assert_one_line_error(capsys, "--out")
        assert tree(tmp_path) == before


def test_report_writes_and_rewrites_its_folder(tmp_path: Path, monkeypatch) -> None:
    """write_report through the rule, with the plots and pages stubbed (the layout is what counts)."""
    from scripts import report_render

    for name in report_render.PLOTS:
        monkeypatch.setitem(report_render.PLOTS, name, lambda report, path: Path(path).write_bytes(b"png"))
    monkeypatch.setattr(report_render, "summary_markdown", lambda report, out: "md\n")
    monkeypatch.setattr(report_render, "report_html", lambda report, out, images: "html\n")
    out = tmp_path / "r"
    paths = report_render.write_report({"x": 1.0}, out)
    assert sorted(p.name for p in paths) == sorted(report_render.REPORT_FILES)
    (out / "notes.txt").write_text(SENTINEL)
    report_render.write_report({"x": 2.0}, out)
    assert json.loads((out / "report.json").read_text()) == {"x": 2.0}
    assert (out / "notes.txt").read_text() == SENTINEL
    assert sorted(os.listdir(out)) == sorted([*report_render.REPORT_FILES, "manifest.json", "notes.txt"])


# ---------------------------------------------------------------------------- sim work and build folders


class FakeRunner:
    """Stands in for cocotb's runner: writes what the bench would, records the work folder."""

    seen: list[Path] = []

    def test(self, *, test_dir, testcase, **kwargs):
        FakeRunner.seen.append(Path(test_dir))
        for case in testcase:
            name = case.removeprefix("test_")
            (Path(test_dir) / f"result_{name}.json").write_text(
                json.dumps({"scenario": name, "compared": 7, "mismatches": 0})
            )
        return Path(test_dir) / "results.xml"


@pytest.fixture
def fake_simulator(monkeypatch, tmp_path: Path):
    import sim.run
    import sim.runner

    FakeRunner.seen = []
    monkeypatch.setattr(sim.runner, "get_runner", lambda simulator: FakeRunner())
    monkeypatch.setattr(sim.runner, "get_results", lambda xml: (1, 0))
    monkeypatch.setattr(sim.run, "build", lambda design, simulator: sim.runner.Build(simulator, "top", tmp_path, 0.0))
    return FakeRunner


SIM = ["--n", "7", "--channels", "1", "--weights", "random", "--frames", "2", "--scenarios", "stream"]


def test_sim_work_folder_is_removed_unless_kept(fake_simulator, capsys) -> None:
    from sim.run import main

    assert main(SIM) == 0
    (removed,) = fake_simulator.seen
    assert removed.name.startswith("parc_sim_") and not removed.exists()
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["work_dir"] is None

    assert main([*SIM, "--keep"]) == 0
    kept = fake_simulator.seen[-1]
    try:
        captured = capsys.readouterr()
        assert kept.is_dir() and (kept / "result_stream.json").exists()
        assert str(kept) in captured.err and json.loads(captured.out.strip().splitlines()[-1])["work_dir"] == str(kept)
    finally:
        import shutil

        shutil.rmtree(kept)


def test_sim_work_folder_is_removed_when_the_simulator_fails(fake_simulator, monkeypatch) -> None:
    import sim.runner
    from hw.design import DesignSpec, build_design
    from sim.scenarios import stream

    def crash(self, *, test_dir, **kwargs):
        FakeRunner.seen.append(Path(test_dir))
        raise RuntimeError("simulator crashed")

    monkeypatch.setattr(FakeRunner, "test", crash)
    design = build_design(DesignSpec(arch="direct", n=7, bits=8, channels=1, weights="random"))
    with pytest.raises(RuntimeError):
        sim.runner.run_scenarios(sim.runner.Build("verilator", "top", Path("."), 0.0), [stream(design, 2, 0)])
    assert not fake_simulator.seen[-1].exists()


@pytest.fixture
def build_root(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "sim_build"
    monkeypatch.setenv("PARC_HW_BUILD_DIR", str(root))
    return root


def test_failed_build_leaves_no_cache_entry(build_root: Path, monkeypatch, capsys) -> None:
    import sim.runner
    from hw.design import DesignSpec, build_design

    design = build_design(DesignSpec(arch="direct", n=7, bits=8, channels=1, weights="random"))
    calls: list[list[str]] = []

    def half_then_fail(simulator, top, text, build_dir, models):
        build_dir.mkdir(parents=True)
        (build_dir / "half.o").write_text("truncated")
        calls.append(sorted(os.listdir(build_dir)))
        raise RuntimeError("compiler killed")

    def succeed(simulator, top, text, build_dir, models):
        build_dir.mkdir(parents=True, exist_ok=True)
        calls.append(sorted(os.listdir(build_dir)))
        (build_dir / "sim.exe").write_text("ok")

    monkeypatch.setattr(sim.runner, "_compile", half_then_fail)
    with pytest.raises(RuntimeError):
        sim.runner.build(design)
    assert [p for p in build_root.iterdir() if not p.name.endswith(".lock")] == []

    # a build killed outright (no handler ran) leaves an unfinished folder: wiped, not reused
    monkeypatch.setattr(sim.runner, "_compile", succeed)
    built = sim.runner.build(design)
    sim.runner._remove_build(built.build_dir)
    built.build_dir.mkdir()
    (built.build_dir / "half.o").write_text("truncated")
    again = sim.runner.build(design)
    assert calls == [["half.o"], [], []] and (again.build_dir / "BUILD_OK").exists()
    assert sim.runner.build(design).seconds == 0.0 and len(calls) == 3  # now a cache hit

    def no_simulator(*args) -> None:
        raise SystemExit("ERROR: iverilog executable not found!")  # what cocotb's runners do

    monkeypatch.setattr(sim.runner, "_compile", no_simulator)
    with pytest.raises(UserError, match="iverilog executable not found"):
        sim.runner.build(design, "icarus")
    assert [p.name for p in build_root.iterdir() if p.is_dir()] == [built.build_dir.name]


def test_prune_keeps_the_most_recently_used_builds(build_root: Path) -> None:
    import sim.runner

    build_root.mkdir()
    names = [f"parc_direct_n7_b{b}-verilator-{b:016x}" for b in range(4, 9)]
    for age, name in enumerate(names):
        (build_root / name).mkdir()
        marker = build_root / name / "BUILD_OK"
        marker.write_text("ok\n")
        os.utime(marker, (1000 + age, 1000 + age))
    unfinished = build_root / "parc_fft_n7_b8-icarus-00000000000000ff"
    unfinished.mkdir()
    batch = build_root / "parc_direct_n7_b8-batch-0000000000000001"  # sim.batch's builds age the same way
    batch.mkdir()
    (batch / "BUILD_OK").write_text("ok\n")
    os.utime(batch / "BUILD_OK", (2000, 2000))  # the most recently used of all
    (build_root / "synth_cache").mkdir()
    busy = names[1]
    with sim.runner.build_lock(build_root / busy):  # being rebuilt by another worker: skipped
        removed = sim.runner.prune_builds(limit=2)
    assert sorted(p.name for p in removed) == sorted([names[0], names[2], names[3], unfinished.name])
    assert sorted(p.name for p in build_root.iterdir() if p.is_dir()) == sorted(
        [busy, names[4], batch.name, "synth_cache"]
    )
