"""cocotb bench for any ParC engine behind `hw.top.AxisTop` (direct or FFT).

Stimulus and expected beats come from `sim.scenarios` (the golden model) through
``$PARC_CASE`` (npz) and ``$PARC_CONFIG`` (JSON); every scenario runs with random input
bubbles and output backpressure as configured. Results go to ``result_<scenario>.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sim.axis import AxisMonitor, AxisSink, AxisSource, random_pauses

CLOCK_NS = 10
STATUS_PORTS = ("frame_errors", "saturations", "overflow")  # read at the end when the top has them


@dataclass
class TB:
    """Owns clock, reset and the bus models."""

    dut: Any  # the cocotb DUT handle: its attributes are the design's ports
    config: dict
    salt: int

    def __post_init__(self) -> None:
        seed = int(self.config["seed"]) * 1000 + self.salt
        self.source = AxisSource(self.dut, self.dut.clk, pauses=random_pauses(self.config["bubble"], seed))
        self.sink = AxisSink(self.dut, self.dut.clk, pauses=random_pauses(self.config["backpressure"], seed + 1))
        self.monitor = AxisMonitor(self.dut, self.dut.clk)

    async def start(self) -> None:
        Clock(self.dut.clk, CLOCK_NS, unit="ns").start()  # cocotb 2: start() runs its own task
        await self.reset()
        for model in (self.source, self.sink, self.monitor):
            cocotb.start_soon(model.run())

    async def reset(self, cycles: int = 3) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0

    async def wait_outputs(self, count: int, timeout_cycles: int) -> None:
        for _ in range(timeout_cycles):
            if len(self.monitor.beats) >= count:
                break
            await RisingEdge(self.dut.clk)
        for _ in range(4 * 8):  # extra outputs would be a bug: give them a chance to show
            await RisingEdge(self.dut.clk)


def load_case(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    config = json.loads(Path(os.environ["PARC_CONFIG"]).read_text())
    case = np.load(os.environ["PARC_CASE"])
    arrays = {k.split(".", 1)[1]: case[k] for k in case.files if k.startswith(name + ".")}
    return config, arrays


def compare(got_data: list[int], got_last: list[bool], data: np.ndarray, last: np.ndarray) -> dict:
    n = min(len(got_data), len(data))
    gd, gl = np.asarray(got_data[:n], dtype=np.int64), np.asarray(got_last[:n], dtype=bool)
    bad = np.flatnonzero((gd != data[:n]) | (gl != last[:n]))
    first = None
    if bad.size:
        i = int(bad[0])
        first = {"index": i, "got": [int(gd[i]), bool(gl[i])], "want": [int(data[i]), bool(last[i])]}
    return {"compared": n, "mismatches": int(bad.size), "first_mismatch": first}


def status(dut) -> dict[str, int]:
    """Every status port the top has, as integers (recorded at the end of each scenario)."""
    return {name: int(getattr(dut, name).value) for name in STATUS_PORTS if hasattr(dut, name)}


def write_result(name: str, result: dict) -> None:
    Path(os.environ.get("PARC_RESULTS", "."), f"result_{name}.json").write_text(json.dumps(result))


def check(result: dict) -> None:
    assert result["mismatches"] == 0, f"{result['mismatches']} mismatching beats, first {result['first_mismatch']}"
    assert result["missing"] == 0 and result["extra"] == 0, (
        f"missing {result['missing']}, extra {result['extra']} beats"
    )
    assert result["frame_errors"] == result["expected_frame_errors"], "frame error counter disagrees with the model"


async def run_plain(dut, name: str, salt: int) -> None:
    config, case = load_case(name)
    if not case:
        return
    tb = TB(dut, config, salt)
    await tb.start()
    tb.source.send(case["data_in"], case["last_in"])
    expected = len(case["data_out"])
    await tb.wait_outputs(expected, timeout_cycles=config["timeout_factor"] * (len(case["data_in"]) + 1000))
    mon = tb.monitor
    result = compare([b.data for b in mon.beats], [b.last for b in mon.beats], case["data_out"], case["last_out"])
    span = (mon.cycles[-1] - mon.cycles[0]) if mon.cycles else 0  # cycles between first and last output
    result.update(
        scenario=name,
        samples=len(mon.beats),
        missing=max(0, expected - len(mon.beats)),
        extra=max(0, len(mon.beats) - expected),
        frame_errors=int(dut.frame_errors.value),
        expected_frame_errors=int(case["frame_errors"]),
        output_span_cycles=span,
        total_cycles=mon.cycle,
        cycles_per_sample=span / (len(mon.beats) - 1) if len(mon.beats) > 1 else None,
        first_output_cycle=mon.cycles[0] if mon.cycles else None,
        first_input_cycle=tb.source.first_cycle,
        status=status(dut),
    )
    write_result(name, result)
    check(result)


@cocotb.test()
async def test_stream(dut) -> None:
    """Frames back to back with bubbles and backpressure: every beat equals the golden model."""
    await run_plain(dut, "stream", 0)


@cocotb.test()
async def test_tlast(dut) -> None:
    """Early and missing tlast: frames dropped/resynchronised as the framer model says, errors counted."""
    await run_plain(dut, "tlast", 1)


@cocotb.test()
async def test_reset(dut) -> None:
    """Reset in the middle of a frame: outputs before it are a correct prefix, after it all correct."""
    config, case = load_case("reset")
    if not case:
        return
    tb = TB(dut, config, 2)
    await tb.start()
    cut, resume_in, resume_out = (int(case[k]) for k in ("reset_after", "resume_in", "resume_out"))
    tb.source.send(case["data_in"][:cut], case["last_in"][:cut])
    while not tb.source.idle:
        await RisingEdge(dut.clk)
    tb.source.enabled = tb.monitor.enabled = False
    await tb.reset(cycles=2)
    before = compare(
        [b.data for b in tb.monitor.beats],
        [b.last for b in tb.monitor.beats],
        case["data_out"][:resume_out],
        case["last_out"][:resume_out],
    )
    tb.monitor.beats.clear()
    tb.monitor.cycles.clear()
    tb.source.queue, tb.source.sent = [], 0
    tb.source.enabled = tb.monitor.enabled = True
    tb.source.send(case["data_in"][resume_in:], case["last_in"][resume_in:])
    want = case["data_out"][resume_out:]
    await tb.wait_outputs(len(want), timeout_cycles=config["timeout_factor"] * (len(want) + 1000))
    after = compare(
        [b.data for b in tb.monitor.beats], [b.last for b in tb.monitor.beats], want, case["last_out"][resume_out:]
    )
    result = {
        "scenario": "reset",
        "compared": before["compared"] + after["compared"],
        "mismatches": before["mismatches"] + after["mismatches"],
        "first_mismatch": before["first_mismatch"] or after["first_mismatch"],
        "samples": before["compared"] + len(tb.monitor.beats),
        "missing": max(0, len(want) - len(tb.monitor.beats)),
        "extra": max(0, len(tb.monitor.beats) - len(want)),
        "frame_errors": int(dut.frame_errors.value),
        "expected_frame_errors": 0,
        "status": status(dut),
    }
    write_result("reset", result)
    check(result)
