"""From user options to an elaborated top level, its Verilog and its manifest.

`hw.generate` (the CLI) and `sim` (the benches) both go through `build_design`, so the
bench always simulates exactly what a user would generate.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from amaranth.back import verilog
from amaranth.lib import wiring

from golden.bundle import Bundle, default_bundle_path, load_bundle
from golden.fast_parc_int import FftParams
from golden.quant import FloatLayer, QuantizedLayer, check_n_bits, quantize_layer, random_layer
from hw.direct import DirectEngine
from hw.fast_parc import FastParcEngine
from hw.top import AxisTop

GENERATOR_VERSION = "0.1.0"
DEFAULT_CHANNELS = 4


@dataclass(frozen=True)
class DesignSpec:
    """Everything that determines the generated hardware."""

    arch: str = "direct"
    n: int = 56
    bits: int = 8
    channels: int | None = None  # None: from the weights, or DEFAULT_CHANNELS for random weights
    parallel: int | None = None  # None: N (direct: 1 sample / clock)
    weights: str | None = None  # None: shipped trained bundle for N if any, else seeded random
    seed: int = 0
    name: str | None = None
    options: dict = field(default_factory=dict)  # architecture-specific (FFT widths, ...)

    @property
    def top_name(self) -> str:
        return self.name or f"parc_{self.arch}_n{self.n}_b{self.bits}"


@dataclass
class Design:
    spec: DesignSpec
    engine: wiring.Component
    top: AxisTop
    layer: QuantizedLayer
    float_layer: FloatLayer
    bundle: Bundle | None
    arch_info: dict  # extra manifest fields from the architecture

    _verilog: str | None = None

    def verilog(self) -> str:
        """The Verilog text (elaborated once: build caches hash it on every use)."""
        if self._verilog is None:
            self._verilog = verilog.convert(self.top, name=self.spec.top_name, emit_src=False)
        return self._verilog

    def manifest(self, verilog_file: str) -> dict:
        fmt = self.layer.fmt
        weights_source = self.bundle.source if self.bundle else f"random(seed={self.spec.seed})"
        weights_sha = self.bundle.sha256 if self.bundle else hashlib.sha256(
            self.layer.weight.tobytes() + self.layer.pe.tobytes() + self.layer.bias.tobytes()
        ).hexdigest()
        return {
            "generator": f"parc-hw {GENERATOR_VERSION}",
            "top": self.spec.top_name,
            "verilog": verilog_file,
            "arch": self.spec.arch,
            "n": fmt.n,
            "bits": self.spec.bits,
            "channels": self.layer.channels,
            "parallel": getattr(self.engine, "parallel", None),
            "latency_cycles": self.engine.latency,
            "latency_definition": "cycles from accepting a frame's last input sample to its first output sample, no stalls",
            "cycles_per_sample": self.engine.cycles_per_sample,
            "input_format": fmt.data.to_dict(),
            "output_format": fmt.output.to_dict(),
            "weight_bits": fmt.weight_bits,
            "weight_frac": self.layer.weight_frac.tolist(),
            "output_shift": self.layer.shift.tolist(),
            "acc_bits": fmt.acc_bits,
            "rounding": str(fmt.rounding),
            "saturate": fmt.saturate,
            "pe_handling": "folded: ROM offset[c,i] = corr(w_q, pe_q)[i] + b_q added to the accumulator",
            "framing": "one frame = N samples of one channel, tlast on the N-th; channels 0..C-1 in turn",
            "status_ports": {name: len(getattr(self.top, name)) for name in self.top.status},
            "quantizer_saturated": dict(self.layer.saturated),
            "weights": {"source": weights_source, "sha256": weights_sha, "layer": self.float_layer.name},
            **self.arch_info,
        }


def _direct(spec: DesignSpec, layer: QuantizedLayer) -> tuple[wiring.Component, dict]:
    return DirectEngine(layer, spec.parallel), {}


FFT_OPTIONS = {  # DesignSpec.options key -> golden.fast_parc_int.FftParams.default keyword
    "fft_size": "m", "twiddle_bits": "twiddle_bits", "spectrum_bits": "spectrum_bits",
    "guard_bits": "guard_bits", "headroom_bits": "headroom_bits", "input_shift": "input_shift",
}


def _fft(spec: DesignSpec, layer: QuantizedLayer) -> tuple[wiring.Component, dict]:
    unknown = set(spec.options) - set(FFT_OPTIONS)
    if unknown:
        raise ValueError(f"unknown fft options {sorted(unknown)}; choose from {sorted(FFT_OPTIONS)}")
    kwargs = {FFT_OPTIONS[k]: int(v) for k, v in spec.options.items() if v is not None}
    fmt = layer.fmt
    params = FftParams.default(fmt.n, fmt.data.bits, output_bits=fmt.output.bits, rounding=fmt.rounding, **kwargs)
    engine = FastParcEngine(layer, params)
    return engine, engine.info()


ARCHITECTURES: dict[str, Callable[[DesignSpec, QuantizedLayer], tuple[wiring.Component, dict]]] = {
    "direct": _direct,
    "fft": _fft,
}


def load_float_layer(spec: DesignSpec) -> tuple[FloatLayer, Bundle | None]:
    """Weights from ``--weights``, else the shipped trained bundle for N, else seeded random."""
    path = spec.weights or (None if spec.channels else default_bundle_path(spec.n))
    if path is None:
        return random_layer(spec.n, spec.channels or DEFAULT_CHANNELS, spec.seed), None
    bundle = load_bundle(path)
    layer = bundle.layer
    if layer.n != spec.n:
        raise ValueError(f"weights {path} are for N={layer.n}, but N={spec.n} was requested")
    if spec.channels is not None and spec.channels != layer.channels:
        raise ValueError(f"weights {path} have {layer.channels} channels, but --channels={spec.channels}")
    return layer, bundle


def build_design(spec: DesignSpec) -> Design:
    """Validate the spec, quantize the weights and elaborate the engine inside the AXI top."""
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"unknown arch {spec.arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    check_n_bits(spec.n, spec.bits)
    if spec.channels is not None and spec.channels < 1:
        raise ValueError(f"channels must be >= 1; got {spec.channels}")
    float_layer, bundle = load_float_layer(spec)
    layer = bundle.quantize(spec.bits) if bundle else quantize_layer(float_layer, spec.bits)
    engine, info = ARCHITECTURES[spec.arch](spec, layer)
    top = AxisTop(engine)
    for elaboratable in (engine, top):  # a Design may serve only as a model: no "unused" warning
        elaboratable._MustUse__silence = True
    return Design(spec, engine, top, layer, float_layer, bundle, info)


def spec_key(spec: DesignSpec) -> str:
    """Stable hash of a spec (plus weight file contents) for build caches."""
    d = asdict(spec)
    if spec.weights:
        d["weights_sha"] = hashlib.sha256(Path(spec.weights).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
