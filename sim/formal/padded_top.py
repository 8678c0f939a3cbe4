"""Harness of the padded FFT engine's AXI4-Stream top (`hw.design.build_design`, ``arch="fft"``,
``fft_impl="padded"``, `hw.fast_parc.FastParcEngine`) at small N: the whole netlist, as
generated, with properties on its ports.

What it proves, for every input the stream rules allow and any ``m_axis_tready``:

- ``m_axis`` keeps the stream rules (``tvalid``, ``tdata``, ``tlast`` hold until ``tready``);
- ``m_axis_tlast`` is high on exactly every N-th output sample;
- no sample is lost or repeated: N samples leave per frame the Framer keeps, counted through
  every stage (Framer, Feeder, forward FFT start, the kept-sample FIFO, the output pipeline);
- the kept FIFO never refuses a word and its credit counter ``room`` is exactly its size
  minus the words promised and not yet read;
- ``frame_errors`` equals the malformed-frame count of `Framer.model` over the ``s_axis``
  beats, one cycle later (the Framer counts the cycle after the sample that shows it);
- and covers a whole frame leaving while ``m_axis_tready`` was low during it.

Why it closes by k-induction. The datapath (both FFTs' butterflies, delay lines and
multipliers, the product) carries data only: none of the properties reads it. Its control is
a few registers per FFT (`hw.fft.StreamingFft`: the slot position ``in_pos``, the history
``hist`` of which recent input frames were real, the output flag ``o_valid``), and they *can*
hold a state forever (an idle FFT rests at position 0). So the harness keeps its own history
``starts``: bit i says the forward FFT started a real frame i + 1 of its steps ago (a shift
register advanced on the leader's ``step``), as long as the last start that can still have
words on their way. Every control register is then a function of it, which the invariants
state:

- forward FFT: ``hist[k]`` is the start bit of the k-th newest frame boundary, a start only
  ever happens at position 0, ``o_valid`` says whether the slot it shows belongs to a start;
- the inverse FFT (a follower, `phase` slots and one cycle behind): its position is the
  leader's minus ``phase`` minus the step still in the hand-over register, its ``hist`` and
  ``o_valid`` are the same history read ``phase`` steps further back, and while a real frame
  is inside it the leader steps (``keep_next``, registered in ``step_hold``), so a frame on its
  output is never cut;
- the kept index ``j`` is the output slot's position in its frame (0 between frames);
- counts: words promised (N per start) minus words written into the kept FIFO is exactly the
  words of the starts still in the history that are not yet written.

The product pipeline's valid bits (a free-running delay line, no enable) need no invariant:
a k-induction depth beyond their length determines them. The output pipeline (kept FIFO
read, offset ROM, Requantizer) stalls as a whole on ``~o.valid | o.ready``: its valid and
``last`` registers are tied to the output position counter. The arithmetic is not proven
here: `sim.run` checks it bit for bit against `golden.fast_parc_int`.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Const, Cover, Module, Mux, Signal, Value

from hw.design import DesignSpec, build_design
from hw.fast_parc import FastParcEngine
from hw.top import AxisTop
from sim.formal.credit_buffer import fifo_slots
from sim.formal.framer import framer_invariants, framer_reference
from sim.formal.probe import Probe
from sim.formal.props import COUNTER_BITS, Bench, count, top_port_rules

__all__ = ["SPEC", "LastlessTop", "cover_frame_under_backpressure", "padded_top", "padded_top_bench"]

# the smallest padded engine: N = 2 (M = 8, three FFT stages), 4 bits, one channel
SPEC = DesignSpec(arch="fft", n=2, bits=4, channels=1, weights="random", seed=0, options={"fft_impl": "padded"})


class LastlessTop(AxisTop):
    """Broken on purpose: ``s_axis_tlast`` is left unconnected (the engine sees every sample
    without ``last``), so every frame counts as malformed and the input is skipped."""

    def elaborate(self, platform) -> Module:
        m = super().elaborate(platform)
        m.d.comb += self.engine.i.payload.last.eq(0)
        return m


def padded_top(spec: DesignSpec = SPEC, wrapper: type[AxisTop] = AxisTop) -> AxisTop:
    """The generated top for ``spec``, or its engine inside ``wrapper`` (a broken variant)."""
    design = build_design(spec)
    return design.top if wrapper is AxisTop else wrapper(design.engine)


def _mod(value: Value, modulus: int) -> Value:
    """``value mod modulus`` for a small non-negative ``value`` (a power of two is a slice)."""
    if modulus & (modulus - 1) == 0:
        return value[: max(modulus.bit_length() - 1, 1)] if modulus > 1 else Const(0)
    return value % modulus


def cover_frame_under_backpressure(m: Module, top: AxisTop, fire_out: Value, out: Value) -> None:
    """Cover: the first whole frame leaves ``m_axis`` with ``m_axis_tready`` low at least once
    while a sample of it waited (the first frame: the engine's latency alone makes the trace
    ~60 cycles long, so a second frame would double the cover's cost)."""
    stalled = Signal(name="stalled_in_frame")
    with m.If(fire_out & top.m_axis_tlast):
        m.d.sync += stalled.eq(0)
    with m.Elif(top.m_axis_tvalid & ~top.m_axis_tready):
        m.d.sync += stalled.eq(1)
    m.d.comb += Cover(fire_out & top.m_axis_tlast & stalled & (out == top.engine.n - 1))


def _bit(vector: Value, offset: Value) -> Value:
    """Bit ``offset`` of ``vector`` (0 beyond its end); ``offset`` is never negative."""
    return vector.bit_select(Value.cast(offset).as_unsigned(), 1)


def padded_top_bench(spec: DesignSpec = SPEC, wrapper: type[AxisTop] = AxisTop, *, invariants: bool = True) -> Bench:
    """The padded engine's top for ``spec`` (small N keeps the proof quick); module docstring."""
    bench = Bench.new()
    m = bench.m
    probe = Probe(padded_top(spec, wrapper))
    top = probe.dut
    m.submodules.top = probe.fragment
    engine = top.engine
    assert isinstance(engine, FastParcEngine)
    n, size, depth = engine.n, engine.m, engine.kept_depth
    # stream rules on both ports, tlast on every N-th output (props.top_port_rules)
    ports = top_port_rules(m, top, n)
    fire_in, fire_out, position = ports.fire_in, ports.fire_out, ports.position

    # the Framer (fed straight from s_axis) and the malformed-frame count
    framer = probe.block("engine", "framer")
    ref = framer_reference(m, fire_in, top.s_axis_tlast, n)
    m.d.comb += Assert(top.frame_errors == ref.errors_seen)
    out = count(m, fire_out, "samples_out")
    cover_frame_under_backpressure(m, top, fire_out, out)
    if not invariants:  # the port properties alone (a broken variant's counterexample names one)
        return bench

    framer_invariants(m, probe, ref, n, "engine", "framer")
    m.d.comb += [
        Assert(position < n),
        Assert(probe.signal("full", "engine", "framer") == framer.o.valid),
        Assert(framer.errors == ref.errors_seen),
    ]

    # --- the forward FFT (leader) and the Feeder ---------------------------------------------
    fwd = probe.block("engine", "fft_fwd")
    inv = probe.block("engine", "fft_inv")

    def fft_signal(name: str, which: str) -> Signal:
        return probe.signal(name, "engine", which)

    f_pos, f_hist, f_ready = (
        fft_signal("in_pos", "fft_fwd"),
        fft_signal("hist", "fft_fwd"),
        fft_signal("ready", "fft_fwd"),
    )
    f_start, f_ovalid = fft_signal("start", "fft_fwd"), fft_signal("o_valid", "fft_fwd")
    i_pos, i_hist, i_ovalid = (
        fft_signal("in_pos", "fft_inv"),
        fft_signal("hist", "fft_inv"),
        fft_signal("o_valid", "fft_inv"),
    )
    i_step = inv.step  # the leader's step, one cycle late (the hand-over register)
    handover = probe.signal("handover_step_d0", "engine")  # the leader's step of the last cycle
    f_d1, i_d1 = fwd.latency - 1, inv.latency - 1
    phase = fwd.latency + engine.multiply_stages
    assert inv.phase == phase, "the follower's phase is the forward latency plus the multiply stages"

    # the start history, in leader steps: starts[i] = a real frame started i + 1 steps ago
    length = max(len(f_hist) * size, phase + 1 + len(i_hist) * size, phase + 1 + i_d1 + n)
    starts = Signal(length, name="start_history")
    with m.If(fwd.step):
        m.d.sync += starts.eq(Cat(f_start, starts[:-1]))
    m.d.comb += Assert(~f_start | ~f_pos.any())  # a frame starts at position 0 only
    # at_boundary is in_pos == 0, a register of its own; the leader's step_hold is everything
    # but a start that makes it step: off position 0, a frame still inside, or a real slot
    # behind it (the product's valids, the follower's history)
    product_valids = [probe.signal(f"prod_valid{d}_d0", "engine") for d in range(1, engine.product_stages + 1)]
    f_d1_frames = fwd.pending_frames
    m.d.comb += [
        Assert(fft_signal("at_boundary", "fft_fwd") == ~f_pos.any()),
        Assert(fft_signal("at_boundary", "fft_inv") == ~i_pos.any()),
        Assert(
            fft_signal("step_hold", "fft_fwd")
            == (f_pos.any() | f_hist[:f_d1_frames].any() | f_ovalid | Cat(*product_valids).any() | i_hist.any())
        ),
    ]
    for i in range(length):  # ... so a start i + 1 steps ago left the position at i + 1
        with m.If(starts[i]):
            m.d.comb += Assert(f_pos == (i + 1) % size)

    def age(pos: Value) -> Value:
        """Steps since the current input frame's boundary step (M at position 0)."""
        return Mux(pos == 0, size, pos)

    for k in range(len(f_hist)):
        m.d.comb += Assert(f_hist[k] == _bit(starts, k * size - 1 + age(f_pos)))
    f_out_pos = _mod(f_pos - 1 - f_d1 + 4 * size, size)  # the position of the slot on fwd.o
    m.d.comb += Assert(f_ovalid == (handover & _bit(starts, f_d1 + f_out_pos)))
    # i.ready (a register): inside a frame, that frame's realness; at position 0, the credit
    # check of the cycle before, so a start finds room for its N words
    with m.If(f_pos.any()):
        m.d.comb += Assert(f_ready == f_hist[0])
    room = probe.signal("room", "engine")
    with m.If(~f_pos.any() & f_ready):
        m.d.comb += Assert(room >= n)
    # the Feeder sends a real frame's points while the forward FFT takes them
    f_busy, f_index = probe.signal("busy", "engine", "feeder"), probe.signal("index", "engine", "feeder")
    sending = f_busy & f_index.any()
    m.d.comb += [
        Assert(sending == (f_pos.any() & f_hist[0])),
        Assert(probe.signal("position_done", "engine", "feeder")),
    ]
    with m.If(sending):
        m.d.comb += Assert(f_index == f_pos)
    with m.If(f_busy):
        m.d.comb += Assert(probe.signal("frame_done", "engine", "feeder") == (f_index == size - 1))

    # --- the inverse FFT (follower): the same history, phase steps and the hand-over behind --
    m.d.comb += Assert(_mod(i_pos + handover + phase, size) == f_pos)
    behind = phase + handover

    def inv_start(i: int, extra: Value | int = 0) -> Value:
        """The follower's start bit i + 1 of its steps ago."""
        return _bit(starts, behind + i + extra)

    for k in range(len(i_hist)):
        m.d.comb += Assert(i_hist[k] == inv_start(k * size - 1, age(i_pos)))
    i_stepped = Signal(name="inv_stepped")
    m.d.sync += i_stepped.eq(i_step)
    i_out_pos = _mod(i_pos - 1 - i_d1 + 4 * size, size)
    m.d.comb += [
        Assert(i_ovalid == (i_stepped & inv_start(i_d1, i_out_pos))),
        Assert(~i_hist.any() | handover),  # a real frame inside the follower keeps the leader stepping
    ]
    j = probe.signal("j", "engine")
    m.d.comb += Assert(j == Mux(i_ovalid, i_out_pos, 0))

    # --- counts: frames kept -> taken by the Feeder -> started -> words written -> read -> out
    fed = count(m, framer.o.valid & framer.o.ready, "frames_fed")
    started = count(m, f_start, "frames_started")
    kept_fifo = probe.block("engine", "kept_fifo")
    write = kept_fifo.w_en
    written = count(m, write, "words_written")
    read = count(m, kept_fifo.r_en & kept_fifo.r_rdy, "words_read")
    returned = probe.signal("returned", "engine")  # a read whose credit comes back this cycle
    kept = count(m, ref.completes, "frames_kept")

    def counter(value: Value) -> Value:
        return value[:COUNTER_BITS]

    pending: Value = Const(0, COUNTER_BITS)  # words of the starts in the history not yet written
    for h in (0, 1):
        words: Value = Const(0, COUNTER_BITS)
        for i in range(length):
            later = i - phase - h  # the follower's start history index
            left = n if later < 0 else n - min(max(later - i_d1, 0), n)
            if left:
                words = words + Mux(starts[i], left, 0)
        pending = Mux(handover == h, counter(words), pending)
    m.d.comb += [
        Assert(counter(kept - fed) == framer.o.valid),
        Assert(counter(fed - started) == (f_busy & ~f_index.any())),
        Assert(counter(counter(started * n) - written) == pending),
        Assert(counter(room + returned + counter(started * n) - read) == depth),  # read, not yet returned
        Assert(~write | kept_fifo.w_rdy),  # the kept FIFO never refuses a word
    ]

    # the kept FIFO and the output pipeline (one enable: ~o.valid | o.ready), oldest first,
    # against the output position: each holds its sample's index (or last flag)
    occupancy, slots = fifo_slots(m, probe, "engine", "kept_fifo")
    m.d.comb += Assert(counter(written - read) == occupancy)
    requantizer = probe.block("engine", "requantizer")
    rom_latency = probe.block("engine", "offset_rom").latency
    stages: list[tuple[Value, Value]] = [(requantizer.o.valid, requantizer.o.payload.last)]
    stages += [
        (
            probe.signal(f"rq_valid_d{k}", "engine", "requantizer"),
            probe.signal(f"rq_last_d{k}", "engine", "requantizer"),
        )
        for k in reversed(range(3))
    ]
    stages += [
        (probe.signal(f"out_valid_d{k}", "engine"), probe.signal(f"out_last_d{k}", "engine"))
        for k in reversed(range(rom_latency + 1))
    ]
    re_bits = inv.config.output_bits
    index_bits = max((n - 1).bit_length(), 1)
    kept_valid, kept_word = probe.signal("out_kept_valid_d0", "engine"), probe.signal("out_kept_d0", "engine")
    older: Value = Const(0, COUNTER_BITS)
    for valid, last in stages:
        with m.If(valid):
            m.d.comb += Assert(last == (_mod(position + older, n) == n - 1))
        older = older + valid
    indexed = [(kept_valid, Const(0), kept_word)] + [(v, off, p) for v, off, p in slots]
    base = older
    for valid, offset, payload in indexed:
        with m.If(valid):
            m.d.comb += Assert(payload[re_bits : re_bits + index_bits] == _mod(position + base + offset, n))
        if payload is kept_word:
            base = base + kept_valid
    m.d.comb += [
        Assert(counter(read - out) == older + kept_valid),
        Assert(_mod(position + older + kept_valid + occupancy, n) == Mux(i_ovalid & (j < n), j, 0)),
    ]

    return bench
