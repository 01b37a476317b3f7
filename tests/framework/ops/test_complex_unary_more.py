"""sigmoid and sinc of complex tensors as torch's: sigmoid split on the sign of a complex number (through
abs), returning its real magnitude's sigmoid; sinc cast complex input to float32 (the imaginary part lost).
Values and gradients against torch; a scan of the other unary ops on complex input keeps them in line."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

Z = np.array([1 + 2j, -0.5 + 0.3j, 3 - 1j, -40 + 1j, 40 - 2j, 0.2 - 0.1j])
G = np.array([1 - 1j, 2 + 0.5j, -1j, 1, 1j, 0.5])
UNARY = ["exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin", "acos", "atan",
         "asinh", "acosh", "atanh", "sigmoid", "reciprocal", "square", "abs", "neg", "sgn", "exp2", "expm1",
         "log1p", "log2", "log10", "angle", "sinc"]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name", UNARY)
def test_complex_unary_values_are_torchs(name, dtype):
    outs = [getattr(m, name)(m.tensor(Z).to(getattr(m, dtype))) for m in (torch, tp)]
    assert str(outs[1].dtype).split(".")[-1] == str(outs[0].dtype).split(".")[-1]
    tol = 1e-10 if dtype == "complex128" else 1e-4
    np.testing.assert_allclose(outs[1].numpy(), outs[0].numpy(), rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("name", ["sigmoid", "sinc"])
def test_complex_gradients_are_torchs(name):
    grads = []
    for m in (torch, tp):
        z = m.tensor(Z, requires_grad=True)
        getattr(m, name)(z).backward(m.tensor(G))
        grads.append(z.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda m: m.softmax(m.ones(3, 4, dtype=m.complex64), 1), lambda m: m.softmax(m.ones(3, 4, dtype=m.complex64), 0),
    lambda m: m.log_softmax(m.ones(3, 4, dtype=m.complex64), 1),
    lambda m: m.nn.functional.softmin(m.ones(3, 4, dtype=m.complex64), 1),
    lambda m: m.softmax(m.tensor([1, 2, 3]), 0), lambda m: m.softmax(m.ones(2, 3, dtype=m.long), 0)])
def test_softmax_refuses_complex_and_integer_input_as_torch(call):
    """torch has no softmax kernel for them (a complex softmax was computed here)."""
    from torch_compare import assert_same_error
    assert_same_error(call)
