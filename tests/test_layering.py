"""The floors import one way only: golden/ <- hw/ <- sim/ <- scripts/ (docs/architecture.md).

Checked statically: every import statement of every module, also those inside functions
(a lazy import that runs up a floor is still a cycle in the design, only a hidden one),
and ``importlib.import_module``/``__import__`` calls with a literal name. Then dynamically:
importing the NumPy floors loads no torch, so `hw.generate`, `sim.run` and
`golden.export --no-activations` work and start fast without it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"golden": 0, "hw": 1, "sim": 2, "scripts": 3}
TORCH_MODULES = {"golden.parc_net"}  # the network: imported only inside functions that need torch
NEEDS_A_SIMULATOR = {"sim.tb_engine"}  # the cocotb bench: imported by the simulator process


def imported_names(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, wherever it stands."""
    package = module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's own package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [
                (node.lineno, f"{name}.{alias.name}") for alias in node.names if not node.level and alias.name != "*"
            ]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(source: str, module: str) -> list[str]:
    """Imports in ``source`` (the text of ``module``) that reach a higher floor than its own."""
    floor = FLOORS[module.split(".")[0]]
    return [
        f"{module}:{line} imports {name}"
        for line, name in imported_names(source, module)
        if FLOORS.get(name.split(".")[0], -1) > floor
    ]


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in FLOORS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_no_module_imports_a_higher_floor() -> None:
    modules = project_modules()
    assert {"golden.export", "hw.generate", "sim.run", "scripts.report"} <= set(modules)
    violations = [v for name, path in modules.items() for v in upward_imports(path.read_text(), name)]
    assert violations == [], "imports that run up a floor (golden <- hw <- sim <- scripts):\n" + "\n".join(violations)


@pytest.mark.parametrize(
    "module, source, expected",
    [
        ("golden.export", "def capture():\n    from scripts import parc_net\n", ["golden.export:2 imports scripts"]),
        ("hw.generate", "import sim.runner\n", ["hw.generate:1 imports sim.runner"]),
        (
            "sim.run",
            "import importlib\nx = importlib.import_module('scripts.bench')\n",
            ["sim.run:2 imports scripts.bench"],
        ),
        ("golden.x", "from . import fixed\nfrom .quant import q\n", []),
        ("scripts.report", "import golden.bundle, hw.design, sim.batch\n", []),
    ],
)
def test_the_checker_sees_lazy_relative_and_dynamic_imports(module: str, source: str, expected: list[str]) -> None:
    assert upward_imports(source, module)[: len(expected)] == expected
    assert bool(upward_imports(source, module)) == bool(expected)


def test_the_numpy_floors_load_no_torch() -> None:
    """Every module of golden/, hw/ and sim/ (the network module and the cocotb bench aside)
    imports without torch: a fresh interpreter imports them all and lists what torch it loaded."""
    names = sorted(
        n
        for n in project_modules()
        if n.split(".")[0] in ("golden", "hw", "sim") and n not in TORCH_MODULES | NEEDS_A_SIMULATOR
    )
    assert {"golden", "golden.export", "golden.weights", "golden.bundle"} <= set(names)
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [], "importing golden/hw/sim loaded torch"


def test_the_torch_probe_would_see_torch() -> None:
    """The same probe on the network module does report torch (so the test above can fail)."""
    code = "import sys, golden.parc_net; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "True", result.stderr[-2000:]
