"""From user options to an elaborated top level, its Verilog and its manifest.

`hw.generate` (the CLI) and `sim` (the benches) both go through `build_design`, so the
bench always simulates exactly what a user would generate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

import numpy as np
from amaranth.back import verilog
from amaranth.lib import wiring

from golden.bundle import (
    DEFAULT_BUNDLE_DIR,
    RANDOM_WEIGHTS,
    Bundle,
    default_bundle_path,
    load_weights,
    weights_sha256,
)
from golden.calibration import CALIBRATION_RULES, DEFAULT_PERCENTILE, check_percentile
from golden.checks import as_finite_array
from golden.cli import UserError
from golden.fast_parc_int import plan_with_options
from golden.fixed import FRAC_LIMIT, Rounding
from golden.native_fft import NativeParams
from golden.pfa import supported
from golden.quant import (
    INPUT_SCALES,
    OUTPUT_SCALES,
    PE_OFFSETS,
    FloatLayer,
    QuantizedLayer,
    check_acc_bits,
    check_bias_bits,
    check_bits,
    check_n_bits,
    exact_acc_bits,
    quantize_layer,
    random_layer,
)
from golden.weights import find_parc_layers, load_checkpoint
from hw.direct import DirectEngine
from hw.fast_parc import FastParcEngine
from hw.names import check_top_name
from hw.native_fast_parc import NativeFastParcEngine
from hw.target import TARGETS, sim_model_files
from hw.top import AxisTop

GENERATOR_VERSION = "0.1.0"
DEFAULT_CHANNELS = 4


@dataclass(frozen=True)
class DesignSpec:
    """Everything that determines the generated hardware."""

    arch: str = "direct"
    n: int = 56
    bits: int = 8
    channels: int | None = None  # None: all of the weights' channels (DEFAULT_CHANNELS for random); C: the first C
    parallel: int | None = None  # None: N (direct: 1 sample / clock)
    # None: the shipped trained bundle for N (N=56/28; other N are refused, never silently random);
    # "random" (RANDOM_WEIGHTS): seeded stand-in weights; else a bundle, float .npz or checkpoint path
    weights: str | None = None
    seed: int = 0  # seed of weights="random"
    layer: str | None = None  # the ParC layer of a checkpoint given as ``weights``
    name: str | None = None
    options: dict = field(default_factory=dict)  # architecture-specific (FFT widths, ...)
    # hw.target.TARGETS: how hard multipliers and block RAMs are written (generic Verilog, ECP5
    # primitives with their registers on, or Vivado attributes); ports, latency and results are
    # the same for all. Part of `spec_key` (asdict), so caches of different targets stay apart.
    target: str = "generic"
    # Scales (issue 15, `golden.quant.quantize_layer`): a .npy of float inputs (..., C, N) to
    # calibrate on (None: the bundle's own activations, if any), the rule that turns it into
    # clip levels, and whether output scales are powers of two or real factors folded into the
    # weights. The defaults reproduce the power-of-two scales of every earlier design.
    calibration: str | None = None
    calibration_rule: str = "max"
    percentile: float | None = None  # the percentile rule's percentile (None: golden.calibration's 99.99)
    out_scale: str = "pow2"
    pe_offset: str = "auto"  # golden.quant.PE_OFFSETS: the offset ROM from the quantized or the float PE
    in_scale: str = "pow2"  # golden.quant.INPUT_SCALES: input scales a power of two, or real per channel
    # fractional bits of the stream formats: None ("auto") = chosen from the calibration data or
    # the weight bound (golden.quant.quantize_layer); an integer pins the format
    data_frac: int | None = None
    out_frac: int | None = None
    # Widths apart from the data's (``bits``): None = ``bits`` (issue 15: W4A8 and the like)
    weight_bits: int | None = None
    out_bits: int | None = None
    rounding: str = "half-even"  # golden.fixed.Rounding: every rounding of the datapath and the quantizer
    overflow: str = "saturate"  # OVERFLOWS: the output saturates or wraps
    weight_scale: str = "per-channel"  # WEIGHT_SCALES: a weight frac per channel or one per tensor
    # hls4ml-style separate widths (issue 15, `golden.quant.quantize_layer`): None = exact
    # accumulator / bias in accumulator LSBs; K = saturate the accumulator to K bits before the
    # output shift / quantize the bias in a K-bit format of its own
    acc_bits: int | None = None
    bias_bits: int | None = None

    @property
    def top_name(self) -> str:
        """``parc_<arch>_n<N>_b<bits>``, plus ``_w<weight bits>`` / ``_o<output bits>`` where
        those differ from the data bits and ``_a<acc bits>`` / ``_bb<bias bits>`` where given
        (so two such designs never share a name)."""
        if self.name:
            return self.name
        widths = "".join(
            f"_{tag}{value}"
            for tag, value in (("w", self.weight_bits), ("o", self.out_bits))
            if value not in (None, self.bits)
        )
        widths += "".join(
            f"_{tag}{value}" for tag, value in (("a", self.acc_bits), ("bb", self.bias_bits)) if value is not None
        )
        return f"parc_{self.arch}_n{self.n}_b{self.bits}{widths}"


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

    @property
    def top_name(self) -> str:
        return self.spec.top_name

    @property
    def sim_files(self) -> list[Path]:
        """Verilog a simulator needs beside `verilog` (behavioural twins of the target's vendor
        primitives, `hw.target.sim_model_files`); synthesis must not read them."""
        return sim_model_files(self.spec.target)

    def verilog(self) -> str:
        """The Verilog text (elaborated once: build caches hash it on every use)."""
        if self._verilog is None:
            self._verilog = verilog.convert(self.top, name=self.spec.top_name, emit_src=False)
        return self._verilog

    def manifest(self, verilog_file: str) -> dict:
        """The contract for drivers: formats, timing, ports, ROM file layout and weight provenance."""
        fmt = self.layer.fmt
        record = {
            "generator": f"parc-hw {GENERATOR_VERSION}",
            "top": self.spec.top_name,
            "verilog": verilog_file,
            "arch": self.spec.arch,
            "target": self.spec.target,
            "fft_impl": self.arch_info.get("fft_impl"),  # --arch fft: "native" or "padded"; None otherwise
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
            **({} if fmt.acc_sat_bits is None else {"acc_sat_bits": fmt.acc_sat_bits}),
            "rounding": str(fmt.rounding),
            "saturate": fmt.saturate,
            "pe_handling": "folded: ROM offset[c,i] = corr(w_q, pe_q)[i] + b_q added to the accumulator",
            "framing": "one frame = N samples of one channel, tlast on the N-th; channels 0..C-1 in turn",
            "status_ports": {name: len(getattr(self.top, name)) for name in self.top.status},
            "quantizer_saturated": dict(self.layer.saturated),
            "scales": self._scales_record(),
            "tdata": self._tdata(),
            "rom_layout": self._rom_layout(),
            "weights": self._weights_record(),
            **self.arch_info,
        }
        if self.layer.exact_offset is not None:  # the engines word the offset for the quantized PE
            record["pe_handling"] = record["pe_handling"].replace(
                "corr(w_q, pe_q)[i] + b_q", "round(corr(w_q, pe)[i] + b) from the float PE and bias"
            )
        return record

    def _scales_record(self) -> dict:
        """How the scales were chosen, and what one output LSB of each channel is worth (the
        next layer folds it: with ``out_scale`` shared/per-channel it is not a power of two)."""
        spec, bundle = self.spec, self.bundle
        if spec.calibration is not None:
            source = f"file {Path(spec.calibration).name}"
        elif bundle is not None and bundle.calibration is not None:
            source = f"bundle activations ({bundle.calibration.shape[0]} rows)"
        else:
            source = None
        record: dict = {
            "calibration": source,
            "calibration_rule": spec.calibration_rule,
            **({"percentile": percentile_of(spec)} if spec.calibration_rule == "percentile" else {}),
            "out_scale": spec.out_scale,
            "pe_offset": "exact" if self.layer.exact_offset is not None else "quantized",
            "output_lsb": [float(v) for v in self.layer.output_lsb],
        }
        # the optional records are absent at their defaults: earlier manifests stay identical
        if self.layer.input_scale is not None:  # --in-scale per-channel: what the sender divides by
            record.update(in_scale=spec.in_scale, input_lsb=[float(v) for v in self.layer.input_lsb])
        if self.layer.bias_frac is not None:  # --bias-bits: the bias's own format, per channel
            record.update(bias_bits=self.layer.fmt.bias_bits, bias_frac=self.layer.bias_frac.tolist())
        return record

    def _tdata(self) -> dict:
        """tdata is exactly one sample wide; AXI4-Stream wants whole bytes, so say how to pad."""
        fmt = self.layer.fmt
        s_bits, m_bits = fmt.data.bits, fmt.output.bits
        s_bytes, m_bytes = -(-s_bits // 8) * 8, -(-m_bits // 8) * 8
        note = (
            "one signed two's complement sample per beat; tdata is exactly as wide as the sample, not padded "
            "to whole bytes (an engine inside the fabric needs no unused wires)."
        )
        if (s_bits, m_bits) == (s_bytes, m_bytes):
            note += " Both widths are whole bytes here."
        else:
            note += (
                f" For byte-oriented AXI4-Stream IP: sign-extend m_axis_tdata to {m_bytes} bits, and pass the low "
                f"{s_bits} bits of a {s_bytes}-bit input word (whose upper bits must copy the sign bit) to s_axis_tdata."
            )
        return {"s_axis_tdata_bits": s_bits, "m_axis_tdata_bits": m_bits, "byte_padded": False, "note": note}

    def _rom_layout(self) -> dict:
        """The word layout of every rom_*.hex file `hw.generate.write_rom_files` writes."""
        fmt, c, n = self.layer.fmt, self.layer.channels, self.layer.fmt.n

        def hex_file(words: int, bits: int, meaning: str) -> dict:
            return {
                "rows": c,
                "row": "channel c (row 0 = channel 0)",
                "words_per_row": words,
                "bits_per_word": bits,
                "hex_digits_per_word": -(-bits // 4),
                "encoding": "two's complement, masked to bits_per_word, lowercase hex, words separated by one space",
                "meaning": meaning,
            }

        layout = {
            "rom_weights.hex": hex_file(
                n,
                fmt.weight_bits,
                "word k = w_q[c, k], the tap applied to x[(i + k) mod N]; value = w_q * 2**-weight_frac[c]",
            ),
            "rom_offsets.hex": hex_file(
                n,
                fmt.acc_bits,
                "word i = offset[c, i] = corr(w_q, pe_q)[i] + b_q at the accumulator LSB (2**-(input frac + weight_frac[c]))",
            ),
        }
        engine = self.engine
        if isinstance(engine, NativeFastParcEngine):  # the ROM of hw.spectral_stage.SpectralStage.rom_words
            sb, rows = engine.params.spectrum_bits, 2 * engine.plan.pairs
            words = len(engine.spectrum_words()) // rows  # N // 2 + 1 bins, padded to a power of two
            layout["rom_spectrum.hex"] = {
                **hex_file(
                    words,
                    3 * sb,
                    f"word k < N // 2 + 1 = {engine.params.bins} holds (c, c + d, d - c) of Hq[c', k] = c + j d = "
                    "round(conj(DFT_N(w_q[c']))[k] / N * 2**native_fft.spectrum_exp[c']); words k >= N // 2 + 1 are 0",
                ),
                "rows": rows,
                "row": "channel c' (row 0 = channel 0); channels 2p and 2p+1 share one transform, so an odd channel "
                "count has a last, all-zero row for the zero channel that pads the last pair",
                "encoding": f"c in bits {sb - 1}..0, c + d in bits {2 * sb - 1}..{sb}, d - c in bits "
                f"{3 * sb - 1}..{2 * sb}, each {sb}-bit two's complement; lowercase hex, words separated by one space",
                "rom_address": "row * words_per_row + k: the rows in order are the ROM image ($readmemh)",
            }
        elif isinstance(engine, FastParcEngine):
            sb = engine.params.spectrum_bits
            layout["rom_spectrum.hex"] = {
                **hex_file(
                    engine.m,
                    2 * sb,
                    "word k = round(conj(DFT_M(w_q[c] zero-padded to M))[bitrev(k)] * 2**fft.spectrum_exp[c])",
                ),
                "encoding": f"real part in bits {sb - 1}..0, imaginary part in bits {2 * sb - 1}..{sb}, each {sb}-bit two's complement; lowercase hex, words separated by one space",
                "rom_address": "row * words_per_row + k: the rows in order are the ROM image ($readmemh)",
            }
        return layout

    def _weights_record(self) -> dict:
        """Where the weights came from, portably (no install paths), with one fingerprint definition."""
        layer, bundle, c = self.float_layer, self.bundle, self.layer.channels
        record: dict = {"layer": layer.name}
        if bundle is None:
            record.update(
                source=f"random(seed={self.spec.seed})",
                kind="random",
                direction=None,
                file_sha256=None,
                channels_in_source=None,
            )
        else:
            shipped = bundle.portable_source.startswith("shipped:")
            record.update(
                source=bundle.portable_source,
                kind=("shipped " if shipped else "") + bundle.kind,
                direction=bundle.direction,
                file_sha256=bundle.file_sha256,
                channels_in_source=bundle.channels_in_source,
            )
            record.update(
                {k: bundle.meta[k] for k in ("layout", "stored_n", "resized", "state_dict_in") if k in bundle.meta}
            )
        calibration = None if bundle is None else bundle.calibration
        record.update(
            channels_used=list(range(c)),
            sha256=weights_sha256(layer),
            sha256_of="weight (C,N), pe (C,N), bias (C,) as used, float64 little-endian, C order, concatenated",
            direction_meaning="H: the layer runs down the columns (x[:, :, i, w]); W: along the rows (x[:, :, h, i])",
            scales_from=(
                f"calibration activations ({calibration.shape[0]} rows of the trained network)"
                if calibration is not None
                else "no activations: input frac bits-3, output scale from the weight bound"
            ),
        )
        return record


def _direct(spec: DesignSpec, layer: QuantizedLayer) -> tuple[wiring.Component, dict]:
    return DirectEngine(layer, spec.parallel, target=spec.target), {}


FFT_OPTIONS = {  # DesignSpec.options key (hw.generate flag, '_' -> '-') -> golden.fast_parc_int.FftParams.default keyword
    "fft_size": "m",
    "twiddle_bits": "twiddle_bits",
    "spectrum_bits": "spectrum_bits",
    "guard_bits": "guard_bits",
    "headroom_bits": "headroom_bits",
    "input_shift": "input_shift",
}


FFT_IMPLS = ("native", "padded")
NATIVE_OPTIONS = {  # DesignSpec.options key -> golden.native_fft.NativeParams keyword
    "spectrum_bits": "spectrum_bits",
    "guard_bits": "guard_bits",
    "input_shift": "input_shift",
}


def fft_impl_for(n: int, requested: str | None) -> str:
    """The FFT engine ``--arch fft`` builds: native (prime-factor) when N factors into the
    supported Winograd modules, padded radix-2 otherwise; ``requested`` forces one. (Auto
    also builds padded when the native plan refuses the widths: `_fft`.)"""
    if requested is None or requested == "auto":
        return "native" if supported(n) else "padded"
    if requested not in FFT_IMPLS:
        raise UserError(f"--fft-impl must be one of auto, {', '.join(FFT_IMPLS)}; got {requested!r}")
    if requested == "native" and not supported(n):
        raise UserError(
            f"--fft-impl native needs N that factors into coprime Winograd modules "
            f"(2/4/8 times 3, 5, 7: e.g. 7, 12, 14, 21, 28, 56); N={n} does not: use --fft-impl padded"
        )
    return requested


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _native(spec: DesignSpec, layer: QuantizedLayer, options: dict) -> tuple[wiring.Component, dict]:
    """The native prime-factor engine (`hw.native_fast_parc`); options outside its set are
    refused by name, and a plan that cannot be built is one line naming the options."""
    padded_only = sorted(set(options) - set(NATIVE_OPTIONS))
    if padded_only:
        raise UserError(
            f"{', '.join(map(_flag, padded_only))} applies to --fft-impl padded only "
            f"(the native engine takes {', '.join(map(_flag, NATIVE_OPTIONS))})"
        )
    fmt = layer.fmt
    kwargs: dict[str, Any] = {NATIVE_OPTIONS[k]: int(v) for k, v in options.items()}
    try:
        params = NativeParams.default(
            fmt.n, fmt.data.bits, output_bits=fmt.output.bits, rounding=fmt.rounding, **kwargs
        )
        engine = NativeFastParcEngine(layer, params, target=spec.target)
    except ValueError as exc:
        chosen = ", ".join(f"{_flag(k)}={v}" for k, v in options.items()) or "the defaults"
        said = str(exc)
        for key in NATIVE_OPTIONS:  # golden names its keywords; say them as the user did
            said = re.sub(rf"\b{key}\b", _flag(key), said)
        raise UserError(f"--fft-impl native with {chosen}: {said}") from None
    return engine, engine.info()


def _fft(spec: DesignSpec, layer: QuantizedLayer) -> tuple[wiring.Component, dict]:
    """The Fast-ParC engine: native (`_native`) or padded radix-2 with the user's FFT options,
    range- and accuracy-checked by `golden.fast_parc_int.plan_with_options`; its messages name
    the options as CLI flags."""
    unknown = set(spec.options) - set(FFT_OPTIONS) - {"fft_impl"}
    if unknown:
        named = ", ".join("--" + k.replace("_", "-") for k in sorted(unknown))
        raise UserError(
            f"unknown fft options {named}; choose from {', '.join('--' + k.replace('_', '-') for k in FFT_OPTIONS)}"
        )
    requested = spec.options.get("fft_impl")
    impl = fft_impl_for(spec.n, requested)
    options = {k: v for k, v in spec.options.items() if v is not None and k != "fft_impl"}
    if impl == "native":
        try:
            return _native(spec, layer, options)
        except UserError:
            # auto: N factors, but the native plan cannot carry these widths (data above about
            # 18 bits with the default guard bits): the padded engine can, so auto builds that
            if requested not in (None, "auto") or not set(options) <= set(NATIVE_OPTIONS):
                raise
    kwargs = {FFT_OPTIONS[k]: int(v) for k, v in options.items()}
    flags = {kw: "--" + key.replace("_", "-") for key, kw in FFT_OPTIONS.items()}
    plan = plan_with_options(layer, kwargs, flags)
    engine = FastParcEngine(layer, plan.params, target=spec.target)
    return engine, {"fft_impl": "padded", **engine.info()}


ARCHITECTURES: dict[str, Callable[[DesignSpec, QuantizedLayer], tuple[wiring.Component, dict]]] = {
    "direct": _direct,
    "fft": _fft,
}


def load_float_layer(spec: DesignSpec) -> tuple[FloatLayer, Bundle | None]:
    """The float weights ``spec`` names, and their bundle (None for random weights).

    Random weights are used only when asked for (``weights="random"``): a design built from
    invented weights must never pass for one built from a trained layer.
    """
    if spec.weights == RANDOM_WEIGHTS:
        if spec.layer is not None:
            raise UserError(
                "--layer picks a layer of a checkpoint given with --weights; it does not apply to --weights random"
            )
        return random_layer(spec.n, spec.channels or DEFAULT_CHANNELS, spec.seed), None
    if spec.weights is not None and not spec.weights.strip():  # Path("") would quietly mean the current folder
        raise UserError("--weights is empty; give a weight file, or 'random' for seeded stand-in weights")
    path: str | Path | None = spec.weights
    if path is None:
        if spec.layer is not None:
            raise UserError("--layer needs --weights CHECKPOINT (the file that holds the layer)")
        path = default_bundle_path(spec.n)
        if path is None:
            shipped = ", ".join(
                sorted((p.stem.removeprefix("parc_n") for p in DEFAULT_BUNDLE_DIR.glob("parc_n*.npz")), key=int)
            )
            raise UserError(
                f"no trained weights ship for N={spec.n} (only N={shipped or 'none'}); pass --weights FILE "
                "(a .npz bundle, or a checkpoint with --layer NAME) or --weights random for seeded stand-in weights"
            )
    bundle = load_weights(path, n=spec.n, layer=spec.layer)
    if spec.channels is not None:
        bundle = bundle.first_channels(spec.channels)
    return bundle.layer, bundle


ROUNDINGS = tuple(str(r) for r in Rounding)
OVERFLOWS = ("saturate", "wrap")
WEIGHT_SCALES = ("per-channel", "per-tensor")


def check_choice(value: str, choices: tuple[str, ...], flag: str) -> str:
    if value not in choices:
        raise UserError(f"{flag} must be one of {', '.join(choices)}; got {value!r}")
    return value


def calibration_data(spec: DesignSpec, layer: FloatLayer, bundle: Bundle | None) -> np.ndarray | None:
    """The float inputs the scales are calibrated on: ``spec.calibration`` (a .npy of shape
    (..., C, N) for the C channels used), else the bundle's activations, else None (scales
    from the weight bound). A file that cannot serve is a one-line `UserError`."""
    if spec.calibration is None:
        return None if bundle is None else bundle.calibration
    return load_calibration(spec.calibration, (layer.channels, layer.n), "float inputs (channels used x N)")


def load_calibration(name: str, trailing: tuple[int, ...], what: str) -> np.ndarray:
    """``--calibration NAME``: a non-empty .npy of finite reals whose last axes are
    ``trailing`` (the 1-D engine's (C, N), the mixer's (C, H, W)); anything else is a one-line
    `UserError` that names the file and the shape wanted (``what`` says what the axes are)."""
    path = Path(name)
    if not path.is_file():
        raise UserError(f"--calibration {name}: no such file")
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"--calibration {path.name}: not a NumPy .npy array ({exc})") from None
    if not isinstance(values, np.ndarray):  # an .npz archive loads as a mapping of arrays
        raise UserError(f"--calibration {path.name}: not a NumPy .npy array (an .npz archive holds several)")
    if values.ndim < len(trailing) or tuple(values.shape[-len(trailing) :]) != trailing or values.size == 0:
        want = ", ".join(str(n) for n in trailing)
        raise UserError(f"--calibration {path.name}: shape {values.shape}; want (..., {want}) {what}")
    try:
        return as_finite_array(values, "the values")
    except ValueError as exc:  # the shared check also refuses complex data (a cast would drop .imag)
        raise UserError(f"--calibration {path.name}: values must be finite real numbers ({exc})") from None


def parse_design_arguments(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``p.parse_args(argv)`` with ``--config FILE`` (TOML) first: the file's keys are the
    options' long names (``weight-bits = 4`` or ``weight_bits = 4``; ``true`` for a flag), read
    as if written on the command line before the real arguments, so every check and message is
    argparse's own and an option given on the command line overrides the file's."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(argv)
    if known.config is None:
        return p.parse_args(argv)
    return p.parse_args([*config_arguments(p, Path(known.config)), *argv])


def config_arguments(p: argparse.ArgumentParser, path: Path) -> list[str]:
    """A design's TOML file as command-line tokens of ``p`` (`parse_design_arguments`)."""
    try:
        table = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"--config {path.name}: not a TOML file ({exc})") from None
    flags = {s: action for action in p._actions for s in action.option_strings if s.startswith("--")}
    tokens: list[str] = []
    for key, value in table.items():
        flag = "--" + key.replace("_", "-")
        action = flags.get(flag)
        if action is None or flag in ("--config", "--help"):
            raise UserError(f"--config {path.name}: unknown option {key!r} (keys are the long option names)")
        if action.nargs == 0:  # a flag: true sets it, false leaves it off
            if not isinstance(value, bool):
                raise UserError(f"--config {path.name}: {key} is a flag; write true or false")
            tokens += [flag] if value else []
        elif isinstance(value, (bool, dict, list)):
            raise UserError(f"--config {path.name}: {key} needs one value; got {value!r}")
        else:
            tokens += [flag, str(value)]
    return tokens


def add_design_arguments(p: argparse.ArgumentParser) -> None:
    """The options that choose the hardware, shared by `hw.generate` and `sim.run` so a
    simulated design is named exactly as a generated one."""
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a TOML file of options for this design (keys = long option names, e.g. n = 56, weight-bits = 4); "
        "options on the command line override it",
    )
    p.add_argument("--arch", default="direct", help=f"engine architecture: {', '.join(sorted(ARCHITECTURES))}")
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="feature length N (2..1024; 56/28/14/7 in the paper); required unless --layer names a checkpoint's "
        "layer or block, whose stored N is the default",
    )
    p.add_argument("--bits", type=int, default=8, help="data/weight/output bits (4..24, default 8)")
    p.add_argument("--data-bits", type=int, default=None, help="input data bits (default --bits)")
    p.add_argument("--weight-bits", type=int, default=None, help="weight bits (default --bits), e.g. 4 for W4A8")
    p.add_argument("--out-bits", type=int, default=None, help="output bits (default --bits)")
    p.add_argument("--rounding", default="half-even", choices=ROUNDINGS, help="every rounding (default half-even)")
    p.add_argument(
        "--overflow",
        default="saturate",
        choices=OVERFLOWS,
        help="the output saturates (default; the saturation counter counts it) or wraps",
    )
    p.add_argument(
        "--acc-bits",
        type=int,
        default=None,
        metavar="K",
        help="accumulator width: exact (default) or K bits, from the output bits to the exact width (the "
        "manifest's acc_bits), saturating the sum of products and PE/bias offset to K bits before the output "
        "shift (hls4ml's accumulator type)",
    )
    p.add_argument(
        "--bias-bits",
        type=int,
        default=None,
        metavar="K",
        help="bias width: in accumulator LSBs (default) or a power-of-two format of K bits of its own (4..acc_bits-2, "
        "rounded and saturated there, then aligned into the accumulator; the manifest's scales.bias_frac)",
    )
    p.add_argument(
        "--weight-scale",
        default="per-channel",
        choices=WEIGHT_SCALES,
        help="a weight scale per channel (default) or one for the whole tensor",
    )
    p.add_argument(
        "--channels",
        type=int,
        default=None,
        help="use the first C channels of the weights (default: all of them; 4 for --weights random)",
    )
    p.add_argument("--parallel", type=int, default=None, help="multipliers P for --arch direct (default N)")
    p.add_argument(
        "--weights",
        default=None,
        help="exported bundle or float .npz (weight [C,N], bias [C], pe [C,N]); a checkpoint (.pt/.pth/.ckpt/"
        ".bin/.npz/.safetensors) with --layer; or 'random' for seeded stand-in weights "
        "(default: the shipped trained layer, N=56 and N=28 only)",
    )
    p.add_argument(
        "--layer",
        default=None,
        help="ParC layer of the --weights checkpoint, e.g. stages.0.0.gcc_H (python -m golden.weights FILE lists them)",
    )
    p.add_argument(
        "--target",
        default="generic",
        choices=TARGETS,
        help="how hard multipliers and block RAMs are written: generic (portable Verilog, the default), ecp5 "
        "(Lattice MULT18X18D / DP16KD instances with their registers on; simulation needs the *_sim.v models "
        "written beside the Verilog), xc7 (generic plus Vivado use_dsp / ram_style attributes). Same ports, "
        "latency and results for all",
    )
    p.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="a .npy of float inputs shaped (..., C, N) to choose the scales from (default: the trained "
        "bundle's own activations; none for random weights)",
    )
    p.add_argument(
        "--calibration-rule",
        default="max",
        choices=CALIBRATION_RULES,
        help="what range of the calibration data (and of each channel's outputs) maps to full scale: max "
        "(nothing saturates, the default), percentile (99.99th, or --percentile), mse (least quantization "
        "error, as TensorRT)",
    )
    p.add_argument(
        "--data-frac",
        type=frac_argument,
        default=None,
        help="fractional bits of the input format: auto (default: from the calibration data, else bits - 3) or an "
        "integer (the previous layer's output frac, say)",
    )
    p.add_argument(
        "--out-frac",
        type=frac_argument,
        default=None,
        help="fractional bits of the output format: auto (default: from the calibration data or the weight bound) "
        "or an integer (then no channel is refused as an outlier: the format is yours)",
    )
    p.add_argument(
        "--percentile",
        type=float,
        default=None,
        help="the percentile of |v| that --calibration-rule percentile maps to full scale (0 < P <= 100, "
        "default 99.99)",
    )
    p.add_argument(
        "--out-scale",
        default="pow2",
        choices=OUTPUT_SCALES,
        help="output scales: pow2 (one power of two for all channels, the default), shared or per-channel (real "
        "scales folded into the weights and bias; manifest output_scale gives each channel's LSB value)",
    )
    p.add_argument(
        "--pe-offset",
        default="auto",
        choices=PE_OFFSETS,
        help="the offset ROM (PE and bias folded together): quantized = corr(w_q, pe_q) + b_q, exact = corr(w_q, "
        "pe) + b rounded once (no PE quantization error); auto (default) = exact with a folded --out-scale "
        "or --in-scale",
    )
    p.add_argument(
        "--in-scale",
        default="pow2",
        choices=INPUT_SCALES,
        help="input scales: pow2 (the input format's power of two, the default) or per-channel (a real scale per "
        "channel from the calibration data, folded into the weights and PE; manifest scales.input_lsb gives each "
        "channel's LSB value, which the sender divides by)",
    )


def spec_from_arguments(args: argparse.Namespace, *, seed: int, **extra: Any) -> DesignSpec:
    """The `DesignSpec` that `add_design_arguments`' options describe."""
    n = args.n
    if n is None:
        if args.layer is None or args.weights in (None, RANDOM_WEIGHTS):
            raise UserError("--n is required (the feature length N), unless --weights CHECKPOINT --layer NAME says it")
        n = stored_n(args.weights, args.layer)
    return DesignSpec(
        arch=args.arch,
        n=n,
        bits=args.bits if args.data_bits is None else args.data_bits,
        weight_bits=args.weight_bits,
        out_bits=args.out_bits,
        rounding=args.rounding,
        overflow=args.overflow,
        weight_scale=args.weight_scale,
        acc_bits=args.acc_bits,
        bias_bits=args.bias_bits,
        channels=args.channels,
        parallel=args.parallel,
        weights=args.weights,
        layer=args.layer,
        seed=seed,
        target=args.target,
        calibration=args.calibration,
        calibration_rule=args.calibration_rule,
        percentile=args.percentile,
        data_frac=args.data_frac,
        out_frac=args.out_frac,
        out_scale=args.out_scale,
        pe_offset=args.pe_offset,
        in_scale=args.in_scale,
        **extra,
    )


def stored_n(weights: str, layer: str) -> int:
    """The N a checkpoint's layer runs at (a block: its ParC-H half's, the map height), for
    ``--n`` left out: a checkpoint says it, so the user need not repeat it."""
    name = layer.strip().rstrip(".")
    infos = {i.name: i for i in find_parc_layers(load_checkpoint(Path(weights)).state)}
    for candidate in (name, f"{name}.gcc_H"):
        if candidate in infos:
            return int(infos[candidate].n)
    raise UserError(f"--layer: no ParC layer or block named '{name}' in {weights}; available: {', '.join(infos)}")


def check_frac(frac: int | None, flag: str) -> int | None:
    """A pinned fractional-bit count (None: auto), within the formats' limit."""
    if frac is not None and (isinstance(frac, bool) or not isinstance(frac, int) or abs(frac) > FRAC_LIMIT):
        raise UserError(f"{flag} must be 'auto' or an integer in -{FRAC_LIMIT}..{FRAC_LIMIT}; got {frac!r}")
    return frac


def frac_argument(text: str) -> int | None:
    """``--data-frac``/``--out-frac`` values: ``auto`` or an integer."""
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer; got {text!r}") from None


def percentile_of(spec: DesignSpec) -> float:
    """The percentile rule's percentile: ``--percentile`` (0 < P <= 100, with
    ``--calibration-rule percentile`` only: any other rule would silently ignore it), else 99.99."""
    if spec.percentile is None:
        return DEFAULT_PERCENTILE
    if spec.calibration_rule != "percentile":
        raise UserError(f"--percentile applies to --calibration-rule percentile (not {spec.calibration_rule})")
    try:
        check_percentile(spec.percentile)
    except ValueError:
        raise UserError(f"--percentile must be in (0, 100]; got {spec.percentile!r}") from None
    return float(spec.percentile)


def check_spec_widths(spec: DesignSpec, n: int) -> None:
    """The options that size the hardware of a layer of length ``n`` (target, widths,
    accumulator, bias, name, ``--parallel``), each a one-line `UserError` when out of range."""
    if spec.target not in TARGETS:
        raise UserError(f"--target must be one of {', '.join(TARGETS)}; got {spec.target!r}")
    check_n_bits(n, spec.bits)
    for flag, value in (("--weight-bits", spec.weight_bits), ("--out-bits", spec.out_bits)):
        if value is not None:
            check_bits(value, flag)
    exact = exact_acc_bits(n, spec.bits, spec.weight_bits or spec.bits)
    check_acc_bits(spec.acc_bits, exact, spec.out_bits or spec.bits, "--acc-bits")
    check_bias_bits(spec.bias_bits, exact, "--bias-bits")
    if spec.name is not None:
        check_top_name(spec.name)
    if spec.parallel is not None and spec.arch != "direct":
        raise UserError(f"--parallel applies to --arch direct only (the {spec.arch} engine streams 1 sample/clock)")


def quantize_keywords(spec: DesignSpec, calibrated: bool, source: str) -> dict[str, Any]:
    """`golden.quant.quantize_layer`'s keywords for ``spec``, each option checked (one-line
    `UserError`s naming the flag); shared by the 1-D layer and both halves of a mixer so the
    two cannot drift. ``calibrated``: calibration data exists (``source`` says what lacks it)."""
    in_scale = check_choice(spec.in_scale, INPUT_SCALES, "--in-scale")
    if not calibrated and in_scale != "pow2":
        raise UserError(
            f"--in-scale {spec.in_scale} chooses each channel's input scale from calibration data: give "
            f"--calibration FILE ({source} bring no activations)"
        )
    return {
        "weight_bits": spec.weight_bits,
        "output_bits": spec.out_bits,
        "rounding": Rounding(check_choice(spec.rounding, ROUNDINGS, "--rounding")),
        "saturating": check_choice(spec.overflow, OVERFLOWS, "--overflow") == "saturate",
        "per_channel": check_choice(spec.weight_scale, WEIGHT_SCALES, "--weight-scale") == "per-channel",
        "calibration_rule": check_choice(spec.calibration_rule, CALIBRATION_RULES, "--calibration-rule"),
        "calibration_percentile": percentile_of(spec),
        "data_frac": check_frac(spec.data_frac, "--data-frac"),
        "output_frac": check_frac(spec.out_frac, "--out-frac"),
        "out_scale": check_choice(spec.out_scale, OUTPUT_SCALES, "--out-scale"),
        "pe_offset": check_choice(spec.pe_offset, PE_OFFSETS, "--pe-offset"),
        "in_scale": in_scale,
        "acc_bits": spec.acc_bits,
        "bias_bits": spec.bias_bits,
    }


def build_design(spec: DesignSpec) -> Design:
    """Validate the spec, quantize the weights and elaborate the engine inside the AXI top."""
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"unknown arch {spec.arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    check_spec_widths(spec, spec.n)
    if spec.channels is not None and spec.channels < 1:
        raise ValueError(f"channels must be >= 1; got {spec.channels}")
    float_layer, bundle = load_float_layer(spec)
    calibration = calibration_data(spec, float_layer, bundle)
    layer = quantize_layer(
        float_layer, spec.bits, calibration, **quantize_keywords(spec, calibration is not None, "the weights")
    )
    if spec.out_frac is not None and int(layer.fmt.output.frac) != spec.out_frac:  # quantize_layer kept shifts >= 0
        raise UserError(
            f"--out-frac {spec.out_frac} is finer than the accumulator holds (output shifts must stay >= 0): at most "
            f"{int(layer.fmt.output.frac)} with these weights and --data-frac"
        )
    engine, info = ARCHITECTURES[spec.arch](spec, layer)
    top = AxisTop(engine)
    for elaboratable in (engine, top):  # a Design may serve only as a model: no "unused" warning
        elaboratable._MustUse__silence = True
    return Design(spec, engine, top, layer, float_layer, bundle, info)


def spec_key(spec: DesignSpec) -> str:
    """Stable hash of a spec (plus weight file contents) for build caches."""
    d = asdict(spec)
    if spec.weights and spec.weights != RANDOM_WEIGHTS:
        d["weights_sha"] = hashlib.sha256(Path(spec.weights).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]
