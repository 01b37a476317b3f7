"""softmax and log_softmax along the last axis, row by row (the backend protocol's optional
``fused_softmax`` and ``fused_softmax_backward``), where numba is installed.

NumPy's way is five passes with two short-row reductions (``max`` and ``sum`` over 64-element rows
cost more than the passes): attention's (8, 4, 64, 64) softmax took 314 us, torch's 49 us. Here
float32 rows take one compiled loop each, exp included (``_loops._exp32``: within an ulp of NumPy's,
0 below float32's least normal where NumPy gives subnormals): max, exp and sum, scale, while the row
is in cache. float64 rows keep NumPy's exp between two loops (the compiled exp is float32's): the
same formulas, each row summed in vector-wide running sums. Rows are split over the backend's
threads in large blocks. Without numba the frontend's array code runs.
"""
from __future__ import annotations

import numpy as np

from . import _jit
from ._threads import split

__all__ = ["softmax", "softmax_backward"]

#: elements per thread's part: memory-bound, a split pays only on large blocks ((8, 4, 64, 64): 148 us
#: split in two, 134 us on one thread)
PART_MIN = 1 << 17


def _rows(*arrays):
    """Each array as a C-contiguous ``(rows, last)`` view or copy."""
    n = arrays[0].shape[-1]
    return [np.ascontiguousarray(a).reshape(-1, n) for a in arrays]


def _accepts(x):
    return x.dtype.char in "fd" and x.ndim >= 1 and x.size


def rows_kernel(dtype, log):
    """``run(x2, out)``: softmax (log_softmax when ``log``) of the ``(rows, last)`` C-contiguous ``x2``
    into ``out`` on the calling thread, for one float dtype; None where there are no compiled kernels.
    What :func:`softmax` runs on each part of a split, and attention on each head's scores."""
    if dtype == np.float32:
        kernels = _jit.kernels("softmax32")
        if kernels is None:
            return None
        loop = kernels[0]
        return lambda x2, out: loop(x2, out, log)
    kernels = _jit.kernels("softmax_shift", "softmax_scale")
    if kernels is None:
        return None
    shift, scale = kernels

    def run(x2, out):
        e = np.empty_like(x2) if log else out  # softmax takes exp in place
        shift(x2, out)
        np.exp(out, out=e)
        scale(out, e, log)  # log_softmax into out, softmax into e (= out)
    return run


def softmax(x, log):
    """softmax (log_softmax when ``log``) of ``x`` along its last axis, or NotImplemented."""
    if not _accepts(x):
        return NotImplemented
    kernel = rows_kernel(x.dtype, log)
    if kernel is None:
        return NotImplemented
    (x2,) = _rows(x)
    out = np.empty_like(x2)
    split(lambda s, t: kernel(x2[s:t], out[s:t]), x2.shape[0], max(1, PART_MIN // x2.shape[1]))
    return out.reshape(x.shape)


def softmax_backward(y, g, log):
    """The gradient of :func:`softmax` for its output ``y`` and upstream ``g``, or NotImplemented."""
    if not (_accepts(y) and g.dtype == y.dtype and g.shape == y.shape):
        return NotImplemented
    exp_inside = log and y.dtype == np.float32  # log_softmax's exp(y) in the float32 loop itself
    kernels = _jit.kernels("log_softmax_grad32" if exp_inside else "softmax_grad")
    if kernels is None:
        return NotImplemented
    y2, g2 = _rows(y, g)
    out = np.empty_like(g2)

    def run(s, t):
        if exp_inside:
            kernels[0](y2[s:t], g2[s:t], out[s:t])
        else:
            kernels[0](np.exp(y2[s:t]) if log else y2[s:t], g2[s:t], out[s:t], log)

    split(run, y2.shape[0], max(1, PART_MIN // y2.shape[1]))
    return out.reshape(y.shape)
