"""A TEST-ONLY backend on ``array_api_strict``: the portability gate.

``array_api_strict`` offers exactly the Array API standard and nothing more
(no numpy methods on arrays, no numpy-style promotion, no extra functions).
When the frontend runs on this backend, it is proven to call only what the
standard and tensorplug's named backend methods offer, so any backend whose
library implements the standard (CuPy through ``array_api_compat.cupy``,
among others) runs it too.

The standard version is pinned to 2024.12, the version that
``array_api_compat`` (and so the cupy backend's namespace) implements.

The class overrides only what the standard truly lacks: conversion to and
from NumPy (here through DLPack, the standard's interchange protocol, rather
than NumPy's non-standard ``__array__``). Everything else is
``ArrayAPIBackend``'s defaults.

Registered by tests/conftest.py (``REGISTRY.manager.register``) or, in a
subprocess, with ``TENSORPLUG_PLUGINS=strict_backend`` and this folder on
``PYTHONPATH``.
"""
from __future__ import annotations

import array_api_strict

import tensorplug

API_VERSION = "2024.12"
array_api_strict.set_array_api_strict_flags(api_version=API_VERSION)

NAME = "array_api_strict"


class StrictBackend(tensorplug.ArrayAPIBackend):
    """The Array API standard, and nothing else."""

    name = NAME
    device_type = "cpu"
    xp = array_api_strict

    def __init__(self, index=None):
        super().__init__(None)

    def to_numpy(self, array):
        import numpy
        return numpy.from_dlpack(array)

    def from_numpy(self, ndarray):
        return self.xp.asarray(ndarray)


@tensorplug.hookimpl
def tensorplug_add_backends():
    return [tensorplug.BackendSpec(NAME, "cpu", factory=StrictBackend, probe=lambda: None, priority=-10)]


def ensure_registered():
    """Register this backend if a registry reset dropped it (tests reset the registry)."""
    import sys
    import tensorplug
    module = sys.modules[__name__]
    reg = tensorplug.registry.REGISTRY
    pm = reg._load()
    if not pm.is_registered(module):
        pm.register(module, name="array_api_strict")
        reg._backends = None
    return True
