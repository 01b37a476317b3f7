"""``CountingBackend``: NumPy arrays, plus a count of matrix products (a profiling backend in miniature)."""
from __future__ import annotations

import numpy

from tensorplug import ArrayAPIBackend


class CountingBackend(ArrayAPIBackend):
    """Every primitive comes from ``ArrayAPIBackend`` through ``xp``; only ``matmul`` is observed."""

    name = "counting"
    device_type = "cpu"
    xp = numpy

    def __init__(self, index=None):
        super().__init__(index)
        self.matmuls = 0
        xp = self.xp

        class _CountingNamespace:
            # a thin namespace: numpy for everything, with matmul counted
            def __getattr__(_, name):
                return getattr(xp, name)

            def matmul(_, a, b):
                self.matmuls += 1
                return xp.matmul(a, b)

        self.xp = _CountingNamespace()

    def to_numpy(self, array):
        return numpy.asarray(array)
