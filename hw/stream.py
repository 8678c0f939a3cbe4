"""Stream payloads shared by the engines and their blocks.

Inside the design a frame boundary travels in the payload (``last``), as Glasgow does;
only `hw.top` flattens it to AXI4-Stream ``tdata``/``tlast``. A whole frame moves between
`hw.framer.Framer` and `hw.feeder.Feeder` as one payload (`frame_layout`).
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed
from amaranth.lib import data, stream


def sample_layout(bits: int) -> data.StructLayout:
    """One signed sample and its frame-end marker: the engines' ``i``/``o`` payload."""
    return data.StructLayout({"data": signed(bits), "last": 1})


def sample_stream(bits: int) -> stream.Signature:
    return stream.Signature(sample_layout(bits))


def channel_shape(channels: int) -> Shape:
    """Shape of a channel number 0..C-1 (at least one bit, so C = 1 needs no special case)."""
    return Shape.cast(range(max(channels, 2)))


def frame_layout(n: int, bits: int, channels: int) -> data.StructLayout:
    """A whole frame of N signed samples (``frame[k]`` = k-th sample) and its channel number."""
    return data.StructLayout({"frame": data.ArrayLayout(signed(bits), n), "channel": channel_shape(channels)})
