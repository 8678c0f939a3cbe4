"""`hw.lint`: the waivers cover Amaranth's idioms and nothing else.

The generator refuses Verilog that fails `verilator --lint-only -Wall` with our waivers, so a
waiver too narrow refuses good designs (the FFT engines at N = 2..4 were refused: yosys
writes a counter's ``== 0`` as ``! count``) and a waiver too broad lets real mistakes through.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hw.design import DesignSpec, build_design
from hw.lint import lint, waiver_text


def lint_text(tmp_path: Path, verilog: str, top: str) -> str:
    (tmp_path / "t.v").write_text(verilog)
    (tmp_path / "t.vlt").write_text(waiver_text("t.v"))
    result = lint(tmp_path / "t.v", tmp_path / "t.vlt", top)
    return "" if result.returncode == 0 else result.stderr


def test_logical_not_of_a_counter_is_waived(tmp_path: Path) -> None:
    verilog = "module t(input [2:0] c, output z);\n  assign z = ! c;\nendmodule\n"
    assert lint_text(tmp_path, verilog, "t") == ""


def test_a_real_truncation_is_still_an_error(tmp_path: Path) -> None:
    verilog = "module t(input [2:0] c, output [1:0] z);\n  assign z = c;\nendmodule\n"
    assert "WIDTHTRUNC" in lint_text(tmp_path, verilog, "t")


@pytest.mark.parametrize(
    "fft_impl,n", [("native", 2), ("padded", 2), ("padded", 3), ("padded", 4)], ids=lambda v: str(v)
)
def test_the_smallest_fft_engines_pass_lint(tmp_path: Path, fft_impl: str, n: int) -> None:
    design = build_design(DesignSpec(arch="fft", n=n, bits=8, weights="random", seed=0, options={"fft_impl": fft_impl}))
    top = design.spec.top_name
    assert lint_text(tmp_path, design.verilog(), top) == ""
