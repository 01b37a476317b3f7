"""Index-driven ops along a dim: gather, scatter, scatter_add, index_select, masked_fill, take_along_dim."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..errors import TensorplugError
from ..tensor import Tensor
from ._util import c_order, checked_int, wrap_dim
from .arithmetic import Where, where_as


class IndexOutOfRangeError(TensorplugError, IndexError, RuntimeError):
    """An index past its dimension in index_select or index_add.

    torch raises IndexError or RuntimeError here depending on the input's rank, the dim and its
    layout (its internal kernel choice), so this is both: an ``except`` written for torch catches it."""


def first_out_of_range(index, size, negative_ok=False):
    """The first value of ``index`` (a Tensor) outside ``[0, size)`` (``[-size, size)`` when
    ``negative_ok``), or None: one min and one max over the array, as cheap as the lookup itself.

    torch reads -1 as an error in gather/scatter/index_select/index_add/embedding, and NumPy would
    silently read it as the last element, so every index argument passes through here first."""
    data = index._data
    if not data.size:
        return None
    xp = index._backend.xp
    low = -size if negative_ok else 0
    if int(xp.min(data)) >= low and int(xp.max(data)) < size:
        return None
    flat = xp.reshape(data, (-1,))
    # name the first offender in order, as torch does (this runs only on the error path)
    return int(flat[int(xp.argmax((flat < low) | (flat >= size)))])


def _check_index(name, input, dim, index, src=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"{name.split('_')[0]}(): Expected dtype int32/int64 for index, got {index._dtype}; "
                           f"use index.long()")
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    ishape = index._data.shape
    if index._data.ndim != n and not (n == 0 and index._data.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({index._data.ndim} vs {n})")
    for d, (i, s) in enumerate(zip(ishape, input._data.shape)):
        if d != axis and i > s:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(ishape)} to be "
                               f"smaller than self {list(input.shape)} apart from dimension {axis}")
    if isinstance(src, Tensor):
        sshape = src._data.shape
        if 0 < len(sshape) < len(ishape) and src._data.size > 1:
            # torch reads src's size along each of index's dims: a missing one is its IndexError
            # (a one-element src fails its rank check first)
            raise IndexError(f"{name}(): Dimension out of range: src has {len(sshape)} dimension(s), index "
                             f"has {len(ishape)}; give src the index's number of dimensions")
        if len(sshape) != len(ishape) or any(i > s for i, s in zip(ishape, sshape)):
            raise RuntimeError(f"Expected index {list(ishape)} to be smaller than self {list(input.shape)} "
                               f"apart from dimension {axis} and to be smaller size than src {list(sshape)}")
    size = input._data.shape[axis] if n else 1
    bad = first_out_of_range(index, size)
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size}")
    return axis


def _region(shape, ishape, axis):
    """The slice of the input that an index of ``ishape`` addresses (all of ``axis``)."""
    return tuple(slice(None) if d == axis else slice(0, i) for d, i in enumerate(ishape))


# The index ops save their index tensor (save_inputs): an in-place write to it before backward
# is then torch's "modified by an inplace operation" error, not a gradient sent to the wrong rows.

class Gather(Op):
    save_inputs = (1,)

    @staticmethod
    def forward(ctx, a, index, axis):
        ctx.axis = axis
        ctx.shape = a.shape
        region = _region(a.shape, index.shape, axis)
        return ctx.backend.take_along_axis(a[region], index, axis)

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors_list()
        zeros = Tensor._make(ctx.backend.zeros(ctx.shape, g._dtype), g._dtype, ctx.backend)
        return ScatterAdd.apply(zeros, index, g, axis=ctx.axis), None


class ScatterAdd(Op):
    save_inputs = (1,)

    @staticmethod
    def forward(ctx, a, index, src, axis):
        ctx.axis = axis
        src = src[tuple(slice(0, i) for i in index.shape)] if src.shape != index.shape else src
        return ctx.backend.add_along_axis(a, index, src, axis)

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors_list()
        gsrc = None
        if ctx.needs_grad(2):
            gsrc = Gather.apply(g, index, axis=ctx.axis)
            shape = ctx._shapes[2]
            if tuple(gsrc.shape) != tuple(shape):
                # src was larger than index: the unused part gets zero
                from ..ops.indexing import IndexAccumulate
                gsrc = IndexAccumulate.apply(gsrc, key=tuple(slice(0, i) for i in gsrc.shape), shape=shape)
        return g, None, gsrc


class Scatter(Op):
    save_inputs = (1,)

    @staticmethod
    def forward(ctx, a, index, src, axis):
        ctx.axis = axis
        backend = ctx.backend
        xp = backend.xp
        if not hasattr(src, "shape") or src.shape == ():
            src = xp.broadcast_to(xp.asarray(src, dtype=a.dtype), index.shape)
        elif src.shape != index.shape:
            src = src[tuple(slice(0, i) for i in index.shape)]
        region = _region(a.shape, index.shape, axis)
        out = backend.copy(a)
        backend.setitem(out, region, backend.put_along_axis(a[region], index, src, axis))
        return out

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors_list()
        ga = Scatter.apply(g, index, 0, axis=ctx.axis) if ctx.needs_grad(0) else None
        gsrc = None
        if ctx.needs_grad(2):
            gsrc = Gather.apply(g, index, axis=ctx.axis)
            shape = ctx._shapes[2]
            if shape is not None and tuple(gsrc.shape) != tuple(shape) and len(shape) == gsrc.ndim:
                from ..ops.indexing import IndexAccumulate
                gsrc = IndexAccumulate.apply(gsrc, key=tuple(slice(0, i) for i in gsrc.shape), shape=shape)
        return ga, None, gsrc


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j] = input[index[i][j]][j]`` along ``dim`` (index has input's ndim)."""
    axis = _check_index("gather", input, dim, index)
    if input._data.ndim == 0:
        return input.clone()
    return Gather.apply(input, index, axis=axis)


def _src(input, src, value):
    if src is None:
        src = value
    if isinstance(src, Tensor):
        if src._dtype is not input._dtype:
            raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype "
                               f"({input._dtype} vs {src._dtype})")
        return src
    return src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with ``src`` (a tensor or number) written at ``index`` along ``dim``."""
    if reduce is not None:
        if reduce == "add":
            return scatter_add(input, dim, index, src if isinstance(src, Tensor) else
                               input.new_full(index.shape, src))
        raise RuntimeError(f"scatter(): reduce={reduce!r} is not supported; use scatter_add or scatter_reduce")
    src = _src(input, src, value)
    axis = _check_index("scatter", input, dim, index, src)
    return Scatter.apply(input, index, src, axis=axis)


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, scatter_add, input, dim, index, src)
    src = _src(input, src, None)
    axis = _check_index("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, index, src, axis=axis)


def index_select(input, dim, index):
    """The slices of ``input`` at ``index`` (1-D integer tensor) along ``dim``."""
    from .indexing import IndexSelect
    if not isinstance(index, Tensor) or index._dtype not in (_dt.int64, _dt.int32) or index._data.ndim > 1:
        raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index, as a 1-D tensor; got "
                           f"{getattr(index, 'dtype', type(index).__name__)}; use index.long()")
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    size = input._data.shape[axis] if n else 1
    bad = first_out_of_range(index, size)
    if bad is not None:
        raise IndexOutOfRangeError(f"index out of range in self: index {bad} is out of bounds for dimension "
                                   f"{axis} with size {size} (index_select takes no negative indices)")
    if n == 0:
        return input.reshape(1).expand(index.numel()).reshape(index.shape) * 1
    idx = index._data if index._data.ndim else index._backend.xp.reshape(index._data, (1,))
    return IndexSelect.apply(input, key=(slice(None),) * axis + (idx, ...), indices=(index,))


class MaskedFill(Where):
    """``where(mask, value, input)``, contiguous as torch's result (NumPy's follows a strided input)."""

    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, cond, a, b):
        return c_order(ctx.backend, Where.forward(ctx, cond, a, b))


def masked_fill(input, mask, value):
    """``input`` with ``value`` where ``mask`` (bool, broadcastable) is true."""
    if not isinstance(mask, Tensor) or mask._dtype is not _dt.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}; use mask.bool()")
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value._data.ndim} dimension(s).")
        value = value.to(input._dtype)
    else:
        if input._dtype.category == _dt.INT:
            value = checked_int(value, input._dtype)  # uint8 takes -3 as 253 (numpy raised OverflowError)
        value = Tensor._make(input._backend.asarray(value, input._dtype), input._dtype, input._backend)
    out = where_as(MaskedFill, mask, value, input)
    if out._data.shape != input._data.shape:
        raise RuntimeError(f"masked_fill: mask of shape {list(mask.shape)} must broadcast to the input's "
                           f"shape {list(input.shape)}")
    return out


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` at ``indices`` along ``dim`` (of the flattened input when None)."""
    if not isinstance(indices, Tensor) or indices._dtype is not _dt.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{getattr(indices, 'dtype', type(indices).__name__)}; use indices.long()")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    n = input._data.ndim
    if indices._data.ndim != n:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {n} dimensions for input, and {indices._data.ndim} "
                           f"dimensions for indices")
    if n == 0:
        raise IndexError(f"take_along_dim(): Dimension specified as {dim} but tensor has no dimensions; "
                         f"use dim=None for a 0-d tensor")
    axis = wrap_dim(dim, n)
    ishape = list(indices._data.shape)
    shape = list(input._data.shape)
    for d in range(n):
        if d == axis:
            continue
        m = shape[d] if ishape[d] == 1 else ishape[d]
        shape[d] = ishape[d] = m
    ishape[axis] = indices._data.shape[axis]
    shape[axis] = input._data.shape[axis]
    if tuple(shape) != input._data.shape:
        input = input.expand(*shape)
    if tuple(ishape) != indices._data.shape:
        indices = indices.expand(*ishape)
    return gather(input, axis, _from_the_end(indices, shape[axis], axis))


def _from_the_end(indices, size, axis):
    """take_along_dim's ``indices`` with each negative one read from the end, as torch reads them.

    torch wraps every value modulo ``size``, so an index past the end silently picks a row from
    the start; tensorplug raises gather's error for those instead (docs/differences.md)."""
    bad = first_out_of_range(indices, size, negative_ok=True)
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size} "
                           f"(take_along_dim reads indices in [-{size}, {size}))")
    if not indices.numel() or int(indices._backend.xp.min(indices._data)) >= 0:
        return indices
    return indices + (indices < 0).to(indices.dtype) * size


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: ``(n, ndim)`` int64, or one 1-D tensor per dim with ``as_tuple``."""
    backend = input._backend
    xp = backend.xp
    data = input._data if input._data.ndim else xp.reshape(input._data, (1,))
    parts = [backend.astype(p, _dt.int64) for p in xp.nonzero(data)]
    if as_tuple:
        return tuple(Tensor._make(p, _dt.int64, backend) for p in parts)
    if input._data.ndim == 0:
        return Tensor._make(backend.zeros((parts[0].shape[0], 0), _dt.int64), _dt.int64, backend)
    return Tensor._make(xp.stack(parts, axis=1), _dt.int64, backend)


def argwhere(input):
    return nonzero(input)


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is true, as a 1-D tensor (both broadcast)."""
    if not isinstance(mask, Tensor) or mask._dtype is not _dt.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask; use mask.bool()")
    from ._util import broadcast_error
    shape = input._data.shape
    try:
        full = tuple(input._backend.xp.broadcast_arrays(input._data, mask._data)[0].shape)
    except ValueError:
        raise broadcast_error(shape, mask._data.shape) from None
    x = input.expand(*full) if full != shape else input
    m = mask.expand(*full) if full != mask._data.shape else mask
    return x[m]


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim`` (repeats accumulate)."""
    from .indexing import IndexAccumulate
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    if not isinstance(index, Tensor) or index._data.ndim > 1 or index._dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index, as a 1-D tensor, but got: "
                           f"{getattr(index, 'dtype', type(index).__name__)}; use index.long()")
    size = input._data.shape[axis] if n else 1
    bad = first_out_of_range(index, size)
    if bad is not None:
        raise IndexOutOfRangeError(f"index out of range in self: index {bad} is out of bounds for dimension "
                                   f"{axis} with size {size} (index_add takes no negative indices)")
    if alpha != 1:
        source = source * alpha
    if source._dtype is not input._dtype:
        raise RuntimeError(f"index_add_(): self ({input._dtype}) and source ({source._dtype}) must have the "
                           f"same scalar type")
    expected = input._data.shape[:axis] + (index.numel(),) + input._data.shape[axis + 1:]
    if source._data.shape != expected and not (source._data.ndim == 0 and index.numel() == 1):
        raise RuntimeError(f"index_add_(): source tensor shape {list(source.shape)} must match self tensor shape "
                           f"{list(input.shape)}, excluding the specified dimension {axis}, with "
                           f"{index.numel()} slices along it")
    key = (slice(None),) * axis + (index._data,)
    return input + IndexAccumulate.apply(source, key=key, shape=input._data.shape, indices=(index,), wide=True)


def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    from .indexing import IndexPut
    if not isinstance(index, Tensor) or index._dtype is not _dt.int64:
        raise IndexError(f"index_fill_(): Expected dtype int64 for index, got "
                         f"{getattr(index, 'dtype', type(index).__name__)}; use index.long()")
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    size = input._data.shape[axis] if n else 1
    # torch's index_fill reads a negative index from the end, as Python does
    bad = first_out_of_range(index, size, negative_ok=True)
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {axis} with size {size}")
    if not isinstance(value, Tensor):
        if input._dtype.category == _dt.INT:
            value = checked_int(value, input._dtype)
        value = Tensor._make(input._backend.asarray(value, input._dtype), input._dtype, input._backend)
    key = (slice(None),) * axis + (index._data,)
    return IndexPut.apply(input, value.to(input._dtype), key=key, indices=(index,))
