"""softmax and log_softmax along a dim, numerically stable (the max is subtracted first)."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ._opmath import opmath
from ._util import wrap_dim
from .reduction import narrow_float


def _shifted(xp, a, axis):
    if 0 in a.shape:
        return a  # nothing to normalise (xp.max refuses empty input)
    # torch subtracts the max even where it is infinite: a slice holding +inf (or all -inf) is nan
    # throughout, values and gradients, never a half-finite answer
    return a - xp.max(a, axis=axis, keepdims=True)


def _narrow_lastdim(xp, a, axis, narrow):
    """torch's float16/bfloat16 log_softmax along the last dim, on ``a`` widened to float32: its kernel keeps
    the sum of exponentials and its log in the narrow dtype (computed unrounded, 2087 of 20000 bfloat16
    values were an ulp off)."""
    s = _shifted(xp, a, axis)
    total = xp.astype(xp.astype(xp.sum(xp.exp(s), axis=axis, keepdims=True), narrow), a.dtype)
    return s - xp.astype(xp.astype(xp.log(total), narrow), a.dtype)


def _fused(ctx, a, axis, log):
    """The backend's row-wise softmax where ``axis`` is the last (NotImplemented otherwise, or declined)."""
    ctx.axis = axis
    return ctx.backend.fused_softmax(a, log) if axis == a.ndim - 1 else NotImplemented


def _fused_backward(ctx, y, g, log):
    """The backend's row-wise gradient of ``_fused`` (NotImplemented where it is not, or declined)."""
    return ctx.backend.fused_softmax_backward(y, g, log) if ctx.axis == y.ndim - 1 else NotImplemented


class Softmax(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a, axis):
        done = _fused(ctx, a, axis, False)
        if done is not NotImplemented:
            return done
        xp = ctx.backend.xp
        e = xp.exp(_shifted(xp, a, axis))
        return e / xp.sum(e, axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        gy = g * y
        return gy - y * gy.sum(ctx.axis, keepdim=True)

    @staticmethod
    def fast_backward(ctx, g):
        xp = ctx.backend.xp
        y = ctx.output_array()
        done = _fused_backward(ctx, y, g, False)
        if done is not NotImplemented:
            return done
        gy = g * y
        return gy - y * xp.sum(gy, axis=ctx.axis, keepdims=True)


class LogSoftmax(Op):
    save_output = True

    @staticmethod
    def forward(ctx, a, axis):
        narrow = getattr(ctx, "narrow", None)
        if narrow is not None and axis == a.ndim - 1 and 0 not in a.shape:
            ctx.axis = axis
            return _narrow_lastdim(ctx.backend.xp, a, axis, narrow)
        done = _fused(ctx, a, axis, True)
        if done is not NotImplemented:
            return done
        xp = ctx.backend.xp
        s = _shifted(xp, a, axis)
        return s - xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return g - y.exp() * g.sum(ctx.axis, keepdim=True)

    @staticmethod
    def fast_backward(ctx, g):
        xp = ctx.backend.xp
        y = ctx.output_array()
        done = _fused_backward(ctx, y, g, True)
        if done is not NotImplemented:
            return done
        return g - xp.exp(y) * xp.sum(g, axis=ctx.axis, keepdims=True)


# float16/bfloat16 normalise in float32, as torch does, and so do their gradients, from the output rounded
# to the narrow dtype, as torch saves it (from the float32 output, a third of the gradients were an ulp off)
_SOFTMAX_IN_FLOAT32 = opmath(Softmax, backward=True)
_LOG_SOFTMAX_IN_FLOAT32 = opmath(LogSoftmax, backward=True)


def _prepare(input, dim, dtype, name):
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim': pass the dimension to normalise over, "
                        f"e.g. {name}(x, dim=-1)")
    if dtype is not None:
        input = input.to(dtype)
    if input._dtype.category != _dt.FLOAT:  # integers and complex numbers: torch has no kernel for them
        last = input._data.ndim == 0 or wrap_dim(dim, input._data.ndim) == input._data.ndim - 1
        kernel = f"{name}_lastdim_kernel_impl" if last else f"{name}_kernel_impl"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input._dtype)}'; "
                                  f"convert the input to float first, e.g. x.float()")
    # a 0-d input is its own slice: reducing over no axes keeps torch's x - x (NaN for inf/NaN)
    axis = wrap_dim(dim, input._data.ndim)
    return input, axis if input._data.ndim else ()


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / exp(x).sum(dim)`` computed without overflow.

    Example:
        >>> tensorplug.softmax(tensorplug.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([0.0900, 0.2447, 0.6652])
    """
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, softmax, input, dim, _stacklevel, dtype)
    input, axis = _prepare(input, dim, dtype, "softmax")
    if narrow_float(input._dtype):
        return _SOFTMAX_IN_FLOAT32.apply(input, axis=axis)
    return Softmax.apply(input, axis=axis)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x, dim))`` computed stably (``x - logsumexp(x, dim)``)."""
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, log_softmax, input, dim, _stacklevel, dtype)
    input, axis = _prepare(input, dim, dtype, "log_softmax")
    if narrow_float(input._dtype):
        return _LOG_SOFTMAX_IN_FLOAT32.apply(input, axis=axis)
    return LogSoftmax.apply(input, axis=axis)
