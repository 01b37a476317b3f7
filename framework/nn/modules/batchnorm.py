"""``torch.nn.modules.batchnorm``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "_NormBase", "_BatchNorm", "BatchNorm1d", "LazyBatchNorm1d", "BatchNorm2d", "LazyBatchNorm2d",
    "BatchNorm3d", "LazyBatchNorm3d", "SyncBatchNorm",
])
