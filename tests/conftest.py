"""Shared fixtures. ``backend`` runs a test once per available backend.

The backends are every registered backend whose probe says it can run here
(numpy; cupy where a GPU exists) plus ``array_api_strict``, a test-only
backend (tests/backends/strict_backend.py) that offers the Array API standard
and nothing more: a test that passes on it proves the frontend calls only
what the standard and tensorplug's named backend methods offer.

``TENSORPLUG_TEST_BACKENDS=numpy,cupy`` restricts the fixture to those names
(benchmarks/gpu_check.sh uses it to run the suite on the GPU only).
"""
from __future__ import annotations

import os
import sys

import pytest

import tensorplug

_HERE = os.path.dirname(os.path.abspath(__file__))
STRICT = "array_api_strict"

try:  # the test-only backend; skipped where array_api_strict is not installed
    sys.path.insert(0, os.path.join(_HERE, "backends"))
    import strict_backend as _strict
except ImportError:  # pragma: no cover - array_api_strict is a test dependency
    _strict = None
finally:
    sys.path.remove(os.path.join(_HERE, "backends"))


def ensure_strict_backend():
    """Register the array_api_strict backend if a registry reset dropped it; True when registered."""
    if _strict is None:
        return False
    return _strict.ensure_registered()


def _available_backends():
    names = []
    for name, spec in sorted(tensorplug.registry.backend_specs().items()):
        if name != STRICT and spec.probe() is None:
            names.append(name)
    if _strict is not None:
        names.append(STRICT)
    only = os.environ.get("TENSORPLUG_TEST_BACKENDS", "").strip()
    if only:
        names = [n for n in names if n in only.split(",")]
    return names


def pytest_configure(config):
    ensure_strict_backend()


@pytest.fixture(params=_available_backends())
def backend(request):
    """The name of a usable backend; the test body runs with it as the default."""
    if request.param == STRICT:
        ensure_strict_backend()
    with tensorplug.use_backend(request.param):
        yield request.param


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped where no CUDA device can run."""
    if tensorplug.cuda.is_available():
        return
    reason = f"needs a CUDA device: {tensorplug.cuda.unavailable_reason()}"
    skip = pytest.mark.skip(reason=reason[:200])
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
