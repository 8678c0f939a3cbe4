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


@pytest.mark.parametrize("narrow", ["saturate", "wrap"])
@pytest.mark.parametrize("width, bits", [(14, 20), (6, 6), (5, 6), (2, 17), (9, 10)])
def test_narrowing_a_value_that_already_fits_keeps_its_sign(narrow: str, width: int, bits: int) -> None:
    """Regression: a value no wider than ``bits`` passes unchanged, and the result is *signed*.
    (A 14-bit negative value saturated to 20 bits came out positive: the slice ``v[:bits]`` of
    a narrower value is unsigned, so it zero-extended.) Checked through a wider signed signal
    (sign extension must happen) and one of exactly ``bits``, every value of the width."""
    m = Module()
    value = Signal(signed(width))
    fn = hf.saturate if narrow == "saturate" else hf.wrap
    y, flag = fn(value, bits)
    assert y.shape().signed, f"hw.fixed.{narrow}({width}-bit value, {bits}): the result must be signed"
    wide, exact, flagged = Signal(signed(bits + 6)), Signal(signed(bits)), Signal()
    m.d.comb += [wide.eq(y), exact.eq(y), flagged.eq(flag)]
    # through the requantizer too (shift 0): the output stage of every engine
    req, req_flag = hf.requantize(value, 0, bits, Rounding.HALF_EVEN, narrow == "saturate")
    via_requantize = Signal(signed(bits + 6))
    m.d.comb += via_requantize.eq(req)
    values = range(-(1 << (width - 1)), 1 << (width - 1))
    got: dict[str, list[int]] = {"wide": [], "exact": [], "flag": [], "requantize": []}

    async def bench(ctx) -> None:
        for v in values:
            ctx.set(value, v)
            got["wide"].append(ctx.get(wide))
            got["exact"].append(ctx.get(exact))
            got["flag"].append(ctx.get(flagged))
            got["requantize"].append(ctx.get(via_requantize))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want = list(values)
    label = f"hw.fixed.{narrow}({width}-bit value, bits={bits})"
    assert got["wide"] == want, f"{label}: sign lost through a wider signal, e.g. {got['wide'][0]} for {want[0]}"
    assert got["exact"] == want, f"{label}: value changed"
    assert got["requantize"] == want, f"{label}: requantize(shift 0) changed the value"
    assert not any(got["flag"]), f"{label}: flagged a value that fits"
    golden = gf.fit(np.array(want), bits, narrow == "saturate")
    assert golden[0].tolist() == want and not golden[1].any()


@pytest.mark.parametrize("narrow", ["saturate", "wrap"])
def test_narrowing_a_wider_value_is_golden_and_signed(narrow: str) -> None:
    """The other branch (value wider than ``bits``), read through a wider signed signal: the
    result must sign-extend and equal `golden.fixed` for every value of the width."""
    width, bits = 9, 5
    m = Module()
    value = Signal(signed(width))
    y, flag = (hf.saturate if narrow == "saturate" else hf.wrap)(value, bits)
    wide, flagged = Signal(signed(bits + 8)), Signal()
    m.d.comb += [wide.eq(y), flagged.eq(flag)]
    values = np.arange(-(1 << (width - 1)), 1 << (width - 1))
    got, flags = [], []

    async def bench(ctx) -> None:
        for v in values:
            ctx.set(value, int(v))
            got.append(ctx.get(wide))
            flags.append(ctx.get(flagged))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    want, want_flag = gf.fit(values, bits, narrow == "saturate")
    np.testing.assert_array_equal(got, want, err_msg=f"hw.fixed.{narrow}: differs from golden through a wider signal")
    np.testing.assert_array_equal(np.array(flags, dtype=bool), want_flag, err_msg=f"hw.fixed.{narrow}: flag")


@pytest.mark.parametrize("rounding", list(Rounding))
def test_constant_round_shift_matches_golden_at_every_shift(rounding: Rounding) -> None:
    """The constant-shift rounding (one carry chain) is exact for shifts up to beyond the
    value's width, on exact ties (where half-up and half-even differ) and at the extremes."""
    rng = np.random.default_rng(11)
    shifts = list(range(1, WIDTH + 3))
    edges = [-(1 << 13), (1 << 13) - 1, 0, -1, 1]
    ties = [t for s in shifts for t in ((k * 2 + 1) << (s - 1) for k in range(-3, 3)) if -(1 << 13) <= t < 1 << 13]
    values = np.concatenate([rng.integers(-(1 << 13), 1 << 13, 300), edges, ties])

    def build(m: Module, value, shift):
        outs = {}
        for s in shifts:
            rounded = hf.round_shift(value, s, rounding)
            outs[f"r{s}"] = Signal(rounded.shape(), name=f"r{s}")
            m.d.comb += outs[f"r{s}"].eq(rounded)
        return outs

    got = simulate(build, {"value": values, "shift": np.zeros(values.size, dtype=int)})
    for s in shifts:
        np.testing.assert_array_equal(got[f"r{s}"], gf.round_shift(values, s, rounding), err_msg=f"shift {s}")
