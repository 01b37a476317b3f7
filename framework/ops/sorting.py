"""sort, argsort, topk, msort: indices from the backend, values by a differentiable gather."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import wrap_dim, write_out

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (int64). NaN sorts as the largest value, as torch's: last
    ascending, first descending."""
    xp = input._backend.xp
    axis = wrap_dim(dim, input._data.ndim)  # a 0-d tensor takes dim -1 or 0 only, as torch
    if input._data.ndim == 0:
        return Tensor._make(input._backend.zeros((), _dt.int64), _dt.int64, input._backend)
    data = input._data
    if descending:
        # negate rather than pass descending= (numpy lacks it); a stable sort keeps ties in order, as torch does
        if input._dtype.category < _dt.FLOAT:
            data = input._backend.astype(data, _dt.int64)
        data = -data
    elif input._dtype is _dt.bool_:
        data = input._backend.astype(data, _dt.uint8)
    idx = xp.argsort(data, axis=axis, stable=True)
    if descending and input._dtype.category >= _dt.FLOAT:
        idx = _nan_first(input._backend, input._data, idx, axis)
    idx = input._backend.astype(idx, _dt.int64)
    return Tensor._make(idx, _dt.int64, input._backend)


def _nan_first(backend, data, idx, axis):
    """``idx`` (NaN last, in index order) reordered so the NaNs come first, still in index order."""
    xp = backend.xp
    nan_at = backend.take_along_axis(xp.isnan(data), idx, axis)
    if not xp.any(nan_at):
        return idx
    order = xp.argsort(backend.astype(~nan_at, _dt.uint8), axis=axis, stable=True)
    return backend.take_along_axis(idx, order, axis)


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``; ties keep their order."""
    from .gather import gather
    idx = argsort(input, dim, descending)
    if input._data.ndim == 0:
        return sort_result(input.clone(), idx)
    return sort_result(gather(input, wrap_dim(dim, input._data.ndim), idx), idx)


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``dim`` as ``(values, indices)``."""
    from .gather import gather
    if input._dtype is _dt.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU: convert first, e.g. x.int().topk(k)")
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    size = input._data.shape[axis] if n else 1
    if k < 0 or k > size:
        raise RuntimeError(f"selected index k out of range: k={k} for a dimension of size {size}")
    idx = argsort(input, axis, descending=largest)
    if n == 0:
        return topk_result(input.clone(), idx)
    key = (slice(None),) * axis + (slice(0, k), ...)
    idx = Tensor._make(idx._backend.getitem(idx._data, key), _dt.int64, idx._backend)
    return topk_result(gather(input, axis, idx), idx)


median_result = namedtuple("median", ["values", "indices"])


def median(input, dim=None, keepdim=False, *, out=None):
    """The lower median: of all elements (a 0-d tensor), or ``(values, indices)`` along ``dim``. A NaN in the
    reduced elements gives NaN and the first NaN's index, as torch's (``nanmedian`` skips them)."""
    if out is not None:
        return write_out("median", out, median(input, dim, keepdim))
    from .gather import gather
    if input._dtype is _dt.bool_:
        kernel = "median_cpu" if dim is None else "median_out"
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool': median() takes numbers; convert "
                                  f"first, e.g. x.int().median()")
    if dim is None:
        if input.numel() == 0:
            return Tensor._make(input._backend.full((), float("nan"), input._dtype), input._dtype, input._backend)
        return _nodes.named(gather(input.reshape(-1), 0, _median_index(input.reshape(-1), 0)).reshape(()),
                            "MedianBackward0")  # torch's one node
    n = input._data.ndim
    axis = wrap_dim(dim, n)
    if n == 0:
        return median_result(input.clone(), Tensor._make(input._backend.zeros((), _dt.int64), _dt.int64,
                                                         input._backend))
    if input._data.shape[axis] == 0:
        raise IndexError(f"median(): Expected reduction dim {axis} to have non-zero size.")
    pick = _median_index(input, axis)
    values = gather(input, axis, pick)
    if not keepdim:
        values = values.squeeze(axis)
        pick = pick.squeeze(axis)
    return median_result(_nodes.named(values, "MedianBackward1"), pick)


def _median_index(input, axis):
    """Where the lower median sits along ``axis`` (kept as size 1): the first NaN where there is one."""
    backend = input._backend
    xp = backend.xp
    idx = argsort(input, axis)._data
    size = input._data.shape[axis]
    k = xp.full(input._data.shape[:axis] + (1,) + input._data.shape[axis + 1:], (size - 1) // 2, dtype=xp.int64)
    if input._dtype.category >= _dt.FLOAT:
        nans = xp.sum(backend.astype(xp.isnan(input._data), _dt.int64), axis=axis, keepdims=True)
        k = xp.where(nans > 0, size - nans, k)  # argsort puts NaNs last, in index order
    return Tensor._make(backend.take_along_axis(idx, k, axis), _dt.int64, backend)


def count_nonzero(input, dim=None):
    """The number of non-zero elements over ``dim`` (int64)."""
    from .reduction import sum as _sum
    return _sum(input != 0, dim)


def _lexsort_slices(rows):
    """The stable order that sorts the 2-D ``rows`` (int64 / float / bool tensor, one slice a row)
    lexicographically: one stable argsort per column, the last column first."""
    order = None
    for k in reversed(range(rows.shape[1])):
        column = rows[:, k] if order is None else rows[order, k]
        step = argsort(column, 0)
        order = step if order is None else order[step]
    if order is None:  # no columns: every row equal
        from ..creation import arange
        order = arange(rows.shape[0], device=rows._backend)
    return order


class UniqueDim(Op):
    """unique(dim=)'s values, recorded as torch records them: a node whose backward is torch's error."""

    node_name = "UniqueDimBackward0"

    @staticmethod
    def forward(ctx, a, values):
        return values

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("the derivative for 'unique_dim' is not implemented.")


def unique_dim(input, dim, return_inverse=False, return_counts=False):
    """torch.unique(input, dim=dim): the distinct slices along ``dim`` in lexicographic order (always sorted,
    as torch's), with each slice's group (``return_inverse``) and the groups' sizes (``return_counts``).
    Slices holding NaN are never equal, as in torch."""
    from .statistics_extra import unique_consecutive
    if input.is_complex():
        raise NotImplementedError(f"\"unique_dim\" not implemented for '{_dt.scalar_type_name(input._dtype)}'; "
                                  f"compare the real and imaginary parts (torch.view_as_real) instead")
    if input._data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions; call unique() without dim")
    d = wrap_dim(dim, input._data.ndim)
    if input.numel() == 0 and input.shape[d] != 0:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied; "
                           f"the tensor of shape {list(input.shape)} has no slices to compare along dim {d}")
    x = input.detach()
    if x.shape[d] == 0:
        none = x.new_zeros(0, dtype=_dt.int64)
        values, groups, counts = x.clone(), none, none
    else:
        order = _lexsort_slices(x.movedim(d, 0).reshape(x.shape[d], -1))
        values, groups, counts = unique_consecutive(x.index_select(d, order), return_inverse=True,
                                                    return_counts=True, dim=d)
        groups = groups[argsort(order)]  # back to the input's order of slices
    if input.requires_grad:
        values = UniqueDim.apply(input, values=values._data)
    extra = []
    if return_inverse:
        extra.append(groups)
    if return_counts:
        extra.append(counts)
    return (values, *extra) if extra else values
