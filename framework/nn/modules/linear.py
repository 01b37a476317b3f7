"""``torch.nn.modules.linear``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ..transformer import NonDynamicallyQuantizableLinear  # MultiheadAttention's output projection
from ._reexport import reexport

__all__ = reexport(globals(), [
    "Identity", "Linear", "Bilinear", "LazyLinear",
]) + ["NonDynamicallyQuantizableLinear"]
