"""Which explored configurations are worth having, and which fit a given FPGA.

`scripts.explore` rows carry resource counts (ECP5 and XC7, from `scripts.synth`'s yosys
stages), throughput (Fmax from nextpnr x samples per clock) and accuracy (SQNR of the RTL
against float). A configuration is on the Pareto front when no other one is at least as good
on every objective and better on one: the designs a user chooses between. Everything else
costs more for less.

Part capacities are the vendors' data-sheet figures (the Lattice ECP5 family data sheet; Xilinx
DS180, the 7 Series FPGAs overview), in the units our
synthesis counts report: LUT4 and MULT18X18D and EBR (DP16KD) for ECP5; LUT6, DSP48E1 and
RAMB18 (a RAMB36 is two) for XC7.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from golden.cli import UserError


@dataclass(frozen=True)
class Part:
    """One FPGA and what it holds, in the units of the synthesis counts of its family."""

    name: str
    family: str  # the scripts.synth stage whose counts apply: "ecp5" or "xc7"
    lut: int  # ECP5: LUT4; XC7: LUT6
    dsp: int  # ECP5: MULT18X18D; XC7: DSP48E1
    bram: int  # ECP5: EBR (DP16KD, 18 kbit); XC7: RAMB18 (18 kbit)
    ff: int


PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        Part("LFE5U-12F", "ecp5", lut=12_000, dsp=28, bram=32, ff=12_000),
        Part("LFE5U-25F", "ecp5", lut=24_000, dsp=28, bram=56, ff=24_000),
        Part("LFE5U-45F", "ecp5", lut=44_000, dsp=72, bram=108, ff=44_000),
        Part("LFE5U-85F", "ecp5", lut=84_000, dsp=156, bram=208, ff=84_000),
        Part("XC7A35T", "xc7", lut=20_800, dsp=90, bram=100, ff=41_600),
        Part("XC7A100T", "xc7", lut=63_400, dsp=240, bram=270, ff=126_800),
        Part("XC7A200T", "xc7", lut=134_600, dsp=740, bram=730, ff=269_200),
        Part("XC7Z020", "xc7", lut=53_200, dsp=220, bram=280, ff=106_400),
    )
}


def find_part(name: str) -> Part:
    """The part called ``name`` (any case), or a `UserError` listing the known ones."""
    for part in PARTS.values():
        if part.name.lower() == name.strip().lower():
            return part
    raise UserError(f"--fit: unknown part {name!r}; known parts: {', '.join(PARTS)}")


@dataclass(frozen=True)
class Objective:
    """One axis of the front: where its value sits in a row and which way is better."""

    name: str
    label: str
    maximize: bool

    def value(self, row: dict) -> float | None:
        v = row.get("metrics", {}).get(self.name)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


OBJECTIVES: tuple[Objective, ...] = (
    Objective("dsp", "DSP", maximize=False),
    Objective("lut", "LUT", maximize=False),
    Objective("bram", "BRAM", maximize=False),
    Objective("msamples_per_s", "Msamples/s", maximize=True),
    Objective("sqnr_db", "SQNR dB", maximize=True),
)


def metrics(row: dict) -> dict[str, float | None]:
    """The objectives of one `scripts.explore` row: ECP5 resources, Msamples/s at the slowest
    speed grade, SQNR of the RTL. A missing stage leaves its metric None."""
    ecp5 = row.get("ecp5", {}) if row.get("ecp5", {}).get("status") == "ok" else {}
    accuracy = row.get("accuracy", {}) if row.get("accuracy", {}).get("status") == "ok" else {}
    return {
        "dsp": ecp5.get("dsp"),
        "lut": ecp5.get("lut"),
        "bram": ecp5.get("bram"),
        "ff": ecp5.get("ff"),
        "msamples_per_s": row.get("msamples_per_s"),
        "sqnr_db": accuracy.get("sqnr_db"),
    }


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is at least as good as ``b`` everywhere and better somewhere (larger is better)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def objectives_of(rows: Iterable[dict]) -> tuple[Objective, ...]:
    """The objectives every row has a value for (no place and route: no Msamples/s)."""
    rows = list(rows)
    return tuple(o for o in OBJECTIVES if rows and all(o.value(r) is not None for r in rows))


def measured(rows: Iterable[dict]) -> list[dict]:
    """The rows the front is chosen from: measured, and no stage failed (a row whose place and
    route crashed has no Msamples/s; it is listed with the failures, not ranked)."""
    return [r for r in rows if r.get("metrics") and not r.get("failed")]


def pareto_front(rows: Sequence[dict], objectives: Sequence[Objective] | None = None) -> list[dict]:
    """The `measured` rows no other one dominates, over ``objectives`` (default: every
    objective all of them have). Rows missing any of them are left out. Ties are all kept."""
    complete = measured(rows)
    objectives = objectives_of(complete) if objectives is None else tuple(objectives)
    complete = [r for r in complete if all(o.value(r) is not None for o in objectives)]
    if not objectives:
        return []
    signed = [[(o.value(r) or 0.0) * (1 if o.maximize else -1) for o in objectives] for r in complete]
    return [r for r, s in zip(complete, signed, strict=True) if not any(dominates(t, s) for t in signed)]


def fronts_by_n(rows: Sequence[dict]) -> dict[int, list[dict]]:
    """The Pareto front of each N on its own: configurations of different N compute different
    layers, so one never stands in for the other. Every front uses the objectives all the
    `measured` rows have, so the groups are ranked alike."""
    objectives = objectives_of(measured(rows))
    ns = sorted({r["point"]["n"] for r in rows})
    return {n: pareto_front([r for r in rows if r["point"]["n"] == n], objectives) for n in ns}


def resources(row: dict, family: str) -> dict[str, int] | None:
    """LUT, DSP, BRAM and FF of a row in a family's units (its yosys stage), None if that failed."""
    stage = row.get(family, {})
    if stage.get("status") != "ok":
        return None
    return {k: int(stage.get(k, 0)) for k in ("lut", "dsp", "bram", "ff")}


def fits(row: dict, part: Part) -> bool:
    """Whether a row's synthesis counts fit ``part`` (every resource within its capacity).
    Place and route needs some slack on top, as always; this is the first cut."""
    used = resources(row, part.family)
    return used is not None and all(used[k] <= getattr(part, k) for k in used)


def utilisation(row: dict, part: Part) -> float | None:
    """The largest share of any resource of ``part`` the row uses (1.0 = full)."""
    used = resources(row, part.family)
    if used is None:
        return None
    return max(used[k] / getattr(part, k) for k in used)


# ---------------------------------------------------------------------------- rendering


def fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def point_label(row: dict) -> str:
    """``direct N56 b8 P28 ecp5``: a configuration in a few characters."""
    point = row["point"]
    parts = [point["engine"], f"N{point['n']}", f"b{point['bits']}"]
    if point.get("parallel") is not None:
        parts.append(f"P{point['parallel']}")
    if point.get("target", "generic") != "generic":
        parts.append(point["target"])
    return " ".join(parts)


def front_table(front: Sequence[dict], part: Part | None = None) -> list[str]:
    """The Pareto front as Markdown lines, cheapest (fewest LUT) first."""
    head = ["configuration", "DSP", "LUT", "BRAM", "FF", "Fmax MHz", "samples/clk", "Msamples/s", "SQNR dB"]
    if part:
        head.append(f"{part.name} use")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in sorted(front, key=lambda r: (r["metrics"].get("lut") or 0, r["metrics"].get("dsp") or 0)):
        m = row["metrics"]
        cells = [
            point_label(row),
            fmt(m.get("dsp")),
            fmt(m.get("lut")),
            fmt(m.get("bram")),
            fmt(m.get("ff")),
            fmt(row.get("fmax_mhz")),
            fmt(row.get("samples_per_clock"), 3),
            fmt(row.get("msamples_per_s")),
            fmt(m.get("sqnr_db")),
        ]
        if part:
            share = utilisation(row, part)
            cells.append("-" if share is None else f"{100 * share:.0f} %")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_front(rows: Sequence[dict], front: Sequence[dict], path: Path, title: str) -> None:
    """LUT against Msamples/s (or SQNR without place and route), colour = SQNR, the front ringed
    and named; rows with a failed stage are left out (explore.md lists them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = measured(rows)  # failed rows are listed in explore.md, not placed
    on_front = {id(r) for r in front}
    speed = all(r["metrics"].get("msamples_per_s") is not None for r in rows)
    y_key, y_label = ("msamples_per_s", "Msamples/s (Fmax x samples/clock)") if speed else ("sqnr_db", "SQNR (dB)")
    fig, ax = plt.subplots(figsize=(7.5, 5))
    shown = [r for r in rows if r["metrics"].get("lut") is not None]
    shown = [r for r in shown if r["metrics"].get(y_key) is not None]
    if shown:
        xs = [r["metrics"]["lut"] for r in shown]
        ys = [r["metrics"][y_key] for r in shown]
        cs = [r["metrics"].get("sqnr_db") or 0.0 for r in shown]
        points = ax.scatter(xs, ys, c=cs, cmap="viridis", s=36, zorder=2)
        fig.colorbar(points, ax=ax, label="SQNR (dB)")
        for r, x, y in zip(shown, xs, ys, strict=True):
            if id(r) in on_front:
                ax.scatter([x], [y], s=140, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=3)
                ax.annotate(point_label(r), (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_xscale("log")
    ax.margins(x=0.2, y=0.1)  # room for the labels of the outermost points
    ax.set_xlabel("ECP5 LUT4 (log)")
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
