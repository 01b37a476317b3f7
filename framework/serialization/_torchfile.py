"""Files written by ``torch.save`` (a zip of ``data.pkl`` and one entry per storage), read without torch
and without running their pickle.

``data.pkl`` runs on ``_pickle_vm.PickleReader``, which can only reach the
names in ``_ALLOWED`` below: the containers and tensor-rebuild functions
torch's own weights-only loader accepts, each implemented here, plus classes
and functions the user allow-listed with ``add_safe_globals``. Any other name
(``os.system``, a model class) is refused with torch's weights-only error.
Storages become flat host arrays read once from their zip entries; tensors
are views of them, charged against the file size like tensorplug's format.
"""
from __future__ import annotations

import collections
import math
import re
import warnings
import zipfile

from .. import dtypes as _dt
from ..device import device as _device
from ..errors import CheckpointError
from ..tensor import Size, Tensor
from . import _objects
from ._pickle_vm import PickleFormatError, PickleReader
from ._storage import TensorSpec, ViewBudget, build_tensor, numpy

__all__ = ["load_torch_zip"]

MAX_PICKLE_BYTES = 64 * 1024 * 1024
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")      # never, even allow-listed (as torch)
_KEY = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}
_TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "complex64", "complex128", "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2",
                 "complex32", "qint8", "quint8", "qint32")


_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)


class _Named:
    """A torch name the reader understands but that is no value of its own (a storage class, a type)."""

    def __init__(self, path, value=None):
        self.path = path
        self.value = value

    def __repr__(self):
        return self.path


_TENSOR = _Named("torch.Tensor")
_PARAMETER = _Named("torch.nn.parameter.Parameter")
_NDARRAY = _Named("numpy.ndarray")


def _dtype(name, file):
    found = _dt.BY_NAME.get(name)
    if found is None:
        raise CheckpointError(f"{file}: it holds a tensor of dtype torch.{name}, which tensorplug does not support; "
                              f"convert it in torch first (e.g. .float())")
    return found


class _Storage:
    def __init__(self, key, dtype, location, array):
        self.key = key
        self.dtype = dtype
        self.location = location
        self.array = array      # flat uint8 host array


class TorchReader:
    """One load of one torch zip: its storages, the views' budget, and the allowed names."""

    def __init__(self, zf, prefix, name, placement, file_bytes):
        self.zf = zf
        self.prefix = prefix
        self.name = name
        self.placement = placement
        self.budget = ViewBudget(file_bytes, name)
        self.file_bytes = file_bytes
        self.read_bytes = 0
        self.storages = {}
        self.user = _objects.allowed_globals()
        self.copied = 0                     # elements and bytes the calls were given, bounded by copy_limit
        self.copy_limit = 1 << 20

    def charge(self, *values):
        """Count what a call or BUILD copies. A pickle can hand one memoized string or list to any number of
        calls for a few bytes each (``_codecs.encode`` of a 1 MB string 3000 times took 3 GB from a 1 MB file;
        ``set(big_list)`` in a loop, hours), so what they copy is bounded by the pickle's own size."""
        self.copied += sum(len(v) for v in values if isinstance(v, _SIZED))
        if self.copied > self.copy_limit:
            raise self.bad(f"its pickle copies more than {self.copy_limit} elements and bytes, far beyond its own "
                           f"size (one value reused by many calls, crafted to exhaust memory or time?)")

    def bad(self, problem):
        return CheckpointError(f"{self.name}: {problem}")

    # names --------------------------------------------------------------------------
    def find(self, module, name):
        path = f"{module}.{name}"
        found = _ALLOWED.get(path)
        if found is not None:
            return found
        if module == "torch" and name in _TORCH_DTYPES:
            return _dtype(name, self.name)
        if module in ("torch", "torch.cuda", "torch.storage") and name in _STORAGE_DTYPES:
            return _Named(path, _STORAGE_DTYPES[name])
        if module in _BLOCKED_MODULES:
            raise _objects.WeightsOnlyError(f"{self.name}: Weights only load failed: Trying to load unsupported "
                                            f"GLOBAL {path} whose module {module} is blocked.")
        if path in self.user:
            return self.user[path]
        if path.startswith("builtins."):
            path = path[len("builtins."):]
        raise _objects.weights_only_error(self.name, path, torch_file=True)

    def call(self, func, args):
        if isinstance(func, _Named) or not callable(func):
            raise self.bad(f"the pickle calls {func!r}, which is not a function")
        if func not in _ALLOWED_VALUES and func not in self.user.values():
            raise self.bad(f"Trying to call reduce for unrecognized function {func!r}")
        self.charge(*args)
        try:
            if getattr(func, "_needs_reader", False):
                return func(self, *args)
            return func(*args)
        except CheckpointError:
            raise
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise self.bad(f"bad arguments to {getattr(func, '__name__', func)} in the pickle "
                           f"({type(exc).__name__}: {exc})") from None

    def new(self, cls, args):
        self.charge(*args)
        if cls is _PARAMETER:
            return _parameter(*args[:2])
        if isinstance(cls, type) and cls in self.user.values():
            return cls.__new__(cls, *args)
        raise self.bad(f"Can only create new object for nn.Parameter or classes allowlisted via "
                       f"`add_safe_globals` but got {cls!r}")

    def build(self, inst, state):
        self.charge(state, *(state if type(state) is tuple else ()))
        if type(inst) is collections.OrderedDict and isinstance(state, dict):
            # torch's state dicts carry their module versions in an attribute
            inst.__dict__.update({k: v for k, v in state.items() if isinstance(k, str)})
        elif isinstance(inst, Tensor) and not state:
            pass
        elif isinstance(inst, (numpy().dtype, numpy().ndarray)):
            try:
                (_numpy_dtype_state if isinstance(inst, numpy().dtype) else _numpy_array_state)(inst, state)
            except TypeError as exc:
                raise self.bad(f"bad NumPy data in the pickle ({exc})") from None
        elif type(inst) in self.user.values():
            _objects.set_state(inst, state, self.name)
        else:
            raise self.bad(f"Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                           f"`add_safe_globals`, but got {type(inst).__name__}")

    # storages ------------------------------------------------------------------------
    def persistent_load(self, pid):
        if type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage":
            raise self.bad(f"unsupported persistent id {pid!r} in the pickle (only torch storages)")
        _, kind, key, location, numel = pid
        if not isinstance(kind, _Named) or kind.value is None:
            raise self.bad(f"a storage of type {kind!r}, expected a torch storage class")
        if not isinstance(key, str) or not _KEY.match(key) or not isinstance(location, str) \
                or type(numel) is not int or numel < 0:
            raise self.bad(f"a malformed storage reference {pid!r}")
        found = self.storages.get(key)
        if found is None:
            dtype = _dtype(kind.value, self.name)
            found = self.storages[key] = _Storage(key, dtype, location, self._entry(f"data/{key}"))
        if numel * found.dtype.itemsize > found.array.size:
            raise self.bad(f"storage {key} claims {numel} elements of {found.dtype} but holds {found.array.size} "
                           f"bytes")
        return found

    def _entry(self, member):
        try:
            info = self.zf.getinfo(self.prefix + member)
        except KeyError:
            raise self.bad(f"the archive has no entry {self.prefix + member!r}; it is truncated or corrupted") from None
        self.read_bytes += info.file_size
        if self.read_bytes > self.file_bytes:
            raise self.bad(f"its entries unpack to more than the file's {self.file_bytes} bytes (compressed data "
                           f"crafted to exhaust memory?)")
        np = numpy()
        buf = bytearray(info.file_size)
        try:
            with self.zf.open(info) as entry:
                got = entry.readinto(buf)
                if got != info.file_size or entry.read(1):
                    raise self.bad(f"entry {member} is shorter or longer than its header says")
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise self.bad(f"entry {member} cannot be read ({exc}); the file is corrupted") from None
        return np.frombuffer(buf, np.uint8)

    def tensor(self, storage, offset, size, stride, requires_grad=False, dtype=None, metadata=None):
        if not isinstance(storage, _Storage):
            raise self.bad(f"a tensor rebuilt from {type(storage).__name__}, expected a storage")
        if type(offset) is not int or not _int_tuple(size) or not _int_tuple(stride):
            raise self.bad(f"a tensor with offset {offset!r}, size {size!r}, stride {stride!r}: expected integers")
        dtype = storage.dtype if dtype is None else dtype
        if dtype is not storage.dtype:
            raise self.bad(f"a {dtype} tensor over a {storage.dtype} storage")
        spec = TensorSpec(storage.key, offset * dtype.itemsize, dtype, tuple(size), tuple(stride))
        self.budget.charge(spec, storage.array.size)
        t = self._with_metadata(build_tensor(spec, storage.array, self.placement(storage.location)), metadata)
        if requires_grad and dtype.category >= _dt.FLOAT:
            t.requires_grad_(True)
        return t

    def _with_metadata(self, t, metadata):
        """torch keeps a conjugate or negative view (``z.conj()``, ``z.conj().imag``) as its storage's values
        plus a bit in ``metadata``; the values it stands for, as a copy (tensorplug has no such bits)."""
        if metadata is None:
            return t
        if not isinstance(metadata, dict):
            raise self.bad(f"a tensor with metadata {metadata!r}, expected a dict")
        flags = {key for key, value in metadata.items() if value}
        if flags - {"conj", "neg"}:
            raise self.bad(f"a tensor with metadata {sorted(flags)}, which tensorplug cannot apply (it reads "
                           f"'conj' and 'neg'); save t.clone() or t.resolve_conj() in torch instead")
        if "conj" in flags:
            t = t.conj()
        if "neg" in flags:
            t = -t
        return t


def _int_tuple(value):
    return isinstance(value, tuple) and all(type(v) is int for v in value)


def _reader_function(fn):
    fn._needs_reader = True
    return fn


@_reader_function
def _rebuild_tensor(reader, storage, storage_offset, size, stride):
    return reader.tensor(storage, storage_offset, size, stride)


@_reader_function
def _rebuild_tensor_v2(reader, storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return reader.tensor(storage, storage_offset, size, stride, requires_grad, metadata=metadata)


@_reader_function
def _rebuild_tensor_v3(reader, storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, _dt.dtype):
        raise reader.bad(f"a tensor of dtype {dtype!r}")
    return reader.tensor(storage, storage_offset, size, stride, requires_grad, dtype, metadata)


def _parameter(data, requires_grad=True, backward_hooks=None, state=None):
    from ..nn.parameter import Parameter
    if not isinstance(data, Tensor):
        raise TypeError(f"a Parameter of a {type(data).__name__}")
    return Parameter(data, requires_grad=bool(requires_grad) and data.dtype.category >= _dt.FLOAT)


def _drop_attributes(reader, state):
    """torch keeps attributes set on a tensor (``t.note = "x"``) as its state; a tensorplug tensor cannot hold
    them, so they are dropped, with a warning that names them rather than silently."""
    parts = state if type(state) is tuple else (state,)
    names = sorted(str(k) for part in parts if isinstance(part, dict) for k in part)
    if names:
        warnings.warn(f"{reader.name}: tensors were saved with attributes set on them in torch ({', '.join(names[:8])}"
                      f"{', ...' if len(names) > 8 else ''}); tensorplug tensors cannot hold attributes, so they are "
                      f"dropped", UserWarning, stacklevel=2)


@_reader_function
def _rebuild_parameter_with_state(reader, data, requires_grad, backward_hooks, state):
    _drop_attributes(reader, state)
    return _parameter(data, requires_grad)


@_reader_function
def _rebuild_from_type_v2(reader, func, new_type, args, state):
    if type(args) is not tuple:
        raise reader.bad("_rebuild_from_type_v2 needs a tuple of arguments")
    _drop_attributes(reader, state)
    out = reader.call(func, args)
    if new_type is _PARAMETER:
        return _parameter(out, out.requires_grad)
    if new_type is not _TENSOR:
        raise reader.bad(f"a tensor subclass {new_type!r}, which tensorplug cannot rebuild")
    return out


def _unsupported(kind):
    @_reader_function
    def refuse(reader, *args):
        raise reader.bad(f"it holds {kind}, which tensorplug does not support; convert it in torch to a dense "
                         f"tensor on the CPU (e.g. .to_dense(), .dequantize()) and save again")
    refuse.__name__ = f"refuse {kind}"
    return refuse


def _size(sizes=()):
    if not _int_tuple(tuple(sizes)):
        raise TypeError(f"torch.Size of {sizes!r}")
    return Size(sizes)


def _bytes_from_text(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise TypeError("_codecs.encode of a non-string or an unknown encoding")
    return text.encode(encoding)


def _bytearray(data=b""):
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("bytearray takes bytes here (a size would allocate)")
    return bytearray(data)


def _empty_bytes():
    return b""      # protocol 2 pickles b"" as bytes(); no arguments, so a size cannot allocate


def _layout(name):
    if name != "torch.strided":
        raise TypeError(f"layout {name!r} (only torch.strided tensors are supported)")
    return name


# NumPy values (a scalar loss, an array of indices) are plain data: rebuilt from their dtype and bytes, as
# tensorplug's own format does, never through NumPy's unpickling; only bool/int/float/complex dtypes
_NUMPY_DTYPE_NAME = re.compile(r"^[|<=]?[biufc][0-9]{1,2}$")


def _numpy_dtype(name, align=False, copy=True):
    np = numpy()
    if not isinstance(name, str) or not _NUMPY_DTYPE_NAME.match(name):
        raise TypeError(f"NumPy dtype {name!r} (only bool, integer, float and complex dtypes are read)")
    return np.dtype(name)


def _numpy_dtype_state(dtype, state):
    """BUILD of a dtype: its state may only confirm it (little-endian, no fields); it is never changed,
    since NumPy shares its dtype objects."""
    if type(state) is not tuple or len(state) < 2 or state[1] not in ("<", "|", "=") \
            or any(v is not None for v in state[2:5]):
        raise TypeError(f"NumPy dtype state {state!r} (only little-endian dtypes without fields are read)")


def _numpy_scalar(dtype, data=None):
    np = numpy()
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc":
        raise TypeError(f"a NumPy scalar of dtype {dtype!r}")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise TypeError(f"a NumPy {dtype} scalar needs {dtype.itemsize} bytes")
    return np.frombuffer(data, dtype)[0]


def _numpy_reconstruct(cls, shape=(0,), typecode=b"b"):
    if cls is not _NDARRAY:
        raise TypeError(f"_reconstruct of {cls!r} (only numpy.ndarray)")
    np = numpy()
    return np.ndarray((0,), np.uint8)


def _numpy_array_state(array, state):
    """BUILD of an array: ``(version, shape, dtype, is_fortran, raw bytes)``, checked before NumPy sees it."""
    np = numpy()
    if type(state) is not tuple or len(state) != 5 or not _int_tuple(state[1]) or len(state[1]) > 64:
        raise TypeError("a NumPy array state that is not (version, shape, dtype, is_fortran, bytes)")
    _, shape, dtype, fortran, raw = state
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or type(fortran) is not bool \
            or not isinstance(raw, bytes) or min(shape, default=0) < 0:
        raise TypeError("a NumPy array state of an unsupported dtype, order or data")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise TypeError(f"a NumPy array of shape {shape} and dtype {dtype} with {len(raw)} bytes of data")
    array.__setstate__(state)


def _numpy_frombuffer(data, dtype, shape, order):
    """An array as protocol 5 pickles it: ``_frombuffer(bytes, dtype, shape, order)``."""
    np = numpy()
    if not isinstance(data, (bytes, bytearray)) or not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" \
            or not _int_tuple(shape) or len(shape) > 64 or min(shape, default=0) < 0 or order not in ("C", "F"):
        raise TypeError("a NumPy array of an unsupported dtype, shape, order or data")
    if math.prod(shape) * dtype.itemsize != len(data):
        raise TypeError(f"a NumPy array of shape {shape} and dtype {dtype} with {len(data)} bytes of data")
    return np.frombuffer(bytearray(data), dtype).reshape(shape, order=order)


_ALLOWED = {
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.complex": complex,
    "builtins.bytearray": _bytearray,
    "builtins.bytes": _empty_bytes,
    "_codecs.encode": _bytes_from_text,
    "torch.Size": _size,
    "torch.device": _device,
    "torch.Tensor": _TENSOR,
    "torch.nn.parameter.Parameter": _PARAMETER,
    "torch.serialization._get_layout": _layout,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "numpy.dtype": _numpy_dtype,
    "numpy.ndarray": _NDARRAY,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "numpy.core.multiarray._reconstruct": _numpy_reconstruct,
    "numpy._core.multiarray._reconstruct": _numpy_reconstruct,
    "numpy.core.numeric._frombuffer": _numpy_frombuffer,
    "numpy._core.numeric._frombuffer": _numpy_frombuffer,
    "torch._utils._rebuild_qtensor": _unsupported("a quantized tensor"),
    "torch._utils._rebuild_sparse_tensor": _unsupported("a sparse tensor"),
    "torch._utils._rebuild_meta_tensor_no_storage": _unsupported("a meta tensor"),
    "torch._utils._rebuild_nested_tensor": _unsupported("a nested tensor"),
    "torch._utils._rebuild_wrapper_subclass": _unsupported("a tensor subclass"),
    "torch._utils._rebuild_device_tensor_from_numpy": _unsupported("a tensor saved through NumPy"),
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": _unsupported("a device tensor saved from the CPU"),
}
_ALLOWED_VALUES = [v for v in _ALLOWED.values() if not isinstance(v, _Named)]


def _archive_prefix(zf, name):
    pickles = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise CheckpointError(f"{name}: a zip archive with {len(pickles)} data.pkl entries; a torch.save file has one")
    prefix = pickles[0][:-len("data.pkl")]
    if prefix.count("/") > 1:
        raise CheckpointError(f"{name}: data.pkl is nested in {prefix!r}; a torch.save file has it one folder deep")
    return prefix


def load_torch_zip(fh, name, file_bytes, placement):
    """The object a ``torch.save`` zip holds, with tensorplug tensors; ``fh`` is a seekable binary file."""
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"{name}: a damaged zip archive ({exc}); the file is truncated or corrupted") from None
    with zf:
        prefix = _archive_prefix(zf, name)
        if prefix + "byteorder" in zf.namelist() and zf.read(prefix + "byteorder").strip() not in (b"", b"little"):
            raise CheckpointError(f"{name}: written on a big-endian machine; tensorplug reads little-endian torch "
                                  f"files (re-save it on a little-endian one)")
        info = zf.getinfo(prefix + "data.pkl")
        if info.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(f"{name}: its data.pkl claims {info.file_size} bytes, over the "
                                  f"{MAX_PICKLE_BYTES}-byte limit; the file is corrupted or hostile")
        reader = TorchReader(zf, prefix, name, placement, file_bytes)
        data = reader._entry("data.pkl").tobytes()
        reader.copy_limit = 2 * len(data) + (1 << 20)
        vm = PickleReader(data, find=reader.find, persistent_load=reader.persistent_load, call=reader.call,
                          new=reader.new, build=reader.build)
        try:
            return vm.load()
        except PickleFormatError as exc:
            raise CheckpointError(f"{name}: a malformed pickle in data.pkl: {exc}") from None
        except RecursionError:
            raise CheckpointError(f"{name}: the pickle is nested too deeply") from None
