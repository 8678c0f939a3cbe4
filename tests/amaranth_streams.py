"""Stream bus models for Amaranth simulations of our blocks: one copy for every test.

A block's streams (`amaranth.lib.stream`) are driven by the stream rules:

- a `StreamSource` offers its next beat with probability ``p_valid`` per cycle (random
  bubbles) and, once valid, holds payload and valid until the transfer; ``idle_before``
  forces longer idle gaps (a block that drains itself when its input stops needs them);
- a `StreamSink` drives only ``ready``, high with probability ``p_ready`` per cycle (random
  backpressure), and records every payload it takes as plain Python values (a struct
  becomes a dict, an array a list);
- both record the cycle of every transfer (cycle 0 is the first of the run).

`run_streams` runs any number of them in one testbench, cycle by cycle, until every sink
has its expected count, then ``drain`` more cycles with every sink ready, so a block that
emits too much is caught; ``probes`` (status outputs) are sampled every cycle and once
more at the end. A run that times out names the sink that starved. `run_stream` (one
input ``dut.i``, one output ``dut.o``, payload fields by dotted path) and `run_frames` (a
ParC engine fed rows of N samples, ``last`` on the N-th) are the common cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from amaranth.lib import data
from amaranth.sim import Simulator
from numpy.typing import ArrayLike, NDArray


def python_value(value: Any) -> Any:
    """A payload read with ``ctx.get`` as plain Python: struct -> dict, array -> list, int."""
    if isinstance(value, data.Const):
        layout = value.shape()
        if isinstance(layout, data.ArrayLayout):
            return [python_value(value[k]) for k in range(layout.length)]
        return {name: python_value(getattr(value, name)) for name, _ in layout}
    return int(value)


def _field(view: Any, path: str) -> Any:
    for part in path.split("."):
        view = view[int(part)] if part.isdigit() else getattr(view, part)
    return view


def _drive(ctx: Any, view: Any, value: Any) -> None:
    """Set a payload (or part of one) from ints, dicts (struct fields) and lists (arrays)."""
    if isinstance(value, Mapping):
        for name, part in value.items():
            _drive(ctx, _field(view, name), part)
    elif isinstance(value, (list, tuple, np.ndarray)):
        for k, part in enumerate(value):
            _drive(ctx, view[k], part)
    else:
        ctx.set(view, int(value))


def _pick(payload: Any, path: str) -> Any:
    for part in path.split("."):
        payload = payload[int(part)] if isinstance(payload, list) else payload[part]
    return payload


class StreamSource:
    """Drives ``valid``/``payload`` of a stream from a list of beats (payload dicts)."""

    def __init__(
        self,
        stream: Any,
        beats: Sequence[Mapping[str, Any]],
        rng: np.random.Generator | None = None,
        p_valid: float = 1.0,
        *,
        idle_before: Mapping[int, int] | None = None,
        name: str = "source",
    ) -> None:
        self.stream, self.beats, self.p_valid, self.name = stream, list(beats), p_valid, name
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.idle_before = dict(idle_before or {})
        self.sent_cycles: list[int] = []
        self._index, self._holding, self._idle = 0, False, 0

    @property
    def done(self) -> bool:
        return self._index == len(self.beats)

    def drive(self, ctx: Any) -> None:
        """Before the edge: offer the next beat (or keep offering it), or stay idle."""
        if not self._holding and not self.done:
            if self._index in self.idle_before:
                self._idle = self.idle_before.pop(self._index)
            if self._idle > 0:
                self._idle -= 1
            else:
                self._holding = self.rng.random() < self.p_valid
        ctx.set(self.stream.valid, self._holding)
        if self._holding:
            _drive(ctx, self.stream.payload, self.beats[self._index])

    def observe(self, ctx: Any, cycle: int) -> None:
        """After every model has driven: did the beat transfer this cycle?"""
        if self._holding and ctx.get(self.stream.ready):
            self.sent_cycles.append(cycle)
            self._index, self._holding = self._index + 1, False

    def stop(self, ctx: Any) -> None:
        self._holding = False
        ctx.set(self.stream.valid, 0)


class StreamSink:
    """Drives ``ready`` of a stream and records what it takes (``payloads``, ``cycles``)."""

    def __init__(
        self, stream: Any, rng: np.random.Generator | None = None, p_ready: float = 1.0, *, name: str = "sink"
    ) -> None:
        self.stream, self.p_ready, self.name = stream, p_ready, name
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.payloads: list[Any] = []
        self.cycles: list[int] = []
        self._ready = False

    def drive(self, ctx: Any, always: bool = False) -> None:
        self._ready = always or bool(self.rng.random() < self.p_ready)
        ctx.set(self.stream.ready, self._ready)

    def observe(self, ctx: Any, cycle: int) -> None:
        if self._ready and ctx.get(self.stream.valid):
            self.payloads.append(python_value(ctx.get(self.stream.payload)))
            self.cycles.append(cycle)

    def column(self, path: str) -> NDArray[np.int64]:
        """One payload field (dotted for nested: ``"data.re"``) over every transfer, as int64."""
        return np.array([_pick(p, path) for p in self.payloads], dtype=np.int64)


@dataclass
class StreamRun:
    """What a run saw: the output fields taken (``outputs``, by dotted path), the cycle of
    every input and output transfer, the probes per cycle (``trace``) and after the run
    (``final``), and the number of cycles run."""

    outputs: dict[str, list[int]] = field(default_factory=dict)
    in_cycles: list[int] = field(default_factory=list)
    out_cycles: list[int] = field(default_factory=list)
    trace: dict[str, list[int]] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)
    cycles: int = 0

    def column(self, name: str) -> NDArray[np.int64]:
        """One output field over every transfer, as int64."""
        return np.array(self.outputs[name], dtype=np.int64)


def run_streams(
    dut: Any,
    sources: Iterable[StreamSource],
    sinks: Mapping[StreamSink, int],
    *,
    testbenches: Iterable[Callable] = (),
    pulses: Sequence[tuple[Any, Sequence[int]]] = (),
    probes: Mapping[str, Any] | None = None,
    drain: int = 0,
    max_cycles: int | None = None,
) -> StreamRun:
    """Simulate ``dut`` with the bus models until every sink has taken its count of beats.

    ``testbenches`` run beside the bus models in the background (they may loop forever);
    each ``(signal, cycles)`` of ``pulses`` is driven 1 in those cycles and 0 in all others.
    Fails, naming the sink, if ``max_cycles`` pass first (default: generous for the beats
    and the block's ``latency``).
    """
    sources, sinks, probes = list(sources), dict(sinks), dict(probes or {})
    if max_cycles is None:
        beats = sum(len(s.beats) for s in sources) + sum(sinks.values())
        idle = sum(sum(s.idle_before.values()) for s in sources)
        max_cycles = 40 * beats + 20 * int(getattr(dut, "latency", 64)) + idle + 100
    run = StreamRun(trace={name: [] for name in probes})

    models: list[StreamSource | StreamSink] = [*sources, *sinks]

    async def bench(ctx) -> None:
        cycle = 0
        while any(len(sink.payloads) < count for sink, count in sinks.items()):
            if cycle == max_cycles:
                starved = [f"{s.name} took {len(s.payloads)} of {n}" for s, n in sinks.items() if len(s.payloads) < n]
                raise AssertionError(f"no output after {max_cycles} cycles: {', '.join(starved)}")
            for model in models:
                model.drive(ctx)
            for signal, at in pulses:
                ctx.set(signal, int(cycle in at))
            for model in models:
                model.observe(ctx, cycle)
            for name, signal in probes.items():
                run.trace[name].append(ctx.get(signal))
            await ctx.tick()
            cycle += 1
        for source in sources:
            source.stop(ctx)
        for _ in range(drain):  # anything that still comes out is extra
            for sink in sinks:
                sink.drive(ctx, always=True)
            for sink in sinks:
                sink.observe(ctx, cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle
        for name, signal in probes.items():
            run.final[name] = ctx.get(signal)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    for testbench in testbenches:
        sim.add_testbench(testbench, background=True)
    sim.run()
    return run


def frame_lasts(beats: int, frame: int) -> NDArray[np.int64]:
    """``last`` for ``beats`` samples in frames of ``frame``: 1 on every frame's final sample."""
    return (np.arange(beats) % frame == frame - 1).astype(np.int64)


def run_stream(
    dut: Any,
    beats: Mapping[str, ArrayLike],
    outputs: Sequence[str],
    *,
    expect: int,
    seed: int = 0,
    p_valid: float = 1.0,
    p_ready: float = 1.0,
    idle_before: Mapping[int, int] | None = None,
    **options: Any,
) -> StreamRun:
    """``dut.i`` fed from columns (payload field -> one value per beat), and the ``outputs``
    fields (dotted paths: ``"data.re"``, ``"frame.3"``) of ``dut.o`` collected until
    ``expect`` transfers; one seeded generator draws the bubbles and the backpressure.
    ``options`` go to `run_streams` (pulses, probes, drain, max_cycles, testbenches)."""
    columns = {key: np.asarray(values, dtype=np.int64).reshape(-1) for key, values in beats.items()}
    count = len(next(iter(columns.values())))
    assert all(len(v) == count for v in columns.values()), "every payload field needs one value per beat"
    rng = np.random.default_rng(seed)
    label = type(dut).__name__
    source = StreamSource(
        dut.i,
        [{k: int(v[j]) for k, v in columns.items()} for j in range(count)],
        rng,
        p_valid,
        idle_before=idle_before,
        name=f"{label}.i",
    )
    sink = StreamSink(dut.o, rng, p_ready, name=f"{label}.o")
    run = run_streams(dut, [source], {sink: expect}, **options)
    run.outputs = {path: [_pick(p, path) for p in sink.payloads] for path in outputs}
    run.in_cycles, run.out_cycles = source.sent_cycles, sink.cycles
    return run


def run_frames(
    engine: Any,
    rows: ArrayLike,
    *,
    seed: int = 0,
    p_valid: float = 0.8,
    p_ready: float = 0.7,
    drain: int = 0,
    status: Sequence[str] = ("saturations",),
) -> StreamRun:
    """Rows (F, N) into a ParC engine (row f is channel f % C), with bubbles and backpressure;
    its outputs ``data`` and ``last``, its ``status`` ports in ``final``."""
    flat = np.asarray(rows, dtype=np.int64).reshape(-1)
    return run_stream(
        engine,
        {"data": flat, "last": frame_lasts(flat.size, engine.n)},
        ("data", "last"),
        expect=flat.size,
        seed=seed,
        p_valid=p_valid,
        p_ready=p_ready,
        drain=drain,
        probes={name: getattr(engine, name) for name in status},
    )
