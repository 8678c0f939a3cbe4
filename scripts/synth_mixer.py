"""Synthesis rows of the token mixer (`hw.mixer.ParcMixer`) for `scripts.synth --mixer`.

A mixer row is one block of the trained checkpoint (``stages.0.0``: C = 16 channels of
56×56 maps) built exactly as ``python -m hw.generate --weights model.pt --layer stages.0.0``
builds it, through the same cached tool stages as an engine row: yosys ``synth_ecp5`` (LUT4,
FF, MULT18X18D, DP16KD), nextpnr-ecp5 per speed grade and seed (Fmax, critical path), and a
Verilator batch run of whole maps without bubbles or backpressure (elements per clock, and a
bit-exact check against the golden mixer). Why the trained weights rather than the engine
rows' random ones: the mixer's size is set by its maps (C, H, W), which a checkpoint block
fixes, and its quantized formats come from that block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from golden.mixer import build_engine
from hw.design import stored_n
from hw.mixer_design import MixerDesign, build_mixer_design
from scripts import yosys_flow as flow
from scripts.synth_stages import Gate, RowStages, ecp5_key_parts

if TYPE_CHECKING:
    from scripts.synth import SynthOptions

__all__ = ["MIXER_MAPS", "mixer_design", "run_mixer_config"]

MIXER_MAPS = 3  # maps of the elements-per-clock run: the second and third show the sustained rate


def mixer_design(label: str, block: str, bits: int, target: str, weights: Path) -> MixerDesign:
    """The mixer of ``block`` for the engine variant ``label`` (`scripts.synth.VARIANTS`)."""
    from scripts.synth import VARIANTS

    spec = VARIANTS[label].spec(n=stored_n(str(weights), block), bits=bits, weights=str(weights), layer=block)
    return build_mixer_design(replace(spec, target=target, name=None))


def measure_mixer_rate(design: MixerDesign, maps: int = MIXER_MAPS) -> dict:
    """Elements per clock of the mixer RTL on ``maps`` whole maps (no bubbles or backpressure),
    and whether every element equals the golden mixer's."""
    from sim.batch import run_batch_maps

    start = time.monotonic()
    qm = design.mixer
    rng = np.random.default_rng(0)
    fmt = qm.data
    noise = rng.normal(0, 2 ** (fmt.bits - 3), size=(maps, *qm.shape))
    x: np.ndarray = np.clip(np.round(noise), fmt.min_int, fmt.max_int).astype(np.int64)
    result = run_batch_maps(design, x)
    kind = "direct" if design.spec.arch == "direct" else "fft"
    impls = {half.arch_info.get("fft_impl") for half in design.halves.values()}
    if kind == "fft" and len(impls) == 1:
        kind = f"fft-{impls.pop()}"
    exact = bool(np.array_equal(result.output, build_engine(qm, kind).model(x)) and result.lasts_ok)
    return {
        "status": "ok",
        "maps": maps,
        "elements_per_clock": round(1.0 / result.cycles_per_sample, 4),
        "bit_exact": exact,
        "seconds": round(time.monotonic() - start, 1),
    }


def run_mixer_config(
    config: tuple[str, str, int, str],
    options: SynthOptions,
    cache_dir: Path,
    tick: Callable[..., None],
    gate: Gate,
) -> dict:
    """Every stage of one mixer row (block, engine label, bits, target); a failing stage is
    recorded and the others still run, as for `scripts.synth.run_config`."""
    from sim.batch import DRIVER

    block, label, bits, target = config
    row: dict = {"block": block, "engine": label, "bits": bits, "target": target}
    try:
        design = mixer_design(label, block, bits, target, options.mixer_weights)
        verilog = design.verilog()
    except Exception as exc:  # noqa: BLE001 - reported in the table
        row["error"] = f"elaboration: {exc}"
        tick(options.mixer_steps)
        return row
    top, engine, qm = design.top_name, design.engine, design.mixer
    row.update(
        top=top,
        channels=qm.channels,
        height=qm.height,
        width=qm.width,
        split=qm.split,
        fft_impl=sorted({str(h.arch_info.get("fft_impl")) for h in design.halves.values()}),
        latency_cycles=engine.latency,
        latency_maps=round(engine.latency_maps, 3),
        nominal_elements_per_clock=engine.elements_per_clock,
        ram_bits=engine.ram_bits,
        memory=engine.memory(),
    )

    stages = RowStages(row, top, verilog, options, cache_dir, tick, gate)
    stages.stage("ecp5", ecp5_key_parts(top), lambda: flow.synth_counts(verilog, top, "ecp5", options.timeout))
    models = [path.read_text() for path in design.sim_files]
    stages.stage("rate", (DRIVER.read_text(), str(MIXER_MAPS), *models), lambda: measure_mixer_rate(design))
    stages.place_and_route()
    placed = row["pnr"]
    row["fmax_mhz_by_speed"] = {
        s: v.get("fmax_mhz") for s, v in placed.get("speeds", {}).items() if v.get("status") == "ok"
    }
    rate = row.get("rate", {})
    row["elements_per_clock"] = rate.get("elements_per_clock") if rate.get("status") == "ok" else None
    return row


def mixer_markdown(rows: list[dict], speeds: tuple[int, ...]) -> list[str]:
    """The token-mixer table of synth.md (empty without mixer rows)."""
    if not rows:
        return []
    grades = " | ".join(f"Fmax -{s} (MHz)" for s in speeds)
    lines = [
        "",
        "## Token mixer (`hw.mixer`, whole C×H×W maps in HWC order)",
        "",
        "Each row is one block of the trained checkpoint, built as `python -m hw.generate --weights "
        "weights/parc/model.pt --layer BLOCK` builds it (both halves, corner turns, map framing). Elements/clock: "
        "measured on whole maps with `sim.batch.run_batch_maps`, no bubbles or backpressure, bit-exact against "
        "the golden mixer. BRAM bits: the four corner turns' memories (`ParcMixer.memory`).",
        "",
        f"| block | engine | C x H x W | bits | target | LUT4 | FF | MULT18X18D | DP16KD | BRAM bits | {grades} "
        "| elements/clock | latency (cycles / maps) |",
        "|" + "---|" * (12 + len(speeds)),
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['block']} | {r['engine']} | {r['error']} |")
            continue
        ecp5 = r.get("ecp5", {})
        ok = ecp5.get("status") == "ok"

        def count(key: str, ok: bool = ok, ecp5: dict = ecp5) -> str:
            return str(ecp5.get(key, "-")) if ok else ecp5.get("status", "-")

        fmax = " | ".join(
            f"{r['fmax_mhz_by_speed'][str(s)]:.1f}" if r["fmax_mhz_by_speed"].get(str(s)) else "-" for s in speeds
        )
        epc = r.get("elements_per_clock")
        exact = r.get("rate", {}).get("bit_exact")
        lines.append(
            f"| {r['block']} | {r['engine']} | {r['channels']} x {r['height']} x {r['width']} | {r['bits']} | "
            f"{r['target']} | {count('lut')} | {count('ff')} | {count('dsp')} | {count('bram')} | {r['ram_bits']} | "
            f"{fmax} | {'-' if epc is None else f'{epc:.3f}'}{'' if exact in (None, True) else ' (!)'} | "
            f"{r['latency_cycles']} / {r['latency_maps']} |"
        )
    return lines
