"""Questions torch answers about tensors and dtypes (is_nonzero, is_signed, isreal, signbit, result_type,
can_cast, typename ...), the Tensor attributes scripts read (nbytes, itemsize, is_cpu, get_device,
storage_offset, data_ptr, output_nr ...) and the process-wide switches torch has (deterministic algorithms,
inter-op threads, flush-denormal), with what each one means here."""
from __future__ import annotations

from .. import dtypes as _dt
from ..tensor import Tensor

__all__ = ["is_nonzero", "is_signed", "is_inference", "isreal", "isneginf", "isposinf", "signbit", "result_type",
           "can_cast", "initial_seed", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_num_interop_threads", "get_num_interop_threads",
           "set_flush_denormal", "typename", "is_storage"]


def is_nonzero(input) -> bool:
    """Whether the one-element tensor is non-zero (errors for zero or several elements, as ``bool(t)``)."""
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous; reduce it first "
                           "(.any(), .all()) or index one element")
    return bool(input.item())


def is_signed(input) -> bool:
    """Whether the tensor's dtype is signed (False for uint8 and bool)."""
    return input._dtype.is_signed


def is_inference(input) -> bool:
    """Always False: tensorplug makes no inference tensors (``inference_mode`` only turns grad off)."""
    return False


def _bools(input, array):
    return Tensor._make(array, _dt.bool_, input._backend)


def _float_test(input, test, int_test):
    xp = input._backend.xp
    if input._dtype.category == _dt.COMPLEX:
        raise RuntimeError(f"{test.__name__} is not implemented for complex tensors; use .real or .abs() first")
    if input._dtype.category < _dt.FLOAT:
        return _bools(input, int_test(xp, input._data))
    return _bools(input, test(xp, input._data))


def isneginf(input):
    """Elementwise ``x == -inf`` (all False for integer tensors)."""
    def isneginf(xp, a):
        return xp.isinf(a) & (a < 0)
    return _float_test(input, isneginf, lambda xp, a: xp.zeros(a.shape, dtype=xp.bool))


def isposinf(input):
    """Elementwise ``x == +inf`` (all False for integer tensors)."""
    def isposinf(xp, a):
        return xp.isinf(a) & (a > 0)
    return _float_test(input, isposinf, lambda xp, a: xp.zeros(a.shape, dtype=xp.bool))


def signbit(input):
    """Elementwise: is the sign bit set (True for -0.0 as well as negatives)."""
    def signbit(xp, a):
        return xp.signbit(a)
    return _float_test(input, signbit, lambda xp, a: a < 0 if input._dtype.is_signed else xp.zeros(
        a.shape, dtype=xp.bool))


def isreal(input):
    """Elementwise: is the value real (True everywhere for real dtypes; imaginary part 0 for complex)."""
    xp = input._backend.xp
    if input._dtype.category == _dt.COMPLEX:
        return _bools(input, xp.imag(input._data) == 0)
    return _bools(input, xp.ones(input._data.shape, dtype=xp.bool))


def result_type(tensor1, tensor2):
    """The dtype torch's type promotion gives a binary op of the two (tensors or Python numbers)."""
    from ._util import result_dtype
    return result_dtype(tensor1, tensor2)


def can_cast(from_, to) -> bool:
    """Whether casting ``from_`` to ``to`` is allowed by torch's rule for in-place and out= results:
    never to a lower kind (complex -> float -> integer -> bool)."""
    for d in (from_, to):
        if not isinstance(d, _dt.dtype):
            raise TypeError(f"can_cast(): argument must be torch.dtype, not {type(d).__name__}")
    return from_.category <= to.category


def initial_seed() -> int:
    """The seed of the default generator (``manual_seed``'s or the one drawn at start)."""
    from ..generator import default_generator
    return default_generator.initial_seed()


_DETERMINISTIC = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False) -> None:
    """Record torch's switch. Every tensorplug CPU op is already deterministic (NumPy has no atomics or
    non-deterministic reductions), so the flag changes no result here; it is kept so that code which
    sets and reads it behaves as with torch."""
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, bool):
            raise TypeError(f"use_deterministic_algorithms(): argument '{name}' must be bool, not "
                            f"{type(value).__name__}")
    _DETERMINISTIC["mode"] = mode
    _DETERMINISTIC["warn_only"] = warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _DETERMINISTIC["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _DETERMINISTIC["warn_only"]


_INTEROP_THREADS = [None]


def set_num_interop_threads(n: int) -> None:
    """Record the inter-op thread count torch's scheduler would use (tensorplug runs ops one at a time on
    the calling thread; ``set_num_threads`` is what sizes its compute)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_interop_threads(): argument 'num' must be int, not {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"set_num_interop_threads expects a positive integer, got {n}")
    _INTEROP_THREADS[0] = n


def get_num_interop_threads() -> int:
    """``set_num_interop_threads``'s value, else the CPU count (torch's default)."""
    import os
    return _INTEROP_THREADS[0] or os.cpu_count() or 1


def set_flush_denormal(mode: bool) -> bool:
    """Returns False: the array backends give no control over the CPU's denormal mode, so denormals are
    kept (torch returns False too where the CPU cannot flush them)."""
    return False


def typename(obj) -> str:
    """``'torch.FloatTensor'`` for a tensor, else the object's ``module.qualname`` (its class's for an
    instance), as torch.typename."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qualname is None:
        module = type(obj).__module__
        qualname = type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def is_storage(obj) -> bool:
    """False: tensorplug has no storage objects (a tensor's memory is its backend array)."""
    return False


def _array_address(data):
    """The address of an array's first element where the library exposes it (NumPy, CuPy), else None."""
    interface = getattr(data, "__array_interface__", None) or getattr(data, "__cuda_array_interface__", None)
    return None if interface is None else interface["data"][0]


def data_ptr(self) -> int:
    """The address of the first element for NumPy and CuPy arrays (views differ from their base by their
    offset, as in torch); 0 for empty tensors and for backends that do not expose addresses."""
    if self.numel() == 0:
        return 0
    return _array_address(self._data) or 0


def storage_offset(self) -> int:
    """The offset, in elements, of this view's first element in its base's memory (0 for a tensor that owns
    its memory or where the backend does not expose addresses)."""
    view = self._view
    if view is None:
        return 0
    here, start = _array_address(self._data), _array_address(view[0]._data)
    if here is None or start is None:
        return 0
    return (here - start) // self._dtype.itemsize


def _get_device(self) -> int:
    device = self._backend.device
    return -1 if device.type == "cpu" else (device.index or 0)


def _new(self, *args, **kwargs):
    """torch's legacy ``t.new(...)``: a tensor of ``self``'s dtype and device from sizes or data."""
    from ..tensor import _legacy_new
    if kwargs.get("device") is not None or kwargs.get("dtype") is not None:
        raise TypeError("new(): use new_empty / new_tensor for another dtype or device")
    return _legacy_new(self._dtype, args, self._backend, False)


def is_shared(input) -> bool:
    """False: no tensorplug tensor lives in memory shared between processes."""
    return False


def share_memory_(input):
    """Refused with the reason (torch moves the storage into shared memory; a silent no-op here would
    let each process of a Hogwild-style program train its own copy)."""
    raise RuntimeError("share_memory_(): tensorplug tensors cannot be shared between processes: a tensor sent "
                       "to another process arrives as a copy, so updates made there would not reach this one. "
                       "Train in one process, or use python -m tensorplug.distributed.run and "
                       "DistributedDataParallel to train over several")


def pin_memory(input, device=None):
    """A copy of ``input`` for fast transfers to the accelerator; torch's error where there is none.
    (Page-locked host memory is the accelerator backend's business: here the copy is ordinary memory.)"""
    from .. import cuda
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return input.clone()


def is_pinned(input, device=None) -> bool:
    """False: tensorplug's host tensors are never page-locked."""
    return False


def _bind():
    from . import bind
    methods = {"is_nonzero": is_nonzero, "is_signed": is_signed, "is_inference": is_inference,
               "isreal": isreal, "isneginf": isneginf, "isposinf": isposinf, "signbit": signbit,
               "data_ptr": data_ptr, "is_shared": is_shared, "share_memory_": share_memory_,
               "pin_memory": pin_memory, "is_pinned": is_pinned, "storage_offset": storage_offset, "get_device": _get_device, "new": _new,
               "nbytes": property(lambda self: self.numel() * self._dtype.itemsize),
               "itemsize": property(lambda self: self._dtype.itemsize),
               "is_cpu": property(lambda self: self._backend.device.type == "cpu"),
               "is_meta": property(lambda self: False),
               # device types no shipped backend serves, and tensor kinds tensorplug has none of: False here
               **{f"is_{kind}": property(lambda self, kind=kind: self._backend.device.type == kind)
                  for kind in ("xpu", "mps", "ipu", "maia", "mtia", "vulkan", "hpu")},
               **{f"is_{kind}": property(lambda self: False)
                  for kind in ("quantized", "mkldnn", "nested", "sparse_csr")},
               "retains_grad": property(lambda self: self._retains_grad),
               "output_nr": property(lambda self: self._output_nr)}
    bind({name: fn for name, fn in methods.items() if name not in Tensor.__dict__})


_bind()
