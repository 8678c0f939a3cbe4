"""Export one trained ParC layer as a quantized bundle for `hw.generate` / `sim.run`.

    python -m golden.export --weights weights/parc/model.pt --layer stages.0.0.gcc_H --bits 8 --out parc_n56.npz

The bundle (`golden.bundle.save_bundle`) holds the float kernel/PE/bias at N, the
integers and formats of ``golden.quant.quantize_layer(layer, bits, calibration)``, and two
sets of real activations of shape (S, C, N), float32:

- ``calibration``: rows the layer sees on *training* images (they choose the scales);
- ``test``: rows it sees on images of the fixed *test* set (held out).

An activation is the layer's input before its PE (for ``gcc_H`` the first half of the
block's channels), cut into length-N lines along the ParC axis: H layer (B, C, H, W) ->
(B*W, C, H), W layer -> (B*H, C, W) (`golden.weights.feature_to_rows`). ``--rows``
distinct lines are drawn at random from all lines of the chosen images (64 each by
default), so they come from many digits; exact duplicates (the plain-background line
that most columns of a 56x56 canvas are) are kept once.

Capturing activations runs the network, so it needs torch and the ``provenance.json``
that `scripts.train` writes next to the weights. For a foreign checkpoint use
``--no-activations``: the bundle then has the weights and quantization only (scales from
the weight bound). Errors print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from golden.bundle import save_bundle
from golden.cli import Parser, run
from golden.files import check_output_file, file_sha256, output_file_name
from golden.quant import FloatLayer, check_bits, check_n_bits, quantize_layer
from golden.weights import ParcLayerInfo, feature_to_rows, find_parc_layers, import_layer, load_state_dict

ROW_LAYOUT = {
    "H": "input (B, C, H, W) before PE -> rows (B*W, C, H): one column per row",
    "W": "input (B, C, H, W) before PE -> rows (B*H, C, W): one image row per row",
}


def _pick_rows(
    x: NDArray[np.float64], direction: str, count: int, rng: np.random.Generator
) -> tuple[NDArray[np.float32], dict]:
    """``count`` distinct random lines from the feature maps (B, C, H, W) -> (count, C, N).

    Exact duplicates are dropped first: at N=56 most columns of a 56x56 canvas miss the digit
    and are the same background line, which would otherwise fill most of the bundle.
    """
    rows = feature_to_rows(x, direction).astype(np.float32)
    _, first = np.unique(rows.reshape(rows.shape[0], -1), axis=0, return_index=True)
    picked = np.sort(rng.choice(np.sort(first), size=min(count, first.size), replace=False))
    return rows[picked], {
        "pool_rows": int(rows.shape[0]),
        "distinct_rows_in_pool": int(first.size),
        "rows": int(picked.size),
    }


def is_exported_bundle(path: Path) -> bool:
    """An earlier output of ours: a bundle whose meta names golden.export (may be replaced)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"])) if "meta" in arrays.files else {}
    except Exception:  # noqa: BLE001 - not a zip, not numpy, no JSON: in any case not ours
        return False
    return isinstance(meta, dict) and meta.get("tool") == "golden.export"


def _check_out(path: Path) -> None:
    check_output_file(path, option="--out", is_ours=is_exported_bundle, what="a bundle written by golden.export")


def capture_activations(
    weights: Path, info: ParcLayerInfo, calib_images: int, test_images: int, rows: int, seed: int
) -> tuple[NDArray[np.float32], NDArray[np.float32], dict]:
    """Run the trained network on real digits and cut the layer's inputs into rows."""
    try:
        import torch
    except ImportError:
        raise ValueError("capturing activations needs PyTorch; install it or pass --no-activations") from None
    from golden import parc_net as pn

    torch.set_num_threads(min(2, torch.get_num_threads()))
    try:
        provenance = pn.read_provenance(weights)
    except ValueError as exc:
        raise ValueError(f"{exc}; pass --no-activations to export the weights only") from None
    try:
        model = pn.load_model(weights, provenance["model"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{weights} does not match the network in its provenance.json: {first}") from None
    if info.name not in pn.parc_layers(model):
        raise ValueError(f"{info.name} is not a ParC layer the network runs")
    split = pn.load_split(int(provenance["data"]["split_seed"]))
    rng = np.random.default_rng([seed, 7])
    if not 1 <= calib_images <= split.train_labels.size or not 1 <= test_images <= split.test_labels.size:
        raise ValueError(
            f"image counts must be 1..{split.train_labels.size} (calibration) and 1..{split.test_labels.size} (test)"
        )

    cal_pick = np.sort(rng.choice(split.train_labels.size, size=calib_images, replace=False))
    cal_x = pn.place_digits(split.train_images[cal_pick], np.random.default_rng([seed, 8]))
    test_pick = np.sort(rng.choice(split.test_labels.size, size=test_images, replace=False))
    test_x = pn.test_canvases(split)[test_pick]

    cal_maps = pn.capture_parc_inputs(model, cal_x, [info.name])[info.name]
    test_maps = pn.capture_parc_inputs(model, test_x, [info.name])[info.name]
    calibration, cal_rows = _pick_rows(cal_maps, info.direction, rows, rng)
    test, test_rows = _pick_rows(test_maps, info.direction, rows, rng)
    images = {
        "calibration": {
            "split": "train",
            "dataset_index": split.train_index[cal_pick].tolist(),
            "placement": f"golden.parc_net.place_digits, rng numpy.random.default_rng([{seed}, 8])",
            **cal_rows,
        },
        "test": {
            "split": "test",
            "dataset_index": split.test_index[test_pick].tolist(),
            "placement": "the fixed test set (golden.parc_net.test_canvases)",
            **test_rows,
        },
        "row_selection": "distinct rows (exact duplicates dropped) drawn at random from every line of the chosen images",
        "row_selection_seed": seed,
        "network": {
            "mixer": provenance.get("mixer"),
            "seed": provenance.get("seed"),
            "epochs": provenance.get("epochs"),
            "test_accuracy": provenance.get("test_accuracy"),
            "split_seed": provenance["data"]["split_seed"],
            "provenance_matches_weights": provenance.get("weights_sha256") == file_sha256(weights),
        },
    }
    return calibration, test, images


def export(
    weights: str | os.PathLike,
    layer: str,
    bits: int,
    out: str | os.PathLike,
    *,
    n: int | None = None,
    calib_images: int = 64,
    test_images: int = 64,
    rows: int = 256,
    seed: int = 0,
    activations: bool = True,
    note: str | None = None,
    command: str | None = None,
) -> dict:
    """Write the bundle for ``layer`` of ``weights``; returns its meta. Problems are ValueErrors.

    ``out`` gets ".npz" appended when it lacks it (the returned ``path`` and ``npz_appended``
    say so). An existing file there is replaced only if it is a bundle of ours; anything
    else is refused before the network runs (`golden.files`).
    """
    weights = Path(weights)
    path, appended = output_file_name(out, ".npz", option="--out")
    _check_out(path)
    state = load_state_dict(weights)
    infos = find_parc_layers(state)
    by_name = {i.name: i for i in infos}
    if layer not in by_name:
        raise ValueError(f"no ParC layer named '{layer}' in {weights}; available: {', '.join(by_name) or 'none'}")
    info = by_name[layer]
    if activations and n is not None and n != info.n:
        raise ValueError(f"--n {n} resizes the kernel, but the network runs it at N={info.n}; add --no-activations")
    if rows < 1:
        raise ValueError("--rows must be >= 1")
    check_n_bits(info.n if n is None else n, bits)  # fail before running the network
    float_layer: FloatLayer = import_layer(state, info, n)

    calibration = test = None
    meta: dict = {}
    if activations:
        calibration, test, images = capture_activations(weights, info, calib_images, test_images, rows, seed)
        meta["images"] = images
    quantized = quantize_layer(float_layer, bits, calibration)
    meta.update(
        {
            "layer": info.name,
            "layout": info.layout,
            "direction": info.direction,
            "n": float_layer.n,
            "stored_n": info.n,
            "channels": info.channels,
            "bits": bits,
            "source": weights.as_posix(),
            "source_sha256": file_sha256(weights),
            "activations": (
                "input of the layer before PE, float32; " + ROW_LAYOUT[info.direction]
                if activations
                else "none (--no-activations)"
            ),
            "tool": "golden.export",
        }
    )
    if note:
        meta["note"] = note
    if command:
        meta["command"] = command
    _check_out(path)  # again: minutes may have passed
    save_bundle(path, float_layer, calibration, test, quantized, meta)
    return {**meta, "quantized": quantized.to_dict(), "path": str(path), "npz_appended": appended}


def main(argv: list[str] | None = None) -> int:
    p = Parser(
        "golden.export",
        "Export one ParC layer as a quantized bundle (.npz).",
        "python -m golden.export --weights weights/parc/model.pt --layer stages.0.0.gcc_H --bits 8 --out b.npz",
    )
    p.add_argument("--weights", required=True, type=Path, help=".pt/.pth, .npz or .safetensors state_dict")
    p.add_argument(
        "--layer",
        required=True,
        help="ParC layer name, e.g. stages.0.0.gcc_H (python -m golden.weights PATH lists them)",
    )
    p.add_argument("--bits", type=int, default=8, help="data/weight/output bits of the quantized engine")
    p.add_argument("--out", required=True, type=Path, help="bundle .npz to write")
    p.add_argument("--n", type=int, default=None, help="resize the kernel to N (meta kernels; needs --no-activations)")
    p.add_argument("--calib-images", type=int, default=64, help="training images for calibration rows")
    p.add_argument("--test-images", type=int, default=64, help="test-set images for test rows")
    p.add_argument("--rows", type=int, default=256, help="distinct ParC lines kept for calibration and for test (each)")
    p.add_argument("--seed", type=int, default=0, help="image and row selection")
    p.add_argument("--no-activations", action="store_true", help="weights and quantization only (no network run)")
    p.add_argument("--note", default=None, help="free text stored in meta")
    args = p.parse_args(argv)

    def body() -> int:
        check_bits(args.bits, "--bits")  # before minutes of loading and capturing
        meta = export(
            args.weights,
            args.layer,
            args.bits,
            args.out,
            n=args.n,
            calib_images=args.calib_images,
            test_images=args.test_images,
            rows=args.rows,
            seed=args.seed,
            activations=not args.no_activations,
            note=args.note,
            command="python -m golden.export " + shlex.join(sys.argv[1:] if argv is None else argv),
        )
        size = Path(meta["path"]).stat().st_size
        q = meta.get("quantized", {})
        rows = meta.get("images", {})
        print(
            f"wrote {meta['path']}"
            + (" (.npz appended to --out)" if meta["npz_appended"] else "")
            + f" ({size / 1024:.0f} KiB): {meta['layer']} {meta['direction']} N={meta['n']} C={meta['channels']} "
            f"bits={args.bits}, calibration rows {rows.get('calibration', {}).get('rows', 0)}, test rows {rows.get('test', {}).get('rows', 0)}"
            + (f", saturated {q.get('saturated')}" if q else "")
        )
        return 0

    return run(p.prog, body)


if __name__ == "__main__":
    sys.exit(main())
