"""Checkpoints: ``save`` / ``load`` without pickle, atomic and checksummed.

File layout (all integers little-endian)::

    b"TPLUGCKP"              8 bytes   magic
    version                  uint32    FORMAT_VERSION
    header length            uint64    bounded by MAX_HEADER_BYTES
    header                   JSON      the object structure; tensors are
                                       {"$": "tensor", dtype, shape, offset, nbytes}
    tensor data              raw little-endian C-order bytes, back to back
    SHA-256                  32 bytes  of everything before it

Loading reads the fixed prefix first and refuses an absurd header length
before allocating anything, then checks the file size and the SHA-256 before
it parses a byte of JSON. Nothing is ever unpickled: the only things a file can
produce are dicts, lists, tuples, numbers, strings, None, bools, dtypes,
devices and tensors. Safetensors files (``save_safetensors`` /
``load_safetensors``) are the interop format for flat state dicts.
"""
from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import secrets
import struct
import sys

from . import dtypes as _dt
from .device import device as _device
from .errors import CheckpointError
from .registry import get_backend
from .tensor import Tensor

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "CheckpointError",
           "MAX_HEADER_BYTES", "FORMAT_VERSION"]

MAGIC = b"TPLUGCKP"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
_PREFIX = struct.Struct("<8sIQ")
_DIGEST = 32
_CHUNK = 1 << 20
_DTYPE_NAMES = frozenset(d.name for d in _dt.ALL)


def _numpy():
    # numpy only converts bytes <-> host arrays here (I/O); the math stays in the backends
    import numpy
    return numpy


# saving ---------------------------------------------------------------------------

class _Encoder:
    """Turns an object tree into a JSON-able header plus a list of tensors to write."""

    def __init__(self):
        self.tensors = []     # (tensor, offset, nbytes)
        self.seen = {}        # id(tensor) -> its header node, so shared tensors are stored once
        self.offset = 0

    def encode(self, obj, where, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"cannot save {where}: nested deeper than {MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            if math.isfinite(obj):
                return float(obj)
            return {"$": "float", "value": repr(obj)}
        if isinstance(obj, complex):
            return {"$": "complex", "real": self.encode(obj.real, where), "imag": self.encode(obj.imag, where)}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, _dt.dtype):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, _device):
            return {"$": "device", "name": str(obj)}
        if isinstance(obj, dict):
            items = [[self.encode(k, f"{where} (a key)", depth + 1), self.encode(v, f"{where}[{k!r}]", depth + 1)]
                     for k, v in obj.items()]
            node = {"$": "dict", "items": items}
            if isinstance(obj, collections.OrderedDict):
                node["ordered"] = True
            return node
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"$": "tuple", "items": [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
        # numpy scalars and other number-likes that say what they are
        item = getattr(obj, "item", None)
        if callable(item) and getattr(obj, "shape", None) == ():
            return self.encode(item(), where, depth)
        raise TypeError(
            f"cannot save {where}: objects of type {type(obj).__name__} are not supported; tensorplug.save "
            f"takes nested dicts, lists and tuples of tensors, numbers, strings, bools and None (a module's or "
            f"optimizer's state_dict(), not the module itself)")

    def _tensor(self, t):
        node = self.seen.get(id(t))
        if node is not None:
            return node
        nbytes = t.numel() * t._dtype.itemsize
        node = {"$": "tensor", "dtype": t._dtype.name, "shape": list(t._data.shape),
                "offset": self.offset, "nbytes": nbytes, "device": str(t._backend.device),
                "backend": t._backend.name, "requires_grad": bool(t._requires_grad)}
        if type(t) is not Tensor and type(t).__name__ == "Parameter":
            node["parameter"] = True
        self.seen[id(t)] = node
        self.tensors.append((t, self.offset, nbytes))
        self.offset += nbytes
        return node


def _tensor_bytes(t):
    np = _numpy()
    host = t._backend.to_numpy(t._data)
    host = np.asarray(host)
    if host.dtype.byteorder == ">" or (host.dtype.byteorder == "=" and sys.byteorder == "big"):
        host = host.astype(host.dtype.newbyteorder("<"))
    return host.tobytes(order="C")


def _encode_file(obj):
    enc = _Encoder()
    root = enc.encode(obj, "obj")
    header = json.dumps({"format": "tensorplug-checkpoint", "root": root},
                        separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"cannot save: the structure is {len(header)} bytes as JSON, over the "
                         f"{MAX_HEADER_BYTES}-byte header limit; save big data as tensors, not as lists")
    return header, enc.tensors


def _write_payload(f, header, tensors):
    digest = hashlib.sha256()

    def write(b):
        digest.update(b)
        f.write(b)

    write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
    write(header)
    for t, _, nbytes in tensors:
        data = _tensor_bytes(t)
        if len(data) != nbytes:  # pragma: no cover - a backend that lies about its shape
            raise RuntimeError(f"tensor of shape {list(t.shape)} gave {len(data)} bytes, expected {nbytes}")
        write(data)
    f.write(digest.digest())


def _fsync_dir(folder):
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, write):
    """Write a file at ``path`` so that readers see the old file or the complete new one.

    ``write(f)`` fills a temporary file in the same folder; it is flushed and
    fsynced, renamed over ``path`` with ``os.replace`` and the folder is fsynced.
    The temporary file is removed on any failure. The new file gets the mode a
    freshly created file would get (the umask applies), or the old file's mode.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = None
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask apply, like open(path, "wb") would
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of tensors, numbers, strings, None) to ``f``.

    ``f`` is a path (the write is atomic: a crash leaves the old file or the
    complete new one) or a binary file object. No pickle is involved, so only
    data can be saved: save ``model.state_dict()``, not the model.

    Example:
        >>> tensorplug.save({"model": model.state_dict(), "step": 10}, "ckpt.tp")
    """
    if pickle_module is not None:
        raise ValueError("tensorplug.save never pickles, so pickle_module is not supported; drop the argument")
    header, tensors = _encode_file(obj)
    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        _write_payload(f, header, tensors)
        return
    atomic_write(f, lambda out: _write_payload(out, header, tensors))


# loading --------------------------------------------------------------------------

def _bad(name, problem):
    return CheckpointError(f"{name}: {problem}")


def _describe_foreign(head):
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return ("not a tensorplug checkpoint: it looks like a pickle (what torch.save writes with the legacy "
                "format); tensorplug never unpickles, since a pickle can run code. Convert it where PyTorch is "
                "installed with safetensors.torch.save_file(state_dict, 'model.safetensors') and read that "
                "with tensorplug.load_safetensors")
    if head[:4] == b"PK\x03\x04":
        return ("not a tensorplug checkpoint: it is a zip archive (a torch.save file holds a pickle inside); "
                "tensorplug never unpickles, since a pickle can run code. Convert it where PyTorch is installed "
                "with safetensors.torch.save_file(state_dict, 'model.safetensors') and read that with "
                "tensorplug.load_safetensors")
    return f"not a tensorplug checkpoint (it starts with {bytes(head[:8])!r}, expected {MAGIC!r})"


def _read_verified(f, name, size):
    """The header dict and a memoryview of the tensor data, after every integrity check."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < len(MAGIC) or prefix[:len(MAGIC)] != MAGIC:
        if len(prefix) < len(MAGIC) and MAGIC.startswith(prefix):
            raise _bad(name, f"truncated: the file has {len(prefix)} bytes, too few for a checkpoint")
        raise _bad(name, _describe_foreign(prefix))
    if len(prefix) < _PREFIX.size:
        raise _bad(name, f"truncated: the file ends inside the {_PREFIX.size}-byte prefix")
    _, version, header_len = _PREFIX.unpack(prefix)
    if version != FORMAT_VERSION:
        raise _bad(name, f"unsupported checkpoint format version {version} (this tensorplug reads version "
                         f"{FORMAT_VERSION}); upgrade tensorplug or re-save the file")
    if header_len > MAX_HEADER_BYTES:
        raise _bad(name, f"header too large: it claims {header_len} bytes, the limit is {MAX_HEADER_BYTES}; "
                         f"the file is corrupted or hostile")
    if size is not None and _PREFIX.size + header_len + _DIGEST > size:
        raise _bad(name, f"truncated: the header claims {header_len} bytes but the file has only {size}")
    rest = f.read() if size is None else f.read(size - _PREFIX.size)
    if size is not None and len(rest) != size - _PREFIX.size:
        raise _bad(name, "truncated: the file changed size while it was read")
    if len(rest) < header_len + _DIGEST:
        raise _bad(name, f"truncated: the file has {_PREFIX.size + len(rest)} bytes, too few for its header")
    body = memoryview(rest)
    digest = hashlib.sha256(prefix)
    digest.update(body[:-_DIGEST])
    if digest.digest() != bytes(body[-_DIGEST:]):
        raise _bad(name, "checksum mismatch: the file is corrupted or truncated (its SHA-256 does not match); "
                         "restore it from a backup or save it again")
    try:
        header = json.loads(bytes(body[:header_len]).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _bad(name, f"the header is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or header.get("format") != "tensorplug-checkpoint" or "root" not in header:
        raise _bad(name, "the header does not describe a tensorplug checkpoint")
    return header["root"], body[header_len:-_DIGEST]


class _Decoder:
    def __init__(self, name, data, map_location):
        self.name = name
        self.data = data
        self.map_location = map_location
        self.built = {}   # offset -> tensor, so shared tensors stay shared

    def bad(self, problem):
        return _bad(self.name, problem)

    def decode(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise self.bad(f"the structure is nested deeper than {MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise self.bad(f"unexpected JSON value of type {type(node).__name__} in the header")
        kind = node.get("$")
        if kind == "dict":
            items = self._field(node, "items", list)
            out = collections.OrderedDict() if node.get("ordered") else {}
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.bad("a dict entry in the header is not a [key, value] pair")
                key = self.decode(pair[0], depth + 1)
                try:
                    out[key] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise self.bad(f"a dict key of type {type(key).__name__} is not hashable") from None
            return out
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._field(node, "items", list))
        if kind == "tensor":
            return self._tensor(node)
        if kind == "float":
            value = self._field(node, "value", str)
            if value not in ("nan", "inf", "-inf"):
                raise self.bad(f"bad float value {value!r} in the header")
            return float(value)
        if kind == "complex":
            return complex(self.decode(node.get("real"), depth + 1), self.decode(node.get("imag"), depth + 1))
        if kind == "dtype":
            name = self._field(node, "name", str)
            if name not in _DTYPE_NAMES:
                raise self.bad(f"unknown dtype {name!r} in the header")
            return _dt.BY_NAME[name]
        if kind == "device":
            try:
                return _device(self._field(node, "name", str))
            except RuntimeError as exc:
                raise self.bad(f"bad device in the header: {exc}") from None
        raise self.bad(f"unknown node kind {kind!r} in the header")

    def _field(self, node, key, kind):
        value = node.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.bad(f"a {node.get('$')} node's {key!r} is {value!r}, expected a {kind.__name__}")
        return value

    def _tensor(self, node):
        name = self._field(node, "dtype", str)
        if name not in _DTYPE_NAMES:
            raise self.bad(f"unknown tensor dtype {name!r}")
        dtype = _dt.BY_NAME[name]
        shape = self._field(node, "shape", list)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise self.bad(f"bad tensor shape {shape!r}")
        offset = self._field(node, "offset", int)
        nbytes = self._field(node, "nbytes", int)
        if nbytes != math.prod(shape) * dtype.itemsize:
            raise self.bad(f"a tensor of shape {shape} and dtype {name} claims {nbytes} bytes")
        if offset < 0 or offset + nbytes > len(self.data):
            raise self.bad(f"a tensor's bytes [{offset}, {offset + nbytes}) lie outside the "
                           f"{len(self.data)}-byte data section")
        cached = self.built.get(offset)
        if cached is not None and cached[0] == (name, tuple(shape)):
            return cached[1]
        np = _numpy()
        host = np.frombuffer(self.data[offset:offset + nbytes], dtype=np.dtype(name).newbyteorder("<"))
        host = host.astype(np.dtype(name), copy=True).reshape(shape)
        backend = self._backend_for(node)
        t = Tensor._make(backend.from_numpy(host), dtype, backend)
        if node.get("requires_grad") is True and dtype.category >= _dt.FLOAT:
            t.requires_grad_(True)
        if node.get("parameter") is True:
            from .nn.parameter import Parameter
            t = Parameter(t, requires_grad=t.requires_grad)
        self.built[offset] = ((name, tuple(shape)), t)
        return t

    def _backend_for(self, node):
        saved = node.get("device") if isinstance(node.get("device"), str) else "cpu"
        target = self.map_location
        if isinstance(target, dict):
            target = target.get(saved, saved)
        if target is None:
            target = saved
        try:
            return get_backend(target)
        except (RuntimeError, ValueError) as exc:
            if self.map_location is None:
                raise RuntimeError(f"{self.name}: a tensor was saved on '{saved}', which is not usable here "
                                   f"({exc}); pass map_location='cpu' to load it on the CPU") from None
            raise


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Load what ``save`` wrote.

    Args:
        f: a path or a binary file object.
        map_location: where tensors go: ``'cpu'``, a device, a backend name,
            or a dict mapping saved device strings to new ones. ``None`` puts
            each tensor back on the device it was saved from.
        weights_only: accepted for PyTorch compatibility; tensorplug files
            only ever hold data, so loading is always as safe as ``True``.

    Returns:
        The saved object, with tensors rebuilt.

    Raises:
        FileNotFoundError: no file at ``f``.
        CheckpointError: the file is truncated, corrupted, foreign or hostile.

    Example:
        >>> model.load_state_dict(tensorplug.load("ckpt.tp", map_location="cpu"))
    """
    if pickle_module is not None:
        raise ValueError("tensorplug.load never unpickles, so pickle_module is not supported; drop the argument")
    if kwargs:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(kwargs)}")
    if isinstance(map_location, _device):
        map_location = str(map_location)
    elif map_location is not None and not isinstance(map_location, (str, dict)) and not hasattr(map_location, "xp"):
        raise TypeError(f"map_location must be a device, a device or backend name, or a dict; got "
                        f"{type(map_location).__name__}")
    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        name = repr(getattr(f, "name", "<file object>"))
        root, data = _read_verified(f, name, None)
    else:
        path = os.fspath(f)
        name = repr(path)
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            root, data = _read_verified(fh, name, size)
    try:
        return _Decoder(name, data, map_location).decode(root)
    except RecursionError:
        raise _bad(name, "the structure is nested too deeply") from None


# safetensors ----------------------------------------------------------------------

def _host_array(t, key):
    np = _numpy()
    if not isinstance(t, Tensor):
        raise TypeError(f"save_safetensors takes a flat dict of str -> Tensor; {key!r} is a {type(t).__name__}")
    host = np.asarray(t._backend.to_numpy(t._data))
    # safetensors 0.8.0 writes strided arrays wrongly, and np.ascontiguousarray
    # would turn a 0-d array into a 1-d one: copy in C order, which keeps 0-d
    if not host.flags.c_contiguous or host.ndim == 0:
        host = host.copy(order="C")
    return host


def save_safetensors(tensors, path, metadata=None) -> None:
    """Write a flat ``{name: tensor}`` dict (a state dict) as a ``.safetensors`` file, atomically.

    Example:
        >>> tensorplug.save_safetensors(model.state_dict(), "model.safetensors")
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors takes a flat dict of str -> Tensor, got {type(tensors).__name__}")
    try:
        from safetensors.numpy import save as _st_save
    except ImportError:
        raise ImportError("save_safetensors needs the safetensors package: pip install safetensors") from None
    arrays = {}
    for key, t in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"save_safetensors keys must be str, got {key!r}")
        arrays[key] = _host_array(t, key)
    try:
        payload = _st_save(arrays, metadata=metadata)
    except Exception as exc:
        raise TypeError(f"safetensors refused the state dict: {exc}") from None
    atomic_write(path, lambda out: out.write(payload))


def load_safetensors(path, device=None) -> dict:
    """Read a ``.safetensors`` file into a ``{name: tensor}`` dict on ``device`` (default backend if None).

    Example:
        >>> model.load_state_dict(tensorplug.load_safetensors("model.safetensors"))
    """
    try:
        from safetensors.numpy import load as _st_load
    except ImportError:
        raise ImportError("load_safetensors needs the safetensors package: pip install safetensors") from None
    path = os.fspath(path)
    with open(path, "rb") as fh:
        payload = fh.read()
    try:
        arrays = _st_load(payload)
    except Exception as exc:
        raise CheckpointError(f"{path!r}: not a valid safetensors file ({exc})") from None
    backend = get_backend(device)
    out = {}
    for key, host in arrays.items():
        dtype = _dt.BY_NAME.get(str(host.dtype))
        if dtype is None:
            raise CheckpointError(f"{path!r}: tensor {key!r} has dtype {host.dtype}, which tensorplug does not "
                                  f"support")
        out[key] = Tensor._make(backend.from_numpy(host.copy()), dtype, backend)
    return out

