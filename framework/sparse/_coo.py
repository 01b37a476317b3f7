"""Sparse COO tensors: ``sparse_coo_tensor``, ``Tensor.to_sparse`` / ``to_dense`` and the methods of a
sparse tensor.

A sparse COO tensor is an int64 ``indices`` tensor (sparse_dim x nnz) beside a ``values`` tensor
(nnz x the dense dimensions), combined with ordinary tensorplug ops: gradients flow through the values,
every backend runs it (NumPy, CuPy, array_api_strict), and nothing is ever stored densely.
"""
from __future__ import annotations

import os
import sys
import warnings

from .. import dtypes as _dt
from ..layout import sparse_coo, strided
from ..tensor import Size, Tensor, tensor

# names of tensorplug's generic wrappers and Op machinery, never the API a user called
_WRAPPERS = frozenset({"call", "wrapper", "fn", "method", "apply", "forward", "backward", "reflected", "iop"})
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PROVIDED = ("to_dense, coalesce, indices/values, t/transpose, sum, torch.sparse.mm / torch.mm / @ with a dense "
             "operand, torch.sparse.sum / softmax / log_softmax, * and / by a number, + and - of sparse tensors")


def _call_site():
    """(the tensorplug function the user called, 'file.py, line N' of that call), for messages."""
    frame = sys._getframe(2)
    api = None
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE):
            return api, f"{os.path.basename(filename)}, line {frame.f_lineno}"
        name = frame.f_code.co_name
        if not name.startswith("_") and name not in _WRAPPERS:
            api = name
        frame = frame.f_back
    return api, "this program"


def _not_provided(what):
    api, site = _call_site()
    what = what or (f"{api}()" if api else "this operation")
    return NotImplementedError(f"tensorplug does not provide {what} for sparse COO tensors (used by {site}); it "
                               f"provides {_PROVIDED}: call .to_dense() first for the rest")


class SparseCooTensor(Tensor):
    """A tensor in the sparse COO layout (``layout=sparse_coo``): ``indices`` (sparse_dim x nnz, int64)
    and ``values`` (nnz x dense dims). Made by ``sparse_coo_tensor`` or ``Tensor.to_sparse()``."""

    __slots__ = ("_sp_indices", "_sp_values", "_sp_size", "_sp_coalesced")

    def __getattribute__(self, name):
        # a Tensor method this layout lacks says so, instead of failing deep inside on a dense array
        if name[0] != "_" and name not in _SPARSE_API:
            if hasattr(Tensor, name):
                raise _not_provided(f"Tensor.{name}")
            _, site = _call_site()
            raise AttributeError(f"tensorplug does not provide Tensor.{name} (used by {site}); sparse COO tensors "
                                 f"have {_PROVIDED}")
        return object.__getattribute__(self, name)

    @property
    def _data(self):
        raise _not_provided(None)

    # metadata ---------------------------------------------------------------------------
    layout = sparse_coo
    is_sparse = True

    @property
    def shape(self) -> Size:
        return self._sp_size

    def size(self, dim=None):
        if dim is None:
            return self._sp_size
        from ..ops._util import wrap_dim
        return self._sp_size[wrap_dim(dim, len(self._sp_size))]

    def dim(self) -> int:
        return len(self._sp_size)

    ndimension = dim

    @property
    def ndim(self) -> int:
        return len(self._sp_size)

    def numel(self) -> int:
        return self._sp_size.numel()

    nelement = numel

    def sparse_dim(self) -> int:
        return self._sp_indices.shape[0]

    def dense_dim(self) -> int:
        return self._sp_values.dim() - 1

    def _nnz(self) -> int:
        return self._sp_indices.shape[1]

    def is_coalesced(self) -> bool:
        return self._sp_coalesced

    def is_contiguous(self, memory_format=None) -> bool:
        return False

    def _indices(self):
        return self._sp_indices

    def _values(self):
        return self._sp_values

    def indices(self):
        if not self._sp_coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._sp_indices

    def values(self):
        if not self._sp_coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._sp_values

    # autograd: it flows through the values tensor -----------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._sp_values.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        self._sp_values.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._sp_values.grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._sp_values.grad_fn is None

    @property
    def grad(self):
        """The gradient of a leaf, sparse with this tensor's pattern (as torch.sparse.mm gives it)."""
        values = self._sp_values
        if values.grad_fn is not None:
            return values.grad  # None, with torch's warning about non-leaf tensors
        g = values._grad
        if g is None:
            return None
        if self._sp_coalesced:
            return _make(self._sp_indices, g, self._sp_size, True)
        # a repeated entry got its position's gradient once per copy: torch gives the position it once
        keys = _linear_keys(self._sp_indices, self._sp_size)
        from ..ops.counting import unique
        positions, inverse, counts = unique(keys, return_inverse=True, return_counts=True)
        summed = _scatter_rows(g, inverse, positions.shape[0])
        counts = counts.reshape((-1,) + (1,) * (g.dim() - 1)).to(g.dtype)
        return _make(_unravel(positions, self._sp_size[:self.sparse_dim()]), summed / counts, self._sp_size, True)

    @grad.setter
    def grad(self, value):
        if value is None:
            self._sp_values._grad = None
            return
        if not isinstance(value, SparseCooTensor) or value._nnz() != self._nnz():
            raise NotImplementedError("tensorplug sets the .grad of a sparse COO tensor only to None or to a sparse "
                                      "tensor with its indices; assign None and run backward instead")
        self._sp_values.grad = value._sp_values

    def detach(self):
        return _make(self._sp_indices, self._sp_values.detach(), self._sp_size, self._sp_coalesced)

    def clone(self, *, memory_format=None):
        return _make(self._sp_indices.clone(), self._sp_values.clone(), self._sp_size, self._sp_coalesced)

    # conversion --------------------------------------------------------------------------
    def to(self, *args, **kwargs):
        """Cast the values and/or move the tensor, as ``Tensor.to``."""
        values = self._sp_values.to(*args, **kwargs)
        if values is self._sp_values:
            return self
        indices = self._sp_indices
        if values._backend is not indices._backend:
            indices = indices.to(values._backend)
        return _make(indices, values, self._sp_size, self._sp_coalesced)

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return self.to("cuda" if device is None else device)

    def float(self, memory_format=None):  # noqa: A003
        return self.to(_dt.float32)

    def double(self, memory_format=None):
        return self.to(_dt.float64)

    def half(self, memory_format=None):
        return self.to(_dt.float16)

    def long(self, memory_format=None):
        return self.to(_dt.int64)

    def int(self, memory_format=None):  # noqa: A003
        return self.to(_dt.int32)

    def bool(self, memory_format=None):  # noqa: A003
        return self.to(_dt.bool_)

    def type(self, dtype=None, non_blocking=False):  # noqa: A003
        if dtype is None:
            device = self._backend.device_type
            return f"torch.{'' if device == 'cpu' else device + '.'}sparse.{self._dtype.legacy_name}"
        return self.to(dtype)

    def numpy(self, force=False):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first.")

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor (repeated entries add up); differentiable w.r.t. the values."""
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_to_dense; convert the result with "
                               ".to(dtype)")
        sizes = self._sp_size
        sparse_sizes = sizes[:self.sparse_dim()]
        flat = _scatter_rows(self._sp_values, _linear_keys(self._sp_indices, sizes), sparse_sizes.numel())
        return flat.reshape(tuple(sizes))

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        _check_layout(layout)
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise RuntimeError(f"to_sparse: conversion from Sparse to Sparse with sparse_dim argument "
                               f"({sparse_dim}) != self.sparse_dim() ({self.sparse_dim()}) is not supported; "
                               f"call .to_dense().to_sparse({sparse_dim})")
        return self

    to_sparse_coo = to_sparse

    def coalesce(self):
        """The same tensor with its indices sorted and repeated entries summed (differentiable)."""
        if self._sp_coalesced:
            return self
        from ..ops.counting import unique
        sparse_sizes = self._sp_size[:self.sparse_dim()]
        positions, inverse = unique(_linear_keys(self._sp_indices, self._sp_size), return_inverse=True)
        values = _scatter_rows(self._sp_values, inverse, positions.shape[0])
        return _make(_unravel(positions, sparse_sizes), values, self._sp_size, True)

    # shape ------------------------------------------------------------------------------
    def t(self):
        if self.sparse_dim() > 2 or self.dense_dim():
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
                               f"{self.sparse_dim()} sparse and {self.dense_dim()} dense dimensions; use "
                               f"transpose(dim0, dim1)")
        return self if self.dim() < 2 else self.transpose(0, 1)

    def transpose(self, dim0, dim1):
        from ..ops._util import wrap_dim
        n = self.dim()
        d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
        sd = self.sparse_dim()
        size = list(self._sp_size)
        size[d0], size[d1] = size[d1], size[d0]
        if d0 == d1:
            return self
        if d0 < sd and d1 < sd:
            order = list(range(sd))
            order[d0], order[d1] = d1, d0
            rows = [self._sp_indices[k] for k in order]
            from ..ops.join import stack
            return _make(stack(rows), self._sp_values, size, self._nnz() <= 1)
        if d0 >= sd and d1 >= sd:
            values = self._sp_values.transpose(d0 - sd + 1, d1 - sd + 1)
            return _make(self._sp_indices, values, size, self._sp_coalesced)
        raise RuntimeError("transpose: Cannot transpose sparse and dense dimensions of a hybrid sparse tensor; "
                           "call .to_dense() first")

    # arithmetic -------------------------------------------------------------------------
    def __mul__(self, other):
        if isinstance(other, SparseCooTensor) or (isinstance(other, Tensor) and other.dim()):
            raise _not_provided("multiplication by a tensor")
        return _make(self._sp_indices, self._sp_values * other, self._sp_size, self._sp_coalesced)

    __rmul__ = __mul__
    mul = __mul__

    def __truediv__(self, other):
        if isinstance(other, Tensor) and other.dim():
            raise _not_provided("division by a tensor")
        return _make(self._sp_indices, self._sp_values / other, self._sp_size, self._sp_coalesced)

    div = __truediv__

    def __neg__(self):
        return _make(self._sp_indices, -self._sp_values, self._sp_size, self._sp_coalesced)

    neg = __neg__

    def __add__(self, other):
        if not isinstance(other, SparseCooTensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead "
                               "(dense + sparse gives a dense tensor)")
        if other._sp_size != self._sp_size:
            raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(self._sp_size)} while other has size {list(other._sp_size)}")
        from ..ops.join import cat
        dtype = _dt.promote_types(self._dtype, other._dtype)
        indices = cat([self._sp_indices, other._sp_indices], 1)
        values = cat([self._sp_values.to(dtype), other._sp_values.to(dtype)], 0)
        return _make(indices, values, self._sp_size, False)

    add = __add__

    def __sub__(self, other):
        if not isinstance(other, SparseCooTensor):
            return self.__add__(other)  # the same error as torch's
        return self + (-other)

    sub = __sub__

    # dense + sparse and dense - sparse: Python asks the subclass (this one) first
    def __radd__(self, other):
        return other + self.to_dense()

    def __rsub__(self, other):
        return other - self.to_dense()

    def sum(self, dim=None, keepdim=False, dtype=None):  # noqa: A003
        if keepdim:
            raise _not_provided("sum(keepdim=True)")
        from ._ops import sparse_sum
        return sparse_sum(self, dim, dtype)

    def mm(self, mat2):
        from ._ops import mm
        return mm(self, mat2)

    def matmul(self, other):
        from ._ops import matmul
        return matmul(self, other)

    __matmul__ = matmul

    def __rmatmul__(self, other):
        from ._ops import matmul
        return matmul(other, self)

    # printing ------------------------------------------------------------------------------
    def __len__(self):
        if not self._sp_size:
            raise TypeError("len() of a 0-d tensor")
        return self._sp_size[0]

    def __repr__(self):
        from .._format import format_tensor
        values = self._sp_values.detach()
        # torch prints the values without their dtype, and the dtype once among the sparse fields
        body = format_tensor(values, prefix="       values=tensor(")
        suffix = f", dtype={values._dtype!r})"
        if body.endswith(suffix):
            body = body[:-len(suffix)] + ")"
        fields = [f"size={tuple(self._sp_size)}", f"nnz={self._nnz()}"]
        if self._dtype is not _dt.get_default_dtype() and self._dtype.category == _dt.FLOAT or (
                self._dtype.category == _dt.INT and self._dtype is not _dt.int64):
            fields.append(f"dtype={self._dtype!r}")
        if self._backend.device_type != "cpu":
            fields.append(f"device='{self._backend.device}'")
        fields.append(f"layout={sparse_coo!r}")
        if self.grad_fn is not None:
            fields.append(f"grad_fn=<{self.grad_fn.node_name}>")
        elif self.requires_grad:
            fields.append("requires_grad=True")
        return (format_tensor(self._sp_indices, prefix="tensor(indices=tensor(") + ",\n" + body + ",\n       "
                + ", ".join(fields) + ")")

    __str__ = __repr__

    def __format__(self, spec):
        return format(repr(self), spec)


# inherited members that read only the dtype and backend, which a sparse tensor keeps as a dense one
_SPARSE_API = frozenset(n for n in SparseCooTensor.__dict__ if not n.startswith("_")) | {
    "dtype", "device", "is_cuda", "is_floating_point", "is_complex", "element_size", "get_device"}


def _make(indices, values, size, coalesced):
    t = object.__new__(SparseCooTensor)
    t._sp_indices = indices
    t._sp_values = values
    t._sp_size = Size(size)
    t._sp_coalesced = bool(coalesced) or indices.shape[1] <= 1
    t._dtype = values._dtype
    t._backend = values._backend
    t._version = values._version
    t._output_nr = 0
    t._hooks = None
    t._retains_grad = False
    t._view = None
    t._views = None
    return t


def _linear_keys(indices, size):
    """Each entry's row-major position among the sparse dimensions (int64, Horner's scheme)."""
    sparse_dim, nnz = indices.shape
    if sparse_dim == 0:
        return indices.new_zeros((nnz,))
    keys = indices[0]
    for d in range(1, sparse_dim):
        keys = keys * size[d] + indices[d]
    return keys


def _unravel(keys, sparse_sizes):
    """The (sparse_dim x n) indices of row-major positions ``keys``: ``_linear_keys``' inverse."""
    from ..ops.join import stack
    if not sparse_sizes:
        return keys.new_zeros((0, keys.shape[0]))
    rows = []
    for s in reversed(sparse_sizes[1:]):
        rows.append(keys % s)
        keys = keys // s
    rows.append(keys)
    return stack(rows[::-1])


def _scatter_rows(src, index, n):
    """``zeros(n, *src.shape[1:])`` with row i of ``src`` added at row ``index[i]`` (repeats add up)."""
    from ..ops.indexing import IndexAccumulate
    return IndexAccumulate.apply(src, key=(index._data,), shape=(n,) + tuple(src.shape[1:]), indices=(index,))


def _gather_rows(x, index):
    """``x[index]`` along the first dimension; ``index`` is known to be in range."""
    from ..ops.indexing import IndexSelect
    # the key is the index alone (no trailing ...): its backward's scatter then takes the NumPy backend's
    # sorted row sum, not np.add.at (spmm with 1433 columns: 1.1 s of np.add.at per backward, under load)
    return IndexSelect.apply(x, key=(index._data,), indices=(index,))


def _check_layout(layout):
    if layout not in (None, sparse_coo):
        raise NotImplementedError(f"tensorplug provides the sparse COO layout only, not {layout!r}; use "
                                  f"to_sparse() (COO) or keep the tensor dense")


# construction ------------------------------------------------------------------------------
def _as_indices(indices, device):
    if not isinstance(indices, Tensor):
        indices = tensor(indices, dtype=_dt.int64, device=device)
    elif isinstance(indices, SparseCooTensor):
        raise TypeError("sparse_coo_tensor(): indices must be a dense tensor, not a sparse one")
    elif indices._dtype is not _dt.int64:
        indices = indices.long()  # torch takes any real dtype and reads it as int64
    if device is not None:
        indices = indices.to(device)
    if indices.dim() != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}; pass a 2-D tensor "
                           f"with one row per sparse dimension (e.g. [[rows...], [cols...]])")
    return indices


def _check_size(indices, values, size):
    """``size`` as a tuple, inferred where None, after torch's checks of it against the indices and values."""
    sparse_dim, nnz = indices.shape
    dense_shape = tuple(values.shape[1:])
    counts = None
    if nnz:
        counts = [int(v) for v in indices.amax(1).tolist()]
        lows = [int(v) for v in indices.amin(1).tolist()]
        for d, low in enumerate(lows):
            if low < 0:
                raise RuntimeError(f"found negative index {low} for dim {d}; COO indices count from 0")
    if size is None:
        return tuple(c + 1 for c in counts or [0] * sparse_dim) + dense_shape
    size = tuple(int(s) for s in size)
    if len(size) != sparse_dim + len(dense_shape):
        raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(size)}, "
                           f"sparse_dim = {sparse_dim}, dense_dim = {len(dense_shape)}")
    if size[sparse_dim:] != dense_shape:
        raise RuntimeError(f"values has incorrect size, expected [{nnz}, {', '.join(map(str, size[sparse_dim:]))}], "
                           f"got {list(values.shape)}")
    for d, top in enumerate(counts or ()):
        if top >= size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found index "
                               f"{top}; give a size of at least {top + 1} there")
    return size


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None) -> Tensor:
    """A sparse COO tensor with ``values[i]`` at position ``indices[:, i]`` (repeats add up).

    Args:
        indices: ``(sparse_dim, nnz)`` integers, one column per entry.
        values: ``(nnz, *dense_dims)``, one row per entry.
        size: the full shape (inferred from the largest indices when omitted).

    Returns:
        A SparseCooTensor (``layout=sparse_coo``); gradients reach ``values``.

    Example:
        >>> s = tensorplug.sparse_coo_tensor([[0, 1], [2, 0]], [3.0, 4.0], (2, 3))
        >>> s.to_dense()
        tensor([[0., 0., 3.],
                [4., 0., 0.]])
    """
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=dtype, device=device)
    if dtype is not None and values._dtype is not dtype:
        values = values.to(dtype)
    if device is not None:
        values = values.to(device)
    indices = _as_indices(indices, values._backend if device is None else device)
    if values.dim() == 0 or values.shape[0] != indices.shape[1]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {indices.shape[1]}, "
                           f"nnz from values: {values.shape[0] if values.dim() else 1}; values needs one row per "
                           f"column of indices")
    size = _check_size(indices, values, size)
    if requires_grad:
        values = values.detach().requires_grad_()
    elif values.requires_grad:
        values = values.view(tuple(values.shape))  # a non-leaf alias: the gradient reaches the caller's values
    else:
        values = values.detach()  # its own requires_grad flag, the same memory
    return _make(indices, values, size, is_coalesced)


def legacy_constructor(dtype):
    """``torch.sparse.FloatTensor(indices, values, size)`` (and ``(*sizes)`` for an empty one), as old code
    (GCN's ``sparse_mx_to_torch_sparse_tensor``) builds sparse tensors."""
    def construct(*args, device=None):
        warnings.warn("torch.sparse.SparseTensor(indices, values, shape, *, device=) is deprecated.  Please use "
                      "torch.sparse_coo_tensor(indices, values, shape, dtype=, device=).", UserWarning, stacklevel=2)
        if args and isinstance(args[0], Tensor):
            return sparse_coo_tensor(*args, device=device)
        sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        empty = tensor([], dtype=dtype, device=device)
        return sparse_coo_tensor(empty.long().reshape(len(sizes), 0), empty, sizes)
    construct.__name__ = dtype.legacy_name
    return construct


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """``Tensor.to_sparse()``: the non-zero entries of a dense tensor as a coalesced sparse COO tensor; with
    ``sparse_dim`` < ndim the trailing dimensions stay dense (a slice is kept where any element is non-zero)."""
    _check_layout(layout)
    n = self.dim()
    if sparse_dim is None:
        sparse_dim = n if dense_dim is None else n - dense_dim
    if not 0 <= sparse_dim <= n:
        raise RuntimeError(f"dense_to_sparse: sparse_dim argument must be in [0,{n}] range, but {sparse_dim} is "
                           f"given")
    if sparse_dim == 0:
        return _make(self.new_zeros((0, 1), dtype=_dt.int64), self.unsqueeze(0), self.shape, True)
    nonzero = self != 0
    if sparse_dim < n:
        nonzero = nonzero.reshape(tuple(self.shape[:sparse_dim]) + (-1,)).any(-1)
    indices = nonzero.nonzero().t().contiguous()  # row-major order: already coalesced
    # one gather from the sparse dimensions flattened (array backends take one integer array at a time)
    flat = self.reshape((Size(self.shape[:sparse_dim]).numel(),) + tuple(self.shape[sparse_dim:]))
    values = _gather_rows(flat, _linear_keys(indices, self.shape))
    return _make(indices, values, self.shape, True)


def dense_to_dense(self, dtype=None, *, masked_grad=None):
    """``Tensor.to_dense()`` of a dense tensor: itself (a copy in ``dtype`` when given)."""
    return self if dtype is None else self.to(dtype)


def _strided_only(name):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got Strided; convert with "
                           f".to_sparse() first")
    method.__name__ = name
    return method


# bound onto the dense Tensor by tensorplug/__init__.py
DENSE_METHODS = {
    "to_sparse": to_sparse, "to_sparse_coo": to_sparse, "to_dense": dense_to_dense,
    "is_sparse": False, "layout": strided,
    "sparse_dim": lambda self: 0, "dense_dim": lambda self: self.dim(),
    **{name: _strided_only(name) for name in ("indices", "values", "_indices", "_values", "coalesce",
                                                "is_coalesced", "_nnz")},
}
