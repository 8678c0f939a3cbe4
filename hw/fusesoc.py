"""The FuseSoC core file (CAPI2) `hw.generate` writes beside the Verilog: ``<top>.core``.

Why: FPGA projects that manage their IP with FuseSoC take a generated engine as one more
core — ``fusesoc library add`` the output folder (or ``--cores-root`` it) and depend on
`vlnv` — instead of copying files and re-typing which of them go to which tool. The core
is written from the manifest, so it names exactly the files this output holds:

- ``rtl``: ``<top>.v`` (``verilogSource``), the only file synthesis reads;
- ``waivers``: ``<top>.vlt`` (``vlt``), the Verilator waivers for that file alone
  (`hw.lint`), so a parent design's ``verilator -Wall`` stays quiet about our Verilog;
- ``rom_images``: the ``rom_*.hex`` files (``user``, copied into the work root with
  ``copyto``): the Verilog embeds the ROM contents, they are there for a user's own
  memories and for inspection, so no tool reads them;
- ``sim_models`` (``--target ecp5`` only): the behavioural twins of MULT18X18D/DP16KD.
  Synthesis must never read them (the vendor tools have the real primitives), so only the
  ``lint`` target lists them, the ``default`` target adds them only when the ``simulation``
  flag is set (``fusesoc run --flag simulation``, or ``flags: {simulation: true}`` in the
  parent's simulation target), and their ``simulation`` tag keeps them out of edalize's
  yosys even if a parent lists them anyway.

Targets use edalize's Flow API (FuseSoC >= 2.0; ``flow`` plus ``flow_options``): ``lint``
runs ``verilator --lint-only -Wall`` with the waivers, as `hw.generate` itself does;
``synth`` runs yosys (`SYNTH_ARCH`: ``synth_ecp5`` for generic and ecp5 Verilog,
``synth_xilinx`` for xc7) and writes a JSON netlist. ``default`` is what a parent core
gets when it depends on ours.

The YAML is written by hand (no YAML library is a dependency of the generator): every
string that is not a plain identifier is written as a JSON string, which is a valid YAML
double-quoted scalar, so no file name or description can change the document's structure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hw.design import GENERATOR_VERSION

VENDOR = "parc-hw"
LIBRARY = "parc"
SIMULATION_FLAG = "simulation"  # a parent's simulation target sets it to get the ECP5 twins from `default`
SYNTH_ARCH = {"generic": "ecp5", "ecp5": "ecp5", "xc7": "xilinx"}  # --target -> edalize yosys ``arch``

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_WORDS = frozenset("y n yes no true false on off null".split())  # plain words YAML reads as non-strings


def core_file_name(top: str) -> str:
    """``<top>.core``: FuseSoC finds core files by their suffix in a cores root."""
    return f"{top}.core"


def vlnv(top: str, version: str = GENERATOR_VERSION) -> str:
    """``parc-hw:parc:<top>:<generator version>``: the name a parent core depends on.

    The version is the generator's, not the weights': two outputs with the same top name
    and generator are the same core to FuseSoC, so give different designs different
    ``--name`` values when they share a cores root.
    """
    return f"{VENDOR}:{LIBRARY}:{top}:{version}"


def description(manifest: Mapping[str, Any]) -> str:
    """One line saying which engine the core holds, so ``fusesoc core list`` tells outputs apart."""
    arch = manifest["arch"] + (f" ({manifest['fft_impl']})" if manifest.get("fft_impl") else "")
    if manifest.get("kind") == "mixer":
        source = manifest["halves"]["H"]["weights"].get("source", "?")
        return (
            f"ParC token mixer ({arch} engines) of block {manifest['block']}, {manifest['height']}x{manifest['width']}"
            f"x{manifest['channels']} HWC maps, {manifest['bits']}-bit, target {manifest['target']}, weights {source}: "
            f"AXI4-Stream Verilog from {manifest['generator']}"
        )
    source = manifest.get("weights", {}).get("source", "?")
    return (
        f"ParC {arch} engine, N={manifest['n']}, {manifest['bits']}-bit, {manifest['channels']} channel(s), "
        f"target {manifest['target']}, weights {source}: AXI4-Stream Verilog from {manifest['generator']}"
    )


def core_data(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The CAPI2 document (without its ``CAPI=2:`` line) for the files ``manifest`` lists."""
    top, target = manifest["top"], manifest["target"]
    roms = list(manifest.get("rom_files", []))
    sim_models = list(manifest.get("sim_files", []))
    filesets: dict[str, Any] = {
        "rtl": {"file_type": "verilogSource", "files": [manifest["verilog"]]},
        "waivers": {"file_type": "vlt", "files": [manifest["lint_waivers"]]},
    }
    if roms:
        filesets["rom_images"] = {"file_type": "user", "files": [{name: {"copyto": name}} for name in roms]}
    if sim_models:
        filesets["sim_models"] = {"file_type": "verilogSource", "tags": [SIMULATION_FLAG], "files": sim_models}
    default = ["rtl", "waivers", *(["rom_images"] if roms else [])]
    if sim_models:
        default.append(f"{SIMULATION_FLAG} ? (sim_models)")
    targets = {
        "default": {
            "description": "the engine as a dependency: Verilog, Verilator waivers, ROM images"
            + (f"; the ECP5 simulation models with --flag {SIMULATION_FLAG}" if sim_models else ""),
            "filesets": default,
        },
        "lint": {
            "description": "verilator --lint-only -Wall with the waivers file, as hw.generate checks it",
            "filesets": ["rtl", "waivers", *(["sim_models"] if sim_models else [])],
            "flow": "lint",
            "flow_options": {"tool": "verilator", "verilator_options": ["-Wall"]},
            "toplevel": top,
        },
        "synth": {
            "description": f"yosys synth_{SYNTH_ARCH[target]} to a JSON netlist (the design's Verilog only)",
            "filesets": ["rtl"],
            "flow": "generic",
            "flow_options": {"tool": "yosys", "arch": SYNTH_ARCH[target], "output_format": "json"},
            "toplevel": top,
        },
    }
    return {"name": vlnv(top), "description": description(manifest), "filesets": filesets, "targets": targets}


def core_text(manifest: Mapping[str, Any]) -> str:
    """The core file: the ``CAPI=2:`` line FuseSoC looks for, then `core_data` as YAML."""
    return "\n".join(["CAPI=2:", *_yaml(core_data(manifest), 0)]) + "\n"


def write_core(manifest: Mapping[str, Any], folder: Path) -> str:
    """Write `core_text` into ``folder`` (the staging folder of the output); returns its name."""
    name = core_file_name(manifest["top"])
    (folder / name).write_text(core_text(manifest))
    return name


def _scalar(value: object) -> str:
    """A YAML scalar: plain identifiers bare, every other string as a JSON (double-quoted) string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"no YAML form for {value!r} in a core file")


def _yaml(value: Any, depth: int) -> list[str]:
    """Block-style YAML lines of a dict of strings, lists and dicts (two spaces per level)."""
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines += [f"{pad}{_scalar(key)}:", *_yaml(item, depth + 1)]
            else:
                lines.append(f"{pad}{_scalar(key)}: {'[]' if item == [] else '{}' if item == {} else _scalar(item)}")
        return lines
    for item in value:  # a list
        if isinstance(item, dict):
            first, *rest = _yaml(item, depth + 1)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines
