"""einsum and the matrix products — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

rng = np.random.default_rng(0)
A, B, V = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(4)


@pytest.mark.parametrize("case", [
    lambda m, a, b, v: m.einsum("bij,jk->bik", a, b), lambda m, a, b, v: m.einsum("bij,j", a, v),
    lambda m, a, b, v: m.einsum("...j,j->...", a, v), lambda m, a, b, v: m.einsum("bij->", a),
    lambda m, a, b, v: m.einsum("i,j->ij", v, v), lambda m, a, b, v: m.einsum("jk,j", b, v),
    lambda m, a, b, v: m.einsum("bij,bij->b", a, a * 2), lambda m, a, b, v: m.einsum("ij->ji", b),
    lambda m, a, b, v: m.einsum("bij,jk,k->bi", [a, b, b[0]]),
    lambda m, a, b, v: m.einsum("b i j , j k -> b k", a, b),
    lambda m, a, b, v: a @ b, lambda m, a, b, v: a @ v, lambda m, a, b, v: v @ b, lambda m, a, b, v: v @ v,
    lambda m, a, b, v: m.bmm(a, a.transpose(1, 2)), lambda m, a, b, v: m.mv(b.t(), v),
    lambda m, a, b, v: m.addmm(b[:3], a[0], b, beta=0.5, alpha=2), lambda m, a, b, v: m.outer(v, v[:2]),
])
def test_against_torch(case):
    same(case, A, B, V)


def test_einsum_double_backward():
    a = tp.tensor(A[0], requires_grad=True)
    b = tp.tensor(B, requires_grad=True)
    assert tp.autograd.gradgradcheck(lambda x, y: tp.einsum("ij,jk->ik", x, y), (a, b))


def test_einsum_errors():
    with pytest.raises(RuntimeError, match="subscripts"):
        tp.einsum("ij,jk", tp.ones(2, 3), tp.ones(3))
    with pytest.raises(RuntimeError, match="operands"):
        tp.einsum("ij,jk", tp.ones(2, 3))
