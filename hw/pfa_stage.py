"""One stage of a prime-factor (Good-Thomas) transform: a frame through r-point DFT modules.

Why (docs/architecture.md section 6): in a Good-Thomas transform every stage is N / r
independent r-point DFTs along one axis of the buffer layout, with no twiddle factors
between stages; the index maps are only orders of reading and writing. So a stage is a
read-address table, a `hw.winograd.WinogradDft`, and a write-address table, and frames move
from stage to stage through `hw.pingpong.PingPongBuffer` banks.

Dataflow of one frame (N complex words, one read per clock, no stall once started)::

    src bank --read_table[j]--> serial-to-parallel (r words) --> WinogradDft (parallel)
      --> parallel-to-serial --> sat_W(R(., shift)) --write_table[j]--> dst bank

A frame starts when its source bank is ready and the destination bank can be claimed, so the
N reads, the module pipeline and the N writes never wait: the writes land at fixed cycles.
The module fires once per r reads, so the parallel-to-serial register is empty again when
the next vector leaves the module. The arithmetic is the golden block
``sat_W(R(winograd.dft_int(x, frac_bits=f), shift))`` (`golden.native_fft`): the module's
sums are exact, and the one rounding is `hw.fixed.round_shift` of the same integers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from numpy.typing import ArrayLike

from golden.fixed import IntArray, Rounding, round_shift, saturate
from hw import fixed as hf
from hw.complex_mul import complex_layout
from hw.mux import equals, select
from hw.pingpong import READ_LATENCY, address_bits, read_signature, write_signature
from hw.pipeline import delay
from hw.winograd import WinogradDft

__all__ = ["PfaStage", "address_table", "read_address"]


def address_table(addresses: Sequence[int], bits: int, index: object) -> object:
    """``addresses[index]`` as a constant lookup (a small LUT ROM)."""
    return select([Const(int(a), unsigned(bits)) for a in addresses], index)


def read_address(
    m: Module,
    addresses: Sequence[int],
    bits: int,
    index: Signal,
    *,
    restart: Value | None,
    advance: Value,
    reset_less: bool = False,
) -> Signal:
    """``addresses[index]`` out of a register, for a counter ``index`` that the caller moves
    to 0 on ``restart``, else to ``index + 1`` on ``advance``, else holds (exactly that; or,
    with a ``restart`` held over idle cycles, 0 by the first ``advance`` after them).

    Why: the lookup is logic, and a block RAM's address pins sit across the chip from the
    counter; the register gives the router the whole cycle for that wire. The register looks
    ``addresses[index + 1]`` up from ``index`` itself (a rotated table), so the counter's
    control (``restart``/``advance``, which wait on other blocks' flags) only picks between
    that, ``addresses[0]`` and the held value: one multiplexer in front of the register.

    ``restart`` None: the counter only ever wraps from N - 1 to 0 on an ``advance``, where the
    rotated table looks ``addresses[0]`` up by itself.

    ``reset_less``: the caller restarts before its first read after a reset, so the register
    needs no reset (its flip-flops then stay off the reset net)."""
    following = [addresses[(k + 1) % len(addresses)] for k in range(len(addresses))]
    addr = Signal(unsigned(bits), name=f"{index.name}_addr", init=int(addresses[0]), reset_less=reset_less)
    if restart is None:
        with m.If(advance):
            m.d.sync += addr.eq(address_table(following, bits, index))
        return addr
    with m.If(restart):
        m.d.sync += addr.eq(int(addresses[0]))
    with m.Elif(advance):
        m.d.sync += addr.eq(address_table(following, bits, index))
    return addr


class PfaStage(wiring.Component):
    """N / r r-point DFTs of one frame, read and written through address tables.

    Parameters
    ----------
    dft : WinogradDft
        The module (its ``en`` is held high: the stage never stalls).
    read_table, write_table : sequence of int
        N addresses each: read j goes to ``read_table[j]``; the module's output k of the
        instance t is written to ``write_table[t * r + k]`` (reads ``t * r .. t * r + r - 1``
        are that instance's inputs 0..r-1).
    shift : int
        Right shift of the module's outputs (the stage shift plus the module's fraction bits).
    out_bits : int
        Saturation width of the stage's outputs (``overflow`` is set when it clips).
    rounding : golden.fixed.Rounding
        Rounding of the shift.
    in_bits : int, optional
        Width of the source words (default and at most ``dft.in_bits``; sign-extended).
    inverse : bool
        Run the inverse DFT on a forward module: re and im are swapped on the way into the
        module and back (``IDFT(x) = swap(DFT(swap(x)))``, exact for the integer modules too:
        every product and sum is the same integer operation on the other component).
    owned : bool
        True: the stage instantiates ``dft``. False: the module lives outside and is shared
        (ports ``module_*``; its ``en`` must be high and its result returns ``dft.latency``
        cycles after ``module_fire``).
    module_latency : int, optional
        (``owned=False``) cycles from ``module_fire`` to the result on ``module_y`` (default
        ``dft.latency``; a folded `hw.shared_dft.SharedDft` takes one more).
    start_phase : int, optional
        Start frames only when a free-running counter modulo r (reset with everything)
        equals this phase. Two stages on one module with different phases never fire in the
        same cycle: a stage fires every r cycles at a fixed offset from its start, and r
        divides N. The wait is at most r - 1 cycles (`max_start_wait`).

    Attributes
    ----------
    latency : int
        Cycles from a frame's first read to its first write.
    frame_cycles : int
        Cycles between the starts of back-to-back frames: N (the next frame's reads follow
        without a gap while its source is full and its destination free; after an idle
        spell, a start waits up to `max_start_wait`).
    claim_delay : int
        1: ``dst.claim`` comes out of a register, a cycle after the start it stands for.

    Ports
    -----
    src : Out(read_signature(N, 2 * in_bits))       the source buffer (words ``Cat(re, im)``).
    dst : Out(write_signature(N, 2 * out_bits))     the destination buffer.
    overflow : Out(1)                                sticky: an output saturated.
    module_x, module_fire : Out, module_y : In       (``owned=False``) the shared module.
    module_fire_next : Out                           (``owned=False``) ``module_fire`` of the next cycle.
    """

    claim_delay = 1

    def __init__(
        self,
        dft: WinogradDft,
        read_table: Sequence[int],
        write_table: Sequence[int],
        shift: int,
        out_bits: int,
        rounding: Rounding,
        *,
        in_bits: int | None = None,
        inverse: bool = False,
        owned: bool = True,
        start_phase: int | None = None,
        module_latency: int | None = None,
    ) -> None:
        n = len(read_table)
        if len(write_table) != n or n % dft.r:
            raise ValueError(f"PfaStage: {n} reads and {len(write_table)} writes for r={dft.r}")
        if sorted(write_table) != list(range(n)) or sorted(read_table) != list(range(n)):
            raise ValueError("PfaStage: read and write tables must be permutations of 0..N-1")
        self.dft, self.n, self.r = dft, n, dft.r
        self.read_table, self.write_table = [int(a) for a in read_table], [int(a) for a in write_table]
        self.shift, self.out_bits, self.rounding = shift, out_bits, Rounding(rounding)
        self.in_bits = dft.in_bits if in_bits is None else int(in_bits)
        if not 2 <= self.in_bits <= dft.in_bits:
            raise ValueError(f"PfaStage: source words of {self.in_bits} bits for a module of {dft.in_bits}")
        if start_phase is not None and not 0 <= start_phase < self.r:
            raise ValueError(f"PfaStage: start_phase must be in 0..{self.r - 1}; got {start_phase}")
        self.inverse, self.owned, self.start_phase = bool(inverse), bool(owned), start_phase
        self.module_latency = dft.latency if module_latency is None else int(module_latency)
        if owned and self.module_latency != dft.latency:
            raise ValueError("PfaStage: module_latency is for a module outside the stage")
        # read (RAM read and output registers) + serial-to-parallel (r - 1 more words, 1 vector
        # register) + module + parallel-to-serial load (1) + serial word (1) + rounding (1)
        # + saturation (1) + write register (1)
        self.latency = READ_LATENCY + (self.r - 1) + 1 + self.module_latency + 1 + 1 + 1 + 1 + 1
        self.frame_cycles = n
        self.max_start_wait = 0 if start_phase is None else self.r - 1
        ports = {
            "src": Out(read_signature(n, 2 * self.in_bits)),
            "dst": Out(write_signature(n, 2 * out_bits)),
            "overflow": Out(1),
        }
        if not self.owned:
            ports["module_x"] = Out(data.ArrayLayout(complex_layout(dft.in_bits), self.r))
            ports["module_fire"] = Out(1)
            ports["module_fire_next"] = Out(1)
            ports["module_y"] = In(data.ArrayLayout(complex_layout(dft.out_bits), self.r))
        super().__init__(ports)

    def model(self, re: ArrayLike, im: ArrayLike) -> tuple[IntArray, IntArray]:
        """The destination buffer (..., N) for source buffers (..., N)."""
        re, im = np.asarray(re, dtype=np.int64), np.asarray(im, dtype=np.int64)
        order = np.asarray(self.read_table)
        vr = re[..., order].reshape(re.shape[:-1] + (-1, self.r))
        vi = im[..., order].reshape(im.shape[:-1] + (-1, self.r))
        if self.inverse:  # the inverse DFT is the forward one with re/im swapped around it
            yi, yr = self.dft.model(vi, vr)
        else:
            yr, yi = self.dft.model(vr, vi)
        yr = saturate(round_shift(yr, self.shift, self.rounding), self.out_bits)[0].reshape(re.shape)
        yi = saturate(round_shift(yi, self.shift, self.rounding), self.out_bits)[0].reshape(im.shape)
        out_re, out_im = np.empty_like(yr), np.empty_like(yi)
        out_re[..., np.asarray(self.write_table)] = yr
        out_im[..., np.asarray(self.write_table)] = yi
        return out_re, out_im

    def elaborate(self, platform) -> Module:
        m = Module()
        n, r = self.n, self.r
        dft = self.dft
        src, dst = self.src, self.dst
        bits = address_bits(n)

        # --- reads: N consecutive cycles per frame ---------------------------------------------
        busy = Signal()
        j = Signal(range(n))
        start = ~busy & src.ready & dst.free
        if self.start_phase is not None:  # a shared module: this stage fires only in its own slots
            phase = Signal(range(r))
            m.d.sync += phase.eq(Mux(phase == r - 1, 0, phase + 1))
            start = start & equals(phase, self.start_phase)
        # at_last: a register that says j == N - 1, set a cycle ahead, so the release and the
        # next claim (into buffers placed near their other stages) start at two registers
        at_last = Signal(init=n == 1)
        last_read = busy & at_last
        # back to back: the next frame's first read follows this frame's last one; N is a
        # multiple of r, so the module slots keep their phase
        chain = last_read & src.next_ready & dst.free
        # The hand-over to the buffers leaves registers only. Why: ``start`` waits on the
        # shared module's slot counter and on both buffers' flags, and the buffers sit across
        # the chip: a start decoded into the source's read address (or the destination's claim
        # flags) in the same cycle was the native engine's -6 critical path at N = 28
        # (``fwd1.phase -> buf_fwd0.r_addr``). The read address restarts on ``~busy`` instead
        # (idle, it holds ``read_table[0]``: the read in the start cycle is not used, the first
        # one counted is the next cycle's), and the claim reaches the destination a cycle
        # late: no other claim can come in between (the next one is ``chain``, N - 1 >= 1
        # cycles later, when ``dst.free`` already counts this one), and the first write is
        # `latency` cycles away.
        claim = delay(m, start | chain, self.claim_delay, Const(1), "claim")
        m.d.comb += [
            dst.claim.eq(claim),
            src.addr.eq(
                read_address(m, self.read_table, bits, j, restart=~busy | last_read, advance=busy, reset_less=True)
            ),
            src.en.eq(1),
            src.release.eq(last_read),
        ]
        # j and at_last are already 0 and (N == 1) whenever the stage is idle (the last read
        # wraps them), so a start only sets busy. Why: a start that also cleared j drove j's
        # synchronous reset (the LSR of its flip-flops) from the buffers' flags, across the
        # chip: the native N = 56 engine's critical path at both grades
        # (``buf_inv1.w__free -> inv1.j.LSR``, ``fwd1.busy -> fwd1.j.LSR``).
        with m.If(start):
            m.d.sync += busy.eq(1)
        with m.Elif(busy):
            m.d.sync += [j.eq(Mux(at_last, 0, j + 1)), at_last.eq(Mux(at_last, n == 1, j == n - 2))]
            with m.If(last_read & ~chain):
                m.d.sync += busy.eq(0)

        # --- serial to parallel: r words in, one vector to the module --------------------------
        # the buffer's word comes out of the RAM's output register (`READ_LATENCY` cycles)
        word = data.View(complex_layout(self.in_bits), src.data)
        arrived = delay(m, busy, READ_LATENCY, Const(1), "arrived")
        element = Signal(range(r))
        # data registers (here and below) take no reset: their validity is tracked beside
        # them (arrived, fire, done, since_load, out_valid), and rst stays a short net
        vector = Signal(data.ArrayLayout(complex_layout(self.in_bits), r), reset_less=True)
        # The vector shifts on every cycle, not only on ``arrived``: a frame's N reads are
        # contiguous and N is a multiple of r, so the r words before each ``fire`` all arrived.
        # Why: as the enable of r * 2 * in_bits flip-flops, ``arrived`` was spread across the
        # chip, and its route into ``fire`` was the native N = 56, 16-bit -6 critical path
        # (``inv0.arrived_d1 -> inv0.fire.LSR``, 6.9 ns of one wire). It now drives the small
        # element counter and ``fire`` only, and ``fire`` is plain D logic (no LSR).
        m.d.sync += vector.eq(Cat(vector.as_value()[2 * self.in_bits :], word.as_value()))
        fire = Signal()
        fire_next = arrived & equals(element, r - 1)
        m.d.sync += fire.eq(fire_next)
        with m.If(arrived):
            m.d.sync += element.eq(Mux(element == r - 1, 0, element + 1))
        to_module = Signal(data.ArrayLayout(complex_layout(dft.in_bits), r))
        from_module = Signal(data.ArrayLayout(complex_layout(dft.out_bits), r))
        for e in range(r):  # the inverse swaps re and im on the way in and out: wires only
            a, b = (vector[e].im, vector[e].re) if self.inverse else (vector[e].re, vector[e].im)
            m.d.comb += [to_module[e].re.eq(a), to_module[e].im.eq(b)]
        if self.owned:
            m.submodules.dft = dft
            m.d.comb += [dft.en.eq(1), dft.x.eq(to_module), from_module.eq(dft.y)]
        else:
            m.d.comb += [
                self.module_x.eq(to_module),
                self.module_fire.eq(fire),
                self.module_fire_next.eq(fire_next),
                from_module.eq(self.module_y),
            ]
        result = Signal.like(from_module)
        for e in range(r):
            a, b = (from_module[e].im, from_module[e].re) if self.inverse else (from_module[e].re, from_module[e].im)
            m.d.comb += [result[e].re.eq(a), result[e].im.eq(b)]
        done = delay(m, fire, self.module_latency, Const(1), "module_valid")

        # --- parallel to serial ------------------------------------------------------------------
        held = Signal(data.ArrayLayout(complex_layout(dft.out_bits), r), reset_less=True)
        # held rotates on every cycle it does not load (only words counted by ``since_load``
        # are used), so its r * 2 * out_bits flip-flops have no enable to wait on, only
        # ``done`` (a register) as the multiplexer select. Rotating rather than shifting zeros
        # in: a zero would make ``done`` the synchronous reset (LSR) of the top word's
        # flip-flops, a native N = 56 -8 critical path (``inv1.module_valid -> inv1.held.LSR``).
        with m.If(done):
            m.d.sync += held.eq(result)
        with m.Else():
            m.d.sync += held.eq(held.as_value().rotate_right(2 * dft.out_bits))
        # Which of the last r cycles loaded held: a shift register with no enable, so ``done``
        # is a plain D input. A countdown loaded with r on ``done`` made ``done`` the LSR of
        # every counter bit (the constant load is a synchronous set/reset), across the chip
        # from the wide held register it selects: the native N = 56, 16-bit -6 critical path
        # (``inv1.module_valid -> inv1.remaining.LSR``). Bit k set: held was loaded k + 1
        # cycles ago (the formal harness reads the words still to serialise off it).
        since_load = Signal(r, name="since_load")
        m.d.sync += since_load.eq(Cat(done, since_load[:-1]))
        # the serial word gets a register of its own next to the rounding adder: held spans
        # r * 2 * out_bits flip-flops, and its word 0 straight into the adder's carry chain
        # was a native N = 56, 16-bit -6 critical path (``inv1.held -> rounded_re``)
        serial = Signal(complex_layout(dft.out_bits), name="serial", reset_less=True)
        serial_valid = Signal()
        m.d.sync += [serial.eq(held[0]), serial_valid.eq(since_load.any())]

        # --- round, saturate, write: one carry chain per register ------------------------------------
        rounded_re = hf.round_shift(serial.re, self.shift, self.rounding)
        rounded_im = hf.round_shift(serial.im, self.shift, self.rounding)
        r_re = Signal(rounded_re.shape(), name="rounded_re", reset_less=True)
        r_im = Signal(rounded_im.shape(), name="rounded_im", reset_less=True)
        r_valid = Signal()
        m.d.sync += [r_re.eq(rounded_re), r_im.eq(rounded_im), r_valid.eq(serial_valid)]
        out = Signal(complex_layout(self.out_bits), reset_less=True)
        out_valid = Signal()
        clip = Signal()
        re, re_clip = hf.saturate(r_re, self.out_bits)
        im, im_clip = hf.saturate(r_im, self.out_bits)
        m.d.sync += [out.re.eq(re), out.im.eq(im), out_valid.eq(r_valid), clip.eq(re_clip | im_clip)]
        written_clip = Signal()  # beside the write register: overflow rises the cycle after a clipped write
        m.d.sync += written_clip.eq(out_valid & clip)
        with m.If(written_clip):
            m.d.sync += self.overflow.eq(1)
        k = Signal(range(n))
        last_write = out_valid & (k == n - 1)
        # the write leaves a register (address looked up, commit decided the cycle before): the
        # buffer's bank flags are the only logic behind it
        m.d.sync += [
            dst.addr.eq(address_table(self.write_table, bits, k)),
            dst.data.eq(out),
            dst.en.eq(out_valid),
            dst.commit.eq(last_write),
        ]
        with m.If(out_valid):
            m.d.sync += k.eq(Mux(k == n - 1, 0, k + 1))
        return m
