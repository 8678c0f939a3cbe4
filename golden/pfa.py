"""Good-Thomas prime-factor index maps: an N-point DFT as a multi-dimensional DFT, no twiddles.

Why (docs/architecture.md section 6): N = 56, 28, 14 (and 12, 21, 24, 42, ...) are products of
pairwise coprime factors that each have a small Winograd DFT (`golden.winograd`). With coprime
factors the multi-dimensional DFT needs no twiddle factors between the dimensions, so an
engine is a chain of constant-multiply modules, and the index maps are the *addresses* of the
frame buffers between them, never multipliers.

For ``N = N_1 * ... * N_d`` (pairwise coprime) and ``M_i = N / N_i``:

    input  (Ruritanian) map:  n = (sum_i M_i * n_i) mod N
    output (CRT) map:         k = (sum_i M_i * (M_i^-1 mod N_i) * k_i) mod N

so that ``n * k = sum_i M_i * n_i * k_i (mod N)`` and ``W_N^(nk) = prod_i W_(N_i)^(n_i k_i)``:

    X[k(k_1..k_d)] = DFT_(N_1 x ... x N_d)( x[n(n_1..n_d)] )[k_1, ..., k_d]

For two factors this is the table of docs/architecture.md: 56 = 8 * 7 has n = 7 n1 + 8 n2 and
k = 49 k1 + 8 k2 (mod 56). The inverse DFT uses the same two maps with their roles exchanged:
the spectrum is read through the CRT map and the result written through the Ruritanian map
(``n k`` is symmetric), which lets a forward output buffer feed an inverse transform as it is.

Arrays in *buffer layout* have the factors as axes: ``buf[i_1, ..., i_d]`` holds sample
``input_index[i_1, ..., i_d]`` (time side) or bin ``output_index[i_1, ..., i_d]`` (frequency side).

Supported sizes (`supported`): ``N = 2**a * 3**b * 5**c * 7**d`` with a <= 3 and b, c, d <= 1,
N >= 2: 2..8, 10, 12, 14, 15, 20, 21, 24, 28, 30, 35, 40, 42, 56, 60, 70, 84, 105, 120, 140,
168, 210, 280, 420, 840. (No 9- or 16-point module yet: N divisible by 9 or 16 is refused.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.winograd import MODULE_SIZES, dft_float

__all__ = ["supported", "supported_sizes", "PfaMap", "pfa_map", "pfa_float", "apply_along"]

_POWERS_OF_TWO = (8, 4, 2)
_ODD_PRIMES = (3, 5, 7)


def supported(n: int) -> tuple[int, ...] | None:
    """The coprime module sizes of ``n`` (power of two first, then 3, 5, 7), or None.

    ``supported(56) == (8, 7)``, ``supported(42) == (2, 3, 7)``, ``supported(7) == (7,)``,
    ``supported(9) is None``.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        return None
    rest, factors = int(n), []
    two = rest & -rest  # the largest power of two dividing n
    if two > 1:
        if two not in _POWERS_OF_TWO:
            return None
        factors.append(two)
        rest //= two
    for p in _ODD_PRIMES:
        if rest % p == 0:
            rest //= p
            if rest % p == 0:
                return None
            factors.append(p)
    return tuple(factors) if rest == 1 else None


def supported_sizes(limit: int = 1024) -> list[int]:
    """Every supported N up to ``limit``."""
    return [n for n in range(2, limit + 1) if supported(n)]


@dataclass(frozen=True)
class PfaMap:
    """Index maps of one factorisation (module docstring); arrays are read-only."""

    n: int
    factors: tuple[int, ...]
    input_index: NDArray[np.int64]  # shape factors: buffer position -> time index n
    output_index: NDArray[np.int64]  # shape factors: buffer position -> frequency index k

    @property
    def input_coefficients(self) -> tuple[int, ...]:
        """M_i: ``n = sum_i M_i n_i mod N``."""
        return tuple(self.n // f for f in self.factors)

    @property
    def output_coefficients(self) -> tuple[int, ...]:
        """M_i (M_i^-1 mod N_i): ``k = sum_i coef_i k_i mod N``."""
        return tuple((self.n // f) * pow(self.n // f, -1, f) % self.n if f > 1 else 0 for f in self.factors)

    def gather(self, natural: ArrayLike, side: str) -> NDArray:
        """Natural order (..., N) -> buffer layout (..., *factors). ``side``: "time" or "freq"."""
        a = np.asarray(natural)
        if a.shape[-1:] != (self.n,):
            raise ValueError(f"need (..., {self.n}); got {a.shape}")
        return a[..., self._index(side)]

    def scatter(self, buffer: ArrayLike, side: str) -> NDArray:
        """Buffer layout (..., *factors) -> natural order (..., N) (inverse of `gather`)."""
        b = np.asarray(buffer)
        d = len(self.factors)
        if b.shape[b.ndim - d :] != self.factors:
            raise ValueError(f"need (..., {', '.join(map(str, self.factors))}); got {b.shape}")
        out = np.empty(b.shape[: b.ndim - d] + (self.n,), dtype=b.dtype)
        out[..., self._index(side).ravel()] = b.reshape(b.shape[: b.ndim - d] + (self.n,))
        return out

    def _index(self, side: str) -> NDArray[np.int64]:
        if side == "time":
            return self.input_index
        if side == "freq":
            return self.output_index
        raise ValueError(f"side must be 'time' or 'freq'; got {side!r}")


@cache
def pfa_map(n: int, factors: tuple[int, ...] | None = None) -> PfaMap:
    """The maps of ``n`` for ``factors`` (default `supported(n)`; any pairwise coprime order)."""
    fac = supported(n) if factors is None else tuple(int(f) for f in factors)
    if fac is None:
        raise ValueError(f"N={n} is not a product of coprime module sizes {MODULE_SIZES} (at most one power of two)")
    if math.prod(fac) != n or any(f not in MODULE_SIZES for f in fac):
        raise ValueError(f"factors {fac} must be module sizes {MODULE_SIZES} whose product is N={n}")
    if any(math.gcd(a, b) != 1 for i, a in enumerate(fac) for b in fac[i + 1 :]):
        raise ValueError(f"factors {fac} of N={n} must be pairwise coprime")
    grids = np.meshgrid(*[np.arange(f, dtype=np.int64) for f in fac], indexing="ij")
    m = [n // f for f in fac]
    inp = sum(mi * g for mi, g in zip(m, grids, strict=True)) % n
    out = sum((mi * pow(mi, -1, f) if f > 1 else 0) * g for mi, f, g in zip(m, fac, grids, strict=True)) % n
    inp, out = np.asarray(inp, dtype=np.int64), np.asarray(out, dtype=np.int64)
    for idx in (inp, out):
        if sorted(idx.ravel().tolist()) != list(range(n)):
            raise AssertionError("PFA map is not a bijection")
        idx.setflags(write=False)
    return PfaMap(n, fac, inp, out)


def apply_along(fn: Callable[[NDArray], NDArray], buffer: NDArray, axis: int) -> NDArray:
    """Apply ``fn`` (acting on the last axis) along ``axis`` of ``buffer``."""
    moved = np.moveaxis(buffer, axis, -1)
    return np.moveaxis(fn(moved), -1, axis)


def pfa_float(
    x: ArrayLike,
    *,
    inverse: bool = False,
    factors: tuple[int, ...] | None = None,
    axes_order: tuple[int, ...] | None = None,
) -> NDArray[np.complex128]:
    """N-point DFT of (..., N) through the PFA and the float Winograd modules: == numpy.fft.fft
    (``inverse``: ``N * numpy.fft.ifft``, unnormalised). ``axes_order``: which factor's modules
    run first (default in factor order; the result is the same)."""
    xa = np.asarray(x, dtype=np.complex128)
    pm = pfa_map(xa.shape[-1], None if factors is None else tuple(factors))
    d = len(pm.factors)
    order = tuple(range(d)) if axes_order is None else tuple(axes_order)
    if sorted(order) != list(range(d)):
        raise ValueError(f"axes_order must be a permutation of 0..{d - 1}; got {order}")
    src, dst = ("freq", "time") if inverse else ("time", "freq")
    buf = pm.gather(xa, src)
    lead = buf.ndim - d
    for ax in order:
        buf = apply_along(partial(dft_float, pm.factors[ax], inverse=inverse), buf, lead + ax)
    return pm.scatter(buf, dst)
