"""tensorplug's own checkpoint format: a JSON header, the storages' bytes, a SHA-256.

File layout (all integers little-endian)::

    b"TPLUGCKP"          8 bytes   magic
    version              uint32    FORMAT_VERSION
    header length        uint64    bounded by MAX_HEADER_BYTES
    header               JSON      {"format", "storages", "tensors", "root"}, padded with spaces
                                   so the data section starts on a 64-byte boundary
    data section         each storage's bytes, little-endian, at its 64-byte aligned offset
    SHA-256              32 bytes  of everything before it

``storages`` lists {offset, nbytes, device, backend}; ``tensors`` lists views
{storage, offset (bytes), dtype, shape, stride (elements), requires_grad,
parameter}; ``root`` is the saved structure, where {"$": "tensor", "index": i}
stands for tensor i. Nothing is ever unpickled.
"""
from __future__ import annotations

import collections
import hashlib
import json
import math
import struct

from .. import dtypes as _dt
from ..errors import CheckpointError
from ..tensor import Tensor
from . import _objects, _v1
from ._storage import ALIGN, StorageWriter, TensorSpec, ViewBudget, build_tensor, numpy

MAGIC = b"TPLUGCKP"
FORMAT_VERSION = 2
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 100
PREFIX = struct.Struct("<8sIQ")
DIGEST = 32
DTYPE_NAMES = frozenset(d.name for d in _dt.ALL)


# saving ---------------------------------------------------------------------------

class Encoder:
    """Turns an object tree into a JSON-able header; tensors become views of storages."""

    def __init__(self):
        self.storages = StorageWriter()
        self.tensors = []     # header entries
        self.index = {}       # id(tensor) -> index into tensors, so a tensor is stored once
        self.objects = _objects.ObjectEncoder(self)

    def encode(self, obj, where, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"cannot save {where}: nested deeper than {MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"$": "float", "value": repr(float(obj))}
        if isinstance(obj, Tensor):
            return {"$": "tensor", "index": self._tensor(obj)}
        if isinstance(obj, dict) and type(obj) in (dict, collections.OrderedDict):
            items = [[self.encode(k, f"{where} (a key)", depth + 1), self.encode(v, f"{where}[{k!r}]", depth + 1)]
                     for k, v in obj.items()]
            node = {"$": "dict", "items": items}
            if isinstance(obj, collections.OrderedDict):
                node["ordered"] = True
                metadata = getattr(obj, "_metadata", None)      # a state dict's module versions, as torch keeps
                if metadata is not None:
                    node["metadata"] = self.encode(metadata, f"{where}._metadata", depth + 1)
            return node
        if type(obj) is list:
            return [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
        if type(obj) is tuple:
            return {"$": "tuple", "items": [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
        return self.objects.encode(obj, where, depth)

    def _tensor(self, t):
        index = self.index.get(id(t))
        if index is not None:
            return index
        entry = {"dtype": t._dtype.name, "shape": list(t._data.shape)}
        self.storages.add(t, entry)
        entry["requires_grad"] = bool(t._requires_grad)
        if type(t) is not Tensor and type(t).__name__ == "Parameter":
            entry["parameter"] = True
        self.tensors.append(entry)
        self.index[id(t)] = len(self.tensors) - 1
        return len(self.tensors) - 1


def encode_file(obj):
    """(header bytes, storage writer) for ``obj``; raises TypeError/ValueError before any file is touched."""
    enc = Encoder()
    root = enc.encode(obj, "obj")
    enc.storages.finish(lambda entry: (_dt.BY_NAME[entry["dtype"]], entry["shape"]))
    header = json.dumps({"format": "tensorplug-checkpoint", "storages": enc.storages.storages,
                         "tensors": enc.tensors, "root": root},
                        separators=(",", ":"), allow_nan=False).encode("utf-8")
    header += b" " * (-(PREFIX.size + len(header)) % ALIGN)
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"cannot save: the structure is {len(header)} bytes as JSON, over the "
                         f"{MAX_HEADER_BYTES}-byte header limit; save big data as tensors, not as lists")
    return header, enc.storages


def write_file(f, header, storages, tensor_bytes):
    digest = hashlib.sha256()

    def write(b):
        digest.update(b)
        f.write(b)

    write(PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)))
    write(header)
    storages.write(write, tensor_bytes)
    f.write(digest.digest())


# loading --------------------------------------------------------------------------

def bad(name, problem):
    return CheckpointError(f"{name}: {problem}")


def read_verified(buf, name):
    """The header dict, after every integrity check of ``buf`` (the whole file)."""
    prefix = bytes(buf[:PREFIX.size])
    if len(prefix) < PREFIX.size:
        raise bad(name, f"truncated: the file ends inside the {PREFIX.size}-byte prefix")
    _, version, header_len = PREFIX.unpack(prefix)
    if version not in (1, FORMAT_VERSION):
        raise bad(name, f"unsupported checkpoint format version {version} (this tensorplug reads versions 1 and "
                        f"{FORMAT_VERSION}); upgrade tensorplug or re-save the file")
    if header_len > MAX_HEADER_BYTES:
        raise bad(name, f"header too large: it claims {header_len} bytes, the limit is {MAX_HEADER_BYTES}; "
                        f"the file is corrupted or hostile")
    if PREFIX.size + header_len + DIGEST > len(buf):
        raise bad(name, f"truncated: the header claims {header_len} bytes but the file has only {len(buf)}")
    view = memoryview(buf)
    if hashlib.sha256(view[:-DIGEST]).digest() != bytes(view[-DIGEST:]):
        raise bad(name, "checksum mismatch: the file is corrupted or truncated (its SHA-256 does not match); "
                        "restore it from a backup or save it again")
    try:
        header = json.loads(bytes(view[PREFIX.size:PREFIX.size + header_len]).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise bad(name, f"the header is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(header, dict) or header.get("format") != "tensorplug-checkpoint" or "root" not in header:
        raise bad(name, "the header does not describe a tensorplug checkpoint")
    if version == 1:
        header = _v1.upgrade(header, name)
    return header, PREFIX.size + header_len


def _field(name, node, key, kind, what):
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise bad(name, f"{what}'s {key!r} is {value!r}, expected a {kind.__name__}")
    return value


def _int_list(name, node, key, what):
    values = _field(name, node, key, list, what)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise bad(name, f"{what}'s {key!r} is {values!r}, expected a list of integers")
    return tuple(values)


def _storages(name, header, data_start, data_end):
    """Each storage's (offset, nbytes, saved device); they must be disjoint and inside the data section."""
    out = []
    for entry in _field(name, header, "storages", list, "the header"):
        offset = _field(name, entry, "offset", int, "a storage")
        nbytes = _field(name, entry, "nbytes", int, "a storage")
        where = entry.get("device") if isinstance(entry.get("device"), str) else "cpu"
        if offset < 0 or nbytes < 0 or data_start + offset + nbytes > data_end:
            raise bad(name, f"a storage's bytes [{offset}, {offset + nbytes}) lie outside the "
                            f"{data_end - data_start}-byte data section")
        out.append((offset, nbytes, where))
    spans = sorted((o, o + n) for o, n, _ in out if n)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise bad(name, "two storages overlap; the file is corrupted or hostile")
    return out


def _specs(name, header, storages):
    specs = []
    for entry in _field(name, header, "tensors", list, "the header"):
        dtype = _field(name, entry, "dtype", str, "a tensor")
        if dtype not in DTYPE_NAMES:
            raise bad(name, f"unknown tensor dtype {dtype!r}")
        storage = _field(name, entry, "storage", int, "a tensor")
        if not 0 <= storage < len(storages):
            raise bad(name, f"a tensor names storage {storage}, but the file has {len(storages)}")
        shape = _int_list(name, entry, "shape", "a tensor")
        stride = _int_list(name, entry, "stride", "a tensor")
        specs.append(TensorSpec(storage, _field(name, entry, "offset", int, "a tensor"), _dt.BY_NAME[dtype],
                                shape, stride, entry.get("requires_grad") is True, entry.get("parameter") is True))
    return specs


class Decoder:
    """Rebuilds the saved structure; tensors are built on first use, each once."""

    def __init__(self, name, buf, header, data_start, placement, objects):
        self.name = name
        self.placement = placement           # saved device string -> backend
        self.objects = objects               # the object-node policy (weights_only, allow-list)
        self.storages = _storages(name, header, data_start, len(buf) - DIGEST)
        self.specs = _specs(name, header, self.storages)
        budget = ViewBudget(len(buf), name)
        for spec in self.specs:
            budget.charge(spec, self.storages[spec.storage][1])
        self.buf = buf
        self.data_start = data_start
        self.arrays = {}                    # storage index -> flat uint8 host array over buf
        self.built = {}                     # tensor index -> tensor
        self.memo = {}                      # object id -> object (objects referenced twice)

    def bad(self, problem):
        return bad(self.name, problem)

    def tensor(self, index):
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.specs):
            raise self.bad(f"a tensor reference {index!r} names no tensor of the {len(self.specs)} in the file")
        t = self.built.get(index)
        if t is None:
            spec = self.specs[index]
            where = self.storages[spec.storage][2]
            t = self.built[index] = build_tensor(spec, self.storage_array(spec.storage), self.placement(where))
        return t

    def storage_array(self, index):
        """Storage ``index`` as a flat uint8 host array over the file's bytes (writable, no copy)."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.storages):
            raise self.bad(f"a reference to storage {index!r}, but the file has {len(self.storages)}")
        array = self.arrays.get(index)
        if array is None:
            np = numpy()
            offset, nbytes, _ = self.storages[index]
            array = self.arrays[index] = np.frombuffer(self.buf, np.uint8, count=nbytes,
                                                       offset=self.data_start + offset)
        return array

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
        if kind == "tensor":
            return self.tensor(node.get("index"))
        if kind == "dict":
            return self._dict(node, depth)
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in _field(self.name, node, "items", list, "a tuple"))
        if kind == "float":
            value = _field(self.name, node, "value", str, "a float")
            if value not in ("nan", "inf", "-inf"):
                raise self.bad(f"bad float value {value!r} in the header")
            return float(value)
        return self.objects.decode(self, node, kind, depth)

    def _dict(self, node, depth):
        out = collections.OrderedDict() if node.get("ordered") else {}
        for pair in _field(self.name, node, "items", list, "a dict"):
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.bad("a dict entry in the header is not a [key, value] pair")
            key = self.decode(pair[0], depth + 1)
            value = self.decode(pair[1], depth + 1)
            try:
                out[key] = value
            except TypeError:
                raise self.bad(f"a dict key of type {type(key).__name__} is not hashable") from None
        if "metadata" in node:
            if not isinstance(out, collections.OrderedDict):
                raise self.bad("a plain dict with _metadata in the header (only an OrderedDict carries it)")
            out._metadata = self.decode(node["metadata"], depth + 1)
        return out


def decode_file(buf, name, placement, objects):
    header, data_start = read_verified(buf, name)
    decoder = Decoder(name, buf, header, data_start, placement, objects)
    try:
        return decoder.decode(header["root"])
    except RecursionError:
        raise bad(name, "the structure is nested too deeply") from None

