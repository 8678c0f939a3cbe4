"""Weight bundles: the `.npz` files that `hw.generate --weights` and `sim.run --weights` read.

Two kinds, one loader:
- a plain float ``.npz`` any user can write: ``weight`` (C, N), optional ``bias`` (C,), ``pe`` (C, N);
- an exported bundle (`golden.export`): the same float arrays plus ``calibration`` and ``test``
  activations (S, C, N) captured from the trained network, the quantized integers at the
  export's bits, and ``meta`` (JSON: layer, source, formats, scales, provenance).
Quantization is deterministic (`golden.quant.quantize_layer` on weights + calibration), so a
generator asked for other bits re-quantizes from the float arrays.

`load_weights` is what ``--weights PATH [--layer NAME]`` means: one of the above, or one
layer of a checkpoint (`golden.weights`) as a bundle without activations. Every bundle
carries `weights_sha256` of its float arrays (one fingerprint whatever the source) and the
file's own sha256; `Bundle.first_channels` is ``--channels``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from golden.checks import as_finite_array
from golden.cli import UserError
from golden.files import atomic_write, atomic_write_text, file_sha256  # noqa: F401  (re-exported for callers)
from golden.quant import FloatLayer, QuantizedLayer, quantize_layer
from golden.weights import direction_of, find_parc_layers, import_layer, load_checkpoint, sniff_weight_file

DEFAULT_BUNDLE_DIR = Path(__file__).parent / "data"


RANDOM_WEIGHTS = "random"  # the ``--weights`` value that asks for seeded random stand-in weights
CHECKPOINT_LAYOUTS_THAT_RESIZE = ("convnext_gcc", "edgeformer")  # meta kernels: resized to the feature's N


def weights_sha256(layer: FloatLayer) -> str:
    """The one fingerprint of a layer's weights, whatever file (or seed) they came from.

    sha256 over ``weight`` (C, N), ``pe`` (C, N) and ``bias`` (C,) as float64 little-endian,
    C order, concatenated: the values the hardware was quantized from (after channel selection
    and resizing). A file's own hash is recorded beside it (`Bundle.file_sha256`), because the
    same weights can live in many files and one file can hold many layers.
    """
    h = hashlib.sha256()
    for array in (layer.weight, layer.pe, layer.bias):
        h.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """Float weights of one layer, with the real activations and the provenance when known."""

    layer: FloatLayer
    calibration: NDArray[np.float64] | None = None  # (S, C, N) activations the layer really sees
    test: NDArray[np.float64] | None = None  # (S, C, N) held-out activations
    meta: dict = field(default_factory=dict)
    sha256: str = ""  # weights_sha256(layer)
    source: str = ""  # the path as given
    file_sha256: str = ""  # sha256 of the file's bytes
    kind: str = "arrays"  # "bundle" (golden.export, has meta), "arrays" (plain float .npz), "checkpoint" (one layer)
    channels_in_source: int | None = None  # the file's channel count (first_channels may keep fewer)

    def quantize(self, bits: int, **kwargs) -> QuantizedLayer:
        return quantize_layer(self.layer, bits, self.calibration, **kwargs)

    @property
    def portable_source(self) -> str:
        """A name that means the same on every machine: ``shipped:parc_n56.npz`` or the file's base name."""
        path = Path(self.source)
        try:
            shipped = path.resolve().parent == DEFAULT_BUNDLE_DIR.resolve()
        except OSError:
            shipped = False
        return f"shipped:{path.name}" if shipped else path.name

    @property
    def direction(self) -> str | None:
        """The axis the layer runs along (H: down the columns, W: along the rows), if known."""
        meta_direction = self.meta.get("direction")
        return meta_direction if meta_direction in ("H", "W") else direction_of(self.layer.name)

    def first_channels(self, channels: int) -> Bundle:
        """The first ``channels`` channels (weights, PE, bias and activations alike).

        A subset keeps the trained weights; asking for more channels than the file has is
        refused rather than padded with invented ones.
        """
        have = self.layer.channels
        if channels > have:
            raise UserError(
                f"--channels {channels} exceeds the {have} channels of {self.portable_source}; use --channels 1..{have}"
            )
        if channels == have:
            return self
        w = self.layer
        layer = FloatLayer(w.weight[:channels], w.pe[:channels], w.bias[:channels], w.name)
        cut = lambda act: None if act is None else np.ascontiguousarray(act[:, :channels])  # noqa: E731
        return replace(
            self, layer=layer, calibration=cut(self.calibration), test=cut(self.test), sha256=weights_sha256(layer)
        )


def _activations(arrays, key: str, layer: FloatLayer) -> NDArray[np.float64] | None:
    if key not in arrays:
        return None
    act = as_finite_array(arrays[key], key)
    if act.ndim != 3 or act.shape[1:] != (layer.channels, layer.n):
        raise ValueError(f"'{key}' must have shape (S, {layer.channels}, {layer.n}); got {act.shape}")
    return act


def _meta(arrays) -> dict:
    """The bundle's JSON ``meta``: must be an object (a list or bad JSON is a one-line error)."""
    if "meta" not in arrays:
        return {}
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as exc:
        raise ValueError(f"'meta' is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"'meta' must be a JSON object; got a JSON {type(meta).__name__}")
    if not isinstance(meta.get("layer", ""), str):
        raise ValueError("'meta' field 'layer' must be a string")
    return meta


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a float ``.npz`` or an exported bundle; every problem is a one-line ValueError."""
    path = Path(path)
    kind = sniff_weight_file(path)  # missing file, text, ... -> "not a weight file"
    if kind != "npz":
        what = "a PyTorch checkpoint" if kind == "torch" else "a .safetensors file"
        raise UserError(f"{path} is {what}, not a .npz weight bundle; name one of its layers with --layer")
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib and format errors all mean "not a weight file"
        raise ValueError(f"{path} is not a readable .npz file: {exc}") from None
    if "weight" not in arrays:
        raise ValueError(f"{path} has no 'weight' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    try:
        layer = FloatLayer.create(arrays["weight"], arrays.get("pe"), arrays.get("bias"), name=path.stem)
        meta = _meta(arrays)
        if meta.get("layer"):
            layer = FloatLayer(layer.weight, layer.pe, layer.bias, meta["layer"])
        return Bundle(
            layer,
            _activations(arrays, "calibration", layer),
            _activations(arrays, "test", layer),
            meta,
            weights_sha256(layer),
            str(path),
            file_sha256(path),
            "bundle" if "meta" in arrays else "arrays",
            layer.channels,
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def load_checkpoint_layer(path: str | os.PathLike, name: str, n: int | None = None) -> Bundle:
    """One ParC layer of a checkpoint as a `Bundle` without activations.

    Without activations the layer is quantized from its weight bound, as ``golden.export
    --no-activations`` does. Meta kernels (ConvNeXt-GCC, EdgeFormer) are resized to ``n``,
    as those networks do at run time; a ParC-ConvNeXt kernel is as long as its feature, so
    a different ``n`` is refused.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    try:
        infos = {i.name: i for i in find_parc_layers(ckpt.state)}
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if name not in infos:
        raise UserError(f"--layer: no ParC layer named '{name}' in {path}; available: {', '.join(infos) or 'none'}")
    info = infos[name]
    if n is not None and n != info.n and info.layout not in CHECKPOINT_LAYOUTS_THAT_RESIZE:
        raise UserError(f"--layer {name} of {path} runs at N={info.n}, but --n {n} was requested")
    try:
        layer = import_layer(ckpt.state, info, n)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    meta = {
        "layer": info.name,
        "layout": info.layout,
        "direction": info.direction,
        "stored_n": info.n,
        "n": layer.n,
        "state_dict_in": ckpt.describe(),
    }
    if layer.n != info.n:
        meta["resized"] = "bilinear, align_corners=True (golden.resize.resize_kernel), as the network does"
    return Bundle(
        layer, None, None, meta, weights_sha256(layer), str(path), file_sha256(path), "checkpoint", layer.channels
    )


def load_weights(path: str | os.PathLike, n: int | None = None, layer: str | None = None) -> Bundle:
    """What ``--weights PATH [--layer NAME]`` names: an exported bundle, a float ``.npz`` or a checkpoint layer.

    ``n`` (the requested feature length) is checked here so that every loader refuses a
    mismatch with the same one-line message.
    """
    path = Path(path)
    kind = sniff_weight_file(path)
    single = False
    if kind == "npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                single = "weight" in f.files
        except Exception as exc:  # noqa: BLE001 - a broken member behind a valid zip directory
            raise ValueError(f"{path} is not a readable .npz file: {exc}") from None
    if single:
        bundle = load_bundle(path)
        if layer is not None and layer != bundle.layer.name:
            raise UserError(
                f"--layer {layer}: {path} holds one layer ({bundle.layer.name}); --layer picks a layer of a checkpoint"
            )
    elif layer is not None:
        bundle = load_checkpoint_layer(path, layer, n)
    else:
        try:
            names = [i.name for i in find_parc_layers(load_checkpoint(path).state)]
        except ValueError as exc:
            raise ValueError(exc if str(path) in str(exc) else f"{path}: {exc}") from None
        if names:
            raise UserError(f"{path} is a checkpoint: choose its layer with --layer (available: {', '.join(names)})")
        if kind == "npz":
            load_bundle(path)  # raises: "has no 'weight' array (found: ...)"
        raise UserError(
            f"{path} is a checkpoint without ParC layers (looked for gcc_H/gcc_W, gcc_conv_1H/2W, meta_kernel_*)"
        )
    if n is not None and bundle.layer.n != n:
        raise UserError(f"weights {path} are for N={bundle.layer.n}, but N={n} was requested")
    return bundle


def save_bundle(
    path: str | os.PathLike,
    layer: FloatLayer,
    calibration: NDArray[np.floating] | None = None,  # activations: float32 from golden.export
    test: NDArray[np.floating] | None = None,
    quantized: QuantizedLayer | None = None,
    meta: dict | None = None,
) -> None:
    """Write a bundle atomically (float arrays, activations, quantized ints, JSON meta)."""
    arrays: dict[str, np.ndarray] = {"weight": layer.weight, "pe": layer.pe, "bias": layer.bias}
    if calibration is not None:
        arrays["calibration"] = calibration
    if test is not None:
        arrays["test"] = test
    info = dict(meta or {})
    info.setdefault("layer", layer.name)
    if quantized is not None:
        arrays.update(weight_q=quantized.weight, pe_q=quantized.pe, bias_q=quantized.bias, offset_q=quantized.offset)
        info["quantized"] = quantized.to_dict()
    arrays["meta"] = np.array(json.dumps(info, sort_keys=True))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:  # a file object: numpy appends no ".npz" to the name
            np.savez_compressed(handle, allow_pickle=False, **arrays)

    atomic_write(path, write)


def default_bundle_path(n: int) -> Path | None:
    """Shipped trained bundle for feature size ``n`` (N=56 and N=28), if there is one."""
    path = DEFAULT_BUNDLE_DIR / f"parc_n{n}.npz"
    return path if path.is_file() else None
