"""Values beyond plain JSON in tensorplug checkpoints: numbers, dtypes, ndarrays, and whole objects.

A whole object (a model saved with ``save(model, f)``) is stored as its
class's import path plus its state (``__dict__`` or ``__getstate__()``),
encoded like everything else: no pickle. Loading one rebuilds it with
``cls.__new__`` and ``__setstate__`` / ``__dict__.update``. As torch >= 2.6,
that is refused unless ``weights_only=False`` or the class is allow-listed
with ``add_safe_globals`` / ``safe_globals``; with ``weights_only=True``
nothing is ever imported.
"""
from __future__ import annotations

import collections
import importlib
import inspect
import math
import pickle
import re
import sys

from .. import dtypes as _dt
from ..device import device as _device
from ..errors import CheckpointError
from ..tensor import Size
from ._storage import numpy

__all__ = ["ObjectEncoder", "Policy", "WeightsOnlyError", "global_path", "allowed_globals", "set_state",
           "SAFE_GLOBALS"]

_NDARRAY_DTYPE = re.compile(r"^[<>|=]?[biufc][0-9]{1,2}$")
# builtins that only make data (a defaultdict's factory): no allow-list needed
_DATA_TYPES = {t.__name__: t for t in (dict, list, set, frozenset, tuple, int, float, complex, str, bytes, bool)}
# what add_safe_globals / safe_globals allow: [obj or (obj, "module.name")]
SAFE_GLOBALS = []


class WeightsOnlyError(CheckpointError, pickle.UnpicklingError):
    """A ``weights_only`` load met a class or function that is not allow-listed (torch raises
    ``pickle.UnpicklingError``; this is also a ``CheckpointError``)."""


def global_path(obj):
    """torch's name for a class or function: ``module.qualname``."""
    return f"{obj.__module__}.{obj.__qualname__}"


def allowed_globals():
    out = {}
    for entry in SAFE_GLOBALS:
        if isinstance(entry, tuple):
            obj, path = entry
            out[path] = obj
        else:
            out[global_path(entry)] = entry
    return out


def weights_only_error(name, path, torch_file=False):
    """torch's weights-only refusal (type and key phrase), with the ways out that work here."""
    if torch_file:
        why = ("tensorplug reads torch.save files without running their pickle, so it rebuilds only tensors, "
               "containers and allow-listed classes (weights_only=False does not change that); if the file "
               "holds a whole torch object, save its state_dict() with torch instead")
    else:
        why = ("the file holds a whole object, and rebuilding it runs the code of its class; do this only if "
               "you trust the source of the checkpoint: load it with weights_only=False, or allow-list the class")
    return WeightsOnlyError(
        f"{name}: Weights only load failed: {why}. Unsupported global: GLOBAL {path} was not an allowed global "
        f"by default. Please use `tensorplug.serialization.add_safe_globals([{path}])` or the "
        f"`tensorplug.serialization.safe_globals([{path}])` context manager to allowlist this global if you "
        f"trust this class/function.")


def set_state(obj, state, name):
    """What pickle's BUILD does: ``__setstate__`` where the class defines one, else ``__dict__.update``."""
    cls = type(obj)
    if getattr(cls, "__setstate__", None) not in (None, getattr(object, "__setstate__", None)):
        obj.__setstate__(state)
    elif isinstance(state, dict):
        obj.__dict__.update(state)
    else:
        raise CheckpointError(f"{name}: the state of a {cls.__qualname__} is a {type(state).__name__}, "
                              f"expected a dict")


def _importable(obj):
    """True when ``obj`` (a class or function) can be found again by its module and qualname."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return False
    found = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is obj


# a subclass of these keeps its contents outside __dict__, which would be lost
_BUILTIN_DATA = (int, float, complex, str, bytes, bytearray, tuple, list, dict, set, frozenset)


def _own_reduce(cls):
    """True when the class pickles itself some other way (__reduce__), which its __dict__ would not capture."""
    return any(getattr(cls, name, None) is not getattr(object, name) for name in ("__reduce__", "__reduce_ex__"))


def _own_getstate(cls):
    getstate = getattr(cls, "__getstate__", None)
    return getstate is not None and getstate is not getattr(object, "__getstate__", None)


# saving ---------------------------------------------------------------------------

class ObjectEncoder:
    """Encodes what is not a tensor or a plain container; ``owner`` is the file's Encoder."""

    def __init__(self, owner):
        self.owner = owner
        self.ids = {}         # id(object) -> its number, so an object referenced twice is stored once

    def encode(self, obj, where, depth):
        np = numpy()
        if isinstance(obj, complex):
            real, imag = self.owner.encode(obj.real, where), self.owner.encode(obj.imag, where)
            return {"$": "complex", "real": real, "imag": imag}
        if isinstance(obj, _dt.dtype):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, _device):
            return {"$": "device", "name": str(obj)}
        if isinstance(obj, Size):
            return {"$": "size", "items": [int(n) for n in obj]}
        if isinstance(obj, (set, frozenset)) and type(obj) in (set, frozenset):
            items = [self.owner.encode(v, f"{where} (an element)", depth + 1) for v in obj]
            return {"$": type(obj).__name__, "items": items}
        if isinstance(obj, (bytes, bytearray)) and type(obj) in (bytes, bytearray):
            return {"$": type(obj).__name__, "hex": obj.hex()}
        if type(obj) is collections.defaultdict:
            factory = None if obj.default_factory is None else self.encode(obj.default_factory, where, depth)
            items = self.owner.encode(dict(obj), where, depth)
            return {"$": "defaultdict", "factory": factory, "items": items["items"]}
        if isinstance(obj, (np.ndarray, np.generic)):
            return self._ndarray(np.asarray(obj), where, scalar=isinstance(obj, np.generic))
        if isinstance(obj, type) or inspect.isroutine(obj):
            return self._global(obj, where)
        return self._object(obj, where, depth)

    def _ndarray(self, array, where, scalar):
        if array.dtype.kind not in "biufc" or not _NDARRAY_DTYPE.match(array.dtype.str):
            raise TypeError(f"cannot save {where}: a NumPy array of dtype {array.dtype} (only bool, integer, float "
                            f"and complex arrays can be saved)")
        little = array.astype(array.dtype.newbyteorder("<"), order="C", copy=True)
        index = self.owner.storages.add_bytes(little.tobytes())
        return {"$": "ndarray", "dtype": little.dtype.str, "shape": list(array.shape), "storage": index,
                "scalar": scalar}

    def _global(self, obj, where):
        if not _importable(obj):
            raise TypeError(f"cannot save {where}: {obj!r} cannot be found again by its import path (a lambda, "
                            f"a local function or class?); define it at the top level of a module")
        return {"$": "global", "module": obj.__module__, "qualname": obj.__qualname__}

    def _object(self, obj, where, depth):
        cls = type(obj)
        number = self.ids.get(id(obj))
        if number is not None:
            return {"$": "ref", "id": number}
        if not _importable(cls) or not (hasattr(obj, "__dict__") or _own_getstate(cls)) \
                or isinstance(obj, _BUILTIN_DATA) or _own_reduce(cls):
            raise TypeError(
                f"cannot save {where}: objects of type {cls.__name__} are not supported; tensorplug.save takes "
                f"tensors, numbers, strings, containers of them, NumPy arrays, and objects of classes defined at "
                f"the top level of a module with their state in __dict__ (a module, an optimizer)")
        number = self.ids[id(obj)] = len(self.ids)
        state = obj.__getstate__() if _own_getstate(cls) else obj.__dict__
        return {"$": "object", "id": number, "module": cls.__module__, "qualname": cls.__qualname__,
                "state": self.owner.encode(state, f"{where}.__dict__", depth + 1)}


# loading --------------------------------------------------------------------------

class Policy:
    """What a load may rebuild beyond data: nothing with ``weights_only=True`` except allow-listed
    classes and functions; anything importable with ``weights_only=False``."""

    def __init__(self, weights_only):
        self.weights_only = weights_only
        self.allowed = allowed_globals()

    def resolve(self, decoder, module, qualname):
        path = f"{module}.{qualname}"
        if module == "builtins" and qualname in _DATA_TYPES:
            return _DATA_TYPES[qualname]
        found = self.allowed.get(path)
        if found is not None:
            return found
        if self.weights_only:
            raise weights_only_error(decoder.name, path)
        try:
            found = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise CheckpointError(f"{decoder.name}: the file holds an object of class {path}, which cannot be "
                                  f"imported here ({type(exc).__name__}: {exc}); import or define it first") from None
        return found

    def decode(self, decoder, node, kind, depth):
        field = _Fields(decoder, node)
        if kind == "complex":
            return complex(decoder.decode(node.get("real"), depth + 1), decoder.decode(node.get("imag"), depth + 1))
        if kind == "dtype":
            name = field.get("name", str)
            if name not in _dt.BY_NAME:
                raise decoder.bad(f"unknown dtype {name!r} in the header")
            return _dt.BY_NAME[name]
        if kind == "device":
            try:
                return _device(field.get("name", str))
            except RuntimeError as exc:
                raise decoder.bad(f"bad device in the header: {exc}") from None
        if kind == "size":
            items = field.get("items", list)
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in items):
                raise decoder.bad(f"bad size {items!r} in the header")
            return Size(items)
        if kind in ("set", "frozenset"):
            return self._set(decoder, field.get("items", list), kind, depth)
        if kind in ("bytes", "bytearray"):
            try:
                data = bytes.fromhex(field.get("hex", str))
            except ValueError:
                raise decoder.bad("bad hex bytes in the header") from None
            return data if kind == "bytes" else bytearray(data)
        if kind == "ndarray":
            return self._ndarray(decoder, field)
        if kind == "defaultdict":
            factory = decoder.decode(node.get("factory"), depth + 1)
            if factory is not None and not callable(factory):
                raise decoder.bad(f"a defaultdict whose factory is a {type(factory).__name__}")
            out = collections.defaultdict(factory)
            out.update(decoder.decode({"$": "dict", "items": field.get("items", list)}, depth + 1))
            return out
        if kind == "global":
            return self.resolve(decoder, field.get("module", str), field.get("qualname", str))
        if kind == "object":
            return self._object(decoder, node, field, depth)
        if kind == "ref":
            number = node.get("id")
            if not isinstance(number, int) or number not in decoder.memo:
                raise decoder.bad(f"a reference to object {number!r}, which comes before it in the file")
            return decoder.memo[number]
        raise decoder.bad(f"unknown node kind {kind!r} in the header")

    def _set(self, decoder, items, kind, depth):
        try:
            out = {decoder.decode(v, depth + 1) for v in items}
        except TypeError:
            raise decoder.bad(f"a {kind} element in the header is not hashable") from None
        return out if kind == "set" else frozenset(out)

    def _ndarray(self, decoder, field):
        np = numpy()
        dtype = field.get("dtype", str)
        if not _NDARRAY_DTYPE.match(dtype):
            raise decoder.bad(f"bad NumPy dtype {dtype!r} in the header")
        dtype = np.dtype(dtype)
        shape = field.get("shape", list)
        if len(shape) > 64 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise decoder.bad(f"bad NumPy array shape {shape!r} in the header")
        storage = decoder.storage_array(field.get("storage", int))
        if math.prod(shape) * dtype.itemsize != storage.nbytes:
            raise decoder.bad(f"a NumPy array of shape {shape} and dtype {dtype} does not fill its "
                              f"{storage.nbytes}-byte storage")
        array = np.ndarray(shape, dtype, buffer=storage).astype(dtype.newbyteorder("="), copy=False)
        return array[()] if field.node.get("scalar") is True and array.ndim == 0 else array

    def _object(self, decoder, node, field, depth):
        number = field.get("id", int)
        cls = self.resolve(decoder, field.get("module", str), field.get("qualname", str))
        if not isinstance(cls, type) or number in decoder.memo:
            raise decoder.bad(f"object {number} of {field.node.get('qualname')!r} is not a new instance of a class")
        obj = cls.__new__(cls)
        decoder.memo[number] = obj      # before its state, so objects that refer back to it find it
        set_state(obj, decoder.decode(node.get("state"), depth + 1), decoder.name)
        return obj


class _Fields:
    def __init__(self, decoder, node):
        self.decoder = decoder
        self.node = node

    def get(self, key, kind):
        value = self.node.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.decoder.bad(f"a {self.node.get('$')} node's {key!r} is {value!r}, expected a {kind.__name__}")
        return value
