"""More index-driven ops: take / put, index_copy, index_put, select. Each checks its index as torch does
(one min and one max over it) before NumPy could read -1 as the last element, and is written with the
indexing ops, so gradients flow and an index written in place before backward is torch's error."""
from __future__ import annotations

from .. import dtypes as _dt
from ..tensor import Tensor
from ._util import wrap_dim
from .gather import first_out_of_range
from .indexing import IndexAccumulate, IndexPut

__all__ = ["take", "put", "index_copy", "index_put", "select"]


def _long_index(name, index):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype is not _dt.int64:
        raise RuntimeError(f"{name}(): Expected a long tensor for index, but got {index._dtype.legacy_name[:-6]}; "
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
    key = (slice(None),) * axis + (index.reshape(-1)._data,)
    value = source.reshape(expected).to(input._dtype)
    return IndexPut.apply(input, value, key=key, indices=(index,))


def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` written (or, with ``accumulate``, added) at ``input[indices]``.

    Negative indices count from the end, as in ``x[indices]``.

    Example:
        >>> tensorplug.zeros(3).index_put((tensorplug.tensor([0, -1]),), tensorplug.tensor(5.0))
        tensor([5., 0., 5.])
    """
    from .indexing import convert_key, _index_error
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    for i in indices:
        if isinstance(i, Tensor) and i._dtype.category > _dt.INT:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    key = convert_key(input, tuple(indices))
    tensors = tuple(i for i in indices if isinstance(i, Tensor))
    if not isinstance(values, Tensor):
        values = Tensor._make(input._backend.asarray(values, input._dtype), input._dtype, input._backend)
    values = values.to(input._dtype)
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


def _bind():
    from . import bind
    from .inplace import make_inplace
    bind({"take": take, "put": put, "index_copy": index_copy, "index_put": index_put, "select": select,
          "put_": make_inplace(put, "put_"), "index_copy_": make_inplace(index_copy, "index_copy_"),
          "index_put_": make_inplace(index_put, "index_put_")})


_bind()
