"""From float ParC layers to the integers the hardware holds (formats, scales, ROM contents).

PE handling (docs/operator.md section 6, the folding trick): the hardware does not add ``pe`` to
each sample. It adds a per-position constant ``offset[c, i] = corr(w_q, pe_q)[i] + b_q``
from ROM to the accumulator. ``pe_q`` uses the input's fractional bits and ``b_q`` the
accumulator's, so ``corr(w_q, x_q) + offset == corr(w_q, x_q + pe_q) + b_q`` exactly in
integers: the folded hardware and the "PE first" operator are the same arithmetic, and
the engine saves an adder and a wider multiplier input on every tap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.calibration import DEFAULT_PERCENTILE, channel_clip_levels, check_percentile, check_rule, pow2_frac
from golden.checks import as_finite_array
from golden.cli import UserError
from golden.fixed import FRAC_LIMIT, FixedFormat, IntArray, Rounding, frac_for_range, round_float, saturate, scale
from golden.parc import circulant, parc

MIN_N = 2
MAX_N = 1024  # at 24 bits the exact accumulator (2*24 + log2 N + 3 bits) must stay within int64's 62
SUPPORTED_BITS = range(4, 25)  # 4..24 signed bits for data, weights and output
PE_EXTRA_BITS = 2  # PEs may exceed the input range; two more bits before saturating
BIAS_HEADROOM_BITS = 1
OUTPUT_SCALES = ("pow2", "shared", "per-channel")  # `quantize_layer(out_scale=...)`
INPUT_SCALES = ("pow2", "per-channel")  # `quantize_layer(in_scale=...)`
PE_OFFSETS = ("auto", "quantized", "exact")  # `quantize_layer(pe_offset=...)`
OPTIONAL_WIDTHS = ("acc_sat_bits", "bias_bits")  # ParcFormat fields written only when set
_BELOW_CAP = 1.0 - 2.0**-40  # keeps a folding factor strictly under its cap despite float rounding


def check_bits(bits: int, name: str = "bits") -> None:
    """The one place that says which widths the generators accept; ``name`` is how the
    caller's user spells it (``--bits`` on a command line)."""
    if not isinstance(bits, (int, np.integer)) or bits not in SUPPORTED_BITS:
        raise ValueError(f"{name} must be in {SUPPORTED_BITS.start}..{SUPPORTED_BITS.stop - 1}; got {bits!r}")


def check_n_bits(n: int, bits: int) -> None:
    """The one place that says which N and bits the generators accept."""
    if not isinstance(n, (int, np.integer)) or not MIN_N <= n <= MAX_N:
        raise ValueError(f"N must be an integer in {MIN_N}..{MAX_N}; got {n!r}")
    check_bits(bits)


def exact_acc_bits(n: int, data_bits: int, weight_bits: int) -> int:
    """Exact accumulator: in + w + ceil(log2 N), plus room for the PE/bias offset
    (`ParcFormat.acc_bits`; a function too, so options can be checked before quantizing)."""
    return data_bits + weight_bits + math.ceil(math.log2(n)) + PE_EXTRA_BITS + BIAS_HEADROOM_BITS


def bias_share_bits(acc_bits: int) -> int:
    """Signed width of the bias's share of an ``acc_bits`` accumulator: a quarter of its range
    (the rest holds the data's correlation and the PE term next to it, `ParcFormat.offset_limit`)."""
    return acc_bits - 1 - BIAS_HEADROOM_BITS


def check_acc_bits(acc_bits: int | None, exact: int, output_bits: int, name: str = "acc_bits") -> None:
    """A narrow, saturating accumulator width (`quantize_layer`'s ``acc_bits``): None (exact) or
    ``output_bits .. exact``, else a one-line `UserError` spelled with ``name``.

    Wider than ``exact`` would be bits that never change (the exact sum always fits). The floor
    is the output's width: an accumulator narrower than the output could not reach the output's
    full scale even at shift 0, so output bits would be dead whatever the scales.
    """
    if acc_bits is None:
        return
    if not _is_int(acc_bits):
        raise UserError(f"{name} must be an integer number of bits; got {acc_bits!r}")
    if acc_bits > exact:
        raise UserError(
            f"{name} {acc_bits} is wider than the exact accumulator ({exact} bits here, which never saturates); "
            f"give at most {exact}, or leave it out for exact"
        )
    if acc_bits < output_bits:
        raise UserError(
            f"{name} {acc_bits} is narrower than the {output_bits}-bit output (whose full scale it could "
            f"never reach); give {output_bits}..{exact}"
        )


def _is_int(value: object) -> bool:
    """An integer, and not a bool (True would pass for a width of 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_bias_bits(bias_bits: int | None, exact: int, name: str = "bias_bits") -> None:
    """The bias's own width (`quantize_layer`'s ``bias_bits``): None (accumulator LSBs) or
    ``SUPPORTED_BITS.start .. bias_share_bits(exact)`` (the default bias's width: a wider
    format could not be aligned into the accumulator), else a one-line `UserError`."""
    if bias_bits is None:
        return
    top = bias_share_bits(exact)
    if not (_is_int(bias_bits) and SUPPORTED_BITS.start <= bias_bits <= top):
        raise UserError(
            f"{name} must be in {SUPPORTED_BITS.start}..{top} (the bias's share of the {exact}-bit accumulator); "
            f"got {bias_bits!r}"
        )


@dataclass(frozen=True)
class ParcFormat:
    """Every width of one ParC engine; read by both the golden models and `hw/`."""

    n: int
    data: FixedFormat  # x on the input stream
    output: FixedFormat  # y on the output stream
    weight_bits: int
    rounding: Rounding = Rounding.HALF_EVEN
    saturate: bool = True
    # The accumulator (products + offset, accumulator LSBs) saturates to this many signed bits
    # before the output shift (`golden.direct.clamp_accumulator`); None: exact, `acc_bits`.
    # The datapath up to the clamp keeps its exact widths either way.
    acc_sat_bits: int | None = None
    # The bias's own format width (`quantize_layer`, ``bias_bits``; its fracs are
    # `QuantizedLayer.bias_frac`); None: the bias is quantized in accumulator LSBs.
    bias_bits: int | None = None

    def __post_init__(self) -> None:
        check_n_bits(self.n, self.data.bits)
        check_n_bits(self.n, self.weight_bits)
        check_n_bits(self.n, self.output.bits)
        check_acc_bits(self.acc_sat_bits, self.acc_bits, self.output.bits, "acc_sat_bits")
        check_bias_bits(self.bias_bits, self.acc_bits)

    @property
    def pe_bits(self) -> int:
        return self.data.bits + PE_EXTRA_BITS

    @property
    def product_bits(self) -> int:
        return self.data.bits + self.weight_bits

    @property
    def acc_bits(self) -> int:
        """Exact accumulator: in + w + ceil(log2 N), plus room for the PE/bias offset. It sizes
        the datapath and the offset ROM; `acc_sat_bits` narrows only the value requantized."""
        return exact_acc_bits(self.n, self.data.bits, self.weight_bits)

    @property
    def max_shift(self) -> int:
        """Largest accumulator -> output right shift a channel gets (`quantize_layer` clamps).

        At this shift a bias as large as the whole output range, ``2**(output.bits - 1)``
        output LSBs, is ``2**(acc_bits - 3)`` accumulator LSBs: just inside the bias's share of
        the accumulator. A finer accumulator scale would leave no room for the bias (a pruned
        channel's 1e-20 weights asked for a shift of 72, and its bias wrapped), and products
        finer than ``2**-max_shift`` output LSBs add nothing the output could show. (Never
        below 0: an output wider than the accumulator has nothing to shift.)
        """
        return max(self.acc_bits - self.output.bits - 2, 0)

    @property
    def offset_limit(self) -> int:
        """Largest |offset| that can never overflow the accumulator whatever x is."""
        data_part = self.n * (1 << (self.data.bits - 1)) * (1 << (self.weight_bits - 1))
        return (1 << (self.acc_bits - 1)) - 1 - data_part

    def to_dict(self) -> dict:
        d = {
            "n": self.n,
            "data": self.data.to_dict(),
            "output": self.output.to_dict(),
            "weight_bits": self.weight_bits,
            "pe_bits": self.pe_bits,
            "acc_bits": self.acc_bits,
            "rounding": str(self.rounding),
            "saturate": self.saturate,
        }
        # only when set: the dicts (and manifests) of every earlier design stay as they were
        d.update({k: getattr(self, k) for k in OPTIONAL_WIDTHS if getattr(self, k) is not None})
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ParcFormat:
        optional = {k: int(d[k]) for k in OPTIONAL_WIDTHS if d.get(k) is not None}
        return cls(
            n=int(d["n"]),
            data=FixedFormat(**d["data"]),
            output=FixedFormat(**d["output"]),
            weight_bits=int(d["weight_bits"]),
            rounding=Rounding(d["rounding"]),
            saturate=bool(d["saturate"]),
            **optional,
        )


@dataclass(frozen=True)
class FloatLayer:
    """One trained (or random) ParC layer at feature size N: the float truth."""

    weight: NDArray[np.float64]  # (C, N)
    pe: NDArray[np.float64]  # (C, N)
    bias: NDArray[np.float64]  # (C,)
    name: str = "layer"

    @classmethod
    def create(
        cls, weight: ArrayLike, pe: ArrayLike | None = None, bias: ArrayLike | None = None, name: str = "layer"
    ) -> FloatLayer:
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
    bias: IntArray  # (C,), frac = data.frac + weight_frac[c] (accumulator LSBs, aligned: see bias_frac)
    saturated: dict[str, int] = field(default_factory=dict)  # what the quantizer clipped
    # (C,) real value of one output LSB per channel when the scales were folded into the weights
    # (`quantize_layer`, out_scale "shared"/"per-channel"); None: 2**-fmt.output.frac everywhere
    output_scale: NDArray[np.float64] | None = None
    # (C, N) the offset ROM when it was computed from the float PE and bias (`quantize_layer`,
    # pe_offset "exact"); None: corr(w_q, pe_q) + b_q from the quantized PE and bias
    exact_offset: IntArray | None = None
    # (C,) real value of one input LSB per channel when the input scales were folded into the
    # weights (`quantize_layer`, in_scale "per-channel"); None: 2**-fmt.data.frac everywhere
    input_scale: NDArray[np.float64] | None = None
    # (C,) frac of the bias's own fmt.bias_bits format (`quantize_layer`, bias_bits), <= acc_frac:
    # ``bias`` is that integer shifted left by ``acc_frac - bias_frac``; None: quantized at acc_frac
    bias_frac: IntArray | None = None

    @property
    def channels(self) -> int:
        return self.weight.shape[0]

    @property
    def n(self) -> int:
        return self.fmt.n

    @property
    def input_lsb(self) -> NDArray[np.float64]:
        """(C,) real value of one input LSB of each channel: what `quantize_input` divides by.

        The stream's integers always have the width of ``fmt.data``; with a folded input scale
        the engine treats them as ``fmt.data`` values while channel c's real input is
        ``x_int * input_lsb[c]`` (the factor sits in the weights and the offset ROM).
        """
        if self.input_scale is None:
            return np.full(self.channels, self.fmt.data.lsb)
        return np.asarray(self.input_scale, dtype=np.float64)

    @property
    def output_lsb(self) -> NDArray[np.float64]:
        """(C,) real value of one output LSB of each channel, whatever the output scale mode.

        The integers on the stream always have the power-of-two format ``fmt.output``; a folded
        scale only changes what they mean (`quantize_layer`), so a consumer multiplies by this
        instead of ``fmt.output.lsb``.
        """
        if self.output_scale is None:
            return np.full(self.channels, self.fmt.output.lsb)
        return np.asarray(self.output_scale, dtype=np.float64)

    def dequantize_output(self, y: ArrayLike) -> NDArray[np.float64]:
        """Output integers (..., C, N) -> the real values they stand for (`output_lsb`)."""
        return np.asarray(y, dtype=np.float64) * self.output_lsb[:, None]

    @property
    def acc_frac(self) -> IntArray:
        return self.fmt.data.frac + self.weight_frac

    @property
    def shift(self) -> IntArray:
        """Per-channel right shift from accumulator to output LSBs (always >= 0)."""
        return self.acc_frac - self.fmt.output.frac

    @property
    def bias_align(self) -> IntArray:
        """(C,) left shift from the bias's own format to accumulator LSBs (0 without one)."""
        if self.bias_frac is None:
            return np.zeros(self.channels, dtype=np.int64)
        return self.acc_frac - self.bias_frac

    @property
    def offset(self) -> IntArray:
        """The folded PE/bias ROM (accumulator LSBs): corr(w_q, pe_q)[i] + b_q, or the exact
        offset when `quantize_layer` computed it from the float PE and bias."""
        if self.exact_offset is not None:
            return self.exact_offset
        return np.einsum("cij,cj->ci", circulant(self.weight), self.pe) + self.bias[:, None]

    def float_error_bound(self) -> NDArray[np.float64]:
        """Per channel: worst-case ``|y_q - y_float|`` of the direct engine, in output LSBs.

        ``y_float`` is the float layer (`FloatLayer.forward`) on the dequantized input, so the
        bound covers weight, PE, bias and output rounding but not the input's own
        quantization; it holds when nothing saturates (output, or the quantizer's PE/bias).
        In accumulator LSBs, ``y_float - acc = sum (w - w_q)(x + pe) + sum w_q (pe - pe_q) +
        (b - b_q)`` with ``|w - w_q| <= 1`` weight LSB (rounding, or the round-up that
        saturates by less than an LSB), ``|pe - pe_q| <= r`` (0.5, truncate 1) and ``|b - b_q|
        <= r 2**bias_align`` (the bias's own LSB; `bias_align` = 0 without ``bias_bits``):

            bound = r_out + 2**-shift * (N 2**(bits-1) + sum(|pe_q| + r) + r sum|w_q| + r 2**bias_align)

        Loose (every tap aligned at full scale), but it is what catches a corrupted scale: a
        wrapped bias or a channel lost to another's format is off by far more.
        """
        r = 1.0 if self.fmt.rounding is Rounding.TRUNCATE else 0.5
        n = self.fmt.n
        taps = n * 2.0 ** (self.fmt.data.bits - 1) + (np.abs(self.pe) + r).sum(axis=1)
        acc = taps + r * np.abs(self.weight).sum(axis=1) + r * np.exp2(self.bias_align.astype(np.float64))
        return r + acc * np.exp2(-self.shift.astype(np.float64))

    def to_dict(self) -> dict:
        d = {
            "format": self.fmt.to_dict(),
            "weight_frac": self.weight_frac.tolist(),
            "shift": self.shift.tolist(),
            "saturated": dict(self.saturated),
        }
        if self.output_scale is not None:  # absent for power-of-two scales: old dicts stay identical
            d["output_scale"] = [float(v) for v in self.output_scale]
        if self.exact_offset is not None:
            d["pe_offset"] = "exact"
        if self.input_scale is not None:
            d["input_scale"] = [float(v) for v in self.input_scale]
        if self.bias_frac is not None:
            d["bias_frac"] = self.bias_frac.tolist()
        return d


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
    calibration_rule: str = "max",
    calibration_percentile: float = DEFAULT_PERCENTILE,
    out_scale: str = "pow2",
    pe_offset: str = "auto",
    in_scale: str = "pow2",
    acc_bits: int | None = None,
    bias_bits: int | None = None,
) -> QuantizedLayer:
    """Choose power-of-two scales from the weights and calibration data, then quantize.

    Scales (README "Number formats"):

    - data frac: the largest that holds the calibration range (``bits - 3`` without one);
    - output frac (shared by all channels: one output format on the stream): the largest that
      holds every channel's output range, i.e. ``max |forward(calibration)|`` or, without
      calibration, ``sum|w| * x_max + max|forward(0)|``; never finer than the coarsest
      channel's accumulator (``data.frac + min weight_frac``: shifts stay >= 0);
    - weight frac per channel (``per_channel``) or per tensor: the largest that holds the
      weights, **clamped** so that the output shift stays <= `ParcFormat.max_shift`. A channel
      whose weights are negligible at the layer's output scale (pruned: 1e-20, denormals) gets
      the coarsest scale that still resolves ``2**-max_shift`` output LSBs: its weights round
      to 0, it outputs its bias, and the bias fits the accumulator. (Unclamped, its frac
      asked for shifts >= 64 and a bias of 2**78 accumulator LSBs, which wrapped.)

    ``calibration_rule`` (`golden.calibration.CALIBRATION_RULES`) says which magnitude of the
    calibration data, and of each channel's ``forward(calibration)``, counts as "the range"
    above: ``"max"`` (the default, the sample maximum: nothing in the calibration data
    saturates), ``"percentile"`` (99.99th of |v|) or ``"mse"`` (the clip with the least
    quantize-with-saturation error). ``calibration_percentile`` is the percentile rule's
    percentile. Without calibration data it has nothing to act on. For
    ``"mse"`` the data format is the better of the two power-of-two formats around the clip
    (`golden.calibration.pow2_frac`).

    ``out_scale`` chooses what one output LSB is worth:

    - ``"pow2"`` (default): ``2**-output.frac`` for every channel, as above;
    - ``"shared"`` / ``"per-channel"``: a real (not power-of-two) scale, realised by folding a
      factor ``f[c]`` into the float weights and bias before quantizing (see `_fold_factors`),
      so the integer datapath, its one power-of-two output shift and every golden model are
      unchanged and exact. The output format is the one ``"pow2"`` chooses; ``f[c]`` stretches
      channel c's range (its own for ``"per-channel"``, the largest channel's for ``"shared"``)
      to the format's full scale, gaining up to one bit for the largest channel and more for
      smaller ones. ``QuantizedLayer.output_scale[c] = 2**-output.frac / f[c]`` is what one
      output LSB of channel c is worth (`QuantizedLayer.dequantize_output`).

    ``pe_offset`` chooses how the offset ROM (PE and bias folded into one per-position term,
    docs/number-formats.md section 6) is computed: ``"quantized"`` = ``corr(w_q, pe_q) + b_q``
    from the PE quantized in the input format and the bias in accumulator LSBs, each rounded on
    its own; ``"exact"`` = ``corr(w_q, pe) + b`` from the float PE and bias, rounded once to
    accumulator LSBs. The hardware is the same (the ROM holds whatever it is given), and every
    golden model reads `QuantizedLayer.offset`, so both are bit-exact; "exact" removes the PE's
    quantization error (at 8 bits as large as the weights' or the output's). ``"auto"`` (the
    default) is "exact" with a folded ``out_scale`` or ``in_scale`` and "quantized" with
    ``"pow2"`` for both, which keeps the ROMs of earlier designs unchanged.

    ``in_scale`` chooses what one input LSB is worth: ``"pow2"`` (default) ``2**-data.frac``;
    ``"per-channel"`` (needs calibration data) a real scale per channel that puts the channel's
    own calibration clip at full scale (`_input_factors`). The layer is depthwise, so channel
    c's input meets only channel c's weights: the factor ``g[c] = input_lsb[c] / 2**-data.frac``
    folds exactly into the weights (``w g``) and the PE (``pe / g``, added before them), and the
    hardware is unchanged. `quantize_input` divides by ``QuantizedLayer.input_lsb``; the previous
    layer's folded output scale is such a per-channel input scale. At 8 bits on the trained
    layers' held-out activations this gains 1 to 3 dB of output SQNR (docs/number-formats.md).

    ``acc_bits`` (`ParcFormat.acc_sat_bits`, hls4ml's accumulator type): None (the default) keeps
    the accumulator exact; K (the output's bits .. the exact `ParcFormat.acc_bits`,
    `check_acc_bits`) saturates the sum of products and offset to K signed bits (accumulator
    LSBs) before the output shift, in every engine and golden model
    (`golden.direct.clamp_accumulator`). It changes no scale and no ROM here.

    ``bias_bits`` (hls4ml's bias type): None (the default) quantizes the bias in accumulator
    LSBs (``acc_bits - 2`` bits). K gives it a power-of-two format of its own, K signed bits at
    ``bias_frac[c] = frac_for_range(|b[c]|, K)`` clamped to ``acc_frac[c]`` (never finer) and to
    ``acc_frac[c] - (acc_bits - 2 - K)`` (never so coarse that the format's range, aligned,
    leaves the bias's share of the accumulator), rounds and saturates it there (counted in
    ``saturated["bias"]``), then aligns it exactly (a left shift) into accumulator LSBs. Only
    the offset ROM changes (``pe_offset`` "exact" folds this quantized bias too).

    A single outlier channel is refused (`UserError` naming it) when the output scale is chosen
    here: if one channel's output range puts every other live channel below half an output
    LSB, one shared output format cannot serve them (they would all output 0), and
    per-channel output formats would change the stream's contract. A channel is live when
    its output range reaches one *input* LSB: a pruned channel (weights 1e-20 or denormal,
    bias ~0) is not, so 1e30 weights next to 0.1 are refused while 0.1 next to 1e-20 is not
    (numerically the same ratio; the input format tells which side carries signal). With
    ``output_frac`` given, the caller chose the format and nothing is refused.

    Values that still do not fit are saturated and counted in ``saturated``.
    """
    check_n_bits(layer.n, bits)
    check_rule(calibration_rule)
    check_percentile(calibration_percentile)
    if out_scale not in OUTPUT_SCALES:
        raise ValueError(f"out_scale must be one of {', '.join(OUTPUT_SCALES)}; got {out_scale!r}")
    if pe_offset not in PE_OFFSETS:
        raise ValueError(f"pe_offset must be one of {', '.join(PE_OFFSETS)}; got {pe_offset!r}")
    if in_scale not in INPUT_SCALES:
        raise ValueError(f"in_scale must be one of {', '.join(INPUT_SCALES)}; got {in_scale!r}")
    exact = pe_offset == "exact" or (pe_offset == "auto" and (out_scale != "pow2" or in_scale != "pow2"))
    calib = None if calibration is None else as_finite_array(calibration, "calibration")
    if calib is not None and (calib.ndim < 2 or calib.shape[-2:] != (layer.channels, layer.n)):
        raise ValueError(f"calibration must be (..., {layer.channels}, {layer.n}); got {calib.shape}")
    input_scale = None
    if in_scale != "pow2":
        if calib is None:
            raise ValueError("in_scale per-channel is chosen from calibration data, and none was given")
        if data_frac is None:
            data_frac = pow2_frac(calib, calibration_rule, bits, percentile=calibration_percentile)
        g = _input_factors(calib, calibration_rule, bits, int(data_frac), calibration_percentile)
        layer = FloatLayer.create(layer.weight * g[:, None], layer.pe / g[:, None], layer.bias, layer.name)
        calib = calib / g[:, None]
        input_scale = np.ldexp(g, -int(data_frac))
    options = _Options(
        bits,
        bits if weight_bits is None else weight_bits,
        bits if output_bits is None else output_bits,
        per_channel,
        rounding,
        saturating,
        acc_bits,
        bias_bits,
        calibration_percentile,
    )
    check_n_bits(layer.n, options.weight_bits)
    exact_bits = exact_acc_bits(layer.n, bits, options.weight_bits)
    check_acc_bits(acc_bits, exact_bits, options.output_bits)
    check_bias_bits(bias_bits, exact_bits)
    quantized, ranges = _quantize_pow2(layer, options, calib, calibration_rule, data_frac, output_frac)
    if out_scale != "pow2":
        clips = ranges if out_scale == "per-channel" else np.full_like(ranges, ranges.max())
        quantized, layer = _fold(layer, options, quantized, clips)
    if input_scale is not None:
        quantized = replace(quantized, input_scale=input_scale)
    return _with_exact_offset(quantized, layer) if exact else quantized


def _input_factors(
    calib: NDArray[np.float64], rule: str, bits: int, data_frac: int, percentile: float
) -> NDArray[np.float64]:
    """Per channel, the factor ``g = input_lsb / 2**-data_frac`` of a per-channel input scale
    (`quantize_layer`, in_scale): channel c's ``rule`` clip lands on ``2**(bits-1) - 1`` LSBs.

    ``data_frac`` only names the integers inside the engine, so g may exceed 1 (a channel
    whose clip sits between the power-of-two format's largest integer and its full scale, or
    beyond a full scale that the "mse" rule chose below the largest clip). Channels whose clip
    is below one LSB of that format (all zero, or dead in the calibration data) keep g = 1.
    """
    clips = channel_clip_levels(calib, rule, bits, percentile=percentile)
    top = float(np.ldexp(2.0 ** (bits - 1) - 1, -data_frac))
    live = clips >= np.ldexp(1.0, -data_frac)
    return np.where(live, clips / top, 1.0)


def _with_exact_offset(q: QuantizedLayer, layer: FloatLayer) -> QuantizedLayer:
    """``q`` with its offset ROM computed from ``layer``'s float PE and bias (`quantize_layer`,
    ``pe_offset="exact"``): ``corr(w_q, pe) + b`` in accumulator LSBs, rounded once."""
    fmt = q.fmt
    pe_in_data_lsbs = layer.pe * np.ldexp(1.0, int(fmt.data.frac))
    offset_float = np.einsum("cij,cj->ci", circulant(q.weight).astype(np.float64), pe_in_data_lsbs)
    # with bias_bits, the bias in its own format (already an integer in accumulator LSBs)
    offset_float += (scale(layer.bias, q.acc_frac) if q.bias_frac is None else q.bias)[:, None]
    offset = round_float(offset_float, fmt.rounding)
    check_offset_fits(offset, fmt)
    return replace(q, exact_offset=offset)


def check_offset_fits(offset: IntArray, fmt: ParcFormat) -> None:
    """The folded PE/bias offset ROM must fit the accumulator next to full-scale data: a
    `UserError` naming the first channel that does not."""
    peak = np.abs(offset).max(axis=1)
    if peak.max() > fmt.offset_limit:
        c = int(np.argmax(peak))
        raise UserError(
            f"channel {c}: the folded PE/bias offset ({int(peak[c])} accumulator LSBs) does not fit the "
            f"{fmt.acc_bits}-bit accumulator (at most {fmt.offset_limit} next to full-scale data); "
            "lower the PE range or raise the bits"
        )


@dataclass(frozen=True)
class _Options:
    """The widths and arithmetic `quantize_layer` was asked for (shared by its two passes)."""

    bits: int
    weight_bits: int
    output_bits: int
    per_channel: bool
    rounding: Rounding
    saturating: bool
    acc_bits: int | None = None  # ParcFormat.acc_sat_bits
    bias_bits: int | None = None
    percentile: float = DEFAULT_PERCENTILE  # of the "percentile" calibration rule


def _quantize_pow2(
    layer: FloatLayer,
    o: _Options,
    calib: NDArray[np.float64] | None,
    rule: str,
    data_frac: int | None,
    output_frac: int | None,
) -> tuple[QuantizedLayer, NDArray[np.float64]]:
    """Power-of-two scales and integers (`quantize_layer`), plus the per-channel output ranges
    the output format was chosen from."""
    bits, wbits, obits = o.bits, o.weight_bits, o.output_bits
    if data_frac is None:
        data_frac = pow2_frac(calib, rule, bits, percentile=o.percentile) if calib is not None else bits - 3
    data = FixedFormat(bits, data_frac)

    w_abs = np.abs(layer.weight).max(axis=1)
    if not o.per_channel:
        w_abs = np.full_like(w_abs, w_abs.max())
    weight_frac = np.array([frac_for_range(float(m), wbits) for m in w_abs], dtype=np.int64)

    ranges = output_ranges(layer, data, calib, rule, obits, o.percentile)
    auto_output = output_frac is None
    if output_frac is None:
        output_frac = frac_for_range(float(ranges.max()), obits)
    output_frac = int(min(output_frac, data.frac + int(weight_frac.min())))  # keep shifts >= 0
    if output_frac < -FRAC_LIMIT:
        raise UserError(
            f"the layer's values are too large for a fixed-point scale: the output format would need "
            f"2**{-output_frac} per LSB (at most 2**{FRAC_LIMIT}); rescale the weights"
        )
    output = FixedFormat(obits, output_frac)
    fmt = ParcFormat(layer.n, data, output, wbits, o.rounding, o.saturating, o.acc_bits, o.bias_bits)
    if auto_output:
        _refuse_outlier(ranges, data, fmt.output, bits)
    # products finer than 2**-max_shift output LSBs: clamp (module docstring, `max_shift`)
    weight_frac = np.minimum(weight_frac, output_frac - data.frac + fmt.max_shift)

    saturated: dict[str, int] = {}

    def q(name: str, values: NDArray[np.float64], frac: ArrayLike, nbits: int) -> IntArray:
        ints, clipped = saturate(round_float(scale(values, frac), o.rounding), nbits)
        saturated[name] = int(clipped.sum())
        return ints

    wq = q("weight", layer.weight, weight_frac[:, None], wbits)
    peq = q("pe", layer.pe, data.frac, fmt.pe_bits)
    acc_frac = data.frac + weight_frac
    if o.bias_bits is None:
        bias_frac = None
        bq = q("bias", layer.bias, acc_frac, bias_share_bits(fmt.acc_bits))
    else:  # its own format, then an exact left shift into accumulator LSBs
        bias_frac = _bias_fracs(layer.bias, acc_frac, o.bias_bits, bias_share_bits(fmt.acc_bits))
        bq = q("bias", layer.bias, bias_frac, o.bias_bits) << (acc_frac - bias_frac)
    quantized = QuantizedLayer(fmt, wq, weight_frac, peq, bq, saturated, bias_frac=bias_frac)
    check_offset_fits(quantized.offset, fmt)
    return quantized, ranges


def _bias_fracs(bias: NDArray[np.float64], acc_frac: IntArray, bits: int, share_bits: int) -> IntArray:
    """Per channel, the frac of the bias's own ``bits``-bit format (`quantize_layer`,
    ``bias_bits``): the largest that holds |b|, never finer than the accumulator's (the
    alignment must be a left shift: exact) and never coarser than ``share_bits - bits`` above
    it (the format's whole range, aligned, stays in the bias's share of the accumulator, which
    is the range the default bias saturates to)."""
    own = np.array([frac_for_range(float(abs(b)), bits) for b in bias], dtype=np.int64)
    return np.clip(own, acc_frac - (share_bits - bits), acc_frac)


def _fold(
    layer: FloatLayer, o: _Options, base: QuantizedLayer, clips: NDArray[np.float64]
) -> tuple[QuantizedLayer, FloatLayer]:
    """Quantize ``layer`` with the factors of `_fold_factors` folded in, in ``base``'s formats;
    also the folded float layer (what the integers stand for, up to ``output_scale``)."""
    f = _fold_factors(layer, base, clips)
    scaled = FloatLayer.create(layer.weight * f[:, None], layer.pe, layer.bias * f, layer.name)
    frac = int(base.fmt.output.frac)
    folded, _ = _quantize_pow2(scaled, o, None, "max", int(base.fmt.data.frac), frac)
    if folded.fmt != base.fmt:  # the shift cap of `_fold_caps` rules this out
        raise RuntimeError(f"folding changed the layer's formats: {base.fmt} -> {folded.fmt}")
    return replace(folded, output_scale=np.ldexp(1.0, -frac) / f), scaled


def _fold_factors(layer: FloatLayer, base: QuantizedLayer, clips: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per channel, the real factor folded into weight and bias (`quantize_layer`, out_scale).

    Aim: channel c's clip lands on the largest output integer, ``f[c] = (2**(obits-1) - 1) *
    2**-frac / clip[c]`` (frac = the power-of-two output format, chosen from the largest clip, so
    this is >= (2**(obits-1) - 1) / 2**(obits-1), and often > 1). PE needs no factor: it is
    added to x before the weights. Then capped, each cap a sufficient condition, so that folding
    never breaks what the power-of-two quantization guarantees (`_fold_caps`), and lowered by at
    most 0.4 % where the largest folded weight would round up into saturation
    (`_without_weight_round_up`). Channels that are not live (clip below one input LSB, as in
    `_refuse_outlier`: pruned, or all zero) keep f = 1: amplifying them would only magnify what
    the input format cannot resolve.
    """
    fmt = base.fmt
    full_scale = float(np.ldexp(2.0 ** (fmt.output.bits - 1), -int(fmt.output.frac)))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        target = full_scale * (1.0 - 2.0 ** -(fmt.output.bits - 1)) / clips
        f = np.minimum(target, _fold_caps(layer, fmt))
    scaled = (clips >= fmt.data.lsb) & np.isfinite(f) & (f > 0)
    f = np.where(scaled, f, 1.0)
    return np.where(scaled, _without_weight_round_up(f, np.abs(layer.weight).max(axis=1), fmt.weight_bits), f)


def _fold_caps(layer: FloatLayer, fmt: ParcFormat) -> NDArray[np.float64]:
    """Per channel, the largest factor `_fold_factors` may fold in (inf: no limit).

    - shift >= 0: the folded weights' power-of-two frac must stay >= ``frac - data.frac``, i.e.
      ``f * max|w[c]| < 2**(wbits - 1 - frac + data.frac)``. This is the natural limit of the
      gain: beyond it the output LSB would be finer than the accumulator's, which holds nothing
      finer. (With per-tensor weight scales the same cap bounds the shared maximum.)
    - bias fits its ROM (``2**(acc_bits - 3)`` accumulator LSBs): the folded bias is
      ``|b| f 2**(data.frac + wf')`` with ``wf'`` the folded weights' frac. The weights are
      renormalised (``f max|w| 2**wf' < 2**(wbits-1)``), so it is below ``|b| 2**(data.frac +
      wbits - 1) / max|w|`` whatever f is, and nothing caps f while that clears the range. Only
      a bias huge next to its weights (the weight frac clamped by `ParcFormat.max_shift`) is
      held to ``|b| f < 2**(obits-1) 2**-frac``, the output's full scale, which at the output
      shift ``<= max_shift`` is inside the range.
    - ``output_scale = 2**-frac / f`` stays a normal float.

    The folded offset ROM (``corr(w_q, pe_q) + b_q``) needs no cap: |w_q| < ``2**(wbits-1)``
    whatever f is, |pe_q| < ``2**(pe_bits-1)``, and with the bias inside its range the offset is
    below ``2**(acc_bits-2)``, inside `ParcFormat.offset_limit`.
    """
    frac, dfrac = int(fmt.output.frac), int(fmt.data.frac)
    w_abs = np.abs(layer.weight).max(axis=1)
    b_abs = np.abs(layer.bias)
    bias_range = 2.0 ** (fmt.acc_bits - 3)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        shift_cap = np.ldexp(1.0, fmt.weight_bits - 1 - frac + dfrac) / w_abs
        bias_bound = b_abs * np.ldexp(1.0, dfrac + fmt.weight_bits - 1) / w_abs
        full_scale = np.ldexp(2.0 ** (fmt.output.bits - 1), -frac)
        bias_cap = np.where(bias_bound < bias_range - 1, np.inf, full_scale / b_abs)  # - 1: rounding
        scale_cap = np.ldexp(1.0, -frac) / np.finfo(np.float64).tiny
    return np.minimum(np.minimum(shift_cap, bias_cap), scale_cap) * _BELOW_CAP


def _without_weight_round_up(f: NDArray[np.float64], w_abs: NDArray[np.float64], wbits: int) -> NDArray[np.float64]:
    """Lower ``f`` where the folded largest weight would round up out of its format.

    `golden.fixed.frac_for_range` holds a value below ``2**(bits-1)`` LSBs, and rounding may
    take 127.7 to 128, which saturates by less than an LSB. The power-of-two quantizer accepts
    that (and counts it); a folding factor is free to avoid it by staying <= 127.5 LSBs, at a
    cost of at most 0.4 % of f, so folding adds no saturation.
    """
    m = f * w_abs
    frac = np.array([frac_for_range(float(v), wbits) for v in m], dtype=np.int64)
    top = np.ldexp(2.0 ** (wbits - 1) - 0.5, -frac) * _BELOW_CAP  # rounds inside the format, any rounding
    return np.where(m > top, top / np.where(w_abs > 0, w_abs, 1.0), f)


def output_ranges(
    layer: FloatLayer,
    data: FixedFormat,
    calib: NDArray[np.float64] | None,
    rule: str,
    bits: int,
    percentile: float = DEFAULT_PERCENTILE,
) -> NDArray[np.float64]:
    """Per channel, the output magnitude the output format must hold (see `quantize_layer`):
    the ``rule``'s clip of ``forward(calib)`` at ``bits`` output bits, or the worst case.
    (Public: `golden.mixer` measures each half the same way.)"""
    c, n = layer.channels, layer.n
    y: NDArray[np.float64] | None = None
    with np.errstate(over="ignore", invalid="ignore"):
        if calib is not None:
            y = layer.forward(calib)
            ranges = np.abs(y).reshape(-1, c, n).max(axis=(0, 2))
        else:
            x_max = float(np.ldexp(1.0, data.bits - 1 - int(data.frac)))
            ranges = np.abs(layer.weight).sum(axis=1) * x_max + np.abs(layer.forward(np.zeros((c, n)))).max(axis=1)
    if not np.all(np.isfinite(ranges)):
        bad = int(np.argmin(np.isfinite(ranges)))
        raise UserError(f"channel {bad}: the layer's outputs overflow float64 (weights, PE or bias too large)")
    if y is not None and rule != "max":
        ranges = channel_clip_levels(y, rule, bits, percentile=percentile)
    return ranges


def _refuse_outlier(ranges: NDArray[np.float64], data: FixedFormat, output: FixedFormat, bits: int) -> None:
    """One channel drowning every other live channel in the shared output format is an
    error naming it (`quantize_layer`: live = output range >= one input LSB)."""
    if ranges.size < 2:
        return
    k = int(np.argmax(ranges))
    others = np.delete(ranges, k)
    others = others[others >= data.lsb]
    half_lsb = float(np.ldexp(0.5, -int(output.frac)))
    if others.size and others.max() < half_lsb:
        # bits at which the largest other channel would reach 2 LSBs (when the generator has them)
        need = int(math.ceil(math.log2(ranges[k]) - math.log2(others.max()))) + 3
        hint = f", or use at least {need} bits" if bits < need < SUPPORTED_BITS.stop else ""
        raise UserError(
            f"channel {k} is an outlier: its outputs reach {ranges[k]:.3g}, so the output format that all "
            f"channels share has an LSB of {2 * half_lsb:.3g}, and every other channel (outputs at most "
            f"{others.max():.3g}) would output only 0; rescale or drop channel {k}" + hint
        )


def quantize_input(q: QuantizedLayer, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Float activations (..., C, N) -> input-stream integers (and which ones saturated), in
    each channel's input scale (`QuantizedLayer.input_lsb`)."""
    xa = as_finite_array(x, "x")
    if q.input_scale is None:
        return q.fmt.data.quantize(xa, q.fmt.rounding)
    return saturate(round_float(xa / q.input_lsb[:, None], q.fmt.rounding), q.fmt.data.bits)
