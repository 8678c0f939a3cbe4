"""Hard blocks with their registers: the multiplier and the block RAM every engine builds on.

Why: a 200 MHz clock on an FPGA needs the registers *inside* the hard blocks. An ECP5
MULT18X18D without its input registers runs at about 141 MHz, a block RAM without its output
register at about 138 MHz (../shared/PARC.md section 4), and yosys does not move fabric
registers into either. So every engine asks this module for a multiplier or a RAM with a
fixed, stated register structure, and the ``target`` decides how it is written:

- ``generic``: portable Verilog with the registers placed where vendor tools absorb them
  (input, pipeline and output register around a ``*``; a register right after the RAM read);
- ``ecp5``: the Lattice primitives (`hw.ecp5`: MULT18X18D, DP16KD), instantiated with those
  registers switched on; blocks the primitives do not fit keep the generic form (operands
  wider than 18 bits; memories a block RAM would waste, see `BlockRam`);
- ``xc7``: the generic structure with the attributes Vivado honours (``use_dsp = "yes"`` on
  the product, ``ram_style = "block"`` on memories worth a block RAM); Vivado packs the
  registers into DSP48E1 / RAMB18E1.

Whatever the target, a block's ports, latency, reset values and arithmetic are the same, so
the engines and the golden models never see the difference. The ecp5 Verilog instantiates
primitives a simulator does not know: `sim_model_files` lists our behavioural twins of
exactly the configurations used (``hw/vendor/ecp5/``), for simulation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from amaranth.hdl import Cat, Const, Module, Shape, ShapeLike, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw import ecp5

__all__ = [
    "TARGETS",
    "MULT_LATENCY",
    "check_target",
    "sim_model_files",
    "block_ram_worth",
    "ebr_segments",
    "Multiplier",
    "BlockRam",
]

TARGETS = ("generic", "ecp5", "xc7")


def check_target(target: str) -> str:
    """``target`` if it is one of `TARGETS`, else ValueError naming them."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    return target


def sim_model_files(target: str) -> list[Path]:
    """Verilog files a simulator needs beside the design's own (the behavioural twins of the
    vendor primitives a target instantiates); synthesis never reads them."""
    check_target(target)
    if target == "ecp5":
        return [SIM_MODELS / name for name in ECP5_SIM_FILES]
    return []


SIM_MODELS = Path(__file__).resolve().parent / "vendor" / "ecp5"
ECP5_SIM_FILES = ("MULT18X18D_sim.v", "DP16KD_sim.v")  # package data (pyproject.toml)


def ebr_segments(width: int, depth: int, lanes: int = 1) -> list[tuple[int, int, int]]:
    """How `BlockRam` cuts a ``width`` x ``depth`` memory into DP16KD segments: ``(first
    word, words, DATA_WIDTH)`` of each, in address order.

    Up to 16384 words it is one segment in the widest mode that holds the depth (`hw.ecp5.
    ebr_mode`), as it always was. A deeper memory is cut into segments of one power-of-two
    size S (the depth of a mode, 1024 .. 16384 words), so that a segment is the address's
    top bits and a word in it the low ones; each segment, the shorter last one included,
    takes the widest mode that holds its words (``lanes`` x ceil(lane bits / mode) tiles).
    Of the sizes, the cheapest wins, judged in this order:

    1. the depth of the read multiplexer, in LUT6 levels (up to 4 segments: one level, a
       LUT6 per bit = 4 LUT4 + PFUMX + L6MUX21; up to 16: two). It sits behind the tiles'
       output registers, on the path into whatever reads ``r_data``, and a second level
       also costs far more than the tiles it saves: 32768 x 18 in sixteen x9 segments is 32
       tiles but 569 LUT4 (yosys ``synth_ecp5``), in two x1 segments 36 tiles and 20 LUT4;
    2. the fewest tiles (a DP16KD is worth 128 LUT4 in yosys' cost, `block_ram_worth`);
    3. the fewest segments (a narrower multiplexer, fewer write-enable gates).

    65536 x 8 ties at 32 tiles for S = 16384, 8192, 4096, 2048, and takes four x1
    segments (8 LUT6); 40000 x 8 takes two x1 segments and one x2 of 7232 words, 20 tiles,
    where three x1 segments would take 24.
    """
    single = ecp5.ebr_mode(depth)
    if single is not None:
        return [(0, depth, single)]
    lane_bits = width // lanes
    best: tuple[tuple[int, int, int], list[tuple[int, int, int]]] | None = None
    for _, size in ecp5.EBR_MODES:
        segments = []
        for first in range(0, depth, size):
            words = min(size, depth - first)
            mode = ecp5.ebr_mode(words)
            assert mode is not None
            segments.append((first, words, mode))
        levels = 1 if len(segments) <= 4 else 2 if len(segments) <= 16 else 3  # LUT6 levels
        cost = (levels, sum(lanes * -(-lane_bits // mode) for _, _, mode in segments), len(segments))
        if best is None or cost < best[0]:
            best = (cost, segments)
    assert best is not None
    return best[1]


def block_ram_worth(width: int, depth: int, lanes: int = 1) -> bool:
    """Whether a ``width`` x ``depth`` memory belongs in block RAM rather than LUTs.

    The answer is yosys' own (``memory_libmap`` with ``share/lattice/brams_16kd.txt`` and
    ``lutrams_trellis.txt``): a DP16KD costs 128, a 16 x 4 LUT RAM (or 64 ROM bits of
    logic) 4, and yosys counts tiles in the 36-bit pseudo-dual-port mode, each write lane
    padded to 9-bit bytes. Why the same rule: a memory we leave generic and yosys finds
    worth a block RAM is mapped *without* its output register (NOREG, ~5.6 ns clock-to-out
    on -6, the native engine's critical path before this rule); a memory we build of
    tiles and yosys would not have is only a poorer use of LUTs. Our tiles use 18-bit
    ports (`hw.ecp5`), so a memory may take up to twice yosys' tile count: EBR are
    plentiful beside LUTs on every ECP5. A 4-word x 448-bit ROM stays LUTs; 24 x 128 is a
    block (1 tile of 36 bits: 128 against 192).

    A memory deeper than one DP16KD (16384 words) is counted segment by segment, as
    `BlockRam` cascades it (`ebr_segments`), with yosys' tile count for each segment's
    depth; yosys itself does not cascade ECP5 block RAMs in depth, so without this such a
    memory became LUT RAM: 65536 x 8 costs 32 tiles (4096) against 32768 in LUTs.
    """
    if width * depth < 1024:
        return False
    yosys_tiles = sum(_yosys_tiles(width, words, mode, lanes) for _, words, mode in ebr_segments(width, depth, lanes))
    return 128 * yosys_tiles <= 4 * -(-depth // 16) * -(-width // 4)


def _yosys_tiles(width: int, depth: int, mode: int, lanes: int) -> int:
    """DP16KD yosys counts for ``width`` x ``depth`` (at most 16384 words, widest mode
    ``mode``): 36-bit ports up to 512 words, each write lane padded to 9-bit bytes."""
    lane_bits = width // lanes
    if lanes > 1:
        lane_bits = 9 * -(-lane_bits // 9)
    port = 36 if depth <= ecp5.EBR_WORDS // 2 else mode
    return -(-(lanes * lane_bits) // port)


MULT_LATENCY = 3  # one hard multiplier's registers: input, pipeline, output


class Multiplier(wiring.Component):
    """``p = a * b`` through the registers of a hard multiplier: `latency` enabled cycles.

    Registers: ``a`` and ``b`` (input), the product (pipeline), ``p`` (output); all load
    while ``en`` is high (``en`` defaults to 1: a free-running pipeline leaves it undriven).
    ``p`` is exact: ``len(a) + len(b)`` bits, signed when either operand is.

    The latency is `MULT_LATENCY` (3) when both operands fit one 18 x 18 tile, plus one
    register per adder level of the partial-product sum otherwise (`latency_of`: 4 for 2
    tiles, 5 for 4). It depends on the operand shapes only, never on the target: engines,
    golden models and the cocotb benches see the same ports, latency and results on every
    target. A caller that needs several multipliers in step asks for a longer ``latency``
    (extra registers on ``p``).

    Ports
    -----
    a : In(a_shape)
    b : In(b_shape)
    en : In(1), init 1
        Clock enable of every register.
    p : Out(signed or unsigned(len(a) + len(b)))
        The product of the operands presented ``latency`` enabled cycles earlier.

    On rst every register clears (``p`` reads 0 until ``latency`` enabled cycles have passed).
    Target ecp5: one MULT18X18D with its input, pipeline and output registers (operands
    sign/zero-extended to 18 bits, SIGNEDA/SIGNEDB from their shapes); an operand wider than
    18 bits is cut into 18-bit chunks, one registered tile per pair, summed in the fabric
    through a registered adder tree (`_tiled`). Generic and xc7: the ``*`` between its input
    and pipeline registers, then as many registers as the latency asks (vendor tools retime
    them into the DSP cascade).

    Parameters
    ----------
    a_shape, b_shape : ShapeLike
        Operand shapes.
    target : str
        One of `TARGETS`.
    latency : int, optional
        At least `latency_of` the shapes (the default).
    """

    def __init__(
        self, a_shape: ShapeLike, b_shape: ShapeLike, target: str = "generic", *, latency: int | None = None
    ) -> None:
        self.target = check_target(target)
        self.a_shape, self.b_shape = Shape.cast(a_shape), Shape.cast(b_shape)
        self.natural_latency = self.latency_of(self.a_shape, self.b_shape)
        if latency is not None and latency < self.natural_latency:
            self._MustUse__silence = True  # a refused block is not an unused one
            raise ValueError(f"Multiplier({self.a_shape}, {self.b_shape}) needs latency >= {self.natural_latency}")
        self.latency = self.natural_latency if latency is None else int(latency)
        width = self.a_shape.width + self.b_shape.width
        p_shape = signed(width) if self.a_shape.signed or self.b_shape.signed else unsigned(width)
        super().__init__({"a": In(self.a_shape), "b": In(self.b_shape), "en": In(1, init=1), "p": Out(p_shape)})

    @staticmethod
    def latency_of(a_shape: ShapeLike, b_shape: ShapeLike) -> int:
        """The natural `latency` of an ``a_shape`` x ``b_shape`` product, without building it:
        `MULT_LATENCY`, plus ``ceil(log2(tiles))`` adder-tree registers when an operand needs
        more than one 18-bit chunk (the same for every target)."""
        tiles = len(_chunks(Shape.cast(a_shape))) * len(_chunks(Shape.cast(b_shape)))
        return MULT_LATENCY + (tiles - 1).bit_length()

    @property
    def uses_primitive(self) -> bool:
        """True when this instance is built of MULT18X18D (target ecp5)."""
        return self.target == "ecp5"

    @property
    def tiles(self) -> int:
        """MULT18X18D this instance takes: 1 when both operands fit 18 bits, else one per
        pair of 18-bit chunks (`_chunks`); 0 for the generic form."""
        if not self.uses_primitive:
            return 0
        return len(_chunks(self.a_shape)) * len(_chunks(self.b_shape))

    def elaborate(self, platform) -> Module:
        m = Module()
        pad = self.latency - self.natural_latency  # registers asked for beyond the natural ones
        if self.tiles == 1:
            a = Signal(signed(18) if self.a_shape.signed else unsigned(18), name="a_ext")
            b = Signal(signed(18) if self.b_shape.signed else unsigned(18), name="b_ext")
            p = Signal(36, name="p_full")
            m.d.comb += [a.eq(self.a), b.eq(self.b), self.p.eq(self._delayed(m, p[: len(self.p)], pad))]
            m.submodules.mult = ecp5.mult18x18d(
                a, b, p, self.en, signed_a=self.a_shape.signed, signed_b=self.b_shape.signed
            )
            return m
        if self.tiles:
            m.d.comb += self.p.eq(self._delayed(m, self._tiled(m), pad))
            return m
        attrs = {"use_dsp": "yes"} if self.target == "xc7" else {}
        a = Signal(self.a_shape, name="a_reg")
        b = Signal(self.b_shape, name="b_reg")
        product = Signal(self.p.shape(), name="m_reg", attrs=attrs)
        late = self._delayed(m, product, self.latency - MULT_LATENCY)
        with m.If(self.en):
            m.d.sync += [a.eq(self.a), b.eq(self.b), product.eq(a * b), self.p.eq(late)]
        return m

    def _delayed(self, m: Module, value: Value, cycles: int) -> Value:
        """``value`` through ``cycles`` enabled registers (``p_d<k>``): the registers a caller's
        ``latency`` asks for beyond the natural ones (generic: beyond the tile's three)."""
        for k in range(cycles):
            reg = Signal(value.shape(), name=f"p_d{k}")
            with m.If(self.en):
                m.d.sync += reg.eq(value)
            value = reg
        return value

    def _tiled(self, m: Module) -> Value:
        """A product wider than one MULT18X18D: one tile per pair of operand chunks, each
        with its input, pipeline and output registers, then the shifted partial products
        summed in the fabric, two at a time, one register per adder level (returns the last
        level's register). Why: with the tiles' output registers off and the partials summed
        in one cycle, a 16-bit FFT engine ran at ~90 MHz on -6 (the DSP's clock-to-out plus a
        4-input 43-bit carry path); a pairwise sum whose low bits pass through (`_add_shifted`)
        leaves at most one ~37-bit carry chain between two registers. Why not leave it to
        yosys: it maps a wide ``*`` to MULT18X18D tiles *without* registers and sums them
        behind, a ~9 ns path on -6 (the padded FFT's critical path)."""
        partials: list[tuple[Value, int]] = []
        for a_low, a_width, a_signed in _chunks(self.a_shape):
            for b_low, b_width, b_signed in _chunks(self.b_shape):
                a = Signal(signed(18) if a_signed else unsigned(18), name=f"a{a_low}")
                b = Signal(signed(18) if b_signed else unsigned(18), name=f"b{b_low}")
                p = Signal(36, name=f"p{a_low}_{b_low}")
                a_chunk, b_chunk = self.a[a_low : a_low + a_width], self.b[b_low : b_low + b_width]
                m.d.comb += [
                    a.eq(a_chunk.as_signed() if a_signed else a_chunk),
                    b.eq(b_chunk.as_signed() if b_signed else b_chunk),
                ]
                m.submodules[f"mult_{a_low}_{b_low}"] = ecp5.mult18x18d(
                    a, b, p, self.en, signed_a=a_signed, signed_b=b_signed
                )
                width = a_width + b_width
                partials.append((p[:width].as_signed() if a_signed or b_signed else p[:width], a_low + b_low))
        partials.sort(key=lambda item: item[1])
        level = 0
        while len(partials) > 1:
            summed = []
            for k in range(0, len(partials), 2):
                if k + 1 == len(partials):
                    value, shift = partials[k]  # the odd one out waits a register
                else:
                    (low, low_shift), (high, shift) = partials[k], partials[k + 1]
                    value, shift = _add_shifted(low, high, shift - low_shift), low_shift
                reg = Signal(value.shape(), name=f"sum{level}_{k // 2}")
                with m.If(self.en):
                    m.d.sync += reg.eq(value)
                summed.append((reg, shift))
            partials, level = summed, level + 1
        value, shift = partials[0]
        return value << shift  # exact: ``p`` takes its low len(a) + len(b) bits


def _add_shifted(low: Value, high: Value, shift: int) -> Value:
    """``low + (high << shift)`` with the carry chain on the overlapping bits only: the
    ``shift`` low bits of ``low`` pass through (yosys would otherwise build a carry cell for
    each of them)."""
    if shift == 0 or len(low) <= shift:
        return low + (high << shift)
    above = low[shift:].as_signed() if low.shape().signed else low[shift:]  # ``>>`` keeps the width
    top = above + high
    total = Cat(low[:shift], top)
    return total.as_signed() if top.shape().signed else total


def _chunks(shape: Shape) -> list[tuple[int, int, bool]]:
    """``(low bit, width, signed)`` of each 18-bit multiplier operand a ``shape`` value is cut
    into: unsigned 18-bit chunks from the bottom, the rest (at most 18 bits) on top, signed
    when the value is. ``sum(chunk << low)`` is the value."""
    chunks = []
    low = 0
    while shape.width - low > ecp5.MULT_WIDTH:
        chunks.append((low, ecp5.MULT_WIDTH, False))
        low += ecp5.MULT_WIDTH
    chunks.append((low, shape.width - low, shape.signed))
    return chunks


class BlockRam(wiring.Component):
    """A simple dual-port RAM (or ROM) whose read data comes out of an output register.

    Read: ``r_addr`` is sampled on an edge where ``r_en`` is high; the word appears on
    ``r_data`` after the next edge where ``r_en`` is high (``read_latency`` = 2 enabled
    cycles) and holds while ``r_en`` is low. Write: ``w_data`` lands at ``w_addr`` on an edge
    where ``w_en`` is high, lane by lane when ``granularity`` splits the word. A read and a
    write of the same address in one cycle return the old word or the new one, unspecified:
    callers never do it. On rst both read registers clear (``r_data`` reads 0), as a
    block RAM's synchronous output reset does; the contents stay.

    Target ecp5: DP16KD tiles (`hw.ecp5`) in pseudo dual port use, port A writing and port B
    reading through its read latch and output register (REGMODE_B "OUTREG", both clocked
    on ``r_en``): each lane of ``granularity`` bits gets its own tiles, in the widest
    DATA_WIDTH (18/9/4/2/1) whose depth holds ``depth``; ROM contents go in INITVAL.
    A memory deeper than 16384 words is cascaded in depth (yosys would not, and LUT RAM of
    that depth costs tens of thousands of LUTs): cut into power-of-two segments
    (`ebr_segments`), each segment its own tiles with its slice of the contents, written
    where the write address's top bits name it; the read address's top bits follow the
    read through two registers on ``r_en`` and pick the segment's output register, so the
    latency, the hold on ``r_en`` low and the reset to 0 are as for one segment (a
    multiplexer after the output registers; addresses at or past ``depth`` are not used).
    Memories `block_ram_worth` rejects (under 1 kbit, or cheaper as LUT RAM) keep the
    generic form, marked ``ram_style = "distributed"`` (a ROM ``rom_style = "logic"``):
    yosys' own cost rule differs slightly at the boundary, and a block RAM it inferred
    would have no output register. Target xc7: the generic form, with ``ram_style =
    "block"`` when `block_ram_worth` (Vivado cascades deep memories itself).

    Parameters
    ----------
    width, depth : int
        Word width and number of words.
    init : sequence of int
        Initial contents (a ROM when ``writable`` is False).
    granularity : int, optional
        Lane width of ``w_en`` (``width`` must be a multiple).
    writable : bool
        False builds a ROM: no write port (``w_*`` are ignored).
    target : str
        One of `TARGETS`.
    block : bool
        Block RAM whatever `block_ram_worth` says (ecp5: DP16KD tiles when the depth fits
        one; xc7: ``ram_style = "block"``). Why: a LUT RAM's read is its address register
        fanned out to every 16 x 4 RAM and through the word multiplexers in one cycle; for
        the native engine's wide (16-bit) frame buffers that was the -6 critical path
        (``buf_rec.r_addr -> buf_rec.banks.read_reg``, 115 MHz), a DP16KD's registered
        address and output are not.
    """

    read_latency = 2

    def __init__(
        self,
        width: int,
        depth: int,
        init: Sequence[int] = (),
        *,
        granularity: int | None = None,
        writable: bool = True,
        target: str = "generic",
        block: bool = False,
    ) -> None:
        self.target = check_target(target)
        self.width, self.depth, self.init = int(width), int(depth), list(init)
        self.block = bool(block) and ecp5.ebr_mode(self.depth) is not None
        self.granularity, self.writable = granularity, writable
        lanes = 1 if granularity is None else width // granularity
        addr = max((self.depth - 1).bit_length(), 1)
        super().__init__(
            {
                "w_addr": In(addr),
                "w_data": In(self.width),
                "w_en": In(lanes),
                "r_addr": In(addr),
                "r_en": In(1, init=1),
                "r_data": Out(self.width),
            }
        )

    @property
    def lanes(self) -> int:
        return len(self.w_en)

    @property
    def uses_primitive(self) -> bool:
        """True when this instance is built of DP16KD tiles (target ecp5, worth a block RAM
        or asked to be one, ``block``)."""
        return self.target == "ecp5" and (self.block or block_ram_worth(self.width, self.depth, self.lanes))

    def elaborate(self, platform) -> Module:
        m = Module()
        if self.uses_primitive:
            self._ecp5(m)
            return m
        attrs = None
        if self.target == "xc7" and (self.block or block_ram_worth(self.width, self.depth, self.lanes)):
            attrs = {"ram_style": "block"}
        elif self.target == "ecp5":  # not worth a block: never let yosys make a NOREG one
            attrs = {"ram_style": "distributed"} if self.writable else {"rom_style": "logic"}
        m.submodules.ram = ram = Memory(shape=unsigned(self.width), depth=self.depth, init=self.init, attrs=attrs)
        if self.writable:
            wp = ram.write_port(granularity=self.granularity)
            m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en)]
        # The read register is written out (an asynchronous read port, then a register with
        # the domain reset) so that it clears on rst like the DP16KD's; yosys merges it into
        # the RAM's synchronous read port all the same.
        rp = ram.read_port(domain="comb")
        read = Signal(self.width, name="read_reg")
        m.d.comb += rp.addr.eq(self.r_addr)
        with m.If(self.r_en):
            m.d.sync += [read.eq(rp.data), self.r_data.eq(read)]
        return m

    def _ecp5(self, m: Module) -> None:
        """DP16KD tiles, segment by segment (`ebr_segments`): one segment is the whole
        memory, its tiles driven straight from the ports. Deeper memories (cascaded): a
        segment's tiles see the address's low bits and write only where its top bits name
        the segment; every segment reads, and the top bits of ``r_addr`` follow the read
        through two registers on ``r_en`` (the tiles' read latch and output register) to
        pick the segment whose output register holds the word. Those registers reset with
        the domain, like the tiles' (then every tile and so ``r_data`` reads 0); ``r_data``
        is only a multiplexer of registers, with no path from ``r_addr``."""
        words = self.init + [0] * (self.depth - len(self.init))
        segments = ebr_segments(self.width, self.depth, self.lanes)
        if len(segments) == 1:
            ((_, _, mode),) = segments
            lanes_en = [self.w_en[lane] for lane in range(self.lanes)]
            m.d.comb += self.r_data.eq(Cat(*self._tiles(m, mode, words, self.w_addr, lanes_en, self.r_addr, "")))
            return
        low = segments[0][1].bit_length() - 1  # the segment size is a power of two
        w_segment, r_segment = self.w_addr[low:], self.r_addr[low:]
        latched = Signal(len(r_segment), name="read_segment")  # beside the tiles' read latch
        held = Signal(len(r_segment), name="out_segment")  # beside their output register
        with m.If(self.r_en):
            m.d.sync += [latched.eq(r_segment), held.eq(latched)]
        reads = []
        for k, (first, count, mode) in enumerate(segments):
            abits = ecp5.ebr_address_bits(mode)  # <= low: a shorter last segment may be wider
            here = Signal(name=f"w_segment_{k}")
            m.d.comb += here.eq(w_segment == k)
            lanes_en = [self.w_en[lane] & here for lane in range(self.lanes)]
            segment_words = words[first : first + count]
            reads.append(
                self._tiles(m, mode, segment_words, self.w_addr[:abits], lanes_en, self.r_addr[:abits], f"s{k}_")
            )
        with m.Switch(held):  # the last segment takes the top bits past it too: a full case
            for k, outputs in enumerate(reads[:-1]):
                with m.Case(k):
                    m.d.comb += self.r_data.eq(Cat(*outputs))
            with m.Default():
                m.d.comb += self.r_data.eq(Cat(*reads[-1]))

    def _tiles(
        self, m: Module, mode: int, words: list[int], w_addr: Value, w_en: list[Value], r_addr: Value, prefix: str
    ) -> list[Value]:
        """The tiles of one segment (``words``, the ``mode``-bit tiles of each lane, the
        lane's bits in order, ``w_en`` one enable per lane), named ``{prefix}ebr_<bit>``;
        returns the read data of each tile, low bits first."""
        lane_bits = self.width // self.lanes
        outputs = []
        for lane in range(self.lanes):
            for low in range(0, lane_bits, mode):
                start, stop = lane * lane_bits + low, lane * lane_bits + min(low + mode, lane_bits)
                mask = (1 << (stop - start)) - 1
                data = Signal(18, name=f"{prefix}dob_{start}")
                write = self.writable  # a ROM's port A is tied off: it never writes
                m.submodules[f"{prefix}ebr_{start}"] = ecp5.dp16kd(
                    mode,
                    w_addr=w_addr if write else Const(0, len(w_addr)),
                    w_data=self.w_data[start:stop] if write else Const(0, stop - start),
                    w_en=w_en[lane] if write else Const(0, 1),
                    r_addr=r_addr,
                    r_en=self.r_en,
                    r_data=data,
                    init=[(int(w) >> start) & mask for w in words],
                )
                outputs.append(data[: stop - start])
        return outputs
