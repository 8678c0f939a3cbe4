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

Network level: top-1 accuracy of the trained digits network with every ParC layer computed
in float (`golden.parc`), by the fixed-point golden model and by the RTL itself (RTL in the
loop), on the first ``--images`` test images.

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
from golden.quant import check_bits, quantize_input
from hw.design import Design, build_design
from scripts.accuracy import error_stats, match_percent
from scripts.synth import DEFAULT_VARIANTS, VARIANTS, check_variants
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
    images: int = 200  # test images for the network level
    layer_sizes: tuple[int, ...] = LAYER_SIZES  # shipped layers (golden/data/parc_n{N}.npz) for the layer level
    workers: int = 2  # parallel builds/simulations

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", Path(self.weights))
        for bits in self.bits:
            check_bits(bits, "--bits")
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

    @property
    def network_engines(self) -> tuple[str, ...]:
        return self.archs if self.network_archs is None else self.network_archs

    @classmethod
    def quick(cls, **overrides) -> ReportConfig:
        """8 bits, the N=28 layer only, 40 images: a few minutes."""
        return cls(**{"bits": (8,), "images": 40, "layer_sizes": (28,), **overrides})


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
        return all(r["rtl_match_pct"] == 100.0 for r in self.layer_level) and not any(
            r["rtl_mismatches"] for r in self.network_level["rows"]
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
    p.add_argument("--images", type=int, default=None, help="test images for the network level (default 200)")
    p.add_argument("--workers", type=int, default=2, help="parallel builds/simulations")
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
    return (ReportConfig.quick(**chosen) if a.quick else ReportConfig(**chosen)), Path(a.out)


# --------------------------------------------------------------------------- layer level


def layer_design(engine: str, n: int, bits: int, weights: str) -> Design:
    """The design of engine ``engine`` (a `scripts.synth.VARIANTS` label) for one layer."""
    return build_design(VARIANTS[engine].spec(n=n, bits=bits, weights=weights))


def engine_fields(engine: str, design: Design) -> dict:
    """What every row says about its engine: the label, the DesignSpec arch and FFT engine."""
    return {"engine": engine, "arch": design.spec.arch, "fft_impl": design.arch_info.get("fft_impl")}


def layer_row(engine: str, n: int, bits: int, design: Design | None = None) -> dict:
    """Float, integer golden and RTL on one shipped layer's real test activations (``design``:
    the `layer_design` already made for them, as elaborating the FFT engines takes seconds)."""
    path = default_bundle_path(n)
    if path is None:
        raise ValueError(f"no trained bundle ships for N={n}")
    bundle = load_bundle(path)
    x = bundle.test
    if x is None:
        raise ValueError(f"{path} holds no test activations")
    design = design or layer_design(engine, n, bits, str(path))
    q = design.layer
    xi, in_sat = quantize_input(q, x)
    y_float = bundle.layer.forward(x)
    y_int = design.engine.model(xi)
    rtl = run_batch(design, xi.reshape(-1, n))
    y_rtl = rtl.output.reshape(y_int.shape)
    return {
        **engine_fields(engine, design),
        "layer": bundle.layer.name,
        "n": n,
        "bits": bits,
        "channels": q.channels,
        "samples": int(y_int.size),
        "rtl_match_pct": match_percent(y_rtl, y_int),
        "rtl_tlast_ok": rtl.lasts_ok,
        "input_saturated_share": float(np.mean(in_sat)),
        "output_format": q.fmt.output.to_dict(),
        **error_stats(y_float, y_int, q.fmt.output),
        "errors_lsb_hist": np.histogram(
            (q.fmt.output.to_float(y_int) - y_float) / q.fmt.output.lsb, bins=np.linspace(-4, 4, 33)
        )[0].tolist(),
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
        self._designs: dict[tuple[str, int], dict[str, Design]] = {}

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

    def designs(self, engine: str, bits: int) -> dict[str, Design]:
        """One design per ParC layer, made once (elaboration and Verilog are not free)."""
        key = (engine, bits)
        if key not in self._designs:
            self._designs[key] = {
                name: layer_design(engine, self.float_layers[name].n, bits, str(path))
                for name, path in self.bundles.items()
            }
        return self._designs[key]


def network_row(net: Network, engine: str, bits: int) -> dict:
    designs = net.designs(engine, bits)
    mismatches = {"samples": 0, "mismatches": 0, "layer_samples": 0}

    def fixed(name: str, rows: np.ndarray) -> np.ndarray:
        q = designs[name].layer
        return q.fmt.output.to_float(designs[name].engine.model(quantize_input(q, rows)[0]))

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
        return q.fmt.output.to_float(out[back.reshape(-1)])

    t0 = time.monotonic()
    acc_fixed = net.evaluate(fixed)
    t1 = time.monotonic()
    acc_rtl = net.evaluate(rtl)
    impls = {d.arch_info.get("fft_impl") for d in designs.values()}  # "fft" may pick per layer
    return {
        "engine": engine,
        "arch": next(iter(designs.values())).spec.arch,
        "fft_impl": impls.pop() if len(impls) == 1 else "mixed",
        "bits": bits,
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


# --------------------------------------------------------------------------- driver


def prebuild(designs: list[Design], workers: int, desc: str) -> None:
    """Compile every simulator up front, in parallel (cached by Verilog hash)."""
    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(build_batch, designs), total=len(designs), desc=desc, unit="build"))


def run_report(cfg: ReportConfig) -> Report:
    """Layer level, then network level; every RTL run is compared with the golden model."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    layer_configs = [(a, n, b) for a in cfg.archs for n in cfg.layer_sizes for b in cfg.bits]
    layer_designs = {(a, n, b): layer_design(a, n, b, str(default_bundle_path(n))) for a, n, b in layer_configs}
    prebuild(list(layer_designs.values()), cfg.workers, "layer builds")
    with ThreadPoolExecutor(cfg.workers) as pool:
        layer_rows = list(
            tqdm(
                pool.map(lambda c: layer_row(c[0], c[1], c[2], layer_designs[c]), layer_configs),
                total=len(layer_configs),
                desc="layer level",
                unit="config",
            )
        )
    timings["layer_level_s"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    net = Network(cfg.weights, cfg.images, build_root() / "report_bundles")
    float_override = lambda name, rows: net.float_layers[name].forward(rows)  # noqa: E731
    network = {
        "layers": net.layer_names,
        "images": len(net.labels),
        "full_test_images": len(net.all_labels),
        "acc_float": net.evaluate(float_override),
        "acc_float_full_test": net.evaluate(float_override, net.all_images, net.all_labels),
        "acc_torch_full_test": net.evaluate(None, net.all_images, net.all_labels),
        "provenance_test_accuracy": net.provenance.get("test_accuracy"),
    }
    net_configs = [(a, b) for a in cfg.network_engines for b in cfg.bits]
    prebuild([d for a, b in net_configs for d in net.designs(a, b).values()], cfg.workers, "network builds")
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
