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
    if name.startswith("__"):
        raise AttributeError(f"module 'tensorplug.optim' has no attribute '{name}'")
    from .. import registry
    found = registry.optimizers()
    if name in found:
        return found[name]
    message = f"module 'tensorplug.optim' has no attribute '{name}'"
    if registry._flag("TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD"):
        provider = registry.REGISTRY.provider_of("optimizer", name)
        if provider:
            message += (f"; it may be provided by the installed plugin {provider}, which is not loaded because "
                        f"TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1 (unset it, or set TENSORPLUG_PLUGINS to its module)")
    elif name[:1].isupper():
        message += (f"; built-in optimizers are {sorted(n for n in __all__ if n[:1].isupper() and n != 'Optimizer')}"
                    f", plugins add {sorted(found)}")
    raise AttributeError(message)


def __dir__():
    from .. import registry
    return sorted(set(globals()) | set(registry.optimizers()))
