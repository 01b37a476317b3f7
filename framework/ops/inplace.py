"""In-place ops (``add_``, ``x[k] = v``, ``+=``...): torch's semantics on top of out-of-place ops.

Outside the graph the backend writes straight into the storage (views see
it). Inside it, the out-of-place op is recorded on a snapshot of the old
value and its result is written into the storage, so the tensor's history
becomes the new node: ``y = x * 2; y.add_(1)`` backpropagates like torch.
Every write bumps the version counter shared with views and ``.data``.
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.function import Op
from ..autograd.grad_mode import GradMode
from ..tensor import Tensor
from ._opmath import is_narrow
from ._util import broadcast_error


def check_leaf(x):
    if x._requires_grad and GradMode.enabled:
        if x.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation. "
                               "Do it under `with tensorplug.no_grad():`, or on x.data, or clone x first.")
        if getattr(x.grad_fn, "returns_views", False):
            raise RuntimeError(
                f"Output {x._output_nr} of {x.grad_fn.node_name} is a view and is being modified inplace. This "
                f"view is the output of a function that returns multiple views. Such functions do not allow "
                f"the output views to be modified inplace. You should replace the inplace operation by an "
                f"out-of-place one (or clone the piece first).")
        view = getattr(x, "_view", None)
        if view is not None and view[0].grad_fn is None and view[0]._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation. Do it under `with tensorplug.no_grad():`, or clone the leaf first.")


def check_cast(result_dtype, x):
    if result_dtype is not x._dtype and result_dtype.category > x._dtype.category:
        raise RuntimeError(f"result type {_dt.scalar_type_name(result_dtype)} can't be cast to the "
                           f"desired output type {_dt.scalar_type_name(x._dtype)}; use the out-of-place op, "
                           f"or convert x first (x = x.float())")


def assign(x, array):
    """Write ``array`` into ``x``'s storage (broadcasting)."""
    data = x._data
    if len(getattr(array, "shape", ())) > data.ndim:  # numpy drops leading 1s ([2.] into a 0-d); torch refuses
        raise write_error(x, array, ValueError())
    try:
        data[...] = array
    except TypeError:
        # numpy returns immutable scalars for 0-d results: give x a real array
        x._data = x._backend.copy(x._backend.asarray(array, x._dtype))
    except ValueError as exc:
        raise write_error(x, array, exc) from None


def write_error(x, value, exc):
    """torch's errors for an in-place write that cannot land in ``x`` (read-only expand, shapes)."""
    shape = tuple(getattr(value, "shape", ()))
    if "read-only" in str(exc):
        return RuntimeError("unsupported operation: more than one element of the written-to tensor refers to "
                            "a single memory location (it was made by expand()). Please clone() the tensor "
                            "before performing the operation.")
    for a, b in zip(reversed(tuple(x.shape)), reversed(shape)):
        if a != b and 1 not in (a, b):  # not even broadcastable: torch's message for that
            return broadcast_error(tuple(x.shape), shape)
    broadcast = tuple(max(a, b) for a, b in zip((1,) * (len(shape) - x.dim()) + tuple(x.shape),
                                                (1,) * (x.dim() - len(shape)) + shape))
    return RuntimeError(f"output with shape {list(x.shape)} doesn't match the broadcast shape "
                        f"{list(broadcast)}; an in-place op cannot change its tensor's shape, use the "
                        f"out-of-place form")


def inplace(x, op, *args, fast=None):
    """Apply out-of-place ``op(x, *args)`` and store the result in ``x``.

    ``fast(data, *arrays)``, when given, writes straight into ``x``'s storage
    when no graph needs recording.
    """
    check_leaf(x)
    recording = GradMode.enabled and (x._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if not recording:
        if fast is None:
            _write_unrecorded(x, op, args)
        else:
            try:
                fast(x._data, *(a._data if isinstance(a, Tensor) else a for a in args))
            except ValueError as exc:
                value = args[0] if args else None
                raise write_error(x, value._data if isinstance(value, Tensor) else value, exc) from None
            except TypeError:  # the backend cannot write these operands in place: the out-of-place op can
                _write_unrecorded(x, op, args)
        x._version[0] += 1
        return x
    old = Tensor._make(x._backend.copy(x._data), x._dtype, x._backend)
    old.grad_fn = x.grad_fn
    old._output_nr = x._output_nr
    old._requires_grad = x._requires_grad
    r = op(old, *args)
    check_cast(r._dtype, x)
    if r._dtype is not x._dtype:
        r = r.to(x._dtype)
    if r._data.shape != x._data.shape:
        raise write_error(x, r._data, ValueError())
    assign(x, r._data)
    x._version[0] += 1
    view = getattr(x, "_view", None)
    if view is not None:
        _rebase_view(x, view, r)
        return x
    x.grad_fn = r.grad_fn
    x._output_nr = r._output_nr
    x._requires_grad = True
    # the node must hand its output back as x (saved outputs check x's version)
    if getattr(r.grad_fn, "_out", None) is not None:
        out, _, _, dtype = r.grad_fn._out
        r.grad_fn._out = (x._data, x._version, x._version[0], dtype)
    refresh_views(x, None)
    return x


def _write_unrecorded(x, op, args):
    """``op(x, *args)`` computed with grad mode off, then cast to and written into ``x``'s storage."""
    prev = GradMode.enabled
    GradMode.enabled = False
    try:
        r = op(x, *args)
    finally:
        GradMode.enabled = prev
    check_cast(r._dtype, x)
    assign(x, r._data if r._dtype is x._dtype else r.to(x._dtype)._data)


def _binary_inplace(op_fn, name, aug):
    def method(self, other, *args, **kwargs):
        from ._util import result_dtype
        narrow = is_narrow(self)
        if kwargs.get("alpha", 1) == 1:
            kwargs.pop("alpha", None)
        elif not narrow:
            other = other * kwargs.pop("alpha")
        # else float16/bfloat16: add/sub take alpha, as torch's, in float32 (alpha unrounded)
        check_cast(result_dtype(self, other), self)
        if name == "div_" and self._dtype.category < _dt.FLOAT and kwargs.get("rounding_mode") is None:
            raise RuntimeError(f"result type Float can't be cast to the desired output type "
                               f"{_dt.scalar_type_name(self._dtype)}; use x.div(y) or convert x to float first")
        if type(other) is int and self._dtype.category == _dt.INT:
            from ._util import wrap_int
            other = wrap_int(other, self._dtype)
        if isinstance(other, Tensor) and other._dtype is not self._dtype and not (
                narrow and name in ("mul_", "div_") and not other._data.ndim):  # torch reads that one unrounded
            other = other.to(self._dtype)
        if isinstance(other, Tensor) and other._backend is not self._backend:
            from ..autograd.function import _device_mismatch
            _device_mismatch(self._backend, other._backend)
        # NumPy's in-place float16/bfloat16 product rounds the number first: the out-of-place op does not
        fast = None if kwargs or self._data.ndim == 0 or (narrow and name in ("mul_", "div_")) else aug
        return inplace(self, lambda x, y: op_fn(x, y, **kwargs), other, fast=fast)
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``; returns self."
    return method


def _iadd(d, o):
    d += o


def _isub(d, o):
    d -= o


def _imul(d, o):
    d *= o


def _idiv(d, o):
    d /= o


def make_inplace(fn, name):
    """The in-place method for out-of-place ``fn(x, *args, **kwargs)``."""
    def method(self, *args, **kwargs):
        return inplace(self, lambda x, *a: fn(x, *a, **kwargs), *args)
    method.__name__ = name
    method.__doc__ = f"In-place ``{fn.__name__}``; returns self."
    return method


def binary_inplace_methods():
    from .arithmetic import add, sub, mul, div
    return {
        "add_": _binary_inplace(add, "add_", _iadd),
        "sub_": _binary_inplace(sub, "sub_", _isub),
        "mul_": _binary_inplace(mul, "mul_", _imul),
        "div_": _binary_inplace(div, "div_", _idiv),
    }


def copy_(self, other, non_blocking=False):
    """Copy ``other``'s values into ``self`` (broadcasting, casting, across devices); torch documents the
    argument as ``src`` but its parser takes the keyword ``other``, as here."""
    if not isinstance(other, Tensor):
        other = Tensor._make(self._backend.asarray(other, self._dtype), self._dtype, self._backend)
    if other._backend is not self._backend:
        other = other.to(self._backend.device)
    if other._dtype is not self._dtype:
        other = other.to(self._dtype)

    def op(x, s):
        return s.expand(x.shape) + x * 0 if s._data.shape != x._data.shape else s + x * 0
    return inplace(self, op, other, fast=lambda d, s: assign(self, s))


def zero_(self):
    return fill_(self, 0)


def fill_(self, value):
    if type(value) is int and self._dtype.category == _dt.INT:
        from ._util import checked_int
        value = checked_int(value, self._dtype)  # torch refuses 300 for int8, takes -1 as 255 for uint8
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
    return inplace(self, lambda x, v: x * 0 + v, value,
                   fast=lambda d, v: assign(self, v))


class CopySlices(Op):
    """The base of a view that was written in place (torch's CopySlices).

    The view's region of the base now holds the new values ``r``: its
    gradient goes to ``r``; the rest of the base's gradient to the old base.
    ``flat`` holds, for each element of the view, its flat index in the base.
    """

    node_name = "CopySlices"  # torch's name has no Backward suffix

    @staticmethod
    def forward(ctx, base, new, flat):
        backend = ctx.backend
        ctx.flat = flat
        n = 1
        for size in base.shape:
            n *= size
        mask = backend.ones((n,), backend.dtype_of(base))
        backend.setitem(mask, (backend.xp.reshape(flat, (-1,)),), 0)
        ctx.mask = backend.xp.reshape(mask, base.shape)
        return base

    @staticmethod
    def backward(ctx, g):
        gbase = g * ctx.tensor(ctx.mask) if ctx.needs_grad(0) else None
        gnew = None
        if ctx.needs_grad(1):
            from .indexing import GetItem
            gnew = GetItem.apply(g.reshape(-1), key=(ctx.flat,))
        return gbase, gnew


def _rebase_view(x, view, r):
    """After ``x`` (a view) took ``r``'s values in place, move the history onto the base."""
    from ..creation import arange
    base, replay = view
    backend = base._backend
    with_grad = GradMode.enabled
    GradMode.enabled = False
    try:
        flat = replay(arange(base.numel(), device=backend).reshape(base.shape))._data
    finally:
        GradMode.enabled = with_grad
    node = CopySlices.apply(base, r, flat=flat)
    base.grad_fn = node.grad_fn
    base._output_nr = 0
    base._requires_grad = True
    fresh = replay(base)
    x.grad_fn = fresh.grad_fn
    x._output_nr = fresh._output_nr
    x._requires_grad = True
    refresh_views(base, x)


def refresh_views(root, written):
    """After an in-place write gave ``root`` a new history, rebuild the history of each of its live views
    (but ``written``, already rebuilt) from it: their values changed with the storage, so their gradients
    must flow through the write (a stale view's gradient skipped it: a silent wrong answer)."""
    views = root._views
    if not views:
        return
    alive = []
    for ref in views:
        view = ref()
        if view is None:
            continue
        alive.append(ref)
        if view is not written and view._view is not None and view._view[0] is root:
            fresh = view._view[1](root)
            view.grad_fn = fresh.grad_fn
            view._output_nr = fresh._output_nr
            view._requires_grad = fresh._requires_grad
    root._views = alive
