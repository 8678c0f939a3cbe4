"""Lattice ECP5 hard blocks as Amaranth `Instance`s: MULT18X18D and DP16KD with their registers on.

Why: yosys maps ``*`` to a MULT18X18D and a memory to a DP16KD *without* their internal
registers (../shared/PARC.md section 4: ~141 MHz and ~138 MHz on -6), and it does not move
fabric registers into either. Instantiating the primitives with the registers switched on
is the only way to get them. `hw.target` chooses when; this module only knows the
primitives: their ports, parameters and the block RAM's address and INITVAL layout.

The configurations here are the only ones the behavioural twins in ``hw/vendor/ecp5/``
model (simulation only; synthesis reads yosys' own black boxes, ``share/ecp5/cells_bb.v``):

- MULT18X18D: input A, input B, pipeline and (unless a tile of a wider product) output
  registers all on CLK0 / CE0 / RST0, RESETMODE "SYNC", GSR "DISABLED"; SIGNEDA / SIGNEDB constant; C and SOURCEA/B 0; the
  other clocks, enables, resets and the shift inputs left open, as yosys' own mapping does
  (nextpnr cannot route a constant to CLK1..3: tying them fails routing).
- DP16KD: pseudo dual port. Port A writes only (WRITEMODE_A "NORMAL", REGMODE_A "NOREG",
  its read data left open); port B reads only (REGMODE_B "OUTREG": read latch on CEB, output
  register on OCEB, both reset to 0 by RSTB, RESETMODE "SYNC"); DATA_WIDTH_A = DATA_WIDTH_B
  in 18/9/4/2/1; chip selects 0 with CSDECODE "0b000"; GSR "DISABLED".

Address and INIT layout (the same as yosys' own DP16KD mapping, checked against the
INITVAL values ``synth_ecp5`` gives inferred ROMs of every width): the array is 1024
words of 18 bits; ``INITVAL_xx`` holds words 16*xx .. 16*xx + 15, each in a 20-bit field
(18 bits, then 2 zero bits). A port of width W addresses it through AD13..AD4 (the word)
and AD3..AD0 (the part of it): x18 uses all 18 bits (AD1/AD0 are the write byte enables
of bits 8..0 and 17..9); x9 the half AD3 (bits 9*AD3 ..); x4, x2, x1 the W-bit group
AD3..AD(log2 W) of the 16 data bits (bits 0..7 and 9..16: bits 8 and 17 are the parity
bits only x9 and x18 reach).
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Cat, ClockSignal, Const, Instance, ResetSignal, Signal, Value

__all__ = [
    "MULT_WIDTH",
    "EBR_MODES",
    "ebr_mode",
    "ebr_address_bits",
    "ebr_physical_bit",
    "initval",
    "mult18x18d",
    "dp16kd",
]

MULT_WIDTH = 18  # operand width of a MULT18X18D
EBR_WORDS, EBR_BITS = 1024, 18  # the DP16KD array: 1024 physical words of 18 bits
EBR_MODES = ((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))  # (DATA_WIDTH, depth)
_DATA_BITS = tuple(b for b in range(EBR_BITS) if b not in (8, 17))  # what x4/x2/x1 reach


def ebr_mode(depth: int) -> int | None:
    """The widest DP16KD data width whose depth holds ``depth`` words (None: deeper than 16384)."""
    for width, words in EBR_MODES:
        if depth <= words:
            return width
    return None


def ebr_address_bits(mode: int) -> int:
    """Word address bits of a port of width ``mode``: they sit at AD13 downwards."""
    return dict((w, d.bit_length() - 1) for w, d in EBR_MODES)[mode]


def ebr_physical_bit(mode: int, address: int, bit: int) -> int:
    """Bit ``bit`` of word ``address`` of a width-``mode`` port, as an index into the
    concatenated INITVAL_00..3F (20 bits per physical word)."""
    if mode == 18:
        return address * 20 + bit
    if mode == 9:
        return (address >> 1) * 20 + (address & 1) * 9 + bit
    per_word = 16 // mode
    word, part = divmod(address, per_word)
    return word * 20 + _DATA_BITS[part * mode + bit]


def initval(mode: int, words: Sequence[int]) -> dict[str, Const]:
    """``p_INITVAL_00`` .. ``p_INITVAL_3F`` keyword arguments for contents ``words`` (each
    ``mode`` bits wide, word 0 first) of a width-``mode`` DP16KD."""
    image = 0
    for address, word in enumerate(words):
        for bit in range(mode):
            if word >> bit & 1:
                image |= 1 << ebr_physical_bit(mode, address, bit)
    return {f"p_INITVAL_{i:02X}": Const(image >> (320 * i) & ((1 << 320) - 1), 320) for i in range(64)}


def _extend(value: Value, width: int) -> Value:
    """``value`` zero-extended to ``width`` bits (it must not be wider)."""
    value = Value.cast(value)
    if len(value) > width:
        raise ValueError(f"{len(value)} bits do not fit a {width}-bit primitive port")
    return Cat(value, Const(0, width - len(value)))


def _bits(prefix: str, value: Value, width: int, direction: str = "i") -> dict[str, Value]:
    """One scalar port per bit (the primitives have no vector ports): ``i_A0=value[0]`` ..."""
    return {f"{direction}_{prefix}{i}": value[i] for i in range(width)}


def mult18x18d(
    a: Value, b: Value, p: Signal, en: Value, *, signed_a: bool, signed_b: bool, output_register: bool = True
) -> Instance:
    """A MULT18X18D with its registers on CLK0 (CE0 = ``en``, RST0 = the domain reset):
    ``p`` (36 bits) = ``a`` * ``b`` (18 bits each, already sign/zero-extended) three
    enabled cycles later, or two without the output register (``output_register`` False:
    the product leaves the pipeline register, for a tile whose sum is the third cycle)."""
    zero18 = Const(0, 18)
    on = ("INPUTA", "INPUTB", "PIPELINE") + (("OUTPUT",) if output_register else ())
    registers = {
        f"p_REG_{reg}_{what}": value for reg in on for what, value in (("CLK", "CLK0"), ("CE", "CE0"), ("RST", "RST0"))
    }
    if not output_register:
        registers["p_REG_OUTPUT_CLK"] = "NONE"
    return Instance(
        "MULT18X18D",
        **registers,
        p_REG_INPUTC_CLK="NONE",
        p_RESETMODE="SYNC",
        p_GSR="DISABLED",
        p_MULT_BYPASS="DISABLED",
        **_bits("A", a, 18),
        **_bits("B", b, 18),
        **_bits("C", zero18, 18),
        i_SIGNEDA=Const(int(signed_a), 1),
        i_SIGNEDB=Const(int(signed_b), 1),
        i_SOURCEA=Const(0, 1),
        i_SOURCEB=Const(0, 1),
        i_CLK0=ClockSignal(),
        i_CE0=en,
        i_RST0=ResetSignal(),
        **_bits("P", p, 36, "o"),
    )


def dp16kd(
    mode: int,
    *,
    w_addr: Value,
    w_data: Value,
    w_en: Value,
    r_addr: Value,
    r_en: Value,
    r_data: Signal,
    init: Sequence[int],
) -> Instance:
    """One DP16KD of width ``mode``: port A writes ``w_data`` at ``w_addr`` where ``w_en``,
    port B reads ``r_addr`` through its read latch (CEB = ``r_en``) and output register
    (OCEB = ``r_en``) into ``r_data`` (18 bits; the low ``mode`` are the word)."""
    abits = ebr_address_bits(mode)
    low = 14 - abits  # address pins below the word address: x18's AD1/AD0 are its byte enables
    write_low = Const(0b0011 if mode == 18 else 0, low)

    def address(addr: Value, below: Const) -> Value:
        return Cat(below, _extend(addr, abits))

    zero = Const(0, 1)
    return Instance(
        "DP16KD",
        p_DATA_WIDTH_A=mode,
        p_DATA_WIDTH_B=mode,
        p_REGMODE_A="NOREG",
        p_REGMODE_B="OUTREG",
        p_RESETMODE="SYNC",
        p_ASYNC_RESET_RELEASE="SYNC",
        p_CSDECODE_A="0b000",
        p_CSDECODE_B="0b000",
        p_WRITEMODE_A="NORMAL",
        p_WRITEMODE_B="NORMAL",
        p_GSR="DISABLED",
        **initval(mode, init),
        **_bits("DIA", _extend(w_data, 18), 18),
        **_bits("ADA", address(w_addr, write_low), 14),
        i_CLKA=ClockSignal(),
        i_CEA=w_en,
        i_WEA=w_en,
        i_OCEA=zero,
        i_RSTA=zero,
        **{f"i_CSA{k}": zero for k in range(3)},
        **_bits("DIB", Const(0, 18), 18),
        **_bits("ADB", address(r_addr, Const(0, low)), 14),
        i_CLKB=ClockSignal(),
        i_CEB=r_en,
        i_OCEB=r_en,
        i_WEB=zero,
        i_RSTB=ResetSignal(),
        **{f"i_CSB{k}": zero for k in range(3)},
        **_bits("DOB", r_data, 18, "o"),
    )
