"""`hw.fixed` (Amaranth) computes exactly what `golden.fixed` (NumPy) computes."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from golden import fixed as gf
from golden.fixed import Rounding
from hw import fixed as hf

WIDTH, OUT_BITS = 14, 6


def simulate(build, inputs: dict[str, np.ndarray]) -> dict[str, list[int]]:
    m = Module()
    value = Signal(signed(WIDTH))
    shift = Signal(unsigned(4))
    outs = build(m, value, shift)
    results: dict[str, list[int]] = {k: [] for k in outs}

    async def bench(ctx) -> None:
        for v, s in zip(inputs["value"], inputs["shift"], strict=True):
            ctx.set(value, int(v))
            ctx.set(shift, int(s))
            for k, sig in outs.items():
                results[k].append(ctx.get(sig))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return results


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("saturating", [True, False])
def test_requantize_matches_golden(rounding: Rounding, saturating: bool) -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.integers(-(1 << 13), 1 << 13, 400), [-(1 << 13), (1 << 13) - 1, 0, -1, 1]])
    # include exact ties for every shift so half-up and half-even disagree somewhere
    shifts = rng.integers(0, 9, values.size)
    ties = (rng.integers(-200, 200, values.size) * 2 + 1) << np.maximum(shifts - 1, 0)
    values = np.where(rng.random(values.size) < 0.3, np.clip(ties, -(1 << 13), (1 << 13) - 1), values)

    def build(m: Module, value, shift):
        outs = {}
        for s in range(9):
            y, flag = hf.requantize(value, s, OUT_BITS, rounding, saturating)
            outs[f"const{s}"], outs[f"flag{s}"] = Signal(signed(OUT_BITS), name=f"c{s}"), Signal(name=f"f{s}")
            m.d.comb += [outs[f"const{s}"].eq(y), outs[f"flag{s}"].eq(flag)]
        y, flag = hf.requantize(value, shift, OUT_BITS, rounding, saturating)
        outs["var"], outs["varflag"] = Signal(signed(OUT_BITS)), Signal()
        m.d.comb += [outs["var"].eq(y), outs["varflag"].eq(flag)]
        return outs

    got = simulate(build, {"value": values, "shift": shifts})
    want, want_flag = gf.requantize(values, shifts, OUT_BITS, rounding, saturating)
    np.testing.assert_array_equal(got["var"], want)
    np.testing.assert_array_equal(np.array(got["varflag"], dtype=bool), want_flag)
    for s in range(9):
        w, wf = gf.requantize(values, s, OUT_BITS, rounding, saturating)
        np.testing.assert_array_equal(got[f"const{s}"], w)
        np.testing.assert_array_equal(np.array(got[f"flag{s}"], dtype=bool), wf)
    if rounding is not Rounding.TRUNCATE:
        other = Rounding.HALF_UP if rounding is Rounding.HALF_EVEN else Rounding.HALF_EVEN
        assert not np.array_equal(gf.requantize(values, shifts, OUT_BITS, other, saturating)[0], want)
