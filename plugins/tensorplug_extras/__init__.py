"""Extra losses and optimizers, as a plugin.

Registered only through the ``tensorplug`` entry point ``extras``; tensorplug
calls the two hooks below the first time ``tensorplug.nn.<Name>`` or
``tensorplug.optim.<Name>`` misses a built-in name. The classes are imported
inside the hooks, so loading this module costs nothing.
"""
from __future__ import annotations

import tensorplug

LOSSES = ("HuberLoss", "SmoothL1Loss", "KLDivLoss", "PoissonNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
          "TripletMarginLoss", "FocalLoss")
OPTIMIZERS = ("AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Lion", "LAMB")


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
