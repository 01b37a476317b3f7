"""jacfwd, hessian and jvp through a user's autograd.Function whose backward is computed outside the graph
(NumPy, detached tensors): the column method (the gradient of a vjp in its cotangent) would read zero
columns there, a silent wrong answer; the graph is then differentiated by rows, as jacrev does."""
from __future__ import annotations

import numpy as np

import tensorplug as tp
from tensorplug.func import hessian, jacfwd, jacrev, jvp


class Cube(tp.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return tp.tensor(3 * x.detach().numpy() ** 2) * g.detach()  # no graph: not differentiable in g


def test_jacfwd_through_a_users_function_equals_jacrev():
    x = tp.tensor([1.0, 2.0])
    f = lambda t: Cube.apply(t).repeat(3)  # noqa: E731  (more outputs than inputs: jacfwd's column case)
    np.testing.assert_array_equal(jacfwd(f)(x).numpy(), jacrev(f)(x).numpy())
    assert np.abs(jacfwd(f)(x).numpy()).sum() == 3 * (3 + 12)


def test_jvp_through_a_users_function():
    x, t = tp.tensor([1.0, 2.0]), tp.tensor([1.0, 1.0])
    _, pushed = jvp(lambda v: Cube.apply(v) * 2, (x,), (t,))
    np.testing.assert_array_equal(pushed.numpy(), [6.0, 24.0])


def test_builtin_graphs_keep_the_column_method_and_its_values():
    w = tp.randn(6, 3, dtype=tp.float64)
    f = lambda v: (w @ v).tanh()  # noqa: E731
    x = tp.randn(3, dtype=tp.float64)
    np.testing.assert_allclose(jacfwd(f)(x).numpy(), jacrev(f)(x).numpy(), rtol=1e-12)
    h = hessian(lambda v: f(v).sum())(x)
    np.testing.assert_allclose(h.numpy(), h.numpy().T, rtol=1e-12)
