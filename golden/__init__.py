"""Golden models: float ParC/Fast-ParC, fixed-point formats and bit-exact integer models."""

from golden.parc import fast_parc, parc, parc_convnext_mixer, parc_h, parc_w
from golden.resize import resize_kernel

__all__ = ["parc", "fast_parc", "parc_h", "parc_w", "parc_convnext_mixer", "resize_kernel"]
