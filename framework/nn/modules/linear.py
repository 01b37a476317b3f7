"""``torch.nn.modules.linear``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ..linear import Linear
from ._reexport import reexport


class NonDynamicallyQuantizableLinear(Linear):
    """torch's class for MultiheadAttention's output projection: a Linear here (scripts name it in
    ``torch.serialization.add_safe_globals`` lists)."""


__all__ = reexport(globals(), [
    "Identity", "Linear", "Bilinear", "LazyLinear",
]) + ["NonDynamicallyQuantizableLinear"]
