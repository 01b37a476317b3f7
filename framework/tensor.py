"""``Tensor``: a backend array plus dtype, device and autograd metadata.

The arithmetic lives in ``tensorplug.ops``; ops bind their methods onto
Tensor when that package is imported (see ``ops/__init__.py``).
"""
from __future__ import annotations

import warnings

from . import _display, dtypes as _dt
from .autograd import function as _function
from .autograd.grad_mode import GradMode
from .registry import default_backend, get_backend

__all__ = ["Tensor", "Size", "tensor", "is_tensor"]

_new = object.__new__
_next_seq = _function.next_seq


class Size(tuple):
    """A tensor's shape: a tuple that prints like torch's."""

    __slots__ = ()

    def __repr__(self):
        return f"{_display.MODULE}.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out


class Tensor:
    """A multi-dimensional array that can record operations for autograd.

    ``Tensor(4, 6)`` makes an uninitialised float32 tensor of that size and
    ``Tensor([1, 2])`` a float32 tensor from data (torch's legacy
    constructor); prefer ``tensorplug.tensor(data)``, which infers the dtype.
    """

    __slots__ = ("_data", "_dtype", "_backend", "_requires_grad", "grad_fn", "_grad",
                 "_version", "_output_nr", "_hooks", "_retains_grad", "_view", "_views", "__weakref__")
    # _view: None, or (base, replay) when this tensor views another's storage, where
    # replay(base) rebuilds the view with tensorplug ops; see ops/_util.mark_view.
    # _views: None, or weak references to the views of this tensor made under grad,
    # whose histories an in-place write to it renews (ops/inplace.refresh_views)

    def __new__(cls, *args, device=None, dtype=None, requires_grad=False):
        return _legacy_new(dtype or _dt.get_default_dtype(), args, device, requires_grad)

    # a staticmethod: calling it binds no method object (this runs once per op)
    @staticmethod
    def _make(data, dtype, backend, grad_fn=None):
        t = _new(Tensor)
        t._data = data
        t._dtype = dtype
        t._backend = backend
        if grad_fn is None:
            t._requires_grad = False
        else:
            t._requires_grad = True
            # creation order: every node is numbered after the nodes of its inputs (the engine's queue)
            grad_fn._seq = _next_seq()
        t.grad_fn = grad_fn
        t._grad = None
        t._version = [0]
        t._output_nr = 0
        t._hooks = None
        t._retains_grad = False
        t._view = None
        t._views = None
        return t

    def _set_history(self, node, output_nr=0):
        node._seq = _next_seq()
        self.grad_fn = node
        self._output_nr = output_nr
        self._requires_grad = True

    # metadata -------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._backend.device

    @property
    def is_cuda(self) -> bool:
        return self._backend.device_type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    def is_floating_point(self) -> bool:
        return self._dtype.category == _dt.FLOAT

    def is_complex(self) -> bool:
        return self._dtype.category == _dt.COMPLEX

    def type(self, dtype=None):
        """``'torch.FloatTensor'``-style name, or a copy cast to ``dtype``."""
        if dtype is None:
            prefix = "torch." if self._backend.device_type == "cpu" else f"torch.{self._backend.device_type}."
            return prefix + self._dtype.legacy_name
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            matches = [d for d in _dt.ALL if d.legacy_name == name]
            if not matches:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = matches[0]
        elif isinstance(dtype, _LegacyType):
            dtype = dtype._dtype
        return self.to(dtype)

    # autograd metadata ----------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        requires_grad = bool(requires_grad)
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return self
        if requires_grad and self._dtype.category < _dt.FLOAT:
            raise RuntimeError(
                f"Only Tensors of floating point and complex dtype can require gradients "
                f"(this one is {self._dtype}); convert it first, e.g. x.float().requires_grad_()")
        if requires_grad:
            _shared_data(self)  # a leaf that learns is updated in place: never an immutable scalar
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and GradMode.enabled:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a "
                                   f"tensor of size '{list(self.shape)}'. Please ensure that the gradient "
                                   f"and the tensor are the same size")
            if value._backend is not self._backend:
                raise RuntimeError("attempting to assign a gradient located on device "
                                   f"{value.device} to a tensor located on {self.device}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def data(self):
        """The same values as a tensor that autograd does not track: shares the storage, not the version
        counter (torch's), so writes through it are not checked against what backward saved (torchdiffeq's
        Runge-Kutta steps write through ``.data`` on purpose; ``detach()`` shares the counter)."""
        return Tensor._make(_shared_data(self), self._dtype, self._backend)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = _shared_data(value)
        self._dtype = value._dtype
        self._backend = value._backend

    def detach(self):
        """A new tensor sharing storage, outside the graph."""
        t = Tensor._make(_shared_data(self), self._dtype, self._backend)
        t._version = self._version
        return t

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor on the next backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        self._retains_grad = True
        import weakref
        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                g2 = g if GradMode.enabled else g.detach()
                t._grad = g2 if t._grad is None else t._grad + g2
        keep._retains = True
        _tensor_hooks(self).append(keep)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new grad."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = _tensor_hooks(self)
        if hooks and getattr(hooks[-1], "_retains", False):
            # torch runs the retain_grad hook after every other tensor hook
            hooks.insert(len(hooks) - 1, hook)
        else:
            hooks.append(hook)
        return _function._RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a backward pass has accumulated this leaf's ``.grad``
        (e.g. to step an optimizer per parameter during backward)."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from .autograd.engine import PostAccumulateHook
        if self._hooks is None:
            self._hooks = []
        entry = PostAccumulateHook(hook)
        self._hooks.append(entry)
        return _function._RemovableHandle(self._hooks, entry)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor w.r.t. the graph leaves into their ``.grad``."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    @property
    def _version_value(self):
        return self._version[0]

    @property
    def _base(self):
        view = getattr(self, "_view", None)
        return None if view is None else view[0]

    def is_contiguous(self, memory_format=None) -> bool:
        flags = getattr(self._data, "flags", None)
        if flags is not None:
            return bool(flags.c_contiguous)
        return self._backend.view(self._data, (-1,)) is not None or self.numel() <= 1

    # conversion -----------------------------------------------------------------
    def numpy(self, force=False):
        """A numpy array sharing memory with this (CPU) tensor."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if self._backend.device_type != "cpu" and not force:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. "
                            f"Use Tensor.cpu() to copy the tensor to host memory first.")
        return self._backend.to_numpy(_shared_data(self))

    def __array__(self, dtype=None, copy=None):
        out = self._backend.to_numpy(_shared_data(self))
        return out if dtype is None else out.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar; "
                               f"index one element first, or use .tolist()")
        return self._backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return self._backend.to_numpy(self._data).tolist()

    def __float__(self):
        if self._requires_grad and GradMode.enabled:  # torch's condition (LBFGS converts under no_grad)
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                          "Consider using tensor.detach() first.", UserWarning, stacklevel=2)
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype.category != _dt.INT or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __bool__(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(it has {n}); use .any() or .all()")
        return bool(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from ._format import format_tensor
        return format_tensor(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._backend.to_numpy(self._data).copy(), self._dtype.name,
                           str(self._backend.device), self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment")
        t = Tensor._make(self._backend.copy(self._data), self._dtype, self._backend)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    __array_priority__ = 1000


Tensor.__module__ = "tensorplug"


def _tensor_hooks(t):
    node = t.grad_fn
    hooks = node.__dict__.setdefault("_tensor_hooks", {})
    _function.note_node_hook()
    return hooks.setdefault(t._output_nr, [])


def _rebuild(array, dtype_name, device, requires_grad):
    t = tensor(array, dtype=_dt.BY_NAME[dtype_name], device=device)
    return t.requires_grad_(requires_grad)


def _wrap_dim(dim, ndim):
    n = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


# construction --------------------------------------------------------------------

def _shared_data(t):
    """``t``'s array, about to be shared with another tensor or the user.

    NumPy gives immutable scalars for the 0-d results of its operators; a
    shared storage must be writable in place (``s.detach().add_(1)`` changes
    ``s`` in torch), so such a scalar becomes a 0-d array here, once. Checked
    where storage is shared, not in every op: that costs nothing per op.
    """
    data = t._data
    if not hasattr(data, "__setitem__"):
        data = t._data = t._backend.asarray(data)
    return data


def _is_array_like(obj):
    return hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__") or (
        hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, Tensor))


def _infer(data):
    """Shape and dtype category of nested Python sequences, with torch's errors."""
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    if isinstance(data, Tensor):
        return tuple(data.shape), data._dtype
    if _is_array_like(data):
        return tuple(data.shape), _dt.BY_NAME.get(str(data.dtype))
    if isinstance(data, (bool, int, float, complex)):
        return (), _dt.scalar_dtype(data)
    if not isinstance(data, (list, tuple)):
        if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
            data = list(data)
        else:
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if len(data) == 0:
        return (0,), None
    shapes = []
    best = None
    for item in data:
        shape, dt = _infer(item)
        shapes.append(shape)
        if dt is not None and (best is None or dt.category > best.category):
            best = dt
    first = shapes[0]
    for i, s in enumerate(shapes):
        if s != first:
            dim = next((d for d, (a, b) in enumerate(zip(s, first)) if a != b), min(len(s), len(first)))
            got = s[dim] if dim < len(s) else 0
            raise ValueError(f"expected sequence of length {first[dim] if dim < len(first) else 0} "
                             f"at dim {dim + 1} (got {got})")
    return (len(data),) + first, best


def _flatten_tensors(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_flatten_tensors(d) for d in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, numpy arrays).

    The dtype follows torch: Python floats give float32, ints int64, bools
    bool; a numpy array keeps its dtype.

    Example:
        >>> tensorplug.tensor([[1, 2], [3, 4.5]])
        tensor([[1.0000, 2.0000],
                [3.0000, 4.5000]])
    """
    backend = get_backend(device)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach() "
                      "rather than tensorplug.tensor(sourceTensor).", UserWarning, stacklevel=2)
        out = data.detach().to(device=backend.device, dtype=dtype or data._dtype, copy=True)
        return out.requires_grad_(requires_grad)
    if dtype is not None and not isinstance(dtype, _dt.dtype):
        dtype = _as_dtype(dtype)
    if _is_array_like(data):
        inferred = _dt.BY_NAME.get(str(data.dtype))
        if inferred is None:
            raise TypeError(f"can't convert an array of dtype {data.dtype}; supported: "
                            f"{[d.name for d in _dt.ALL]}")
        arr = backend.copy(backend.asarray(data, dtype or inferred))
        dt = dtype or inferred
    else:
        _, inferred = _infer(data)
        dt = dtype or inferred or _dt.get_default_dtype()
        if isinstance(data, (list, tuple)):
            data = _flatten_tensors(data)
        try:
            arr = backend.asarray(data, dt)
        except OverflowError as exc:
            # torch's message for an int beyond int64; it is a ValueError there too
            raise ValueError(f"Overflow when unpacking long long: a value does not fit {dt} ({exc}); use a "
                             f"float dtype for such numbers, e.g. dtype=tensorplug.float64") from None
    t = Tensor._make(arr, dt, backend)
    if requires_grad:
        t.requires_grad_(True)
    return t


_PYTHON_TYPES = {float: _dt.float64, int: _dt.int64, bool: _dt.bool_, complex: _dt.complex128}


def _as_dtype(dtype):
    if isinstance(dtype, _LegacyType):
        return dtype._dtype
    if isinstance(dtype, str) and dtype in _dt.BY_NAME:
        return _dt.BY_NAME[dtype]
    # before the name lookup: the class float is float64 ('float' names float32)
    if isinstance(dtype, type) and dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    name = getattr(dtype, "__name__", None) or str(dtype)
    if name in _dt.BY_NAME:
        return _dt.BY_NAME[name]
    raise TypeError(f"dtype must be a tensorplug.dtype (e.g. tensorplug.float32), got {dtype!r}")


def _sizes(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)) and all(
            isinstance(a, int) and not isinstance(a, bool) for a in args[0]) and isinstance(args[0], Size):
        return tuple(args[0])
    if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return tuple(args)
    return None


def check_shape(shape):
    for s in shape:
        if not isinstance(s, int) or isinstance(s, bool):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}. "
                               f"invalid shape dimension {s}; sizes must be >= 0")
        if s >= 1 << 63:
            raise TypeError(f"size {s} in {list(shape)}: Overflow when unpacking long long; a size must be "
                            f"below 2**63")
    return shape


def _legacy_new(dtype, args, device, requires_grad):
    backend = get_backend(device)
    sizes = _sizes(args)
    if sizes is not None or not args:
        shape = check_shape(sizes or (0,))
        t = Tensor._make(backend.empty(shape, dtype), dtype, backend)
    elif len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            t = data if data._dtype is dtype else data.to(dtype)
        else:
            t = tensor(data, dtype=dtype, device=device)
    else:
        raise TypeError(f"new(): invalid arguments {args!r}: expected sizes (ints) or one sequence/array")
    if requires_grad:
        t.requires_grad_(True)
    return t


class _LegacyType(type):
    """``FloatTensor`` and friends: constructors that also answer ``isinstance``."""

    def __call__(cls, *args, device=None):
        return _legacy_new(cls._dtype, args, device or cls._device, False)

    def __instancecheck__(cls, obj):
        return (isinstance(obj, Tensor) and obj._dtype is cls._dtype
                and obj._backend.device_type == (cls._device or "cpu"))

    def __repr__(cls):
        return f"<class '{_display.MODULE}.{cls.__name__}'>"


def _legacy_class(dtype, device=None):
    return _LegacyType(dtype.legacy_name, (), {"_dtype": dtype, "_device": device, "__module__": "tensorplug"})


FloatTensor = _legacy_class(_dt.float32)
DoubleTensor = _legacy_class(_dt.float64)
HalfTensor = _legacy_class(_dt.float16)
LongTensor = _legacy_class(_dt.int64)
IntTensor = _legacy_class(_dt.int32)
ShortTensor = _legacy_class(_dt.int16)
CharTensor = _legacy_class(_dt.int8)
ByteTensor = _legacy_class(_dt.uint8)
BoolTensor = _legacy_class(_dt.bool_)

_function._tensor_cls = Tensor
_function._make = Tensor._make
