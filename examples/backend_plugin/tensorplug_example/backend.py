"""``CountingBackend``: the NumPy backend, plus a count of matrix products (a profiling backend in miniature)."""
from __future__ import annotations

from tensorplug_numpy.backend import NumpyBackend


class CountingBackend(NumpyBackend):
    """Everything is NumPy's backend; only ``matmul`` is observed.

    The frontend does its array work through ``self.xp`` (the array
    namespace: ``xp.matmul``, ``xp.exp``...) and through the backend's named
    methods (``einsum``, ``conv``...). A named method is overridden as usual;
    an array operation is intercepted by giving the backend its own ``xp``.
    """

    name = "counting"

    def __init__(self, index=None):
        # index: the device index the backend serves (cpu:0 -> 0; None for a plain "cpu"), passed on
        # by the factory; a CPU backend has one device and ignores it
        super().__init__(index)
        self.matmuls = 0
        self.xp = _CountingNamespace(self.xp, self)


class _CountingNamespace:
    """numpy for every name, with ``matmul`` counted on its backend."""

    def __init__(self, xp, backend):
        self._xp = xp
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def matmul(self, a, b, **kwargs):
        self._backend.matmuls += 1
        return self._xp.matmul(a, b, **kwargs)
