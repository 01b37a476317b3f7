"""Dtype casts, copies and moves between backends, all differentiable."""
from __future__ import annotations

import warnings

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor, _as_dtype


class Cast(Op):
    node_name = "ToCopyBackward0"  # torch's .to(dtype)

    @staticmethod
    def forward(ctx, a, dtype):
        src = ctx.src = ctx.backend.dtype_of(a)
        if src.category == _dt.COMPLEX and dtype.category != _dt.COMPLEX:
            # torch's warning (NumPy's own would be a ComplexWarning), then the real part
            warnings.warn("Casting complex values to real discards the imaginary part; take x.real (or x.abs()) "
                          "to say which real number you mean", UserWarning, stacklevel=4)
            a = ctx.backend.xp.real(a)
        if src is _dt.bfloat16 and dtype.category == _dt.INT:
            # through float32 (exact), as torch: bfloat16's own cast saturated and zeroed NaN and inf,
            # where float32's wraps (-2.5 -> 254 in uint8) and gives INT_MIN for NaN in int32/int64
            a = ctx.backend.astype(a, _dt.float32)
        return ctx.backend.astype(a, dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx.src.category < _dt.FLOAT:
            return None
        if g._dtype.category == _dt.COMPLEX and ctx.src.category == _dt.FLOAT:
            g = g.real  # torch: a real input's gradient is the real part, without the cast's warning
        return g.to(ctx.src)


class Clone(Op):
    @staticmethod
    def forward(ctx, a):
        return ctx.backend.copy(a)

    @staticmethod
    def backward(ctx, g):
        return g


class ToBackend(Op):
    """Copy to another backend/device (DLPack or through NumPy)."""

    @staticmethod
    def forward(ctx, a, target):
        ctx.source = ctx.backend
        ctx.backend = target
        return transfer(a, ctx.source, target)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source)  # the backend itself: two backends can serve one device type


def transfer(array, source, target):
    if source.device_type == "cpu" and target.device_type == "cpu":
        return target.from_numpy(source.to_numpy(array))
    try:
        return target.from_dlpack(array)
    except Exception:
        return target.from_numpy(source.to_numpy(array))


def to_backend(x, target):
    """``x`` on ``target`` (a Backend), keeping the graph."""
    return ToBackend.apply(x, target=target)


def clone(input, *, memory_format=None):
    """A copy with its own storage; gradients flow back to ``input``."""
    return Clone.apply(input)


def parse_to(args, kwargs):
    """``(device, dtype)`` from ``.to()``'s arguments, for tensors and modules (torch's ``_parse_to``):
    ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``, the keywords; None where not given."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if arg is None:
            continue
        if isinstance(arg, _dt.dtype):
            dtype = arg
        elif isinstance(arg, Tensor):
            device, dtype = arg._backend, arg._dtype
        elif isinstance(arg, str) and arg in _dt.BY_NAME:
            dtype = _dt.BY_NAME[arg]
        elif isinstance(arg, (str, int)) or hasattr(arg, "xp") or hasattr(arg, "index"):
            device = f"cuda:{arg}" if isinstance(arg, int) else arg
        else:
            dtype = _as_dtype(arg)
    if dtype is not None and not isinstance(dtype, _dt.dtype):
        dtype = _as_dtype(dtype)
    return device, dtype


def to(self, *args, **kwargs):
    """Cast and/or move: ``.to(dtype)``, ``.to(device)``, ``.to(other)``, ``.to(device, dtype)``."""
    from ..registry import get_backend
    copy = kwargs.pop("copy", False)
    device, dtype = parse_to(args, kwargs)
    out = self
    if device is not None:
        target = get_backend(device)
        if target is not out._backend:
            out = to_backend(out, target)
            copy = False
    if dtype is not None and dtype is not out._dtype:
        out = Cast.apply(out, dtype=dtype)
        copy = False
    if copy:
        out = clone(out)
    return out


def contiguous(self, memory_format=None):
    """``self`` if its storage is contiguous, else a contiguous copy (so ``.view`` works on it)."""
    if self.is_contiguous():
        return self
    return clone(self)
