"""Import trained ParC layers from published checkpoints (.pt/.pth, .npz, .safetensors).

Three layouts are recognised (docs/operator.md section 7); a layer is named by its module path:

=================  ===================================================  ==========================
layout             keys of one layer (prefix ``P``)                     layer name
=================  ===================================================  ==========================
``parc_convnext``  ``P.gcc_H.gcc_conv.weight`` [C,1,N,1] (W: [C,1,1,N]),  ``P.gcc_H`` / ``P.gcc_W``
                   ``P.gcc_H.gcc_conv.bias`` [C], ``P.gcc_H.pe``
                   [1,C,N,1] (W: [1,C,1,N], optional)
``convnext_gcc``   ``P.gcc_conv_1H.weight`` [C,1,M,1], ``.bias`` [C]       ``P.gcc_conv_1H``
                   (optional), ``.meta_pe`` [1,C,M,1] (optional);
                   ``gcc_conv_2W``: [C,1,1,M] / [1,C,1,M]
``edgeformer``     ``P.meta_kernel_1_H`` [C,1,M,1], ``P.meta_pe_1_H``     ``P.meta_kernel_1_H``
                   [1,C,M,1] (optional), ``P.meta_1_H_bias`` [C]
                   (optional); also ``_1_W``, ``_2_H``, ``_2_W``
=================  ===================================================  ==========================

Meta kernels (and PEs) of size M are resized to the target N with ``F.interpolate(...,
mode='bilinear', align_corners=True)`` semantics (`golden.resize.resize_kernel`); without a
target N a layer keeps its stored length. Every layer comes back as a
`golden.quant.FloatLayer` (weight (C, N), pe (C, N), bias (C,)). Every problem with a file
is a one-line ``ValueError``: unreadable file, missing key, wrong shape, NaN/Inf, unknown
layer name (the message lists the available names).

Files are recognised by their content (`sniff_weight_file`), so a text file is "not a weight
file" whatever its name. Checkpoints are found inside the usual wrappers (`load_checkpoint`:
``{'state_dict': ..., 'best_acc1': ...}``, ``{'model': ..., 'args': Namespace}``, EMA copies,
DataParallel's ``module.`` prefix). PyTorch files are only ever read with
``torch.load(weights_only=True)`` plus a short allow-list of data-only globals
(``argparse.Namespace``, numpy scalars): no code in a checkpoint is ever run.

Command line: ``python -m golden.weights PATH [--n N]`` lists the ParC layers of a file.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from golden.checks import as_finite_array
from golden.cli import Parser, UserError, run
from golden.quant import FloatLayer
from golden.resize import resize_kernel

__all__ = [
    "LAYOUTS",
    "ParcLayerInfo",
    "Checkpoint",
    "WEIGHT_FILES",
    "sniff_weight_file",
    "load_checkpoint",
    "load_state_dict",
    "direction_of",
    "find_parc_layers",
    "import_layer",
    "list_layers",
    "load_layer",
    "load_layers",
    "feature_to_rows",
    "rows_to_feature",
]

LAYOUTS = ("parc_convnext", "convnext_gcc", "edgeformer")
Direction = Literal["H", "W"]

# One pattern per (layout, role). Groups: prefix, direction (and branch index for meta layouts).
_PATTERNS: list[tuple[str, str, re.Pattern[str]]] = [
    ("parc_convnext", "weight", re.compile(r"^(?P<p>(?:.*\.)?)gcc_(?P<d>[HW])\.gcc_conv\.weight$")),
    ("parc_convnext", "bias", re.compile(r"^(?P<p>(?:.*\.)?)gcc_(?P<d>[HW])\.gcc_conv\.bias$")),
    ("parc_convnext", "pe", re.compile(r"^(?P<p>(?:.*\.)?)gcc_(?P<d>[HW])\.pe$")),
    ("convnext_gcc", "weight", re.compile(r"^(?P<p>(?:.*\.)?)gcc_conv_(?P<i>\d+)(?P<d>[HW])\.weight$")),
    ("convnext_gcc", "bias", re.compile(r"^(?P<p>(?:.*\.)?)gcc_conv_(?P<i>\d+)(?P<d>[HW])\.bias$")),
    ("convnext_gcc", "pe", re.compile(r"^(?P<p>(?:.*\.)?)gcc_conv_(?P<i>\d+)(?P<d>[HW])\.meta_pe$")),
    ("edgeformer", "weight", re.compile(r"^(?P<p>(?:.*\.)?)meta_kernel_(?P<i>\d+)_(?P<d>[HW])$")),
    ("edgeformer", "bias", re.compile(r"^(?P<p>(?:.*\.)?)meta_(?P<i>\d+)_(?P<d>[HW])_bias$")),
    ("edgeformer", "pe", re.compile(r"^(?P<p>(?:.*\.)?)meta_pe_(?P<i>\d+)_(?P<d>[HW])$")),
]


def _as_direction(letter: str) -> Direction:
    """The ``H``/``W`` the layer-name patterns capture, typed as a `Direction`."""
    if letter == "H":
        return "H"
    if letter == "W":
        return "W"
    raise ValueError(f"not a ParC direction: {letter!r}")


def _layer_keys(layout: str, prefix: str, direction: str, index: str | None) -> tuple[str, dict[str, str]]:
    """(layer name, {role: key}) of one layer."""
    if layout == "parc_convnext":
        name = f"{prefix}gcc_{direction}"
        return name, {"weight": f"{name}.gcc_conv.weight", "bias": f"{name}.gcc_conv.bias", "pe": f"{name}.pe"}
    if layout == "convnext_gcc":
        name = f"{prefix}gcc_conv_{index}{direction}"
        return name, {"weight": f"{name}.weight", "bias": f"{name}.bias", "pe": f"{name}.meta_pe"}
    tail = f"{index}_{direction}"
    name = f"{prefix}meta_kernel_{tail}"
    return name, {"weight": name, "bias": f"{prefix}meta_{tail}_bias", "pe": f"{prefix}meta_pe_{tail}"}


@dataclass(frozen=True)
class ParcLayerInfo:
    """One ParC layer found in a state_dict."""

    name: str
    direction: Direction
    channels: int
    n: int  # kernel length as stored (M for meta layouts)
    layout: str
    weight_key: str
    bias_key: str | None  # None: no bias stored (bias=False), zeros are used
    pe_key: str | None  # None: no PE stored (use_pe=False), zeros are used

    def describe(self, n: int | None = None) -> str:
        size = f"N={self.n}" if n is None or n == self.n else f"M={self.n} -> N={n}"
        return f"{self.name}  {self.direction}  C={self.channels}  {size}  {self.layout}"


# --------------------------------------------------------------------------- reading files

WEIGHT_FILES = (
    "accepted: a .npz weight bundle or float arrays (weight [C,N], optional pe, bias), "
    "or a checkpoint with --layer: PyTorch .pt/.pth/.ckpt/.bin, a .npz or .safetensors state_dict"
)
FileKind = Literal["npz", "torch", "safetensors"]
_SUFFIX_KIND: dict[str, FileKind] = {
    ".npz": "npz",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
    ".safetensors": "safetensors",
}
_KIND_NAME = {"npz": ".npz", "torch": "PyTorch", "safetensors": ".safetensors"}

# Where training scripts put the state_dict inside a checkpoint, most wanted first. The raw
# weights come before the EMA copy (that is what `model.state_dict()` would have given).
_PRIMARY_KEYS = (
    "state_dict",
    "model",
    "model_state",
    "model_state_dict",
    "module",
    "net",
    "network",
    "weights",
    "params",
)
_EMA_KEYS = ("state_dict_ema", "model_ema", "model_ema_state_dict", "ema", "ema_state_dict", "ema_model")
# Prefixes that wrappers add to every key: nn.DataParallel/DistributedDataParallel, torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class Checkpoint:
    """The state_dict found in a weight file, and where it was found (for manifests and messages)."""

    state: dict[str, np.ndarray]
    container: str  # "" at the top level, else the wrapper keys, e.g. "model" or "state_dict_ema"
    stripped_prefix: str  # "module." when every key carried DataParallel's prefix, else ""

    def describe(self) -> str:
        where = f"['{self.container}']" if self.container else "top level"
        return where + (f", prefix '{self.stripped_prefix}' removed" if self.stripped_prefix else "")


def sniff_weight_file(path: str | os.PathLike) -> FileKind:
    """What a file holds, judged by its first bytes (the suffix only words the error message).

    Judging by content means a text file given as ``--weights`` is reported as "not a weight
    file" instead of whatever the first parser tried made of it ("pickled data", ...).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weight file not found: {path}")
    with path.open("rb") as f:
        head = f.read(16)
        size = f.seek(0, os.SEEK_END)
    kind: FileKind | None = None
    why = "it is empty" if size == 0 else "unrecognised content"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            names, why = [], f"broken zip archive ({exc})"
        if any(n.endswith("data.pkl") for n in names):
            kind = "torch"
        elif names and all(n.endswith(".npy") for n in names):
            kind = "npz"
        elif names:
            why = "a zip archive that is neither a .npz nor a PyTorch checkpoint"
    elif len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        kind = "torch"  # PyTorch's legacy (pre-1.6) format: a pickle stream; torch vets it
    elif len(head) >= 9 and head[8:9] == b"{":
        header = int.from_bytes(head[:8], "little")
        if 0 < header <= size - 8:
            kind = "safetensors"
    if kind is not None:
        return kind
    suffix = path.suffix.lower()
    if suffix in _SUFFIX_KIND:
        raise UserError(f"{path} is not a readable {_KIND_NAME[_SUFFIX_KIND[suffix]]} file: {why} ({WEIGHT_FILES})")
    raise UserError(
        f"{path} is not a weight file: unknown weight file type '{path.suffix}' with {why} ({WEIGHT_FILES})"
    )


def _to_numpy(value) -> np.ndarray | None:
    """Tensor/array -> ndarray; anything else (ints, strings, nested dicts) -> None."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch.Tensor without importing torch
        t = value.detach().cpu()
        if not t.is_floating_point() and not t.is_complex():
            return t.numpy()
        return t.float().numpy() if t.dtype.itemsize < 4 else t.numpy()
    return None


def _candidates(obj, where: tuple[str, ...] = (), depth: int = 0):
    """Every mapping that may be the state_dict, most likely first: the object, then wrappers."""
    if not isinstance(obj, Mapping) or depth > 3:
        return
    yield where, obj
    keys = [k for k in obj if isinstance(k, str) and isinstance(obj[k], Mapping)]
    ordered = [k for k in _PRIMARY_KEYS if k in keys] + [k for k in keys if k not in _PRIMARY_KEYS + _EMA_KEYS]
    for key in ordered + [k for k in _EMA_KEYS if k in keys]:
        yield from _candidates(obj[key], where + (key,), depth + 1)


def _has_parc_key(mapping: Mapping) -> bool:
    return any(
        isinstance(k, str) and pattern.match(k) for k in mapping for _l, role, pattern in _PATTERNS if role == "weight"
    )


def _unwrap(obj) -> tuple[Mapping, str]:
    """The state_dict inside a checkpoint: bare, or wrapped as {'model': sd, 'args': ..., 'epoch': ...}.

    A wrapper's own tensors (``best_acc1``, ``epoch``) must not make it look like the state
    dict, so the first mapping holding a ParC layer wins; failing that, the one with the
    most tensors (so that "no ParC layer found" speaks about the real state_dict).
    """
    found = list(_candidates(obj))
    if not found:
        raise ValueError(f"expected a state_dict (mapping of names to tensors); got {type(obj).__name__}")
    for where, mapping in found:
        if _has_parc_key(mapping):
            return mapping, ".".join(where)
    where, mapping = max(found, key=lambda wm: sum(_to_numpy(v) is not None for v in wm[1].values()))
    return mapping, ".".join(where)


def _safe_globals() -> list:
    """Harmless globals that real checkpoints pickle beside the tensors; nothing that runs code.

    ``argparse.Namespace`` (the training arguments), numpy scalars/dtypes/arrays (``best_acc1``
    as ``np.float64``) and paths only rebuild data. Anything else stays refused by torch's
    weights-only unpickler, which never imports or calls what the file names.
    """
    import argparse
    import pathlib

    core = getattr(np, "_core", None) or np.core
    items: list = [
        argparse.Namespace,
        np.dtype,
        np.ndarray,
        pathlib.PosixPath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
    ]
    for fn in (core.multiarray.scalar, core.multiarray._reconstruct):
        items += [fn, (fn, f"numpy.core.multiarray.{fn.__name__}"), (fn, f"numpy._core.multiarray.{fn.__name__}")]
    items += [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_)]
    return items


def _torch_error(path: Path, exc: BaseException) -> str:
    """torch.load's multi-paragraph, ANSI-coloured text -> one plain line that says what to do."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(exc))
    name = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL)\s+([\w.]+)", text)
    if name:
        return (
            f"{path} is not a readable PyTorch state_dict: it pickles the Python object {name.group(1)}, which is "
            "not on the allow-list (tensors, numbers, strings, containers, argparse.Namespace, numpy scalars/arrays, "
            "paths); nothing from the file was run. Re-save the weights with torch.save(model.state_dict(), PATH)"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return f"{path} is not a readable PyTorch state_dict (torch.load weights_only=True): {first[:200]}"


def _load_torch(path: Path):
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"reading {path.name} needs PyTorch (pip install torch); .npz and .safetensors do not"
        ) from None
    serialization = torch.serialization
    try:
        if hasattr(serialization, "safe_globals"):
            with serialization.safe_globals(_safe_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and "unsupported global" errors all mean "not a plain state_dict"
        raise ValueError(_torch_error(path, exc)) from None


def _strip_prefix(state: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    for prefix in _WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items()}, prefix
    return state, ""


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The state_dict of a .pt/.pth/.ckpt/.bin (needs torch), .npz or .safetensors file, unwrapped.

    PyTorch files are read with ``weights_only=True`` and a short allow-list of data-only
    globals (`_safe_globals`): a checkpoint can never run code here.
    """
    path = Path(path)
    kind = sniff_weight_file(path)
    container = ""
    if kind == "torch":
        state, container = _unwrap(_load_torch(path))
    elif kind == "npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                state = {k: f[k] for k in f.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path} is not a readable .npz file: {exc}") from None
    else:
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ValueError(f"reading {path.name} needs the safetensors package (pip install safetensors)") from None
        try:
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError
            raise ValueError(f"{path} is not a readable .safetensors file: {exc}") from None
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        arr = _to_numpy(value)
        if arr is not None:
            out[str(key)] = arr
    if not out:
        raise ValueError(f"{path} holds no arrays")
    out, prefix = _strip_prefix(out)
    return Checkpoint(out, container, prefix)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a state_dict as ``{key: ndarray}`` from .pt/.pth (needs torch), .npz or .safetensors."""
    return load_checkpoint(path).state


def direction_of(name: str) -> Direction | None:
    """H or W from a layer name in any of the three layouts (``gcc_H``, ``gcc_conv_2W``, ``meta_kernel_1_H``)."""
    m = re.search(r"(?:gcc_|gcc_conv_\d+|meta_kernel_\d+_)([HW])$", name)
    return _as_direction(m.group(1)) if m else None


# --------------------------------------------------------------------------- finding layers


def _expected_shapes(direction: str, c: int, n: int) -> dict[str, tuple[int, ...]]:
    if direction == "H":
        return {"weight": (c, 1, n, 1), "bias": (c,), "pe": (1, c, n, 1)}
    return {"weight": (c, 1, 1, n), "bias": (c,), "pe": (1, c, 1, n)}


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(s) for s in shape) + "]"


def find_parc_layers(state: Mapping[str, np.ndarray]) -> list[ParcLayerInfo]:
    """Every ParC layer in ``state`` (file order), with shapes checked against its layout."""
    groups: dict[str, tuple[str, Direction, dict[str, str]]] = {}
    order: list[str] = []
    for key in state:
        for layout, _role, pattern in _PATTERNS:
            m = pattern.match(key)
            if m is None:
                continue
            name, keys = _layer_keys(layout, m.group("p"), m.group("d"), m.groupdict().get("i"))
            if name not in groups:
                groups[name] = (layout, _as_direction(m.group("d")), keys)
                order.append(name)
            break
    layers = []
    for name in order:
        layout, direction, keys = groups[name]
        wkey = keys["weight"]
        if wkey not in state:
            present = [k for k in keys.values() if k in state]
            raise ValueError(f"ParC layer {name} ({layout}) is missing key '{wkey}' (found {', '.join(present)})")
        w = np.asarray(state[wkey])
        along = 2 if direction == "H" else 3
        other = 3 if direction == "H" else 2
        if w.ndim != 4 or w.shape[1] != 1 or w.shape[other] != 1:
            exp = "[C,1,N,1]" if direction == "H" else "[C,1,1,N]"
            raise ValueError(f"'{wkey}' has shape {_fmt_shape(w.shape)}; expected {exp} ({layout}, {direction})")
        c, n = int(w.shape[0]), int(w.shape[along])
        expected = _expected_shapes(direction, c, n)
        bias_key: str | None = keys["bias"]
        pe_key: str | None = keys["pe"]
        if layout == "parc_convnext" and bias_key not in state:
            # nn.Conv2d in ParC_operator always has a bias: its absence means a broken file
            raise ValueError(f"ParC layer {name} ({layout}) is missing key '{bias_key}'")
        for role, key in (("weight", wkey), ("bias", keys["bias"]), ("pe", keys["pe"])):
            if key not in state:
                continue
            shape = tuple(int(s) for s in np.shape(state[key]))
            if shape != expected[role]:
                raise ValueError(
                    f"'{key}' has shape {_fmt_shape(shape)}; expected {_fmt_shape(expected[role])} ({layout}, {direction})"
                )
        bias_key = bias_key if bias_key in state else None
        pe_key = pe_key if pe_key in state else None
        if n < 2:
            raise ValueError(f"'{wkey}' has kernel length {n}; a ParC layer needs N >= 2")
        layers.append(ParcLayerInfo(name, direction, c, n, layout, wkey, bias_key, pe_key))
    return layers


def _lookup(layers: list[ParcLayerInfo], name: str, source: str) -> ParcLayerInfo:
    for info in layers:
        if info.name == name:
            return info
    available = ", ".join(i.name for i in layers) or "none"
    raise ValueError(f"no ParC layer named '{name}' in {source}; available: {available}")


def import_layer(
    state: Mapping[str, np.ndarray],
    layer: ParcLayerInfo | str,
    n: int | None = None,
    mode: Literal["bilinear", "bicubic"] = "bilinear",
) -> FloatLayer:
    """One layer as a `FloatLayer` (weight (C, N), pe (C, N), bias (C,)), resized to ``n`` if given."""
    info = layer if isinstance(layer, ParcLayerInfo) else _lookup(find_parc_layers(state), layer, "the state_dict")
    c = info.channels
    weight = as_finite_array(state[info.weight_key], info.weight_key).reshape(c, info.n)
    pe = (
        np.zeros((c, info.n))
        if info.pe_key is None
        else as_finite_array(state[info.pe_key], info.pe_key).reshape(c, info.n)
    )
    bias = np.zeros(c) if info.bias_key is None else as_finite_array(state[info.bias_key], info.bias_key).reshape(c)
    if n is not None and n != info.n:
        if not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"target N must be an integer >= 2; got {n!r}")
        weight = resize_kernel(weight, int(n), mode=mode, align_corners=True, axis=-1)
        pe = resize_kernel(pe, int(n), mode=mode, align_corners=True, axis=-1)
    return FloatLayer.create(weight, pe, bias, name=info.name)


def list_layers(path: str | os.PathLike) -> list[ParcLayerInfo]:
    """The ParC layers of a weight file (name, direction, channels, N, layout)."""
    try:
        return find_parc_layers(load_state_dict(path))
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if str(path) in msg else f"{path}: {msg}") from None


def load_layers(
    path: str | os.PathLike, n: int | None = None, mode: Literal["bilinear", "bicubic"] = "bilinear"
) -> dict[str, FloatLayer]:
    """Every ParC layer of a weight file as ``{name: FloatLayer}`` (resized to ``n`` if given)."""
    state = load_state_dict(path)
    try:
        infos = find_parc_layers(state)
        if not infos:
            raise ValueError("no ParC layer found (looked for gcc_H/gcc_W, gcc_conv_1H/2W and meta_kernel_*_H/W keys)")
        return {i.name: import_layer(state, i, n, mode) for i in infos}
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def load_layer(
    path: str | os.PathLike, name: str, n: int | None = None, mode: Literal["bilinear", "bicubic"] = "bilinear"
) -> FloatLayer:
    """One named ParC layer of a weight file; an unknown name lists the available ones."""
    state = load_state_dict(path)
    try:
        info = _lookup(find_parc_layers(state), name, str(path))
        return import_layer(state, info, n, mode)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if str(path) in msg else f"{path}: {msg}") from None


# --------------------------------------------------------------------------- rows


def feature_to_rows(x: NDArray, direction: str) -> NDArray:
    """(B, C, H, W) -> rows along the ParC axis: H: (B*W, C, H); W: (B*H, C, W)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"feature map must be (B, C, H, W); got shape {x.shape}")
    b, c, h, w = x.shape
    if direction == "H":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(b * w, c, h)
    if direction == "W":
        return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(b * h, c, w)
    raise ValueError(f"direction must be 'H' or 'W'; got {direction!r}")


def rows_to_feature(rows: NDArray, direction: str, shape: tuple[int, int, int, int]) -> NDArray:
    """Inverse of `feature_to_rows` for a feature map of ``shape`` (B, C, H, W)."""
    b, c, h, w = shape
    rows = np.asarray(rows)
    if direction == "H":
        return rows.reshape(b, w, c, h).transpose(0, 2, 3, 1)
    if direction == "W":
        return rows.reshape(b, h, c, w).transpose(0, 2, 1, 3)
    raise ValueError(f"direction must be 'H' or 'W'; got {direction!r}")


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        "golden.weights",
        "List the ParC layers of a weight file.",
        "python -m golden.weights weights/parc/model.pt --n 56",
    )
    parser.add_argument("path", help=".pt/.pth, .npz or .safetensors state_dict")
    parser.add_argument("--n", type=int, default=None, help="target N for meta kernels (shown as M -> N)")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.n is not None and args.n < 2:  # a "target N" of -5 would print nonsense like M=56 -> N=-5
            raise UserError(f"--n must be >= 2 (the feature length a meta kernel is resized to); got {args.n}")
        layers = list_layers(args.path)
        if not layers:
            raise UserError(f"{args.path}: no ParC layer found")
        for info in layers:
            print(info.describe(args.n))
        return 0

    return run(parser.prog, body)


if __name__ == "__main__":
    sys.exit(main())
