"""sort, argsort, topk, msort: indices from the backend, values by a differentiable gather."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..tensor import Tensor
from ._util import wrap_dim

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (int64)."""
    xp = input._backend.xp
    if input._data.ndim == 0:
        return Tensor._make(input._backend.zeros((), _dt.int64), _dt.int64, input._backend)
    axis = wrap_dim(dim, input._data.ndim)
    data = input._data
    if descending:
        # negate rather than pass descending= (numpy lacks it); a stable sort keeps ties in order, as torch does
        if input._dtype.category < _dt.FLOAT:
            data = input._backend.astype(data, _dt.int64)
        data = -data
    elif input._dtype is _dt.bool_:
        data = input._backend.astype(data, _dt.uint8)
    idx = xp.argsort(data, axis=axis, stable=True)
    idx = input._backend.astype(idx, _dt.int64)
    return Tensor._make(idx, _dt.int64, input._backend)


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
