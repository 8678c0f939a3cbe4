"""cocotb bench for `tests/test_target.py`: every ecp5 block (primitive + behavioural twin) of
the wrapper against its generic twin, and both against a cycle model, on every clock edge.

The wrapper (`test_target.TwinWrapper`) feeds each pair of blocks the same inputs; the
block list (kinds, shapes, RAM contents) comes through ``$PARC_TWIN_CONFIG`` (JSON). Random
operands and addresses (half of them, for a block whose config lists ``hot`` addresses, from
those), random enables and random resets; a RAM is never read and written at one address in
one cycle (callers never do it: `hw.target.BlockRam`).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class MulModel:
    """The registers of `hw.target.Multiplier`: input (a, b), then ``latency - 1`` product
    registers (the pipeline and output registers, and any adder-tree or padding registers of
    a wider product), ``latency`` from the config (the same for both twins)."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.a = self.b = 0
        self.products = [0] * (spec["latency"] - 1)

    def operand(self, rng: random.Random, which: str) -> int:
        bits, signed = self.spec[f"{which}_bits"], self.spec[f"{which}_signed"]
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        return rng.choice([lo, hi, 0, rng.randint(lo, hi), rng.randint(lo, hi)])

    def edge(self, rst: bool, inputs: dict) -> None:
        if rst:
            self.a = self.b = 0
            self.products = [0] * len(self.products)
        elif inputs["en"]:
            self.products = [self.a * self.b, *self.products[:-1]]
            self.a, self.b = inputs["a"], inputs["b"]

    def expected(self) -> dict[str, int]:
        return {"p": self.products[-1]}


class RamModel:
    """`hw.target.BlockRam`: lane writes; read register and output register on ``r_en``."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.mem = list(spec["init"]) + [0] * (spec["depth"] - len(spec["init"]))
        self.read = self.out = 0

    def edge(self, rst: bool, inputs: dict) -> None:
        s = self.spec
        old = self.mem[inputs["r_addr"]]
        if s["writable"]:
            lane_bits = s["width"] // s["lanes"]
            for lane in range(s["lanes"]):
                if inputs["w_en"] >> lane & 1:
                    mask = ((1 << lane_bits) - 1) << (lane * lane_bits)
                    word = self.mem[inputs["w_addr"]]
                    self.mem[inputs["w_addr"]] = (word & ~mask) | (inputs["w_data"] & mask)
        if rst:
            self.read = self.out = 0
        elif inputs["r_en"]:
            self.read, self.out = old, self.read

    def expected(self) -> dict[str, int]:
        return {"r_data": self.out}


def _mul_inputs(model: MulModel, rng: random.Random) -> dict[str, int]:
    return {"a": model.operand(rng, "a"), "b": model.operand(rng, "b"), "en": int(rng.random() < 0.8)}


def _ram_inputs(model: RamModel, rng: random.Random) -> dict[str, int]:
    s = model.spec
    depth, hot = s["depth"], s.get("hot")

    def address() -> int:  # a deep RAM's few hot addresses let reads find what was written
        return rng.choice(hot) if hot and rng.random() < 0.5 else rng.randrange(depth)

    r_addr = address()
    w_addr = address()
    w_en = rng.getrandbits(s["lanes"]) if s["writable"] and rng.random() < 0.5 else 0
    if w_addr == r_addr:  # never read and write one address in one cycle
        w_en = 0
    return {
        "w_addr": w_addr,
        "w_data": rng.getrandbits(s["width"]),
        "w_en": w_en,
        "r_addr": r_addr,
        "r_en": int(rng.random() < 0.8),
    }


def _drive(dut: Any, name: str, inputs: dict[str, int], spec: dict) -> None:
    for port, value in inputs.items():
        bits = spec.get(f"{port}_bits")
        getattr(dut, f"{name}__{port}").value = value & ((1 << bits) - 1) if bits else value


def _read(dut: Any, name: str, port: str, variant: str, spec: dict) -> int:
    raw = int(getattr(dut, f"{name}__{port}_{variant}").value)
    return _signed(raw, spec["p_bits"]) if port == "p" and spec["p_signed"] else raw


@cocotb.test()
async def test_twins(dut: Any) -> None:
    """Every pair agrees with the other and with its model on every edge."""
    config = json.loads(Path(os.environ["PARC_TWIN_CONFIG"]).read_text())
    rng = random.Random(config["seed"])
    cycles = int(config["cycles"])
    models: dict[str, MulModel | RamModel] = {
        b["name"]: MulModel(b) if b["kind"] == "mul" else RamModel(b) for b in config["blocks"]
    }
    Clock(dut.clk, 10, unit="ns").start()  # cocotb 2: start() runs its own task
    dut.rst.value = 1
    for name, model in models.items():
        zero = {"a": 0, "b": 0, "en": 0} if isinstance(model, MulModel) else dict.fromkeys(_ram_inputs(model, rng), 0)
        _drive(dut, name, zero, model.spec)
    await RisingEdge(dut.clk)
    for model in models.values():
        model.edge(True, dict.fromkeys(("a", "b", "en", "w_addr", "w_data", "w_en", "r_addr", "r_en"), 0))
    checked = 0
    await FallingEdge(dut.clk)
    for cycle in range(cycles):  # drive on the falling edge, check on the next one
        rst = rng.random() < 0.03
        dut.rst.value = int(rst)
        inputs: dict[str, dict[str, int]] = {}
        for name, model in models.items():
            inputs[name] = _mul_inputs(model, rng) if isinstance(model, MulModel) else _ram_inputs(model, rng)
            _drive(dut, name, inputs[name], model.spec)
        await RisingEdge(dut.clk)
        for name, model in models.items():
            model.edge(rst, inputs[name])
        await FallingEdge(dut.clk)
        for name, model in models.items():
            for port, want in model.expected().items():
                generic = _read(dut, name, port, "generic", model.spec)
                ecp5 = _read(dut, name, port, "ecp5", model.spec)
                assert ecp5 == generic == want, (
                    f"cycle {cycle} {name}.{port}: ecp5 {ecp5}, generic {generic}, model {want} (inputs {inputs[name]})"
                )
                checked += 1
    assert checked == cycles * sum(len(m.expected()) for m in models.values())
