"""The float reference against independent implementations: SciPy, PyTorch, numpy.fft."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from golden import fast_parc, parc, parc_convnext_mixer, parc_h, parc_w, resize_kernel

PAPER_SIZES = [7, 14, 28, 56]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def random_layer(rng: np.random.Generator, c: int, n: int):
    return rng.normal(size=(c, n)), rng.normal(size=(c, n)), rng.normal(size=c)


def scipy_parc(x: np.ndarray, w: np.ndarray, pe: np.ndarray, b: np.ndarray) -> np.ndarray:
    """correlate1d centres the kernel at len//2; origin shifts it so tap 0 sits on sample i."""
    n = w.shape[-1]
    origin = -(n // 2)
    rows = [scipy.ndimage.correlate1d(x[c] + pe[c], w[c], mode="wrap", origin=origin) + b[c] for c in range(w.shape[0])]
    return np.stack(rows)


def torch_parc(x: np.ndarray, w: np.ndarray, pe: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The official ParC formula: conv2d over cat(u, u[:-1]) with groups=C (float64)."""
    c, n = w.shape
    u = torch.from_numpy(x + pe)[None, :, :, None]  # (1, C, N, 1): ParC-H layout
    u = torch.cat([u, u[:, :, :-1]], dim=2)
    y = F.conv2d(u, torch.from_numpy(w)[:, None, :, None], torch.from_numpy(b), groups=c)
    return y[0, :, :, 0].numpy()


@pytest.mark.parametrize("n", PAPER_SIZES)
def test_parc_matches_scipy_and_torch_at_paper_sizes(n: int) -> None:
    rng = np.random.default_rng(n)
    c = 5
    w, pe, b = random_layer(rng, c, n)
    x = rng.normal(size=(c, n))
    y = parc(x, w, pe, b)
    assert rel_err(y, scipy_parc(x, w, pe, b)) < 1e-12
    assert rel_err(y, torch_parc(x, w, pe, b)) < 1e-12


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 130), c=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_parc_matches_scipy_and_torch_random_sizes(n: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, pe, b = random_layer(rng, c, n)
    x = rng.normal(size=(c, n))
    y = parc(x, w, pe, b)
    assert rel_err(y, scipy_parc(x, w, pe, b)) < 1e-12
    assert rel_err(y, torch_parc(x, w, pe, b)) < 1e-12


def test_parc_follows_the_index_convention_on_a_delta() -> None:
    """A delta at position 3 and a kernel with one tap at k=2 lands at i = 3 - 2 = 1."""
    x = np.zeros(8)
    x[3] = 1.0
    w = np.zeros(8)
    w[2] = 1.0
    y = parc(x, w)
    assert np.flatnonzero(y).tolist() == [1]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 130), c=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_fast_parc_equals_parc(n: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w, pe, b = random_layer(rng, c, n)
    x = rng.normal(size=(3, c, n))
    assert rel_err(fast_parc(x, w, pe, b, channel_axis=1), parc(x, w, pe, b, channel_axis=1)) < 1e-12


@pytest.mark.parametrize("n", PAPER_SIZES)
def test_dropping_conj_gives_convolution_not_correlation(n: int) -> None:
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=n), rng.normal(size=n)
    no_conj = np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(w), n=n)
    assert rel_err(no_conj, parc(x, w)) > 1e-2
    assert rel_err(fast_parc(x, w), parc(x, w)) < 1e-12


def test_parc_h_and_w_run_along_their_axes() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 7, 9))  # B, C, H, W
    wh, peh, bh = random_layer(rng, 4, 7)
    ww, pew, bw = random_layer(rng, 4, 9)
    yh = parc_h(x, wh, peh, bh)
    yw = parc_w(x, ww, pew, bw)
    for bi in range(2):
        for col in range(9):
            np.testing.assert_allclose(
                yh[bi, :, :, col], torch_parc(x[bi, :, :, col], wh, peh, bh), rtol=1e-12, atol=1e-12
            )
        for row in range(7):
            np.testing.assert_allclose(
                yw[bi, :, row, :], torch_parc(x[bi, :, row, :], ww, pew, bw), rtol=1e-12, atol=1e-12
            )


def test_convnext_mixer_splits_channels_h_then_w() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 14, 14))
    h = random_layer(rng, 3, 14)
    w = random_layer(rng, 3, 14)
    y = parc_convnext_mixer(x, h, w)
    np.testing.assert_allclose(y[:3], parc_h(x[:3], *h), rtol=0, atol=0)
    np.testing.assert_allclose(y[3:], parc_w(x[3:], *w), rtol=0, atol=0)
    assert not np.allclose(y[:3], parc_w(x[:3], *w))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("m,n", [(32, 56), (16, 28), (8, 14), (8, 7), (56, 7), (5, 1), (1, 9), (13, 13)])
def test_resize_kernel_matches_torch_interpolate(
    mode: Literal["bilinear", "bicubic"], align_corners: bool, m: int, n: int
) -> None:
    rng = np.random.default_rng(m * 100 + n)
    meta = rng.normal(size=(3, m))
    t = torch.from_numpy(meta)[None, :, :, None]  # (1, C, M, 1): resize along H only
    ref = F.interpolate(t, size=(n, 1), mode=mode, align_corners=align_corners)[0, :, :, 0].numpy()
    got = resize_kernel(meta, n, mode=mode, align_corners=align_corners)
    assert np.max(np.abs(got - ref)) < 1e-12


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: parc(np.ones((2, 8)), np.ones((2, 7))), "does not match"),
        (lambda: parc(np.ones((3, 8)), np.ones((2, 8))), "channels"),
        (lambda: parc(np.ones(8), np.ones((1, 1, 8))), "weight must be"),
        (lambda: parc(np.ones((2, 8)), np.ones((2, 8)), pe=np.ones((1, 8))), "pe shape"),
        (lambda: parc(np.ones((2, 8)), np.ones((2, 8)), bias=np.ones(3)), "bias"),
        (lambda: parc(np.array([1.0, np.nan]), np.ones(2)), "NaN"),
        (lambda: parc(np.ones(2), np.array([np.inf, 1.0])), "NaN/Inf"),
        (lambda: parc(np.ones((2, 0)), np.ones((2, 0))), "empty"),
        (lambda: parc(np.float64(3.0), np.ones(1)), "at least one axis"),
        (lambda: parc_h(np.ones((8, 8)), np.ones((8, 8))), "feature map"),
        (lambda: fast_parc(np.ones((2, 8)), np.ones((2, 8)), axis=2), "out of range"),
        (
            lambda: parc_convnext_mixer(
                np.ones((3, 4, 4)), (np.ones((1, 4)), None, None), (np.ones((1, 4)), None, None)
            ),
            "halves",
        ),
        (lambda: resize_kernel(np.ones(4), 0), "positive"),
        (lambda: resize_kernel(np.ones(4), 4, mode="nearest"), "mode"),  # type: ignore[arg-type]  # the runtime check
        (lambda: resize_kernel(np.array([1.0, np.nan]), 4), "NaN"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
