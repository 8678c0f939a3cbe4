"""``python -m scripts.report``: bit-accuracy of float vs fixed-point golden vs RTL.

Example::

    python -m scripts.report --out reports/            # full: ~15 min on 2 cores, builds cached
    python -m scripts.report --quick --out /tmp/rep    # 8 bits only, fewer images: < 3 min

Engines are the `scripts.synth.VARIANTS` (``--arch``): direct, fft-native (the prime-factor
FFT engine) and fft-padded (the radix-2 engine padded to M >= 2N-1) by default; ``fft`` is
the engine ``DesignSpec(arch="fft")`` picks for each layer's N.

Layer level: for each engine, each shipped trained layer (N=56, N=28) and each bits
setting, on the real activations captured from the trained network (the bundle's
``test`` rows): float `golden.parc` with float weights and inputs, the integer golden
model, and the RTL (Verilated, `sim.batch`) side by side.

Layer rows come in each scale mode of ``--scales`` (`scripts.precision.SCALES`): the
power-of-two scales from the calibration maximum (``default``) and the calibrated ones (minimum-
MSE clip, folded per-channel output scale, exact PE offset), so the report shows what
calibration gains. Each row counts saturations per channel (input and output).

Network level: top-1 accuracy of the trained digits network with every ParC layer computed
in float (`golden.parc`), by the fixed-point golden model and by the RTL itself (RTL in the
loop), on the first ``--images`` test images (default: the whole test set, 360), at every
``--bits`` and at the mixed precisions of ``--network-precision`` (W4A8: 4-bit weights).

Precision sweep (`scripts.precision`): network top-1 over a weight bits x data bits grid for
each scale mode, as a heat map and a table, with the Pareto front of multipliers and LUTs
against accuracy where synthesis is cached (``--precision-synth`` runs it).

Writes report.md, a self-contained report.html, report.json (every number) and PNG plots.
From Python: ``write_report(run_report(ReportConfig.quick()).data, "reports")``
(`scripts.report_render.write_report`).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from golden.bundle import default_bundle_path, load_bundle
from golden.cli import Parser, UserError, comma_ints, run
from golden.quant import QuantizedLayer, check_bits, quantize_input
from hw.design import Design, build_design
from scripts.accuracy import error_stats, match_percent
from scripts.mixer_network import MixerNetwork, mixer_row
from scripts.precision import (
    FULL_DATA_BITS,
    FULL_WEIGHT_BITS,
    SCALES,
    Precision,
    check_scales,
    front,
    grid_rows,
    parse_precisions,
)
from scripts.synth import DEFAULT_VARIANTS, VARIANTS, check_variants, ecp5_counts
from sim.batch import build_batch, run_batch
from sim.runner import build_root

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "parc" / "model.pt"
FULL_BITS = (4, 6, 8, 10, 12, 16)
ARCHS = DEFAULT_VARIANTS  # engine labels: direct, fft-native, fft-padded
LAYER_SIZES = (56, 28)


@dataclass(frozen=True)
class ReportConfig:
    """What the report covers. Bad values raise `UserError` on construction, before the
    minutes of building and simulating."""

    weights: Path = DEFAULT_WEIGHTS  # trained model.pt, provenance.json beside it
    archs: tuple[str, ...] = ARCHS  # engine labels (scripts.synth.VARIANTS)
    # engines of the network level (its 6 designs per engine and bits dominate the run time); None: archs
    network_archs: tuple[str, ...] | None = None
    bits: tuple[int, ...] = FULL_BITS
    images: int = 360  # test images for the network level (the test set has 360; fewer: the first ones)
    layer_sizes: tuple[int, ...] = LAYER_SIZES  # shipped layers (golden/data/parc_n{N}.npz) for the layer level
    workers: int = 2  # parallel builds/simulations
    scales: tuple[str, ...] = tuple(SCALES)  # scale modes of the layer level and the precision grid
    network_scales: tuple[str, ...] = ("default",)  # scale modes of the RTL-in-the-loop network rows
    # network rows beside the uniform ``bits``: mixed widths, RTL in the loop
    network_precisions: tuple[Precision, ...] = (Precision(8, 4),)
    # precision grid (golden models): weight bits x data bits; empty: no grid
    grid_weight_bits: tuple[int, ...] = FULL_WEIGHT_BITS
    grid_data_bits: tuple[int, ...] = FULL_DATA_BITS
    grid_engine: str = "direct"
    precision_synth: bool = False  # synthesize grid points whose ECP5 counts are not cached
    # network rows with every block's token-mixer RTL in the loop (`scripts.mixer_network`):
    # --arch of the mixer designs, at mixer_bits; mixer_blocks None: every block
    mixer_archs: tuple[str, ...] = ("direct", "fft")
    mixer_bits: int = 8
    mixer_blocks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", Path(self.weights))
        for bits in self.bits:
            check_bits(bits, "--bits")
        for bits in self.grid_weight_bits:
            check_bits(bits, "--grid-weight-bits")
        for bits in self.grid_data_bits:
            check_bits(bits, "--grid-data-bits")
        object.__setattr__(self, "scales", check_scales(self.scales, "--scales"))
        object.__setattr__(self, "network_scales", check_scales(self.network_scales, "--network-scales"))
        check_variants((self.grid_engine,), "--grid-engine")
        if self.images < 1:
            raise UserError(f"--images must be >= 1; got {self.images}")
        if self.workers < 1:
            raise UserError(f"--workers must be >= 1; got {self.workers}")
        object.__setattr__(self, "archs", tuple(dict.fromkeys(self.archs)))
        check_variants(self.archs)
        if self.network_archs is not None:
            object.__setattr__(self, "network_archs", tuple(dict.fromkeys(self.network_archs)))
            check_variants(self.network_archs, "--network-arch")
        for n in self.layer_sizes:
            if default_bundle_path(n) is None:
                raise UserError(f"no shipped bundle for N={n} (golden/data/parc_n{n}.npz)")
            for label in self.archs:
                VARIANTS[label].check(n)
        if not self.weights.is_file():
            raise UserError(f"--weights: {self.weights} is not a file")
        check_bits(self.mixer_bits, "--mixer-bits")
        for arch in self.mixer_archs:
            if arch not in ("direct", "fft"):
                raise UserError(f"--mixer-arch must be a comma list of direct, fft; got {arch!r}")

    @property
    def network_engines(self) -> tuple[str, ...]:
        return self.archs if self.network_archs is None else self.network_archs

    @property
    def network_points(self) -> list[tuple[str, Precision, str]]:
        """(engine, precision, scale mode) of every RTL-in-the-loop network row."""
        precisions = dict.fromkeys([*(Precision.uniform(b) for b in self.bits), *self.network_precisions])
        return [(e, p, s) for e in self.network_engines for s in self.network_scales for p in precisions]

    @classmethod
    def quick(cls, **overrides) -> ReportConfig:
        """8 bits, the N=28 layer only, 40 images, W4A8 beside 8 bits, a 2 x 2 grid: a few minutes."""
        return cls(
            **{
                "bits": (8,),
                "images": 40,
                "layer_sizes": (28,),
                "grid_weight_bits": (4, 8),
                "grid_data_bits": (6, 8),
                "mixer_archs": (),
                **overrides,
            }
        )


@dataclass(frozen=True)
class Report:
    """Every number of the report, as report.json holds it: ``layer_level`` rows,
    ``network_level`` (accuracies and per-(arch, bits) rows) and ``timings``."""

    data: dict

    @property
    def layer_level(self) -> list[dict]:
        return self.data["layer_level"]

    @property
    def network_level(self) -> dict:
        return self.data["network_level"]

    @property
    def ok(self) -> bool:
        """The RTL equals the integer golden model everywhere, layer and network level."""
        mixers = self.network_level.get("mixer_rows", [])
        return (
            all(r["rtl_match_pct"] == 100.0 for r in self.layer_level)
            and not any(r["rtl_mismatches"] for r in self.network_level["rows"])
            and all(r["rtl_mismatches"] == 0 and r["rtl_lasts_ok"] for r in mixers)
        )


def parse_args(argv: list[str] | None) -> tuple[ReportConfig, Path]:
    """The command line: the report's configuration and the output folder."""
    p = Parser(
        "scripts.report",
        "Bit-accuracy report: float vs fixed-point golden vs RTL, layer and network level.",
        "python -m scripts.report --quick --out /tmp/report",
    )
    p.add_argument("--out", default="reports", help="output folder (default reports/)")
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="trained model.pt (provenance.json beside it)")
    p.add_argument("--quick", action="store_true", help="8 bits, N=28 layer only, 40 images")
    p.add_argument("--bits", default=None, help="comma list (default 4,6,8,10,12,16)")
    p.add_argument(
        "--arch",
        default=",".join(ARCHS),
        help=f"comma list of engines: {', '.join(VARIANTS)} (default {','.join(ARCHS)})",
    )
    p.add_argument("--network-arch", default=None, help="comma list of engines for the network level (default: --arch)")
    p.add_argument("--images", type=int, default=None, help="test images for the network level (default 360, all)")
    p.add_argument("--workers", type=int, default=2, help="parallel builds/simulations")
    p.add_argument(
        "--scales",
        default=None,
        help=f"comma list of scale modes for the layer level and the grid: {', '.join(SCALES)} (default all)",
    )
    p.add_argument(
        "--network-scales", default=None, help="comma list of scale modes for the network rows (default: default)"
    )
    p.add_argument(
        "--network-precision",
        default=None,
        help="comma list of mixed precisions for RTL-in-the-loop network rows, e.g. W4A8,W6A8 (default W4A8; '' none)",
    )
    p.add_argument("--grid-weight-bits", default=None, help="precision grid weight bits (default 4..8; '' no grid)")
    p.add_argument("--grid-data-bits", default=None, help="precision grid data bits (default 4..12)")
    p.add_argument("--grid-engine", default=None, help="engine of the precision grid's golden model (default direct)")
    p.add_argument(
        "--precision-synth",
        action="store_true",
        help="synthesize (yosys, ECP5) grid points not in the synth cache, about a minute each",
    )
    p.add_argument(
        "--mixer-arch",
        default=None,
        help="comma list of direct, fft: network rows with every block's token-mixer RTL in the loop at 8 bits "
        "(default direct,fft; --quick: none; '' none)",
    )
    a = p.parse_args(argv)
    chosen: dict = {
        "weights": Path(a.weights),
        "workers": a.workers,
        "archs": tuple(x.strip() for x in a.arch.split(",") if x.strip()),
    }
    if a.network_arch is not None:
        chosen["network_archs"] = tuple(x.strip() for x in a.network_arch.split(",") if x.strip())
    if a.bits:
        chosen["bits"] = tuple(comma_ints(a.bits, "bits"))
    if a.images is not None:
        chosen["images"] = a.images
    if a.scales is not None:
        chosen["scales"] = _names(a.scales)
    if a.network_scales is not None:
        chosen["network_scales"] = _names(a.network_scales)
    if a.network_precision is not None:
        chosen["network_precisions"] = parse_precisions(a.network_precision, "--network-precision")
    if a.grid_weight_bits is not None:
        chosen["grid_weight_bits"] = (
            tuple(comma_ints(a.grid_weight_bits, "grid-weight-bits")) if a.grid_weight_bits.strip() else ()
        )
    if a.grid_data_bits is not None:
        chosen["grid_data_bits"] = tuple(comma_ints(a.grid_data_bits, "grid-data-bits"))
    if a.grid_engine is not None:
        chosen["grid_engine"] = a.grid_engine.strip()
    chosen["precision_synth"] = a.precision_synth
    if a.mixer_arch is not None:
        chosen["mixer_archs"] = _names(a.mixer_arch)
    return (ReportConfig.quick(**chosen) if a.quick else ReportConfig(**chosen)), Path(a.out)


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


# --------------------------------------------------------------------------- layer level


def layer_design(engine: str, n: int, precision: Precision | int, weights: str, scales: str = "default") -> Design:
    """The design of engine ``engine`` (a `scripts.synth.VARIANTS` label) for one layer, at
    ``precision`` (or uniform bits) and in scale mode ``scales`` (`scripts.precision.SCALES`)."""
    p = Precision.uniform(precision) if isinstance(precision, int) else precision
    spec = VARIANTS[engine].spec(
        n=n, bits=p.data_bits, weight_bits=p.weight_bits_field, weights=weights, **SCALES[scales]
    )
    return build_design(spec)


def channel_counts(mask: np.ndarray, channels: int) -> list[int]:
    """(..., C, N) booleans -> how many are set in each channel."""
    return [int(v) for v in np.asarray(mask).reshape(-1, channels, mask.shape[-1]).sum(axis=(0, 2))]


def saturation_fields(q: QuantizedLayer, in_sat: np.ndarray, y_int: np.ndarray) -> dict:
    """Per-channel saturation counts of one layer row: inputs clipped by the input format,
    outputs at the output format's rails, and what the quantizer clipped in the ROMs."""
    out = q.fmt.output
    return {
        "input_saturated_per_channel": channel_counts(in_sat, q.channels),
        "output_at_rail_per_channel": channel_counts((y_int == out.min_int) | (y_int == out.max_int), q.channels),
        "rom_saturated": dict(q.saturated),
    }


def engine_fields(engine: str, design: Design) -> dict:
    """What every row says about its engine: the label, the DesignSpec arch and FFT engine."""
    return {"engine": engine, "arch": design.spec.arch, "fft_impl": design.arch_info.get("fft_impl")}


def layer_row(engine: str, n: int, bits: int, design: Design | None = None, scales: str = "default") -> dict:
    """Float, integer golden and RTL on one shipped layer's real test activations (``design``:
    the `layer_design` already made for them, as elaborating the FFT engines takes seconds).
    Errors are in output LSBs of the channel's real output scale (`QuantizedLayer.output_lsb`)."""
    path = default_bundle_path(n)
    if path is None:
        raise ValueError(f"no trained bundle ships for N={n}")
    bundle = load_bundle(path)
    x = bundle.test
    if x is None:
        raise ValueError(f"{path} holds no test activations")
    design = design or layer_design(engine, n, bits, str(path), scales)
    q = design.layer
    xi, in_sat = quantize_input(q, x)
    y_float = bundle.layer.forward(x)
    y_int = design.engine.model(xi)
    rtl = run_batch(design, xi.reshape(-1, n))
    y_rtl = rtl.output.reshape(y_int.shape)
    lsb = q.output_lsb[:, None]
    err_lsb = (q.dequantize_output(y_int) - y_float) / lsb
    return {
        **engine_fields(engine, design),
        "layer": bundle.layer.name,
        "n": n,
        "bits": bits,
        "scales": scales,
        "channels": q.channels,
        "samples": int(y_int.size),
        "rtl_match_pct": match_percent(y_rtl, y_int),
        "rtl_tlast_ok": rtl.lasts_ok,
        "input_saturated_share": float(np.mean(in_sat)),
        "output_format": q.fmt.output.to_dict(),
        **error_stats(y_float, y_int, q.fmt.output, lsb),
        **saturation_fields(q, in_sat, y_int),
        "errors_lsb_hist": np.histogram(err_lsb, bins=np.linspace(-4, 4, 33))[0].tolist(),
    }


# --------------------------------------------------------------------------- network level


class Network:
    """The trained network, its test images and per-layer bundles for the hardware."""

    def __init__(self, weights: Path, images: int, cache: Path) -> None:
        from golden import parc_net as pn

        self.pn = pn
        self.weights = weights
        provenance = pn.read_provenance(weights)
        self.provenance = provenance
        split = pn.load_split(int(provenance["data"]["split_seed"]))
        self.all_images = pn.test_canvases(split)
        self.all_labels = split.test_labels
        self.images = self.all_images[:images]
        self.labels = self.all_labels[:images]
        model = self.model()
        self.layer_names = list(pn.parc_layers(model))
        self.bundles = self._export_bundles(cache)
        self.float_layers = {name: load_bundle(path).layer for name, path in self.bundles.items()}
        self._designs: dict[tuple[str, Precision, str], dict[str, Design]] = {}

    def model(self):
        return self.pn.load_model(self.weights, self.provenance["model"])

    def _export_bundles(self, cache: Path) -> dict[str, Path]:
        """One bundle per ParC layer (weights + calibration rows), made by `golden.export`."""
        from golden.bundle import file_sha256
        from golden.export import export

        folder = cache / file_sha256(self.weights)[:16]
        paths = {}
        for name in self.layer_names:
            path = folder / f"{name}.npz"
            if not path.exists():
                export(self.weights, name, 8, path)
            paths[name] = path
        return paths

    def evaluate(self, override, images=None, labels=None) -> float:
        images = self.images if images is None else images
        labels = self.labels if labels is None else labels
        result = self.pn.evaluate(self.model(), images, labels, parc_override=override, batch_size=len(images))
        return result.accuracy

    def designs(self, engine: str, precision: Precision, scales: str = "default") -> dict[str, Design]:
        """One design per ParC layer, made once (elaboration and Verilog are not free)."""
        key = (engine, precision, scales)
        if key not in self._designs:
            self._designs[key] = {
                name: layer_design(engine, self.float_layers[name].n, precision, str(path), scales)
                for name, path in self.bundles.items()
            }
        return self._designs[key]

    def largest_layer(self) -> str:
        """The ParC layer with the longest N (its engine is the biggest: the precision grid's resources)."""
        return max(self.layer_names, key=lambda name: self.float_layers[name].n)

    def fixed_accuracy(self, designs: dict[str, Design]) -> float:
        """Top-1 with every ParC layer computed by its design's integer golden model."""

        def fixed(name: str, rows: np.ndarray) -> np.ndarray:
            q = designs[name].layer
            return q.dequantize_output(designs[name].engine.model(quantize_input(q, rows)[0]))

        return self.evaluate(fixed)


def network_row(net: Network, engine: str, precision: Precision, scales: str = "default") -> dict:
    designs = net.designs(engine, precision, scales)
    mismatches = {"samples": 0, "mismatches": 0, "layer_samples": 0}

    def rtl(name: str, rows: np.ndarray) -> np.ndarray:
        design = designs[name]
        q = design.layer
        xi = quantize_input(q, rows)[0]
        # The engines keep no state between frame groups, so each distinct group of C lines
        # (many image columns are plain background) is simulated once and scattered back.
        distinct, back = np.unique(xi.reshape(len(xi), -1), axis=0, return_inverse=True)
        distinct = distinct.reshape(-1, *xi.shape[1:])
        golden = design.engine.model(distinct)
        out = run_batch(design, distinct.reshape(-1, q.fmt.n)).output.reshape(golden.shape)
        mismatches["samples"] += int(out.size)
        mismatches["mismatches"] += int(np.sum(out != golden))
        mismatches["layer_samples"] += int(xi.size)
        return q.dequantize_output(out[back.reshape(-1)])

    t0 = time.monotonic()
    acc_fixed = net.fixed_accuracy(designs)
    t1 = time.monotonic()
    acc_rtl = net.evaluate(rtl)
    impls = {d.arch_info.get("fft_impl") for d in designs.values()}  # "fft" may pick per layer
    return {
        "engine": engine,
        "arch": next(iter(designs.values())).spec.arch,
        "fft_impl": impls.pop() if len(impls) == 1 else "mixed",
        "precision": precision.label,
        "bits": precision.data_bits,
        "weight_bits": precision.weight_bits,
        "scales": scales,
        "images": len(net.labels),
        "acc_fixed": acc_fixed,
        "acc_rtl": acc_rtl,
        "rtl_samples": mismatches["samples"],  # distinct frame groups simulated
        "layer_samples": mismatches["layer_samples"],  # outputs the RTL results stand for
        "rtl_mismatches": mismatches["mismatches"],
        "rtl_match_pct": 100.0 * (1 - mismatches["mismatches"] / max(mismatches["samples"], 1)),
        "fixed_seconds": round(t1 - t0, 1),
        "rtl_seconds": round(time.monotonic() - t1, 1),
    }


# --------------------------------------------------------------------------- precision grid


def precision_grid(net: Network, cfg: ReportConfig, acc_float: float) -> dict:
    """`scripts.precision.grid_rows` for each scale mode: top-1 of the ``cfg.grid_engine``
    golden models over weight bits x data bits, the ECP5 counts of the largest layer's engine
    where cached (or synthesized: ``cfg.precision_synth``), and the Pareto front."""
    largest = net.largest_layer()
    cache_dir = build_root() / "synth_cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    points = len(cfg.grid_weight_bits) * len(cfg.grid_data_bits) * len(cfg.scales)
    progress = tqdm(total=points, desc="precision grid", unit="point")

    def panel(scales: str) -> dict:
        def accuracy(p: Precision) -> float:
            progress.update(1)
            return net.fixed_accuracy(net.designs(cfg.grid_engine, p, scales))

        def resources(p: Precision) -> dict | None:
            # the scale modes differ in ROM contents only: one synthesis (the default's) serves all
            design = net.designs(cfg.grid_engine, p)[largest]
            return ecp5_counts(design, cache_dir, timeout=1800, run=cfg.precision_synth)

        rows = grid_rows(accuracy, resources, cfg.grid_weight_bits, cfg.grid_data_bits, acc_float)
        return {"scales": scales, "rows": rows, "front": front(rows)}

    with progress:
        panels = [panel(s) for s in cfg.scales]
    return {
        "engine": cfg.grid_engine,
        "images": len(net.labels),
        "acc_float": acc_float,
        "resource_layer": largest,
        "resource_n": net.float_layers[largest].n,
        "panels": panels,
    }


# --------------------------------------------------------------------------- driver


def prebuild(designs: list[Design], workers: int, desc: str) -> None:
    """Compile every simulator up front, in parallel (cached by Verilog hash)."""
    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(build_batch, designs), total=len(designs), desc=desc, unit="build"))


def run_report(cfg: ReportConfig) -> Report:
    """Layer level, then network level; every RTL run is compared with the golden model."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    layer_configs = [(a, n, b, s) for a in cfg.archs for n in cfg.layer_sizes for b in cfg.bits for s in cfg.scales]
    layer_designs = {
        (a, n, b, s): layer_design(a, n, b, str(default_bundle_path(n)), s) for a, n, b, s in layer_configs
    }
    prebuild(list(layer_designs.values()), cfg.workers, "layer builds")
    with ThreadPoolExecutor(cfg.workers) as pool:
        layer_rows = list(
            tqdm(
                pool.map(lambda c: layer_row(c[0], c[1], c[2], layer_designs[c], c[3]), layer_configs),
                total=len(layer_configs),
                desc="layer level",
                unit="config",
            )
        )
    timings["layer_level_s"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    net = Network(cfg.weights, cfg.images, build_root() / "report_bundles")
    float_override = lambda name, rows: net.float_layers[name].forward(rows)  # noqa: E731
    acc_float = net.evaluate(float_override)
    network = {
        "layers": net.layer_names,
        "images": len(net.labels),
        "full_test_images": len(net.all_labels),
        "acc_float": acc_float,
        "acc_float_full_test": net.evaluate(float_override, net.all_images, net.all_labels),
        "acc_torch_full_test": net.evaluate(None, net.all_images, net.all_labels),
        "provenance_test_accuracy": net.provenance.get("test_accuracy"),
    }
    net_configs = cfg.network_points
    prebuild([d for c in net_configs for d in net.designs(*c).values()], cfg.workers, "network builds")
    with ThreadPoolExecutor(cfg.workers) as pool:
        network["rows"] = list(
            tqdm(
                pool.map(lambda c: network_row(net, *c), net_configs),
                total=len(net_configs),
                desc="network level",
                unit="config",
            )
        )
    timings["network_level_s"] = round(time.monotonic() - t1, 1)
    t2 = time.monotonic()
    grid = precision_grid(net, cfg, acc_float) if cfg.grid_weight_bits and cfg.grid_data_bits else None
    timings["precision_grid_s"] = round(time.monotonic() - t2, 1)
    t3 = time.monotonic()
    if cfg.mixer_archs:
        mixnet = MixerNetwork(net, build_root() / "report_mixer_calibration", blocks=cfg.mixer_blocks)
        network["mixer_rows"] = [
            mixer_row(mixnet, arch, cfg.mixer_bits, workers=cfg.workers)
            for arch in tqdm(cfg.mixer_archs, desc="mixer network", unit="arch")
        ]
    timings["mixer_network_s"] = round(time.monotonic() - t3, 1)
    timings["total_s"] = round(time.monotonic() - t0, 1)
    return Report(
        {
            "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "weights": str(cfg.weights),
            "archs": list(cfg.archs),  # engine labels
            "network_archs": list(cfg.network_engines),
            "engines": {a: VARIANTS[a].to_dict() for a in dict.fromkeys(cfg.archs + cfg.network_engines)},
            "bits": list(cfg.bits),
            "layer_level": layer_rows,
            "network_level": network,
            "precision_grid": grid,
            "timings": timings,
        }
    )


def _main(argv: list[str] | None) -> int:
    from scripts.report_render import report_folder, write_report

    cfg, out_dir = parse_args(argv)
    out = report_folder(out_dir)  # a bad --out fails now, not after minutes of simulation
    report = run_report(cfg)
    paths = write_report(report.data, out)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m scripts.report", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
