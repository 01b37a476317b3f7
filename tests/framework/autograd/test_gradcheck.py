"""gradcheck / gradgradcheck themselves: they pass correct gradients and catch wrong ones."""
from __future__ import annotations

import pytest

import tensorplug as tp
from tensorplug.autograd import Function, gradcheck, gradgradcheck
from tensorplug.autograd.gradcheck import GradcheckError


class WrongGrad(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.1 * x


class WrongSecondOrder(Function):
    """Right first derivative, but its backward is not differentiable the right way."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * (x.detach() * x.detach())


def _x():
    return tp.tensor([0.3, -1.2, 2.0], dtype=tp.float64, requires_grad=True)


def test_gradcheck_passes_and_fails():
    assert gradcheck(lambda t: (t * t).sin(), (_x(),))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongGrad.apply, (_x(),))
    assert gradcheck(WrongGrad.apply, (_x(),), raise_exception=False) is False


def test_gradgradcheck_catches_a_wrong_second_derivative():
    assert gradcheck(WrongSecondOrder.apply, (_x(),))
    assert gradgradcheck(lambda t: t * t * t, (_x(),))
    with pytest.raises(GradcheckError):
        gradgradcheck(WrongSecondOrder.apply, (_x(),))


def test_multiple_inputs_and_outputs():
    a = _x()
    b = tp.tensor([1.0, 2.0, 3.0], dtype=tp.float64, requires_grad=True)
    assert gradcheck(lambda p, q: (p * q, p.exp() + q), (a, b))


def test_float32_input_warns():
    x = tp.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)
