"""Matrix products: matmul (1-D, 2-D, batched), mm, bmm, mv, dot, addmm, outer."""
from __future__ import annotations

from ..autograd.function import Op
from ..tensor import Tensor


class MatMul(Op):
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.xp.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
            ga = (g.unsqueeze(-2) @ b.transpose(-1, -2)).squeeze(-2) if ctx._edges[0] is not None else None
            gb = a.unsqueeze(-1) * g.unsqueeze(-2) if ctx._edges[1] is not None else None
            return ga, gb
        if b.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
            ga = g.unsqueeze(-1) * b if ctx._edges[0] is not None else None
            gb = (a.transpose(-1, -2) @ g.unsqueeze(-1)).squeeze(-1) if ctx._edges[1] is not None else None
            return ga, gb
        if ctx._edges[0] is not None:
            ga = g @ b.transpose(-1, -2)
        if ctx._edges[1] is not None:
            gb = a.transpose(-1, -2) @ g
        return ga, gb


def _check(a, b, name):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be Tensor, not "
                        f"{type(b if isinstance(a, Tensor) else a).__name__}")
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"both arguments to {name} need to be at least 1D, but they are "
                           f"{len(sa)}D and {len(sb)}D")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a._dtype} != {b._dtype}; "
                           f"convert one, e.g. a.to(b.dtype)")
    if len(sa) == 1 and len(sb) == 1:
        if sa[0] != sb[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have "
                               f"the same number of elements, but got {sa[0]} and {sb[0]} elements respectively")
        return
    k1 = sa[-1]
    k2 = sb[0] if len(sb) == 1 else sb[-2]
    if k1 != k2:
        left = "x".join(map(str, sa[-2:]))
        right = "x".join(map(str, sb[-2:]))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")


def matmul(input, other):
    """Matrix product with numpy's broadcasting rules (``@``)."""
    _check(input, other, "matmul")
    try:
        return MatMul.apply(input, other)
    except ValueError as exc:
        raise RuntimeError(f"matmul: batch dimensions do not broadcast: {list(input.shape)} @ "
                           f"{list(other.shape)} ({exc})") from None


def mm(input, mat2):
    if input.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError(f"self must be a matrix" if input.dim() != 2 else "mat2 must be a matrix")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if input.dim() != 3 else "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2)


def mv(input, vec):
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, {vec.dim()}")
    return matmul(input, vec)


def dot(input, other):
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    return matmul(input, other)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    return prod + (input if beta == 1 else input * beta)


def outer(input, vec2):
    return input.unsqueeze(-1) * vec2.unsqueeze(0)
