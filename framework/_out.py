"""torch's ``out=`` keyword for the top-level functions that take it: the result is written into
the given tensor (resized to the result's shape, cast to its dtype where torch allows), which is
returned."""
from __future__ import annotations

import functools
import inspect
import warnings

from . import dtypes as _dt
from .autograd.grad_mode import GradMode, no_grad
from .tensor import Tensor

__all__ = ["with_out", "write_out"]

# functions whose torch signature takes out= and whose tensorplug one did not (single results, or
# (values, indices) pairs for sort / topk)
NAMES = ("matmul", "mm", "bmm", "mv", "dot", "addmm", "hstack", "vstack", "cumsum", "cumprod", "exp", "log",
         "sqrt", "abs", "neg", "clamp", "clip", "where", "argmin", "argmax", "amax", "amin", "sigmoid", "tanh",
         "sin", "cos", "floor", "ceil", "round", "maximum", "minimum", "logsumexp", "std", "var", "sign",
         "reciprocal", "rsqrt", "fmod", "remainder", "index_select", "gather", "masked_select", "outer", "lerp",
         "addcmul", "addcdiv", "logical_and", "logical_or", "logical_not", "eq", "ne", "lt", "le", "gt", "ge",
         "erf", "log1p", "expm1", "square", "atan2", "kron", "diag", "tril", "triu", "bincount", "histc",
         "searchsorted", "bucketize", "nonzero", "topk", "sort", "sub", "mul", "div", "pow")


def with_out(fn):
    """``fn`` taking torch's ``out=`` as well (the plain call is unchanged)."""
    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        result = fn(*args, **kwargs)
        return write_out(fn.__name__, out, result)
    return call


def write_out(name, out, result):
    """Write ``result`` (a tensor or a tuple of them) into ``out``; returns ``out``. ``name`` (or None)
    names the function in errors."""
    label = f"{name}()" if name else "out="
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{label}: out= must be a tuple of {len(result)} tensors")
        for o, r in zip(out, result):
            write_out(name, o, r)
        return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"{label}: argument 'out' must be Tensor, not {type(out).__name__}")
    if GradMode.enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{label}: functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")
    if not _can_cast(result.dtype, out.dtype):
        raise RuntimeError(f"result type {_dt.scalar_type_name(result.dtype)} can't be cast to the desired output type "
                           f"{_dt.scalar_type_name(out.dtype)}")
    if tuple(out.shape) != tuple(result.shape):
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. This behavior is deprecated, and in a future PyTorch "
                          f"release outputs will not be resized unless they have zero elements. You can "
                          f"explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                          f"t.resize_(0).", UserWarning, stacklevel=3)
        # torch resizes the out tensor: it takes a fresh storage of the result's shape
        out._data = out._backend.astype(result._data, out.dtype)
        out._version[0] += 1
        return out
    with no_grad():
        out.copy_(result)
    return out


def _can_cast(src, dst):
    # torch.can_cast: no cast to a lower category (float -> int, int -> bool, complex -> float)
    return src.category <= dst.category


def install(namespace: dict) -> None:
    """Give each of ``NAMES`` found in ``namespace`` (tensorplug's) the ``out=`` keyword."""
    for name in NAMES:
        fn = namespace.get(name)
        if fn is None or getattr(fn, "__wrapped__", None) is not None:
            continue
        try:
            if "out" in inspect.signature(fn).parameters:
                continue
        except (TypeError, ValueError):
            pass
        namespace[name] = with_out(fn)


