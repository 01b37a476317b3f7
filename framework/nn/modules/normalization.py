"""``torch.nn.modules.normalization``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "LocalResponseNorm", "CrossMapLRN2d", "LayerNorm", "GroupNorm", "RMSNorm",
])
