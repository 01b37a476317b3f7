"""torch.linalg's triangular solves and LU factorization (solve_triangular, lu_factor, lu_factor_ex, lu,
lu_solve), with vander, diagonal, cross, multi_dot and matrix_power; re-exported by ``linalg``.

The array API has no triangular solver and no LU, so both are written here through ``xp``: forward
and back substitution one row at a time (each step one matrix-vector product over the batch), and
Doolittle elimination with partial pivoting (LAPACK getrf's choice of pivot: the largest magnitude in
the column, the first of equals; a zero pivot leaves its column unscaled). The gradients are torch's
(derivatives.yaml's linalg_solve_triangular and linalg_lu_factor_ex: square, wide and tall), written with
these ops, so they differentiate again.
"""
from __future__ import annotations

from collections import namedtuple

from . import dtypes as _dt
from .autograd.function import Op
from .ops.join import cat
from .ops.products import linalg_cross as cross, matrix_power, multi_dot
from .tensor import Tensor

__all__ = ["solve_triangular", "lu_factor", "lu_factor_ex", "lu", "lu_solve", "vander", "diagonal", "cross",
           "multi_dot", "matrix_power"]

lu_factor_result = namedtuple("lu_factor", ["LU", "pivots"])
lu_factor_ex_result = namedtuple("lu_factor_ex", ["LU", "pivots", "info"])
lu_result = namedtuple("lu", ["P", "L", "U"])


def _mH(x):
    """The conjugate transpose of the last two dimensions."""
    return x.mT.conj() if x.is_complex() else x.mT


def _substitute(xp, a, b, upper, unit):
    """``x`` with ``a @ x = b`` for triangular ``a`` (..., n, n) and ``b`` (..., n, k), row by row."""
    n = a.shape[-1]
    if n == 0:
        return xp.zeros(b.shape, dtype=b.dtype)
    rows = [None] * n
    order = range(n - 1, -1, -1) if upper else range(n)
    for i in order:
        done = [j for j in (range(i + 1, n) if upper else range(i)) if rows[j] is not None]
        row = b[..., i, :]
        if done:
            known = xp.stack([rows[j] for j in done], axis=-2)
            coefs = xp.stack([a[..., i, j] for j in done], axis=-1)
            row = row - xp.squeeze(xp.matmul(coefs[..., None, :], known), axis=-2)
        rows[i] = row if unit else row / a[..., i, i][..., None]
    return xp.stack(rows, axis=-2)


class SolveTriangular(Op):
    node_name = "LinalgSolveTriangularBackward0"
    holomorphic = False  # the backward is torch's formula (A^H, X^H): complex gradients come out as torch's
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a, b, *, upper, left, unit):
        ctx.flags = upper, left, unit
        xp = ctx.backend.xp
        if not left:  # x a = b  <=>  a^T x^T = b^T
            a, b, upper = xp.matrix_transpose(a), xp.matrix_transpose(b), not upper
        batch = tuple(xp.broadcast_arrays(xp.empty(a.shape[:-2]), xp.empty(b.shape[:-2]))[0].shape)
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        x = _substitute(xp, a, b, upper, unit)
        return xp.matrix_transpose(x) if not left else x

    @staticmethod
    def backward(ctx, g):
        # gradients of broadcast batches are summed back to each input's shape by the engine
        upper, left, unit = ctx.flags
        (a,) = ctx.saved_tensors_list()
        x = ctx.output()
        gb = solve_triangular(_mH(a), g, upper=not upper, left=left, unitriangular=unit)
        ga = None
        if ctx.needs_grad(0):
            ga = -(gb @ _mH(x)) if left else -(_mH(x) @ gb)
            ga = ga.triu(int(unit)) if upper else ga.tril(-int(unit))
        return ga, gb


def _matrices(name, *tensors):
    for t in tensors:
        if t.dim() < 2:
            raise RuntimeError(f"torch.linalg.{name}: The input tensor {'AB'[tensors.index(t)]} must have at least "
                               f"2 dimensions; got {t.dim()}")
        if t._dtype.category < _dt.FLOAT:
            raise RuntimeError(f"torch.linalg.{name}: Expected a floating point or complex tensor as input. Got "
                               f"{_dt.scalar_type_name(t._dtype)}")


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """``X`` with ``A @ X = B`` (``X @ A = B`` when not ``left``) reading only the ``upper`` or lower
    triangle of ``A`` (its diagonal taken as ones when ``unitriangular``); a zero on the diagonal gives
    inf/nan as torch's, not an error."""
    _matrices("solve_triangular", A, B)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.solve_triangular: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"torch.linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    from .ops._util import promote
    A, B = promote(A, B)
    return SolveTriangular.apply(A, B, upper=bool(upper), left=bool(left), unit=bool(unitriangular))


def _getrf(xp, take, a):
    """``(lu, perm, pivots, info)``: LAPACK getrf's packed factors of ``a`` (..., m, n), the row
    permutation (``a[perm] = L @ U``), the 1-based pivots and the first zero pivot (1-based; 0: none)."""
    m, n = a.shape[-2:]
    lu = xp.asarray(a, copy=True)
    batch = a.shape[:-2]
    rows = xp.broadcast_to(xp.arange(m, dtype=xp.int64), batch + (m,))
    perm = rows
    pivots = []
    info = xp.zeros(batch, dtype=xp.int32)
    for j in range(min(m, n)):
        p = xp.argmax(_pivot_size(xp, lu[..., j:, j]), axis=-1) + j
        pivots.append(p)
        p = p[..., None]
        swap = xp.where(rows == j, p, xp.where(rows == p, xp.asarray(j, dtype=xp.int64), rows))
        lu = take(lu, xp.broadcast_to(swap[..., None], lu.shape), -2)
        perm = take(perm, swap, -1)
        pivot = lu[..., j:j + 1, j:j + 1]
        zero = pivot == 0
        info = xp.where((info == 0) & zero[..., 0, 0], xp.asarray(j + 1, dtype=xp.int32), info)
        below = xp.where(zero, lu[..., j + 1:, j:j + 1], lu[..., j + 1:, j:j + 1] / xp.where(zero, 1, pivot))
        lu[..., j + 1:, j + 1:] = lu[..., j + 1:, j + 1:] - below * lu[..., j:j + 1, j + 1:]
        lu[..., j + 1:, j:j + 1] = below
    pivots = xp.stack(pivots, axis=-1) + 1 if pivots else xp.zeros(batch + (0,), dtype=xp.int64)
    return lu, perm, xp.astype(pivots, xp.int32), info


def _permutation(perm, dtype):
    """P with ``P[perm[i], i] = 1`` (so that ``A = P @ L @ U`` when ``A[perm] = L @ U``)."""
    from .ops.gather import scatter
    from .creation import zeros
    m = perm.shape[-1]
    out = zeros(tuple(perm.shape) + (m,), dtype=dtype, device=perm._backend)
    ones = out.new_ones(tuple(perm.shape) + (1,))
    return scatter(out, -1, perm.unsqueeze(-1), ones).mT


def _pivot_size(xp, column):
    """The size LAPACK's getrf picks the pivot by: |x|, and |re| + |im| for complex x (izamax's cabs1)."""
    if xp.isdtype(column.dtype, "complex floating"):
        return xp.abs(xp.real(column)) + xp.abs(xp.imag(column))
    return xp.abs(column)


class LuFactor(Op):
    node_name = "LinalgLuFactorExBackward0"
    save_output = True
    holomorphic = False  # torch's formula with L^H, U^H: complex gradients as torch's

    @staticmethod
    def forward(ctx, a):
        backend = ctx.backend
        lu, perm, pivots, info = _getrf(backend.xp, backend.take_along_axis, a)
        ctx.extras = perm, pivots, info
        return lu

    @staticmethod
    def backward(ctx, g):
        lu = ctx.output()
        L, U = _unpack(lu)
        P = _permutation(ctx.tensor(ctx.extras[0]), lu.dtype)
        # the packed gradient: L's strictly lower part in the first k columns, U's upper part in the first k rows
        k = min(lu.shape[-2:])
        return P @ _lu_backward(g[..., :, :k], g[..., :k, :], L, U)


def _lu_backward(gL, gU, L, U):
    """torch's linalg_lu_backward less the final P @: A's gradient from L's (m x k) and U's (k x n)."""
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if m == n:  # L^-H [(L^H gL) o tril(-1) + (gU U^H) o triu] U^-H
        phi = (_mH(L) @ gL).tril(-1) + (gU @ _mH(U)).triu()
        phi = solve_triangular(_mH(U), phi, upper=False, left=False)
        return solve_triangular(_mH(L), phi, upper=True, unitriangular=True)
    if m < n:  # wide: L^-H [[gU1 o triu + (L^H gL - gU U^H) o tril(-1) U1^-H], gU2]
        U1 = U[..., :, :k]
        phi = (_mH(L) @ gL - gU.triu() @ _mH(U)).tril(-1)
        phi = solve_triangular(_mH(U1), phi, upper=False, left=False)
        phi = cat([phi + gU[..., :, :k].triu(), gU[..., :, k:]], -1)
        return solve_triangular(_mH(L), phi, upper=True, unitriangular=True)
    # tall: [[gL1 o tril(-1) + L1^-H (gU U^H - L^H gL o tril(-1)) o triu], gL2] U^-H
    L1 = L[..., :k, :]
    phi = (gU @ _mH(U) - _mH(L) @ gL.tril(-1)).triu()
    phi = solve_triangular(_mH(L1), phi, upper=True, unitriangular=True)
    phi = cat([phi + gL[..., :k, :].tril(-1), gL[..., k:, :]], -2)
    return solve_triangular(_mH(U), phi, upper=False, left=False)


def _unpack(lu):
    """``(L, U)`` of packed factors: L unit lower-triangular (m x k), U upper-triangular (k x n)."""
    from .creation import eye
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = lu[..., :, :k].tril(-1) + eye(m, k, dtype=lu.dtype, device=lu._backend)
    return L, lu[..., :k, :].triu()


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """``(LU, pivots, info)``: the packed LU factors with partial pivoting, the 1-based int32 pivots
    and, per matrix, the 1-based index of the first zero pivot (0 when none)."""
    _matrices("lu_factor", A)
    if not pivot:
        raise NotImplementedError("linalg.lu_factor(pivot=False) is not supported by tensorplug (torch has "
                                  "it on CUDA only); use pivot=True")
    lu = LuFactor.apply(A)
    perm, pivots, info = _extras(lu, A)
    backend = A._backend
    info_t = Tensor._make(info, _dt.int32, backend)
    if check_errors and bool(backend.xp.any(info != 0)):
        _raise_singular("lu_factor_ex", info_t)
    return lu_factor_ex_result(lu, Tensor._make(pivots, _dt.int32, backend), info_t)


def _extras(lu, A):
    """The permutation, pivots and info the forward kept (recomputed when no graph kept its ctx)."""
    fn = lu.grad_fn
    if isinstance(fn, LuFactor):
        return fn.extras
    backend = A._backend
    _, perm, pivots, info = _getrf(backend.xp, backend.take_along_axis, A._data)
    return perm, pivots, info


def _raise_singular(name, info):
    flat = info.reshape(-1).tolist()
    batch = next(i for i, v in enumerate(flat) if v)
    where = f"(Batch element {batch}): " if info.dim() else ""
    k = flat[batch]
    raise RuntimeError(f"torch.linalg.{name}: {where}U[{k},{k}] is zero and using it on lu_solve would result in a "
                       f"division by zero. If you still want to perform the factorization, consider calling "
                       f"linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    """``(LU, pivots)``, LAPACK's packed LU factorization with partial pivoting; an exactly singular
    matrix is an error (``lu_factor_ex`` reports it in ``info`` instead).

    Example:
        >>> LU, pivots = lu_factor(tensorplug.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> pivots
        tensor([2, 2], dtype=tensorplug.int32)
    """
    lu, pivots, info = lu_factor_ex(A, pivot=pivot)
    if bool(info._backend.xp.any(info._data != 0)):
        _raise_singular("lu_factor", info)
    return lu_factor_result(lu, pivots)


def lu(A, *, pivot=True, out=None):
    """``(P, L, U)`` with ``A = P @ L @ U``: P a permutation, L unit lower-, U upper-triangular."""
    lu_, _, _ = lu_factor_ex(A, pivot=pivot)
    perm = _extras(lu_, A)[0]
    L, U = _unpack(lu_)
    return lu_result(_permutation(Tensor._make(perm, _dt.int64, A._backend), A.dtype), L, U)


def _pivots_to_perm(pivots, m=None):
    """The row permutation (``A[perm] = L @ U``) of 1-based LAPACK pivots, of ``m`` rows (as many as the
    pivots when None; more where the matrices are tall)."""
    xp = pivots._backend.xp
    piv = xp.astype(pivots._data, xp.int64) - 1
    k = piv.shape[-1]
    m = k if m is None else m
    rows = xp.broadcast_to(xp.arange(m, dtype=xp.int64), piv.shape[:-1] + (m,))
    perm = rows
    take = pivots._backend.take_along_axis
    for j in range(k):
        p = piv[..., j:j + 1]
        swap = xp.where(rows == j, p, xp.where(rows == p, xp.asarray(j, dtype=xp.int64), rows))
        perm = take(perm, swap, -1)
    return Tensor._make(perm, _dt.int64, pivots._backend)


def _check_lu_solve(LU, pivots, B, left):
    """ATen's checks of linalg_lu_solve, in its order: dtypes, then shapes, then the pivots' shape."""
    name = "linalg.lu_solve"
    if LU._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"torch.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(LU._dtype)}")
    if LU._dtype is not B._dtype:
        raise RuntimeError(f"{name}: Expected LU and B to have the same dtype, but found LU of type "
                           f"{_dt.scalar_type_name(LU._dtype)} and B of type {_dt.scalar_type_name(B._dtype)} instead")
    if pivots._dtype is not _dt.int32:
        raise RuntimeError(f"{name}: pivots should be a Tensor of scalar type torch.int32")
    if LU.dim() < 2:
        raise RuntimeError(f"torch.{name}: The input tensor A must have at least 2 dimensions.")
    n = LU.shape[-1]
    if LU.shape[-2] != n:
        raise RuntimeError(f"torch.{name}: A must be batches of square matrices, but they are {LU.shape[-2]} by "
                           f"{n} matrices")
    if B.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if pivots.dim() == 0 or pivots.shape[-1] != n:
        raise RuntimeError(f"{name}: Number of pivots per batch should be same as the dimension of the matrix")
    if tuple(pivots.shape) != tuple(LU.shape[:-1]):
        raise RuntimeError(f"{name}: Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """``X`` with ``A @ X = B`` (``X @ A = B`` when not ``left``; ``A^H`` for ``adjoint``) from
    ``lu_factor``'s ``(LU, pivots)`` of A."""
    _check_lu_solve(LU, pivots, B, left)
    if not left:  # X A = B  <=>  A^H X^H = B^H
        return _mH(lu_solve(LU, pivots, _mH(B), left=True, adjoint=not adjoint))
    perm = _pivots_to_perm(pivots)
    L, U = _unpack(LU)
    if adjoint:  # A^H = U^H L^H P^T
        y = solve_triangular(_mH(U), B, upper=False)
        return _rows(solve_triangular(_mH(L), y, upper=True, unitriangular=True), perm.argsort(-1))
    y = solve_triangular(L, _rows(B, perm), upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


def _rows(B, perm):
    """``B[..., perm, :]`` (``P^T @ B`` for ``perm``'s P), batches broadcast: by gathering, since a product
    with the 0/1 matrix P turns an inf of ``B`` into NaN (0 * inf) in every other row, as LAPACK's getrs does not."""
    from .ops import broadcast_shapes, take_along_dim
    batch = broadcast_shapes(tuple(perm.shape[:-1]), tuple(B.shape[:-2]))
    B = B.expand(*batch, *B.shape[-2:])
    return take_along_dim(B, perm.expand(*batch, perm.shape[-1]).unsqueeze(-1), -2)


# torch's older top-level spellings over lu_factor / lu_solve / solve_triangular / cholesky (torch.lu,
# torch.lu_unpack, torch.lu_solve, torch.triangular_solve, torch.cholesky_solve; Tensor methods too) ----------

lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])
lu_with_info_result = namedtuple("_lu_with_info", ["LU", "pivots", "info"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``(P, L, U)`` with ``A = P @ L @ U`` from ``lu_factor``'s packed ``(LU, pivots)`` of A (batched; m x n:
    P m x m, L m x k, U k x n). Without ``unpack_data`` L and U are empty, without ``unpack_pivots`` P is.
    L and U differentiate (the strict lower and the upper part of LU_data); P does not, as torch's."""
    if LU_data.dim() < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data.shape)} instead")
    if unpack_pivots and LU_pivots._dtype is not _dt.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
                           "Note: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    empty = LU_data.new_empty((0,))
    L, U = _unpack(LU_data) if unpack_data else (empty, empty)
    P = empty
    if unpack_pivots:
        perm = _pivots_to_perm(LU_pivots, LU_data.shape[-2])
        batch = tuple(LU_data.shape[:-2])
        if tuple(perm.shape[:-1]) != batch:
            perm = perm.expand(*batch, perm.shape[-1])
        P = _permutation(perm, LU_data.dtype)
    result = lu_unpack_result(P, L, U)
    if out is not None:
        from ._out import write_out
        return write_out("lu_unpack", out, result)
    return result


def _old_lu(A, pivot=True, get_infos=False, out=None):
    """torch.lu / Tensor.lu, deprecated in torch for ``linalg.lu_factor(_ex)``: ``(LU, pivots)``, with the
    ``info`` of each matrix as well when ``get_infos`` (a singular matrix is no error here either)."""
    import warnings
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will "
                  "be removed in a future PyTorch release.", UserWarning, stacklevel=2)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    result = lu_with_info_result(LU, pivots, info) if get_infos else (LU, pivots)
    if out is not None:
        from ._out import write_out
        return write_out("lu", out, result)
    return result


def _old_lu_solve(input, LU_data, LU_pivots, *, out=None):
    """torch.lu_solve(B, LU, pivots): ``linalg.lu_solve(LU, pivots, B)``."""
    return lu_solve(LU_data, LU_pivots, input, out=out)


def _old_triangular_solve(input, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """torch.triangular_solve(B, A): ``(X, A.clone())`` with ``A @ X = B`` (``A^T @ X = B`` when ``transpose``)."""
    coefficient = A.mT if transpose else A
    X = solve_triangular(coefficient, input, upper=upper != bool(transpose), unitriangular=unitriangular)
    result = triangular_solve_result(X, A.clone())
    if out is not None:
        from ._out import write_out
        return write_out("triangular_solve", out, result)
    return result


def _old_cholesky_solve(input, input2, upper=False, *, out=None):
    """torch.cholesky_solve(B, L): ``X`` with ``A @ X = B`` for ``A = L @ L^H`` (``U^H @ U`` when ``upper``)."""
    lower = _mH(input2) if upper else input2
    X = solve_triangular(_mH(lower), solve_triangular(lower, input, upper=False), upper=True)
    if out is not None:
        from ._out import write_out
        return write_out("cholesky_solve", out, X)
    return X


TOP_LEVEL = {"lu": _old_lu, "lu_unpack": lu_unpack, "lu_solve": _old_lu_solve,
             "triangular_solve": _old_triangular_solve, "cholesky_solve": _old_cholesky_solve}
METHODS = {name: TOP_LEVEL[name] for name in ("lu", "lu_solve", "triangular_solve", "cholesky_solve")}


def vander(x, N=None):
    """The Vandermonde matrix of ``x`` (..., n): columns ``x**0, x**1, ..., x**(N-1)`` (N = n by default)."""
    if x._dtype not in (_dt.float32, _dt.float64) and x._dtype.category not in (_dt.INT, _dt.COMPLEX):
        # torch's own check: float16, bfloat16 and bool are refused, not computed in another dtype
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, but got "
                           f"{_dt.scalar_type_name(x._dtype)}")
    x = x if x.dim() else x.unsqueeze(0)  # a 0-d x is one point: a (1, N) matrix, as torch's
    N = x.shape[-1] if N is None else N
    if N <= 1:
        raise RuntimeError(f"N must be greater than 1: got N={N}; linalg.vander needs at least the columns x**0 "
                           f"and x**1")
    column = x.unsqueeze(-1)
    powers = column.expand(*x.shape, N - 1).cumprod(-1)
    return cat([column.new_ones(column.shape), powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``torch.diagonal`` with linalg's defaults: the diagonals of the last two dimensions."""
    from .ops.shape import diagonal as _diagonal
    return _diagonal(A, offset, dim1, dim2)
