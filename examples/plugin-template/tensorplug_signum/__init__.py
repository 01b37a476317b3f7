"""A third-party tensorplug plugin: one loss and one optimizer, found through the entry point."""
from __future__ import annotations

import tensorplug


@tensorplug.hookimpl
def tensorplug_add_losses():
    from .impl import LogCoshLoss  # imported on first use, never at `import tensorplug`
    return {"LogCoshLoss": LogCoshLoss}


@tensorplug.hookimpl
def tensorplug_add_optimizers():
    from .impl import Signum
    return {"Signum": Signum}
