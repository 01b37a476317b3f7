"""Products built on matmul: cross, tensordot, inner, vdot, addmv, addr, baddbmm, addbmm, chain_matmul /
multi_dot and matrix_power. Each is a composite of differentiable ops, so the gradients are those of
its parts; the argument checks give torch's messages."""
from __future__ import annotations

import math
import warnings

from .. import dtypes as _dt
from ..tensor import Tensor
from ._util import wrap_dim
from .linalg import _check_expands_to, matmul

__all__ = ["cross", "tensordot", "inner", "vdot", "addmv", "addr", "baddbmm", "addbmm", "chain_matmul",
           "matrix_power"]


def linalg_cross(input, other, *, dim=-1):
    """The 3-vector cross product along ``dim`` (the operands broadcast)."""
    from .shape_extra import broadcast_tensors
    if input.dim() != other.dim():  # ATen's check: no broadcasting that adds dimensions
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    sizes = [_size(input, dim), _size(other, dim)]
    if sizes != [3, 3]:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {sizes[0]} and "
                           f"{sizes[1]}")
    a, b = broadcast_tensors(input, other)
    axis = wrap_dim(dim, a.dim())
    from .join import cat
    a0, a1, a2 = (a.narrow(axis, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(axis, i, 1) for i in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis)


def cross(input, other, dim=None):
    """torch.cross: ``linalg.cross`` along ``dim``; without ``dim`` (deprecated) input's first dim of size 3."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the "
                      "dim explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to "
                      "agree with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        if 3 not in input.shape:  # ATen looks in input's own sizes, not the broadcast ones
            raise RuntimeError(f"no dimension of size 3 in input: shape {list(input.shape)}; pass dim= naming the "
                               f"3-vector dimension")
        dim = list(input.shape).index(3)
    return linalg_cross(input, other, dim=dim)


def _contracted(dims):
    """tensordot's ``dims`` as two lists of dimensions, as given (an int n: a's last n, b's first n)."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        return list(range(-dims, 0)), list(range(dims))
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    left, right = dims
    left = [left] if isinstance(left, int) else list(left)
    right = [right] if isinstance(right, int) else list(right)
    if len(left) != len(right):
        raise RuntimeError(f"both dimension lists should have same length: got {left} and {right}")
    return left, right


def _size(t, d):
    """``t.size(d)`` as ATen's: an IndexError for a dimension ``t`` lacks (ATen reads sizes before its checks)."""
    n = t.dim()
    if n == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return t.shape[d]


def _wrapped(dims, n):
    wrapped = [wrap_dim(d, n) for d in dims]
    repeated = next((d for d in wrapped if wrapped.count(d) > 1), None)
    if repeated is not None:
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    return wrapped


def tensordot(a, b, dims=2, out=None):
    """Sums the products of ``a`` and ``b`` over the dimensions ``dims`` names (an int: the last
    ``dims`` of ``a`` with the first of ``b``; or two lists). As ATen's, a contracted dimension of size 1
    meets any size: the other operand is summed over it (keepdim) before the product."""
    given_a, given_b = _contracted(dims)
    if a._dtype is not b._dtype:
        raise RuntimeError(f"both inputs should have same dtype: got {a._dtype} and {b._dtype}")
    size = 1
    for i, j in zip(given_a, given_b):
        s1, s2 = _size(a, i), _size(b, j)
        if s2 == 1:
            a = a.sum(i, keepdim=True)
        elif s1 == 1:
            b = b.sum(j, keepdim=True)
        elif s1 != s2:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {s1} in dim {i} and "
                               f"second has size {s2} in dim {j}")
        else:
            size *= s1
    left, right = _wrapped(given_a, a.dim()), _wrapped(given_b, b.dim())
    free_a = [d for d in range(a.dim()) if d not in left]
    free_b = [d for d in range(b.dim()) if d not in right]
    rows, cols = math.prod(a.shape[d] for d in free_a), math.prod(b.shape[d] for d in free_b)
    lhs = a.permute(*free_a, *left).reshape(rows, size)  # (explicit sizes: -1 is ambiguous when empty)
    rhs = b.permute(*right, *free_b).reshape(size, cols)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return matmul(lhs, rhs).reshape(shape)


def inner(input, other):
    """The sum of products over the last dimension (a scalar operand: the plain product)."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    """``sum(conj(input) * other)`` of two 1-D tensors."""
    from .linalg import dot
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_dt.scalar_type_name(input._dtype)} and {_dt.scalar_type_name(other._dtype)}")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements, but got {input.shape[0]} "
                           f"and {other.shape[0]} elements respectively")
    return dot(input.conj() if input.is_complex() else input, other)


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``; with beta 0 the input is not read (its NaNs do not pass)."""
    _check_expands_to(input, tuple(product.shape))
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        if input.requires_grad:  # torch's zero gradient for input, its values (NaN included) unread
            product = product + (input * 0).nan_to_num(0.0, 0.0, 0.0)
        return product
    return product + (input if beta == 1 else input * beta)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``; input has mat's row count of elements, or one."""
    if not (mat.dim() == 2 and vec.dim() == 1 and input.dim() <= 1):
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, {mat.dim()}, {vec.dim()}")
    if mat.shape[1] != vec.shape[0] or input.numel() not in (1, mat.shape[0]):
        # ATen's message reads input.size(0): a 0-d input makes it an IndexError
        raise RuntimeError(f"size mismatch, got input ({_size(input, 0)}), mat ({mat.shape[0]}x{mat.shape[1]}), "
                           f"vec ({vec.shape[0]})")
    return _scaled_sum(input, matmul(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    from .linalg import outer
    for name, vec in (("vec1", vec1), ("vec2", vec2)):
        if vec.dim() != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {vec.dim()}-D")
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def _check_batches(batch1, batch2):
    """ATen's first check after the input was expanded: both batches 3-D."""
    for name, batch in (("batch1", batch1), ("batch2", batch2)):
        if batch.dim() != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)``, batch by batch."""
    # ATen expands input to the result's sizes first: a missing dimension is an IndexError
    _check_expands_to(input, (_size(batch1, 0), _size(batch1, 1), _size(batch2, 2)))
    _check_batches(batch1, batch2)
    if batch1.shape[0] != batch2.shape[0] or batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch1.shape[0]}, {batch1.shape[2]}] but got: [{batch2.shape[0]}, "
                           f"{batch2.shape[1]}].")
    return _scaled_sum(input, matmul(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b (batch1[b] @ batch2[b])``."""
    if batch1.requires_grad or batch2.requires_grad:
        _size(batch1, 0)  # torch's autograd saves batch1.size(0) before the kernel reads any size
    _check_expands_to(input, (_size(batch1, 1), _size(batch2, 2)))
    _check_batches(batch1, batch2)
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {batch1.shape[0]} and "
                           f"{batch2.shape[0]}")
    if batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({batch1.shape[1]}x{batch1.shape[2]} and "
                           f"{batch2.shape[1]}x{batch2.shape[2]})")
    return _scaled_sum(input, matmul(batch1, batch2).sum(0), beta, alpha)


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first and last may be vectors), ``linalg.multi_dot``; the
    multiplication order is the cheapest one for the shapes (torch's dynamic programme)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vector, last_vector = tensors[0].dim() == 1, tensors[-1].dim() == 1
    mats = [tensors[0].unsqueeze(0) if first_vector else tensors[0]] + tensors[1:-1] + [
        tensors[-1].unsqueeze(-1) if last_vector else tensors[-1]]
    for i, m in enumerate(mats):
        if m.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {m.dim()}D (only the first and last "
                               f"may be 1D)")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(mats[i].shape)} and "
                               f"{list(mats[i + 1].shape)} cannot be multiplied")
    out = _chain(mats, _order([m.shape[0] for m in mats] + [mats[-1].shape[1]]), 0, len(mats) - 1)
    if first_vector:
        out = out.squeeze(0)
    return out.squeeze(-1) if last_vector else out


def _order(dims):
    """The split points of the cheapest parenthesisation (the matrix-chain dynamic programme)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return matmul(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


def chain_matmul(*matrices, out=None):
    """Deprecated torch.chain_matmul: ``linalg.multi_dot`` of the matrices."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


def matrix_power(input, n):
    """``input`` multiplied by itself ``n`` times (n = 0: the identity; n < 0: powers of the inverse)."""
    if input.dim() < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{input.shape[-2]} by {input.shape[-1]} matrices")
    if n == 0:
        from ..creation import eye
        identity = eye(input.shape[-1], dtype=input.dtype, device=input._backend).expand(input.shape).clone()
        if input.requires_grad:  # torch's result has a (zero) gradient; the input's NaNs stay out
            identity = identity + (input * 0).nan_to_num(0.0, 0.0, 0.0)
        return identity
    if n < 0:
        from ..linalg import inv
        input, n = inv(input), -n
    # ATen's fast paths: their order of products decides where inf/nan inputs give inf or NaN
    if n == 1:
        return input.clone()
    if n == 3:
        return matmul(matmul(input, input), input)
    result = None
    square = input
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


METHODS = {"cross": cross, "inner": inner, "vdot": vdot, "addmv": addmv, "addr": addr, "baddbmm": baddbmm,
           "addbmm": addbmm, "matrix_power": matrix_power}


def bind_methods():
    """The Tensor methods, with the in-place forms torch has (``x.addmv_(m, v)`` ...)."""
    from .inplace import make_inplace
    methods = dict(METHODS)
    methods.update({f"{name}_": make_inplace(METHODS[name], f"{name}_") for name in
                    ("addmv", "addr", "baddbmm", "addbmm")})
    return methods
