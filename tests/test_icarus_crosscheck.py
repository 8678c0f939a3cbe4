"""Second simulator: the same bench under Icarus Verilog (when `iverilog` is installed).

Icarus is not a PyPI package (Debian: `apt install iverilog`), so this cross-check runs
where it is available and is skipped, saying why, where it is not.
"""

from __future__ import annotations

import shutil

import pytest
from simutil import assert_bit_exact, run_sim

pytestmark = pytest.mark.skipif(
    shutil.which("iverilog") is None, reason="iverilog not installed (apt install iverilog)"
)


@pytest.mark.parametrize(
    "arch,fft_impl,n",
    [("direct", None, 14), ("fft", "padded", 7), ("fft", "native", 7)],
    ids=["direct-N14-8bit", "fft-padded-N7-8bit", "fft-native-N7-8bit"],
)
def test_icarus_agrees_with_the_golden_model(arch: str, fft_impl: str | None, n: int) -> None:
    result = run_sim(
        arch=arch,
        fft_impl=fft_impl,
        n=n,
        bits=8,
        channels=3,
        weights="random",
        frames=10,
        simulator="icarus",
        backpressure=0.3,
        bubble=0.2,
    )
    assert_bit_exact(result)
