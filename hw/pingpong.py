"""Ping-pong frame buffer: banks of one RAM, handed from a writer to a reader frame by frame.

Why: the native engine's stages (`hw.native_fast_parc`) each read a whole frame in an order
of their own (a prime-factor index map) and write it in another, so consecutive stages cannot
be joined by a FIFO. Two banks let the writer fill frame f + 1 while the reader still reads
frame f; the index maps then cost a read-address table and nothing else.

A bank goes round ``free -> claimed -> full -> free``:

- the writer *claims* the next bank when it starts a frame (``w.free`` says it may), so a
  stage whose pipeline is still writing frame f may already start reading frame f + 1 and
  know that frame's bank is reserved;
- the writer *commits* the bank with (or after) the frame's last write: ``r.ready`` rises;
- the reader *releases* the bank with its last read (the read port samples its address on
  that same edge), and the bank is free again.

Claims, commits and releases each follow their own bank pointer, so frames stay in order.
Two banks suffice when a bank's round trip (the producer's claim to the consumer's release)
is at most two frame periods; a stage whose pipeline is long next to N (N = 7) needs more,
so ``banks`` may be any power of two.
The protocol is the callers' duty: claim only while ``w.free``, write only a claimed bank
(in claim order), release only while ``r.ready``. Writes and reads then never meet in one
bank, so the RAM needs no read-during-write behaviour.

The RAM is one `hw.target.BlockRam` of ``banks * 2**ceil(log2 depth)`` words (the bank is the
top address bits; a block RAM for words over `LUT_RAM_MAX_WIDTH` bits, else as
`hw.target.block_ram_worth` decides), so a read goes through the RAM's read register *and* its output register
(``read_latency`` = 2): a block RAM's unregistered output (5.8 ns clock-to-out on ECP5) never
starts a path, and the readers need no register of their own behind it. ``granularity``
splits a word into lanes written separately (``w.en`` has a bit per lane): the input buffer
writes the two channels of a pair into the real and the imaginary halves at different times.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.mux import equals, pick
from hw.target import BlockRam, check_target

__all__ = ["PingPongBuffer", "read_signature", "write_signature", "address_bits", "READ_LATENCY"]

READ_LATENCY = BlockRam.read_latency  # enabled cycles from a read's address to its data
# Wider words are always a block RAM (`hw.target.BlockRam.block`), whatever the LUT cost: a LUT
# RAM's read fans the address out to a 16 x 4 RAM per 4 bits and the word multiplexers in one
# cycle, and at the 16-bit native engine's 38-50-bit words that was the -6 critical path (115
# MHz at N = 28; 157 MHz in DP16KD tiles). The 8-bit engine's words (22-36 bits) stay in LUTs,
# where they measured as fast or faster (163 against 153 MHz at N = 28, seed 1).
LUT_RAM_MAX_WIDTH = 36


COUNTED_BANKS = 4  # more banks than this keep occupancy counters instead of per-bank flags


def address_bits(depth: int) -> int:
    return max((depth - 1).bit_length(), 1)


def write_signature(depth: int, width: int, lanes: int = 1) -> wiring.Signature:
    """The writer's side, seen from the writer (``Out`` = driven by the writer)."""
    return wiring.Signature(
        {
            "free": In(1),
            "claim": Out(1),
            "addr": Out(address_bits(depth)),
            "data": Out(width),
            "en": Out(lanes),
            "commit": Out(1),
        }
    )


def read_signature(depth: int, width: int) -> wiring.Signature:
    """The reader's side, seen from the reader: ``data`` is the word addressed `READ_LATENCY`
    enabled cycles earlier (held while ``en`` is low)."""
    return wiring.Signature(
        {
            "ready": In(1),
            "next_ready": In(1),
            "addr": Out(address_bits(depth)),
            "en": Out(1),
            "data": In(width),
            "release": Out(1),
        }
    )


class PingPongBuffer(wiring.Component):
    """``banks`` banks of ``depth`` words of ``width`` bits, with claim/commit/release hand-over.

    Ports
    -----
    w : In(write_signature(depth, width, lanes))
        ``free``: the bank the next claim takes is free. ``claim``: take it. ``addr``,
        ``data``, ``en`` (one bit per lane): a write into the oldest claimed, uncommitted bank.
        ``commit``: that bank is full (the write in the same cycle lands first).
    r : In(read_signature(depth, width))
        ``ready``: the oldest full bank may be read; ``next_ready``: so may the one after it (a
        reader that releases a bank can go on with the next in the same cycle). ``addr``/``en``:
        a read in it, ``data`` `READ_LATENCY` enabled cycles later (``en`` clocks the read
        and the output register alike). ``release``: the bank is read (the read in the same
        cycle happens; its word still comes out of the pipeline).

    ``target`` (`hw.target.TARGETS`) chooses how the RAM is written.

    ``late_free``: a released bank counts as claimed for one cycle more, so ``free`` follows a
    release a cycle later. Why: ``free`` is a register decoded from the next claim flags, and
    the release comes from the reader (at the other stage, across the chip) through those
    flags: in the native engine that was a -6 critical path (``spectral.busy ->
    buf_fwd1.w__free``, N = 14, 16 bits). The reader's side (``ready``, ``next_ready``) still
    sees the release at once, so a reader goes on with the next bank without a gap; only a
    writer waiting for that bank starts a cycle later, and the native stages have twice the
    time they need per frame.
    """

    def __init__(
        self,
        depth: int,
        width: int,
        granularity: int | None = None,
        banks: int = 2,
        *,
        target: str = "generic",
        late_free: bool = False,
    ) -> None:
        if depth < 1 or width < 1:
            raise ValueError(f"PingPongBuffer needs depth >= 1 and width >= 1; got {depth}, {width}")
        if granularity is not None and (granularity < 1 or width % granularity):
            raise ValueError(f"granularity must divide width={width}; got {granularity}")
        if banks < 2 or banks & (banks - 1):
            raise ValueError(f"PingPongBuffer needs a power of two >= 2 banks; got {banks}")
        self.depth, self.width, self.granularity, self.banks = depth, width, granularity, banks
        self.late_free = bool(late_free)
        self.target = check_target(target)
        self.lanes = 1 if granularity is None else width // granularity
        super().__init__(
            {
                "w": In(write_signature(depth, width, self.lanes)),
                "r": In(read_signature(depth, width)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        bits = address_bits(self.depth)
        banks = self.banks
        m.submodules.banks = ram = BlockRam(
            self.width,
            banks << bits,
            granularity=self.granularity,
            target=self.target,
            block=self.width > LUT_RAM_MAX_WIDTH,
        )
        pointer = unsigned(banks.bit_length() - 1)  # wraps by itself: banks is a power of two
        claim_bank, write_bank = Signal(pointer, name="claim_bank"), Signal(pointer, name="write_bank")
        read_bank = Signal(pointer, name="read_bank")
        w, r = self.w, self.r
        m.d.comb += [
            ram.w_addr.eq(Cat(w.addr, write_bank)),
            ram.w_data.eq(w.data),
            ram.w_en.eq(w.en),
            ram.r_addr.eq(Cat(r.addr, read_bank)),
            ram.r_en.eq(r.en),
            r.data.eq(ram.r_data),
        ]
        # Every pointer and flag is computed as its next value, so that ``free``, ``ready``
        # and ``next_ready`` can be registers of their own holding exactly what the pointers
        # and flags say this cycle. Why: the stages decide their frame starts on these flags,
        # and the start drives their read address; a flag decoded from the pointer behind a
        # register cost a LUT level and a wire across the chip (the native engine's critical
        # path at -6 ran from ``read_bank`` to the next stage's address register).
        next_claim_bank = Signal(pointer, name="next_claim_bank")
        next_write_bank = Signal(pointer, name="next_write_bank")
        next_read_bank = Signal(pointer, name="next_read_bank")
        m.d.comb += [
            next_claim_bank.eq(Mux(w.claim, claim_bank + 1, claim_bank)),
            next_write_bank.eq(Mux(w.commit, write_bank + 1, write_bank)),
            next_read_bank.eq(Mux(r.release, read_bank + 1, read_bank)),
        ]
        # the releases as the claim side sees them: at once, or (late_free) a cycle later,
        # out of a register, and then for the oldest bank the claim side still holds
        if self.late_free:
            freed = Signal(name="freed")
            free_bank = Signal(pointer, name="free_bank")
            m.d.sync += [freed.eq(r.release), free_bank.eq(Mux(freed, free_bank + 1, free_bank))]
        else:
            freed, free_bank = r.release, read_bank
        free = Signal(init=1, name="free_reg")
        ready = Signal(name="ready_reg")
        next_ready = Signal(name="next_ready_reg")
        if banks <= COUNTED_BANKS:
            claimed = Signal(banks)
            full = Signal(banks)
            next_claimed = Signal(banks, name="next_claimed")
            next_full = Signal(banks, name="next_full")
            for bank in range(banks):
                released = r.release & equals(read_bank, bank)
                unclaimed = freed & equals(free_bank, bank)
                m.d.comb += [
                    next_claimed[bank].eq((claimed[bank] & ~unclaimed) | (w.claim & equals(claim_bank, bank))),
                    next_full[bank].eq((full[bank] & ~released) | (w.commit & equals(write_bank, bank))),
                ]
            m.d.sync += [
                claim_bank.eq(next_claim_bank),
                write_bank.eq(next_write_bank),
                read_bank.eq(next_read_bank),
                claimed.eq(next_claimed),
                full.eq(next_full),
                free.eq(~pick(next_claimed, next_claim_bank)),
                ready.eq(pick(next_full, next_read_bank)),
                next_ready.eq(pick(next_full, (next_read_bank + 1)[: len(next_read_bank)])),
            ]
        else:
            # Many banks (a corner turn's row buffer: 128): a bank-indexed pick of per-bank flags
            # is a 128:1 multiplexer behind the release logic (a 88 MHz path on -6). Claims,
            # commits and releases go in bank order, so the flags of the banks the pointers
            # name are occupancy counts: the bank the next claim takes is claimed iff all
            # ``banks`` are; the oldest claimed bank is full iff one bank is committed and not
            # released, the one after it iff two are. Two small up/down counters say the same.
            taken = Signal(range(banks + 1), name="claimed_count")
            filled = Signal(range(banks + 1), name="full_count")
            next_taken = Signal.like(taken, name="next_claimed_count")
            next_filled = Signal.like(filled, name="next_full_count")
            m.d.comb += [
                next_taken.eq(taken + w.claim - freed),
                next_filled.eq(filled + w.commit - r.release),
            ]
            m.d.sync += [
                claim_bank.eq(next_claim_bank),
                write_bank.eq(next_write_bank),
                read_bank.eq(next_read_bank),
                taken.eq(next_taken),
                filled.eq(next_filled),
                free.eq(next_taken < banks),
                ready.eq(next_filled > 0),
                next_ready.eq(next_filled > 1),
            ]
        m.d.comb += [w.free.eq(free), r.ready.eq(ready), r.next_ready.eq(next_ready)]
        return m
