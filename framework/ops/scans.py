"""Scans along a dimension: cummax, cummin (values and indices) and logcumsumexp.

The array API has a cumulative sum but no cumulative maximum, so the scans here are Hillis-Steele
doubling passes (log2(n) elementwise steps, each combining an element with the one 2**k before it),
which every backend runs; the gradients are torch's: cummax/cummin's values are the input gathered at
the indices (its backward is torch's scatter-add of the gradient into them), logcumsumexp's steps are
differentiable logaddexp ops.
"""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import wrap_dim
from .pointwise import _float_kernel

__all__ = ["cummax", "cummin", "logcumsumexp"]

cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])


def _scan(xp, combine, a):
    """The inclusive scan of ``combine`` along the last axis of ``a``, by doubling."""
    n = a.shape[-1]
    step = 1
    while step < n:
        a = xp.concat([a[..., :step], combine(a[..., step:], a[..., :-step])], axis=-1)
        step *= 2
    return a


def _running_extreme(input, dim, pick):
    """``(values, indices)`` of the running max (``pick`` "maximum") or min along ``dim``; NaN wins and
    stays, ties take the later index (torch's ``x >= best`` / ``x <= best``)."""
    from .gather import gather
    xp = input._backend.xp
    if input._data.ndim == 0:
        wrap_dim(dim, 1)
        zero = Tensor._make(xp.zeros((), dtype=xp.int64), _dt.int64, input._backend)
        return input.clone(), zero
    axis = wrap_dim(dim, input._data.ndim)
    x = xp.moveaxis(input._data, axis, -1)
    if x.dtype == xp.bool:
        x = xp.astype(x, xp.int8)
    best = _scan(xp, getattr(xp, pick), x)  # numpy's and the standard's maximum propagate NaN
    hit = (best == x) | xp.isnan(x)
    positions = xp.arange(x.shape[-1], dtype=xp.int64)
    where_hit = xp.where(hit, positions, xp.full(x.shape, -1, dtype=xp.int64))
    index = xp.moveaxis(_scan(xp, xp.maximum, where_hit), -1, axis)
    index = Tensor._make(index, _dt.int64, input._backend)
    return gather(input, axis, index), index


def cummax(input, dim):
    """The running maximum along ``dim`` and where it was found: ``(values, indices)``.

    Example:
        >>> cummax(tensorplug.tensor([1.0, 3.0, 2.0]), 0).indices
        tensor([0, 1, 1])
    """
    return cummax_result(*_running_extreme(input, dim, "maximum"))


def cummin(input, dim):
    """The running minimum along ``dim`` and where it was found: ``(values, indices)``."""
    return cummin_result(*_running_extreme(input, dim, "minimum"))


def _logaddexp(xp, a, b):
    """``log(exp(a) + exp(b))`` of arrays; two equal infinities give that infinity (not inf - inf)."""
    m = xp.maximum(a, b)
    out = m + xp.log1p(xp.exp(-xp.abs(a - b)))
    return xp.where((a == b) & xp.isinf(m), m, out)


class Logcumsumexp(Op):
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a, *, axis):
        ctx.axis = axis
        xp = ctx.backend.xp
        x = xp.moveaxis(a, axis, -1)
        out = _scan(xp, lambda u, v: _logaddexp(xp, u, v), x)
        return xp.asarray(xp.moveaxis(out, -1, axis), dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        # torch's logcumsumexp_backward: the positive and negative parts of g through reversed
        # logcumsumexps in log space (TensorFlow's formula), so no exp overflows
        from .arithmetic import where
        (x,) = ctx.saved_tensors_list()
        out = ctx.output()
        axis = ctx.axis
        lowest = _dt.finfo(g.dtype).min
        log_abs = g.abs().log()

        def reverse(t):
            return logcumsumexp(t.flip(axis), axis).flip(axis)

        positive = (reverse(where(g > 0, log_abs, lowest) - out) + x).exp()
        negative = (reverse(where(g < 0, log_abs, lowest) - out) + x).exp()
        return positive - negative


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input), dim))`` computed without overflow."""
    _float_kernel("logcumsumexp_out_cpu", input)
    if input._data.ndim == 0:
        wrap_dim(dim, 1)
        return Logcumsumexp.apply(input.unsqueeze(0), axis=0).squeeze(0)
    return Logcumsumexp.apply(input, axis=wrap_dim(dim, input._data.ndim))


METHODS = {"cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp}
