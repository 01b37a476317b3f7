"""``torch.nn.modules.module``: the same classes as ``tensorplug.nn`` (for imports and annotations), and the
global forward hooks."""
from __future__ import annotations

from ..module import register_module_forward_hook, register_module_forward_pre_hook
from ._reexport import reexport

__all__ = reexport(globals(), [
    "Module",
]) + ["register_module_forward_pre_hook", "register_module_forward_hook"]
