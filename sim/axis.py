"""AXI4-Stream bus models for cocotb, in the cocotbext-axi style.

A source drives valid/data/last, a sink drives only ready, a monitor only watches.
Idle cycles (bubbles) and backpressure come from pause generators, seeded so any
failure can be replayed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cocotb.handle import LogicObject
from cocotb.triggers import RisingEdge


def random_pauses(probability: float, seed: int) -> Iterator[bool]:
    """True = pause this cycle, with the given probability, reproducibly."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


def never() -> Iterator[bool]:
    while True:
        yield False


@dataclass
class Beat:
    data: int
    last: bool


@dataclass
class AxisSource:
    """Drives ``{prefix}_tdata/tvalid/tlast``; holds a beat until ``tready`` takes it."""

    dut: Any  # the cocotb DUT handle: its attributes are the design's ports
    clk: LogicObject
    prefix: str = "s_axis"
    pauses: Iterator[bool] = field(default_factory=never)
    queue: list[Beat] = field(default_factory=list)
    sent: int = 0
    first_cycle: int | None = None
    cycle: int = 0
    enabled: bool = True

    def __post_init__(self) -> None:
        self.tdata = getattr(self.dut, f"{self.prefix}_tdata")
        self.tvalid = getattr(self.dut, f"{self.prefix}_tvalid")
        self.tlast = getattr(self.dut, f"{self.prefix}_tlast")
        self.tready = getattr(self.dut, f"{self.prefix}_tready")
        self.tvalid.value = 0
        self.tdata.value = 0
        self.tlast.value = 0

    def send(self, samples: Iterable[int], lasts: Iterable[bool]) -> None:
        self.queue.extend(Beat(int(d), bool(last)) for d, last in zip(samples, lasts, strict=True))

    def flush(self) -> None:
        """Forget queued beats (used when the bench resets the design)."""
        del self.queue[self.sent :]
        self.tvalid.value = 0

    @property
    def idle(self) -> bool:
        return self.sent >= len(self.queue)

    async def run(self) -> None:
        valid = False
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            if valid and self.tready.value:
                if self.first_cycle is None:
                    self.first_cycle = self.cycle
                self.sent += 1
                valid = False
            if not self.enabled:
                valid = False
            elif not valid and self.sent < len(self.queue) and not next(self.pauses):
                beat = self.queue[self.sent]
                self.tdata.value = beat.data
                self.tlast.value = int(beat.last)
                valid = True
            self.tvalid.value = int(valid)


@dataclass
class AxisSink:
    """Drives only ``{prefix}_tready``, low whenever the pause generator says so."""

    dut: Any  # the cocotb DUT handle: its attributes are the design's ports
    clk: LogicObject
    prefix: str = "m_axis"
    pauses: Iterator[bool] = field(default_factory=never)

    async def run(self) -> None:
        tready = getattr(self.dut, f"{self.prefix}_tready")
        while True:
            tready.value = int(not next(self.pauses))
            await RisingEdge(self.clk)


@dataclass
class AxisMonitor:
    """Records every transfer (valid & ready at a rising edge) with its cycle number."""

    dut: Any  # the cocotb DUT handle: its attributes are the design's ports
    clk: LogicObject
    prefix: str = "m_axis"
    beats: list[Beat] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    cycle: int = 0
    enabled: bool = True

    async def run(self) -> None:
        tdata = getattr(self.dut, f"{self.prefix}_tdata")
        tvalid = getattr(self.dut, f"{self.prefix}_tvalid")
        tready = getattr(self.dut, f"{self.prefix}_tready")
        tlast = getattr(self.dut, f"{self.prefix}_tlast")
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            if self.enabled and tvalid.value and tready.value:
                self.beats.append(Beat(tdata.value.to_signed(), bool(tlast.value)))
                self.cycles.append(self.cycle)
