"""Look inside a block without changing it: its registers and memory rows, for invariants.

Why: k-induction starts from an arbitrary state, so a proof about a block's ports needs
*strengthening invariants* that tie the block's internal state (a skid register, a FIFO row,
a frame buffer) to the harness's counters. The blocks in `hw/` keep that state in local
signals, so a harness elaborates the block once here, finds the signals by the names the
block gave them, and adds the elaborated fragment as its submodule: the netlist is exactly
the block's own. A memory gets one extra asynchronous read port per row (a *peek*), which
reads and never writes, so the memory's behaviour is unchanged.

A name that is not found raises `ProbeError` naming what is there: if `hw/` renames a
register, the proof reports an error, never a silent pass.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Elaboratable, Fragment, Shape, Signal
from amaranth.hdl._mem import MemoryInstance  # the elaborated memory: the one way to add a peek port
from amaranth.lib import wiring
from amaranth.utils import ceil_log2

__all__ = ["Probe", "ProbeError"]


class ProbeError(LookupError):
    """A register or memory the harness needs is not in the block (it was renamed or removed)."""


class Probe:
    """One block elaborated for the ``formal`` platform, with lookups into it.

    Parameters
    ----------
    dut : wiring.Component
        The block, exactly as `hw/` builds it.

    Attributes
    ----------
    dut : wiring.Component
        The block (its ports are the signals the harness drives and watches).
    fragment : Fragment
        The elaborated block: add it as the harness's submodule instead of ``dut``.
    """

    def __init__(self, dut: wiring.Component) -> None:
        self.dut = dut
        self.fragment = Fragment.get(dut, "formal")

    def _find(self, path: tuple[str, ...]) -> Fragment:
        fragment = self.fragment
        for name in path:
            try:
                fragment = fragment.find_subfragment(name)
            except NameError:
                names = [n for _, n, _ in fragment.subfragments]
                raise ProbeError(f"{type(self.dut).__name__}: no submodule {name!r} (has {names})") from None
        return fragment

    def block(self, *path: str) -> Any:
        """The block object elaborated at submodule ``path`` (its ports are signals of the
        netlist, e.g. ``probe.block("engine", "framer").o.valid``)."""
        origins = self._find(path).origins or ()
        if not origins or not isinstance(origins[0], Elaboratable):
            raise ProbeError(f"{type(self.dut).__name__}/{'/'.join(path)} was not built from a block")
        return origins[0]

    def signal(self, name: str, *path: str) -> Signal:
        """The signal called ``name`` driven in submodule ``path`` (e.g. ``"full"``)."""
        where = f"{type(self.dut).__name__}{'/' + '/'.join(path) if path else ''}"
        driven = {id(s): s for stmts in self._find(path).statements.values() for st in stmts for s in st._lhs_signals()}
        matches = [s for s in driven.values() if s.name == name]
        if len(matches) != 1:
            names = sorted({s.name for s in driven.values()})
            what = "no signal" if not matches else f"{len(matches)} signals called"
            raise ProbeError(f"{where}: {what} {name!r} (has {names})")
        return matches[0]

    def registers(self) -> list[Signal]:
        """Every signal a ``sync`` statement drives, in the block and all its submodules
        (memories aside): the block's whole register state."""
        found: dict[int, Signal] = {}
        pending = [self.fragment]
        while pending:
            fragment = pending.pop()
            for statement in fragment.statements.get("sync", []):
                found.update((id(s), s) for s in statement._lhs_signals())
            pending += [sub for sub, _, _ in fragment.subfragments]
        return sorted(found.values(), key=lambda s: s.name)

    def memory_rows(self, *path: str) -> list[Signal]:
        """Every row of the memory at ``path``, each through a new asynchronous read port."""
        memory = self._find(path)
        if not isinstance(memory, MemoryInstance):
            raise ProbeError(f"{type(self.dut).__name__}/{'/'.join(path)} is not a memory")
        depth, width = memory._data.depth, Shape.cast(memory._data.shape).width
        rows = []
        for row in range(depth):
            data = Signal(width, name=f"peek_{'_'.join(path)}_{row}")
            memory.read_port(
                domain="comb", addr=Const(row, ceil_log2(depth)), data=data, en=Const(1), transparent_for=()
            )
            rows.append(data)
        return rows
