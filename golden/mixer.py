"""The ParC-ConvNeXt token mixer on C×H×W feature maps: float, quantized and integer models.

Why this module: every engine of the project runs a *1-D* ParC layer, rows of N samples of
one channel (`golden.quant.QuantizedLayer` and its integer models). A network does not use
ParC that way. Its ParC-ConvNeXt block mixes tokens with a channel split (docs/operator.md
section 4, `golden.parc.parc_convnext_mixer`)::

    x_H, x_W = chunk(x, 2, dim=channels)              # channels c < split, and the rest
    y = cat(ParC_H(x_H), ParC_W(x_W), dim=channels)   # ParC-H down the columns (N = H),
                                                      # ParC-W along the rows (N = W)

This module is the golden model of that mixer, composed from the 1-D models so that it
inherits their proofs and bit-exactness instead of repeating them:

- `MixerLayer`: the two halves as `FloatLayer`s (H half: ``split`` channels, N = H; W half:
  ``C - split`` channels, N = W); ``forward`` on (..., C, H, W) maps. `mixer_from_checkpoint`
  loads a block's ``gcc_H``/``gcc_W`` pair, `random_mixer` makes seeded stand-ins.
- `quantize_mixer` -> `QuantizedMixer`: each half quantized by `golden.quant.quantize_layer`,
  with **one input format and one output format for the whole map** (`quantize_mixer` says
  why and how they are chosen).
- `build_engine` / `mixer_model`: the integer mixer, per half the 1-D integer model of the
  chosen engine (`ENGINES`) applied to the half's lines; `quantize_map` / `dequantize_map`.
- `to_hwc_stream` / `from_hwc_stream`: the order in which the hardware layer streams a map
  (channels last, raster: for h, for w, for c; as FINN and hls4ml stream feature maps).

Layout of the lines (`map_to_rows`): the 1-D models take (..., C, N) with the channel axis
second to last. The H half's lines are the columns: (..., C_h, H, W) -> (..., W, C_h, H);
the W half's lines are the rows: (..., C_w, H, W) -> (..., H, C_w, W). Both are views
(`np.moveaxis`); flattening the leading axes gives the (-1, C, N) calibration rows of
`golden.weights.feature_to_rows`.

Imports run one way (tests/test_layering.py): this module uses golden only, never hw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from golden.calibration import DEFAULT_PERCENTILE
from golden.checks import as_finite_array
from golden.cli import UserError
from golden.direct import direct_model
from golden.fast_parc_int import FastParcPlan, fast_parc_int_model, plan_fast_parc
from golden.fixed import FixedFormat, IntArray, Rounding
from golden.native_fft import NativePlan, native_model, plan_native
from golden.pfa import supported
from golden.quant import FloatLayer, QuantizedLayer, output_ranges, quantize_input, quantize_layer, random_layer
from golden.weights import ParcLayerInfo, find_parc_layers, import_layer, load_checkpoint

__all__ = [
    "ENGINES",
    "MixerLayer",
    "QuantizedMixer",
    "HalfEngine",
    "MixerEngine",
    "default_split",
    "random_mixer",
    "mixer_blocks",
    "mixer_from_checkpoint",
    "map_to_rows",
    "rows_to_map",
    "calibration_rows",
    "quantize_mixer",
    "build_engine",
    "mixer_model",
    "quantize_map",
    "dequantize_map",
    "to_hwc_stream",
    "from_hwc_stream",
]

Direction = Literal["H", "W"]
# "fft": what ``hw.generate --arch fft`` builds for each half's N (native prime-factor when N
# factors into the Winograd modules and the native plan takes the widths, padded radix-2
# otherwise); "fft-padded" / "fft-native" force one. Resolved per half: H and W may differ.
ENGINES = ("direct", "fft", "fft-padded", "fft-native")
_HALF_NAMES = {"H": "ParC-H", "W": "ParC-W"}


# --------------------------------------------------------------------------- layouts


def default_split(channels: int) -> int:
    """Channels that go through ParC-H by default: the first chunk of ``torch.chunk(x, 2)``
    (``ceil(C/2)``: exactly C/2 for the even C of every ParC-ConvNeXt block)."""
    return (int(channels) + 1) // 2


def _check_split(channels: int, split: int | None) -> int:
    """``split`` (None: `default_split`) as an int in 1..C-1, else a one-line `UserError`.

    Both halves must keep a channel: a half with none has no N (kernel length) to speak of,
    and an all-H or all-W layer is a plain 1-D layer (`golden.quant.FloatLayer`)."""
    if channels < 2:
        raise UserError(f"a ParC-ConvNeXt mixer needs at least 2 channels (one per half); got {channels}")
    s = default_split(channels) if split is None else split
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= channels - 1:
        raise UserError(f"split must be an integer in 1..{channels - 1} (channels through ParC-H); got {split!r}")
    return int(s)


def map_to_rows(x: NDArray, direction: str) -> NDArray:
    """Lines of one half's map (..., C, H, W) along its ParC axis, as the 1-D models take them:
    H: (..., W, C, H) (one column per line), W: (..., H, C, W) (one image row per line). A view."""
    if direction == "H":
        return np.moveaxis(x, -1, -3)
    if direction == "W":
        return np.moveaxis(x, -3, -2)
    raise ValueError(f"direction must be 'H' or 'W'; got {direction!r}")


def rows_to_map(rows: NDArray, direction: str) -> NDArray:
    """Inverse of `map_to_rows`: (..., W, C, H) or (..., H, C, W) -> (..., C, H, W). A view."""
    if direction == "H":
        return np.moveaxis(rows, -3, -1)
    if direction == "W":
        return np.moveaxis(rows, -2, -3)
    raise ValueError(f"direction must be 'H' or 'W'; got {direction!r}")


def to_hwc_stream(x: ArrayLike) -> NDArray:
    """(..., C, H, W) -> (..., H*W*C): the order the hardware streams a map, channels last in
    raster order (``for h: for w: for c``), so sample ``(c, h, w)`` is beat ``(h*W + w)*C + c``.

    Channels last is what FINN and hls4ml stream: the C values of one pixel arrive together,
    which is what the pointwise layers around the mixer consume. The dtype is kept."""
    xa = np.asarray(x)
    if xa.ndim < 3:
        raise ValueError(f"a feature map is (..., C, H, W); got shape {xa.shape}")
    return np.moveaxis(xa, -3, -1).reshape(xa.shape[:-3] + (-1,))


def from_hwc_stream(seq: ArrayLike, channels: int, height: int, width: int) -> NDArray:
    """Inverse of `to_hwc_stream`: (..., H*W*C) in ``for h: for w: for c`` order -> (..., C, H, W)."""
    s = np.asarray(seq)
    size = int(channels) * int(height) * int(width)
    if s.ndim < 1 or s.shape[-1] != size or size == 0:
        raise ValueError(
            f"an HWC stream of a {channels}x{height}x{width} map has {size} samples on its last axis; "
            f"got shape {s.shape}"
        )
    return np.moveaxis(s.reshape(s.shape[:-1] + (int(height), int(width), int(channels))), -1, -3)


# --------------------------------------------------------------------------- float mixer


class _Half(Protocol):
    """What the map geometry needs of a half: a `FloatLayer` or a `QuantizedLayer`."""

    @property
    def channels(self) -> int: ...

    @property
    def n(self) -> int: ...


class _Halves:
    """The map geometry of a mixer from its two halves (float or quantized alike)."""

    h: _Half  # ParC-H: channels 0 .. split-1, kernel length H
    w: _Half  # ParC-W: the rest, kernel length W

    @property
    def split(self) -> int:
        """Channels through ParC-H (the first ones of the map)."""
        return self.h.channels

    @property
    def channels(self) -> int:
        return self.h.channels + self.w.channels

    @property
    def height(self) -> int:
        return self.h.n

    @property
    def width(self) -> int:
        return self.w.n

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the maps the mixer takes and gives."""
        return self.channels, self.height, self.width


@dataclass(frozen=True)
class MixerLayer(_Halves):
    """The float ParC-ConvNeXt token mixer: channels ``0 .. split-1`` through ``h`` (ParC-H,
    kernel length H), channels ``split .. C-1`` through ``w`` (ParC-W, kernel length W).

    The split is the H half's channel count, so one pair of layers says everything; the
    default of every constructor is `default_split` (C/2 for even C, as the official block).
    """

    h: FloatLayer  # (C_h, H) kernels
    w: FloatLayer  # (C_w, W) kernels
    name: str = "mixer"

    def __post_init__(self) -> None:
        for half, layer in (("h", self.h), ("w", self.w)):
            if not isinstance(layer, FloatLayer):
                raise TypeError(f"MixerLayer.{half} must be a golden.quant.FloatLayer; got {type(layer).__name__}")
            if layer.channels < 1:
                raise UserError(f"the {_HALF_NAMES[half.upper()]} half of a mixer needs at least one channel")

    @classmethod
    def from_params(
        cls,
        h: tuple[ArrayLike, ArrayLike | None, ArrayLike | None],
        w: tuple[ArrayLike, ArrayLike | None, ArrayLike | None],
        name: str = "mixer",
    ) -> MixerLayer:
        """From ``(weight (C_h, H), pe, bias)`` and ``(weight (C_w, W), pe, bias)`` triples, the
        arguments of `golden.parc.parc_convnext_mixer`."""
        return cls(FloatLayer.create(*h, name=f"{name}.H"), FloatLayer.create(*w, name=f"{name}.W"), name)

    def forward(self, x: ArrayLike) -> NDArray[np.float64]:
        """Float mixer on (..., C, H, W) maps: each half's `FloatLayer.forward` on its lines.

        Equals `golden.parc.parc_convnext_mixer` for split = C/2 (tested): the halves see
        exactly the lines that `quantize_mixer` calibrates on and `mixer_model` runs."""
        xa = as_finite_array(x, "x")
        _check_map_shape(xa.shape, self.shape)
        x_h, x_w = xa[..., : self.split, :, :], xa[..., self.split :, :, :]
        y_h = rows_to_map(self.h.forward(map_to_rows(x_h, "H")), "H")
        y_w = rows_to_map(self.w.forward(map_to_rows(x_w, "W")), "W")
        return np.concatenate([y_h, y_w], axis=-3)


def _check_map_shape(shape: tuple[int, ...], expected: tuple[int, int, int], what: str = "x") -> None:
    if len(shape) < 3 or tuple(shape[-3:]) != tuple(expected):
        c, h, w = expected
        raise ValueError(f"{what} must be a (..., {c}, {h}, {w}) feature map (C, H, W last); got shape {tuple(shape)}")


def random_mixer(channels: int, height: int, width: int, split: int | None = None, seed: int = 0) -> MixerLayer:
    """Seeded stand-in mixer (`golden.quant.random_layer` per half: the official init scale).

    ``split`` channels (default `default_split`) go through ParC-H. The halves draw from
    seeds ``2*seed`` and ``2*seed + 1``, so no two halves of any seeds share their numbers."""
    s = _check_split(int(channels), split)
    h = random_layer(int(height), s, seed=2 * seed)
    w = random_layer(int(width), int(channels) - s, seed=2 * seed + 1)
    return MixerLayer(h, w, name=f"random_c{channels}_h{height}_w{width}_s{s}_seed{seed}")


def _half_name(prefix: str, direction: str) -> str:
    return f"{prefix}.gcc_{direction}" if prefix else f"gcc_{direction}"


def mixer_blocks(path: str | os.PathLike) -> list[str]:
    """Module prefixes of the ParC-ConvNeXt blocks (a ``gcc_H`` and a ``gcc_W`` layer) of a
    weight file, in file order: ``["stages.0.0", "stages.1.0", ...]``."""
    return _blocks(_read_layers(Path(path))[1])


def _read_layers(path: Path) -> tuple[dict[str, np.ndarray], list[ParcLayerInfo]]:
    """A weight file's state_dict and its ParC layers; a broken layer names the file."""
    state = load_checkpoint(path).state
    try:
        return state, find_parc_layers(state)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _blocks(infos: list[ParcLayerInfo]) -> list[str]:
    names = {i.name for i in infos if i.layout == "parc_convnext"}
    prefixes = []
    for info in infos:
        if info.layout == "parc_convnext" and info.direction == "H":
            prefix = info.name[: -len("gcc_H")].rstrip(".")
            if _half_name(prefix, "W") in names:
                prefixes.append(prefix)
    return prefixes


def mixer_from_checkpoint(path: str | os.PathLike, block_prefix: str) -> MixerLayer:
    """The mixer of one ParC-ConvNeXt block of a checkpoint: ``{block_prefix}.gcc_H`` (first
    half, N = its stored H) and ``{block_prefix}.gcc_W`` (second half, N = its stored W), e.g.
    ``mixer_from_checkpoint("weights/parc/model.pt", "stages.0.0")``.

    A block that is not there, or has only one half, is a one-line `UserError` that lists the
    file's blocks. Only the ParC-ConvNeXt layout (``gcc_H``/``gcc_W``) pairs its layers this
    way; other layouts (`golden.weights.LAYOUTS`) mix differently (EdgeFormer runs H then W on
    the same channels) and are refused with the same message.
    """
    path = Path(path)
    state, infos = _read_layers(path)
    prefix = str(block_prefix).strip().rstrip(".")
    by_name = {i.name: i for i in infos if i.layout == "parc_convnext"}
    wanted = {d: _half_name(prefix, d) for d in ("H", "W")}
    found = {d: by_name.get(name) for d, name in wanted.items()}
    blocks = ", ".join(_blocks(infos)) or "none"
    if found["H"] is None and found["W"] is None:
        raise UserError(
            f"no ParC-ConvNeXt block '{prefix}' in {path} (no {wanted['H']} / {wanted['W']} layers); blocks: {blocks}"
        )
    for have, missing in (("H", "W"), ("W", "H")):
        if found[missing] is None:
            raise UserError(
                f"block '{prefix}' in {path} has {wanted[have]} but no {wanted[missing]}: the mixer needs both "
                f"halves; blocks: {blocks}"
            )
    h_info, w_info = found["H"], found["W"]
    assert h_info is not None and w_info is not None  # the loop above raised otherwise
    try:
        h, w = import_layer(state, h_info), import_layer(state, w_info)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return MixerLayer(h, w, name=prefix or "mixer")


# --------------------------------------------------------------------------- quantized mixer


@dataclass(frozen=True)
class QuantizedMixer(_Halves):
    """Both halves quantized, sharing the stream's input format and output format.

    The engine streams the whole map through one port, so every sample on it has the same
    integer format: ``h.fmt.data == w.fmt.data`` and ``h.fmt.output == w.fmt.output`` (and the
    rounding/saturation the formats are used with) are enforced here. What may differ per half
    is what the 1-D layers already allow per channel: weight scales, shifts, folded real
    scales (`QuantizedLayer.input_scale` / ``output_scale``, which only change what a
    channel's integers *mean*: `input_lsb`, `output_lsb`).
    """

    h: QuantizedLayer
    w: QuantizedLayer
    name: str = "mixer"
    # Output bits each half gave up so that both share one output format: its own format's
    # frac (quantized alone) minus the shared one. 0 when the caller fixed the format.
    lost_bits: dict[str, int] = field(default_factory=lambda: {"H": 0, "W": 0})

    def __post_init__(self) -> None:
        a, b = self.h.fmt, self.w.fmt
        for what, x, y in (
            ("input format", a.data, b.data),
            ("output format", a.output, b.output),
            ("rounding", a.rounding, b.rounding),
            ("output overflow (saturate)", a.saturate, b.saturate),
        ):
            if x != y:
                raise ValueError(
                    f"the mixer's halves must share the stream's {what}: ParC-H has {x}, ParC-W has {y} "
                    "(quantize with golden.mixer.quantize_mixer)"
                )

    @property
    def data(self) -> FixedFormat:
        """The one input format of the stream."""
        return self.h.fmt.data

    @property
    def output(self) -> FixedFormat:
        """The one output format of the stream."""
        return self.h.fmt.output

    @property
    def rounding(self) -> Rounding:
        return self.h.fmt.rounding

    @property
    def input_lsb(self) -> NDArray[np.float64]:
        """(C,) real value of one input LSB of each map channel (`QuantizedLayer.input_lsb`)."""
        return np.concatenate([self.h.input_lsb, self.w.input_lsb])

    @property
    def output_lsb(self) -> NDArray[np.float64]:
        """(C,) real value of one output LSB of each map channel (`QuantizedLayer.output_lsb`)."""
        return np.concatenate([self.h.output_lsb, self.w.output_lsb])

    def half(self, direction: str) -> QuantizedLayer:
        if direction == "H":
            return self.h
        if direction == "W":
            return self.w
        raise ValueError(f"direction must be 'H' or 'W'; got {direction!r}")

    def float_error_bound(self) -> NDArray[np.float64]:
        """(C,) worst-case ``|y_q - y_float|`` of the direct engine, in output LSBs of each
        channel: the halves' `QuantizedLayer.float_error_bound`, one per map channel.

        ``y_float`` is `MixerLayer.forward` on the *dequantized* input (``x_int *
        input_lsb``): the bound covers weight, PE, bias and output rounding, not the input's
        own quantization, and holds where the output does not saturate. A map channel is one
        1-D channel of its half on every one of its lines, so the 1-D bound carries over
        unchanged (`MixerEngine.float_error_bound` adds the FFT engines' pipeline error)."""
        return np.concatenate([self.h.float_error_bound(), self.w.float_error_bound()])

    def to_dict(self) -> dict:
        """For manifests: the shared formats, the split, the stream order and both halves."""
        return {
            "name": self.name,
            "channels": self.channels,
            "split": self.split,
            "height": self.height,
            "width": self.width,
            "stream_order": "HWC raster: for h, for w, for c",
            "data": self.data.to_dict(),
            "output": self.output.to_dict(),
            "lost_bits": dict(self.lost_bits),
            "H": self.h.to_dict(),
            "W": self.w.to_dict(),
        }


def calibration_rows(
    calibration: ArrayLike, split: int, shape: tuple[int, int, int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(..., C, H, W) float maps -> each half's 1-D calibration rows: H half (-1, C_h, H) (its
    columns), W half (-1, C_w, W) (its rows), in the (..., C, N) convention of `quantize_layer`."""
    calib = as_finite_array(calibration, "calibration")
    _check_map_shape(calib.shape, shape, "calibration")
    c, h, w = shape
    rows_h = map_to_rows(calib[..., :split, :, :], "H").reshape(-1, split, h)
    rows_w = map_to_rows(calib[..., split:, :, :], "W").reshape(-1, c - split, w)
    return rows_h, rows_w


def _quantize_half(
    mixer: MixerLayer, direction: Direction, bits: int, rows: NDArray[np.float64] | None, **kwargs
) -> QuantizedLayer:
    """`quantize_layer` on one half; its messages say which half (and which map channels)."""
    layer = mixer.h if direction == "H" else mixer.w
    first, last = (0, mixer.split - 1) if direction == "H" else (mixer.split, mixer.channels - 1)
    try:
        return quantize_layer(layer, bits, rows, **kwargs)
    except ValueError as exc:  # UserError included: keep the class, add where it happened
        raise type(exc)(
            f"{_HALF_NAMES[direction]} half of {mixer.name} (map channels {first}..{last}): {exc}"
        ) from None


def _refuse_drowned_half(
    mixer: MixerLayer,
    qm: QuantizedMixer,
    rows: dict[str, NDArray[np.float64] | None],
    rule: str,
    percentile: float,
) -> None:
    """The mixer's form of `quantize_layer`'s outlier refusal: a half whose live channels
    (output range >= one input LSB) would all output 0 in the shared output format is a
    one-line `UserError`. One format serves both halves, so a half with outputs 2**8 times
    larger than the other's takes every bit of an 8-bit output from it."""
    half_lsb = float(np.ldexp(0.5, -int(qm.output.frac)))
    for d, other in (("H", "W"), ("W", "H")):
        if qm.lost_bits[d] <= 0:
            continue
        layer = mixer.h if d == "H" else mixer.w
        ranges = output_ranges(layer, qm.data, rows[d], rule, qm.output.bits, percentile)
        live = ranges[ranges >= qm.data.lsb]
        if live.size and live.max() < half_lsb:
            raise UserError(
                f"{mixer.name}: the {_HALF_NAMES[d]} half's outputs reach only {live.max():.3g}, but the one output "
                f"format both halves share (chosen for the {_HALF_NAMES[other]} half's larger outputs) has an LSB of "
                f"{2 * half_lsb:.3g}: every {_HALF_NAMES[d]} channel would output 0; rescale the halves, raise the "
                "output bits, or give output_frac"
            )


def quantize_mixer(
    mixer: MixerLayer, bits: int, calibration: ArrayLike | None = None, **quantize_layer_kwargs
) -> QuantizedMixer:
    """Quantize both halves (`golden.quant.quantize_layer`, same keywords) so that they share
    the stream's input format and output format.

    ``calibration``: float maps (..., C, H, W) of the mixer's input (`calibration_rows` cuts
    them into each half's lines). Every other keyword (widths, rounding, ``calibration_rule``,
    ``out_scale``, ``in_scale``, ``acc_bits``, ...) goes to both halves unchanged.

    The format-sharing rule. One port carries the whole map, so each format is the
    **coarser** of the two halves' own (the smaller frac): the format that holds both halves'
    ranges, so neither half saturates more than it would alone.

    1. Each half is quantized alone (its own calibration lines): its own data frac and output
       frac, exactly as a 1-D engine would choose them.
    2. ``data_frac = min`` of the two, ``output_frac = min`` of the two (a ``data_frac`` /
       ``output_frac`` given by the caller is used as is, for both halves).
    3. Both halves are quantized again with these explicit fracs. A half may clamp the output
       frac further (`quantize_layer` keeps every shift >= 0: ``output_frac <= data_frac +
       min weight_frac``, and the coarser data format can lower that cap); then the smaller
       result is taken and step 3 repeats once more, after which both agree (the cap does not
       depend on ``output_frac``).

    For the ``"max"`` rule the shared data frac is the one the whole map's maximum gives. A
    half whose own output frac was finer loses that many output bits
    (`QuantizedMixer.lost_bits`); if that would put all its live channels below half an
    output LSB, it is refused (`UserError`), as `quantize_layer` refuses an outlier channel.
    Per-channel real scales (``out_scale="per-channel"``/``"shared"``, ``in_scale=
    "per-channel"``) stay per half: they are folded into each half's weights, and the stream's
    integers keep the shared formats.
    """
    kwargs = dict(quantize_layer_kwargs)
    rows: dict[str, NDArray[np.float64] | None] = {"H": None, "W": None}
    if calibration is not None:
        rows["H"], rows["W"] = calibration_rows(calibration, mixer.split, mixer.shape)
    data_frac = kwargs.pop("data_frac", None)
    output_frac = kwargs.pop("output_frac", None)
    auto_output = output_frac is None
    directions: tuple[Direction, Direction] = ("H", "W")

    own: dict[str, QuantizedLayer] = {}
    if data_frac is None or output_frac is None:
        own = {
            d: _quantize_half(mixer, d, bits, rows[d], data_frac=data_frac, output_frac=output_frac, **kwargs)
            for d in directions
        }
        if data_frac is None:
            data_frac = min(int(q.fmt.data.frac) for q in own.values())
        if output_frac is None:
            output_frac = min(int(q.fmt.output.frac) for q in own.values())

    for _ in range(3):
        halves = {
            d: _quantize_half(mixer, d, bits, rows[d], data_frac=data_frac, output_frac=output_frac, **kwargs)
            for d in directions
        }
        fracs = {int(q.fmt.output.frac) for q in halves.values()}
        if len(fracs) == 1:
            break
        output_frac = min(fracs)
    else:  # the cap does not depend on output_frac: the second re-quantization agrees
        raise RuntimeError(f"the mixer's halves did not agree on an output format: {fracs}")

    shared = int(halves["H"].fmt.output.frac)
    lost: dict[str, int] = {d: (int(own[d].fmt.output.frac) - shared if d in own else 0) for d in directions}
    qm = QuantizedMixer(halves["H"], halves["W"], mixer.name, lost)
    if auto_output:
        rule = kwargs.get("calibration_rule", "max")
        percentile = kwargs.get("calibration_percentile", DEFAULT_PERCENTILE)
        _refuse_drowned_half(mixer, qm, rows, rule, percentile)
    return qm


# --------------------------------------------------------------------------- maps in and out


def quantize_map(qm: QuantizedMixer, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
    """Float maps (..., C, H, W) -> input-stream integers (..., C, H, W) and which of them
    saturated: each half's `golden.quant.quantize_input` on its lines, so a folded per-channel
    input scale (`QuantizedMixer.input_lsb`) is honoured exactly as the 1-D layer does."""
    xa = as_finite_array(x, "x")
    _check_map_shape(xa.shape, qm.shape)
    parts = [xa[..., : qm.split, :, :], xa[..., qm.split :, :, :]]
    ints, sats = [], []
    for d, part in zip(("H", "W"), parts, strict=True):
        xi, sat = quantize_input(qm.half(d), map_to_rows(part, d))
        ints.append(rows_to_map(xi, d))
        sats.append(rows_to_map(sat, d))
    return np.concatenate(ints, axis=-3), np.concatenate(sats, axis=-3)


def dequantize_map(
    qm: QuantizedMixer, values: ArrayLike, stream: Literal["output", "input"] = "output"
) -> NDArray[np.float64]:
    """Integer maps (..., C, H, W) -> the real values they stand for: output integers times
    `QuantizedMixer.output_lsb` (default), or with ``stream="input"`` input integers times
    ``input_lsb`` (the input the float mixer must see for `QuantizedMixer.float_error_bound`)."""
    v = np.asarray(values)
    _check_map_shape(v.shape, qm.shape, "values")
    if stream == "output":
        lsb = qm.output_lsb
    elif stream == "input":
        lsb = qm.input_lsb
    else:
        raise ValueError(f"stream must be 'output' or 'input'; got {stream!r}")
    return v.astype(np.float64) * lsb[:, None, None]


# --------------------------------------------------------------------------- integer mixer


@dataclass(frozen=True)
class HalfEngine:
    """One half's 1-D integer model, as the engine ``hw.design`` builds for it would run it."""

    direction: Direction
    kind: str  # resolved: "direct", "fft-padded" or "fft-native"
    layer: QuantizedLayer
    plan: FastParcPlan | NativePlan | None  # None for "direct"

    def run(self, rows: IntArray) -> tuple[IntArray, NDArray[np.bool_]]:
        """Output integers (..., C, N) of input lines (..., C, N), and the saturated outputs."""
        if isinstance(self.plan, FastParcPlan):
            trace = fast_parc_int_model(self.plan, rows)
            return trace.y, trace.saturated
        if isinstance(self.plan, NativePlan):
            native = native_model(self.plan, rows)
            return native.y, native.saturated
        return direct_model(self.layer, rows)

    def float_error_bound(self) -> NDArray[np.float64]:
        """(C,) worst-case ``|y_q - y_float|`` in output LSBs where nothing saturates.

        Direct: `QuantizedLayer.float_error_bound`. FFT: the plan's bound against the exact
        value of the quantized layer (which includes the output rounding) plus the direct
        bound without its output rounding (the quantized layer against the float one)."""
        direct = self.layer.float_error_bound()
        if self.plan is None:
            return direct
        r_out = 1.0 if self.layer.fmt.rounding is Rounding.TRUNCATE else 0.5
        if isinstance(self.plan, NativePlan):
            pipeline = self.plan.error_bounds()
        else:
            pipeline = np.full(self.layer.channels, self.plan.error_bound())
        return pipeline + direct - r_out


def _half_engine(q: QuantizedLayer, direction: Direction, engine: str) -> HalfEngine:
    """The 1-D engine of one half, resolved as ``hw.design`` resolves ``--arch``/``--fft-impl``
    (default FFT options; ``"fft"``: native when N factors and its plan takes the widths)."""
    n = q.fmt.n
    if engine == "direct":
        return HalfEngine(direction, "direct", q, None)
    if engine == "fft-native" and not supported(n):
        raise UserError(
            f"engine fft-native needs N that factors into coprime Winograd modules (2/4/8 times 3, 5, 7); the "
            f"{_HALF_NAMES[direction]} half has N={n}: use fft-padded or fft"
        )
    if engine in ("fft", "fft-native") and supported(n):
        try:
            return HalfEngine(direction, "fft-native", q, plan_native(q))
        except ValueError as exc:  # auto falls back to padded, as hw.design's does
            if engine == "fft-native":
                raise UserError(f"engine fft-native, {_HALF_NAMES[direction]} half (N={n}): {exc}") from None
    return HalfEngine(direction, "fft-padded", q, plan_fast_parc(q))


@dataclass(frozen=True)
class MixerEngine:
    """The integer mixer: the H half's 1-D engine on the columns of channels ``< split``, the
    W half's on the rows of the others. Build once (`build_engine`: FFT plans), run often."""

    qm: QuantizedMixer
    h: HalfEngine
    w: HalfEngine

    def run(self, x: ArrayLike) -> tuple[IntArray, NDArray[np.bool_]]:
        """Input integers (..., C, H, W) -> output integers (..., C, H, W), and a mask of the
        outputs that saturated (or wrapped)."""
        xi = _check_int_map(self.qm, x)
        ys, sats = [], []
        for half, part in ((self.h, xi[..., : self.qm.split, :, :]), (self.w, xi[..., self.qm.split :, :, :])):
            y, sat = half.run(np.ascontiguousarray(map_to_rows(part, half.direction)))
            ys.append(rows_to_map(y, half.direction))
            sats.append(rows_to_map(sat, half.direction))
        return np.concatenate(ys, axis=-3), np.concatenate(sats, axis=-3)

    def model(self, x: ArrayLike) -> IntArray:
        """Output integers only (what ``hw``'s engines call ``.model``)."""
        return self.run(x)[0]

    def float_error_bound(self) -> NDArray[np.float64]:
        """(C,) worst-case ``|y_q - y_float|`` of this engine in output LSBs (`HalfEngine`)."""
        return np.concatenate([self.h.float_error_bound(), self.w.float_error_bound()])


def _check_int_map(qm: QuantizedMixer, x: ArrayLike) -> IntArray:
    """Integer maps (..., C, H, W) inside the shared input format, or a one-line ValueError."""
    xi = np.asarray(x)
    if xi.dtype.kind not in "iu":
        raise ValueError(f"the integer mixer's input must be integers; got dtype {xi.dtype} (see quantize_map)")
    _check_map_shape(xi.shape, qm.shape)
    fmt = qm.data
    if xi.size and (xi.min() < fmt.min_int or xi.max() > fmt.max_int):
        raise ValueError(f"input exceeds the {fmt.bits}-bit input format ({fmt.min_int}..{fmt.max_int})")
    return xi.astype(np.int64)


def build_engine(qm: QuantizedMixer, engine: str = "direct") -> MixerEngine:
    """The integer mixer for one of `ENGINES`, each half's plan built once."""
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    return MixerEngine(qm, _half_engine(qm.h, "H", engine), _half_engine(qm.w, "W", engine))


def mixer_model(qm: QuantizedMixer, x: ArrayLike, engine: str | MixerEngine = "direct") -> IntArray:
    """Output integers (..., C, H, W) of the integer mixer on input integers (..., C, H, W).

    ``engine``: one of `ENGINES`, or a `MixerEngine` from `build_engine` (to reuse its
    plans). Bit-exact to the 1-D integer models applied to each half's lines."""
    built = engine if isinstance(engine, MixerEngine) else build_engine(qm, engine)
    if built.qm is not qm:
        raise ValueError("the MixerEngine was built for another QuantizedMixer")
    return built.model(x)
