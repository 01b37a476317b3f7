"""Helpers shared by the op families: operands, dtype promotion, dims, errors."""
from __future__ import annotations

import weakref

from .. import dtypes as _dt
from ..autograd.grad_mode import GradMode
from ..tensor import Tensor, tensor, _wrap_dim

_SCALARS = (bool, int, float, complex)


def as_tensor_like(value, like):
    """``value`` as a Tensor on ``like``'s backend (numbers keep torch's scalar dtype)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, _SCALARS):
        dt = _dt.scalar_dtype(value)
        return Tensor._make(like._backend.asarray(value, dt), dt, like._backend)
    return tensor(value, device=like._backend)


def promote(a, b):
    """Cast two operands (Tensors or Python numbers) to torch's result dtype.

    Numbers stay numbers when the tensor's dtype already holds them (the
    backend applies them without upcasting); otherwise the tensor is cast.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            da, db = a._dtype, b._dtype
            if da is db:
                return a, b
            r = _dt.result_type(da, a._data.ndim > 0, db, b._data.ndim > 0)
            return (a if da is r else cast(a, r)), (b if db is r else cast(b, r))
        if isinstance(b, _SCALARS):
            if _dt.scalar_dtype(b).category <= a._dtype.category:
                if type(b) is int and a._dtype.category == _dt.INT:
                    b = wrap_int(b, a._dtype)
                return a, b
            r = _dt.result_type(a._dtype, a._data.ndim > 0, _dt.scalar_dtype(b), False)
            return cast(a, r), b
        return promote(a, as_tensor_like(b, a))
    if isinstance(b, Tensor):
        y, x = promote(b, a)
        return x, y
    raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")


def wrap_int(value, dtype):
    """A Python int as ``dtype`` holds it: torch wraps out-of-range values (numpy would raise)."""
    bits = dtype.itemsize * 8
    lo = -(1 << (bits - 1)) if dtype.is_signed else 0
    if lo <= value < lo + (1 << bits):
        return value
    if bits == 64:
        raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow: {value}")
    return (value - lo) % (1 << bits) + lo


def checked_int(value, dtype):
    """A Python int as torch converts a scalar argument to an integer dtype (clamp's bounds, fill values):
    refused out of range, except that an unsigned dtype takes a negative value down to -max, wrapped
    (uint8 takes -1 as 255). Other values as they are."""
    if type(value) is not int:
        return value
    bits = dtype.itemsize * 8
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if dtype.is_signed else (-((1 << bits) - 1), (1 << bits) - 1)
    if not lo <= value <= hi:
        raise RuntimeError(f"value cannot be converted to type {dtype.name}_t without overflow: {value}")
    return value % (1 << bits) if value < 0 and not dtype.is_signed else value


def result_dtype(a, b):
    """torch's result dtype of a binary op between Tensors/numbers (no cast)."""
    da = a._dtype if isinstance(a, Tensor) else _dt.scalar_dtype(a)
    db = b._dtype if isinstance(b, Tensor) else _dt.scalar_dtype(b)
    return _dt.result_type(da, isinstance(a, Tensor) and a._data.ndim > 0,
                           db, isinstance(b, Tensor) and b._data.ndim > 0)


def cast(x, dtype):
    from .conversion import Cast
    return Cast.apply(x, dtype=dtype)


def dims(dim, ndim, empty_is_all=True):
    """Normalise ``dim`` (None, int or sequence) into a sorted tuple of axes. An empty sequence is every
    axis, as in torch's reductions (``x.sum([])`` sums it all); any and all pass ``empty_is_all=False``:
    theirs reduce nothing."""
    if dim is None or (empty_is_all and isinstance(dim, (list, tuple)) and not dim):
        return tuple(range(ndim))
    if ndim == 0:
        # torch: a 0-d tensor takes dim 0 or -1 and reduces over nothing
        for d in dim if isinstance(dim, (list, tuple)) else (dim,):
            _wrap_dim(d, 0)
        return ()
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted({_wrap_dim(d, ndim) for d in dim}))
        return axes if axes or ndim else ()
    return (_wrap_dim(dim, ndim),)


def wrap_dim(dim, ndim):
    return _wrap_dim(dim, ndim)


def broadcast_error(sa, sb):
    """torch's message for shapes that do not broadcast, plus a hint for matrix products."""
    na, nb = len(sa), len(sb)
    for i in range(1, max(na, nb) + 1):
        x = sa[-i] if i <= na else 1
        y = sb[-i] if i <= nb else 1
        if x != y and x != 1 and y != 1:
            dim = max(na, nb) - i
            msg = (f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton "
                   f"dimension {dim} (shapes {list(sa)} and {list(sb)} do not broadcast)")
            if na == 2 and nb == 2 and sa[1] == sb[0]:
                msg += f"; for a matrix product of {list(sa)} and {list(sb)} use a @ b or tensorplug.mm(a, b)"
            return RuntimeError(msg)
    return RuntimeError(f"shapes {list(sa)} and {list(sb)} cannot be broadcast together")


def shape_of(x):
    return x._data.shape if isinstance(x, Tensor) else ()


def sum_to_shape(g, shape):
    """Sum a broadcast gradient ``g`` back to ``shape``."""
    from .reduction import sum as _sum
    gshape = g._data.shape
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    if axes:
        g = _sum(g, axes, keepdim=True)
    if g._data.shape != tuple(shape):
        g = g.reshape(shape)
    return g


def numpy_names(dim, keepdim, axis, keepdims):
    """``(dim, keepdim)`` given torch's numpy-style aliases ``axis=`` and ``keepdims=`` (x.sum(1, keepdims=True))."""
    return (dim if axis is None else axis), (keepdim if keepdims is None else keepdims)


def c_order(backend, array):
    """``array``, copied to C order where it has another layout (an array without ``flags`` is taken as
    is): for results torch makes contiguous, where NumPy's follow a strided input or index."""
    flags = getattr(array, "flags", None)
    return backend.copy(array) if flags is not None and not flags.c_contiguous else array


def mark_view(out, base, replay):
    """Record that ``out`` views ``base``'s storage.

    They share the version counter (so an in-place write through either is
    seen by saved-tensor checks), and ``replay(t)`` rebuilds the view from
    ``base`` with tensorplug ops, which in-place writes through the view use
    to rewrite the base's history (torch's CopySlices).
    """
    if out is base:
        return out
    if base._data.ndim == 0 and not hasattr(base._data, "__setitem__") and out._dtype is base._dtype:
        # base holds an immutable scalar (NumPy's 0-d results): give it an array the view can share
        from ..tensor import _shared_data
        backend = base._backend
        shape = out._data.shape
        one = backend.view(_shared_data(base), (1,) * len(shape))
        out._data = one if out.numel() == 1 else backend.xp.broadcast_to(one, shape)
    out._version = base._version
    root = getattr(base, "_view", None)
    if root is None:
        root_base = base
        out._view = (base, replay)
    else:
        root_base, prev = root
        out._view = (root_base, lambda t: replay(prev(t)))
    if root_base._requires_grad and GradMode.enabled:
        _track_view(root_base, out)
    return out


def _track_view(root, view):
    """Keep a weak reference to ``view`` on ``root``: an in-place write that gives ``root`` a new history
    gives its live views theirs (torch regenerates a view's grad_fn when its base's version moved)."""
    views = root._views
    if views is None:
        root._views = views = []
    views.append(weakref.ref(view))
    if len(views) % 64 == 0:  # drop the dead ones now and then (a parameter's views come and go each step)
        views[:] = [ref for ref in views if ref() is not None]


def sizes_or_keyword(name, param, args, value):
    """The sizes of ``fn(*args)``, or ``(value,)`` where they came as torch's keyword ``param=value``
    (``x.reshape(shape=(3, 2))``), with torch's TypeErrors for both, neither, or a number as the keyword."""
    if value is None:
        if args:
            return args
        raise TypeError(f'{name}() missing 1 required positional arguments: "{param}"')
    if args:
        raise TypeError(f"{name}() got multiple values for argument '{param}'")
    if isinstance(value, (int, float)):
        raise TypeError(f"{name}(): argument '{param}' must be tuple of ints, not {type(value).__name__}")
    return (value,)


def write_out(name, out, result):
    """``result`` (a tensor or a tuple of them) written into torch's ``out=`` argument, which is returned
    (resized, cast where torch allows, refused under autograd: see tensorplug._out)."""
    from .._out import write_out as write
    return write(name, out, result)
