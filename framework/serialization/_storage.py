"""Storages and the tensors that view them, shared by every checkpoint reader and writer.

A checkpoint holds each block of memory (a storage) once, and each tensor as
a view of one: byte offset, dtype, shape and strides in elements, as torch's
format does. So views and their base come back sharing memory, two tensors
never collapse into one, and a load materialises no more than the file holds.
"""
from __future__ import annotations

import math
import sys
from typing import NamedTuple

from .. import dtypes as _dt
from ..errors import CheckpointError
from ..tensor import Tensor

__all__ = ["TensorSpec", "StorageWriter", "ViewBudget", "build_tensor", "numpy_dtype", "numpy"]

# A load may hold its tensors as views; copies of them (a backend that cannot
# view host memory, or a layout whose elements overlap) may together take at
# most this many times the file's size, plus a small allowance.
VIEW_BYTES_PER_FILE_BYTE = 8
VIEW_BYTES_ALLOWANCE = 1 << 20
MAX_NDIM = 64
ALIGN = 64


def numpy():
    # numpy only moves bytes to and from host arrays here (I/O); the math stays in the backends
    import numpy as np
    return np


def numpy_dtype(dtype):
    np = numpy()
    try:
        return np.dtype(dtype.name)
    except TypeError:
        import ml_dtypes  # bfloat16 and friends
        return np.dtype(getattr(ml_dtypes, dtype.name))


class TensorSpec(NamedTuple):
    storage: object        # a key into the reader's storages
    offset: int            # bytes into the storage
    dtype: object          # a tensorplug dtype
    shape: tuple
    stride: tuple          # in elements, as torch's
    requires_grad: bool = False
    parameter: bool = False

    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize

    def extent(self):
        """One past the last byte this view reads, relative to the storage (its offset if empty)."""
        if math.prod(self.shape) == 0:
            return self.offset
        last = sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        return self.offset + (last + 1) * self.dtype.itemsize


# writing ---------------------------------------------------------------------------

def _dense_bytes(root):
    """``root``'s memory as a flat uint8 array, or None when it is not one dense block."""
    np = numpy()
    order = sorted(range(root.ndim), key=lambda i: -abs(root.strides[i]))
    dense = np.transpose(root, order)
    if not dense.flags.c_contiguous or dense.dtype.hasobject:
        return None
    return dense.reshape(-1).view(np.uint8)


def _address(array):
    return array.__array_interface__["data"][0]


class StorageWriter:
    """Collects the storages the saved tensors view, each once, with only the bytes they use."""

    def __init__(self):
        self.storages = []   # [{"nbytes", "device", "backend"}], in the header
        self._sources = []   # per storage: (flat uint8 array, first byte) or a bytes-producing tensor
        self._views = []     # (spec dict, storage index, absolute first byte)
        self._by_root = {}
        self._keep = []      # host arrays whose ids key _by_root must outlive the save

    def add(self, t, entry):
        """Fill the header fields storage, offset and stride of tensor ``t`` into ``entry``."""
        np = numpy()
        host = np.asarray(t._backend.to_numpy(t._data))
        item = host.dtype.itemsize
        flat = None
        pointable = all(s >= 0 and s % item == 0 for n, s in zip(host.shape, host.strides) if n > 1)
        if host.size and sys.byteorder == "little" and pointable:
            root = host
            while isinstance(root.base, np.ndarray):
                root = root.base
            flat = _dense_bytes(root)
        if flat is not None:
            stride = [_element_stride(n, s, item, c) for n, s, c in zip(host.shape, host.strides,
                                                                         _contiguous(host.shape))]
            start = _address(host) - _address(flat)
            view = TensorSpec(0, start, t._dtype, host.shape, tuple(stride))
            if start < 0 or view.extent() > flat.size:  # pragma: no cover - memory outside its own base
                flat = None
        if flat is None:    # a layout the format cannot point into: the tensor gets its own storage
            index = self._new_storage(t, ("copy", t))
            entry.update(storage=index, offset=0, stride=_contiguous(host.shape))
            return
        key = (t._backend.name, id(root))
        index = self._by_root.get(key)
        if index is None:
            self._keep.append(root)
            index = self._by_root[key] = self._new_storage(t, ("span", flat))
        entry.update(storage=index, offset=start, stride=stride)
        self._views.append((entry, index, start))

    def add_bytes(self, data):
        """A storage of raw host bytes (a NumPy array's); returns its index."""
        self.storages.append({"device": "cpu", "backend": "numpy"})
        self._sources.append(("bytes", data))
        return len(self.storages) - 1

    def _new_storage(self, t, source):
        self.storages.append({"device": str(t._backend.device), "backend": t._backend.name})
        self._sources.append(source)
        return len(self.storages) - 1

    def finish(self, dtype_of):
        """Fix every storage's span and place the storages, aligned, in the data section; returns its size.
        ``dtype_of(node)`` gives a view node's tensorplug dtype and shape."""
        spans = {}
        for node, index, start in self._views:
            dtype, shape = dtype_of(node)
            spec = TensorSpec(index, start, dtype, tuple(shape), tuple(node["stride"]))
            lo, hi = spans.get(index, (start, start))
            spans[index] = (min(lo, start), max(hi, spec.extent()))
        for node, index, start in self._views:
            node["offset"] = start - spans[index][0]
        offset = 0
        for index, meta in enumerate(self.storages):
            kind, source = self._sources[index]
            if kind == "span":
                lo, hi = spans[index]
                self._sources[index] = ("span", source[lo:hi])
                meta["nbytes"] = hi - lo
            elif kind == "bytes":
                meta["nbytes"] = len(source)
            else:
                meta["nbytes"] = source.numel() * source._dtype.itemsize
            meta["offset"] = offset
            offset = _aligned(offset + meta["nbytes"])
        return offset

    def write(self, write, tensor_bytes):
        """Write the data section through ``write(bytes)``; ``tensor_bytes(t)`` gives a copied tensor's bytes."""
        at = 0
        for meta, (kind, source) in zip(self.storages, self._sources):
            write(bytes(meta["offset"] - at))
            data = tensor_bytes(source) if kind == "copy" else memoryview(source)
            if len(data) != meta["nbytes"]:  # pragma: no cover - a backend that lies about its shape
                raise RuntimeError(f"a storage gave {len(data)} bytes, expected {meta['nbytes']}")
            write(data)
            at = meta["offset"] + meta["nbytes"]


def _element_stride(n, stride, item, contiguous):
    # NumPy puts any stride on a dimension of size 1; torch's is the contiguous one
    return stride // item if n > 1 else contiguous


def _aligned(n):
    return -(-n // ALIGN) * ALIGN


def _contiguous(shape):
    stride, step = [], 1
    for n in reversed(shape):
        stride.append(step)
        step *= max(n, 1)
    return stride[::-1]


# reading ---------------------------------------------------------------------------

class ViewBudget:
    """Refuses views outside their storage, and loads whose tensors would take far more memory than
    the file holds (overlapping or broadcast layouts crafted to amplify it)."""

    def __init__(self, file_bytes, name):
        self.limit = VIEW_BYTES_PER_FILE_BYTE * file_bytes + VIEW_BYTES_ALLOWANCE
        self.file_bytes = file_bytes
        self.name = name
        self.total = 0

    def charge(self, spec, storage_nbytes):
        name = self.name
        if len(spec.shape) > MAX_NDIM or len(spec.stride) != len(spec.shape):
            raise CheckpointError(f"{name}: a tensor has {len(spec.shape)} dimensions and {len(spec.stride)} "
                                  f"strides (at most {MAX_NDIM}, one stride per dimension)")
        if any(n < 0 for n in spec.shape) or any(s < 0 for s in spec.stride) or spec.offset < 0:
            raise CheckpointError(f"{name}: a tensor has a negative size, stride or offset "
                                  f"(shape {list(spec.shape)}, stride {list(spec.stride)}, offset {spec.offset})")
        if spec.extent() > storage_nbytes or spec.offset > storage_nbytes:
            raise CheckpointError(f"{name}: a tensor of shape {list(spec.shape)}, stride {list(spec.stride)} at byte "
                                  f"{spec.offset} reads bytes up to {spec.extent()} of a {storage_nbytes}-byte storage")
        self.total += spec.nbytes()
        if self.total > self.limit:
            raise CheckpointError(f"{name}: its tensors add up to at least {self.total} bytes from a "
                                  f"{self.file_bytes}-byte file (more than {VIEW_BYTES_PER_FILE_BYTE}x its size: "
                                  f"overlapping views crafted to exhaust memory); the file is corrupted or hostile")


def build_tensor(spec, storage, backend):
    """The tensor ``spec`` describes, viewing ``storage`` (a flat uint8 host array) where the backend
    can hold host memory, else a copy on the backend."""
    np = numpy()
    native = numpy_dtype(spec.dtype)
    item = native.itemsize
    host = np.ndarray(spec.shape, native.newbyteorder("<"), buffer=storage, offset=spec.offset,
                      strides=[s * item for s in spec.stride])
    if sys.byteorder == "big":  # pragma: no cover - files are little-endian
        host = host.astype(native)
    t = _at_offset(Tensor._make(backend.from_numpy(host), spec.dtype, backend), spec, storage)
    if spec.requires_grad and spec.dtype.category >= _dt.FLOAT:
        t.requires_grad_(True)
    if spec.parameter:
        from ..nn.parameter import Parameter
        t = Parameter(t, requires_grad=t.requires_grad)
    return t


def _at_offset(t, spec, storage):
    """``t`` recorded as a view of a flat tensor over its whole storage when it starts past the storage's
    first element, so ``storage_offset()`` is the saved one (torch keeps it: a slice saved beside its base
    loads at offset 3, not 0). Where the backend copied the host memory there is no storage to point into."""
    np = numpy()
    item = spec.dtype.itemsize
    data = t._data
    if spec.offset == 0 or spec.offset % item or not isinstance(data, np.ndarray) or \
            _address(data) != _address(storage) + spec.offset:
        return t
    from ..ops._util import mark_view
    flat = storage[:storage.size - storage.size % item].view(data.dtype)
    base = Tensor._make(t._backend.from_numpy(flat), spec.dtype, t._backend)
    return mark_view(t, base, _strided_gather(spec.offset // item, spec.shape, spec.stride))


def _strided_gather(offset, shape, stride):
    """The elements of a flat tensor that a view at ``offset`` with ``shape`` and ``stride`` reads, with
    tensorplug ops (an in-place write through the view records its history on the flat tensor by it)."""
    def replay(flat):
        from ..creation import arange
        where = offset
        for axis, (n, step) in enumerate(zip(shape, stride)):
            reach = [1] * len(shape)
            reach[axis] = n
            where = where + (arange(n, device=flat._backend) * step).reshape(reach)
        return flat[where]
    return replay
