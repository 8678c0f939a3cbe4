"""From float ParC layers to the integers the hardware holds (formats, scales, ROM contents).

PE handling (PARC.md section 5, the folding trick): the hardware does not add ``pe`` to
each sample. It adds a per-position constant ``offset[c, i] = corr(w_q, pe_q)[i] + b_q``
from ROM to the accumulator. ``pe_q`` uses the input's fractional bits and ``b_q`` the
accumulator's, so ``corr(w_q, x_q) + offset == corr(w_q, x_q + pe_q) + b_q`` exactly in
integers: the folded hardware and the "PE first" operator are the same arithmetic, and
the engine saves an adder and a wider multiplier input on every tap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.checks import as_finite_array
from golden.fixed import FixedFormat, IntArray, Rounding, frac_for_range, round_float, saturate
from golden.parc import circulant, parc

MIN_N = 2
SUPPORTED_BITS = range(4, 25)  # 4..24 signed bits for data, weights and output
PE_EXTRA_BITS = 2  # PEs may exceed the input range; two more bits before saturating
BIAS_HEADROOM_BITS = 1


def check_n_bits(n: int, bits: int) -> None:
    """The one place that says which N and bits the generators accept."""
    if not isinstance(n, (int, np.integer)) or n < MIN_N:
        raise ValueError(f"N must be an integer >= {MIN_N}; got {n!r}")
    if not isinstance(bits, (int, np.integer)) or bits not in SUPPORTED_BITS:
        raise ValueError(f"bits must be in {SUPPORTED_BITS.start}..{SUPPORTED_BITS.stop - 1}; got {bits!r}")


@dataclass(frozen=True)
class ParcFormat:
    """Every width of one ParC engine; read by both the golden models and `hw/`."""

    n: int
    data: FixedFormat  # x on the input stream
    output: FixedFormat  # y on the output stream
    weight_bits: int
    rounding: Rounding = Rounding.HALF_EVEN
    saturate: bool = True

    def __post_init__(self) -> None:
        check_n_bits(self.n, self.data.bits)
        check_n_bits(self.n, self.weight_bits)
        check_n_bits(self.n, self.output.bits)

    @property
    def pe_bits(self) -> int:
        return self.data.bits + PE_EXTRA_BITS

    @property
    def product_bits(self) -> int:
        return self.data.bits + self.weight_bits

    @property
    def acc_bits(self) -> int:
        """Exact accumulator: in + w + ceil(log2 N), plus room for the PE/bias offset."""
        return self.product_bits + math.ceil(math.log2(self.n)) + PE_EXTRA_BITS + BIAS_HEADROOM_BITS

    @property
    def offset_limit(self) -> int:
        """Largest |offset| that can never overflow the accumulator whatever x is."""
        data_part = self.n * (1 << (self.data.bits - 1)) * (1 << (self.weight_bits - 1))
        return (1 << (self.acc_bits - 1)) - 1 - data_part

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "data": self.data.to_dict(),
            "output": self.output.to_dict(),
            "weight_bits": self.weight_bits,
            "pe_bits": self.pe_bits,
            "acc_bits": self.acc_bits,
            "rounding": str(self.rounding),
            "saturate": self.saturate,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ParcFormat":
        return cls(
            n=int(d["n"]),
            data=FixedFormat(**d["data"]),
            output=FixedFormat(**d["output"]),
            weight_bits=int(d["weight_bits"]),
            rounding=Rounding(d["rounding"]),
            saturate=bool(d["saturate"]),
        )


@dataclass(frozen=True)
class FloatLayer:
    """One trained (or random) ParC layer at feature size N: the float truth."""

    weight: NDArray[np.float64]  # (C, N)
    pe: NDArray[np.float64]  # (C, N)
    bias: NDArray[np.float64]  # (C,)
    name: str = "layer"

    @classmethod
    def create(cls, weight: ArrayLike, pe: ArrayLike | None = None, bias: ArrayLike | None = None, name: str = "layer") -> "FloatLayer":
        w = as_finite_array(weight, "weight")
        if w.ndim != 2:
            raise ValueError(f"weight must have shape (C, N); got {w.shape}")
        p = np.zeros_like(w) if pe is None else as_finite_array(pe, "pe")
        if p.shape != w.shape:
            raise ValueError(f"pe must have the weight's shape {w.shape}; got {p.shape}")
        b = np.zeros(w.shape[0]) if bias is None else as_finite_array(bias, "bias")
        if b.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape ({w.shape[0]},); got {b.shape}")
        return cls(w, p, b, name)

    @property
    def channels(self) -> int:
        return self.weight.shape[0]

    @property
    def n(self) -> int:
        return self.weight.shape[1]

    def forward(self, x: ArrayLike) -> NDArray[np.float64]:
        """Float ParC on (..., C, N) rows."""
        xa = as_finite_array(x, "x")
        return parc(xa, self.weight, self.pe, self.bias, axis=-1, channel_axis=xa.ndim - 2)


def random_layer(n: int, channels: int, seed: int = 0) -> FloatLayer:
    """Deterministic stand-in weights with the official init scale (trunc-normal std 0.02)."""
    rng = np.random.default_rng(seed)
    w = np.clip(rng.normal(0, 0.02, size=(channels, n)), -0.04, 0.04) * math.sqrt(56 / n) * 8
    pe = np.clip(rng.normal(0, 0.02, size=(channels, n)), -0.04, 0.04) * 10
    bias = rng.normal(0, 0.05, size=channels)
    return FloatLayer.create(w, pe, bias, name=f"random_n{n}_c{channels}_seed{seed}")


@dataclass(frozen=True)
class QuantizedLayer:
    """Integer contents of the engine's ROMs plus the formats that give them meaning."""

    fmt: ParcFormat
    weight: IntArray  # (C, N), value = weight * 2**-weight_frac[c]
    weight_frac: IntArray  # (C,)
    pe: IntArray  # (C, N), frac = fmt.data.frac
    bias: IntArray  # (C,), frac = data.frac + weight_frac[c]
    saturated: dict[str, int] = field(default_factory=dict)  # what the quantizer clipped

    @property
    def channels(self) -> int:
        return self.weight.shape[0]

    @property
    def acc_frac(self) -> IntArray:
        return self.fmt.data.frac + self.weight_frac

    @property
    def shift(self) -> IntArray:
        """Per-channel right shift from accumulator to output LSBs (always >= 0)."""
        return self.acc_frac - self.fmt.output.frac

    @property
    def offset(self) -> IntArray:
        """The folded PE/bias ROM: corr(w_q, pe_q)[i] + b_q (accumulator LSBs)."""
        return np.einsum("cij,cj->ci", circulant(self.weight), self.pe) + self.bias[:, None]

    def to_dict(self) -> dict:
        return {
            "format": self.fmt.to_dict(),
            "weight_frac": self.weight_frac.tolist(),
            "shift": self.shift.tolist(),
            "saturated": dict(self.saturated),
        }


def quantize_layer(
    layer: FloatLayer,
    bits: int,
    calibration: ArrayLike | None = None,
    *,
    weight_bits: int | None = None,
    output_bits: int | None = None,
    data_frac: int | None = None,
    output_frac: int | None = None,
    per_channel: bool = True,
    rounding: Rounding = Rounding.HALF_EVEN,
    saturating: bool = True,
) -> QuantizedLayer:
    """Choose power-of-two scales from the weights and calibration data, then quantize.

    Scales: data and output fracs are the largest that hold the calibration range
    (or a bound from the weights without calibration); weight fracs per channel or per
    tensor. Values that still do not fit are saturated and counted in ``saturated``.
    """
    check_n_bits(layer.n, bits)
    wbits = bits if weight_bits is None else weight_bits
    obits = bits if output_bits is None else output_bits
    calib = None if calibration is None else as_finite_array(calibration, "calibration")
    if calib is not None and (calib.ndim < 2 or calib.shape[-2:] != (layer.channels, layer.n)):
        raise ValueError(f"calibration must be (..., {layer.channels}, {layer.n}); got {calib.shape}")

    if data_frac is None:
        data_frac = frac_for_range(float(np.max(np.abs(calib))), bits) if calib is not None else bits - 3
    data = FixedFormat(bits, data_frac)

    w_abs = np.abs(layer.weight).max(axis=1)
    if not per_channel:
        w_abs = np.full_like(w_abs, w_abs.max())
    weight_frac = np.array([frac_for_range(float(m), wbits) for m in w_abs], dtype=np.int64)

    if output_frac is None:
        if calib is not None:
            y_max = float(np.max(np.abs(layer.forward(calib))))
        else:
            x_max = (1 << (bits - 1)) * data.lsb
            y_max = float(np.max(np.abs(layer.weight).sum(axis=1) * x_max + np.abs(layer.forward(np.zeros((layer.channels, layer.n)))).max(axis=1)))
        output_frac = frac_for_range(y_max, obits)
    output_frac = int(min(output_frac, data.frac + int(weight_frac.min())))  # keep shifts >= 0
    fmt = ParcFormat(layer.n, data, FixedFormat(obits, output_frac), wbits, rounding, saturating)

    saturated: dict[str, int] = {}

    def q(name: str, values: NDArray[np.float64], frac: ArrayLike, nbits: int) -> IntArray:
        scaled = values * np.exp2(np.asarray(frac, dtype=np.float64))
        ints, clipped = saturate(round_float(scaled, rounding), nbits)
        saturated[name] = int(clipped.sum())
        return ints

    wq = q("weight", layer.weight, weight_frac[:, None], wbits)
    peq = q("pe", layer.pe, data.frac, fmt.pe_bits)
    limit_bits = fmt.acc_bits - 1 - BIAS_HEADROOM_BITS  # bias gets the headroom bit's range
    bq = q("bias", layer.bias, data.frac + weight_frac, limit_bits)
    quantized = QuantizedLayer(fmt, wq, weight_frac, peq, bq, saturated)
    if np.max(np.abs(quantized.offset)) > fmt.offset_limit:
        raise ValueError("PE/bias offset does not fit the accumulator; lower the PE range or raise bits")
    return quantized


def quantize_input(q: QuantizedLayer, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Float activations -> input-stream integers (and which ones saturated)."""
    return q.fmt.data.quantize(as_finite_array(x, "x"), q.fmt.rounding)


