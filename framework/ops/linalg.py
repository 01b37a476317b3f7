"""Matrix products: matmul (1-D, 2-D, batched), mm, bmm, mv, dot, addmm, outer; the (conjugate) transposes mT,
mH, H and adjoint."""
from __future__ import annotations

import math

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor


class MatMul(Op):
    # torch's matmul of batched operands ends in a reshape of its bmm: that node's name
    node_name = "UnsafeViewBackward0"
    save_inputs = (0, 1)
    save_needed_by = {0: (1,), 1: (0,)}

    @staticmethod
    def forward(ctx, a, b):
        return matmul_arrays(ctx.backend.xp, a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors_list()
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a
        if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
            ga = (g.unsqueeze(-2) @ b.transpose(-1, -2)).squeeze(-2) if ctx.needs_grad(0) else None
            gb = a.unsqueeze(-1) * g.unsqueeze(-2) if ctx.needs_grad(1) else None
            return ga, gb
        if b.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
            ga = g.unsqueeze(-1) * b if ctx.needs_grad(0) else None
            gb = (a.transpose(-1, -2) @ g.unsqueeze(-1)).squeeze(-1) if ctx.needs_grad(1) else None
            return ga, gb
        if ctx.needs_grad(0):
            ga = g @ b.transpose(-1, -2)
        if ctx.needs_grad(1):
            gb = a.transpose(-1, -2) @ g
        return ga, gb

    @staticmethod
    def fast_backward(ctx, g):
        a, b = ctx.saved_arrays()
        if a.ndim < 2 or b.ndim < 2:
            grads = MatMul.backward(ctx, ctx.tensor(g))  # 1-D cases: the Tensor formulas
            return tuple(None if t is None else t._data for t in grads)
        xp = ctx.backend.xp
        ga = gb = None
        if ctx.needs_grad(0):
            if b.ndim > 2 and a.ndim == 2:  # a shared by every matrix of b: the batch folded into one GEMM
                m, k = a.shape
                folded = math.prod(b.shape[:-2]) * b.shape[-1]  # (not -1: NumPy cannot infer it for 0 elements)
                ga = matmul_arrays(xp, xp.reshape(xp.moveaxis(g, -2, 0), (m, folded)),
                                   xp.reshape(xp.matrix_transpose(b), (folded, k)))
            else:
                ga = matmul_arrays(xp, g, xp.matrix_transpose(b))  # the engine sums it to a's shape
        if ctx.needs_grad(1):
            if a.ndim > 2 and b.ndim == 2:  # torch folds a's batch into its rows: one GEMM, one rounding
                n = math.prod(a.shape[:-1])
                rows = xp.reshape(a, (n, a.shape[-1]))
                gb = matmul_arrays(xp, xp.matrix_transpose(rows), xp.reshape(g, (n, g.shape[-1])))
            else:
                gb = matmul_arrays(xp, xp.matrix_transpose(a), g)
        return ga, gb


def matmul_arrays(xp, a, b):
    """``xp.matmul(a, b)`` in the inputs' dtype."""
    out = xp.matmul(a, b)
    # ml_dtypes' bfloat16 matmul returns float32 (accumulated in float32, as torch's is): round back
    return out if out.dtype == a.dtype else xp.astype(out, a.dtype)


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


Mm = MatMul.renamed("MmBackward0")
Mv = MatMul.renamed("MvBackward0")
Dot = MatMul.renamed("DotBackward0")
Bmm = MatMul.renamed("BmmBackward0")


# the node torch records for matmul of operands of these ranks (torch dispatches to mm, mv, dot)
_PRODUCTS = {(2, 2): Mm, (2, 1): Mv, (1, 1): Dot}


def matmul(input, other, _op=None):
    """Matrix product with numpy's broadcasting rules (``@``)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, matmul, input, other, _op)
    _check(input, other, "matmul")
    if _op is None:
        _op = _PRODUCTS.get((input.dim(), other.dim()), MatMul)
    try:
        return _op.apply(input, other)
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
    return matmul(input, mat2, Bmm)


def mv(input, vec):
    if input.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions: mv expects a 2-D matrix and a "
                         "1-D vector")
    if input.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.dim()}, {vec.dim()}")
    return matmul(input, vec)


def dot(input, tensor):
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, dot, input, tensor)
    if input.dim() != 1 or tensor.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {tensor.dim()}D tensors")
    return matmul(input, tensor)


def _check_expands_to(input, shape):
    """torch expands addmm's input to the product's shape: the product never grows to fit the input."""
    have = tuple(input.shape)
    if len(have) > len(shape):
        raise RuntimeError(f"expand({list(have)}, size={list(shape)}): the number of sizes provided ({len(shape)}) "
                           f"must be greater or equal to the number of dimensions in the tensor ({len(have)}); "
                           f"addmm's input must broadcast to the product's shape")
    for k in range(1, len(have) + 1):
        if have[-k] not in (1, shape[-k]):
            raise RuntimeError(f"The expanded size of the tensor ({shape[-k]}) must match the existing size "
                               f"({have[-k]}) at non-singleton dimension {len(shape) - k}.  Target sizes: "
                               f"{list(shape)}.  Tensor sizes: {list(have)}; addmm's input must broadcast to "
                               f"the product's shape")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, addmm, input, mat1, mat2, beta=beta, alpha=alpha)
    if isinstance(input, Tensor) and input._dtype is not mat2._dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_dt.scalar_type_name(input._dtype)} and "
                           f"{_dt.scalar_type_name(mat2._dtype)}; convert input with .to({mat2._dtype})")
    prod = mm(mat1, mat2)
    _check_expands_to(input, tuple(prod.shape))
    if alpha != 1:
        prod = prod * alpha
    return prod + (input if beta == 1 else input * beta)


def outer(input, vec2):
    for name, t in (("self", input), ("vec2", vec2)):
        if t.dim() != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.dim()}-D; flatten it first "
                               f"(torch.outer takes vectors only)")
    return input.unsqueeze(-1) * vec2.unsqueeze(0)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation, shapes):
    """Explicit subscripts per operand and for the output, with '...' spelled out."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the equation"
                           if len(shapes) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the equation")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    ell_n = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            ell_n = max(ell_n, len(shape) - (len(term) - 3))
    ell = "".join(free[:ell_n])
    out_terms = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - (len(term) - 3)
            term = term.replace("...", ell[ell_n - k:] if k else "")
        if len(term) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) does not "
                               f"match the number of dimensions ({len(shape)}) for operand "
                               f"{len(out_terms)}")
        out_terms.append(term)
    if rhs is None:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return out_terms, rhs


class Einsum(Op):
    # subclassed per operand count (see _einsum_op) so that every operand is saved

    @staticmethod
    def forward(ctx, *arrays, terms, rhs):
        ctx.terms = terms
        ctx.rhs = rhs
        return ctx.backend.einsum(",".join(terms) + "->" + rhs, *arrays)

    @staticmethod
    def backward(ctx, g):
        operands = ctx.saved_tensors_list()
        grads = []
        for i, term in enumerate(ctx.terms):
            if not ctx.needs_grad(i):
                grads.append(None)
                continue
            if len(set(term)) != len(term):
                raise RuntimeError(f"einsum backward: repeated subscripts within one operand ('{term}') are "
                                   f"not differentiable in tensorplug yet; take the diagonal first")
            others = [t for j, t in enumerate(ctx.terms) if j != i]
            other_ops = [o for j, o in enumerate(operands) if j != i]
            present = "".join(c for c in term if c in ctx.rhs or any(c in t for t in others))
            r = einsum(",".join([ctx.rhs] + others) + "->" + present, g, *other_ops)
            grads.append(_fit_einsum_grad(r, present, term, operands[i]._data.shape))
        return tuple(grads)


def _fit_einsum_grad(r, present, term, shape):
    """``r`` (subscripts ``present``) laid out as the operand (``term``, ``shape``): subscripts only this
    operand has are broadcast, size-1 dims that broadcast against others are summed back to 1."""
    if present != term:
        sizes = dict(zip(present, r.shape))
        r = r.reshape(tuple(sizes.get(c, 1) for c in term))
    summed = tuple(k for k, (got, want) in enumerate(zip(r.shape, shape)) if want == 1 and got != 1)
    if summed:
        r = r.sum(summed, keepdim=True)
    return r if tuple(r.shape) == tuple(shape) else r.expand(*shape)


_EINSUM_OPS = {}


def _einsum_op(n):
    op = _EINSUM_OPS.get(n)
    if op is None:
        op = _EINSUM_OPS[n] = type("Einsum", (Einsum,), {"save_inputs": tuple(range(n)),
                                                         "__module__": __name__})
    return op


def _check_einsum_sizes(terms, operands):
    """torch's rule: a subscript's sizes across operands agree or are 1 (size-1 dims broadcast)."""
    seen = {}
    for k, (term, operand) in enumerate(zip(terms, operands)):
        for letter, size in zip(term, operand.shape):
            previous = seen.get(letter, 1)
            if size != previous and size != 1 and previous != 1:
                raise RuntimeError(f"einsum(): subscript {letter} has size {size} for operand {k} which does not "
                                   f"broadcast with previously seen size {previous}; make the sizes equal or 1")
            seen[letter] = size if previous == 1 else previous


def einsum(equation, *operands):
    """Einstein summation over ``operands``: ``einsum('ij,jk->ik', a, b)`` is ``a @ b``.

    Supports ``...`` and the implicit (no ``->``) form; operands may also be passed as one list.
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, einsum, equation, *operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    dt = operands[0]._dtype
    for o in operands[1:]:
        if o._dtype is not dt:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got {dt} and "
                               f"{o._dtype}; convert one first")
    terms, rhs = _parse_einsum(equation, [o._data.shape for o in operands])
    _check_einsum_sizes(terms, operands)
    try:
        out = _einsum_op(len(operands)).apply(*operands, terms=tuple(terms), rhs=rhs)
    except ValueError as exc:
        raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes: {exc}") from None
    return out


# the (conjugate) transposes of the last two dims ----------------------------------------------------------

def _last_two_swapped(name, input, conj, zero_dim_hint="Consider using x.conj()."):
    """``input`` with its last two dims swapped (and conjugated): torch's warning on a 0-d tensor, which
    passes through, and its error on a 1-D one."""
    ndim = input._data.ndim
    if ndim == 0:
        import warnings
        warnings.warn(f"{name} is deprecated on 0-D tensors. {zero_dim_hint}", UserWarning, stacklevel=3)
        return input.conj() if conj else input
    if ndim < 2:
        raise RuntimeError(f"tensor.{name.removeprefix('Tensor.')} is only supported on matrices or batches of "
                           f"matrices. Got 1-D tensor.")
    out = input.transpose(-2, -1)
    return out.conj() if conj else out


def matrix_transpose(input):
    """``Tensor.mT``: each matrix of a batch transposed (a view)."""
    return _last_two_swapped("Tensor.mT", input, False, "This function is the identity in these cases.")


def matrix_adjoint(input):
    """``Tensor.mH``: each matrix of a batch conjugated and transposed (a real tensor's is ``mT``)."""
    return _last_two_swapped("Tensor.mH", input, True)


def adjoint(input):
    """The conjugate transpose of each matrix of ``input`` (``Tensor.mH``).

    Example:
        >>> tensorplug.adjoint(tensorplug.tensor([[1 + 2j, 3j]]))
        tensor([[1.-2.j],
                [0.-3.j]])
    """
    return _last_two_swapped("adjoint()", input, True)


def conj_transpose(input):
    """``Tensor.H``: the conjugate transpose of a matrix (a 0-d tensor's conjugate, with torch's warning)."""
    ndim = input._data.ndim
    if ndim == 0 or ndim == 2:
        return _last_two_swapped("Tensor.H", input, True)
    hint = " For batches of matrices, consider using tensor.mH" if ndim > 2 else ""
    raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {ndim}-D tensor.{hint}")
