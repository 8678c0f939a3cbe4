"""The batch (C++-driven Verilator) path used for volume: bit-exact, framing intact."""

from __future__ import annotations

import numpy as np
import pytest

from hw.design import DesignSpec, build_design
from sim.batch import run_batch
from sim.scenarios import expected_frames, stimulus_frames


@pytest.mark.parametrize("backpressure,bubble", [(0.0, 0.0), (0.5, 0.3)])
def test_batch_simulation_is_bit_exact(backpressure: float, bubble: float) -> None:
    design = build_design(DesignSpec(n=14, bits=8, channels=3, weights="random"))
    rows = stimulus_frames(design, 600, np.random.default_rng(1))
    result = run_batch(design, rows, backpressure=backpressure, bubble=bubble, seed=5)
    np.testing.assert_array_equal(result.output, expected_frames(design, rows))
    assert result.lasts_ok
    if backpressure == 0 and bubble == 0:
        assert result.cycles_per_sample == pytest.approx(1.0)
    else:
        assert result.cycles_per_sample > 1.5


def test_batch_rejects_rows_of_the_wrong_length() -> None:
    design = build_design(DesignSpec(n=14, bits=8, channels=3, weights="random"))
    with pytest.raises(ValueError, match="rows must be"):
        run_batch(design, np.zeros((3, 13), dtype=np.int64))
