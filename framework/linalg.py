"""``tensorplug.linalg``: norms (``vector_norm``, ``matrix_norm``, ``norm``), matrix products, and the
solvers and decompositions of torch.linalg (``inv``, ``solve``, ``det``, ``slogdet``, ``cholesky``,
``qr``, ``eigh``, ``svd``, ``pinv`` ...) with gradients.

Forward runs the backend's ``xp.linalg`` (the Array API linalg extension);
each backward is written with tensorplug ops (torch's formulas), so
gradients of gradients work for ``inv``, ``solve``, ``det`` and ``cholesky``.
"""
from __future__ import annotations

import math
from collections import namedtuple

from . import dtypes as _dt
from .autograd.function import Op
from .autograd.grad_mode import GradMode
from .ops import matmul, norm as _norm
from .ops._util import wrap_dim
from .ops.join import MultiOp, apply_multi
from .tensor import Tensor

__all__ = ["vector_norm", "matrix_norm", "norm", "matmul", "vecdot", "inv", "inv_ex", "solve", "det", "slogdet",
           "cholesky", "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank",
           "lstsq", "matrix_exp", "cond", "LinAlgError"]


class LinAlgError(RuntimeError):
    """torch.linalg's error for singular or non-positive-definite input (a RuntimeError)."""


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The ``ord``-norm of ``x`` over ``dim`` (all elements when None) as a vector norm: any real ``ord``,
    ``inf``, ``-inf`` and 0 (the count of nonzeros, whose gradient is zero as torch's).

    Example:
        >>> vector_norm(tensorplug.tensor([3.0, -4.0]), 1)
        tensor(7.)
    """
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not str; use "
                        f"linalg.matrix_norm(A, {ord!r}) for matrix norms")
    if isinstance(dim, list):
        dim = tuple(dim)
    if x.is_complex():
        x, dtype = _magnitudes(x, dtype), None
    if x.numel() == 0 and (ord < 0 or ord == math.inf):
        _no_identity(x, ord, dim)
    if ord == 0 and x.requires_grad:
        return _count_nonzero(x, dim, keepdim, dtype)
    return _norm(x, ord, dim, keepdim, dtype=dtype)


def _no_identity(x, ord, dim):  # noqa: A002
    """torch's refusal of a negative or inf norm over an empty dim (a min / max with no identity; the
    negative ones gave inf)."""
    what = f"the {ord:g} norm on"
    if dim is None:
        raise RuntimeError(f"linalg.vector_norm cannot compute {what} an empty tensor because the operation does "
                           f"not have an identity")
    for d in (dim,) if isinstance(dim, int) else dim:
        if x.shape[d] == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute {what} the dimension {d}because this dimension "
                               f"is empty and the operation does not have an identity")


def _magnitudes(z, dtype):
    """``|z|`` of complex ``z`` (cast to complex ``dtype`` first): a complex norm is the real norm of the
    magnitudes, and |z|'s gradient z / |z| carries the norm's back to z."""
    if dtype is not None and not dtype.is_complex:
        raise RuntimeError(f"linalg.vector_norm: dtype should be complex for complex inputs, but got "
                           f"{_dt.scalar_type_name(dtype)}")
    return (z if dtype is None else z.to(dtype)).abs()


class CountNonzero(Op):
    """The 0-"norm" recorded as torch records it: a node whose gradient reaches nothing (x.grad stays None)."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, count):
        return count

    @staticmethod
    def backward(ctx, g):
        return None


def _count_nonzero(x, dim, keepdim, dtype):
    count = _norm(x.detach(), 0, dim, keepdim, dtype=dtype)
    return CountNonzero.apply(x, count=count._data)


_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def _matrix_dims(A, ord, dim, name="linalg.matrix_norm"):
    if not A.is_floating_point():
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(A.dtype)}; convert first, e.g. A.double()")
    if A.dim() < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dims))}")
    d0, d1 = (wrap_dim(d, A.dim()) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({d0}, {d1})")
    if not any(ord == o and type(ord) is type(o) or ord == o and not isinstance(ord, str) for o in _MATRIX_ORDS):
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """The ``ord`` norm of the matrices spanning ``dim``: ``'fro'``, ``'nuc'`` (sum of singular values),
    2 / -2 (largest / smallest singular value), 1 / -1 (max / min column sum of ``|A|``), inf / -inf (rows).

    Example:
        >>> matrix_norm(tensorplug.tensor([[1.0, -2.0], [3.0, 4.0]]), 1)
        tensor(6.)
    """
    d0, d1 = _matrix_dims(A, ord, dim)
    if ord in ("nuc", 2, -2) and A.dtype.itemsize < 4:
        raise RuntimeError(f"linalg.matrix_norm: Low precision dtypes not supported. Got "
                           f"{_dt.scalar_type_name(A.dtype)}; the singular values need A.float() or A.double()")
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return _norm(A, 2, (d0, d1), keepdim)
    if (A.shape[d0] == 0 or A.shape[d1] == 0) and (ord == "nuc" or ord > 0):
        return A.abs().sum((d0, d1), keepdim=keepdim)  # torch's norms of empty matrices are 0 (amin refuses)
    if ord in ("nuc", 2, -2):
        moved = A.movedim((d0, d1), (-2, -1))
        s = svdvals(moved)
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(-1).unsqueeze(-1).movedim((-2, -1), (d0, d1)) if keepdim else out
    reduce_dim, pick_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = A.abs().sum(reduce_dim, keepdim=True)
    out = sums.amax(pick_dim, keepdim=True) if ord > 0 else sums.amin(pick_dim, keepdim=True)
    return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """``vector_norm`` for a vector ``dim`` (or 1-D input), ``matrix_norm`` for a pair of dims (or 2-D input,
    or a string ``ord``); ``ord=None`` is the 2-norm of the flattened input."""
    if isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is not None and len(dim) == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is not None:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.dim() == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                       f"{A.dim()}D.")


def cond(A, p=None, *, out=None):
    """The condition number of each matrix: ``sigma_max / sigma_min`` for ``p`` None / 2 (inverse for -2),
    else ``matrix_norm(A, p) * matrix_norm(inv(A), p)`` of square matrices; 0 for empty matrices (torch's).

    Example:
        >>> cond(tensorplug.tensor([[2.0, 0.0], [0.0, 0.5]]))
        tensor(4.)
    """
    if isinstance(p, str):  # 'fro' / 'nuc': torch checks squareness first
        _square(f"cond(ord={p})", A)
    elif A.dim() < 2:
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    _matrix_dims(A, 2 if p is None else p, (-2, -1), "linalg.svd" if p in (None, 2, -2) else "linalg.cond")
    if A.numel() == 0:
        return A.new_zeros(A.shape[:-2])
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={_ord_text(p)}): A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def _ord_text(p):
    """``p`` as torch's message prints it (C++ std::to_string: 1 -> '1', 1.0 -> '1.000000', inf -> 'inf')."""
    if isinstance(p, float) and math.isfinite(p):
        return f"{p:.6f}"
    return str(p)


def dist(input, other, p=2):
    """``vector_norm(input - other, p)`` of the broadcast difference (torch.dist).

    Example:
        >>> dist(tensorplug.tensor([1.0, 1.0]), tensorplug.tensor([4.0, 5.0]))
        tensor(5.)
    """
    diff = input - other
    if not diff.is_floating_point():
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got "
                           f"{_dt.scalar_type_name(diff.dtype)} instead.")
    return vector_norm(diff, p)


def vecdot(x, y, *, dim=-1):
    """The dot product of ``x`` and ``y`` along ``dim``, ``sum(conj(x) * y)`` (``x`` conjugated when complex)."""
    return (x.conj() * y).sum(dim)


# solvers and decompositions -----------------------------------------------------------

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])
qr_result = namedtuple("qr", ["Q", "R"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
svd_result = namedtuple("svd", ["U", "S", "Vh"])
inv_ex_result = namedtuple("inv_ex", ["inverse", "info"])
cholesky_ex_result = namedtuple("cholesky_ex", ["L", "info"])


def _at_least_2d(name, A, what="The input tensor A"):
    """torch's refusal of a 0-d or 1-D input to a matrix function (numpy's AxisError must not escape)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: {what} must have at least 2 dimensions.")


def _square(name, A, complex_ok=False):
    _at_least_2d(f"linalg.{name}", A)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if not A.is_floating_point() and not (complex_ok and A.is_complex()):
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(A._dtype)}")


# the LAPACK kernel torch names when it has none for half / bfloat16 (inv and slogdet refuse them first)
_KERNELS = {"solve": "lu_cpu", "det": "lu_cpu", "cholesky": "cholesky_cpu", "eigh": "linalg_eigh_cpu",
            "qr": "geqrf_cpu", "svd": "linalg_svd_cpu"}


def _full_precision(name, A):
    """torch's refusal of float16 / bfloat16 input to a LAPACK-backed function (numpy's would leak otherwise)."""
    if A.is_floating_point() and A.dtype.itemsize < 4:
        from .dtypes import scalar_type_name
        half = scalar_type_name(A._dtype)
        if name in _KERNELS:
            raise NotImplementedError(f'"{_KERNELS[name]}" not implemented for \'{half}\'')
        raise RuntimeError(f"linalg.{name}: Low precision dtypes not supported. Got {half}")


def _no_half_matrices(A):
    """Whether ``A`` is float16 / bfloat16 with no elements: torch runs no LAPACK kernel then and returns
    the empty result in ``A``'s dtype (ours: computed in float32 and cast back)."""
    return A.numel() == 0 and A.is_floating_point() and A.dtype.itemsize < 4


def _cast_back(out, dtype):
    if isinstance(out, tuple):
        return out._make(x.to(dtype) for x in out) if hasattr(out, "_make") else tuple(x.to(dtype) for x in out)
    return out.to(dtype)


def _checked(name, call, *arrays):
    """``call(*arrays)``, with the library's singular-matrix error said as torch says it."""
    try:
        return call(*arrays)
    except Exception as exc:  # numpy.linalg.LinAlgError and other libraries' equivalents
        if "singular" in str(exc).lower() and name == "solve":
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
        if "singular" in str(exc).lower():
            raise LinAlgError(f"linalg.{name}: The diagonal element 1 is zero, the inversion could not be "
                              f"completed because the input matrix is singular.") from None
        if "positive" in str(exc).lower() or "definite" in str(exc).lower():
            raise LinAlgError(f"linalg.{name}: The factorization could not be completed because the input is "
                              f"not positive-definite.") from None
        raise


def _mT(x):
    return x.transpose(-2, -1)


def _library_call(name):
    """A forward that runs ``xp.linalg.<name>``, its singular / not-definite errors said as torch's."""
    return staticmethod(lambda ctx, a: _checked(name, getattr(ctx.backend.xp.linalg, name), a))


class Inv(Op):
    save_output = True
    forward = _library_call("inv")

    @staticmethod
    def backward(ctx, g):
        y = ctx.output()
        return -(_mT(y) @ g @ _mT(y))


def inv(A, *, out=None):
    """The inverse of each square matrix in ``A``; LinAlgError where one is singular.

    Example:
        >>> inv(tensorplug.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    _square("inv", A, complex_ok=True)
    _full_precision("inv", A)
    return Inv.apply(A)


def inv_ex(A, *, check_errors=False):
    return inv_ex_result(inv(A), Tensor._make(A._backend.xp.zeros(A.shape[:-2], dtype=A._backend.xp.int32),
                                              _int32(), A._backend))


def _int32():
    from . import dtypes
    return dtypes.int32


class Solve(Op):
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.backend.xp
        ctx.lu = None
        if bool(xp.all(xp.isfinite(a))) and bool(xp.all(xp.isfinite(b))):
            return _checked("solve", xp.linalg.solve, a, b)
        return _solve_non_finite(ctx, a, b)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        x = ctx.output()
        if ctx.lu is not None and not GradMode.enabled:
            gb = _solve_adjoint_lu(ctx, g)
        else:
            gb = solve(_mT(a), g)
        ga = -(gb @ _mT(x)) if ctx.needs_grad(0) else None
        return ga, gb


def _solve_non_finite(ctx, a, b):
    """torch's solve where inf / nan make the order of steps matter: getrf of A (LAPACK's pivots), B's rows
    permuted, then forward and back substitution in getrs's order; the factors are kept for the backward."""
    from ._linalg_lu import _getrf, _substitute
    xp, take = ctx.backend.xp, ctx.backend.take_along_axis
    with _quiet(xp):
        lu, perm, _, info = _getrf(xp, take, a)
        if bool(xp.any(info != 0)):
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.")
        rows = take(b, xp.broadcast_to(perm[..., None], b.shape), -2)
        x = _substitute(xp, lu, _substitute(xp, lu, rows, upper=False, unit=True), upper=True, unit=False)
    ctx.lu = lu, perm
    return x


def _solve_adjoint_lu(ctx, g):
    """``A^T gB = g`` with the forward's factors (torch's linalg_solve_backward: lu_solve with adjoint):
    U^T y = g, L^T z = y, then the rows put back through the permutation."""
    from ._linalg_lu import solve_triangular
    lu, perm = (_as_tensor(ctx, x) for x in ctx.lu)
    y = solve_triangular(_mT(lu), g, upper=False)
    z = solve_triangular(_mT(lu), y, upper=True, unitriangular=True)
    inverse = perm.argsort(-1).unsqueeze(-1).expand(z.shape)
    return z.gather(-2, inverse)


def solve(A, B, *, left=True, out=None):
    """``X`` with ``A @ X = B`` (``X @ A = B`` with ``left=False``); ``B`` may be a (batch of) vector(s)."""
    _square("solve", A, complex_ok=True)
    if isinstance(B, Tensor) and B.dtype is not A.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{_dt.scalar_type_name(A._dtype)} and B of type {_dt.scalar_type_name(B._dtype)} "
                           f"instead")
    if _no_half_matrices(A):
        return solve(A.float(), B.float(), left=left).to(A.dtype)
    _full_precision("solve", A)
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    if B.ndim == 0:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        return solve(A, B.unsqueeze(-1)).squeeze(-1)
    if B.ndim < 2 or B.shape[-2] != A.shape[-1]:
        rows, cols = (B.shape[-1], 1) if B.ndim == 1 else B.shape[-2:]
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {rows}x{cols})")
    batch = tuple(_broadcast_batch(A.shape[:-2], B.shape[:-2]))
    A = A.expand(*batch, *A.shape[-2:])
    B = B.expand(*batch, *B.shape[-2:])
    return Solve.apply(A, B)


def _broadcast_batch(a, b):
    from .ops import broadcast_shapes
    return broadcast_shapes(tuple(a), tuple(b))


class LogAbsDet(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.xp.linalg.slogdet(a)[1]

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        return g.unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))


def slogdet(A, *, out=None):
    """``(sign, log|det A|)`` of each square matrix; the gradient flows through ``logabsdet``."""
    _square("slogdet", A)
    _full_precision("slogdet", A)
    sign = Tensor._make(A._backend.xp.linalg.slogdet(A._data)[0], A._dtype, A._backend)
    return slogdet_result(sign, LogAbsDet.apply(A))


class Det(Op):
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        if bool(xp.all(xp.isfinite(a))):
            return xp.linalg.det(a)
        return _det_of_non_finite(ctx.backend, a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        scale = g * ctx.output()
        if a.shape[-1] == 1:  # torch's gradient of a 1x1 determinant is the incoming one (inf / nan inputs too)
            return g.unsqueeze(-1).unsqueeze(-1).expand(a.shape)
        if GradMode.enabled or _finite_nonzero(scale, a):  # differentiable again; fast
            return scale.unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))
        return _det_backward_lu(a, scale)


def _finite_nonzero(scale, a):
    xp = a._backend.xp
    return bool(xp.all(xp.isfinite(a._data)) and xp.all(xp.isfinite(scale._data)) and xp.all(scale._data != 0))


def _det_backward_lu(a, scale):
    """torch's linalg_det_backward without create_graph: ``A^T G = scale I`` solved with getrf's factors of
    ``A^T``, zero pivots moved to eps. Where inf / nan meet, or ``A`` is singular, this order of steps is what
    decides torch's answer (the inverse would raise or spread NaN)."""
    from . import dtypes
    from ._linalg_lu import lu_factor_ex, lu_solve
    LU, pivots, _ = lu_factor_ex(_mT(a))
    zero_pivot = LU.diagonal(0, -2, -1) == 0
    LU = LU + (zero_pivot.to(LU.dtype) * dtypes.finfo(LU.dtype).eps).diag_embed()
    return lu_solve(LU, pivots, scale.unsqueeze(-1).expand(pivots.shape).diag_embed())


def _det_of_non_finite(backend, a):
    """torch's determinant where inf / nan make the elimination order matter: the pivots' sign times the product
    of U's diagonal from getrf of ``A^T`` (torch factors the transpose of a contiguous input)."""
    from ._linalg_lu import _getrf
    xp = backend.xp
    with _quiet(xp):
        lu, _, pivots, _ = _getrf(xp, backend.take_along_axis, xp.matrix_transpose(a))
        swaps = xp.sum(xp.astype(pivots != xp.arange(1, a.shape[-1] + 1, dtype=pivots.dtype), xp.int64), axis=-1)
        sign = xp.where(swaps % 2 == 1, xp.asarray(-1.0, dtype=a.dtype), xp.asarray(1.0, dtype=a.dtype))
        return sign * xp.prod(xp.linalg.diagonal(lu), axis=-1)


def det(A, *, out=None):
    """The determinant of each square matrix in ``A``."""
    _square("det", A, complex_ok=True)
    if _no_half_matrices(A):
        return Det.apply(A.float()).to(A.dtype)
    _full_precision("det", A)
    return Det.apply(A)


class Cholesky(Op):
    save_output = True
    holomorphic = False  # the backward is torch's formula, written for its complex convention (conjugates)

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        try:
            L = xp.linalg.cholesky(a)
        except Exception as exc:  # numpy's LinAlgError: raised below as torch's, naming the failing minor
            if "definite" not in str(exc):
                raise
            L = None
        if L is None or not bool(xp.all(xp.isfinite(a))):
            _raise_not_definite(xp, a)
        if L is None:  # numpy refused what the column steps pass (rounding): still torch's error
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                              "positive-definite.")
        return L

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_backward: P = tril(L^H gL), Phi = (P + tril(P, -1)^H) / 2, gA = L^-H Phi L^-1
        # (conjugate transposes: the same formula serves complex matrices)
        from ._linalg_lu import _mH, solve_triangular
        L = ctx.output()
        p = (_mH(L) @ g).tril()
        phi = 0.5 * (p + _mH(p.tril(-1)))
        ga = solve_triangular(_mH(L), phi, upper=True)
        return solve_triangular(L, ga, upper=False, left=False)


def _raise_not_definite(xp, a):
    """torch's LinAlgError where LAPACK's potrf fails on ``a`` (``_failed_minors``)."""
    flat = xp.reshape(_failed_minors(xp, a), (-1,))
    if not bool(xp.any(flat)):
        return
    batch = int(xp.argmax(flat != 0))
    where = f"(Batch element {batch}): " if a.ndim > 2 else ""
    raise LinAlgError(f"linalg.cholesky: {where}The factorization could not be completed because the input is not "
                      f"positive-definite (the leading minor of order {int(flat[batch])} is not positive-definite).")


def _failed_minors(xp, a):
    """Per matrix, the order of potrf's first diagonal step ``d`` that is not
    positive (NaN included), found by the same column order; a non-finite input may pass (``[[4, 0], [0, inf]]``).
    In float32 the pivot before the last column is ``d * (1 / sqrt(d))``, as torch's MKL spotrf takes it (found
    by comparison): an inf pivot turns into NaN there, so ``[[inf, 0], [0, 1]]`` fails at order 2 in float32
    and passes in float64."""
    n = a.shape[-1]
    single = a.dtype == xp.float32
    L = xp.zeros(a.shape, dtype=a.dtype)
    failed = xp.zeros(a.shape[:-2], dtype=xp.int64)
    with _quiet(xp):
        for j in range(n):
            row = L[..., j, :j]
            d = a[..., j, j] - xp.sum(row * row, axis=-1)
            failed = xp.where((failed == 0) & ~(d > 0), j + 1, failed)
            L[..., j, j] = d * (1 / xp.sqrt(d)) if j < n - 1 and single else xp.sqrt(d)
            below = a[..., j + 1:, j] - xp.sum(L[..., j + 1:, :j] * row[..., None, :], axis=-1)
            L[..., j + 1:, j] = below / L[..., j, j][..., None]
    return failed


def _quiet(xp):
    """NumPy's floating-point warnings off (inf / nan steps are expected here); nothing for other backends."""
    import contextlib
    errstate = getattr(xp, "errstate", None)
    return errstate(all="ignore") if errstate else contextlib.nullcontext()


def cholesky(A, *, upper=False, out=None):
    """The lower Cholesky factor ``L`` (``A = L L^T``), or its transpose with ``upper=True``."""
    _square("cholesky", A, complex_ok=True)
    if _no_half_matrices(A):
        return cholesky(A.float(), upper=upper).to(A.dtype)
    _full_precision("cholesky", A)
    L = Cholesky.apply(A)
    return _mT(L) if upper else L


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: ``info`` is 0 where the factorization succeeded and the order of the first leading minor
    that is not positive-definite elsewhere, whose ``L`` is NaN (torch leaves LAPACK's partial factor there);
    ``check_errors=True`` raises as ``cholesky``."""
    try:
        L = cholesky(A, upper=upper)
        return cholesky_ex_result(L, Tensor._make(A._backend.xp.zeros(A.shape[:-2], dtype=A._backend.xp.int32),
                                                  _int32(), A._backend))
    except LinAlgError:
        if check_errors:
            raise
    xp = A._backend.xp
    info = _failed_minors(xp, A._data)
    bad = Tensor._make(info != 0, _dt.bool_, A._backend)[..., None, None]
    eye = Tensor._make(xp.eye(A.shape[-1], dtype=A._data.dtype), A.dtype, A._backend)
    L = cholesky(A.where(~bad, eye), upper=upper)  # the good matrices' factors, differentiable as cholesky's
    return cholesky_ex_result(L.masked_fill(bad, float("nan")), Tensor._make(xp.astype(info, xp.int32), _int32(),
                                                                              A._backend))


def _as_tensor(ctx, array):
    return Tensor._make(array, ctx.backend.dtype_of(array), ctx.backend)


def _keep(ctx, *arrays):
    """A decomposition's outputs, returned and kept for its backward (``_kept``)."""
    ctx.outs = arrays
    return list(arrays)


def _kept(ctx, inputs, recompute):
    """The outputs for the backward: the kept arrays, or under create_graph the decomposition recomputed
    from the saved input, so that the backward's own graph reaches it (gradients of gradients)."""
    if GradMode.enabled:
        return list(recompute(inputs[0]))
    return [_as_tensor(ctx, x) for x in ctx.outs]


class Eigh(MultiOp):

    @staticmethod
    def forward(ctx, a, *, upper):
        ctx.upper = upper
        xp = ctx.backend.xp
        # the triangle torch reads: the other one is mirrored from it
        tri = xp.triu(a) if upper else xp.tril(a)
        sym = tri + xp.matrix_transpose(tri) - xp.eye(a.shape[-1], dtype=a.dtype) * a
        try:
            return _keep(ctx, *xp.linalg.eigh(sym))
        except Exception as exc:  # numpy's LinAlgError (non-finite or ill-conditioned input) said as torch's
            if "converge" not in str(exc):
                raise
            raise LinAlgError("linalg.eigh: The algorithm failed to converge because the input matrix is "
                              "ill-conditioned or has too many repeated eigenvalues.") from None

    @staticmethod
    def backward(ctx, inputs, grads):
        gw, gv = grads
        w, v = _kept(ctx, inputs, lambda a: eigh(a, "U" if ctx.upper else "L"))
        inner = 0
        if gv is not None:
            diff = w.unsqueeze(-2) - w.unsqueeze(-1)  # E[i, j] = w_j - w_i
            eye = diff.new_ones(diff.shape[-1]).diag_embed()
            inner = (_mT(v) @ gv) / (diff + eye) * (1 - eye)
            inner = 0.5 * (inner + _mT(inner))
        if gw is not None:
            inner = inner + gw.diag_embed()
        return (v @ inner @ _mT(v),)

    fast_backward = None


def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric ``A`` (read from its ``UPLO``
    triangle)."""
    _square("eigh", A)
    if _no_half_matrices(A):
        return _cast_back(eigh(A.float(), UPLO), A.dtype)
    _full_precision("eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    w, v = apply_multi(Eigh, (A,), {"upper": UPLO == "U"}, 2)
    return eigh_result(w, v)


def eigvalsh(A, UPLO="L", *, out=None):
    return eigh(A, UPLO).eigenvalues


class QR(MultiOp):

    @staticmethod
    def forward(ctx, a, *, mode):
        ctx.mode = mode
        return _keep(ctx, *ctx.backend.xp.linalg.qr(a, mode=mode))

    @staticmethod
    def backward(ctx, inputs, grads):
        gq, gr = grads
        if gq is None and gr is None:
            return (None,)
        q, r = _kept(ctx, inputs, lambda a: qr(a, ctx.mode))
        rows, cols = r.shape[-2:]
        if rows >= cols:
            return (_qr_backward_square(q, r, gq, gr),)
        # wide (torch's linalg_qr_backward): A = [X | Y], R = [U | V] with X = Q U, V = Q^T Y, so that
        # gY = Q gV and X's gradient is the square one with gQ' = gQ + Y gV^T
        y = inputs[0][..., rows:]
        gu, gv = (None, None) if gr is None else (gr[..., :rows], gr[..., rows:])
        if gv is not None:
            gq = y @ _mT(gv) if gq is None else gq + y @ _mT(gv)
        gx = _qr_backward_square(q, r[..., :rows], gq, gu)
        gy = q @ gv if gv is not None else gx.new_zeros(*gx.shape[:-1], cols - rows)
        from .ops import cat
        return (cat([gx, gy], -1),)

    fast_backward = None


def _qr_backward_square(q, r, gq, gr):
    """A's gradient where R is square (rows >= columns): M = R gR^T - gQ^T Q; gA = (gQ + Q copyltu(M)) R^-T."""
    m = 0
    if gr is not None:
        m = r @ _mT(gr)
    if gq is not None:
        m = m - _mT(gq) @ q
    lower = m.tril(-1)
    copyltu = lower + _mT(lower) + m.diagonal(0, -2, -1).diag_embed()
    b = (gq if gq is not None else 0) + q @ copyltu
    # triangular, as torch's: a zero on R's diagonal gives inf / nan, not solve's singular-matrix error
    from ._linalg_lu import solve_triangular
    return solve_triangular(_mT(r), b, upper=False, left=False)


def qr(A, mode="reduced", *, out=None):
    """``A = Q R`` with orthonormal ``Q`` and upper-triangular ``R`` (``mode`` 'reduced' or 'complete';
    gradients for 'reduced', tall or wide)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    _at_least_2d("linalg.qr", A)
    _full_precision("qr", A)
    _no_complex_gradient("qr", A)
    q, r = apply_multi(QR, (A,), {"mode": "reduced" if mode == "r" else mode}, 2)
    if mode == "r":
        return qr_result(A.new_empty(0), r)
    return qr_result(q, r)


def _finite_or_raise(xp, a):
    """torch's LinAlgError for an SVD of non-finite input (numpy's own error must not escape)."""
    bad = ~xp.all(xp.isfinite(a), axis=(-2, -1))
    if bool(xp.any(bad)):
        where = f"(Batch element {int(xp.argmax(xp.reshape(bad, (-1,))))}): " if a.ndim > 2 else ""
        raise LinAlgError(f"linalg.svd: {where}The algorithm failed to converge because the input matrix contained "
                          f"non-finite values.")


class SVD(MultiOp):

    @staticmethod
    def forward(ctx, a):
        _finite_or_raise(ctx.backend.xp, a)
        return _keep(ctx, *ctx.backend.xp.linalg.svd(a, full_matrices=False))

    @staticmethod
    def backward(ctx, inputs, grads):
        return (_svd_backward(ctx, inputs, *grads),)

    fast_backward = None


def _svd_backward(ctx, inputs, gu, gs, gvh):
    """torch's svd_backward for real input and the reduced factorization (distinct singular values)."""
    u, s, vh = _kept(ctx, inputs, lambda a: svd(a, full_matrices=False))
    v = _mT(vh)
    gv = None if gvh is None else _mT(gvh)
    if gu is None and gv is None:
        return u @ gs.diag_embed() @ vh
    s2 = s * s
    diff = s2.unsqueeze(-2) - s2.unsqueeze(-1)  # s_j^2 - s_i^2
    eye = s.new_ones(s.shape[-1]).diag_embed()
    f = (1 - eye) / (diff + eye)
    inner = gs.diag_embed() if gs is not None else 0
    m, n = u.shape[-2], v.shape[-2]
    if gu is not None:
        ut_gu = _mT(u) @ gu
        inner = inner + (f * (ut_gu - _mT(ut_gu))) * s.unsqueeze(-2)
    if gv is not None:
        vt_gv = _mT(v) @ gv
        inner = inner + s.unsqueeze(-1) * (f * (vt_gv - _mT(vt_gv)))
    ga = u @ inner @ vh
    s_inv = 1 / s
    if gu is not None and m > s.shape[-1]:
        ga = ga + (gu - u @ (_mT(u) @ gu)) * s_inv.unsqueeze(-2) @ vh
    if gv is not None and n > s.shape[-1]:
        ga = ga + u @ (_mT(gv - v @ (_mT(v) @ gv)) * s_inv.unsqueeze(-1))
    return ga


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``A = U diag(S) Vh``; gradients for the reduced form (``full_matrices=False``)."""
    _at_least_2d("linalg.svd", A)
    if _no_half_matrices(A):
        return _cast_back(svd(A.float(), full_matrices), A.dtype)
    _full_precision("svd", A)
    if A.is_complex():
        return _complex_svd(A, full_matrices)
    u, s, vh = apply_multi(SVD, (A,), {}, 3)
    m, n = A.shape[-2:]
    if full_matrices and m != n:
        # torch's backward reads only the reduced factors: the complement's columns (rows) carry no gradient
        from .ops.join import cat
        full_u, _, full_vh = _svd_arrays(A, True)
        u = cat([u, full_u[..., :, min(m, n):]], -1) if m > n else u
        vh = cat([vh, full_vh[..., min(m, n):, :]], -2) if n > m else vh
    return svd_result(u, s, vh)


def _svd_arrays(A, full_matrices):
    """The SVD of ``A``'s data, as tensors outside autograd (S real, also for complex ``A``)."""
    xp = A._backend.xp
    _finite_or_raise(xp, A._data)
    return [Tensor._make(x, A._backend.dtype_of(x), A._backend)
            for x in xp.linalg.svd(A._data, full_matrices=full_matrices)]


def _complex_svd(A, full_matrices):
    """The SVD of complex ``A`` (S real, as torch's), without gradient (``_no_complex_gradient``)."""
    _no_complex_gradient("svd", A)
    return svd_result(*_svd_arrays(A, full_matrices))


def _no_complex_gradient(name, A):
    """Refuses a complex ``A`` that requires grad: the backward is the real formula, which gives wrong
    complex gradients, so an error rather than wrong numbers."""
    if A.is_complex() and A.requires_grad and GradMode.enabled:
        raise NotImplementedError(f"linalg.{name}: gradients of complex input are not supported in tensorplug "
                                  f"yet; compute under torch.no_grad() or on A.detach()")


def svdvals(A, *, driver=None, out=None):
    return svd(A, full_matrices=False).S


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The pseudo-inverse from the reduced SVD, singular values under ``rtol * max(S)`` (or ``atol``)
    taken as zero, as torch.linalg.pinv."""
    if A.dim() < 2 or not A.is_floating_point() or A.dtype.itemsize < 4:
        from .dtypes import scalar_type_name
        raise RuntimeError(f"linalg.pinv({scalar_type_name(A._dtype)}{{{list(A.shape)}}}): expected a tensor with 2 or "
                           f"more dimensions of float, double, cfloat or cdouble types")
    return Pinv.apply(A, value=_pinv_value(A.detach(), atol, rtol)._data)


def _pinv_value(A, atol, rtol):
    u, s, vh = svd(A, full_matrices=False)
    smax = _largest(s)
    if rtol is None:
        from . import dtypes
        rtol = dtypes.finfo(A.dtype).eps * max(A.shape[-2:]) if atol is None else 0.0
    cutoff = smax * rtol
    if atol is not None:
        cutoff = cutoff.clamp_min(atol)
    keep = s > cutoff
    s_inv = (1 / s.masked_fill(~keep, 1.0)).masked_fill(~keep, 0.0)
    return _mT(vh) @ (s_inv.unsqueeze(-1) * _mT(u))


class Pinv(Op):
    """The pseudo-inverse (computed by ``pinv``) with torch's gradient, pinv_backward: the derivative of the
    pseudo-inverse as a smooth function of A, from A and the result alone. Differentiating through the
    truncated SVD instead gives another gradient wherever singular values fall under the cutoff."""

    node_name = "LinalgPinvBackward0"
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, a, *, value):
        return value

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        p = ctx.output()
        ph, gh = _mT(p), _mT(g)
        if a.shape[-2] <= a.shape[-1]:
            k = gh @ p
            kph = k @ ph
            return -_mT(p @ k) + kph - (a @ p) @ kph + (ph @ p) @ (gh - k @ a)
        k = p @ gh
        phk = ph @ k
        return -_mT(k @ p) + (gh - a @ k) @ p @ ph + phk - phk @ p @ a


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    _at_least_2d("torch.linalg.matrix_rank", A, "The input tensor input")
    if A.is_floating_point() and A.dtype.itemsize < 4:
        raise RuntimeError("This function doesn't handle types other than float and double")
    s = svdvals(A.detach())
    from . import dtypes
    if rtol is None:
        rtol = dtypes.finfo(A.dtype).eps * max(A.shape[-2:]) if atol is None else 0.0
    cutoff = _largest(s) * rtol
    if atol is not None:
        cutoff = cutoff.clamp_min(atol)
    return (s > cutoff).sum(-1)


def _largest(s):
    """The largest singular value of each matrix, kept as a dim: 0 for an empty matrix (amax refuses)."""
    return s.amax(-1, keepdim=True) if s.shape[-1] else s.new_zeros(*s.shape[:-1], 1)


lstsq_result = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B`` (through the pseudo-inverse), as torch.linalg.lstsq on
    the CPU: ``residuals`` empty, ``rank`` set, ``singular_values`` only for drivers 'gelsd' / 'gelss'."""
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"but got {driver}")
    vector = _lstsq_shapes(A, B)
    if A.is_floating_point() and A.dtype.itemsize < 4:
        raise RuntimeError("This function doesn't handle types other than float and double")
    rhs = B.unsqueeze(-1) if vector else B
    solution = pinv(A, rtol=rcond) @ rhs
    empty = A.new_empty(0)
    singular = svdvals(A.detach()) if driver in ("gelsd", "gelss") else empty
    rank = matrix_rank(A, rtol=rcond)
    return lstsq_result(solution.squeeze(-1) if vector else solution, _lstsq_residuals(A, rhs, solution, rank, driver),
                        rank, singular)


def _lstsq_residuals(A, rhs, solution, rank, driver):
    """torch's residuals: each column's squared residual norm when A is tall and every matrix in the batch
    has full rank, and the driver is not gelsy (the CPU default); otherwise empty."""
    m, n = A.shape[-2:]
    if driver in (None, "gelsy") or m <= n or not bool((rank == n).all()):
        return A.new_empty(0).abs()  # real, as torch's, for complex A too
    return ((A @ solution - rhs).abs() ** 2).sum(-2)


def _lstsq_shapes(A, B):
    """torch's shape checks of lstsq's operands; whether ``B`` is a (batch of) vector(s)."""
    _at_least_2d("torch.linalg.lstsq", A, "input")
    if B.ndim < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if not 0 <= A.ndim - B.ndim <= 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    # torch's vector case (linalg_solve_is_vector_rhs): one dim fewer is not enough, the shape must be A's batch
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if A.shape[-2] != B.shape[-1 if vector else -2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size({-1 if vector else -2})")
    return vector


# torch's older top-level spellings (torch.inverse, torch.det, Tensor.logdet ...) ----------------

svd_old_result = namedtuple("svd", ["U", "S", "V"])


def logdet(input):
    """``log det A``: NaN where the determinant is negative, -inf where it is zero (torch.logdet)."""
    _at_least_2d("logdet", input)
    sign, logabs = slogdet(input)
    # a fill, not an added NaN: torch's gradient is zero where the determinant is negative
    return logabs.masked_fill(sign < 0, float("nan"))


def _old_svd(input, some=True, compute_uv=True):
    """torch.svd: ``(U, S, V)``; without ``compute_uv``, U and V are zeros of (m, m) and (n, n), as torch's."""
    if not compute_uv:
        from .creation import zeros
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        z = lambda k: zeros(batch + (k, k), dtype=input.dtype, device=input._backend)  # noqa: E731
        return svd_old_result(z(m), svdvals(input), z(n))
    u, s, vh = svd(input, full_matrices=not some)
    return svd_old_result(u, s, _mT(vh).conj())  # V = Vh^H: A = U diag(S) V^H for complex A too


def _old_qr(input, some=True):
    return qr(input, "reduced" if some else "complete")


def _old_cholesky(input, upper=False):
    return cholesky(input, upper=upper)


# torch's top-level names take ``input=`` where torch.linalg's take ``A=``
def _old_inverse(input, *, out=None):
    return inv(input, out=out)


def _old_det(input):
    return det(input)


def _old_slogdet(input):
    return slogdet(input)


def _old_pinverse(input, rcond=1e-15):
    """torch.pinverse: ``linalg.pinv`` with ``rcond`` as its relative tolerance."""
    return pinv(input, rtol=rcond)


TOP_LEVEL = {"dist": dist, "inverse": _old_inverse, "det": _old_det, "logdet": logdet, "slogdet": _old_slogdet,
             "pinverse": _old_pinverse, "cholesky": _old_cholesky, "svd": _old_svd, "qr": _old_qr}


def _bind_methods(methods):
    from .ops import bind
    bind(methods)


_bind_methods(TOP_LEVEL)
from ._linalg_lu import *  # noqa: E402,F401,F403 - solve_triangular, lu_factor, lu, lu_solve, vander ...
from ._linalg_lu import TOP_LEVEL as _LU_TOP_LEVEL, METHODS as _LU_METHODS  # noqa: E402

TOP_LEVEL.update(_LU_TOP_LEVEL)  # torch.lu, torch.lu_unpack, torch.lu_solve ... (not in torch.linalg)
_bind_methods(_LU_METHODS)
from ._linalg_extra import *  # noqa: E402,F401,F403 - matrix_exp, eig, eigvals ...
from ._linalg_extra import TOP_LEVEL as _EXTRA_TOP_LEVEL  # noqa: E402

TOP_LEVEL.update(_EXTRA_TOP_LEVEL)  # torch.matrix_exp (also Tensor.matrix_exp)
_bind_methods(_EXTRA_TOP_LEVEL)
