"""``tensorplug.linalg``: the norms (``vector_norm``, ``matrix_norm``, ``norm``) and the matrix products
torch.linalg offers; decompositions and solvers are not here yet."""
from __future__ import annotations

from .ops import matmul, norm as _norm

__all__ = ["vector_norm", "matrix_norm", "norm", "matmul", "vecdot"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The ``ord``-norm of ``x`` over ``dim`` (all elements when None) as a vector norm."""
    if isinstance(dim, list):
        dim = tuple(dim)
    return _norm(x, ord, dim, keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """Frobenius (``'fro'``), max-column-sum (1, -1) or max-row-sum (inf, -inf) norms of the matrices in
    ``dim``."""
    import math
    if dtype is not None:
        A = A.to(dtype)
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    d0, d1 = (d % A.dim() for d in dim)
    if ord == "fro":
        return _norm(A, 2, (d0, d1), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        reduce_dim, pick_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(reduce_dim, keepdim=True)
        out = sums.amax(pick_dim, keepdim=True) if ord > 0 else sums.amin(pick_dim, keepdim=True)
        return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not implemented in tensorplug yet "
                              f"('fro', 1, -1, inf, -inf are)")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """``vector_norm`` for a vector ``dim`` (or 1-D input), ``matrix_norm`` for a pair of dims (or 2-D input);
    ``ord=None`` is the 2-norm of the flattened input."""
    if isinstance(dim, int) or (dim is not None and len(dim) == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                       f"{A.dim()}D.")


def vecdot(x, y, *, dim=-1):
    """The dot product of ``x`` and ``y`` along ``dim``."""
    return (x * y).sum(dim)
