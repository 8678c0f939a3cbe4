"""``python -m hw.generate``: emit Verilog, ROM contents and manifest.json for a ParC engine.

Example::

    python -m hw.generate --n=56 --bits=8                  # trained N=56 layer, direct form
    python -m hw.generate --n=28 --bits=12 --arch fft --out build/fft28
    python -m hw.generate --n=14 --bits=8 --weights my_layer.npz --parallel 7

Bad options are one line on stderr and exit status 2; nothing is written unless all of it
is written (files go to a temporary folder that is renamed into place).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hw.design import ARCHITECTURES, Design, DesignSpec, build_design
from hw.lint import waiver_text


FFT_FLAGS = {  # CLI flag (DesignSpec.options key: '-' -> '_') -> help
    "fft-size": "FFT size M, a power of two >= 2N-1 (default: the smallest)",
    "twiddle-bits": "twiddle ROM bits (default 18: one DSP port)",
    "spectrum-bits": "spectrum ROM bits (default 18)",
    "guard-bits": "IFFT output bits below the output LSB (default 4)",
    "headroom-bits": "IFFT headroom above the output range; sets the inverse scaling schedule (default 2)",
    "input-shift": "guard bits added to the forward FFT input (default 3)",
}


class CliError(Exception):
    """A user mistake: reported as one line, exit status 2."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hw.generate",
        description="Generate Verilog for a streaming fixed-point ParC engine.",
        epilog="example: python -m hw.generate --n=56 --bits=8 --arch direct --out out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--n", type=int, required=True, help="feature length N (>= 2; 56/28/14/7 in the paper)")
    p.add_argument("--bits", type=int, default=8, help="data/weight/output bits (4..24, default 8)")
    p.add_argument("--channels", type=int, default=None, help="channels C (default: from the weights)")
    p.add_argument("--parallel", type=int, default=None, help="multipliers P for --arch direct (default N)")
    p.add_argument("--weights", default=None, help="float .npz (weight [C,N], bias [C], pe [C,N]) or exported bundle")
    p.add_argument("--arch", default="direct", help=f"engine architecture: {', '.join(sorted(ARCHITECTURES))}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random stand-in weights")
    p.add_argument("--out", default="out", help="output folder (default ./out)")
    p.add_argument("--name", default=None, help="top module name (default parc_<arch>_n<N>_b<bits>)")
    p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    fft = p.add_argument_group("--arch fft (defaults: golden.fast_parc_int.FftParams.default, overflow-free schedules)")
    for flag, what in FFT_FLAGS.items():
        fft.add_argument(f"--{flag}", type=int, default=None, help=what)
    return p


def write_design(design: Design, out_dir: Path, lint_check: bool = True) -> dict:
    """Write <top>.v, <top>.vlt, rom_*.hex and manifest.json into ``out_dir`` atomically."""
    top = design.spec.top_name
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        verilog_file = f"{top}.v"
        (staging / verilog_file).write_text(design.verilog())
        (staging / f"{top}.vlt").write_text(waiver_text(verilog_file))
        write_rom_files(design, staging)
        manifest = design.manifest(verilog_file)
        manifest["lint_waivers"] = f"{top}.vlt"
        manifest["rom_files"] = sorted(p.name for p in staging.glob("rom_*.hex"))
        if lint_check:
            from hw.lint import lint

            result = lint(staging / verilog_file, staging / f"{top}.vlt", top)
            if result.returncode != 0:
                raise CliError(f"generated Verilog fails verilator --lint-only -Wall: {result.stderr.strip().splitlines()[0]}")
            manifest["lint"] = "verilator --lint-only -Wall: clean with the waivers file"
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            backup = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old."))
            os.replace(out_dir, backup / "old")
            os.replace(staging, out_dir)
            shutil.rmtree(backup)
        else:
            os.replace(staging, out_dir)
        return manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_rom_files(design: Design, folder: Path) -> None:
    """ROM contents as $readmemh-style hex (for users' own memories; the Verilog embeds them)."""
    q = design.layer
    w_hex = [" ".join(f"{int(v) & ((1 << q.fmt.weight_bits) - 1):0{(q.fmt.weight_bits + 3) // 4}x}" for v in row) for row in q.weight]
    (folder / "rom_weights.hex").write_text("\n".join(w_hex) + "\n")
    acc = q.fmt.acc_bits
    o_hex = [" ".join(f"{int(v) & ((1 << acc) - 1):0{(acc + 3) // 4}x}" for v in row) for row in q.offset]
    (folder / "rom_offsets.hex").write_text("\n".join(o_hex) + "\n")
    if hasattr(design.engine, "spectrum_words"):  # --arch fft: one row per channel, bit-reversed bins
        words, width = design.engine.spectrum_words(), 2 * design.engine.params.spectrum_bits
        m = design.engine.m
        rows = [" ".join(f"{w:0{(width + 3) // 4}x}" for w in words[c * m : (c + 1) * m]) for c in range(q.channels)]
        (folder / "rom_spectrum.hex").write_text("\n".join(rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = {flag.replace("-", "_"): getattr(args, flag.replace("-", "_")) for flag in FFT_FLAGS}
    options = {k: v for k, v in options.items() if v is not None}
    spec = DesignSpec(
        arch=args.arch, n=args.n, bits=args.bits, channels=args.channels, parallel=args.parallel,
        weights=args.weights, seed=args.seed, name=args.name, options=options,
    )
    try:
        if options and args.arch != "fft":
            raise CliError(f"--{next(iter(options)).replace('_', '-')} applies to --arch fft only")
        if args.name is not None and not args.name.isidentifier():
            raise CliError(f"--name must be a Verilog identifier; got {args.name!r}")
        design = build_design(spec)
        manifest = write_design(design, Path(args.out), lint_check=not args.no_lint)
    except (ValueError, CliError) as exc:
        print(f"hw.generate: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {Path(args.out) / manifest['verilog']} (latency {manifest['latency_cycles']} cycles, "
          f"{manifest['cycles_per_sample']} cycle(s)/sample) and manifest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
