"""Harness of the native FFT engine's AXI4-Stream top (`hw.design.build_design`, ``arch="fft"``,
``fft_impl="native"``, `hw.native_fast_parc.NativeFastParcEngine`) at small N: the whole
netlist, as generated, with properties on its ports.

What it proves by k-induction (depth 10), for every input the stream rules allow and any
``m_axis_tready``:

- ``m_axis`` keeps the stream rules (``tvalid``, ``tdata``, ``tlast`` hold until ``tready``);
- ``m_axis_tlast`` is high on exactly every N-th output sample;
- no sample is lost or repeated, counted block by block (`chain_invariants`): every frame the
  PairWriter keeps is committed into the input buffer; in every `hw.pingpong.PingPongBuffer`
  the claim/commit/release pointers, the occupancy counters ``claimed_count``/``full_count``
  (or, with at most `hw.pingpong.COUNTED_BANKS` banks, each bank's ``claimed``/``full``
  flags) and the registered ``free``/``ready``/``next_ready`` flags follow its counts, and at
  most ``banks`` frames are claimed and not released (so no bank is overwritten before it is
  read); every transform stage claims one destination bank per source bank it reads, its
  reads, arrivals, module slots, serialised words and writes match one for one, and it
  commits one frame per N writes; the output reader issues N words per frame it releases
  from the last buffer, and the words issued equal the outputs plus the words in the
  free-running output pipeline plus those in the output FIFO (counted by its credits), which
  never refuses a word;
- ``frame_errors`` equals the malformed-frame count of `Framer.model` over the ``s_axis``
  beats (the `hw.pair_writer.PairWriter` applies the Framer's rules), one cycle later;
- and covers a whole frame leaving while ``m_axis_tready`` was low during it.

Why it closes. Every control register that can hold a state forever gets an invariant
against the harness's counters: the buffers' pointers, occupancy counters (or bank flags)
and flag registers, each stage's read counter ``j``, its serial-to-parallel ``element``, its
serial count ``remaining`` (read off its shift register ``since_load``), its write counter ``k`` (``count`` in the spectral stage), the
writer's ``pair_open``. The registers that only
delay a valid bit are tied to a short history of the stage's reads where the chain is longer
than the induction depth (the spectral stage's 15 cycles from a bin's second read to its
write); the output pipeline from the reader's issue to the FIFO runs free and is shorter
than the depth. The datapath (modules, products, the RAM contents) carries data only: no
property reads it. The harness is for one channel (N words per bank, no second lane) and a
spectral stage without mirrored writes (N = 2); other sizes need the per-bin write count.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Assert, Cat, Const, Module, Mux, Signal, Value

from hw.design import DesignSpec
from hw.native_fast_parc import NativeFastParcEngine
from hw.pingpong import COUNTED_BANKS
from hw.top import AxisTop
from sim.formal.credit_buffer import credit_invariants, fifo_slots
from sim.formal.framer import FramerReference, framer_reference
from sim.formal.padded_top import cover_frame_under_backpressure, padded_top
from sim.formal.probe import Probe
from sim.formal.props import COUNTER_BITS, Bench, count, top_port_rules

__all__ = ["SPEC", "native_top", "native_top_bench"]

# the smallest native engine: N = 2 (one 2-point module per transform), 4 bits, one channel
SPEC = DesignSpec(arch="fft", n=2, bits=4, channels=1, weights="random", seed=0, options={"fft_impl": "native"})


def native_top(spec: DesignSpec = SPEC, wrapper: type[AxisTop] = AxisTop) -> AxisTop:
    """The generated top for ``spec``, or its engine inside ``wrapper`` (a broken variant)."""
    return padded_top(spec, wrapper)


def native_top_bench(spec: DesignSpec = SPEC, wrapper: type[AxisTop] = AxisTop, *, invariants: bool = True) -> Bench:
    """The native engine's top for ``spec`` (small N keeps the proof quick); module docstring."""
    bench = Bench.new()
    m = bench.m
    probe = Probe(native_top(spec, wrapper))
    top = probe.dut
    m.submodules.top = probe.fragment
    engine = top.engine
    assert isinstance(engine, NativeFastParcEngine)
    n = engine.n
    # stream rules on both ports, tlast on every N-th output (props.top_port_rules)
    ports = top_port_rules(m, top, n)
    fire_in, fire_out, position = ports.fire_in, ports.fire_out, ports.position

    def counter(value: Value) -> Value:
        return value[:COUNTER_BITS]

    # the PairWriter applies the Framer's rules to the s_axis beats
    ref = framer_reference(m, fire_in, top.s_axis_tlast, n)
    m.d.comb += Assert(top.frame_errors == ref.errors_seen)
    out = count(m, fire_out, "samples_out")
    cover_frame_under_backpressure(m, top, fire_out, out)
    if not invariants:  # the port properties alone (a broken variant's counterexample names one)
        return bench

    writer = probe.block("engine", "writer")

    def w(name: str) -> Signal:
        return probe.signal(name, "engine", "writer")

    m.d.comb += [
        Assert(w("count") == ref.pos),
        Assert(w("skipping") == ref.skip),
        Assert(w("complete") == (ref.pos == n - 1)),
        Assert(writer.errors == ref.errors_seen),
        Assert(w("error_seen") == (ref.errors != ref.errors_seen)),
        Assert(ref.pos < n),
    ]

    # the output reader: a word issued per credit; free-running to the output FIFO
    output = probe.block("engine", "output")
    issue = output.take
    issued = count(m, issue, "words_issued")
    written = count(m, output.i.valid, "fifo_written")
    pipeline = engine.output_stages - 2  # issue -> output FIFO input (CreditBuffer.latency after it)
    history = Signal(pipeline, name="issue_history")  # bit k: issued k + 1 cycles ago
    m.d.sync += history.eq(Cat(issue, history[:-1]))
    m.d.comb += [
        Assert(output.i.valid == history[-1]),
        Assert(counter(issued - written) == sum(history[k] for k in range(pipeline))),
    ]
    index = probe.block("engine", "offset_rom").index  # the reader's index (the ROM port it drives)
    end_of_frame = probe.signal("end_of_frame", "engine")
    outstanding = counter(issued - out)
    depth = engine.output_fifo_depth
    m.d.comb += [
        Assert(index < n),
        Assert(position < n),
        Assert(end_of_frame == (index == n - 1)),
        Assert(outstanding <= depth),
        Assert(~output.i.valid | output.i.ready),  # the FIFO never refuses a word
        Assert(((position + outstanding) % n) == index),
    ]
    # the chain's two ends: every frame kept is committed into the input buffer (the commit
    # leaves a register a cycle after the frame's last sample), and the reader issues N words
    # per frame it releases from the last buffer (one channel: no second lane to read)
    assert engine.layer.channels == 1, "the harness counts one channel (one frame per bank)"
    kept = count(m, ref.completes, "frames_kept")
    committed = count(m, writer.w.commit, "frames_committed")
    last_buffer = probe.block("engine", f"buf_{engine.stage_specs[-1]['name']}")
    released = count(m, last_buffer.r.release, "frames_released")
    m.d.comb += [
        Assert(counter(kept - committed) == writer.w.commit),
        Assert(probe.signal("pair", "engine") == 0),
        Assert(~probe.signal("second", "engine")),
        Assert(counter(counter(released * n) + index) == issued),
    ]
    chain_invariants(m, probe, engine, ref, kept, released, counter)
    credit_invariants(m, probe, outstanding, depth, "engine", "output")
    occupancy, slots = fifo_slots(m, probe, "engine", "output", "fifo")
    m.d.comb += Assert(counter(written - out) == occupancy)
    last_bit = len(top.m_axis_tdata)
    for valid, offset, payload in slots:
        with m.If(valid):
            m.d.comb += Assert(payload[last_bit] == (((position + offset) % n) == n - 1))

    return bench


def chain_invariants(
    m: Module,
    probe: Probe,
    engine: NativeFastParcEngine,
    ref: FramerReference,
    kept: Value,
    released: Value,
    counter: Callable[[Value], Value],
) -> None:
    """The frame chain between the PairWriter and the output reader, one exact count per
    block: each `PingPongBuffer`'s pointers, occupancy counters (per-bank flags with at most
    `COUNTED_BANKS` banks) and free/ready/next_ready registers against its claims, commits and
    releases; each stage's claims = its source's releases + the frame it reads; its reads,
    arrivals, module slots, serialised words and writes against each other; its writes = N per
    commit. Together: no frame is lost (a bank is claimed only while free, so none is
    overwritten before it is read) or repeated anywhere in the chain."""
    n = engine.n
    buffers = ["buf_in"] + [f"buf_{spec['name']}" for spec in engine.stage_specs[: len(engine.params.factors)]]
    buffers += ["buf_rec"] + [f"buf_{spec['name']}" for spec in engine.stage_specs[len(engine.params.factors) :]]
    stages = [spec["name"] for spec in engine.stage_specs[: len(engine.params.factors)]]
    stages += ["spectral"] + [spec["name"] for spec in engine.stage_specs[len(engine.params.factors) :]]
    events: dict[str, tuple[Value, Value, Value]] = {}
    for name in buffers:
        buf = probe.block("engine", name)
        claims = count(m, buf.w.claim, f"{name}_claims")
        commits = count(m, buf.w.commit, f"{name}_commits")
        releases = count(m, buf.r.release, f"{name}_releases")
        events[name] = (claims, commits, releases)
        banks = buf.banks
        bits = banks.bit_length() - 1
        claim_bank, write_bank = probe.signal("claim_bank", "engine", name), probe.signal("write_bank", "engine", name)
        read_bank = probe.signal("read_bank", "engine", name)
        # late_free: the claim side counts a release a cycle late (the register ``freed``),
        # from its own pointer ``free_bank``
        freed = probe.signal("freed", "engine", name) if buf.late_free else Const(0, 1)
        free_bank = probe.signal("free_bank", "engine", name) if buf.late_free else read_bank
        held, filled = counter(claims - releases + freed), counter(commits - releases)
        m.d.comb += [
            Assert(claim_bank == claims[:bits]),
            Assert(write_bank == commits[:bits]),
            Assert(read_bank == releases[:bits]),
            Assert(free_bank == (releases - freed)[:bits]),
            Assert(held <= banks),
            Assert(filled <= held),
            # the flags the stages start on are registers of their own (next-state decoded)
            Assert(probe.signal("free_reg", "engine", name) == (held < banks)),
            Assert(probe.signal("ready_reg", "engine", name) == (filled > 0)),
            Assert(probe.signal("next_ready_reg", "engine", name) == (filled > 1)),
        ]
        if banks > COUNTED_BANKS:  # two occupancy counters instead of per-bank flags
            m.d.comb += [
                Assert(probe.signal("claimed_count", "engine", name) == held),
                Assert(probe.signal("full_count", "engine", name) == filled),
            ]
            continue
        claimed, full = probe.signal("claimed", "engine", name), probe.signal("full", "engine", name)
        for bank in range(banks):
            distance = (bank - read_bank)[:bits]  # banks from the oldest full one
            claim_distance = (bank - free_bank)[:bits]  # banks from the oldest claimed one
            m.d.comb += [
                Assert(claimed[bank] == (claim_distance < held)),
                Assert(full[bank] == (distance < filled)),
            ]

    # the PairWriter: claims with a frame's first sample, commits a cycle after its last
    claims, commits, _ = events["buf_in"]
    w_commit = probe.block("engine", "writer").w.commit
    pair_open = probe.signal("pair_open", "engine", "writer")
    m.d.comb += [
        Assert(counter(claims - commits) == pair_open + w_commit),
        Assert(counter(kept - commits) == w_commit),
    ]
    m.d.comb += Assert(~ref.skip | (ref.pos == 0))  # skipping starts at a frame's end
    with m.If(ref.pos != 0):
        m.d.comb += Assert(pair_open)

    for stage, source, destination in zip(stages, buffers[:-1], buffers[1:], strict=True):
        block = probe.block("engine", stage)

        def sig(name: str, stage: str = stage) -> Signal:
            return probe.signal(name, "engine", stage)

        _, src_commits, src_releases = events[source]
        dst_claims, dst_commits, _ = events[destination]
        busy, j, at_last = sig("busy"), sig("j"), sig("at_last")
        reads = count(m, busy, f"{stage}_reads")
        commit = sig("dst__commit")
        m.d.comb += [
            # the claim leaves a register (`PfaStage.claim_delay`): a start is counted a cycle late
            Assert(counter(dst_claims + sig("dst__claim") - src_releases) == busy),
            Assert(~busy | (counter(src_commits - src_releases) != 0)),
        ]
        if stage == "spectral":
            h = engine.params.bins
            assert h == n, "N = 2: no mirrored write, one write per bin"
            m.d.comb += [
                Assert(counter(reads) == counter(counter(2 * h * src_releases) + j)),
                Assert(Mux(busy, at_last == (j == 2 * h - 1), ~at_last & (j == 0))),
                Assert(sig("pair") == 0),
            ]
            odd = busy & j[0]  # the second read of a bin: its write follows at a fixed latency
            odd_reads = count(m, odd, "spectral_odd_reads")
            busy_history, j0_history = Signal(2, name="spectral_busy_history"), Signal(2, name="spectral_j0_history")
            odd_history = Signal(15, name="spectral_odd_history")  # bit i: i + 1 cycles ago
            m.d.sync += [
                busy_history.eq(Cat(busy, busy_history[:-1])),
                j0_history.eq(Cat(j[0], j0_history[:-1])),
                odd_history.eq(Cat(odd, odd_history[:-1])),
            ]
            product = block.multiplier.latency
            assert product + 7 == len(odd_history), "the spectral stage's schedule changed"
            written = count(m, sig("rec_valid"), "spectral_writes")
            m.d.comb += [
                Assert(sig("arrived_d0") == busy_history[0]),
                Assert(sig("arrived_d1") == busy_history[1]),
                Assert(sig("second_d0") == j0_history[0]),
                Assert(sig("second_d1") == j0_history[1]),
                Assert(sig("sum_valid") == odd_history[2]),
                Assert(sig("sep_valid") == odd_history[3]),
                Assert(sig("phase_d0") == odd_history[4]),
                Assert(sig("rsum_valid") == odd_history[4 + product + 1]),
                Assert(sig("rec_valid") == odd_history[4 + product + 2]),
                Assert(~sig("mirror_write_d0")),
                Assert(counter(odd_reads) == counter(counter(h * src_releases) + (j >> 1))),
                Assert(counter(odd_reads - written) == sum(odd_history[i] for i in range(len(odd_history)))),
                Assert(counter(written) == counter(counter(n * (dst_commits + commit)) + sig("count"))),
            ]
            for d in range(product):
                m.d.comb += [
                    Assert(sig(f"product_valid_d{d}") == (odd_history[4 + d] | odd_history[5 + d])),
                    Assert(sig(f"product_second_d{d}") == odd_history[5 + d]),
                ]
            continue
        r = block.r
        arrivals = count(m, sig("arrived_d1"), f"{stage}_arrivals")
        fire = sig("fire")
        fires = count(m, fire, f"{stage}_fires")
        done = sig(f"module_valid_d{block.module_latency - 1}")
        results = count(m, done, f"{stage}_results")
        # words of held's newest load still to serialise: r - k for the newest load k + 1
        # cycles ago (`PfaStage`'s shift register ``since_load``), 0 when none is left
        since_load = sig("since_load")
        remaining: Value = Const(0, range(r + 1))
        for k in reversed(range(r)):
            remaining = Mux(since_load[k], r - k, remaining)
        serial = count(m, remaining != 0, f"{stage}_serial")
        written = count(m, sig("out_valid"), f"{stage}_writes")
        in_module = sum(sig(f"module_valid_d{d}") for d in range(block.module_latency))
        m.d.comb += [
            Assert(counter(reads) == counter(counter(n * src_releases) + j)),
            Assert(Mux(busy, at_last == (j == n - 1), (at_last == (n == 1)) & (j == 0))),
            Assert(counter(reads - arrivals) == sig("arrived_d0") + sig("arrived_d1")),
            Assert(sig("element") < r),
            Assert(counter(arrivals) == counter(r * (fires + fire) + sig("element"))),
            Assert(counter(fires - results) == in_module),
            Assert(remaining <= r),
            Assert(counter(r * results - serial) == remaining),
            Assert(counter(serial - written) == sig("serial_valid") + sig("r_valid") + sig("out_valid")),
            Assert(sig("k") < n),
            Assert(counter(written) == counter(counter(n * (dst_commits + commit)) + sig("k"))),
        ]
    # the output reader reads the last buffer's oldest frame
    _, last_commits, last_releases = events[buffers[-1]]
    index = probe.block("engine", "offset_rom").index
    with m.If(index != 0):
        m.d.comb += Assert(counter(last_commits - last_releases) != 0)
    m.d.comb += Assert(released == last_releases)
