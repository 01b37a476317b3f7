"""Activation layers and functions against torch (values, grads), gradcheck, repr."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F

torch = pytest.importorskip("torch")

CASES = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {"alpha": 0.7}),
    ("SELU", (), {}), ("CELU", (), {"alpha": 1.3}), ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}), ("Softmax", (), {"dim": 1}),
    ("Softmin", (), {"dim": 0}), ("LogSoftmax", (), {"dim": -1}), ("Softplus", (), {"beta": 2.0, "threshold": 3.0}),
    ("Hardtanh", (-0.5, 0.7), {}), ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("LogSigmoid", (), {}),
    ("Softsign", (), {}), ("Tanhshrink", (), {}), ("Threshold", (0.1, -2.0), {}),
]


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)) * 3
    x[0, :3] = [0.3, -0.3, 2.9]
    return x


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}{c[2] or ''}" for c in CASES])
def test_against_torch(name, args, kwargs):
    x = _data()
    ours = getattr(nn, name)(*args, **kwargs)
    ref = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(ref)
    a = tensorplug.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out, want = ours(a), ref(b)
    np.testing.assert_allclose(np.asarray(out.tolist()), want.detach().numpy(), atol=1e-12, rtol=1e-10)
    seed = np.random.default_rng(1).standard_normal(x.shape)
    out.backward(tensorplug.tensor(seed))
    want.backward(torch.tensor(seed))
    # torch rounds some backward constants to float32 (CELU: 1.0/alpha.toFloat(); Hardsigmoid: 1/6)
    rtol = 1e-6 if name in ("CELU", "Hardsigmoid") else 1e-8
    np.testing.assert_allclose(np.asarray(a.grad.tolist()), b.grad.numpy(), atol=1e-10, rtol=rtol)


@pytest.mark.parametrize("fn", [
    lambda x: F.leaky_relu(x, 0.1), F.elu, F.gelu, lambda x: F.gelu(x, approximate="tanh"), F.silu,
    lambda x: F.softmax(x, 1), lambda x: F.log_softmax(x, 0), lambda x: F.softplus(x, 1.5), F.logsigmoid,
    lambda x: F.logsumexp(x, 1), lambda x: F.normalize(x, dim=1),
], ids=["leaky", "elu", "gelu", "gelu_tanh", "silu", "softmax", "log_softmax", "softplus", "logsigmoid",
        "logsumexp", "normalize"])
def test_gradcheck_and_gradgradcheck(fn):
    x = tensorplug.tensor([[0.3, -1.2, 2.0], [-0.4, 0.9, -2.2]], dtype=tensorplug.float64, requires_grad=True)
    assert tensorplug.autograd.gradcheck(fn, (x,))
    assert tensorplug.autograd.gradgradcheck(fn, (x,))


def test_softmax_is_stable_and_implicit_dim_warns():
    x = tensorplug.tensor([[1000.0, 1000.0], [-1000.0, 0.0]])
    assert F.softmax(x, dim=1).tolist() == [[0.5, 0.5], [0.0, 1.0]]
    assert F.log_softmax(x, dim=1)[1, 0].item() == pytest.approx(-1000.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        out = F.softmax(tensorplug.randn(2, 3))
    assert out.sum(1).tolist() == pytest.approx([1.0, 1.0])
    assert F.logsumexp(tensorplug.tensor([-1e4, -1e4]), 0).item() == pytest.approx(-1e4 + np.log(2))


def test_inplace_relu_and_errors():
    x = tensorplug.tensor([-1.0, 2.0])
    y = F.relu(x, inplace=True)
    assert y is x and x.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(tensorplug.zeros(1), approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(1.0, -1.0)
