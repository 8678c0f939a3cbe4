"""cocotb bench for any ParC engine behind `hw.top.AxisTop` (direct or FFT).

Stimulus and expected beats come from `sim.scenarios` (the golden model) through
``$PARC_CASE`` (npz) and ``$PARC_CONFIG`` (JSON); every scenario runs with random input
bubbles and output backpressure as configured. Results go to ``result_<scenario>.json``.

The bus models are cocotbext-axi's, a widely used third-party implementation of the
AXI4-Stream handshake, so the bench does not test the design against our own reading of
the protocol: `AxiStreamSource` drives ``s_axis_*``, `AxiStreamSink` drives
``m_axis_tready`` and collects the output frames, and an `AxiStreamMonitor` on ``s_axis``
records what the design really took, so a scenario also checks that its stimulus arrived
beat for beat (a bench that silently sent something else would otherwise pass). Both take ``rst`` as their reset (the
source then drops the rest of its frame, which is how the mid-frame reset scenario cuts
a frame) and seeded pause generators (`random_pauses`) for bubbles and backpressure.

Cycle numbers in the results count rising edges of ``clk`` after the bench's reset
(cycle 1 is the first edge with ``rst`` low); an event's cycle is the edge at which the
transfer happened (valid and ready both high).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, SimTimeoutError, with_timeout
from cocotb.utils import get_sim_steps, get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamMonitor, AxiStreamSink, AxiStreamSource

CLOCK_NS = 10
TAIL_CYCLES = 4 * 8  # cycles watched after the expected outputs: extra outputs would be a bug
STATUS_PORTS = ("frame_errors", "saturations", "overflow")  # read at the end when the top has them


def random_pauses(probability: float, seed: int) -> Iterator[bool]:
    """Pause generator for the cocotbext-axi models: True = pause this cycle, with the given
    probability, from its own seeded generator so any failure can be replayed."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def frames_of(data: np.ndarray, last: np.ndarray) -> list[list[int]]:
    """Beats split into the frames `AxiStreamSource` sends. It raises tlast on exactly the
    last beat of each frame, so cutting after every tlast reproduces the scenario's flags
    beat for beat, malformed frames included. Beats after the last tlast cannot be sent
    that way (the source would add a tlast): they are refused rather than changed."""
    ends = np.flatnonzero(last) + 1
    if len(data) and (ends.size == 0 or ends[-1] != len(data)):
        tail = len(data) - (int(ends[-1]) if ends.size else 0)
        raise ValueError(f"the last {tail} beats have no tlast: AxiStreamSource cannot send an unterminated frame")
    return [chunk.tolist() for chunk in np.split(np.asarray(data, dtype=np.int64), ends[:-1])]


def beats_of(frames: list[AxiStreamFrame], bits: int) -> tuple[list[int], list[bool]]:
    """Frames back to beats: signed data and the tlast flag of each (set on a frame's last beat)."""
    data = to_signed([beat for frame in frames for beat in frame.tdata], bits)
    return data, [i == len(frame) - 1 for frame in frames for i in range(len(frame))]


def to_signed(values: list[int], bits: int) -> list[int]:
    """The sink reads tdata as unsigned; the engine's samples are two's complement."""
    raw = np.asarray(values, dtype=np.int64)
    return (raw - (((raw >> (bits - 1)) & 1) << bits)).tolist()


class TB:
    """Owns clock, reset, the cocotbext-axi models and the cycle count."""

    def __init__(self, dut: Any, config: dict, salt: int) -> None:
        self.dut = dut  # the cocotb DUT handle: its attributes are the design's ports
        self.config = config
        self.seed = int(config["seed"]) * 1000 + salt
        # one sample per beat whatever its width: byte_lanes=1 (the default splits tdata into bytes)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
        self.taken = AxiStreamMonitor(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_lanes=1)
        for model in (self.source, self.sink, self.taken):
            model.log.setLevel(logging.WARNING)  # at INFO they log every frame, which costs time and log space
        self.out_bits = len(dut.m_axis_tdata)
        self.frames: list[AxiStreamFrame] = []
        self.period = get_sim_steps(CLOCK_NS, "ns")
        self.start_time = 0.0

    async def start(self) -> None:
        Clock(self.dut.clk, CLOCK_NS, unit="ns").start()  # cocotb 2: start() runs its own task
        await self.reset()
        self.start_time = get_sim_time()
        # a pause generator runs one coroutine step per cycle: none where it would never pause
        if self.config["bubble"] > 0:
            self.source.set_pause_generator(random_pauses(self.config["bubble"], self.seed))
        if self.config["backpressure"] > 0:
            self.sink.set_pause_generator(random_pauses(self.config["backpressure"], self.seed + 1))

    async def reset(self, cycles: int = 3) -> None:
        """Hold ``rst`` high for ``cycles`` edges; the models follow it (source idle, sink not ready)."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0

    def cycle(self, sim_time: float | None = None) -> int:
        """The cycle number of ``sim_time`` (a rising edge; default now)."""
        now = get_sim_time() if sim_time is None else sim_time
        return round((now - self.start_time) / self.period)

    def send(self, data: np.ndarray, last: np.ndarray) -> None:
        for frame in frames_of(data, last):
            self.source.send_nowait(AxiStreamFrame(frame))

    async def input_transfers(self, count: int) -> int:
        """Wait for the ``count``-th beat the design takes on ``s_axis``; returns its cycle.

        The source's frames are timestamped when their first beat is driven, not when the
        design takes it, so the bench watches the handshake itself."""
        tvalid, tready = self.dut.s_axis_tvalid, self.dut.s_axis_tready
        edge = RisingEdge(self.dut.clk)
        seen = 0
        while True:
            await edge
            if tvalid.value and tready.value:
                seen += 1
                if seen >= count:
                    return self.cycle()

    async def _receive(self, count: int) -> None:
        while self.received < count:
            self.frames.append(await self.sink.recv())

    def drain(self) -> None:
        """Move the frames the sink has completed into `frames`."""
        while not self.sink.empty():
            self.frames.append(self.sink.recv_nowait())

    @property
    def received(self) -> int:
        return sum(len(frame) for frame in self.frames)

    async def collect(self, count: int, timeout_cycles: int) -> None:
        """Collect output frames until ``count`` beats came (or the timeout), then watch
        `TAIL_CYCLES` more for extra ones."""
        try:
            await with_timeout(self._receive(count), timeout_cycles * CLOCK_NS, "ns")
        except SimTimeoutError:
            pass
        await ClockCycles(self.dut.clk, TAIL_CYCLES)
        self.drain()

    def take(self) -> tuple[list[int], list[bool], list[AxiStreamFrame]]:
        """The beats received so far (signed data, tlast flags) and their frames; forgets them."""
        frames, self.frames = self.frames, []
        return (*beats_of(frames, self.out_bits), frames)

    def inputs_taken(self) -> tuple[list[int], list[bool]]:
        """The beats the design took on ``s_axis`` (signed data, tlast flags), per the monitor."""
        frames = []
        while not self.taken.empty():
            frames.append(self.taken.recv_nowait())
        return beats_of(frames, len(self.dut.s_axis_tdata))

    @property
    def open_frame(self) -> bool:
        """Output beats after the last tlast: the sink holds an unterminated frame back, so its
        beats are in no count; a clean stream ends on a tlast."""
        return bool(self.sink.active)


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


def status(dut: Any) -> dict[str, int]:
    """Every status port the top has, as integers (recorded at the end of each scenario)."""
    return {name: int(getattr(dut, name).value) for name in STATUS_PORTS if hasattr(dut, name)}


def write_result(name: str, result: dict) -> None:
    Path(os.environ.get("PARC_RESULTS", "."), f"result_{name}.json").write_text(json.dumps(result))


def check(result: dict) -> None:
    assert result["mismatches"] == 0, f"{result['mismatches']} mismatching beats, first {result['first_mismatch']}"
    assert result["missing"] == 0 and result["extra"] == 0, (
        f"missing {result['missing']}, extra {result['extra']} beats"
    )
    assert not result["open_frame"], "output beats after the last tlast (an unterminated frame)"
    assert result.get("stimulus_taken", True), "the design did not take exactly the scenario's input beats"
    assert result["frame_errors"] == result["expected_frame_errors"], "frame error counter disagrees with the model"


async def run_plain(dut: Any, name: str, salt: int) -> None:
    config, case = load_case(name)
    if not case:
        return
    tb = TB(dut, config, salt)
    await tb.start()
    first_input = cocotb.start_soon(tb.input_transfers(1))
    tb.send(case["data_in"], case["last_in"])
    expected = len(case["data_out"])
    await tb.collect(expected, timeout_cycles=config["timeout_factor"] * (len(case["data_in"]) + 1000))
    data, last, frames = tb.take()
    result = compare(data, last, case["data_out"], case["last_out"])
    taken, taken_last = tb.inputs_taken()
    stimulus = compare(taken, taken_last, case["data_in"], case["last_in"])
    first_out = tb.cycle(frames[0].sim_time_start) if frames else None
    span = tb.cycle(frames[-1].sim_time_end) - first_out if first_out is not None else 0  # first to last output
    first_in = first_input.result() if first_input.done() else None
    if not first_input.done():
        first_input.cancel()  # no input was taken: nothing left to time
    result.update(
        scenario=name,
        samples=len(data),
        missing=max(0, expected - len(data)),
        extra=max(0, len(data) - expected),
        open_frame=tb.open_frame,
        stimulus_taken=stimulus["mismatches"] == 0 and len(taken) == len(case["data_in"]),
        frame_errors=int(dut.frame_errors.value),
        expected_frame_errors=int(case["frame_errors"]),
        output_span_cycles=span,
        total_cycles=tb.cycle(),
        cycles_per_sample=span / (len(data) - 1) if len(data) > 1 else None,
        first_output_cycle=first_out,
        first_input_cycle=first_in,
        status=status(dut),
    )
    write_result(name, result)
    check(result)


@cocotb.test()
async def test_stream(dut: Any) -> None:
    """Frames back to back with bubbles and backpressure: every beat equals the golden model."""
    await run_plain(dut, "stream", 0)


@cocotb.test()
async def test_tlast(dut: Any) -> None:
    """Early and missing tlast: frames dropped/resynchronised as the framer model says, errors counted."""
    await run_plain(dut, "tlast", 1)


@cocotb.test()
async def test_reset(dut: Any) -> None:
    """Reset in the middle of a frame: outputs before it are a correct prefix, after it all correct.

    The source gets whole frames up to the one the cut falls in; ``rst`` rises at the edge
    where the design takes beat ``reset_after``, so the source model drops the rest of that
    frame (it never raises its tlast) and the design sees a frame cut by the reset. The sink
    drops a partial output frame the same way: the prefix check covers whole frames."""
    config, case = load_case("reset")
    if not case:
        return
    tb = TB(dut, config, 2)
    await tb.start()
    cut, resume_in, resume_out = (int(case[k]) for k in ("reset_after", "resume_in", "resume_out"))
    data_in, last_in = case["data_in"], case["last_in"]
    frame_end = cut + int(np.flatnonzero(last_in[cut - 1 :])[0])  # end of the frame the cut falls in
    tb.send(data_in[:frame_end], last_in[:frame_end])
    try:
        await with_timeout(tb.input_transfers(cut), config["timeout_factor"] * (cut + 1000) * CLOCK_NS, "ns")
    except SimTimeoutError:
        pass  # the design took fewer beats: the comparisons below show it
    await tb.reset(cycles=2)
    tb.source.clear()
    tb.drain()
    got, got_last, _ = tb.take()
    before = compare(got, got_last, case["data_out"][:resume_out], case["last_out"][:resume_out])
    tb.send(data_in[resume_in:], last_in[resume_in:])
    want = case["data_out"][resume_out:]
    await tb.collect(len(want), timeout_cycles=config["timeout_factor"] * (len(want) + 1000))
    got, got_last, _ = tb.take()
    after = compare(got, got_last, want, case["last_out"][resume_out:])
    result = {
        "scenario": "reset",
        "compared": before["compared"] + after["compared"],
        "mismatches": before["mismatches"] + after["mismatches"],
        "first_mismatch": before["first_mismatch"] or after["first_mismatch"],
        "samples": before["compared"] + len(got),
        "missing": max(0, len(want) - len(got)),
        "extra": max(0, len(got) - len(want)),
        "open_frame": tb.open_frame,
        "frame_errors": int(dut.frame_errors.value),
        "expected_frame_errors": 0,
        "status": status(dut),
    }
    write_result("reset", result)
    check(result)
