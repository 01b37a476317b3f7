"""Products and reductions of sparse COO tensors, written with tensorplug ops so that autograd gives the
gradients of the dense operand and of the sparse values."""
from __future__ import annotations

from .. import dtypes as _dt
from ..tensor import Tensor
from ._coo import SparseCooTensor, _gather_rows, _linear_keys, _make, _scatter_rows


def _check_mm(a, b, name):
    """torch's checks of ``sparse @ dense`` (``a`` sparse 2-D, ``b`` dense 2-D)."""
    if a.dim() < 2:  # torch reads the size of dim -2 first
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(a.dim(), 1)}, "
                         f"{max(a.dim(), 1) - 1}], but got -2): {name} takes a 2-D sparse matrix, got {a.dim()}-D")
    if a.sparse_dim() != 2 or a.dense_dim():
        raise RuntimeError(f"{name}: expected a 2-D sparse matrix (2 sparse and 0 dense dimensions), but got "
                           f"{a.sparse_dim()} sparse and {a.dense_dim()} dense dimensions")
    if isinstance(b, SparseCooTensor):
        raise NotImplementedError(f"tensorplug does not provide {name} of two sparse tensors; use "
                                  f"{name}(a, b.to_dense())")
    if not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'mat2' must be Tensor, not {type(b).__name__}")
    if b.dim() != 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got 1): {name} takes "
                         f"a 2-D dense matrix, got {b.dim()}-D; use torch.matmul for a vector")
    if b._backend is not a._backend:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{a.device} and {b.device}; move one with .to()")
    if b._dtype is not a._dtype:
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(a._dtype)} but found "
                           f"{_dt.scalar_type_name(b._dtype)}: {name} needs the sparse and dense operands in one "
                           f"dtype; convert one, e.g. b.to(a.dtype)")
    if b.shape[0] != a.shape[1]:
        raise RuntimeError(f"{name}: Expected dim 0 size {a.shape[1]}, got {b.shape[0]}: mat1 and mat2 shapes "
                           f"cannot be multiplied ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")


def _sparse_dense_mm(a, b):
    """Row r of the product sums values[i] * b[col[i]] over the entries i of row r."""
    rows, cols = a._sp_indices[0], a._sp_indices[1]
    contributions = _gather_rows(b, cols) * a._sp_values.unsqueeze(1)
    return _scatter_rows(contributions, rows, a.shape[0])


def mm(mat1, mat2) -> Tensor:
    """``sparse @ dense`` -> dense (``torch.sparse.mm``, ``torch.spmm``), differentiable w.r.t. both.

    Example:
        >>> a = tensorplug.tensor([[0.0, 2.0], [1.0, 0.0]]).to_sparse()
        >>> tensorplug.sparse.mm(a, tensorplug.ones(2, 1))
        tensor([[2.],
                [1.]])
    """
    if not isinstance(mat1, SparseCooTensor):
        if isinstance(mat2, SparseCooTensor):
            return dense_sparse_mm(mat1, mat2)
        from ..ops.linalg import mm as dense_mm
        return dense_mm(mat1, mat2)
    _check_mm(mat1, mat2, "mm")
    return _sparse_dense_mm(mat1, mat2)


def dense_sparse_mm(mat1, mat2):
    """``dense @ sparse`` as ``(sparse.t() @ dense.t()).t()``."""
    if not isinstance(mat1, Tensor):
        raise TypeError(f"mm(): argument 'input' must be Tensor, not {type(mat1).__name__}")
    if mat1.dim() > 2:
        raise RuntimeError(f"addmm: matrices expected, got {mat1.dim()}D tensor; mm takes a 2-D dense matrix")
    if mat1.dim() < 2:  # torch reads the size of dim -2 first
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(mat1.dim(), 1)}, "
                         f"{max(mat1.dim(), 1) - 1}], but got -2): mm takes a 2-D dense matrix before the sparse "
                         f"one, got {mat1.dim()}-D")
    return mm(mat2.t(), mat1.t()).t()


def matmul(input, other) -> Tensor:
    """``torch.matmul`` / ``@`` with a sparse COO operand: a dense vector right of it as ``mv``."""
    if isinstance(input, SparseCooTensor) and isinstance(other, Tensor) and not isinstance(
            other, SparseCooTensor) and other.dim() < 2:
        if other.dim() == 0:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {input.dim()}D "
                               f"and 0D")
        return mm(input, other.unsqueeze(1)).squeeze(1)
    return mm(input, other)


def addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` with ``mat1`` sparse (``torch.sparse.addmm``)."""
    product = mm(mat1, mat2)
    if alpha != 1:
        product = product * alpha
    return product + (input if beta == 1 else input * beta)


def dispatching(dense_fn):
    """``dense_fn`` (torch.mm, torch.matmul) handing a sparse COO operand to ``matmul`` here."""
    def fn(input, *args, **kwargs):
        # the second operand may come by torch's keyword: mm(x, mat2=y), matmul(x, other=y)
        other = args[0] if args else kwargs.get("mat2", kwargs.get("other"))
        if type(input) is SparseCooTensor or type(other) is SparseCooTensor:
            return matmul(input, other) if dense_fn.__name__ == "matmul" else mm(input, other)
        return dense_fn(input, *args, **kwargs)
    fn.__name__, fn.__qualname__, fn.__doc__ = dense_fn.__name__, dense_fn.__qualname__, dense_fn.__doc__
    fn.__module__ = dense_fn.__module__
    return fn


def _dims(dim, n):
    from ..ops._util import wrap_dim
    dims = [wrap_dim(d, n) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return dims


def sparse_sum(input, dim=None, dtype=None) -> Tensor:
    """Sum of a sparse COO tensor: a dense 0-d tensor for all dims, else a coalesced sparse tensor (dense when
    every sparse dimension is summed), as ``torch.sparse.sum``."""
    if not isinstance(input, SparseCooTensor):
        return input.sum() if dim is None else input.sum(dim)
    values = input._sp_values if dtype is None else input._sp_values.to(dtype)
    if dim is None:
        return values.sum()
    dims = _dims(dim, input.dim())
    sparse_dim = input.sparse_dim()
    dense_axes = [d - sparse_dim + 1 for d in dims if d >= sparse_dim]
    if dense_axes:
        values = values.sum(dense_axes)
    summed = [d for d in dims if d < sparse_dim]
    size = [s for d, s in enumerate(input.shape) if d not in dims]
    if not summed:
        return _make(input._sp_indices, values, size, input._sp_coalesced)
    kept = [d for d in range(sparse_dim) if d not in summed]
    if not kept:
        return values.sum(0)
    from ..ops.join import stack
    indices = stack([input._sp_indices[d] for d in kept])
    return _make(indices, values, size, False).coalesce()


def _groups(input, dim):
    """(group of each entry, number of groups): entries that share every sparse index but ``dim``'s."""
    from ..ops.counting import unique
    from ..ops.join import stack
    others = [d for d in range(input.sparse_dim()) if d != dim]
    indices = input._sp_indices
    if not others:
        return indices.new_zeros((indices.shape[1],)), 1
    sizes = [input.shape[d] for d in others]
    keys = _linear_keys(stack([indices[d] for d in others]), sizes)
    found, group = unique(keys, return_inverse=True)
    return group, found.shape[0]


def _softmax_parts(input, dim, dtype, name):
    """(coalesced input, values shifted by their group's max, group of each entry, log-sum-exp terms)."""
    from ..ops._util import wrap_dim
    from ..ops.take_put import scatter_reduce
    if not isinstance(input, SparseCooTensor):
        raise RuntimeError(f"torch.sparse.{name} takes a sparse COO tensor; for a dense one use torch.{name}")
    if input.dim() == 0:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got {dim}): "
                         f"torch.sparse.{name} of a 0-d sparse tensor")
    dim = wrap_dim(dim, input.dim())
    if dim >= input.sparse_dim() or input.dense_dim():
        raise NotImplementedError(f"tensorplug's sparse.{name} reduces over a sparse dimension of a tensor without "
                                  f"dense dimensions; call .to_dense() first")
    input = input.coalesce()
    values = input._sp_values if dtype is None else input._sp_values.to(dtype)
    group, n = _groups(input, dim)
    # each group's max, held constant: softmax does not change with the shift, exp() no longer overflows
    top = scatter_reduce(values.new_zeros((n,)), 0, group, values.detach(), "amax", include_self=False)
    shifted = values - _gather_rows(top, group)
    total = _scatter_rows(shifted.exp(), group, n)
    return input, shifted, group, total


def softmax(input, dim, *, dtype=None) -> Tensor:
    """Softmax over the specified entries along ``dim`` (absent entries count as -inf), as
    ``torch.sparse.softmax``: the result has the input's (coalesced) pattern."""
    input, shifted, group, total = _softmax_parts(input, dim, dtype, "softmax")
    values = shifted.exp() / _gather_rows(total, group)
    return _make(input._sp_indices, values, input.shape, True)


def log_softmax(input, dim, *, dtype=None) -> Tensor:
    """``log(torch.sparse.softmax(input, dim))`` on the specified entries."""
    input, shifted, group, total = _softmax_parts(input, dim, dtype, "log_softmax")
    values = shifted - _gather_rows(total.log(), group)
    return _make(input._sp_indices, values, input.shape, True)
