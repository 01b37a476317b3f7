"""Extremes: max/min (full, per dim with indices, elementwise), argmax/argmin, amax/amin, clamp."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import (as_tensor_like, broadcast_error, checked_int, dims, numpy_names, promote, shape_of, wrap_dim,
                    write_out)

# torch.return_types.max / min: tuples with .values and .indices
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])


class _Extreme(Op):
    """amax / amin: ties share the gradient evenly, as torch does. With ``nan_ties`` a NaN extreme shares
    it among the NaN elements (torch's max() and inf-norms; amax gives NaN to every element)."""

    save_inputs = (0,)
    save_output = True
    fn = "max"
    nan_ties = False
    fills = False  # torch's max()/min() fill the gradient in (a NaN g stays out); amax multiplies a mask

    @classmethod
    def forward(cls, ctx, a, axes, keepdim):
        ctx.axes = axes
        ctx.keepdim = keepdim
        from .reduction import _full
        xp = ctx.backend.xp
        return _full(getattr(xp, cls.fn)(a, axis=axes, keepdims=keepdim), xp, a.ndim, axes, keepdim)

    @classmethod
    def backward(cls, ctx, g):
        from .reduction import _restore, sum
        (a,) = ctx.saved_tensors_list()
        shape = a._data.shape
        out = _restore(ctx.output(), shape, ctx.axes, ctx.keepdim)
        mask = a == out
        if cls.nan_ties:
            mask = mask | (a.isnan() & out.isnan())
        if cls.fills:
            from .arithmetic import where
            count = sum(mask.to(g._dtype), ctx.axes, keepdim=True)
            return where(mask, _restore(g, shape, ctx.axes, ctx.keepdim) / count, 0.0)
        mask = mask.to(g._dtype)
        count = sum(mask, ctx.axes, keepdim=True)
        return _restore(g, shape, ctx.axes, ctx.keepdim) * mask / count


class Amax(_Extreme):
    fn = "max"


class Amin(_Extreme):
    fn = "min"


class NormInfMax(Amax):
    """The inf-norm's reduction of ``|x|``: a NaN norm's gradient goes to the NaN elements."""

    node_name = "LinalgVectorNormBackward0"
    nan_ties = True


class NormInfMin(Amin):
    node_name = "LinalgVectorNormBackward0"
    nan_ties = True


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


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (all dims when empty); ties share the gradient."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    axes = dims(dim if dim != () else None, input._data.ndim)
    _check_nonempty(input, "amax", axes, dim != ())
    return Amax.apply(input, axes=axes, keepdim=keepdim)


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (all dims when empty); ties share the gradient."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
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
    nan_ties = True
    fills = True


class MinAll(Amin):
    node_name = "MinBackward1"
    nan_ties = True
    fills = True


def max(input, dim=None, keepdim=False, *, other=None, out=None, axis=None, keepdims=None):
    """``max(x)``: the largest element; ``max(x, dim)``: ``(values, indices)``; ``max(x, y)`` (or
    ``max(x, other=y)``): ``maximum``."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    result = _extreme(input, dim, keepdim, other, maximum, MaxAll, argmax, max_result)
    return result if out is None else write_out("max", out, result)


def min(input, dim=None, keepdim=False, *, other=None, out=None, axis=None, keepdims=None):
    """``min(x)``: the smallest element; ``min(x, dim)``: ``(values, indices)``; ``min(x, y)`` (or
    ``min(x, other=y)``): ``minimum``."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    result = _extreme(input, dim, keepdim, other, minimum, MinAll, argmin, min_result)
    return result if out is None else write_out("min", out, result)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (all elements when None), each as amin / amax (ties share the gradient)."""
    from ..autograd import _nodes
    axis = () if dim is None else dim
    # torch records one AminmaxBackward0 node for both; here each has its own, named as torch's
    return aminmax_result(_nodes.named(amin(input, axis, keepdim), "AminmaxBackward0"),
                          _nodes.named(amax(input, axis, keepdim), "AminmaxBackward0"))


def _extreme(input, dim, keepdim, other, elementwise, of_all, arg, result):
    """max or min's three overloads: of two tensors, of every element, or ``result(values, indices)`` along dim."""
    if other is not None:
        if dim is not None:
            raise TypeError(f"{result.__name__}() received an invalid combination of arguments - got both dim "
                            f"and other=")
        return elementwise(input, other)
    if isinstance(dim, Tensor):
        return elementwise(input, dim)
    if dim is None:
        _check_nonempty(input, result.__name__, ())
        return of_all.apply(input, axes=tuple(range(input._data.ndim)), keepdim=False)
    return _reduce_with_indices(input, dim, keepdim, arg, result)


class Maximum(Op):
    save_inputs = (0, 1)
    fn = "maximum"

    @classmethod
    def forward(cls, ctx, a, b):
        return getattr(ctx.backend.xp, cls.fn)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        from .arithmetic import where
        a, b = ctx.saved_tensors_list()
        a_wins, b_wins = (a > b, a < b) if cls.fn == "maximum" else (a < b, a > b)
        # torch: ties split the gradient evenly, and a NaN (neither wins) sends it to both
        share = where(a == b, 0.5, 1.0).to(g._dtype)
        # where, not a mask product: a NaN gradient must not leak into the operand that lost (torch gives 0)
        return where(b_wins, 0.0, g * share), where(a_wins, 0.0, g * share)


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
        out = ctx.backend.xp.clip(a, lo, hi)
        return out if out.dtype == a.dtype else ctx.backend.xp.astype(out, a.dtype)  # NumPy: bfloat16 -> float32

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
        from .arithmetic import where
        return where(keep, g, 0.0)  # a NaN gradient stays out of the clamped elements, as torch's


def clamp(input, min=None, max=None):
    """Limit values to ``[min, max]`` (either may be None, a number or a tensor)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if not all(b is None or isinstance(b, Tensor) for b in (min, max)):
            raise TypeError(f"clamp() received an invalid combination of arguments - got min="
                            f"{type(min).__name__}, max={type(max).__name__}: the bounds must be both numbers "
                            f"or both tensors (or None); wrap the number, e.g. tensorplug.tensor(0.0)")
        return _clamp_tensor(input, min, max)
    if input._dtype.category < _dt.FLOAT and (isinstance(min, float) or isinstance(max, float)):
        input = input.to(_dt.get_default_dtype())
    elif input._dtype is _dt.bool_ and any(type(b) is int for b in (min, max)):
        input = input.to(_dt.int64)  # torch's result type of bool and an int
    if input._dtype.category == _dt.INT:
        min, max = (checked_int(b, input._dtype) for b in (min, max))
    return Clamp.apply(input, lo=min, hi=max)



clip = clamp


class ClampTensor(Op):
    """``clamp`` with tensor bounds (NaN anywhere propagates). torch's gradient: to the input where
    ``lo <= x <= hi`` (a tie at a bound included), to a bound where it is crossed; not split as maximum's."""

    node_name = "ClampBackward0"
    save_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = ctx.backend.xp
        out = a if lo is None else xp.maximum(a, lo)
        return out if hi is None else xp.minimum(out, hi)

    @staticmethod
    def backward(ctx, g):
        from ._util import sum_to_shape
        from .arithmetic import where
        x, lo, hi = ctx.saved_tensors_list()
        keep = None
        grads = [None, None, None]
        for i, bound, crossed in ((1, lo, lambda: x < lo), (2, hi, lambda: x > hi)):
            if bound is None:
                continue
            inside = (x >= lo) if i == 1 else (x <= hi)
            keep = inside if keep is None else keep & inside
            if ctx.needs_grad(i):
                grads[i] = sum_to_shape(where(crossed(), g, 0.0), bound._data.shape)
        if ctx.needs_grad(0):
            grads[0] = sum_to_shape(where(keep, g, 0.0), x._data.shape)
        return tuple(grads)


def _clamp_tensor(input, lo, hi):
    operands = [input] + [b for b in (lo, hi) if b is not None]
    dtype = operands[0]._dtype if isinstance(operands[0], Tensor) else None
    for b in operands[1:]:
        dtype = _dt.result_type(dtype, input._data.ndim > 0, b._dtype if isinstance(b, Tensor) else
                                _dt.scalar_dtype(b), isinstance(b, Tensor) and b._data.ndim > 0)
    cast = [t.to(dtype) if isinstance(t, Tensor) else as_tensor_like(t, input).to(dtype) for t in (input, lo, hi)
            if t is not None]
    x = cast[0]
    lo = cast[1] if lo is not None else None
    hi = cast[-1] if hi is not None else None
    try:
        return ClampTensor.apply(x, lo, hi)
    except ValueError:
        raise broadcast_error(shape_of(x), shape_of(lo if lo is not None else hi)) from None
