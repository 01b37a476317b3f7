"""Shared fixtures. ``backend`` runs a test once per available backend."""
from __future__ import annotations

import pytest

import tensorplug


def _available_backends():
    names = []
    for name, spec in sorted(tensorplug.registry.backend_specs().items()):
        if spec.probe() is None:
            names.append(name)
    return names


@pytest.fixture(params=_available_backends())
def backend(request):
    """The name of a usable backend; the test body runs with it as the default."""
    with tensorplug.use_backend(request.param):
        yield request.param
