"""Extra losses and optimizers that torch does not have (focal loss, Lion, LAMB), as a plugin.

Registered only through the ``tensorplug`` entry point ``extras``; tensorplug
calls the two hooks below the first time ``tensorplug.nn.<Name>`` or
``tensorplug.optim.<Name>`` misses a built-in name. The classes are imported
inside the hooks, so loading this module costs nothing.
"""
from __future__ import annotations

import tensorplug

# only what torch lacks: torch's own losses and optimizers are built into tensorplug
LOSSES = ("FocalLoss",)
OPTIMIZERS = ("Lion", "LAMB")


@tensorplug.hookimpl
def tensorplug_add_losses():
    """The extra loss modules, by name."""
    from . import losses
    return {name: getattr(losses, name) for name in LOSSES}


@tensorplug.hookimpl
def tensorplug_add_optimizers():
    """The extra optimizers, by name."""
    from . import optimizers
    return {name: getattr(optimizers, name) for name in OPTIMIZERS}
