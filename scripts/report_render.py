"""Render the bit-accuracy report: Markdown, self-contained HTML, JSON and PNG plots.

Rows are named by engine (``engine``: direct, fft-native, fft-padded, see
`scripts.synth.VARIANTS`); a report.json written before the engine variants has only
``arch``, which then serves as the engine's name.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from golden.files import OutputFolder
from scripts.accuracy import ideal_sqnr_db
from scripts.precision import grid_markdown, heat_cells, plot_heatmap
from scripts.synth import engines_sentence

LAYER_COLUMNS = [
    ("engine", "engine", "{}"),
    ("layer", "layer", "{}"),
    ("n", "N", "{}"),
    ("bits", "bits", "{}"),
    ("scales", "scales", "{}"),
    ("samples", "samples", "{}"),
    ("rtl_match_pct", "RTL == golden %", "{:.3f}"),
    ("max_abs_err_lsb", "max abs err (LSB)", "{:.3f}"),
    ("mean_err_lsb", "mean err (LSB)", "{:+.4f}"),
    ("rms_err_lsb", "RMS err (LSB)", "{:.3f}"),
    ("sqnr_db", "SQNR dB", "{:.2f}"),
    ("saturated_share", "saturated %", "{:.3%}"),
    ("saturation_by_channel", "saturations by channel (in / out)", "{}"),
]
NETWORK_COLUMNS = [
    ("engine", "engine", "{}"),
    ("precision", "precision", "{}"),
    ("scales", "scales", "{}"),
    ("acc_float", "float %", "{:.2%}"),
    ("acc_fixed", "fixed golden %", "{:.2%}"),
    ("acc_rtl", "RTL %", "{:.2%}"),
    ("delta_pp", "fixed - float (pp)", "{:+.2f}"),
    ("rtl_match_pct", "RTL == golden %", "{:.4f}"),
    ("rtl_seconds", "RTL sim s", "{:.0f}"),
]


MIXER_COLUMNS = [
    ("engine", "engine", "{}"),
    ("bits", "bits", "{}"),
    ("images", "images", "{}"),
    ("acc_float", "float %", "{:.2%}"),
    ("acc_fixed", "fixed golden %", "{:.2%}"),
    ("acc_rtl", "RTL %", "{:.2%}"),
    ("delta_pp", "RTL - float (pp)", "{:+.2f}"),
    ("rtl_elements", "map elements compared", "{}"),
    ("rtl_match_pct", "RTL == golden %", "{:.4f}"),
    ("elements_per_clock", "elements/clock (min)", "{:.3f}"),
    ("rtl_seconds", "RTL sim s", "{:.0f}"),
]


def _mixer_rows(report: dict) -> list[dict]:
    """The token-mixer rows with the derived columns (absent before the mixer engine existed)."""
    net = report["network_level"]
    return [
        {
            **r,
            "acc_float": net["acc_float"],
            "delta_pp": 100 * (r["acc_rtl"] - net["acc_float"]),
            "rtl_match_pct": 100.0 * (1 - r["rtl_mismatches"] / max(r["rtl_elements"], 1)),
            "elements_per_clock": min((b["elements_per_clock"] for b in r["per_block"].values()), default=0.0),
        }
        for r in net.get("mixer_rows", [])
    ]


def mixer_lines(report: dict) -> list[str]:
    """The token-mixer network section (markdown), if it ran."""
    rows = _mixer_rows(report)
    if not rows:
        return []
    blocks = ", ".join(rows[0]["blocks"])
    return [
        "",
        "## Network level with the token-mixer RTL (whole maps, HWC stream)",
        "",
        f"Every ParC-ConvNeXt block's mixer ({blocks}) computed by its generated `hw.mixer` engine "
        "(`hw.generate --weights model.pt --layer stages.K.0`): both halves on whole C×H×W maps, one shared input "
        "and output format per map, scales from the mixer inputs of 64 training digits; everything else in torch. "
        "RTL = `sim.batch.run_batch_maps`, compared with the integer golden mixer on every map element.",
        "",
        markdown_table(rows, MIXER_COLUMNS),
    ]


def mixer_html(report: dict) -> str:
    rows = _mixer_rows(report)
    if not rows:
        return ""
    return (
        "<h2>Network level with the token-mixer RTL</h2><p>Every block's mixer computed by its generated mixer "
        f"engine on whole maps ({html.escape(', '.join(rows[0]['blocks']))}).</p>" + html_table(rows, MIXER_COLUMNS)
    )


def engine(row: dict) -> str:
    """The row's engine label (older reports: its arch)."""
    return row.get("engine", row["arch"])


def engines(report: dict) -> list[str]:
    """The report's engines in their order (``archs``: the layer level's, ``network_archs``: the
    network level's, when it ran for other engines)."""
    return list(dict.fromkeys([*report["archs"], *report.get("network_archs", [])]))


def _named(rows: list[dict]) -> list[dict]:
    """Rows with the fields the tables show, filled in for reports written before them."""
    return [
        {
            **r,
            "engine": engine(r),
            "scales": r.get("scales", "default"),
            "precision": r.get("precision", f"W{r.get('bits')}A{r.get('bits')}"),
            "saturation_by_channel": saturation_cell(r),
        }
        for r in rows
    ]


def saturation_cell(row: dict) -> str:
    """``c3: 2 / 17, c5: 0 / 1``: each channel that saturated, inputs clipped / outputs at a
    rail; ``none`` when no channel did (``-`` for rows without the counts)."""
    ins, outs = row.get("input_saturated_per_channel"), row.get("output_at_rail_per_channel")
    if ins is None or outs is None:
        return "-"
    cells = [f"c{c}: {i} / {o}" for c, (i, o) in enumerate(zip(ins, outs, strict=True)) if i or o]
    return ", ".join(cells) if cells else "none"


def _default_scales(rows: list[dict]) -> list[dict]:
    """The rows of the default scale mode (plots compare engines and bits, one mode)."""
    return [r for r in rows if r.get("scales", "default") == "default"]


def _cell(fmt: str, value) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def _table_rows(rows: list[dict], columns) -> list[list[str]]:
    return [[_cell(fmt, r[key]) for key, _, fmt in columns] for r in rows]


def markdown_table(rows: list[dict], columns) -> str:
    head = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = []
    for r, cells in zip(rows, _table_rows(rows, columns), strict=True):
        flagged = r.get("rtl_match_pct", 100.0) != 100.0
        body.append(
            "| "
            + " | ".join(
                f"**{c}** (!)" if flagged and key == "rtl_match_pct" else c
                for (key, _, _), c in zip(columns, cells, strict=True)
            )
            + " |"
        )
    return "\n".join([head, rule, *body])


def html_table(rows: list[dict], columns) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t, _ in columns)
    body = []
    for r, cells in zip(rows, _table_rows(rows, columns), strict=True):
        tds = []
        for (key, _, _), c in zip(columns, cells, strict=True):
            bad = key == "rtl_match_pct" and r[key] != 100.0
            tds.append(f'<td class="{"bad" if bad else ""}">{html.escape(c)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def plot_sqnr(report: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    layer_rows = report["layer_level"]
    bits = sorted({r["bits"] for r in layer_rows})
    ax.plot(bits, [ideal_sqnr_db(b) for b in bits], "k--", label="ideal 6.02 b + 1.76 dB")
    markers = {"direct": "o-", "fft-native": "^-."}
    modes = list(dict.fromkeys(r.get("scales", "default") for r in layer_rows))
    for name in engines(report):
        for n in sorted({r["n"] for r in layer_rows}, reverse=True):
            for mode in modes:
                rows = sorted(
                    (r for r in layer_rows if engine(r) == name and r["n"] == n and r.get("scales", "default") == mode),
                    key=lambda r: r["bits"],
                )
                if not rows:
                    continue
                ax.plot(
                    [r["bits"] for r in rows],
                    [r["sqnr_db"] for r in rows],
                    markers.get(name, "s--"),
                    alpha=1.0 if mode == "default" else 0.55,
                    label=f"{name}, N={n}" + ("" if mode == "default" else f", {mode}"),
                )
    ax.set_xlabel("bits")
    ax.set_ylabel("SQNR vs float (dB)")
    ax.set_title("Output SQNR on trained-layer activations")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_error_hist(report: dict, path: Path) -> None:
    rows = _default_scales(report["layer_level"]) or report["layer_level"]
    bits = 8 if any(r["bits"] == 8 for r in rows) else rows[0]["bits"]
    chosen = [r for r in rows if r["bits"] == bits]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    edges = np.linspace(-4, 4, 33)
    centers = (edges[:-1] + edges[1:]) / 2
    width = (edges[1] - edges[0]) / (len(chosen) + 1)
    for i, r in enumerate(chosen):
        counts = np.asarray(r["errors_lsb_hist"], dtype=float)
        ax.bar(
            centers - (edges[1] - edges[0]) / 2 + (i + 0.5) * width,
            counts / max(counts.sum(), 1),
            width=width,
            label=f"{engine(r)}, N={r['n']}",
        )
    ax.set_xlabel("fixed - float (output LSBs)")
    ax.set_ylabel("share of samples")
    ax.set_title(f"Error histogram at {bits} bits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_accuracy(report: dict, path: Path) -> None:
    net = report["network_level"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.axhline(100 * net["acc_float"], color="k", ls="--", label="float (golden.parc)")
    uniform = [r for r in _default_scales(net["rows"]) if r.get("weight_bits", r["bits"]) == r["bits"]]
    for name in engines(report):
        rows = sorted((r for r in uniform if engine(r) == name), key=lambda r: r["bits"])
        if not rows:
            continue
        ax.plot([r["bits"] for r in rows], [100 * r["acc_fixed"] for r in rows], "o-", label=f"{name}: fixed golden")
        ax.plot([r["bits"] for r in rows], [100 * r["acc_rtl"] for r in rows], "x:", ms=9, label=f"{name}: RTL")
    ax.set_xlabel("bits")
    ax.set_ylabel(f"top-1 accuracy on {net['images']} test images (%)")
    ax.set_title("Network accuracy vs bits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_precision(report: dict, path: Path) -> None:
    """The precision grid's heat map (`scripts.precision.plot_heatmap`); a placeholder figure
    when the report ran without the grid, so every report has the same files."""
    grid = report.get("precision_grid")
    if grid:
        plot_heatmap(grid, path)
        return
    fig, ax = plt.subplots(figsize=(4, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, "no precision grid in this report", ha="center", va="center")
    fig.savefig(path, dpi=80)
    plt.close(fig)


PLOTS = {
    "sqnr_vs_bits.png": plot_sqnr,
    "error_histogram.png": plot_error_hist,
    "accuracy_vs_bits.png": plot_accuracy,
    "precision_heatmap.png": plot_precision,
}


def _network_rows(report: dict) -> list[dict]:
    net = report["network_level"]
    return [
        {**r, "acc_float": net["acc_float"], "delta_pp": 100 * (r["acc_fixed"] - net["acc_float"])}
        for r in _named(net["rows"])
    ]


def engine_lines(report: dict) -> list[str]:
    """What each engine label builds (`scripts.synth.VARIANTS`), when the report records it."""
    known = report.get("engines") or {}
    return ["", engines_sentence(known)] if known else []


def precision_lines(report: dict) -> list[str]:
    """The precision sweep section (heat-map table per scale mode, Pareto front), if it ran."""
    grid = report.get("precision_grid")
    if not grid:
        return []
    return ["", "## Precision sweep (weight bits x data bits)", "", *grid_markdown(grid)]


def precision_html(report: dict) -> str:
    """The precision grid's top-1 % tables (one per scale mode); the heat map is among the plots."""
    grid = report.get("precision_grid")
    if not grid:
        return ""
    parts = [
        f"<h2>Precision sweep</h2><p>Top-1 % of the network on {grid['images']} test images, every ParC layer "
        f"computed by the {html.escape(grid['engine'])} engine's golden model (bit-exact with its RTL); float "
        f"{100 * grid['acc_float']:.2f} %. Rows: weight bits; columns: data bits.</p>"
    ]
    for panel in grid["panels"]:
        wbs, dbs, cells = heat_cells(panel["rows"])
        head = "<th>weight \\ data</th>" + "".join(f"<th>{d}</th>" for d in dbs)
        body = "".join(
            f"<tr><th>{wb}</th>" + "".join(f"<td>{c}</td>" for c in values) + "</tr>"
            for wb, values in zip(wbs, cells, strict=True)
        )
        parts.append(
            f"<h3>{html.escape(panel['scales'])} scales</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(parts)


def summary_markdown(report: dict, out: Path) -> str:
    net = report["network_level"]
    layer_rows = _named(report["layer_level"])
    lines = [
        "# ParC-HW bit-accuracy report",
        "",
        f"Generated {report['generated']} from `{report['weights']}`; timings: {report['timings']}.",
        "",
        "RTL = the generated Verilog, Verilated (`sim.batch`), on the same integer inputs as the golden model.",
        "Errors are fixed-point minus float, in output LSBs; SQNR = 10 log10(sum y_float^2 / sum err^2);",
        "saturated = outputs at the format's rails. Any RTL == golden value below 100 % is marked (!).",
        *engine_lines(report),
        "",
        "## Layer level (trained layers, real test activations)",
        "",
        markdown_table(layer_rows, LAYER_COLUMNS),
        "",
        "## Network level (top-1 accuracy, every ParC layer replaced)",
        "",
        f"Float (`golden.parc`) on the {net['images']}-image subset: {net['acc_float']:.2%}; on the full test set "
        f"({net['full_test_images']} images): {net['acc_float_full_test']:.2%} (torch: {net['acc_torch_full_test']:.2%}, "
        f"provenance: {net['provenance_test_accuracy']}). Layers: {', '.join(net['layers'])}.",
        "",
        markdown_table(_network_rows(report), NETWORK_COLUMNS),
        *mixer_lines(report),
        *precision_lines(report),
        "",
        "## Plots",
        "",
        *[f"![{name}]({name})" for name in PLOTS],
    ]
    synth = out / "synth" / "synth.md"
    if synth.exists():
        lines += [
            "",
            "## Resources and timing",
            "",
            "See [synth/synth.md](synth/synth.md) (`python -m scripts.synth`).",
        ]
    return "\n".join(lines) + "\n"


def report_html(report: dict, out: Path, images: dict[str, bytes]) -> str:
    net = report["network_level"]
    figs = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(data).decode()}"><figcaption>{name}</figcaption></figure>'
        for name, data in images.items()
    )
    synth = out / "synth" / "synth.md"
    synth_link = '<p>Resources and timing: <a href="synth/synth.md">synth/synth.md</a></p>' if synth.exists() else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>ParC-HW bit-accuracy report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#eee}}td.bad{{background:#c00;color:#fff;font-weight:bold}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:560px}}</style></head><body>
<h1>ParC-HW bit-accuracy report</h1>
<p>Generated {html.escape(report["generated"])} from <code>{html.escape(report["weights"])}</code>.
RTL = generated Verilog, Verilated, on the golden model's integer inputs. Errors in output LSBs (fixed minus float).
Cells in red: RTL differs from the integer golden model.</p>
<h2>Layer level</h2>{html_table(_named(report["layer_level"]), LAYER_COLUMNS)}
<h2>Network level</h2><p>Float on {net["images"]} images: {net["acc_float"]:.2%}; full test set: {net["acc_float_full_test"]:.2%}.</p>
{html_table(_network_rows(report), NETWORK_COLUMNS)}
{mixer_html(report)}
{precision_html(report)}
<h2>Plots</h2>{figs}{synth_link}</body></html>
"""


def _finite(value):
    """JSON has no Infinity: an exact (error-free) SQNR is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


REPORT_FILES = ("report.md", "report.html", "report.json", *PLOTS)


def report_folder(out: str | Path) -> OutputFolder:
    """``--out`` checked against the never-destroy rule (`golden.files`) before the long run."""
    return OutputFolder(out, tool="scripts.report", option="--out", expect=REPORT_FILES)


def write_report(report: dict, out: str | Path | OutputFolder) -> list[Path]:
    """Write `REPORT_FILES` into ``out``: staged, then published with its manifest.json."""
    folder = out if isinstance(out, OutputFolder) else report_folder(out)
    final = folder.target
    with folder:
        staged = folder.path
        images: dict[str, bytes] = {}
        for name, plot in PLOTS.items():
            plot(report, staged / name)
            images[name] = (staged / name).read_bytes()
        (staged / "report.json").write_text(json.dumps(_finite(report), indent=1, default=float) + "\n")
        (staged / "report.md").write_text(summary_markdown(report, final))
        (staged / "report.html").write_text(report_html(report, final, images))
        folder.commit()
    return [final / name for name in REPORT_FILES]
