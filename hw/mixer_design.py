"""From ``--weights CHECKPOINT --layer stages.K.0`` to the token mixer's top level and manifest.

`hw.design` builds a 1-D engine for one ParC layer. A ParC-ConvNeXt *block* prefix (a
``gcc_H`` and a ``gcc_W`` layer under it, `golden.mixer.mixer_blocks`) names the whole token
mixer instead: both halves quantized into one shared input and output format
(`golden.mixer.quantize_mixer`), each half's 1-D engine built exactly as ``hw.design`` builds it
for that half alone (same ``--arch``, FFT options and target), and both joined by
`hw.mixer.ParcMixer` inside the AXI4-Stream top. `build_layer_design` is the one entry point
that tells the two cases apart, so `hw.generate`, `sim` and `scripts` treat a block like a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from golden.bundle import RANDOM_WEIGHTS, Bundle, load_checkpoint_layer
from golden.cli import UserError
from golden.mixer import MixerLayer, QuantizedMixer, mixer_blocks, quantize_mixer
from golden.weights import sniff_weight_file
from hw.design import (
    ARCHITECTURES,
    GENERATOR_VERSION,
    Design,
    DesignSpec,
    build_design,
    check_spec_widths,
    load_calibration,
    quantize_keywords,
)
from hw.mixer import ParcMixer
from hw.target import sim_model_files
from hw.top import AxisTop

__all__ = ["MixerDesign", "build_layer_design", "is_mixer_spec", "mixer_top_name"]

DIRECTIONS = ("H", "W")


def _checkpoint_blocks(spec: DesignSpec) -> list[str]:
    """The ParC-ConvNeXt blocks of ``spec.weights`` when it is a checkpoint (else none)."""
    if spec.weights in (None, RANDOM_WEIGHTS) or spec.layer is None:
        return []
    path = Path(str(spec.weights))
    if not path.is_file():
        return []
    try:
        sniff_weight_file(path)
        return mixer_blocks(path)
    except (ValueError, OSError):  # not a checkpoint: the 1-D loader says so in its own words
        return []


def is_mixer_spec(spec: DesignSpec) -> bool:
    """True when ``spec.layer`` names a ParC-ConvNeXt block of the checkpoint: the mixer."""
    return spec.layer is not None and spec.layer.strip().rstrip(".") in _checkpoint_blocks(spec)


def mixer_top_name(spec: DesignSpec, height: int, width: int, channels: int) -> str:
    """``parc_mixer_<arch>_<H>x<W>_c<C>_b<bits>`` plus the width tags of `DesignSpec.top_name`."""
    if spec.name:
        return spec.name
    tags = spec.top_name.removeprefix(f"parc_{spec.arch}_n{spec.n}_b{spec.bits}")
    return f"parc_mixer_{spec.arch}_{height}x{width}_c{channels}_b{spec.bits}{tags}"


@dataclass
class MixerDesign:
    """The token mixer of one block: its top level, both halves' 1-D designs, its manifest.

    ``halves`` are `hw.design.Design`\\ s of the half engines inside ``engine`` (their
    quantized layers come from the shared-format `QuantizedMixer`), so each half's ROM files
    and records are written exactly as a 1-D design's.
    """

    spec: DesignSpec
    engine: ParcMixer
    top: AxisTop
    mixer: QuantizedMixer
    float_mixer: MixerLayer
    halves: dict[str, Design]
    top_name: str
    _verilog: str | None = None

    @property
    def sim_files(self) -> list[Path]:
        return sim_model_files(self.spec.target)

    def verilog(self) -> str:
        if self._verilog is None:
            self._verilog = verilog.convert(self.top, name=self.top_name, emit_src=False)
        return self._verilog

    def manifest(self, verilog_file: str) -> dict:
        """The contract for a driver of the mixer: layout, formats, timing, memory, and each
        half's 1-D record (weights, shifts, ROM files, provenance)."""
        qm, engine = self.mixer, self.engine
        directions = ["H"] * qm.split + ["W"] * (qm.channels - qm.split)
        halves = {}
        for d, half in self.halves.items():
            record = half.manifest(verilog_file)
            keep = (
                "n",
                "channels",
                "arch",
                "fft_impl",
                "latency_cycles",
                "cycles_per_sample",
                "weight_bits",
                "weight_frac",
                "output_shift",
                "acc_bits",
                "acc_sat_bits",
                "pe_handling",
                "quantizer_saturated",
                "scales",
                "weights",
            )
            halves[d] = {k: record[k] for k in keep if k in record}
            halves[d]["map_channels"] = [c for c, cd in enumerate(directions) if cd == d]
            halves[d]["rom_layout"] = {f"rom_{d}_{k.removeprefix('rom_')}": v for k, v in record["rom_layout"].items()}
            halves[d]["engine"] = {k: v for k, v in record.items() if k not in record_keys_of_layer() and k not in keep}
        return {
            "generator": f"parc-hw {GENERATOR_VERSION}",
            "top": self.top_name,
            "verilog": verilog_file,
            "kind": "mixer",
            "arch": self.spec.arch,
            "target": self.spec.target,
            "block": qm.name,
            "layout": "HWC",
            "stream_order": "for h in 0..H-1, for w in 0..W-1, for c in 0..C-1: beat (h*W + w)*C + c = x[c, h, w]",
            "height": qm.height,
            "width": qm.width,
            "channels": qm.channels,
            "split": qm.split,
            "directions": directions,
            "direction_meaning": "H: channel c runs down its columns (N = height); W: along its rows (N = width)",
            "bits": self.spec.bits,
            "input_format": qm.data.to_dict(),
            "output_format": qm.output.to_dict(),
            "rounding": str(qm.rounding),
            "saturate": qm.h.fmt.saturate,
            "lost_bits": dict(qm.lost_bits),
            "latency_cycles": engine.latency,
            "latency_maps": round(engine.latency_maps, 4),
            "latency_definition": (
                "cycles from accepting a map's first element to its first output element, no stalls (an upper bound "
                "for the FFT engines, whose latency depends on the phase their frames arrive at)"
            ),
            "elements_per_clock": engine.elements_per_clock,
            "cycles_per_sample": 1 / engine.elements_per_clock,
            "parallelism": (
                "two 1-D engines, one per direction, each at its own rate; the ParC-H engine is busy split/C of the "
                "time, the ParC-W engine (C-split)/C"
            ),
            "framing": (
                "one frame = one whole map of H*W*C elements, tlast on its last; an early tlast completes the map "
                "with zeros, a missing tlast keeps the map and discards input up to the next tlast; both count in "
                "frame_errors; one output map per input map, tlast on its last element; no tuser"
            ),
            "memory": engine.memory(),
            "status_ports": {name: len(getattr(self.top, name)) for name in self.top.status},
            "tdata": self.halves["H"]._tdata(),
            "halves": halves,
        }


def record_keys_of_layer() -> set[str]:
    """Keys of a 1-D manifest that the mixer states once for the whole map, or not at all."""
    return {
        "generator",
        "top",
        "verilog",
        "target",
        "bits",
        "parallel",
        "latency_definition",
        "input_format",
        "output_format",
        "rounding",
        "saturate",
        "framing",
        "status_ports",
        "tdata",
        "rom_layout",
    }


def _calibration_maps(spec: DesignSpec, shape: tuple[int, int, int]) -> np.ndarray | None:
    """``--calibration`` for a mixer: a .npy of float maps (..., C, H, W) of its input."""
    if spec.calibration is None:
        return None
    what = "float maps (channels x height x width) of the block's mixer input"
    return load_calibration(spec.calibration, shape, what)


def _check_mixer_spec(spec: DesignSpec, halves: dict[str, Bundle]) -> None:
    """Options a mixer cannot honour are refused by name rather than ignored."""
    if spec.channels is not None:
        raise UserError("--channels does not apply to a mixer block: it takes every channel of both halves")
    h_n, w_n = halves["H"].layer.n, halves["W"].layer.n
    if spec.n not in (h_n, w_n) or (spec.n != h_n and h_n == w_n):
        raise UserError(
            f"--layer {spec.layer} is a mixer of {h_n}x{w_n} maps, but --n {spec.n} was requested (leave --n out)"
        )
    for n in (h_n, w_n):
        check_spec_widths(spec, n)


def build_mixer_design(spec: DesignSpec) -> MixerDesign:
    """Quantize a checkpoint block's two halves into shared formats and build the mixer."""
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"unknown arch {spec.arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    assert spec.weights is not None and spec.layer is not None  # is_mixer_spec
    block = spec.layer.strip().rstrip(".")
    bundles = {d: load_checkpoint_layer(spec.weights, f"{block}.gcc_{d}") for d in DIRECTIONS}
    _check_mixer_spec(spec, bundles)
    float_mixer = MixerLayer(bundles["H"].layer, bundles["W"].layer, name=block)
    calibration = _calibration_maps(spec, float_mixer.shape)
    keywords = quantize_keywords(spec, calibration is not None, "checkpoints")
    qm = quantize_mixer(float_mixer, spec.bits, calibration, **keywords)
    halves: dict[str, Design] = {}
    for d in DIRECTIONS:
        layer = qm.half(d)
        half_spec = replace(spec, n=layer.fmt.n, layer=f"{block}.gcc_{d}", name=None)
        engine, info = ARCHITECTURES[spec.arch](half_spec, layer)
        half_top = AxisTop(engine)
        half_top._MustUse__silence = True  # a record only: the mixer's top elaborates the engine
        halves[d] = Design(half_spec, engine, half_top, layer, bundles[d].layer, bundles[d], info)
    mixer = ParcMixer(halves["H"].engine, halves["W"].engine, qm.height, qm.width, target=spec.target)
    top = AxisTop(mixer)
    for elaboratable in (mixer, top):
        elaboratable._MustUse__silence = True
    name = mixer_top_name(spec, qm.height, qm.width, qm.channels)
    return MixerDesign(spec, mixer, top, qm, float_mixer, halves, name)


def build_layer_design(spec: DesignSpec) -> Design | MixerDesign:
    """The design ``spec`` names: the token mixer when ``--layer`` is a checkpoint's block,
    else the 1-D engine (`hw.design.build_design`)."""
    if is_mixer_spec(spec):
        return build_mixer_design(spec)
    return build_design(spec)
