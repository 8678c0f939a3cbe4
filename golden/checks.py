"""Input validation shared by every model: bad input is a ValueError naming the problem."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_finite_array(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as float64, refusing empty, non-numeric, NaN and Inf data."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not numeric: {exc}") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} NaN/Inf value(s), first at index {first}")
    return arr
