"""``torch.nn.modules.instancenorm``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "_InstanceNorm", "InstanceNorm1d", "LazyInstanceNorm1d", "InstanceNorm2d", "LazyInstanceNorm2d",
    "InstanceNorm3d", "LazyInstanceNorm3d",
])
