"""float16/bfloat16 arithmetic with a Python number, bit for bit torch's: its mul and div compute in float32
with the number unrounded and round once (its "opmath"), its add and sub round the number to the tensor's
dtype first. NumPy would round 0.1 to bfloat16's 0.10009765625 before multiplying."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

X = (np.random.default_rng(0).standard_normal(20000) * 2).astype(np.float32)
EXPRESSIONS = ["x * 0.1", "0.1 * x", "x / 0.3", "x.mul(0.1)", "x.div(3)", "x * 3", "x / 7", "x + 0.1", "x - 0.3",
               "0.3 - x", "x + 1000", "x.add(0.1)"]


def _run(m, expression, dtype, grad=False):
    x = m.tensor(X).to(getattr(m, dtype))
    if grad:
        x.requires_grad_()
    y = eval(expression, {"x": x})
    if grad:
        y.backward(m.tensor(X * 3).to(y.dtype))
        return x.grad
    return y


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_arithmetic_with_a_number_is_torchs(expression, dtype):
    want = _run(torch, expression, dtype)
    got = _run(tp, expression, dtype)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.double().numpy(), want.double().numpy())


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("expression", ["x * 0.1", "x / 0.3", "x - 0.3", "0.3 - x"])
def test_its_gradient_is_torchs(expression, dtype):
    np.testing.assert_array_equal(_run(tp, expression, dtype, grad=True).double().numpy(),
                                  _run(torch, expression, dtype, grad=True).double().numpy())
