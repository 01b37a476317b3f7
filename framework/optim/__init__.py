"""Optimizers and learning-rate schedulers: every optimizer of ``torch.optim`` that tensorplug has.

Plugins add more (the bundled extras plugin adds ``Lion`` and ``LAMB``), found
lazily here as ``tensorplug.optim.<Name>``.
"""
from __future__ import annotations

from .optimizer import Optimizer, required
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop
from .asgd import ASGD
from .lbfgs import LBFGS
from .adafactor import Adafactor
from . import lr_scheduler, swa_utils

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "LBFGS", "Adafactor", "lr_scheduler", "swa_utils"]


def __getattr__(name):
    # plugin optimizers (tensorplug_add_optimizers) are looked up on first use, never at import
    if name.startswith("_"):
        raise AttributeError(f"module 'tensorplug.optim' has no attribute '{name}'")
    from .. import registry
    found = registry.optimizers()
    if name in found:
        return found[name]
    message = f"module 'tensorplug.optim' has no attribute '{name}'"
    # as tensorplug.nn: a plugin's rejected value, close matches, installed plugins that are not loaded
    names = [n for n in globals() if not n.startswith("_")] + list(found)
    hint = registry.missing_hint("optimizer", name, choices=names)
    if hint:
        message += f"; {hint}"
    raise AttributeError(message)


def __dir__():
    from .. import registry
    return sorted(set(globals()) | set(registry.optimizers()))
