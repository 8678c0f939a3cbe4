"""``python -m hw.generate``: emit Verilog, ROM contents, a FuseSoC core and manifest.json for a ParC engine.

Example::

    python -m hw.generate --n=56 --bits=8                  # trained N=56 layer, direct form
    python -m hw.generate --n=28 --bits=12 --arch fft --out build/fft28   # native prime-factor FFT (28 = 4 x 7)
    python -m hw.generate --n=28 --bits=12 --arch fft --fft-impl padded --out build/fft28p  # radix-2, M = 64
    python -m hw.generate --n=14 --bits=8 --weights my_layer.npz --parallel 7
    python -m hw.generate --n=56 --bits=8 --target ecp5 --out build/ecp5   # MULT18X18D / DP16KD instances

Bad options are one line on stderr and exit status 2; nothing is written unless all of it
is written (files are staged, then renamed into place). ``--out`` must be a new folder, an
empty one or an earlier output of ours (its manifest.json lists the files we wrote, and
only those are replaced): see `golden.files`.

From Python, call the library function the command wraps::

    from hw.design import DesignSpec
    from hw.generate import generate

    manifest = generate(DesignSpec(arch="fft", n=28, bits=12), "build/fft28")
    print(manifest.verilog, manifest.latency_cycles)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden.cli import Parser, UserError, run
from golden.files import OutputFolder
from hw.design import (
    FFT_IMPLS,
    Design,
    DesignSpec,
    add_design_arguments,
    build_design,
    parse_design_arguments,
    spec_from_arguments,
)
from hw.fusesoc import core_file_name, write_core
from hw.lint import waiver_text
from hw.mixer_design import MixerDesign, build_mixer_design, is_mixer_spec
from hw.native_fast_parc import NativeFastParcEngine
from hw.target import check_target, sim_model_files

FFT_IMPL_HELP = (
    "which --arch fft engine: native = the prime-factor engine (1 cycle/sample), for N that factors into "
    "coprime 2/4/8, 3, 5, 7 (N divides 840: e.g. 7, 12, 14, 21, 28, 56); padded = the radix-2 engine, "
    "zero-padded to a power of two M >= 2N-1 (M/N cycles/sample), for other N; auto (default): native "
    "when N factors, else padded"
)
FFT_FLAGS = {  # CLI flag (DesignSpec.options key: '-' -> '_') -> help (ranges: golden.fast_parc_int.FFT_OPTION_RANGES)
    "fft-size": "padded only: FFT size M, a power of two from the smallest >= 2N-1 (and >= 8; the default) to 4x that",
    "twiddle-bits": "padded only: twiddle ROM bits, 6..27 (default 18, one DSP port; bits + 4 above 16-bit data)",
    "spectrum-bits": "spectrum ROM bits: padded 6..27 (default as --twiddle-bits); native 4..30 (default 18, bits + 6 "
    "above 12-bit data or output)",
    "guard-bits": "inverse transform output bits below the output LSB: padded 0..12, native 0..16 (default 4)",
    "headroom-bits": "padded only: IFFT headroom above the output range, 0..8; sets the inverse scaling schedule "
    "(default 2)",
    "input-shift": "guard bits added to the forward transform input: padded 0..8, native 0..12 (default 3). For "
    "padded, all these options together must fit the datapath and keep the worst-case error bound <= max(8 LSB, "
    "4x the defaults')",
}
FFT_OPTION_KEYS = ("fft_impl", *(flag.replace("-", "_") for flag in FFT_FLAGS))  # DesignSpec.options keys


def add_fft_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--arch fft`` options, shared by `hw.generate` and `sim.run` so both commands
    spell them alike and a simulated FFT design is the one a user would generate."""
    fft = p.add_argument_group(
        "--arch fft (defaults: golden.native_fft.NativeParams.default / golden.fast_parc_int.FftParams.default)"
    )
    fft.add_argument("--fft-impl", choices=("auto", *FFT_IMPLS), default=None, help=FFT_IMPL_HELP)
    for flag, what in FFT_FLAGS.items():
        fft.add_argument(f"--{flag}", type=int, default=None, help=what)


def fft_options(args: argparse.Namespace) -> dict[str, Any]:
    """`DesignSpec.options` from the parsed `add_fft_arguments` flags: only those given, so a
    design without them is the default one and ``--arch direct`` can refuse any of them."""
    return {key: getattr(args, key) for key in FFT_OPTION_KEYS if getattr(args, key) is not None}


def check_arch_options(spec: DesignSpec) -> None:
    """FFT options name hardware that only ``--arch fft`` has: refuse them elsewhere rather
    than ignore them (a flag that changes nothing must not look as if it did)."""
    if spec.options and spec.arch != "fft":
        raise UserError(f"{_flag(next(iter(spec.options)))} applies to --arch fft only")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def parser() -> argparse.ArgumentParser:
    p = Parser(
        "hw.generate",
        "Generate Verilog for a streaming fixed-point ParC engine.",
        "python -m hw.generate --n=56 --bits=8 --arch direct --out out/",
    )
    add_design_arguments(p)
    p.add_argument("--seed", type=int, default=None, help="seed of --weights random (default 0)")
    p.add_argument("--out", default="out", help="output folder (default ./out)")
    p.add_argument("--name", default=None, help="top module name (default parc_<arch>_n<N>_b<bits>)")
    p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    add_fft_arguments(p)
    return p


def legacy_files(manifest: dict) -> list[str] | None:
    """The files an hw.generate output from before the "files" record wrote, from its
    manifest (`golden.files.read_manifest`): such a folder is still ours to regenerate."""
    if not all(k in manifest for k in ("top", "verilog", "arch", "latency_cycles")):
        return None
    files = [
        manifest["verilog"],
        manifest.get("lint_waivers", f"{manifest['top']}.vlt"),
        *manifest.get("rom_files", []),
    ]
    return [f for f in files if isinstance(f, str)] if all(isinstance(f, str) for f in files) else None


def output_folder(
    out_dir: str | os.PathLike, top: str = "", target: str = "generic", rom_prefixes: tuple[str, ...] = ("",)
) -> OutputFolder:
    """`--out` checked against the never-destroy rule (`golden.files`) before anything is written."""
    roms = [f"rom_{prefix}{kind}.hex" for prefix in rom_prefixes for kind in ("weights", "offsets")]
    expect = [f"{top}.v", f"{top}.vlt", core_file_name(top), *roms] if top else []
    expect += [path.name for path in sim_model_files(target)]
    return OutputFolder(out_dir, tool="hw.generate", option="--out", expect=expect, legacy=legacy_files)


def rom_prefixes(design: Design | MixerDesign) -> dict[str, Design]:
    """The 1-D designs whose ROM files an output holds, by file-name prefix: ``rom_weights.hex``
    for a layer, ``rom_H_weights.hex`` / ``rom_W_weights.hex`` for a mixer's halves."""
    if isinstance(design, MixerDesign):
        return {f"{d}_": half for d, half in design.halves.items()}
    return {"": design}


def write_design(design: Design | MixerDesign, out_dir: str | os.PathLike, lint_check: bool = True) -> dict:
    """Write <top>.v, <top>.vlt, rom_*.hex, <top>.core and manifest.json into ``out_dir``; returns the manifest.

    ``<top>.core`` is the FuseSoC (CAPI2) core of exactly these files (`hw.fusesoc`), so an
    FPGA project can take the output as a core instead of copying files. For a target whose Verilog instantiates vendor primitives (``--target ecp5``), the
    behavioural twins a simulator needs are copied beside it and listed as ``sim_files``
    (simulation only: synthesis tools have the real primitives).

    A new folder appears whole (staged, then renamed); into an earlier output of ours only
    the files it listed are replaced, and a user's own files there stay. Anything else at
    ``out_dir`` is a one-line `UserError` before anything is touched.
    """
    top = design.top_name
    roms = rom_prefixes(design)
    with output_folder(out_dir, top, design.spec.target, tuple(roms)) as out:
        staging = out.path
        verilog_file = f"{top}.v"
        (staging / verilog_file).write_text(design.verilog())
        (staging / f"{top}.vlt").write_text(waiver_text(verilog_file))
        for prefix, half in roms.items():
            write_rom_files(half, staging, prefix)
        sim_files = [path.name for path in design.sim_files]
        for path in design.sim_files:
            shutil.copyfile(path, staging / path.name)
        manifest = design.manifest(verilog_file)
        manifest["lint_waivers"] = f"{top}.vlt"
        manifest["rom_files"] = sorted(p.name for p in staging.glob("rom_*.hex"))
        manifest["sim_files"] = sim_files
        if sim_files:
            manifest["sim_files_note"] = (
                "behavioural models of the vendor primitives the Verilog instantiates: give them to the simulator "
                "with the Verilog, never to synthesis (the vendor tools have the real primitives)"
            )
        manifest["fusesoc_core"] = write_core(manifest, staging)
        if lint_check:
            from hw.lint import lint

            result = lint(staging / verilog_file, staging / f"{top}.vlt", top, [staging / f for f in sim_files])
            if result.returncode != 0:
                raise UserError(
                    f"generated Verilog fails verilator --lint-only -Wall: {result.stderr.strip().splitlines()[0]}"
                )
            manifest["lint"] = "verilator --lint-only -Wall: clean with the waivers file"
        out.commit(manifest)
        assert out.manifest is not None  # commit() sets it
        return out.manifest


def write_rom_files(design: Design, folder: Path, prefix: str = "") -> None:
    """ROM contents as $readmemh-style hex (for users' own memories; the Verilog embeds them).

    The spectrum file is the engine's ROM image word for word (`Design.manifest`'s
    ``rom_layout`` says how): padded radix-2, one row of M bit-reversed bins per channel;
    native, one row of N // 2 + 1 bins padded to a power of two per channel of each pair,
    so an odd channel count ends with the zero row of the padding channel. Read in order,
    the rows are the ROM at word address ``row * words_per_row + k``.
    """
    q = design.layer
    w_hex = [
        " ".join(f"{int(v) & ((1 << q.fmt.weight_bits) - 1):0{(q.fmt.weight_bits + 3) // 4}x}" for v in row)
        for row in q.weight
    ]
    (folder / f"rom_{prefix}weights.hex").write_text("\n".join(w_hex) + "\n")
    acc = q.fmt.acc_bits
    o_hex = [" ".join(f"{int(v) & ((1 << acc) - 1):0{(acc + 3) // 4}x}" for v in row) for row in q.offset]
    (folder / f"rom_{prefix}offsets.hex").write_text("\n".join(o_hex) + "\n")
    engine = design.engine
    if not hasattr(engine, "spectrum_words"):  # --arch direct
        return
    if isinstance(engine, NativeFastParcEngine):  # (c, c + d, d - c) per bin, channels in pairs
        rows, width = 2 * engine.plan.pairs, 3 * engine.params.spectrum_bits
    else:  # FastParcEngine: (re, im) per bin
        rows, width = q.channels, 2 * engine.params.spectrum_bits
    words = engine.spectrum_words()
    per_row, rest = divmod(len(words), rows)
    assert rest == 0, f"{len(words)} spectrum ROM words are not {rows} rows"
    lines = [" ".join(f"{w:0{(width + 3) // 4}x}" for w in words[r * per_row : (r + 1) * per_row]) for r in range(rows)]
    (folder / f"rom_{prefix}spectrum.hex").write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Manifest:
    """What `generate` wrote: the output folder and its ``manifest.json`` (the drivers'
    contract: formats, timing, ports, ROM layout, weight provenance, files written)."""

    path: Path  # the output folder
    data: dict  # manifest.json as written

    @property
    def top(self) -> str:
        return self.data["top"]

    @property
    def verilog(self) -> Path:
        return self.path / self.data["verilog"]

    @property
    def latency_cycles(self) -> int:
        return self.data["latency_cycles"]

    @property
    def cycles_per_sample(self) -> float:
        return self.data["cycles_per_sample"]


def generate(spec: DesignSpec, out: str | os.PathLike, *, lint: bool = True) -> Manifest:
    """Elaborate ``spec`` and write its Verilog, lint waivers, ROM files, FuseSoC core and manifest into ``out``.

    ``out`` is checked against the never-destroy rule (`golden.files`) before minutes of
    elaboration; unless ``lint`` is False, the Verilog must pass ``verilator --lint-only
    -Wall``. Any problem is a one-line `UserError` (or ValueError) and nothing is written.
    """
    check_arch_options(spec)
    if is_mixer_spec(spec):  # a checkpoint block: the token mixer (its name needs the block's shape)
        design: Design | MixerDesign = build_mixer_design(spec)
        output_folder(out, design.top_name, check_target(spec.target), tuple(rom_prefixes(design)))
    else:
        output_folder(out, spec.top_name, check_target(spec.target))  # refuse a foreign --out before elaboration
        design = build_design(spec)
    data = write_design(design, out, lint_check=lint)
    return Manifest(Path(out), data)


def _main(argv: list[str] | None) -> int:
    args = parse_design_arguments(parser(), argv)
    options = fft_options(args)
    if args.seed is not None and args.weights != "random":  # a seed that changes nothing must not look as if it did
        raise UserError("--seed applies to --weights random only (the other weights are not random)")
    spec = spec_from_arguments(args, seed=0 if args.seed is None else args.seed, name=args.name, options=options)
    manifest = generate(spec, args.out, lint=not args.no_lint)
    print(
        f"wrote {manifest.verilog} (latency {manifest.latency_cycles} cycles, "
        f"{manifest.cycles_per_sample} cycle(s)/sample) and manifest.json"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m hw.generate", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
