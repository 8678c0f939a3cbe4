"""`hw.pipeline.delay`: a chain of ``cycles`` registers that advance only on ``enable``, so a
side signal (valid, last, tag) stays beside the stage result it belongs to under random
stalls; a struct view comes back as a view."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth_pipelines import run_enabled

from hw.pipeline import delay

TAG = data.StructLayout({"last": 1, "channel": 3})


class Delayed(wiring.Component):
    """A tag through `delay` (the block under test is the helper, wrapped with ports)."""

    def __init__(self, cycles: int) -> None:
        self.cycles = cycles
        super().__init__({"en": In(1), "i": In(TAG), "o": Out(TAG)})

    def elaborate(self, platform) -> Module:
        m = Module()
        out = delay(m, self.i, self.cycles, self.en, "tag")
        assert isinstance(out, data.View) and out.shape() == TAG, "delay: a view keeps its layout"
        m.d.comb += self.o.eq(out)
        return m


@pytest.mark.parametrize("cycles", [1, 2, 5])
def test_delay_follows_the_enable(cycles: int) -> None:
    """Per enabled edge, the value entered ``cycles`` edges earlier; frozen while disabled."""
    rng = np.random.default_rng(cycles)
    values = rng.integers(0, 1 << TAG.size, 200)
    dut = Delayed(cycles)
    got = run_enabled(dut, {"i": (dut.i.as_value(), values)}, {"o": dut.o.as_value()}, p_enable=0.6, seed=cycles)
    np.testing.assert_equal(
        got["o"][cycles - 1 :],
        values[: len(values) - cycles + 1],
        err_msg="delay: output is not the input `cycles` enabled edges earlier",
    )


def test_delay_by_zero_is_the_value_itself() -> None:
    m = Module()
    value = Signal(4)
    assert delay(m, value, 0, Signal(), "v") is value
    with pytest.raises(ValueError):
        delay(m, value, -1, Signal(), "v")
    assert not Fragment.get(m, None).statements, "delay by 0 must add no register"
