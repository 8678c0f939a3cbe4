"""Property building blocks shared by every harness: free inputs, the stream rules, counters
and the tracked element.

Why these shapes:

- A harness runs in a reset-less ``sync`` domain: every register starts at its init value,
  which in our blocks equals its reset value, so the initial state *is* the state after
  reset, and no reset can break a stream rule half-way (``rst`` is not a proof input).
- Amaranth 0.5 has no ``Past``: a rule about the previous cycle keeps that cycle's values in
  an explicit register here.
- Counters are ``COUNTER_BITS`` wide and wrap; every relation between them is taken modulo
  2**COUNTER_BITS, so the invariants hold forever, not just until the first wrap.
- Data integrity uses the tracked element of amaranth's own FIFO proofs: the environment
  picks one arbitrary position (`AnyConst`), the harness records the value that enters there
  and asserts that the same position leaves with that value. Since the position is arbitrary,
  the proof covers every position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, ClockDomain, Cover, Module, Mux, Signal, Value

__all__ = [
    "COUNTER_BITS",
    "Bench",
    "Tracker",
    "assume",
    "bits_of",
    "count",
    "cover_stalled_transfer",
    "drive_free",
    "hold_rule",
]

COUNTER_BITS = 8


@dataclass
class Bench:
    """A harness under construction: its module and the clock that becomes its only port."""

    m: Module
    clock: Signal

    @classmethod
    def new(cls) -> Bench:
        m = Module()
        m._MustUse__silence = True  # a harness that stops half-way (ProbeError) is reported, not warned about
        domain = ClockDomain("sync", reset_less=True)
        m.domains += domain
        return cls(m, domain.clk)


def bits_of(payload: Any) -> Value:
    """A payload (a `data.View` or a plain value) as its bits."""
    return payload.as_value() if hasattr(payload, "as_value") else Value.cast(payload)


def drive_free(m: Module, *targets: Any) -> None:
    """Drive each target from the environment: any value, chosen anew every cycle."""
    for target in targets:
        bits = bits_of(target)
        m.d.comb += bits.eq(AnySeq(len(bits)))


def hold_rule(m: Module, valid: Value, ready: Value, payload: Any, *, check: type = Assert) -> Value:
    """The stream rule, as an assertion or (``check=Assume``) an environment assumption:
    once ``valid`` is high, ``valid`` and ``payload`` hold until the cycle with ``ready``.
    Returns the transfer (``valid & ready``)."""
    bits = bits_of(payload)
    waited = Signal(name="waited")  # last cycle: valid without ready
    held = Signal(len(bits), name="held_payload")
    m.d.sync += [waited.eq(valid & ~ready), held.eq(bits)]
    with m.If(waited):
        m.d.comb += check(valid & (bits == held))
    return valid & ready


def count(m: Module, event: Value, name: str, width: int = COUNTER_BITS) -> Signal:
    """A wrapping counter of the cycles in which ``event`` is high."""
    counter = Signal(width, name=name)
    with m.If(event):
        m.d.sync += counter.eq(counter + 1)
    return counter


class Tracker:
    """The tracked element: transfer number ``index`` (any, fixed) on ``i`` and on ``o``.

    ``n_in`` / ``n_out`` count the transfers; ``value`` records what entered at ``index``.
    `inside` says the tracked element has entered and not yet left. Call `check_out` with the
    value that must leave at ``index`` and `holds` for every internal slot (strengthening
    invariants: a slot holding transfer ``index`` holds ``value``).
    """

    def __init__(self, m: Module, fire_in: Value, payload_in: Value, fire_out: Value, width: int | None = None) -> None:
        self.m = m
        self.index = AnyConst(COUNTER_BITS)
        self.n_in = count(m, fire_in, "n_in")
        self.n_out = count(m, fire_out, "n_out")
        self.value = Signal(len(payload_in) if width is None else width, name="tracked")
        with m.If(fire_in & (self.n_in == self.index)):
            m.d.sync += self.value.eq(payload_in)
        self.fire_out = fire_out

    @property
    def occupancy(self) -> Value:
        """Transfers in minus transfers out (modulo 2**COUNTER_BITS)."""
        return (self.n_in - self.n_out)[:COUNTER_BITS]

    @property
    def inside(self) -> Value:
        return (self.index - self.n_out)[:COUNTER_BITS] < self.occupancy

    def holds(self, valid: Value, offset: Value | int, payload: Value) -> None:
        """Invariant: a ``valid`` slot that holds transfer ``n_out + offset`` holds ``value``
        when that transfer is the tracked one."""
        with self.m.If(valid & ((self.n_out + offset)[:COUNTER_BITS] == self.index)):
            self.m.d.comb += Assert(payload == self.value)

    def check_out(self, payload: Value, passing: Value | None = None) -> None:
        """The tracked transfer leaves ``o`` with the recorded value, or, for a zero-latency
        block, with ``passing`` (the input this very cycle) when it entered in this cycle."""
        expected = self.value if passing is None else Mux(self.inside, self.value, passing)
        with self.m.If(self.fire_out & (self.n_out == self.index)):
            self.m.d.comb += Assert(payload == expected)


def cover_stalled_transfer(m: Module, valid: Value, ready: Value, tracker: Tracker | None = None) -> None:
    """Cover: a beat waits at least one cycle (``valid`` without ``ready``) and then transfers;
    with a ``tracker``, it is the tracked beat and two beats went before it (so the trace
    shows traffic under backpressure, not just the first beat)."""
    stalled = Signal(name="stalled")
    m.d.sync += stalled.eq(valid & ~ready)
    reached = stalled & valid & ready
    if tracker is not None:
        reached &= (tracker.n_out == tracker.index) & (tracker.index == 2)
    m.d.comb += Cover(reached)


@dataclass(frozen=True)
class TopPorts:
    """What `top_port_rules` leaves for an engine top's own properties."""

    fire_in: Value  # an s_axis transfer this cycle
    fire_out: Value  # an m_axis transfer this cycle
    position: Signal  # outputs so far mod N: the index within its frame of the next output


def top_port_rules(m: Module, top: Any, n: int) -> TopPorts:
    """The port properties every engine top (`hw.top.AxisTop`) shares: inputs and
    ``m_axis_tready`` free, the stream rule assumed of ``s_axis`` and asserted on ``m_axis``,
    a stalled output transfer covered, and ``m_axis_tlast`` asserted on exactly every N-th
    output (whenever ``tvalid``, against an output counter mod N)."""
    drive_free(m, top.s_axis_tvalid, top.s_axis_tdata, top.s_axis_tlast, top.m_axis_tready)
    fire_in = hold_rule(m, top.s_axis_tvalid, top.s_axis_tready, Cat(top.s_axis_tdata, top.s_axis_tlast), check=Assume)
    fire_out = hold_rule(m, top.m_axis_tvalid, top.m_axis_tready, Cat(top.m_axis_tdata, top.m_axis_tlast))
    cover_stalled_transfer(m, top.m_axis_tvalid, top.m_axis_tready)
    position = Signal(range(n), name="out_position")
    with m.If(fire_out):
        m.d.sync += position.eq(Mux(position == n - 1, 0, position + 1))
    with m.If(top.m_axis_tvalid):
        m.d.comb += Assert(top.m_axis_tlast == (position == n - 1))
    return TopPorts(fire_in, fire_out, position)


def assume(m: Module, condition: Value) -> None:
    """An environment assumption for every cycle."""
    m.d.comb += Assume(condition)
