"""AXI4-Stream top level: flattens an engine's streams to the port names FPGA users expect."""

from __future__ import annotations

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class AxisTop(wiring.Component):
    """Wraps any engine with ``i``/``o`` sample streams and status counters.

    Ports (besides ``clk`` and ``rst`` from the sync domain): ``s_axis_tdata``,
    ``s_axis_tvalid``, ``s_axis_tready``, ``s_axis_tlast``, ``m_axis_tdata``,
    ``m_axis_tvalid``, ``m_axis_tready``, ``m_axis_tlast`` (one signed sample per beat),
    and every extra ``Out`` member of the engine (``frame_errors``, ``saturations``, ...)
    under its own name.
    """

    def __init__(self, engine: wiring.Component) -> None:
        self.engine = engine
        members = engine.signature.members
        in_bits = len(engine.i.payload.data)
        out_bits = len(engine.o.payload.data)
        ports = {
            "s_axis_tdata": In(signed(in_bits)),
            "s_axis_tvalid": In(1),
            "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(signed(out_bits)),
            "m_axis_tvalid": Out(1),
            "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        }
        self.status = [name for name, member in members.items() if name not in ("i", "o") and member.flow == Out]
        for name in self.status:
            ports[name] = Out(members[name].shape)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.engine = e = self.engine
        m.d.comb += [
            e.i.payload.data.eq(self.s_axis_tdata),
            e.i.payload.last.eq(self.s_axis_tlast),
            e.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(e.i.ready),
            self.m_axis_tdata.eq(e.o.payload.data),
            self.m_axis_tlast.eq(e.o.payload.last),
            self.m_axis_tvalid.eq(e.o.valid),
            e.o.ready.eq(self.m_axis_tready),
        ]
        m.d.comb += [getattr(self, name).eq(getattr(e, name)) for name in self.status]
        return m
