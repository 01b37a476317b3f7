"""``torch.nn.modules.pixelshuffle``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "PixelShuffle", "PixelUnshuffle",
])
