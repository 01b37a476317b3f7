"""utils.checkpoint under torch and tensorplug on the same inputs: outputs, gradients (inputs,
parameters, outer tensors, second order), hooks and the errors of each variant agree."""
from __future__ import annotations

import warnings

import pytest

import tensorplug as tp

from test_torch_parity_engine import same

torch = pytest.importorskip("torch")


def ckpt(T):
    import tensorplug.utils.checkpoint as pc
    import torch.utils.checkpoint as tc
    return tc if T is torch else pc


def lin(T):
    m = T.nn.Linear(3, 3).double()
    with T.no_grad():
        m.weight.copy_(T.tensor([[0.1, 0.2, -0.3], [0.4, -0.5, 0.6], [0.7, 0.8, -0.9]], dtype=T.float64))
        m.bias.copy_(T.tensor([0.1, -0.1, 0.2], dtype=T.float64))
    return m


def x_(T, requires_grad=True):
    return T.tensor([[1.0, -2.0, 0.5]], dtype=T.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("reentrant", [True, False])
def test_values_and_gradients(reentrant):
    def fn(T):
        m, x = lin(T), x_(T)
        y = ckpt(T).checkpoint(lambda a, k: m(a).tanh() * a * k, x, 2.0, use_reentrant=reentrant)
        (y ** 2).sum().backward()
        return y, x.grad, m.weight.grad, m.bias.grad
    same(fn)


def test_non_reentrant_serves_autograd_grad_and_double_backward():
    def fn(T):
        m, x = lin(T), x_(T)
        y = ckpt(T).checkpoint(lambda a: m(a).tanh() * a, x, use_reentrant=False)
        gx, gw = T.autograd.grad((y ** 2).sum(), [x, m.weight], create_graph=True)
        return gx, gw, T.autograd.grad((gx * gx).sum() + gw.sum(), [x, m.weight])
    same(fn)


def test_non_reentrant_parameters_only():
    def fn(T):
        m, x = lin(T), x_(T, requires_grad=False)
        y = ckpt(T).checkpoint(lambda a: m(a).tanh(), x, use_reentrant=False)
        flag = y.requires_grad
        y.sum().backward()
        return flag, m.weight.grad
    same(fn)


def test_non_reentrant_outer_tensors_and_hooks():
    # an outer non-leaf used directly and through another outer tensor; hooks on both fire once
    def fn(T):
        x = T.tensor([1.0, -2.0], dtype=T.float64, requires_grad=True)
        calls = []
        a = x * 3
        b = a.exp()
        a.register_hook(lambda g: calls.append("a"))
        x.register_hook(lambda g: calls.append("x"))
        y = ckpt(T).checkpoint(lambda u: (u * b).sin() + a, a, use_reentrant=False)
        y.sum().backward()
        return x.grad, calls
    same(fn)


def test_reentrant_without_inputs_that_require_grad():
    def fn(T):
        m, x = lin(T), x_(T, requires_grad=False)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = ckpt(T).checkpoint(lambda a: m(a).tanh(), x, use_reentrant=True)
        return y.requires_grad, [str(m.message) for m in w]
    same(fn)


def test_reentrant_refuses_autograd_grad():
    def fn(T):
        m, x = lin(T), x_(T)
        y = ckpt(T).checkpoint(lambda a: m(a).tanh(), x, use_reentrant=True)
        T.autograd.grad(y.sum(), x)
    same(fn, "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad()")


def test_reentrant_refuses_keyword_arguments():
    def fn(T):
        ckpt(T).checkpoint(lambda a, s=1.0: a * s, x_(T), s=2.0, use_reentrant=True)
    same(fn, "Unexpected keyword arguments: s")


@pytest.mark.parametrize("reentrant", [True, False])
def test_dropout_mask_replayed(reentrant):
    def fn(T):
        m, drop = lin(T), T.nn.Dropout(0.5)
        x = T.tensor([[1.0, -2.0, 0.5]] * 8, dtype=T.float64, requires_grad=True)
        f = lambda a: drop(m(a)) * a  # noqa: E731
        T.manual_seed(3)
        f(x).sum().backward()
        ref = x.grad.clone()
        x.grad = None
        T.manual_seed(3)
        y = ckpt(T).checkpoint(f, x, use_reentrant=reentrant)
        T.rand(5)  # the generator moves on between forward and backward
        y.sum().backward()
        return bool((ref == x.grad).all())
    same(fn)
