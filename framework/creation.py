"""Factories: zeros, ones, empty, full, eye, arange, linspace, rand*, *_like, from_numpy."""
from __future__ import annotations

import math

from . import dtypes as _dt
from .errors import OutOfMemoryError
from .generator import drawing_from
from .registry import get_backend
from .tensor import Size, Tensor, _as_dtype, check_shape, tensor

__all__ = ["zeros", "ones", "empty", "full", "eye", "arange", "linspace", "rand", "randn",
           "randint", "randperm", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
           "randn_like", "randint_like", "from_numpy", "as_tensor", "asarray", "scalar_tensor"]


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    return check_shape(tuple(int(s) if hasattr(s, "__index__") and not isinstance(s, int) else s for s in size))


_MAX_BYTES = 2 ** 63 - 1  # torch counts a storage's bytes in int64


def _allocate(shape, dtype, backend, make):
    """``make()``, which allocates ``shape`` of ``dtype``, with torch's errors where that fails: a byte
    count beyond int64 is RuntimeError, a failed allocation OutOfMemoryError naming the bytes of ``dtype``
    (a backend may draw random numbers in a wider dtype first). Sizes are checked only on failure."""
    try:
        return make()
    except (MemoryError, ValueError) as exc:
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > _MAX_BYTES:
            raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}: {nbytes} bytes "
                               f"of {dtype} do not fit in 2**63 - 1; ask for fewer elements") from None
        if isinstance(exc, ValueError) or isinstance(exc, OutOfMemoryError):
            raise
        raise OutOfMemoryError(f"can't allocate memory: you tried to allocate {nbytes} bytes ({tuple(shape)} of "
                               f"{dtype}) on {backend.device}; use a smaller size or free memory") from None


def _finish(data, dtype, backend, requires_grad):
    t = Tensor._make(data, dtype, backend)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype):
    if dtype is None:
        return _dt.get_default_dtype()
    return dtype if isinstance(dtype, _dt.dtype) else _as_dtype(dtype)


def _new(make, size, dtype, backend, requires_grad):
    """``make(shape, dtype)`` (the backend's zeros, ones, empty, rand, randn) as a tensor, with torch's
    errors for a bad size and a failed allocation."""
    shape = _shape(size)
    data = _allocate(shape, dtype, backend, lambda: make(shape, dtype))
    return _finish(data, dtype, backend, requires_grad)


def _sizes_or_keyword(sizes, size, name):
    """The shape of ``zeros(2, 3)`` or ``zeros((2, 3))``, or of torch's keyword form ``zeros(size=(2, 3))``."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError(f"{name}() got multiple values for argument 'size'; give the shape once")
    return (size,)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of zeros. Example: ``zeros(2, 3)``."""
    backend = get_backend(device)
    return _new(backend.zeros, _sizes_or_keyword(sizes, size, "zeros"), _dtype(dtype), backend, requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of ones."""
    backend = get_backend(device)
    return _new(backend.ones, _sizes_or_keyword(sizes, size, "ones"), _dtype(dtype), backend, requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None):
    """An uninitialised tensor (its values are whatever the memory held)."""
    backend = get_backend(device)
    return _new(backend.empty, _sizes_or_keyword(sizes, size, "empty"), _dtype(dtype), backend, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor filled with ``fill_value`` (dtype inferred from it, as torch does)."""
    backend = get_backend(device)
    if dtype is None:
        dtype = _dt.scalar_dtype(fill_value) if not isinstance(fill_value, Tensor) else fill_value._dtype
    dtype = _dtype(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    shape = _shape((size,))
    data = _allocate(shape, dtype, backend, lambda: backend.full(shape, fill_value, dtype))
    return _finish(data, dtype, backend, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    backend = get_backend(device)
    dtype = _dtype(dtype)
    m = n if m is None else m
    check_shape((n, m))
    return _finish(_allocate((n, m), dtype, backend, lambda: backend.eye(n, m, dtype)), dtype, backend,
                   requires_grad)


def _bounds(name, upper, low, high):
    """``(low, high)`` of torch's ``fn(high)`` / ``fn(low, high)`` / ``fn(high=...)``: low is 0 unless both are
    given; ``upper`` names the bound torch requires."""
    if high is None:
        if low is None:
            raise TypeError(f'{name}() missing 1 required positional arguments: "{upper}"')
        return 0, low
    return (0 if low is None else low), high


def arange(start=None, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    """Values from ``start`` (0 by default: ``arange(5)``, ``arange(end=5)``) to ``end`` (exclusive) by ``step``.

    Integers give int64, any float gives the default float dtype.
    """
    start, end = _bounds("arange", "end", start, end)
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError(f"upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        dtype = _dt.int64 if all(isinstance(v, int) for v in values) else _dt.get_default_dtype()
    dtype = _dtype(dtype)
    _numeric(dtype, "arange_cpu")
    backend = get_backend(device)
    n = max(0, math.ceil((end - start) / step))
    if dtype.category == _dt.INT and all(isinstance(v, int) for v in values):
        data = _allocate((n,), dtype, backend, lambda: backend.arange(start, start + n * step, step, dtype))
    else:
        data = _allocate((n,), dtype, backend, lambda: backend.arange(0, n, 1, _dt.float64)) * step + start
        data = backend.astype(data, dtype)
    return _finish(data, dtype, backend, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got {steps}")
    backend = get_backend(device)
    dtype = _dtype(dtype)
    _numeric(dtype, "linspace_cpu")
    lo, hi = float(start), float(end)
    data = _allocate((steps,), dtype, backend, lambda: backend.linspace(lo, hi, steps, _dt.float64))
    data = backend.astype(data, dtype)
    return _finish(data, dtype, backend, requires_grad)


def _numeric(dtype, name):
    if dtype is _dt.bool_:  # torch has no bool kernel for ranges
        raise NotImplementedError(f"\"{name}\" not implemented for 'Bool': make the range as int64 and "
                                  f"compare, e.g. arange(n) > 0")


def _float_dtype(dtype, name):
    dtype = _dtype(dtype)
    if dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_dt.scalar_type_name(dtype)}': "
                                  f"use a floating dtype")
    return dtype


def rand(*sizes, size=None, dtype=None, device=None, requires_grad=False, generator=None, out=None):
    """Uniform samples in [0, 1)."""
    return _float_samples("rand", "check_uniform_bounds", _sizes_or_keyword(sizes, size, "rand"), dtype, device,
                          requires_grad, generator)


def randn(*sizes, size=None, dtype=None, device=None, requires_grad=False, generator=None, out=None):
    """Standard normal samples."""
    return _float_samples("randn", "normal_kernel_cpu", _sizes_or_keyword(sizes, size, "randn"), dtype, device,
                          requires_grad, generator)


def _float_samples(name, kernel, size, dtype, device, requires_grad, generator):
    """``backend.<name>(shape, dtype)`` drawn from ``generator``; ``kernel`` is the torch kernel that
    names itself in the error for a dtype that is not floating."""
    backend = get_backend(device)
    dtype = _float_dtype(dtype, kernel)
    make = getattr(backend, name)
    if dtype.category == _dt.COMPLEX:
        make = _complex_samples(make, name == "randn", backend)
    with drawing_from(generator, backend, f"{name}()"):
        return _new(make, size, dtype, backend, requires_grad)


def _complex_samples(make_parts, normal, backend):
    """torch's complex rand/randn: independent real and imaginary parts (each of variance 1/2 for randn)."""
    def make(shape, dtype):
        pairs = make_parts(tuple(shape) + (2,), _dt.COMPLEX_PARTS[dtype])
        return backend.view_as_complex(pairs * 0.5 ** 0.5 if normal else pairs)
    return make


def randint(low=None, high=None, size=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers in [low, high); ``randint(high, size)`` or ``randint(low, high, size)`` (torch's keywords too:
    ``randint(high=5, size=(2,))``, ``randint(5, size=(2,))``)."""
    if size is None:
        if isinstance(high, (tuple, list, Size)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing required argument 'size' (a tuple)")
    low, high = _bounds("randint", "high", low, high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    backend = get_backend(device)
    dtype = _dtype(dtype or _dt.int64)
    with drawing_from(generator, backend, "randint()"):
        shape = _shape((size,))
        data = _allocate(shape, dtype, backend, lambda: backend.randint(low, high, shape, dtype))
    return _finish(data, dtype, backend, requires_grad)


def randperm(n, *, dtype=None, device=None, requires_grad=False, generator=None):
    backend = get_backend(device)
    dtype = _dtype(dtype or _dt.int64)
    with drawing_from(generator, backend, "randperm()"):
        data = _allocate((n,), dtype, backend, lambda: backend.randperm(n, dtype))
    return _finish(data, dtype, backend, requires_grad)


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
        return fn(input.shape, dtype=dtype or input._dtype, device=device or input._backend,
                  requires_grad=requires_grad)
    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape (and by default dtype and device) of ``input``."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return full(input.shape, fill_value, dtype=dtype or input._dtype, device=device or input._backend,
                requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input._dtype, device=device or input._backend)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (on the NumPy backend)."""
    if not (hasattr(ndarray, "__array_interface__") and hasattr(ndarray, "dtype")):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtype = _dt.BY_NAME.get(str(ndarray.dtype))
    if dtype is None:
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype}. The only supported types are: "
                        f"{', '.join(d.name for d in _dt.ALL)}.")
    backend = get_backend("numpy")
    return Tensor._make(backend.from_numpy(ndarray), dtype, backend)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a tensor or array when dtype and device allow."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (device or dtype) else data
    backend = get_backend(device)
    if hasattr(data, "__array_interface__") and backend.device_type == "cpu":
        t = from_numpy(data) if str(data.dtype) in _dt.BY_NAME else tensor(data)
        return t if dtype is None else t.to(_dtype(dtype))
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def scalar_tensor(value, *, dtype=None, device=None):
    return tensor(value, dtype=dtype or _dt.get_default_dtype(), device=device)
