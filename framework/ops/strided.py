"""``as_strided``: a view of a tensor's storage with sizes, strides and an offset given in elements; and
``resize_``, which re-reads that storage in a new shape.

The storage is the memory of the tensor a view was made from (its root), read as a flat run of
elements; a tensor that is no view is its own storage. The view writes through to that storage, as
torch's. Its gradient is torch's ``as_strided_backward``: the output gradient added into a zero storage
at the positions the view read (overlapping positions sum), then read back at the input's positions.
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import mark_view

__all__ = ["as_strided", "resize_", "resize_as_"]


class AsStrided(Op):
    """The view of ``storage`` (the flat memory of the input ``a``'s root) at ``size``/``stride``/``offset``;
    ``inner`` holds the storage position of each element of ``a`` for the backward."""

    @staticmethod
    def forward(ctx, a, storage, size, stride, offset, inner):
        ctx.geometry, ctx.inner, ctx.length, ctx.shape = (size, stride, offset), inner, storage.shape[0], a.shape
        itemsize = storage.dtype.itemsize
        return ctx.backend.as_strided_writeable(storage[offset:], size, tuple(s * itemsize for s in stride))

    @staticmethod
    def backward(ctx, g):
        from .indexing import IndexAccumulate
        backend = g._backend
        flat = IndexAccumulate.apply(g.reshape(-1), key=(_positions(backend, *ctx.geometry),), shape=(ctx.length,))
        return flat[Tensor._make(ctx.inner, _dt.int64, backend)].reshape(ctx.shape)


def _positions(backend, size, stride, offset):
    """The storage index of every element of a (size, stride, offset) view, in its row-major order."""
    xp = backend.xp
    index = xp.asarray(offset, dtype=backend.native_dtype(_dt.int64))
    for n, s in zip(size, stride):
        index = xp.reshape(index, index.shape + (1,)) + backend.arange(0, n, 1, _dt.int64) * s
    return xp.reshape(index, (-1,))


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s storage: element ``i`` at storage index ``storage_offset + sum(i[k] * stride[k])``
    (``storage_offset`` defaults to ``input``'s own). Writes through it reach ``input``'s storage.
    ``Tensor.as_strided`` and ``tensorplug.as_strided``.

    Example:
        >>> tensorplug.arange(6.).as_strided((2, 2), (1, 2), 1)
        tensor([[1., 3.],
                [2., 4.]])
    """
    backend = input._backend
    if backend.as_strided_writeable is None:
        raise RuntimeError(f"as_strided needs a backend with strided views; backend '{backend.name}' has none: "
                           f"move the tensor to one that has (tensor.to('cpu'))")
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                           f"{list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)}")
    root = input if input._view is None else input._view[0]
    if not root.is_contiguous():
        raise RuntimeError("as_strided of a tensor whose storage is not laid out contiguously is not supported; "
                           "call .contiguous() first")
    storage = backend.xp.reshape(root._data, (-1,))
    own = input.storage_offset()
    offset = own if storage_offset is None else int(storage_offset)
    itemsize = input._dtype.itemsize
    needed = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if needed > storage.shape[0]:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {itemsize} requiring a storage size of {needed * itemsize} are out of bounds "
                           f"for storage of size {storage.shape[0] * itemsize}")
    element = input._data.dtype.itemsize
    inner = _positions(backend, tuple(input._data.shape), tuple(s // element for s in input._data.strides), own)
    out = AsStrided.apply(input, storage=storage, size=size, stride=stride, offset=offset, inner=inner)
    return mark_view(out, input, lambda t: as_strided(t, size, stride, offset))


def resize_(self, *sizes, memory_format=None):
    """Give ``self`` the shape ``sizes`` in place, reading its storage from its own offset on (torch's): the
    elements it had keep their places in row-major order; growing past the storage moves ``self`` to new
    memory whose extra elements are zero (torch leaves them uninitialised). Views of the old storage keep
    reading it."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(n) for n in sizes)
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
    backend = self._backend
    xp = backend.xp
    count = 1
    for n in sizes:
        count *= n
    root = self if self._view is None else self._view[0]
    if backend.as_strided_writeable is not None and root.is_contiguous():
        storage, offset = xp.reshape(root._data, (-1,)), self.storage_offset()
    else:  # no strided views: the tensor's own elements are all the storage it has
        storage, offset = xp.reshape(self._data, (-1,)), 0
    if offset + count <= storage.shape[0]:
        data = storage[offset:offset + count]
    else:
        data = backend.zeros((count,), self._dtype)
        kept = min(count, storage.shape[0] - offset)
        data[:kept] = storage[offset:offset + kept]
        self._view = None  # new memory: no longer a view of the old storage
    self._data = xp.reshape(data, sizes)
    self._version[0] += 1
    return self


def resize_as_(self, other, memory_format=None):
    """``self.resize_(other.shape)``."""
    return resize_(self, tuple(other.shape))


def _bind():
    from . import bind
    bind({"as_strided": as_strided, "resize_": resize_, "resize_as_": resize_as_})


_bind()
