"""More index-driven ops: take / put, index_copy, index_put, select, scatter_reduce, masked_scatter. Each checks its index as torch does
(one min and one max over it) before NumPy could read -1 as the last element, and is written with the
indexing ops, so gradients flow and an index written in place before backward is torch's error."""
from __future__ import annotations

import math

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import wrap_dim
from .gather import _check_index, first_out_of_range, gather, scatter, scatter_add
from .arithmetic import where
from .indexing import IndexAccumulate, IndexPut

__all__ = ["take", "put", "index_copy", "index_put", "select", "scatter_reduce", "masked_scatter"]


def _long_index(name, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype is not _dt.int64:
        raise RuntimeError(f"{name}(): Expected a long tensor for index, but got {_dt.scalar_type_name(index._dtype)}; "
                           f"use index.long()")


def _flat_index(name, input, index):
    """``index`` checked against the flattened ``input`` (negatives count from the end, as in torch)."""
    _long_index(name, index)
    n = input.numel()
    bad = first_out_of_range(index, n, negative_ok=True)
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return index.reshape(-1)


def take(input, index):
    """The elements of ``input`` read as 1-D at ``index``; the result has ``index``'s shape.

    Example:
        >>> tensorplug.take(tensorplug.tensor([[4, 3], [5, 6]]), tensorplug.tensor([0, -1]))
        tensor([4, 6])
    """
    flat = _flat_index("take", input, index)
    return input.reshape(-1)[flat].reshape(index.shape)


def put(input, index, source, accumulate=False):
    """A copy of ``input`` with ``source`` written (or added) at ``index`` of the flattened tensor.

    Example:
        >>> tensorplug.zeros(2, 2).put(tensorplug.tensor([0, -1]), tensorplug.tensor([1.0, 2.0]))
        tensor([[1., 0.],
                [0., 2.]])
    """
    flat = _flat_index("put_", input, index)
    if source.numel() != index.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    values = source.reshape(-1).to(input._dtype)
    key = (flat._data,)
    if accumulate:
        added = IndexAccumulate.apply(values, key=key, shape=(input.numel(),), indices=(index,))
        return input + added.reshape(input.shape)
    return IndexPut.apply(input.reshape(-1), values, key=key, indices=(index,)).reshape(input.shape)


def index_copy(input, dim, index, source):
    """A copy of ``input`` whose slices at ``index`` along ``dim`` are ``source``'s, in order.

    Example:
        >>> tensorplug.zeros(3, 2).index_copy(0, tensorplug.tensor([2]), tensorplug.ones(1, 2))
        tensor([[0., 0.],
                [0., 0.],
                [1., 1.]])
    """
    _long_index("index_copy_", index)
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    if index._data.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index._data.ndim})")
    expected = (index.numel(),) if n == 0 else input._data.shape[:axis] + (index.numel(),) + input._data.shape[axis + 1:]
    if source._data.ndim != n:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality "
                         f"must match. Source dimensionality ({source._data.ndim}), destination dimensionality "
                         f"({n}); give source the shape {list(expected)}")
    if source._data.shape != expected and n:
        raise IndexError(f"index_copy_(): Number of indices ({index.numel()}) should be equal to "
                         f"source.size(dim) ({source.shape[axis] if source._data.ndim > axis else 1}), and source "
                         f"must have self's shape {list(input.shape)} elsewhere; got source {list(source.shape)}")
    size = input._data.shape[axis] if n else 1
    bad = first_out_of_range(index, size)
    if bad is not None:
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {axis} with size {size} "
                         f"(index_copy takes no negative indices)")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_dt.scalar_type_name(input._dtype)} and (source) {_dt.scalar_type_name(source._dtype)}; "
                           f"convert source with .to({input._dtype})")
    key = (slice(None),) * axis + (index.reshape(-1)._data,)
    value = source.reshape(expected)
    return IndexPut.apply(input, value, key=key, indices=(index,))


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written (or, with ``accumulate``, added) at ``input[indices]``.

    Negative indices count from the end, as in ``x[indices]``.

    Example:
        >>> tensorplug.zeros(3).index_put((tensorplug.tensor([0, -1]),), tensorplug.tensor(5.0))
        tensor([5., 0., 5.])
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, index_put, input, indices, values, accumulate)
    from .indexing import convert_key, _index_error
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    key = convert_key(input, tuple(indices))
    tensors = tuple(i for i in indices if isinstance(i, Tensor))
    if not isinstance(values, Tensor):
        values = Tensor._make(input._backend.asarray(values, input._dtype), input._dtype, input._backend)
    if values._dtype is not input._dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_dt.scalar_type_name(input._dtype)} for the destination and "
                           f"{_dt.scalar_type_name(values._dtype)} for the source; convert the values with "
                           f".to({input._dtype}) (x[i] = v casts)")
    try:
        if not accumulate:
            return IndexPut.apply(input, values, key=key, indices=tensors)
        target_shape = input._backend.getitem(input._data, key).shape
        added = IndexAccumulate.apply(values.expand(*target_shape), key=key, shape=input._data.shape,
                                      indices=tensors)
    except IndexError as exc:
        raise _index_error(input, exc) from None
    return input + added


def select(input, dim, index):
    """The slice of ``input`` at ``index`` along ``dim`` (that dim removed); a view.

    Example:
        >>> tensorplug.arange(6).reshape(2, 3).select(1, -1)
        tensor([2, 5])
    """
    if input._data.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    axis = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[axis]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
                         f"dimension {axis}")
    return input[(slice(None),) * axis + (index,)]


# scatter_reduce's reductions as the backend's reduce_along_axis names them (mean: a sum, then a division)
_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


class ScatterReduce(Op):
    """``src`` reduced into a copy of ``a`` at ``index`` along ``axis`` (the backend's reduce_along_axis)."""

    save_inputs = (0, 1, 2)
    save_output = True

    @staticmethod
    def forward(ctx, a, index, src, axis, reduce, include_self):
        ctx.axis = axis
        ctx.reduce = reduce
        ctx.include_self = include_self
        backend = ctx.backend
        region = tuple(slice(0, s) for s in index.shape)
        values = src[region] if src.shape != index.shape else src
        out = backend.reduce_along_axis(a, index, values, axis, _UFUNCS[reduce], include_self)
        if reduce != "mean":
            return out
        start = backend.zeros(a.shape, backend.dtype_of(a)) + (1 if include_self else 0)
        count = backend.add_along_axis(start, index, backend.zeros(index.shape, backend.dtype_of(a)) + 1, axis)
        count = backend.xp.maximum(count, 1)
        if backend.dtype_of(a).category == _dt.INT:
            return out // count  # torch floors an integer mean
        return out / count

    @staticmethod
    def backward(ctx, g):
        a, index, src = ctx.saved_tensors_list()
        out = ctx.output()
        src = src[tuple(slice(0, s) for s in index.shape)] if src.shape != index.shape else src
        gself, gsrc = _SCATTER_GRADS[ctx.reduce](ctx, g, a, index, src, out)
        if not ctx.include_self:
            gself = scatter(gself, ctx.axis, index, 0.0)  # scattered positions did not use self
        if gsrc is not None and tuple(gsrc.shape) != tuple(ctx._shapes[2] or gsrc.shape):
            gsrc = IndexAccumulate.apply(gsrc, key=tuple(slice(0, s) for s in gsrc.shape), shape=ctx._shapes[2])
        return gself, None, gsrc


def _sum_grads(ctx, g, a, index, src, out):
    return g, gather(g, ctx.axis, index)


def _mean_grads(ctx, g, a, index, src, out):
    start = g.new_ones(g.shape) if ctx.include_self else g.new_zeros(g.shape)
    count = scatter_add(start, ctx.axis, index, g.new_ones(index.shape)).clamp(min=1)
    return g / count, gather(g / count, ctx.axis, index)


def _extreme_grads(ctx, g, a, index, src, out):
    # torch's rule: the gradient is shared evenly by every element equal to the result (self counted even
    # with include_self=False; its own share is dropped afterwards)
    axis = ctx.axis
    self_hit = (a == out).to(g.dtype)
    src_hit = (src == gather(out, axis, index)).to(g.dtype)
    share = g / scatter_add(self_hit, axis, index, src_hit)
    return self_hit * share, src_hit * gather(share, axis, index)


def _prod_grads(ctx, g, a, index, src, out):
    # torch's rule: a zero factor's gradient is the product of the others when it is the only zero
    axis = ctx.axis
    nonzero_self = a.masked_fill(a == 0, 1)
    gself = g * scatter_reduce(nonzero_self, axis, index, src, "prod", include_self=ctx.include_self) / nonzero_self
    src_zero = src == 0
    zeros_there = gather(scatter_add(g.new_zeros(g.shape), axis, index, src_zero.to(g.dtype)), axis, index)
    single_zero = src_zero & (zeros_there == 1)
    without_it = scatter_reduce(a, axis, index, src.masked_fill(single_zero, 1), "prod",
                                include_self=ctx.include_self)
    gsrc = where(single_zero, gather(g * without_it, axis, index),
                 gather(g * out, axis, index) / src.masked_fill(src_zero, 1))
    return gself, gsrc


_SCATTER_GRADS = {"sum": _sum_grads, "mean": _mean_grads, "prod": _prod_grads, "amax": _extreme_grads,
                  "amin": _extreme_grads}


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of ``input`` with ``src`` reduced in at ``index`` along ``dim``: "sum", "prod", "mean", "amax"
    or "amin" (``include_self=False`` leaves ``input``'s value out where something is scattered).

    Example:
        >>> tensorplug.zeros(2).scatter_reduce(0, tensorplug.tensor([0, 0, 1]), tensorplug.tensor([1., 3., 2.]),
        ...                                     "amax", include_self=False)
        tensor([3., 2.])
    """
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # torch's undocumented aliases
    if reduce not in _UFUNCS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not isinstance(src, Tensor) or src._dtype is not input._dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype "
                           f"({input._dtype} vs {getattr(src, 'dtype', type(src).__name__)})")
    axis = _check_index("scatter_reduce", input, dim, index, src)
    if input._data.ndim == 0:
        input, index, src = input.reshape(1), index.reshape(1), src.reshape(1)
        return ScatterReduce.apply(input, index, src, axis=0, reduce=reduce, include_self=include_self)[0]
    return ScatterReduce.apply(input, index, src, axis=axis, reduce=reduce, include_self=include_self)


class MaskedScatter(Op):
    """``a`` (broadcast with ``mask``) with the first ``count`` elements of ``source``, in order, written
    where ``mask`` is true; the rest of ``source`` is unused (its gradient is zero)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, mask, a, source, shape, count):
        ctx.count = count
        xp = ctx.backend.xp
        out = ctx.backend.copy(xp.broadcast_to(a, shape))
        values = xp.reshape(source, (-1,))[:count]
        ctx.backend.setitem(out, xp.broadcast_to(mask, shape), values)
        return out

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors_list()
        mask = mask.expand(g.shape)
        ga = g.masked_fill(mask, 0) if ctx.needs_grad(1) else None
        gsource = None
        if ctx.needs_grad(2):
            from .join import cat
            shape = ctx._shapes[2]
            rest = g.new_zeros(math.prod(shape) - ctx.count)
            gsource = cat([g[mask], rest]).reshape(shape)
        return None, ga, gsource


def masked_scatter(input, mask, source):
    """A copy of ``input`` whose elements where ``mask`` (bool, broadcast with ``input``) is true are the
    elements of ``source`` read in order (``source`` needs at least as many as ``mask`` has true).

    Example:
        >>> tensorplug.zeros(4).masked_scatter(tensorplug.tensor([True, False, True, False]),
        ...                                    tensorplug.tensor([1.0, 2.0, 3.0]))
        tensor([1., 0., 2., 0.])
    """
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter(): argument 'source' (position 2) must be Tensor, not "
                        f"{type(source).__name__}")
    if not isinstance(mask, Tensor) or mask._dtype is not _dt.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{_mask_dtype_name(mask)}; use mask.bool()")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{_dt.scalar_type_name(input._dtype)} and {_dt.scalar_type_name(source._dtype)}; "
                           f"convert source with .to({input._dtype})")
    from ._util import broadcast_error
    try:
        shape = tuple(input._backend.xp.broadcast_arrays(input._data, mask._data)[0].shape)
    except ValueError:
        raise broadcast_error(input._data.shape, mask._data.shape) from None
    backend = input._backend
    count = int(backend.xp.sum(backend.astype(backend.xp.broadcast_to(mask._data, shape), _dt.int64)))
    if source.numel() < count:
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask "
                           f"({source.numel()} < {count}); give source at least {count} elements")
    return MaskedScatter.apply(mask, input, source, shape=shape, count=count)


def _mask_dtype_name(mask):
    return _dt.scalar_type_name(mask._dtype) if isinstance(mask, Tensor) else type(mask).__name__


def masked_scatter_(self, mask, source):
    """In-place ``masked_scatter``: ``mask`` must broadcast to ``self``'s shape; returns self."""
    from .inplace import make_inplace
    if isinstance(mask, Tensor):
        mask.expand(*self.shape)  # torch's error for a mask that does not broadcast to self
    return make_inplace(masked_scatter, "masked_scatter_")(self, mask, source)


def _bind():
    from . import bind
    from .inplace import make_inplace
    bind({"take": take, "put": put, "index_copy": index_copy, "index_put": index_put, "select": select,
          "scatter_reduce": scatter_reduce, "scatter_reduce_": make_inplace(scatter_reduce, "scatter_reduce_"),
          "put_": make_inplace(put, "put_"), "index_copy_": make_inplace(index_copy, "index_copy_"),
          "index_put_": make_inplace(index_put, "index_put_"), "masked_scatter": masked_scatter,
          "masked_scatter_": masked_scatter_})


_bind()
