"""Float64 reference of ParC and Fast-ParC (docs/operator.md sections 1-2).

Everything else in the project (integer models, RTL, reports) is ultimately judged
against these functions, and these functions are judged against SciPy and PyTorch in
the tests, never only against each other.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.checks import as_finite_array

_Scalar = TypeVar("_Scalar", bound=np.generic)  # circulant serves the float and the integer models

__all__ = ["parc", "fast_parc", "parc_h", "parc_w", "parc_convnext_mixer", "circulant"]


def _default_channel_axis(ndim: int) -> int:
    """(C, N) and (C, H, W) carry channels first; (B, C, H, W) carries them second."""
    return 1 if ndim == 4 else 0


def _prepare(
    x: ArrayLike,
    weight: ArrayLike,
    pe: ArrayLike | None,
    bias: ArrayLike | float | None,
    axis: int,
    channel_axis: int | None,
) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[int | None, int], int
]:
    """Validate and move data to layout (..., C, N) with per-channel (C, N) parameters."""
    x = as_finite_array(x, "x")
    if x.ndim < 1:
        raise ValueError("x must have at least one axis (the ParC axis)")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for x with {x.ndim} axes")
    axis %= x.ndim
    n = x.shape[axis]
    w = as_finite_array(weight, "weight")
    weight_shape = w.shape
    if w.ndim not in (1, 2):
        raise ValueError(f"weight must be (N,) or (C, N); got shape {w.shape}")
    if w.shape[-1] != n:
        raise ValueError(f"kernel length {w.shape[-1]} does not match x length {n} along axis {axis}")

    if w.ndim == 1:
        # One kernel shared by every row: give x a dummy channel axis of size 1.
        x = np.moveaxis(x, axis, -1)[..., None, :]
        c_axis_out: int | None = None
        channels = 1
        w = w[None, :]
    else:
        if x.ndim < 2:
            raise ValueError("a (C, N) weight needs x with a channel axis")
        c_axis = _default_channel_axis(x.ndim) if channel_axis is None else channel_axis
        if not -x.ndim <= c_axis < x.ndim:
            raise ValueError(f"channel_axis {c_axis} is out of range for x with {x.ndim} axes")
        c_axis %= x.ndim
        if c_axis == axis:
            raise ValueError("channel_axis and axis must differ")
        channels = x.shape[c_axis]
        if w.shape[0] != channels:
            raise ValueError(f"weight has {w.shape[0]} channels but x has {channels} on axis {c_axis}")
        x = np.moveaxis(x, (c_axis, axis), (-2, -1))
        c_axis_out = c_axis

    p = np.zeros(weight_shape) if pe is None else as_finite_array(pe, "pe")
    if p.shape != weight_shape:
        raise ValueError(f"pe shape {p.shape} must equal weight shape {weight_shape}")
    p = p.reshape(w.shape)
    b = np.zeros(channels) if bias is None else as_finite_array(bias, "bias").reshape(-1)
    if b.size == 1 and channels > 1:
        raise ValueError(f"bias must have one value per channel ({channels}); got 1")
    if b.shape != (channels,):
        raise ValueError(f"bias must have shape ({channels},); got {b.shape}")
    restore = (c_axis_out, axis)
    return x, w, p, b, restore, n


def _restore(y: NDArray[np.float64], restore: tuple[int | None, int]) -> NDArray[np.float64]:
    c_axis, axis = restore
    if c_axis is None:
        return np.moveaxis(y[..., 0, :], -1, axis)
    return np.moveaxis(y, (-2, -1), (c_axis, axis))


def circulant(weight: NDArray[_Scalar]) -> NDArray[_Scalar]:
    """Matrix A with (A @ u)[i] = sum_k w[k] u[(i+k) mod N], batched over leading axes."""
    n = weight.shape[-1]
    idx = (np.arange(n)[None, :] - np.arange(n)[:, None]) % n  # A[i, j] = w[(j - i) mod N]
    return weight[..., idx]


def parc(
    x: ArrayLike,
    weight: ArrayLike,
    pe: ArrayLike | None = None,
    bias: ArrayLike | float | None = None,
    axis: int = -1,
    channel_axis: int | None = None,
) -> NDArray[np.float64]:
    """ParC: ``y[i] = b + sum_k w[k] (x + pe)[(i + k) mod N]`` along ``axis``, depthwise.

    ``weight`` is (N,) (shared) or (C, N) with C on ``channel_axis`` (default: axis 0 of
    (C, N)/(C, H, W) arrays, axis 1 of (B, C, H, W)). ``pe`` has the weight's shape,
    ``bias`` is (C,). Computed as a batched circulant matrix product (no sample loop).
    """
    xs, w, p, b, restore, _ = _prepare(x, weight, pe, bias, axis, channel_axis)
    u = xs + p
    y = np.einsum("cij,...cj->...ci", circulant(w), u, optimize=True) + b[:, None]
    return _restore(y, restore)


def fast_parc(
    x: ArrayLike,
    weight: ArrayLike,
    pe: ArrayLike | None = None,
    bias: ArrayLike | float | None = None,
    axis: int = -1,
    channel_axis: int | None = None,
) -> NDArray[np.float64]:
    """Fast-ParC: ``irfft(rfft(x + pe) * conj(rfft(w)), n=N) + b`` (same result as `parc`)."""
    xs, w, p, b, restore, n = _prepare(x, weight, pe, bias, axis, channel_axis)
    spectrum = np.fft.rfft(xs + p, axis=-1) * np.conj(np.fft.rfft(w, axis=-1))
    y = np.fft.irfft(spectrum, n=n, axis=-1) + b[:, None]
    return _restore(y, restore)


def _map_axes(x: NDArray[np.float64]) -> int:
    if x.ndim not in (3, 4):
        raise ValueError(f"feature map must be (C, H, W) or (B, C, H, W); got shape {x.shape}")
    return x.ndim - 3  # channel axis


def parc_h(
    x: ArrayLike, weight: ArrayLike, pe: ArrayLike | None = None, bias: ArrayLike | None = None
) -> NDArray[np.float64]:
    """ParC-H: global circular correlation down each column (kernel (C, H))."""
    xa = as_finite_array(x, "x")
    return parc(xa, weight, pe, bias, axis=-2, channel_axis=_map_axes(xa))


def parc_w(
    x: ArrayLike, weight: ArrayLike, pe: ArrayLike | None = None, bias: ArrayLike | None = None
) -> NDArray[np.float64]:
    """ParC-W (ParC-V in the paper's figures): along each row (kernel (C, W))."""
    xa = as_finite_array(x, "x")
    return parc(xa, weight, pe, bias, axis=-1, channel_axis=_map_axes(xa))


def parc_convnext_mixer(
    x: ArrayLike,
    h: tuple[ArrayLike, ArrayLike | None, ArrayLike | None],
    w: tuple[ArrayLike, ArrayLike | None, ArrayLike | None],
) -> NDArray[np.float64]:
    """ParC-ConvNeXt token mixer: first half of channels through ParC-H, second through ParC-W.

    ``h`` and ``w`` are ``(weight, pe, bias)`` triples for the two halves.
    """
    xa = as_finite_array(x, "x")
    c_axis = _map_axes(xa)
    channels = xa.shape[c_axis]
    if channels % 2:
        raise ValueError(f"the ParC-ConvNeXt mixer splits channels in two halves; got {channels} channels")
    x_h, x_w = np.split(xa, 2, axis=c_axis)
    return np.concatenate([parc_h(x_h, *h), parc_w(x_w, *w)], axis=c_axis)
