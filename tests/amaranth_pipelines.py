"""Random-enable driver for enable-driven pipeline blocks (the stream twin: `amaranth_streams`).

Some blocks have no valid/ready of their own: every register loads on one enable ``en``
(`hw.complex_mul.ComplexMultiplier`, `hw.sdf.SdfStage`); the enclosing engine derives ``en``
from its streams (a transfer, or ``~o.valid | o.ready``). Random valid/ready on the engine
therefore reaches such a block as a random enable pattern, and this driver reproduces it:

- before every enabled cycle it inserts a random number of disabled cycles (``en`` high with
  probability ``p_enable`` per cycle); during them every input carries random garbage, and
  every registered output must hold its value (a disabled pipeline is frozen);
- in the k-th enabled cycle it drives ``inputs[name][k]``, reads the ``combinational``
  outputs (flags about the value being loaded), then reads the registered ``outputs`` after
  the edge.

Results are per enabled edge k, so a block of latency L shows the slot entered at edge j in
``outputs[...][j + L - 1]``; the test aligns them with the block's ``model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from amaranth.hdl import Shape
from amaranth.sim import Simulator
from numpy.typing import ArrayLike, NDArray


def _garbage(rng: np.random.Generator, signal: Any) -> int:
    shape = Shape.cast(signal.shape())
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    return int(rng.integers(lo, lo + (1 << shape.width)))


def run_enabled(
    dut: Any,
    inputs: Mapping[str, tuple[Any, ArrayLike]],
    outputs: Mapping[str, Any],
    combinational: Mapping[str, Any] | None = None,
    *,
    p_enable: float = 1.0,
    seed: int = 0,
    name: str | None = None,
) -> dict[str, NDArray[np.int64]]:
    """Drive ``dut.en`` and the ``inputs`` (name -> (signal, one value per enabled edge)).

    Returns, per enabled edge, each registered output read after the edge and each
    combinational output read before it. Fails, naming the block, if a registered output
    changes in a disabled cycle.
    """
    label = name or type(dut).__name__
    combinational = dict(combinational or {})
    columns = {key: (sig, np.asarray(values, dtype=np.int64).reshape(-1)) for key, (sig, values) in inputs.items()}
    edges = len(next(iter(columns.values()))[1])
    assert all(len(v) == edges for _, v in columns.values()), "every input needs one value per enabled edge"
    rng = np.random.default_rng(seed)
    result: dict[str, list[int]] = {key: [] for key in [*outputs, *combinational]}

    async def bench(ctx) -> None:
        for k in range(edges):
            held = {key: ctx.get(sig) for key, sig in outputs.items()}
            while rng.random() >= p_enable:  # a disabled cycle: garbage in, nothing moves
                ctx.set(dut.en, 0)
                for sig, _ in columns.values():
                    ctx.set(sig, _garbage(rng, sig))
                await ctx.tick()
                for key, sig in outputs.items():
                    assert ctx.get(sig) == held[key], f"{label}: output {key} changed while en was low (edge {k})"
            ctx.set(dut.en, 1)
            for sig, values in columns.values():
                ctx.set(sig, int(values[k]))
            for key, sig in combinational.items():
                result[key].append(int(ctx.get(sig)))
            await ctx.tick()
            for key, sig in outputs.items():
                result[key].append(int(ctx.get(sig)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return {key: np.array(values, dtype=np.int64) for key, values in result.items()}
