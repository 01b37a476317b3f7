"""torch.linalg's matrix_exp (with torch's gradient: the exponential of a block matrix) and the functions of
torch.linalg that build on the others; re-exported by ``linalg``."""
from __future__ import annotations

import math

from .autograd.function import Op
from .linalg import _square
from .ops.elementwise import Exp as _Exp
from .ops.join import cat

__all__ = ["matrix_exp"]


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


TOP_LEVEL = {"matrix_exp": matrix_exp}
