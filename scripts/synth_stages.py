"""The cached, failure-recording tool stages of one `scripts.synth` report row, shared by the
1-D engines' rows (`scripts.synth.run_config`) and the token mixer's (`scripts.synth_mixer`).

Why one class: a row's stages (yosys counts, the rate run, nextpnr per grade and seed) must be
keyed, gated, cached and recorded the same way whatever the design, so that a cache written by
one report serves the next and a failing tool becomes a table cell rather than a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scripts import pnr as pnr_flow
from scripts import yosys_flow as flow
from scripts.pnr import Gate

if TYPE_CHECKING:
    from scripts.synth import SynthOptions

__all__ = ["Gate", "RowStages", "StageRunner", "ecp5_key_parts", "error_line", "stage_key"]

StageRunner = Callable[[str, tuple, Callable[[], dict]], dict]  # RowStages.stage


def stage_key(name: str, key_parts: tuple, source: str) -> str:
    """The cache key of one tool stage (`run_config`): the stage, the flow's version, what the
    stage depends on beside the Verilog, and the Verilog."""
    return flow.cache_key(name, flow.FLOW_VERSION, *key_parts, source)


def versions_key() -> str:
    """The tool versions as one cache-key part (every stage's key holds it)."""
    return json.dumps(flow.tool_versions(), sort_keys=True)


def ecp5_key_parts(top: str) -> tuple[str, str]:
    """What the yosys ECP5 stage depends on beside the Verilog: its script and the tool versions."""
    return flow.synth_script("ecp5", top), versions_key()


def error_line(exc: BaseException) -> str:
    """One line for the table: the message's first line, and when that only announces a tool's
    log (a failed Verilator build), the log's first error or warning."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
    first = lines[0]
    if len(lines) > 1 and first.endswith(":"):
        detail = next((ln for ln in lines[1:] if ln.startswith(("%Error", "%Warning"))), lines[1])
        first = f"{first} {detail}"
    return first[:300]


class RowStages:
    """One row's tool stages. ``stage(name, key_parts, compute)`` runs ``compute`` inside the
    gate unless the cache holds its result under `stage_key`, stores it in ``row[name]`` (a
    failure as ``{"status": "error", "message": ...}``) and ticks the progress bar;
    `place_and_route` does the same for every nextpnr grade and seed into ``row["pnr"]``.
    A cached timeout under a smaller budget than ``options.timeout`` is run again, and
    ``options.rerun`` runs everything again (results are stored either way)."""

    def __init__(
        self,
        row: dict,
        top: str,
        verilog: str,
        options: SynthOptions,
        cache_dir: Path | None,
        tick: Callable[..., None],
        gate: Gate,
    ) -> None:
        self.row, self.top, self.verilog, self.options = row, top, verilog, options
        self.cache_dir, self.tick, self.gate = cache_dir, tick, gate

    def rerun(self, result: dict) -> bool:
        """Whether a cached ``result`` is run again."""
        if self.options.rerun:
            return True
        return result.get("status") == "timeout" and result.get("timeout", 0) < self.options.timeout

    def stage(self, name: str, key_parts: tuple, compute: Callable[[], dict], source: str | None = None) -> dict:
        """One cached stage of the row; ``source`` is the Verilog it reads (default the row's)."""
        self.tick(0, f"{self.top}: {name}")
        key = stage_key(name, key_parts, self.verilog if source is None else source)

        def gated() -> dict:
            with self.gate():
                return compute()

        try:
            result = flow.cached(self.cache_dir, f"{self.top}-{name}", key, gated, rerun=self.rerun)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            result = {"status": "error", "message": error_line(exc)}
        self.row[name] = result
        self.tick(1)
        return result

    def place_and_route(self) -> dict:
        """nextpnr at every ``options.speeds`` x ``options.seeds`` into ``row["pnr"]`` (or
        ``{"status": "skipped"}`` without ``options.pnr``)."""
        if not self.options.pnr:
            self.row["pnr"] = {"status": "skipped"}
            self.tick(1)
            return self.row["pnr"]
        self.tick(0, f"{self.top}: place and route")
        self.row["pnr"] = pnr_flow.place_and_route(
            self.verilog,
            self.top,
            speeds=self.options.speeds,
            seeds=self.options.seeds,
            freq=self.options.freq,
            timeout=self.options.timeout,
            cache_dir=self.cache_dir,
            versions=versions_key(),
            rerun=self.rerun,
            jobs=self.options.jobs,
            gate=self.gate,
            tick=lambda label: self.tick(1, label),
        )
        return self.row["pnr"]
