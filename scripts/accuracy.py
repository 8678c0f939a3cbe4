"""Error statistics of a fixed-point result against float, in the output format's LSBs.

Used by the bit-accuracy report and the accuracy tests (`tests/test_fft_engine_accuracy.py`);
kept apart so the numbers have one definition.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from golden.fixed import FixedFormat


def sqnr_db(reference: NDArray[np.floating], approx: NDArray[np.floating]) -> float:
    """10 log10(signal power / error power); inf when the two are identical."""
    noise = float(np.sum((approx - reference) ** 2))
    signal = float(np.sum(reference**2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def ideal_sqnr_db(bits: int) -> float:
    """Full-scale sine through an ideal b-bit quantizer: 6.02 b + 1.76 dB."""
    return 6.02 * bits + 1.76


def error_stats(
    y_float: NDArray[np.float64],
    y_int: NDArray[np.int64],
    fmt: FixedFormat,
    lsb: NDArray[np.float64] | None = None,
) -> dict[str, float]:
    """max |err|, mean err, mean |err| and RMS err in output LSBs; RMS in float units; SQNR;
    the share of outputs at the format's rails (saturated, or exactly full scale).

    ``lsb``: the real value of one output LSB when it is not ``fmt.lsb``, shaped to broadcast
    against ``y_int`` ((C, 1) per channel: a folded output scale, `QuantizedLayer.output_lsb`).
    """
    step = fmt.lsb if lsb is None else lsb
    y_fixed = fmt.to_float(y_int) if lsb is None else y_int * lsb
    err_lsb = (y_fixed - y_float) / step
    at_rail = (y_int == fmt.min_int) | (y_int == fmt.max_int)
    return {
        "max_abs_err_lsb": float(np.max(np.abs(err_lsb))),
        "mean_err_lsb": float(np.mean(err_lsb)),
        "mean_abs_err_lsb": float(np.mean(np.abs(err_lsb))),
        "rms_err_lsb": float(np.sqrt(np.mean(err_lsb**2))),
        "rms_err": float(np.sqrt(np.mean((y_fixed - y_float) ** 2))),
        "sqnr_db": sqnr_db(y_float, y_fixed),
        "saturated_share": float(np.mean(at_rail)),
    }


def match_percent(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """Percentage of samples where two integer results agree exactly."""
    if a.shape != b.shape:
        return 0.0
    return 100.0 * float(np.mean(a == b)) if a.size else 100.0
