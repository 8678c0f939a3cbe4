"""Weight bundles: the `.npz` files that `hw.generate --weights` and `sim.run --weights` read.

Two kinds, one loader:
- a plain float ``.npz`` any user can write: ``weight`` (C, N), optional ``bias`` (C,), ``pe`` (C, N);
- an exported bundle (`golden.export`): the same float arrays plus ``calibration`` and ``test``
  activations (S, C, N) captured from the trained network, the quantized integers at the
  export's bits, and ``meta`` (JSON: layer, source, formats, scales, provenance).
Quantization is deterministic (`golden.quant.quantize_layer` on weights + calibration), so a
generator asked for other bits re-quantizes from the float arrays.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from golden.checks import as_finite_array
from golden.quant import FloatLayer, QuantizedLayer, quantize_layer

DEFAULT_BUNDLE_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Bundle:
    layer: FloatLayer
    calibration: NDArray[np.float64] | None = None  # (S, C, N) activations the layer really sees
    test: NDArray[np.float64] | None = None  # (S, C, N) held-out activations
    meta: dict = field(default_factory=dict)
    sha256: str = ""
    source: str = ""

    def quantize(self, bits: int, **kwargs) -> QuantizedLayer:
        return quantize_layer(self.layer, bits, self.calibration, **kwargs)


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _activations(arrays, key: str, layer: FloatLayer) -> NDArray[np.float64] | None:
    if key not in arrays:
        return None
    act = as_finite_array(arrays[key], key)
    if act.ndim != 3 or act.shape[1:] != (layer.channels, layer.n):
        raise ValueError(f"'{key}' must have shape (S, {layer.channels}, {layer.n}); got {act.shape}")
    return act


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read a float ``.npz`` or an exported bundle; every problem is a one-line ValueError."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weight file not found: {path}")
    try:
        arrays = dict(np.load(path, allow_pickle=False))
    except Exception as exc:  # zipfile, pickle and format errors all mean "not a weight file"
        raise ValueError(f"{path} is not a readable .npz file: {exc}") from None
    if "weight" not in arrays:
        raise ValueError(f"{path} has no 'weight' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    try:
        layer = FloatLayer.create(arrays["weight"], arrays.get("pe"), arrays.get("bias"), name=path.stem)
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        if meta.get("layer"):
            layer = FloatLayer(layer.weight, layer.pe, layer.bias, meta["layer"])
        return Bundle(
            layer,
            _activations(arrays, "calibration", layer),
            _activations(arrays, "test", layer),
            meta,
            file_sha256(path),
            str(path),
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def save_bundle(
    path: str | os.PathLike,
    layer: FloatLayer,
    calibration: NDArray[np.float64] | None = None,
    test: NDArray[np.float64] | None = None,
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
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays))


def default_bundle_path(n: int) -> Path | None:
    """Shipped trained bundle for feature size ``n`` (N=56 and N=28), if there is one."""
    path = DEFAULT_BUNDLE_DIR / f"parc_n{n}.npz"
    return path if path.is_file() else None
