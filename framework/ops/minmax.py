"""Extremes: max/min (full, per dim with indices, elementwise), argmax/argmin, amax/amin, clamp."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import broadcast_error, dims, promote, shape_of, wrap_dim

# torch.return_types.max / min: tuples with .values and .indices
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


class _Extreme(Op):
    """amax / amin: ties share the gradient evenly, as torch does."""

    save_inputs = (0,)
    save_output = True
    fn = "max"

    @classmethod
    def forward(cls, ctx, a, axes, keepdim):
        ctx.axes = axes
        ctx.keepdim = keepdim
        from .reduction import _full
        xp = ctx.backend.xp
        return _full(getattr(xp, cls.fn)(a, axis=axes, keepdims=keepdim), xp, a.ndim, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        from .reduction import _restore, sum
        (a,) = ctx.saved_tensors_list()
        shape = a._data.shape
        out = _restore(ctx.output(), shape, ctx.axes, ctx.keepdim)
        mask = (a == out).to(g._dtype)
        count = sum(mask, ctx.axes, keepdim=True)
        return _restore(g, shape, ctx.axes, ctx.keepdim) * mask / count


class Amax(_Extreme):
    fn = "max"


class Amin(_Extreme):
    fn = "min"


def _check_nonempty(input, name, axes, dim_given=True):
    shape = input._data.shape
    if input.numel() == 0:
        if len(axes) == len(shape) and len(shape) != 1 or not axes or not dim_given:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               f"Specify the reduction dim with the 'dim' argument.")
        if builtins_any(shape[i] == 0 for i in axes):
            raise IndexError(f"{name}(): Expected reduction dim {axes[0]} to have non-zero size; "
                             f"cannot perform reduction function {name} on tensor with no elements because "
                             f"the operation does not have an identity")


def builtins_any(it):
    for v in it:
        if v:
            return True
    return False


def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims when empty); ties share the gradient."""
    axes = dims(dim if dim != () else None, input._data.ndim)
    _check_nonempty(input, "amax", axes, dim != ())
    return Amax.apply(input, axes=axes, keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims when empty); ties share the gradient."""
    axes = dims(dim if dim != () else None, input._data.ndim)
    _check_nonempty(input, "amin", axes, dim != ())
    return Amin.apply(input, axes=axes, keepdim=keepdim)


def _arg(name):
    def arg(input, dim=None, keepdim=False):
        if input._dtype is _dt.bool_:
            raise RuntimeError(f"{name}(): does not support bool input; convert it first, e.g. x.int()")
        xp = input._backend.xp
        data = input._data
        if dim is None:
            if input.numel() == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                                 f"An empty tensor has no {name[3:]}imum: pass dim=, or check numel() first")
            out = getattr(xp, name)(xp.reshape(data, (-1,)))
            if keepdim:
                out = xp.reshape(out, (1,) * data.ndim)
        else:
            axis = wrap_dim(dim, data.ndim)
            if data.ndim == 0:
                out = xp.zeros((), dtype=input._backend.native_dtype(_dt.int64))
            else:
                if data.shape[axis] == 0:
                    raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
                out = getattr(xp, name)(data, axis=axis, keepdims=keepdim)
        out = input._backend.astype(xp.asarray(out), _dt.int64)
        return Tensor._make(out, _dt.int64, input._backend)
    arg.__name__ = name
    arg.__doc__ = f"Index of the {name[3:]}imum over ``dim`` (of the flattened tensor when None); int64."
    return arg


argmax = _arg("argmax")
argmin = _arg("argmin")


def _reduce_with_indices(input, dim, keepdim, fn_arg, result):
    from .gather import Gather
    ndim = input._data.ndim
    axis = wrap_dim(dim, ndim)
    if ndim == 0:
        idx = Tensor._make(input._backend.zeros((), _dt.int64), _dt.int64, input._backend)
        return result(input.clone() if input._requires_grad else input, idx)
    if input._data.shape[axis] == 0:
        raise IndexError(f"{result.__name__}(): Expected reduction dim {axis} to have non-zero size; an empty "
                         f"dimension has no {result.__name__}imum")
    # argmax/argmin refuse bool (as torch's do); max/min(dim) take it: the same order as uint8
    idx = fn_arg(input if input._dtype is not _dt.bool_ else input.to(_dt.uint8), axis, keepdim=True)
    values = Gather.apply(input, idx, axis=axis)  # indices from argmax need no bounds check
    if not keepdim:
        values = values.squeeze(axis)
        idx = idx.squeeze(axis)
    return result(values, idx)


class MaxAll(Amax):
    """``max(x)`` of every element: torch's overload without dim."""

    node_name = "MaxBackward1"


class MinAll(Amin):
    node_name = "MinBackward1"


def max(input, dim=None, keepdim=False, *, out=None):
    """``max(x)``: the largest element; ``max(x, dim)``: ``(values, indices)``; ``max(x, y)``: ``maximum``."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        _check_nonempty(input, "max", ())
        return MaxAll.apply(input, axes=tuple(range(input._data.ndim)), keepdim=False)
    return _reduce_with_indices(input, dim, keepdim, argmax, max_result)


def min(input, dim=None, keepdim=False, *, out=None):
    """``min(x)``: the smallest element; ``min(x, dim)``: ``(values, indices)``; ``min(x, y)``: ``minimum``."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        _check_nonempty(input, "min", ())
        return MinAll.apply(input, axes=tuple(range(input._data.ndim)), keepdim=False)
    return _reduce_with_indices(input, dim, keepdim, argmin, min_result)


class Maximum(Op):
    save_inputs = (0, 1)
    fn = "maximum"

    @classmethod
    def forward(cls, ctx, a, b):
        return getattr(ctx.backend.xp, cls.fn)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors_list()
        wins = (a > b) if cls.fn == "maximum" else (a < b)
        # ties split the gradient evenly (torch)
        wa = wins.to(g._dtype) + (a == b).to(g._dtype) * 0.5
        return g * wa, g * (1 - wa)


class Minimum(Maximum):
    fn = "minimum"


def _binary(op, input, other):
    a, b = promote(input, other)
    try:
        return op.apply(a, b)
    except ValueError:
        raise broadcast_error(shape_of(a), shape_of(b)) from None


def maximum(input, other):
    """Elementwise maximum with broadcasting (NaN propagates)."""
    return _binary(Maximum, input, other)


def minimum(input, other):
    """Elementwise minimum with broadcasting (NaN propagates)."""
    return _binary(Minimum, input, other)


class Clamp(Op):
    """``clip(a, lo, hi)``; the gradient passes where ``lo <= a <= hi``.

    ``strict=True`` passes it only where ``lo < a < hi``: torch's hardtanh and
    hardsigmoid give 0 at the bounds, clamp gives 1.
    """

    node_name = "ClampBackward1"  # torch's clamp with number bounds

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, lo, hi, strict=False):
        ctx.lo = lo
        ctx.hi = hi
        ctx.strict = strict
        return ctx.backend.xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors_list()
        lo, hi = ctx.lo, ctx.hi
        keep = None
        if lo is not None:
            keep = (a > lo) if ctx.strict else (a >= lo)
        if hi is not None:
            below = (a < hi) if ctx.strict else (a <= hi)
            keep = below if keep is None else keep & below
        return g * keep


def clamp(input, min=None, max=None):
    """Limit values to ``[min, max]`` (either may be None, a number or a tensor)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if input._dtype.category < _dt.FLOAT and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(_dt.get_default_dtype())
    return Clamp.apply(input, lo=min, hi=max)


clip = clamp
