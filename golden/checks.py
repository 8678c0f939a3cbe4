"""Input validation shared by every model: bad input is a ValueError naming the problem."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_finite_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as float64, refusing empty, non-numeric, complex, NaN and Inf data.

    Complex data is refused rather than cast: NumPy's cast keeps only the real part (with a
    warning at most), which would silently build hardware for different weights. ParC
    weights, PEs, biases and activations are real.
    """
    real = "ParC weights, PEs, biases and activations are real (pass .real if that is what you mean)"
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not numeric: {exc}") from None
    if raw.dtype.kind == "c":
        raise ValueError(f"{name} is complex ({raw.dtype}); {real}")
    try:
        arr = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:  # e.g. an object array holding complex numbers
        what = "complex" if "complex" in str(exc) else "not numeric"
        raise ValueError(f"{name} is {what}: {exc}" + (f"; {real}" if what == "complex" else "")) from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} NaN/Inf value(s), first at index {first}")
    return arr
