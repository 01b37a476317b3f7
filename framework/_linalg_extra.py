"""torch.linalg's matrix_exp (with torch's gradient: the exponential of a block matrix), eig and eigvals (the
backend's general eigensolver, torch's gradient), and the functions of torch.linalg that build on the others
(householder_product, tensorinv, tensorsolve: composites, differentiable as their parts); re-exported by
``linalg``."""
from __future__ import annotations

import math
from collections import namedtuple

from . import dtypes as _dt
from .autograd.function import Op
from .autograd.grad_mode import GradMode
from .linalg import LinAlgError, _keep, _square, inv, solve
from .ops.elementwise import Exp as _Exp
from .ops.join import apply_multi, cat, MultiOp
from .tensor import Tensor

__all__ = ["matrix_exp", "eig", "eigvals", "householder_product", "tensorinv", "tensorsolve"]

eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def matrix_exp(A):
    """``exp(A)`` of each square matrix: Taylor series of ``A / 2^s`` squared ``s`` times. As torch's: a 1x1
    matrix is ``exp`` of its entry, a larger matrix holding inf / nan is all NaN (the others of a batch
    unaffected); the gradient is torch's, itself differentiable.

    Example:
        >>> tensorplug.linalg.matrix_exp(tensorplug.zeros(2, 2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    _square("matrix_exp", A, complex_ok=True)
    if A.is_floating_point() and A.dtype.itemsize < 4:
        # in float32, rounded once: torch's own half / bfloat16 kernel overflows its polynomial's constants
        # (inf / NaN / -21072 for 0.3 I), and 18 Taylor terms in half drift by several ulps
        return matrix_exp(A.float()).to(A.dtype)
    if A.shape[-1] == 1:
        return MatrixExp1x1.apply(A)
    bad = (~A.detach().isfinite()).any(-1).any(-1).unsqueeze(-1).unsqueeze(-1)
    if not bool(bad.any()):
        return MatrixExp.apply(A)
    # NaN values and gradients for the non-finite matrices, the series (of zeros there) for the others
    nan_branch = A.masked_fill(~bad, 0.0) * float("nan")
    return nan_branch.where(bad, MatrixExp.apply(A.masked_fill(bad, 0.0)))


class MatrixExp1x1(_Exp):
    """torch's matrix_exp of 1x1 matrices: ``exp`` of the entry, whose gradient is NaN for an inf / nan entry
    (torch's backward goes through the exponential of a block matrix holding it)."""

    node_name = "LinalgMatrixExpBackward0"
    save_inputs = (0,)
    fast_backward = None

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        return g * ctx.output().masked_fill(~a.isfinite(), float("nan"))


class MatrixExp(Op):
    """``exp(A)`` of finite square matrices; its gradient is the upper-right block of
    ``exp([[A^T, g], [0, A^T]])`` (torch's; the engine conjugates around it for complex A)."""

    node_name = "LinalgMatrixExpBackward0"
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        return _series(ctx.backend.xp, a)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors_list()
        n = a.shape[-1]
        at = a.mT
        block = cat([cat([at, g], -1), cat([at.new_zeros(at.shape), at], -1)], -2)
        return matrix_exp(block)[..., :n, n:]


def _series(xp, a):
    """Scale until ||A||_1 <= 1/2, where 18 Taylor terms reach float64 precision, then square back."""
    n = a.shape[-1]
    norm1 = float(xp.max(xp.sum(xp.abs(a), axis=-2))) if math.prod(a.shape) else 0.0
    squarings = max(0, math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 else 0
    x = a / (2.0 ** squarings)
    term = total = xp.broadcast_to(xp.eye(n, dtype=a.dtype), a.shape)
    for k in range(1, 19):
        term = xp.matmul(term, x) / k
        total = total + term
    for _ in range(squarings):
        total = xp.matmul(total, total)
    return total


# eig / eigvals -----------------------------------------------------------------------------------------------

class Eig(MultiOp):
    """Eigenvalues and unit eigenvectors of general square matrices, complex as torch's (LAPACK geev)."""

    node_name = "LinalgEigBackward0"

    @staticmethod
    def forward(ctx, a, *, dtype):
        backend = ctx.backend
        if math.prod(a.shape) == 0:
            return _keep(ctx, backend.zeros(a.shape[:-1], dtype), backend.zeros(a.shape, dtype))
        # xp.linalg.eig is in the Array API standard from its 2025.12 version; NumPy's is LAPACK's geev
        solver = getattr(backend.xp.linalg, "eig", None)
        try:
            if solver is None:
                raise AttributeError("its array library's linalg has no eig")
            w, v = solver(a)
        except Exception as exc:  # the library's own error, said as torch's with the way out
            if "converge" in str(exc):
                raise LinAlgError("linalg.eig: The algorithm failed to converge because the input matrix is "
                                  "ill-conditioned.") from None
            raise RuntimeError(f"linalg.eig: backend '{backend.name}' has no general eigensolver ({exc}); move "
                               f"the tensor to a backend that has one, such as numpy: A.to('numpy')") from None
        return _keep(ctx, backend.astype(w, dtype), backend.astype(v, dtype))

    @staticmethod
    def backward(ctx, inputs, grads):
        # torch's linalg_eig_backward: gA = V^-H (P / E + diag(gL)) V^H, where P is V^H gV projected onto the
        # gauge freedom V -> V e^{i phi} and E[i, j] = conj(L_j - L_i)
        gL, gV = grads
        a, = inputs
        L, V = _own_outputs(ctx)
        Vh = V.mH
        inner = L.new_zeros(V.shape)
        if gV is not None:
            VhgV = Vh @ gV
            diag = VhgV.diagonal(0, -2, -1)
            if not bool((diag.imag.abs() <= 1e-2).all()):  # torch: allclose(imag, 0, 1e-2, 1e-2)
                raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                                   "multiplication by e^{i phi}. The specified loss function depends on this "
                                   "quantity, so it is ill-defined; use a loss that does not change when an "
                                   "eigenvector is multiplied by a unit complex number (e.g. one of V.abs())")
            VhgV = VhgV - Vh @ (V * diag.real.unsqueeze(-2))
            Lc = L.conj()
            E = Lc.unsqueeze(-2) - Lc.unsqueeze(-1)
            eye = E.new_ones(E.shape[-1]).real.diag_embed().bool()
            inner = (VhgV / E.masked_fill(eye, 1)).masked_fill(eye, 0)
        if gL is not None:
            inner = inner + gL.diag_embed()
        gA = _complex_solve(Vh, inner @ Vh)
        return (gA if a.is_complex() else gA.real,)


def _own_outputs(ctx):
    """The outputs kept by ``_keep``, as this node's outputs again when a graph of the backward is built (a
    saved output, as torch unpacks one): the second-order gradient reaching them joins the one reaching the
    forward's outputs in this node, where only their sum is free of the eigenvectors' phase."""
    node = ctx if GradMode.enabled else None
    seq = getattr(ctx, "_seq", None)
    outs = []
    for nr, array in enumerate(ctx.outs):
        t = Tensor._make(array, ctx.backend.dtype_of(array), ctx.backend, node)
        t._output_nr = nr
        outs.append(t)
    if node is not None:
        ctx._seq = seq  # _make numbers a node anew; this one must stay older than every node that feeds it
    return outs


def _complex_solve(A, B):
    """``X`` with ``A X = B`` for complex ``A``, as the real system [[Re A, -Im A], [Im A, Re A]] (linalg.solve
    takes real matrices only)."""
    from .ops.complex_numbers import complex as _complex
    n = A.shape[-1]
    Ar, Ai = A.real, A.imag
    system = cat([cat([Ar, -Ai], -1), cat([Ai, Ar], -1)], -2)
    X = solve(system, cat([B.real, B.imag], -2))
    return _complex(X[..., :n, :], X[..., n:, :])


def eig(A, *, out=None):
    """``(eigenvalues, eigenvectors)`` of each square matrix of ``A``, complex (complex64 for float32 input,
    complex128 for float64), each eigenvector of norm 1, in the order of LAPACK's geev as torch's. The
    eigenvectors' gradient is defined only for losses that do not depend on their phase, as torch's.

    Example:
        >>> tensorplug.linalg.eig(tensorplug.tensor([[2.0, 0.0], [0.0, 3.0]])).eigenvalues
        tensor([2.+0.j, 3.+0.j])
    """
    return eig_result(*_eig("eig", A))


def _eig(name, A):
    """torch's checks in its order, then the decomposition: complex eigenvalues and eigenvectors."""
    if not A.is_floating_point() and not A.is_complex():
        raise RuntimeError(f"Unknown Complex ScalarType for {_dt.scalar_type_name(A._dtype)}: linalg.{name} takes "
                           f"floating point or complex matrices; convert with A.double()")
    _square(name, A, complex_ok=True)
    if A.is_floating_point() and A.dtype.itemsize < 4:
        raise NotImplementedError(f"\"linalg_eig_out_cpu\" not implemented for '{_dt.scalar_type_name(A._dtype)}'")
    if A.numel() and not bool(A.detach().isfinite().all()):  # (torch's eigvals crashes in MKL there)
        raise RuntimeError(f"torch.linalg.{name}: input tensor should not contain infs or NaNs.")
    dtype = A._dtype if A.is_complex() else (_dt.complex128 if A._dtype is _dt.float64 else _dt.complex64)
    return apply_multi(Eig, (A,), {"dtype": dtype}, 2)


def eigvals(A, *, out=None):
    """The eigenvalues of each square matrix of ``A`` (``eig(A).eigenvalues``), complex.

    Example:
        >>> tensorplug.linalg.eigvals(tensorplug.tensor([[0.0, -1.0], [1.0, 0.0]]))
        tensor([0.+1.j, 0.-1.j])
    """
    return _eig("eigvals", A)[0]


# composites: householder_product, tensorinv, tensorsolve ---------------------------------------------------

def householder_product(A, tau, *, out=None):
    """The first ``n`` columns of ``H_1 H_2 ... H_k`` for ``A`` (*, m, n) and ``tau`` (*, k), where
    ``H_i = I - tau_i v_i v_i^H`` and ``v_i`` is column ``i`` of ``A`` below the diagonal with a 1 on it (the Q
    of a QR factorization stored as LAPACK's geqrf stores it).

    Example:
        >>> tensorplug.linalg.householder_product(tensorplug.zeros(2, 2), tensorplug.tensor([2.0]))
        tensor([[-1.,  0.],
                [ 0.,  1.]])
    """
    _householder_checks(A, tau)
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    eye = A.new_ones(m).diag_embed()
    V = A[..., :k].tril(-1) + eye[:, :k]
    Q = eye[:, :n].expand(*A.shape[:-2], m, n)
    if k == 0:  # Q depends on A and tau all the same: zero gradients, as torch's
        Q = Q + (A[..., :0].sum(-1, keepdim=True) + tau.sum(-1, keepdim=True).unsqueeze(-1))
    for i in reversed(range(k)):
        v = V[..., i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * (v @ (v.mH @ Q))
    return Q


def _householder_checks(A, tau):
    name = "torch.linalg.householder_product"
    if A.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if A.shape[-2] < A.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-2] must be greater than or equal to input.shape[-1] (got a "
                           f"{A.shape[-2]} by {A.shape[-1]} input)")
    if tau.ndim == 0:  # torch reads tau.shape[-1] first
        raise IndexError(f"Dimension specified as -1 but tensor has no dimensions; {name} takes tau of shape "
                         f"input.shape[:-2] + (k,)")
    if A.shape[-1] < tau.shape[-1]:
        raise RuntimeError(f"{name}: input.shape[-1] must be greater than or equal to tau.shape[-1] (got "
                           f"{A.shape[-1]} and {tau.shape[-1]})")
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(f"{name}: Expected tau to have one dimension less than input, but got tau.ndim equal "
                           f"to {tau.ndim} and input.ndim is equal to {A.ndim}")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{name}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(tau.shape[:-1])}")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"{name}: tau dtype {_dt.scalar_type_name(tau._dtype)} does not match input dtype "
                           f"{_dt.scalar_type_name(A._dtype)}; convert tau with tau.to({A.dtype})")
    if not A.is_complex() and not (A.is_floating_point() and A.dtype.itemsize >= 4):
        raise NotImplementedError(f"\"orgqr_cpu\" not implemented for '{_dt.scalar_type_name(A._dtype)}'")


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` for ``tensordot(·, ·, ind)``: ``A`` read as a matrix of ``prod(A.shape[:ind])`` rows,
    inverted, with shape ``A.shape[ind:] + A.shape[:ind]``.

    Example:
        >>> tensorplug.linalg.tensorinv(2 * tensorplug.eye(4).reshape(4, 2, 2), ind=1).shape
        tensorplug.Size([2, 2, 4])
    """
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    if ind > A.ndim:
        raise RuntimeError(f"linalg.tensorinv: ind ({ind}) must be at most A.ndim ({A.ndim})")
    rows, cols = A.shape[:ind], A.shape[ind:]
    if math.prod(cols) != math.prod(rows):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {math.prod(cols)} != {math.prod(rows)}")
    return inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(*cols, *rows)


def tensorsolve(A, B, dims=None, *, out=None):
    """``X`` with ``tensordot(A, X, X.ndim) = B``; ``dims`` are dims of ``A`` moved to its end first. ``X`` has
    shape ``A.shape[B.ndim:]``.

    Example:
        >>> tensorplug.linalg.tensorsolve(2 * tensorplug.eye(6).reshape(2, 3, 6), tensorplug.ones(2, 3)).shape
        tensorplug.Size([6])
    """
    if dims is not None:
        dims = [d % A.ndim for d in ((dims,) if isinstance(dims, int) else dims)]
        A = A.permute(*[d for d in range(A.ndim) if d not in dims], *dims)
    shape = A.shape[B.ndim:]
    size = math.prod(shape)
    if size != B.numel():
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {size} != {B.numel()}")
    return solve(A.reshape(B.numel(), size), B.reshape(B.numel())).reshape(shape)


TOP_LEVEL = {"matrix_exp": matrix_exp, "orgqr": householder_product}
