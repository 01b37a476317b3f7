"""Optimizers and learning-rate schedulers.

``SGD``, ``Adam`` and ``RMSprop`` are built in; plugins add more (the
bundled extras plugin adds ``AdamW``, ``Adagrad``, ``Lion``...), found
lazily here as ``tensorplug.optim.<Name>``.
"""
from __future__ import annotations

from .optimizer import Optimizer, required
from .sgd import SGD
from .adam import Adam
from .rmsprop import RMSprop
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "lr_scheduler"]


def __getattr__(name):
    # plugin optimizers (tensorplug_add_optimizers) are looked up on first use, never at import
    if name.startswith("_"):
        raise AttributeError(f"module 'tensorplug.optim' has no attribute '{name}'")
    from .. import registry
    found = registry.optimizers()
    if name in found:
        return found[name]
    message = f"module 'tensorplug.optim' has no attribute '{name}'"
    hint = registry.missing_hint("optimizer", name)
    if hint:
        message += f": {hint}"
    elif name[:1].isupper():
        message += (f"; the optimizers are {sorted(['SGD', 'Adam', 'RMSprop', *found])} "
                    f"(plugins add more through the tensorplug_add_optimizers hook)")
    raise AttributeError(message)


def __dir__():
    from .. import registry
    return sorted(set(globals()) | set(registry.optimizers()))
