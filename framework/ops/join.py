"""Joining and splitting: cat, stack, split, chunk, unbind."""
from __future__ import annotations

from ..autograd.function import Op
from ..tensor import Tensor
from .. import dtypes as _dt
from ._util import mark_view, wrap_dim


class Cat(Op):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return ctx.backend.xp.concat(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        from .indexing import GetItem
        lead = (slice(None),) * ctx.axis
        out = []
        start = 0
        for size in ctx.sizes:
            out.append(GetItem.apply(g, key=lead + (slice(start, start + size), ...)))
            start += size
        return tuple(out)


class Stack(Op):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return ctx.backend.xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        from .indexing import GetItem
        lead = (slice(None),) * ctx.axis
        return tuple(GetItem.apply(g, key=lead + (i, ...)) for i in range(g._data.shape[ctx.axis]))


def _tensors(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not Tensor; "
                        f"wrap it in a list: {name}([t], dim)")
    tensors = list(tensors)
    if not tensors:
        if name == "stack":
            raise RuntimeError("stack expects a non-empty TensorList")
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    first = tensors[0]
    dt = first._dtype
    if any(t._dtype is not dt for t in tensors):
        out_dt = dt
        for t in tensors[1:]:
            out_dt = _dt.promote_types(out_dt, t._dtype)
        tensors = [t if t._dtype is out_dt else t.to(out_dt) for t in tensors]
    return tensors


def cat(tensors, dim=0, *, out=None):
    """Concatenate tensors along an existing ``dim`` (other sizes must match).

    Example:
        >>> tensorplug.cat([tensorplug.zeros(1, 2), tensorplug.ones(2, 2)]).shape
        tensorplug.Size([3, 2])
    """
    tensors = _tensors(tensors, "cat")
    # torch skips legacy 1-D empty tensors
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    if ref._data.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated; "
                           "use stack, or unsqueeze it first")
    axis = wrap_dim(dim, ref._data.ndim)
    for i, t in enumerate(kept):
        if t._data.ndim != ref._data.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref._data.ndim} and "
                               f"{t._data.ndim}")
        for d, (a, b) in enumerate(zip(ref._data.shape, t._data.shape)):
            if d != axis and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size "
                                   f"{a} but got size {b} for tensor number {i} in the list.")
    if len(kept) == 1:
        return kept[0] * 1 if kept[0]._requires_grad else kept[0].clone()
    return Cat.apply(*kept, axis=axis)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """Join tensors of equal shape along a new ``dim``."""
    tensors = _tensors(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    axis = wrap_dim(dim, len(shape) + 1)
    return Stack.apply(*tensors, axis=axis)


def hstack(tensors):
    tensors = _tensors(tensors, "hstack")
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    tensors = [t.reshape(1, -1) if t._data.ndim < 2 else t for t in _tensors(tensors, "vstack")]
    return cat(tensors, 0)


def _pieces(x, axis, sizes):
    from .indexing import GetItem
    lead = (slice(None),) * axis
    out = []
    start = 0
    for size in sizes:
        key = lead + (slice(start, start + size), ...)
        out.append(mark_view(GetItem.apply(x, key=key), x, lambda t, key=key: GetItem.apply(t, key=key)))
        start += size
    return tuple(out)


def split(tensor, split_size_or_sections, dim=0):
    """Split into pieces of ``split_size`` (the last may be smaller) or of the listed sizes; views."""
    if tensor._data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = wrap_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if n == 0:
            return (tensor,) if size == 0 else _pieces(tensor, axis, [0])
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                               f"size at dimension {axis}), but got split_sizes={sizes}")
    return _pieces(tensor, axis, sizes)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of equal size (the last may be smaller; there may be fewer)."""
    if not isinstance(chunks, int) or chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    axis = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    size = max(-(-n // chunks), 1) if n else 0
    if n == 0:
        return _pieces(input, axis, [0] * chunks)
    return split(input, size, axis)


def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple of views (the dim removed)."""
    from .indexing import GetItem
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    axis = wrap_dim(dim, input._data.ndim)
    lead = (slice(None),) * axis
    out = []
    for i in range(input._data.shape[axis]):
        key = lead + (i, ...)
        out.append(mark_view(GetItem.apply(input, key=key), input, lambda t, key=key: GetItem.apply(t, key=key)))
    return tuple(out)
