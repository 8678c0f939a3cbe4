"""Stream payloads shared by the engines: one signed sample plus its frame-end marker.

Inside the design a frame boundary travels in the payload (``last``), as Glasgow does;
only `hw.top` flattens it to AXI4-Stream ``tdata``/``tlast``.
"""
from __future__ import annotations

from amaranth.hdl import signed
from amaranth.lib import data, stream


def sample_layout(bits: int) -> data.StructLayout:
    return data.StructLayout({"data": signed(bits), "last": 1})


def sample_stream(bits: int) -> stream.Signature:
    return stream.Signature(sample_layout(bits))
