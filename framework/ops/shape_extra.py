"""More shape, join and split functions of torch (atleast_nd, block_diag, tensor_split, rot90, the
``*_scatter`` family ...), each written with existing differentiable ops: views stay views, gradients
follow from the ops they are made of."""
from __future__ import annotations

import itertools

from .. import dtypes as _dt
from ..tensor import Tensor
from ._util import wrap_dim
from .join import cat, chunk, split, stack
from .shape import broadcast_shapes, diag, flip, narrow, reshape, transpose

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_tensors", "block_diag", "column_stack", "dstack",
           "hsplit", "vsplit", "dsplit", "tensor_split", "split_with_sizes", "unsafe_chunk", "unsafe_split",
           "unsafe_split_with_sizes", "ravel", "rot90", "diagflat", "diagonal_scatter", "select_scatter",
           "slice_scatter", "narrow_copy", "unravel_index", "combinations", "is_same_size"]


def _atleast(tensors, fix):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(fix(t) for t in tensors[0])
    if len(tensors) == 1:
        return fix(tensors[0])
    return tuple(fix(t) for t in tensors)


def _to_1d(t):
    return t.reshape(1) if t._data.ndim == 0 else t


def _to_2d(t):
    return t.reshape(1, -1) if t._data.ndim < 2 else t


def _to_3d(t):
    n = t._data.ndim
    if n == 0:
        return t.reshape(1, 1, 1)
    if n == 1:
        return t.reshape(1, -1, 1)
    return t.unsqueeze(-1) if n == 2 else t


def atleast_1d(*tensors):
    """Each tensor with at least one dim (a 0-d tensor becomes shape (1,)); one tensor in, one out."""
    return _atleast(tensors, _to_1d)


def atleast_2d(*tensors):
    """Each tensor with at least two dims (shape (n,) becomes (1, n))."""
    return _atleast(tensors, _to_2d)


def atleast_3d(*tensors):
    """Each tensor with at least three dims ((n,) becomes (1, n, 1), (m, n) becomes (m, n, 1))."""
    return _atleast(tensors, _to_3d)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def _promoted(tensors):
    dtype = tensors[0]._dtype
    for t in tensors[1:]:
        dtype = _dt.promote_types(dtype, t._dtype)
    return dtype


def block_diag(*tensors):
    """A block-diagonal matrix of the (0-, 1- or 2-D) tensors, in the promoted dtype."""
    from ..creation import zeros
    if not tensors:
        return zeros(1, 0)
    blocks = []
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions; flatten or split it into matrices first")
        blocks.append(_to_2d(t))
    dtype = _promoted(blocks)
    device = blocks[0]._backend
    width = 0
    for b in blocks:
        width += b.shape[1]
    rows, left = [], 0
    for b in blocks:
        r, c = b.shape
        rows.append(cat([zeros(r, left, dtype=dtype, device=device), b.to(dtype),
                         zeros(r, width - left - c, dtype=dtype, device=device)], 1))
        left += c
    return cat(rows, 0)


def column_stack(tensors):
    """The tensors as columns side by side (0-D and 1-D ones become columns)."""
    return cat([t.reshape(-1, 1) if t._data.ndim < 2 else t for t in tensors], 1)


def dstack(tensors):
    """The tensors stacked along a third dim (after atleast_3d)."""
    return cat([_to_3d(t) for t in tensors], 2)


def _sections_or_indices(value):
    if isinstance(value, Tensor):
        if value._dtype.category != _dt.INT:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have integer dtype, but got "
                               f"{value._dtype}")
        if value._data.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {value._data.ndim} dims")
        return value.item() if value._data.ndim == 0 else value.tolist()
    return value if isinstance(value, int) else list(value)


def _split_spec(name, positional, *keywords):
    """The sections or indices given positionally or as one of torch's keywords (``sections=``, ``indices=``,
    ``tensor_indices_or_sections=``: one per overload)."""
    given = [v for v in (positional,) + keywords if v is not None]
    if len(given) == 1:
        return given[0]
    if given:
        raise TypeError(f"{name}() got multiple values for argument 'sections'")
    raise TypeError(f'{name}() missing 1 required positional arguments: "sections"')


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    """Views of ``input`` split into ``n`` near-equal parts (the first ``size % n`` one longer) or at the
    given indices, along ``dim``."""
    indices_or_sections = _split_spec("tensor_split", indices_or_sections, sections, indices,
                                      tensor_indices_or_sections)
    if input._data.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = wrap_dim(dim, input._data.ndim)
    size = input.shape[d]
    spec = _sections_or_indices(indices_or_sections)
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        small, extra = divmod(size, spec)
        bounds = [0]
        for k in range(spec):
            bounds.append(bounds[-1] + small + (1 if k < extra else 0))
    else:
        bounds = [0] + [min(max(i if i >= 0 else i + size, 0), size) for i in spec] + [size]
    return tuple(narrow(input, d, lo, max(hi, lo) - lo) for lo, hi in zip(bounds, bounds[1:]))


def _directional_split(name, input, sections, dim, min_dims):
    n = input._data.ndim
    if n < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor "
                           f"with {n} dimensions!")
    spec = _sections_or_indices(sections)
    if isinstance(spec, int) and (spec == 0 or input.shape[dim] % spec):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                           f"dimension {input.shape[dim]} is not divisible by the split_size {spec}!")
    return tensor_split(input, spec, dim)


def hsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    """Split along columns (dim 1; dim 0 of a 1-D tensor)."""
    indices_or_sections = _split_spec("hsplit", indices_or_sections, sections, indices)
    return _directional_split("hsplit", input, indices_or_sections, 0 if input._data.ndim == 1 else 1, 1)


def vsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    """Split along rows (dim 0) of a tensor with at least 2 dims."""
    indices_or_sections = _split_spec("vsplit", indices_or_sections, sections, indices)
    return _directional_split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections=None, *, sections=None, indices=None):
    """Split along depth (dim 2) of a tensor with at least 3 dims."""
    indices_or_sections = _split_spec("dsplit", indices_or_sections, sections, indices)
    return _directional_split("dsplit", input, indices_or_sections, 2, 3)


def split_with_sizes(input, split_sizes, dim=0):
    """Split into pieces of the given sizes (which must add up to the dim's size)."""
    total = 0
    for s in split_sizes:
        total += s
    size = input.shape[wrap_dim(dim, input._data.ndim)]
    if total != size:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size "
                           f"at dimension {dim}), but got split_sizes={list(split_sizes)}")
    return split(input, list(split_sizes), dim)


unsafe_chunk = chunk
unsafe_split = split
unsafe_split_with_sizes = split_with_sizes


def ravel(input):
    """The elements as a 1-D tensor (a view where possible)."""
    return reshape(input, -1)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first towards the second."""
    n = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    d0, d1 = wrap_dim(dims[0], n), wrap_dim(dims[1], n)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()


def diagflat(input, offset=0):
    """A square matrix with ``input``'s elements (flattened) on its ``offset`` diagonal."""
    return diag(input.reshape(-1), offset)


def _scatter_into(input, src, region, name):
    """A copy of ``input`` whose ``region`` view holds ``src``: a scatter into the region's flat places
    (no in-place write, so every backend can differentiate it; gradients: src's to its region)."""
    from ..creation import arange
    places = region(arange(input.numel(), device=input._backend).reshape(input.shape))
    if tuple(src.shape) != tuple(places.shape):
        raise RuntimeError(f"{name}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(places.shape)}")
    flat = input.reshape(-1).scatter(0, places.reshape(-1), src.reshape(-1).to(input._dtype))
    return flat.reshape(input.shape)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with its ``offset`` diagonal (over ``dim1``, ``dim2``) replaced by ``src``."""
    return _scatter_into(input, src, lambda t: t.diagonal(offset, dim1, dim2), "diagonal_scatter")


def select_scatter(input, src, dim, index):
    """``input`` with its ``index``-th slice along ``dim`` replaced by ``src``."""
    return _scatter_into(input, src, lambda t: t.select(dim, index), "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with the slice ``start:end:step`` along ``dim`` replaced by ``src``."""
    d = wrap_dim(dim, input._data.ndim)
    key = (slice(None),) * d + (slice(start, end, step),)
    return _scatter_into(input, src, lambda t: t[key], "slice_scatter")


def narrow_copy(input, dim, start, length):
    """``narrow`` as a new tensor (not a view)."""
    return narrow(input, dim, start, length).clone()


def unravel_index(indices, shape):
    """The coordinates in ``shape`` of flat ``indices`` (a tuple of int64 tensors, one per dim)."""
    from ..tensor import tensor
    if not isinstance(indices, Tensor):
        indices = tensor(indices)
    if indices._dtype.category != _dt.INT:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}; convert them "
                        f"with .long()")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    for s in shape:
        if s < 0:
            raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    rest = indices.long()
    coords = []
    for size in reversed(shape):
        coords.append(rest % size if size else rest * 0)
        rest = rest // size if size else rest
    return tuple(reversed(coords))


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of a 1-D tensor's elements, one per row (itertools' order)."""
    from ..creation import empty
    from ..tensor import tensor
    if input._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}; flatten the input first")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return empty(0, dtype=input._dtype, device=input._backend)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return empty(0, r, dtype=input._dtype, device=input._backend)
    index = tensor(rows, device=input._backend)
    return stack([input.index_select(0, index[:, j]) for j in range(r)], 1)


def is_same_size(input, other) -> bool:
    """Whether the two tensors have the same shape."""
    return tuple(input.shape) == tuple(other.shape)


def _bind():
    from . import bind
    names = ("tensor_split", "hsplit", "vsplit", "dsplit", "split_with_sizes", "unsafe_chunk", "unsafe_split",
             "unsafe_split_with_sizes", "ravel", "rot90", "diagflat", "diagonal_scatter", "select_scatter",
             "slice_scatter", "narrow_copy", "is_same_size")
    bind({name: globals()[name] for name in names if name not in Tensor.__dict__})


_bind()
