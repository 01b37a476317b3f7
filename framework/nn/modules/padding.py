"""``torch.nn.modules.padding``: the same classes as ``tensorplug.nn`` (for imports and annotations)."""
from __future__ import annotations

from ._reexport import reexport

__all__ = reexport(globals(), [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
])
