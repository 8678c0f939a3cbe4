"""Is the Fast-ParC engine accurate enough? Its model on trained weights and real activations.

Pure NumPy (the RTL equals `FastParcEngine.model` bit for bit: tests/test_fft_sim.py). On the
shipped trained bundles (`golden/data/parc_n56.npz`, `parc_n28.npz`), with their held-out
``test`` activations quantized as the hardware sees them:

- the FFT engine's output integers differ from the direct engine's (`golden.direct`) by at
  most 1 LSB on >= 99 % of samples and never by more than 2 LSB;
- its SQNR against the float layer (``Bundle.layer.forward``) is within 1 dB of the direct
  engine's;
- nothing in the FFT path overflows.

Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import numpy as np
import pytest

from golden.bundle import Bundle, default_bundle_path, load_bundle
from golden.direct import direct_model
from golden.quant import quantize_input
from hw.fast_parc import FastParcEngine
from scripts.accuracy import sqnr_db


def trained_bundle(n: int) -> Bundle:
    path = default_bundle_path(n)
    if path is None:
        pytest.skip(f"no trained bundle golden/data/parc_n{n}.npz (produced by scripts/train.py + golden.export)")
    bundle = load_bundle(path)
    if bundle.test is None:
        pytest.skip(f"{path} has no 'test' activations")
    return bundle


@pytest.mark.parametrize("n", [56, 28])
@pytest.mark.parametrize("bits", [8, 12, 16])
def test_fft_engine_matches_direct_engine_on_trained_weights(n: int, bits: int) -> None:
    bundle = trained_bundle(n)
    q = bundle.quantize(bits)
    engine = FastParcEngine(q)
    x = bundle.test
    assert x is not None  # trained_bundle skips without it
    xq, _ = quantize_input(q, x)
    trace = engine.trace(xq)
    y_direct, sat_direct = direct_model(q, xq)
    diff = np.abs(trace.y - y_direct)
    within_1 = float(np.mean(diff <= 1))
    exact = float(np.mean(diff == 0))

    out_lsb = 2.0**-q.fmt.output.frac
    ref = bundle.layer.forward(x)
    sqnr_fft = sqnr_db(ref, trace.y * out_lsb)
    sqnr_direct = sqnr_db(ref, y_direct * out_lsb)
    print(
        f"\nN={n} bits={bits} ({x.shape[0]} test rows x {q.channels} ch = {diff.size} samples, "
        f"M={engine.m}): fft == direct {100 * exact:.2f} %, within 1 LSB {100 * within_1:.3f} %, "
        f"max {int(diff.max())} LSB; SQNR vs float: direct {sqnr_direct:.2f} dB, fft {sqnr_fft:.2f} dB "
        f"(delta {sqnr_fft - sqnr_direct:+.3f} dB); saturated outputs {int(sat_direct.sum())}"
    )
    assert not trace.fft_overflow.any(), "the FFT path overflowed on real activations"
    assert within_1 >= 0.99
    assert diff.max() <= 2
    assert abs(sqnr_fft - sqnr_direct) <= 1.0
