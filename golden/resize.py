"""Meta-kernel resize: PyTorch ``F.interpolate`` along one axis, reproduced in NumPy.

ParC stores kernels and PEs at a fixed meta size and resizes them to the feature size.
Hardware bakes the resized kernel into ROM, so the generator needs this offline and
without torch.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.checks import as_finite_array

CUBIC_A = -0.75  # PyTorch's bicubic constant


def _source_positions(m: int, n: int, align_corners: bool, cubic: bool) -> NDArray[np.float64]:
    i = np.arange(n, dtype=np.float64)
    if align_corners:
        return i * ((m - 1) / (n - 1)) if n > 1 else np.zeros(n)
    src = (i + 0.5) * (m / n) - 0.5
    return src if cubic else np.maximum(src, 0.0)  # torch clamps only the linear case


def _cubic_weights(t: NDArray[np.float64]) -> NDArray[np.float64]:
    a = CUBIC_A

    def near(d: NDArray[np.float64]) -> NDArray[np.float64]:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: NDArray[np.float64]) -> NDArray[np.float64]:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def resize_kernel(
    meta: ArrayLike,
    n: int,
    mode: Literal["bilinear", "bicubic"] = "bilinear",
    align_corners: bool = True,
    axis: int = -1,
) -> NDArray[np.float64]:
    """Resize ``meta`` to length ``n`` along ``axis`` as ``F.interpolate`` does on that axis."""
    arr = as_finite_array(meta, "meta")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"target length must be a positive integer; got {n!r}")
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"mode must be 'bilinear' or 'bicubic'; got {mode!r}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {arr.ndim} axes")
    data = np.moveaxis(arr, axis, -1)
    m = data.shape[-1]
    src = _source_positions(m, int(n), align_corners, cubic=(mode == "bicubic"))
    base = np.floor(src).astype(np.int64)
    t = src - base
    if mode == "bilinear":
        lo = np.clip(base, 0, m - 1)
        hi = np.clip(base + 1, 0, m - 1)
        out = data[..., lo] * (1 - t) + data[..., hi] * t
    else:
        taps = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, m - 1)
        out = np.einsum("...nk,nk->...n", data[..., taps], _cubic_weights(t))
    return np.moveaxis(out, -1, axis)
