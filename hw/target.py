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

__all__ = ["TARGETS", "MULT_LATENCY", "check_target", "sim_model_files", "Multiplier", "BlockRam"]

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
    """
    mode = ecp5.ebr_mode(depth)
    if mode is None or width * depth < 1024:
        return False
    lane_bits = width // lanes
    if lanes > 1:
        lane_bits = 9 * -(-lane_bits // 9)
    port = 36 if depth <= ecp5.EBR_WORDS // 2 else mode
    yosys_tiles = -(-(lanes * lane_bits) // port)
    return 128 * yosys_tiles <= 4 * -(-depth // 16) * -(-width // 4)


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
    Memories `block_ram_worth` rejects (under 1 kbit, or cheaper as LUT RAM, or deeper
    than 16384 words) keep the generic form, marked ``ram_style = "distributed"`` (a ROM
    ``rom_style = "logic"``): yosys' own cost rule differs slightly at the boundary, and a
    block RAM it inferred would have no output register. Target xc7: the generic form, with
    ``ram_style = "block"`` when `block_ram_worth`.

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
        """DP16KD tiles: lane by lane, ``mode`` bits per tile, the lane's bits in order."""
        mode = ecp5.ebr_mode(self.depth)
        assert mode is not None  # block_ram_worth
        lane_bits = self.width // self.lanes
        words = self.init + [0] * (self.depth - len(self.init))
        outputs = []
        for lane in range(self.lanes):
            for low in range(0, lane_bits, mode):
                start, stop = lane * lane_bits + low, lane * lane_bits + min(low + mode, lane_bits)
                mask = (1 << (stop - start)) - 1
                data = Signal(18, name=f"dob_{start}")
                write = self.writable  # a ROM's port A is tied off: it never writes
                m.submodules[f"ebr_{start}"] = ecp5.dp16kd(
                    mode,
                    w_addr=self.w_addr if write else Const(0, len(self.w_addr)),
                    w_data=self.w_data[start:stop] if write else Const(0, stop - start),
                    w_en=self.w_en[lane] if write else Const(0, 1),
                    r_addr=self.r_addr,
                    r_en=self.r_en,
                    r_data=data,
                    init=[(int(w) >> start) & mask for w in words],
                )
                outputs.append(data[: stop - start])
        m.d.comb += self.r_data.eq(Cat(*outputs))
