"""Every engine generated with ``--target ecp5`` (MULT18X18D and DP16KD instances, simulated
with their behavioural twins) is bit-exact against its golden model in the cocotb bench.

Sixteen channels make the ROMs big enough for block RAM, so each small engine holds both
primitives (asserted, so the test cannot quietly stop covering them): back-to-back frames
with bubbles and backpressure, a reset in mid-frame, malformed tlast.
"""

from __future__ import annotations

import pytest
from simutil import assert_bit_exact

from hw.design import DesignSpec, build_design
from sim.run import SimOptions, simulate

ENGINES = [  # (arch, N, bits, fft_impl, MULT18X18D, DP16KD), 16 channels
    pytest.param("direct", 14, 8, None, 14, 2, id="direct-N14"),
    pytest.param("fft", 14, 8, "native", 3, 6, id="native-N14"),
    # 16 bits: the spectral products are 23/24 x 22 bits, 4 tiles each (hw.target.Multiplier._tiled;
    # the twin test covers tiles in every run, this whole engine is long)
    pytest.param("fft", 14, 16, "native", 12, 25, id="native-N14-16bit", marks=pytest.mark.long),  # wide buffers: EBR
    pytest.param("fft", 7, 8, "padded", 20, 3, id="padded-N7", marks=pytest.mark.long),  # the same twins again
]


@pytest.mark.slow
@pytest.mark.parametrize("arch,n,bits,fft_impl,mults,brams", ENGINES)
def test_ecp5_engine_is_bit_exact(arch: str, n: int, bits: int, fft_impl: str | None, mults: int, brams: int) -> None:
    options = {"fft_impl": fft_impl} if fft_impl else {}
    spec = DesignSpec(arch=arch, n=n, bits=bits, channels=16, weights="random", seed=3, options=options, target="ecp5")
    design = build_design(spec)
    text = design.verilog()
    assert (text.count("MULT18X18D #("), text.count("DP16KD #(")) == (mults, brams)
    result = simulate(design, SimOptions(frames=48, seed=3, backpressure=0.3, bubble=0.1))
    assert result.target == "ecp5"
    assert_bit_exact(result)
