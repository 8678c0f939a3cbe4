"""A tiny ParC-ConvNeXt for digits on a 56x56 canvas, its data, and an evaluation hook.

Network (module and parameter names follow the official ``ParC_ConvNets/ParC_convnext.py``
and ConvNeXt, so ``golden.weights`` imports it like any published checkpoint)::

    (x - 0.5) / 0.5       images in [0, 1] -> [-1, 1] (a zero background would give the
                          stem LayerNorm zero variance and the network would not train)
    downsample_layers.0   stem: Conv2d(1, 16, 3, padding=1) + LayerNorm     56x56, 16 ch
    stages.0.{j}          ParC-ConvNeXt blocks at N=56 (gcc_H / gcc_W on 8 channels each)
    downsample_layers.1   LayerNorm + Conv2d(16, 32, 2, stride 2)           28x28, 32 ch
    stages.1.{j}          ParC-ConvNeXt blocks at N=28 (16 + 16 channels)
    downsample_layers.2   LayerNorm + Conv2d(32, 64, 2, stride 2)           14x14, 64 ch
    stages.2.{j}          ParC-ConvNeXt blocks at N=14 (32 + 32 channels)
    norm, head            global max pool, LayerNorm, Linear(64, 10)

A block is ``x_H, x_W = chunk(x, 2)``, ``gcc_H(x_H)``, ``gcc_W(x_W)``, concat, LayerNorm,
Linear d->2d, GELU, Linear 2d->d, layer scale ``gamma``, residual. Two deviations from
ConvNeXt, both for this data on a 2-core CPU: the MLP ratio is 2 (4 doubles the time of
the 56x56 stage) and the global pool is max, not mean (the digit covers 5-20 % of the
canvas; with mean pooling training sat at chance level for hundreds of steps).

A ParC layer is named by its module path, e.g. ``stages.0.0.gcc_H``; the same names are
used by `golden.weights`, `golden.export` and `evaluate`. With ``mixer="dw7"`` every block
is a plain ConvNeXt block (``dwconv``: 7x7 depthwise) instead: the baseline.

Data: scikit-learn's ``load_digits`` (1797 images, 8x8, shipped inside the package, no
download). Each digit is resized (bilinear, ``F.interpolate`` semantics, done in NumPy by
`golden.resize.resize_kernel`) to a random size and pasted at a random position on a
black 56x56 canvas. The train/test split and the test placements are fixed by
``split_seed``; training placements are redrawn every epoch (the augmentation).

`evaluate` runs the network on NumPy images and can replace every ParC layer by a user
callable ``parc_override(layer_name, x_rows) -> y_rows`` working on NumPy rows
``(S, C, N)`` (one length-N line along the ParC axis per row, input *before* the PE),
so reports can plug in the fixed-point golden model or the RTL simulation.

This module lives in ``golden/`` because `golden.export` captures real activations with
it and the floors import only downwards (docs/architecture.md). It is the one module of
``golden`` that imports torch at import time, so only code that needs torch imports it,
and inside the function that needs it: ``import golden.export`` loads no torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from numpy.typing import NDArray

from golden.resize import resize_kernel
from golden.weights import feature_to_rows, rows_to_feature

CANVAS = 56
DIGIT_SIZES = (12, 16, 20, 24)  # side of the resized digit on the canvas (native: 8)
TEST_FRACTION = 0.2

DEFAULT_CONFIG: dict = {
    "in_chans": 1,
    "num_classes": 10,
    "canvas": CANVAS,
    "dims": [16, 32, 64],
    "depths": [1, 1, 1],
    "sizes": [56, 28, 14],  # feature size of each stage = ParC kernel length N
    "mixer": "parc",  # "parc" (ParC-ConvNeXt blocks) or "dw7" (ConvNeXt 7x7 depthwise)
    "stem_kernel": 3,
    # images in [0, 1] are mapped to (x - mean) / std = [-1, 1] first: a zero background would
    # give the stem LayerNorm zero variance (0/sqrt(eps)) and the network would not train
    "input_mean": 0.5,
    "input_std": 0.5,
    "mlp_ratio": 2,  # ConvNeXt uses 4; 2 halves the CPU time at 56x56
    "layer_scale_init_value": 0.1,
    "pool": "max",  # global pool before the head: "max", or "mean" (ConvNeXt; stalls here, see docstring)
    "init_std": 0.02,  # trunc-normal std of conv/linear weights (ConvNeXt); 0: PyTorch default init
    "use_pe": True,
}

ParcOverride = Callable[[str, NDArray[np.float64]], "NDArray[np.float64] | None"]
MixerOverride = Callable[[str, NDArray[np.float64]], "NDArray[np.float64] | None"]  # (block name, maps) -> maps


# --------------------------------------------------------------------------- network


class LayerNorm(nn.Module):
    """ConvNeXt's LayerNorm: ``channels_last`` (default) or ``channels_first`` (B, C, H, W)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6, data_format: str = "channels_last"):
        super().__init__()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"unknown data_format {data_format!r}")
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ParC_operator(nn.Module):  # noqa: N801  (official class name)
    """ParC along H or W: ``gcc_conv(cat(u, u[:-1]))`` with ``u = x + pe`` (docs/operator.md section 1).

    Parameters: ``gcc_conv.weight`` [C,1,N,1] (H) or [C,1,1,N] (W), ``gcc_conv.bias`` [C],
    ``pe`` [1,C,N,1] or [1,C,1,N].
    """

    def __init__(self, dim: int, type: str, global_kernel_size: int, use_pe: bool = True):  # noqa: A002
        super().__init__()
        if type not in ("H", "W"):
            raise ValueError(f"type must be 'H' or 'W'; got {type!r}")
        self.direction = type  # not `self.type`, which would hide nn.Module.type()
        self.dim = dim
        self.use_pe = use_pe
        self.global_kernel_size = global_kernel_size
        self.kernel_size = (global_kernel_size, 1) if type == "H" else (1, global_kernel_size)
        self.gcc_conv = nn.Conv2d(dim, dim, kernel_size=self.kernel_size, groups=dim)
        if use_pe:
            shape = (1, dim, global_kernel_size, 1) if type == "H" else (1, dim, 1, global_kernel_size)
            self.pe = nn.Parameter(torch.zeros(shape))
            nn.init.trunc_normal_(self.pe, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_pe:
            x = x + self.pe
        x_cat = (
            torch.cat((x, x[:, :, :-1, :]), dim=2) if self.direction == "H" else torch.cat((x, x[:, :, :, :-1]), dim=3)
        )
        return self.gcc_conv(x_cat)


class _MLPBlock(nn.Module):
    """norm -> pwconv1 -> GELU -> pwconv2 -> layer scale -> residual (shared by both blocks)."""

    def __init__(self, dim: int, layer_scale_init_value: float, mlp_ratio: int = 4):
        super().__init__()
        self.norm = LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(mlp_ratio * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim)) if layer_scale_init_value > 0 else None

    def mixer(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.mixer(x).permute(0, 2, 3, 1)
        x = self.pwconv2(self.act(self.pwconv1(self.norm(x))))
        if self.gamma is not None:
            x = self.gamma * x
        return shortcut + x.permute(0, 3, 1, 2)


class ParC_ConvNext_Block(_MLPBlock):  # noqa: N801  (official class name)
    """First half of the channels through ParC-H (``gcc_H``), second half through ParC-W."""

    def __init__(
        self,
        dim: int,
        global_kernel_size: int,
        layer_scale_init_value: float = 1e-6,
        use_pe: bool = True,
        mlp_ratio: int = 4,
    ):
        super().__init__(dim, layer_scale_init_value, mlp_ratio)
        if dim % 2:
            raise ValueError(f"a ParC-ConvNeXt block needs an even channel count; got {dim}")
        self.gcc_H = ParC_operator(dim // 2, "H", global_kernel_size, use_pe)
        self.gcc_W = ParC_operator(dim // 2, "W", global_kernel_size, use_pe)

    def mixer(self, x: torch.Tensor) -> torch.Tensor:
        x_H, x_W = torch.chunk(x, 2, dim=1)
        return torch.cat((self.gcc_H(x_H), self.gcc_W(x_W)), dim=1)


class Block(_MLPBlock):
    """ConvNeXt block: 7x7 depthwise ``dwconv`` (the baseline ParC replaces)."""

    def __init__(self, dim: int, layer_scale_init_value: float = 1e-6, mlp_ratio: int = 4):
        super().__init__(dim, layer_scale_init_value, mlp_ratio)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)

    def mixer(self, x: torch.Tensor) -> torch.Tensor:
        return self.dwconv(x)


class ParcNet(nn.Module):
    """Tiny ParC-ConvNeXt (see the module docstring). ``config`` overrides `DEFAULT_CONFIG`."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        dims, depths, sizes = list(cfg["dims"]), list(cfg["depths"]), list(cfg["sizes"])
        if not len(dims) == len(depths) == len(sizes):
            raise ValueError("dims, depths and sizes must have one entry per stage")
        if cfg["mixer"] not in ("parc", "dw7"):
            raise ValueError(f"mixer must be 'parc' or 'dw7'; got {cfg['mixer']!r}")
        expected = [cfg["canvas"] >> i for i in range(len(dims))]
        if sizes != expected:
            raise ValueError(f"stage sizes must be {expected} for a {cfg['canvas']}px canvas; got {sizes}")
        self.config = cfg
        k = cfg["stem_kernel"]
        self.downsample_layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(cfg["in_chans"], dims[0], k, padding=k // 2),
                    LayerNorm(dims[0], data_format="channels_first"),
                )
            ]
        )
        for i in range(1, len(dims)):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm(dims[i - 1], data_format="channels_first"), nn.Conv2d(dims[i - 1], dims[i], 2, stride=2)
                )
            )
        ls = cfg["layer_scale_init_value"]
        self.stages = nn.ModuleList()
        for dim, depth, size in zip(dims, depths, sizes, strict=True):
            blocks: list[nn.Module]
            if cfg["mixer"] == "parc":
                blocks = [ParC_ConvNext_Block(dim, size, ls, cfg["use_pe"], cfg["mlp_ratio"]) for _ in range(depth)]
            else:
                blocks = [Block(dim, ls, cfg["mlp_ratio"]) for _ in range(depth)]
            self.stages.append(nn.Sequential(*blocks))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], cfg["num_classes"])
        if cfg["init_std"]:
            self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=self.config["init_std"])
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.config["input_mean"]) / self.config["input_std"]
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))
        pooled = x.mean((-2, -1)) if self.config["pool"] == "mean" else x.amax((-2, -1))
        return self.norm(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def parc_layers(model: nn.Module) -> dict[str, ParC_operator]:
    """Every ParC layer of ``model`` by module name (``stages.0.0.gcc_H``, ...), in forward order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, ParC_operator)}


def load_model(weights: str | Path, config: dict | None = None) -> ParcNet:
    """Rebuild a trained `ParcNet` from ``model.pt``; the architecture comes from ``config``
    or, by default, from the ``model`` entry of the ``provenance.json`` next to the file."""
    weights = Path(weights)
    if config is None:
        config = read_provenance(weights)["model"]
    model = ParcNet(config)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def read_provenance(weights: str | Path) -> dict:
    """The ``provenance.json`` written by `scripts.train` next to ``weights``."""
    path = Path(weights).with_name("provenance.json")
    if not path.is_file():
        raise ValueError(f"no provenance.json next to {weights}: cannot tell which network it belongs to")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DigitSplit:
    """The digits as (n, 8, 8) float32 in [0, 1], split by ``split_seed``."""

    train_images: NDArray[np.float32]
    train_labels: NDArray[np.int64]
    test_images: NDArray[np.float32]
    test_labels: NDArray[np.int64]
    train_index: NDArray[np.int64]  # positions in load_digits()
    test_index: NDArray[np.int64]
    split_seed: int

    def describe(self) -> dict:
        return {
            "source": "sklearn.datasets.load_digits (1797 images, 8x8, values 0..16 scaled to [0, 1])",
            "split": "sklearn.model_selection.train_test_split, stratified",
            "split_seed": self.split_seed,
            "test_fraction": TEST_FRACTION,
            "n_train": int(self.train_labels.size),
            "n_test": int(self.test_labels.size),
            "canvas": CANVAS,
            "digit_sizes": list(DIGIT_SIZES),
            "resize": "bilinear, align_corners=False (F.interpolate semantics, golden.resize.resize_kernel)",
            "placement": "uniform random position fully inside the canvas; train placements redrawn each epoch, "
            "test placements fixed by numpy.random.default_rng([split_seed, 1])",
        }


def load_split(split_seed: int = 0) -> DigitSplit:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    idx = np.arange(labels.size)
    tr, te = train_test_split(idx, test_size=TEST_FRACTION, random_state=split_seed, stratify=labels)
    tr, te = np.sort(tr), np.sort(te)
    return DigitSplit(images[tr], labels[tr], images[te], labels[te], tr, te, split_seed)


def _resized(images: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    out = resize_kernel(images, size, mode="bilinear", align_corners=False, axis=-1)
    out = resize_kernel(out, size, mode="bilinear", align_corners=False, axis=-2)
    return out.astype(np.float32)


def place_digits(
    images: NDArray[np.float32], rng: np.random.Generator, sizes: Sequence[int] = DIGIT_SIZES, canvas: int = CANVAS
) -> NDArray[np.float32]:
    """(B, 8, 8) digits -> (B, 1, canvas, canvas): random size from ``sizes``, random position."""
    b = images.shape[0]
    size_idx = rng.integers(0, len(sizes), size=b)
    out = np.zeros((b, 1, canvas, canvas), dtype=np.float32)
    for k, s in enumerate(sizes):
        sel = np.flatnonzero(size_idx == k)
        if sel.size == 0:
            continue
        scaled = _resized(images[sel], s)
        rows = rng.integers(0, canvas - s + 1, size=sel.size)
        cols = rng.integers(0, canvas - s + 1, size=sel.size)
        for j, i in enumerate(sel):
            out[i, 0, rows[j] : rows[j] + s, cols[j] : cols[j] + s] = scaled[j]
    return out


def test_canvases(split: DigitSplit) -> NDArray[np.float32]:
    """The fixed test set: (n_test, 1, 56, 56), the same on every machine for a split seed."""
    return place_digits(split.test_images, np.random.default_rng([split.split_seed, 1]))


def load_test_set(split_seed: int = 0) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(images (n_test, 1, 56, 56) float32 in [0, 1], labels (n_test,)): what provenance.json scores."""
    split = load_split(split_seed)
    return test_canvases(split), split.test_labels


def train_canvases(
    split: DigitSplit, seed: int, epoch: int, subset: int | None = None
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Training canvases of one epoch (placements depend on ``seed`` and ``epoch``)."""
    images, labels = split.train_images, split.train_labels
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    return place_digits(images, np.random.default_rng([seed, 1000 + epoch])), labels


# --------------------------------------------------------------------------- evaluation


@dataclass
class EvalResult:
    correct: int
    total: int
    predictions: NDArray[np.int64]
    logits: NDArray[np.float32] = field(repr=False)
    overridden: dict[str, int] = field(default_factory=dict)  # layer -> rows replaced

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")


def _as_batch(images: NDArray) -> NDArray[np.float32]:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"images must be (B, H, W) or (B, 1, H, W); got shape {x.shape}")
    return x


def _select(model: nn.Module, layers: Iterable[str] | None) -> dict[str, ParC_operator]:
    found = parc_layers(model)
    if layers is None:
        return found
    wanted = list(layers)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValueError(f"no ParC layer named {', '.join(missing)}; available: {', '.join(found) or 'none'}")
    return {n: found[n] for n in wanted}


def evaluate(
    model: nn.Module,
    images: NDArray,
    labels: NDArray | None = None,
    parc_override: ParcOverride | None = None,
    layers: Iterable[str] | None = None,
    batch_size: int = 120,
    mixer_override: MixerOverride | None = None,
) -> EvalResult:
    """Classify NumPy ``images`` ((B, H, W) or (B, 1, H, W)); optionally swap ParC layers.

    ``parc_override(layer_name, x_rows)`` is called for every ParC layer in ``layers``
    (default: all, see `parc_layers`) on every batch. ``x_rows`` is a float64 array
    ``(S, C, N)``: the layer's input *before* its PE, one length-N line along the ParC axis
    per row (H layer: input (B, C, H, W) -> rows (B*W, C, H); W layer: (B*H, C, W); see
    `golden.weights.feature_to_rows`). It must return ``y_rows`` of the same shape, the
    full layer output ``b + corr(w, x + pe)`` (e.g. ``FloatLayer.forward``, a fixed-point
    golden model or RTL output converted to float), or ``None`` to keep the torch result.
    The rest of the network runs in torch float32. ``labels`` (B,) gives ``correct``.

    ``mixer_override(block_name, x_maps)`` replaces a whole ParC-ConvNeXt token mixer (both
    halves at once, as the hardware mixer computes them): it is called for every block
    (``"stages.0.0"``, ...) on every batch with the mixer's input (B, C, H, W) as float64 and
    must return its output, same shape (or ``None`` to keep torch's). Use one override or the
    other for a block, not both.
    Returns an `EvalResult` (``accuracy``, ``correct``, ``total``, ``predictions``,
    ``logits``, ``overridden``: rows replaced per layer).

    Example (the NumPy float golden model in place of every ParC layer)::

        from golden.weights import load_layers
        from golden.parc_net import evaluate, load_model, load_test_set

        model = load_model("weights/parc/model.pt")
        images, labels = load_test_set(split_seed=0)
        layers = load_layers("weights/parc/model.pt")          # {name: FloatLayer}
        res = evaluate(model, images, labels, parc_override=lambda name, rows: layers[name].forward(rows))
        print(res.accuracy)
    """
    x_all = _as_batch(images)
    chosen = _select(model, layers) if parc_override is not None else {}
    counts = {name: 0 for name in chosen}

    def make_hook(name: str, direction: str, override: ParcOverride):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
            x = inputs[0].detach().double().numpy()
            rows = feature_to_rows(x, direction)
            y = override(name, rows)
            if y is None:
                return None
            y = np.asarray(y, dtype=np.float64)
            if y.shape != rows.shape:
                raise ValueError(f"parc_override for {name} returned shape {y.shape}; expected {rows.shape}")
            if not np.all(np.isfinite(y)):
                raise ValueError(f"parc_override for {name} returned NaN/Inf")
            counts[name] += rows.shape[0]
            back = rows_to_feature(y, direction, x.shape)
            return torch.from_numpy(np.ascontiguousarray(back)).to(output.dtype)

        return hook

    handles: list[Any] = []  # torch hook handles and _MixerSwap: each has remove()
    if parc_override is not None:
        handles = [m.register_forward_hook(make_hook(n, m.direction, parc_override)) for n, m in chosen.items()]
    if mixer_override is not None:
        handles += [_MixerSwap(name, block, mixer_override) for name, block in mixer_blocks(model).items()]
    was_training = model.training
    model.eval()
    try:
        outs = []
        with torch.no_grad():
            for start in range(0, x_all.shape[0], batch_size):
                outs.append(model(torch.from_numpy(x_all[start : start + batch_size])).numpy())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    logits = np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
    preds = logits.argmax(axis=1).astype(np.int64)
    if labels is None:
        return EvalResult(0, 0, preds, logits, counts)
    lab = np.asarray(labels).astype(np.int64).reshape(-1)
    if lab.shape[0] != preds.shape[0]:
        raise ValueError(f"{lab.shape[0]} labels for {preds.shape[0]} images")
    return EvalResult(int((preds == lab).sum()), int(lab.size), preds, logits, counts)


def mixer_blocks(model: nn.Module) -> dict[str, ParC_ConvNext_Block]:
    """The ParC-ConvNeXt blocks of a model by module name (``"stages.0.0"``: a token mixer each)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, ParC_ConvNext_Block)}


class _MixerSwap:
    """A block's ``mixer`` replaced by a NumPy override for one evaluation; ``remove()`` undoes
    it (the same call as a hook handle's). Why not a hook: ``mixer`` is a method, not a module,
    and the override must see both halves' channels at once."""

    def __init__(self, name: str, block: ParC_ConvNext_Block, override: MixerOverride) -> None:
        self.block = block
        original = block.mixer

        def mixer(x: torch.Tensor) -> torch.Tensor:
            maps = x.detach().double().numpy()
            y = override(name, maps)
            if y is None:
                return original(x)
            y = np.asarray(y, dtype=np.float64)
            if y.shape != maps.shape or not np.all(np.isfinite(y)):
                raise ValueError(
                    f"mixer_override for {name} returned shape {y.shape} or NaN/Inf; expected {maps.shape}"
                )
            return torch.from_numpy(np.ascontiguousarray(y)).to(x.dtype)

        block.mixer = mixer  # type: ignore[method-assign]

    def remove(self) -> None:
        del self.block.mixer  # the instance attribute: the class's method shows again


def capture_parc_inputs(
    model: nn.Module, images: NDArray, layers: Iterable[str] | None = None, batch_size: int = 120
) -> dict[str, NDArray[np.float64]]:
    """Input feature maps (B, C, H, W) (before PE) that each chosen ParC layer sees."""
    chosen = _select(model, layers)
    captured: dict[str, list[np.ndarray]] = {n: [] for n in chosen}

    def make_hook(name: str):
        def hook(module, inputs, output):
            captured[name].append(inputs[0].detach().double().numpy())

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in chosen.items()]
    try:
        evaluate(model, images, batch_size=batch_size)
    finally:
        for h in handles:
            h.remove()
    return {n: np.concatenate(v) for n, v in captured.items()}


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def cosine_lr(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t))


def capture_mixer_inputs(
    model: nn.Module, images: NDArray, blocks: Iterable[str], batch_size: int = 120
) -> dict[str, NDArray[np.float64]]:
    """Input maps (B, C, H, W) of each chosen ParC-ConvNeXt block's token mixer (``"stages.0.0"``).

    The mixer chunks its input into the ``gcc_H`` half and the ``gcc_W`` half, so its input is
    those two layers' inputs side by side on the channel axis (what `golden.mixer` and the
    hardware mixer take, and what calibrates them)."""
    blocks = list(blocks)
    names = [f"{b}.gcc_{d}" for b in blocks for d in ("H", "W")]
    halves = capture_parc_inputs(model, images, names, batch_size)
    return {b: np.concatenate([halves[f"{b}.gcc_H"], halves[f"{b}.gcc_W"]], axis=1) for b in blocks}
