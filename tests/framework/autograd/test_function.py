"""User-defined ops: tensorplug.autograd.Function (torch's API)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from tensorplug.autograd import Function, gradcheck, gradgradcheck


class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


class SplitTwo(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


def test_apply_forward_backward():
    x = tp.tensor([1.0, 2.0], dtype=tp.float64, requires_grad=True)
    y = Cube.apply(x, 2.0)
    np.testing.assert_allclose(y.detach().cpu().numpy(), [2.0, 16.0])
    assert y.grad_fn is not None and "Cube" in y.grad_fn.name()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [6.0, 24.0])


def test_gradcheck_and_double_backward_of_tensor_level_backward():
    x = tp.tensor([0.5, -1.5], dtype=tp.float64, requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t, 1.5), (x,))
    assert gradgradcheck(lambda t: Cube.apply(t, 1.5), (x,))


def test_needs_input_grad():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["n"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Probe.apply(tp.ones(1, requires_grad=True), tp.ones(1))
    assert seen["n"] == (True, False)


def test_multiple_outputs_and_unused_output_materialized():
    x = tp.tensor([1.0, 2.0], requires_grad=True)
    a, b = SplitTwo.apply(x)
    a.sum().backward()  # b unused: its grad arrives as zeros
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, 2.0])
    x.grad = None
    a, b = SplitTwo.apply(x)
    (a + b).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [5.0, 5.0])


def test_no_graph_when_nothing_requires_grad_or_under_no_grad():
    assert Cube.apply(tp.ones(2), 1.0).grad_fn is None
    with tp.no_grad():
        assert Cube.apply(tp.ones(2, requires_grad=True), 1.0).grad_fn is None


def test_forward_runs_without_recording():
    class Inner(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            assert y.grad_fn is None
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Inner.apply(tp.ones(1, requires_grad=True)).sum().backward()


def test_mark_non_differentiable():
    class ArgAndValue(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x.max(), idx

        @staticmethod
        def backward(ctx, g, gi):
            return g * 0 + g

    v, i = ArgAndValue.apply(tp.tensor([1.0, 3.0], requires_grad=True))
    assert v.requires_grad and not i.requires_grad


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    y = Bad.apply(tp.ones(1, requires_grad=True))
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        y.sum().backward()


def test_saved_tensors_freed_after_backward():
    x = tp.ones(2, requires_grad=True)
    y = Cube.apply(x, 1.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_saved_tensor_modified_in_place():
    x = tp.ones(2, requires_grad=True)
    h = x * 1
    y = Cube.apply(h, 1.0)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_returning_an_input_unchanged():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = tp.ones(2, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [5.0, 5.0])


def test_matches_torch_custom_function():
    torch = pytest.importorskip("torch")
    data = np.array([0.3, -0.7, 1.1])
    x = tp.tensor(data, requires_grad=True)
    Cube.apply(x, 0.5).tanh().sum().backward()
    xt = torch.tensor(data, requires_grad=True)
    ((xt ** 3) * 0.5).tanh().sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.cpu().numpy(), rtol=1e-12)
