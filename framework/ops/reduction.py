"""Reductions over dims (int, tuple or all), with ``keepdim``."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.function import Op
from ._util import dims


def _restore(g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input's ``shape``."""
    if not keepdim and axes:
        kept = tuple(1 if i in axes else s for i, s in enumerate(shape))
        g = g.reshape(kept)
    return g


class Sum(Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        return ctx.backend.xp.sum(a, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _restore(g, ctx.shape, ctx.axes, ctx.keepdim).expand(ctx.shape)


class Mean(Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        n = 1
        for i in axes:
            n *= a.shape[i]
        ctx.count = n
        return ctx.backend.xp.mean(a, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _restore(g, ctx.shape, ctx.axes, ctx.keepdim).expand(ctx.shape) / ctx.count


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum of elements over ``dim`` (all when None). Integer and bool sums are int64."""
    axes = dims(dim, input._data.ndim)
    if dtype is None and input._dtype.category < _dt.FLOAT:
        dtype = _dt.int64
    native = None if dtype is None else input._backend.native_dtype(dtype)
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=native)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim``; needs a floating dtype, as torch does."""
    if dtype is not None:
        input = input.to(dtype)
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {input._dtype.legacy_name[:-6]}; use x.float().mean()")
    return Mean.apply(input, axes=dims(dim, input._data.ndim), keepdim=keepdim)
