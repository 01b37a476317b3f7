"""An example tensorplug plugin: a backend, a loss and an optimizer.

The hooks below are all a plugin needs (see ``tensorplug.hookspecs``). This
module must stay cheap to import: the backend's library is imported by the
factory, the first time the backend is used.
"""
from __future__ import annotations

import tensorplug


@tensorplug.hookimpl
def tensorplug_add_backends():
    # name "counting", serving device type "cpu"; a low priority keeps numpy the
    # default for device="cpu", so it is used only when asked for by name
    return [tensorplug.BackendSpec("counting", "cpu", factory=_make_backend, probe=_probe, priority=0)]


def _make_backend(index):
    from .backend import CountingBackend
    return CountingBackend(index)


def _probe():
    # None means "usable here"; otherwise say why not and how to fix it
    try:
        import numpy  # noqa: F401
    except ImportError:
        return "numpy is not installed; pip install numpy"
    return None


@tensorplug.hookimpl
def tensorplug_add_losses():
    from .losses import PseudoHuberLoss
    return {"PseudoHuberLoss": PseudoHuberLoss}


@tensorplug.hookimpl
def tensorplug_add_optimizers():
    from .optimizers import SignSGD
    return {"SignSGD": SignSGD}
