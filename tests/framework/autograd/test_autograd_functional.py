"""tensorplug.autograd.functional against torch.autograd.functional."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

X = np.array([0.3, -1.2, 0.7])
Y = np.array([[0.5, 1.0, -0.2], [0.1, 0.4, 2.0]])


def f(m):
    return lambda x: (x.sin() * x).sum() + (x ** 3).sum()


def g(m):
    return lambda x, y: (y @ x).tanh()


def _leaves(t):
    if isinstance(t, (tuple, list)):
        return [leaf for i in t for leaf in _leaves(i)]
    return [t.detach().cpu().numpy()]


@pytest.mark.parametrize("case", [
    lambda m: m.autograd.functional.jacobian(g(m), (m.tensor(X), m.tensor(Y))),
    lambda m: m.autograd.functional.jacobian(lambda x: x.exp() * 2, m.tensor(X)),
    lambda m: m.autograd.functional.hessian(f(m), m.tensor(X)),
    lambda m: m.autograd.functional.hvp(f(m), m.tensor(X), m.tensor(Y[0])),
    lambda m: m.autograd.functional.vhp(f(m), m.tensor(X), m.tensor(Y[1])),
    lambda m: m.autograd.functional.vjp(g(m), (m.tensor(X), m.tensor(Y)), m.tensor([1.0, -2.0])),
    lambda m: m.autograd.functional.jvp(g(m), (m.tensor(X), m.tensor(Y)), (m.tensor(Y[0]), m.tensor(Y * 0.5))),
])
def test_against_torch(case):
    ours, theirs = case(tp), case(torch)
    a_leaves, b_leaves = _leaves(ours), _leaves(theirs)
    assert len(a_leaves) == len(b_leaves)
    for a, b in zip(a_leaves, b_leaves):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_function_setup_context_style_and_none_saved():
    class Mul3(tp.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0], None)
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, grad):
            x, nothing = ctx.saved_tensors
            assert nothing is None
            return grad * ctx.k, None

    x = tp.tensor([1.0, 2.0], requires_grad=True)
    Mul3.apply(x, 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_once_differentiable():
    from tensorplug.autograd.function import once_differentiable

    class Sq(tp.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            out = 2 * x * grad
            assert not out.requires_grad
            return out

    x = tp.tensor([3.0], requires_grad=True)
    Sq.apply(x).sum().backward(create_graph=True)
    assert x.grad.item() == 6.0
