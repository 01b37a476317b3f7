"""autograd.functional under torch and tensorplug on the same inputs: values, flags and errors
(strict mode, a missing v, outputs of the wrong type) agree."""
from __future__ import annotations

import pytest

import tensorplug as tp

from test_torch_parity_engine import same

torch = pytest.importorskip("torch")


def X(T, *v):
    return T.tensor(list(v), dtype=T.float64)


def fa(x):
    return x.sin() * x ** 2


def fs(x):
    return (x.exp() * x).sum() + (x[0] * x[1]) ** 2


def two(a, b):
    return a * 2


@pytest.mark.parametrize("call, phrase", [
    (lambda T: T.autograd.functional.jvp(fa, X(T, 0.5, -1.0)),
     "The vector v can only be None if the input to the user-provided function is a single Tensor"),
    (lambda T: T.autograd.functional.hvp(fs, X(T, 0.5, -1.0)), "The vector v can only be None"),
    (lambda T: T.autograd.functional.vjp(fa, X(T, 0.5), X(T, 1.0, 2.0)), "v has invalid size"),
    (lambda T: T.autograd.functional.jacobian(two, (X(T, 0.5, -1.0), X(T, 2.0, 3.0)), strict=True),
     "Output 0 of the user-provided function is independent of input 1"),
    (lambda T: T.autograd.functional.vjp(two, (X(T, 0.5), X(T, 2.0)), X(T, 1.0), strict=True),
     "The output of the user-provided function is independent of input 1"),
    (lambda T: T.autograd.functional.hvp(lambda x: (x * 3).sum(), X(T, 0.5, -1.0), X(T, 1.0, 1.0), strict=True),
     "the jacobian of the user-provided function with respect to input 0 is independent of the input"),
    (lambda T: T.autograd.functional.jacobian(fa, X(T, 0.5), strict=True, vectorize=True),
     "`strict=True` and `vectorized=True` are not supported together"),
    (lambda T: T.autograd.functional.jacobian(fa, X(T, 0.5), strategy="forward-mode"),
     "only implemented for `vectorize=True`"),
    (lambda T: T.autograd.functional.jacobian(lambda x: [x * 2], X(T, 0.5)),
     "must be either a Tensor or a tuple of Tensors"),
    (lambda T: T.autograd.functional.jacobian(lambda x: 3.0, X(T, 0.5)),
     "must be either a Tensor or a tuple of Tensors"),
    (lambda T: T.autograd.functional.hvp(fa, X(T, 0.5, -1.0), X(T, 1.0, 1.0)),
     "The Tensor returned by the function given to hvp should contain a single element"),
])
def test_errors(call, phrase):
    same(call, phrase)


def test_values_and_flags():
    def fn(T):
        F = T.autograd.functional
        x = X(T, 0.5, -1.0, 2.0)
        return (F.jvp(fa, X(T, 0.5), None), F.vjp(fs, x), F.hvp(fs, x, X(T, 1.0, 2.0, 3.0)),
                F.vhp(fs, x, X(T, 1.0, 2.0, 3.0)), F.jacobian(fa, x, vectorize=True, strategy="forward-mode"),
                F.hessian(fs, x, vectorize=True), F.jacobian(two, (X(T, 0.5), X(T, 2.0))))
    same(fn)


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp"])
def test_create_graph_stays_attached(name):
    def fn(T):
        x = X(T, 0.5, -1.0).requires_grad_()
        f = fs if name == "hvp" else fa
        out, res = getattr(T.autograd.functional, name)(f, x, X(T, 1.0, 2.0), create_graph=True)
        return out, res, T.autograd.grad(res.sum(), x)
    same(fn)
