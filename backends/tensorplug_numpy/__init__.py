"""The NumPy backend: tensorplug on the CPU.

A plugin like any third party's: it imports only tensorplug's public API and
is registered through the ``tensorplug`` entry-point group.
"""
from __future__ import annotations

import tensorplug


@tensorplug.hookimpl
def tensorplug_add_backends():
    return [tensorplug.BackendSpec("numpy", "cpu", factory=_make, probe=_probe, priority=10)]


def _make(index):
    from .backend import NumpyBackend
    return NumpyBackend(index)


def _probe():
    try:
        import numpy  # noqa: F401
    except ImportError as exc:  # pragma: no cover - numpy is a dependency
        return f"numpy cannot be imported ({exc}); pip install numpy"
    return None
