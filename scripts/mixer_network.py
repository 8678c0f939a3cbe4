"""Network accuracy with the token-mixer RTL in the loop: every ParC-ConvNeXt block's mixer
(both halves on whole C×H×W maps) computed by its generated hardware.

Why beside the 1-D network rows of `scripts.report`: those swap each ParC layer for its
1-D engine, quantizing every layer's input afresh. A network on an FPGA runs the mixer
engine (`hw.mixer.ParcMixer`): one shared input format and one shared output format per
map, whole maps in HWC order. These rows measure exactly that hardware, block by block, on
real maps: torch computes everything outside the mixers, and each block's mixer input is
what the RTL of the earlier blocks produced.

Scales come from the mixer inputs of training digits (never the test images), captured
from the float network (`golden.parc_net.capture_mixer_inputs`) and given to the design as
``--calibration`` maps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from golden.mixer import build_engine, dequantize_map, quantize_map
from hw.design import DesignSpec
from hw.mixer_design import MixerDesign, build_mixer_design
from sim.batch import build_batch, run_batch_maps

if TYPE_CHECKING:  # scripts.report imports this module
    from scripts.report import Network

__all__ = ["CALIBRATION_DIGITS", "MixerNetwork", "mixer_row"]

CALIBRATION_DIGITS = 64  # training digits whose mixer inputs set the scales
_CALIBRATION_SEED = (0, 8)  # their placement on the canvas (as tests/test_mixer_golden.py)


@dataclass
class MixerNetwork:
    """The trained network's blocks, their calibration maps and (built once) mixer designs."""

    net: Network  # the model, its test images and labels
    folder: Path  # where the calibration maps are saved (the designs read them as files)
    blocks: tuple[str, ...] | None = None  # the blocks whose mixer runs as RTL (None: all; the others stay float)
    designs: dict[tuple[str, int], dict[str, MixerDesign]] = field(default_factory=dict)
    _calibration: dict[str, Path] = field(default_factory=dict)

    @property
    def chosen(self) -> list[str]:
        """The blocks whose mixers run in hardware, in network order."""
        every = list(self.net.pn.mixer_blocks(self.net.model()))
        return every if self.blocks is None else [b for b in every if b in self.blocks]

    def calibration(self) -> dict[str, Path]:
        """Each block's calibration maps, as .npy files (captured once)."""
        if not self._calibration:
            pn = self.net.pn
            split = pn.load_split(int(self.net.provenance["data"]["split_seed"]))
            digits = pn.place_digits(split.train_images[:CALIBRATION_DIGITS], np.random.default_rng(_CALIBRATION_SEED))
            maps = pn.capture_mixer_inputs(self.net.model(), digits, self.chosen)
            self.folder.mkdir(parents=True, exist_ok=True)
            for block, values in maps.items():
                path = self.folder / f"{block}.npy"
                np.save(path, values)
                self._calibration[block] = path
        return self._calibration

    def mixer_designs(self, arch: str, bits: int) -> dict[str, MixerDesign]:
        key = (arch, bits)
        if key not in self.designs:
            weights = str(self.net.weights)
            self.designs[key] = {
                block: build_mixer_design(
                    DesignSpec(
                        arch=arch,
                        n=_height(path),
                        bits=bits,
                        weights=weights,
                        layer=block,
                        calibration=str(path),
                    )
                )
                for block, path in self.calibration().items()
            }
        return self.designs[key]


def _height(calibration: Path) -> int:
    """The map height of a block's calibration maps (the mixer's ``--n``)."""
    return int(np.load(calibration, mmap_mode="r").shape[-2])


def _golden_kind(design: MixerDesign) -> str:
    """`golden.mixer.build_engine`'s engine for what `hw.mixer_design` built."""
    if design.spec.arch == "direct":
        return "direct"
    impls = {half.arch_info.get("fft_impl") for half in design.halves.values()}
    return f"fft-{impls.pop()}" if len(impls) == 1 else "fft"


def mixer_row(mixnet: MixerNetwork, arch: str, bits: int, *, workers: int = 2) -> dict:
    """Top-1 of the network with every block's mixer computed by (a) the integer golden mixer
    and (b) its RTL (`sim.batch.run_batch_maps`), on the report's test images; the RTL is
    compared with the golden mixer on every element of every map."""
    from concurrent.futures import ThreadPoolExecutor

    net = mixnet.net
    designs = mixnet.mixer_designs(arch, bits)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(build_batch, designs.values()))
    engines = {block: build_engine(d.mixer, _golden_kind(d)) for block, d in designs.items()}
    counts = {"elements": 0, "mismatches": 0, "cycles": 0, "lasts_ok": True}
    per_block: dict[str, dict] = {}

    def fixed(block: str, maps: np.ndarray) -> np.ndarray | None:
        if block not in designs:
            return None  # torch's float mixer
        qm = designs[block].mixer
        return dequantize_map(qm, engines[block].model(quantize_map(qm, maps)[0]))

    def rtl(block: str, maps: np.ndarray) -> np.ndarray | None:
        if block not in designs:
            return None
        design = designs[block]
        qm = design.mixer
        x_int = quantize_map(qm, maps)[0]
        result = run_batch_maps(design, x_int)
        golden = engines[block].model(x_int)
        bad = int(np.sum(result.output != golden))
        counts["elements"] += int(golden.size)
        counts["mismatches"] += bad
        counts["cycles"] += result.cycles
        counts["lasts_ok"] &= result.lasts_ok
        per_block[block] = {
            "maps": len(maps),
            "elements": int(golden.size),
            "mismatches": bad,
            "cycles": result.cycles,
            "elements_per_clock": round(1 / result.cycles_per_sample, 4),
            "latency_cycles": design.engine.latency,
            "ram_bits": design.engine.ram_bits,
        }
        return dequantize_map(qm, result.output)

    def top1(override: Callable[[str, np.ndarray], np.ndarray | None]) -> float:
        return net.pn.evaluate(
            net.model(), net.images, net.labels, mixer_override=override, batch_size=len(net.images)
        ).accuracy

    t0 = time.monotonic()
    acc_fixed = top1(fixed)
    t1 = time.monotonic()
    acc_rtl = top1(rtl)
    impls = sorted({str(h.arch_info.get("fft_impl")) for d in designs.values() for h in d.halves.values()})
    return {
        "engine": arch if arch == "direct" else f"fft ({'/'.join(impls)})",
        "arch": arch,
        "bits": bits,
        "blocks": list(designs),
        "images": len(net.labels),
        "acc_fixed": acc_fixed,
        "acc_rtl": acc_rtl,
        "rtl_elements": counts["elements"],
        "rtl_mismatches": counts["mismatches"],
        "rtl_lasts_ok": bool(counts["lasts_ok"]),
        "rtl_cycles": counts["cycles"],
        "per_block": per_block,
        "fixed_seconds": round(t1 - t0, 1),
        "rtl_seconds": round(time.monotonic() - t1, 1),
    }
