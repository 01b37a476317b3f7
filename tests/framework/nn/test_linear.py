"""Linear, Bilinear, Identity: against torch, gradcheck, default init, and an MLP trained on digits."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F


def _copy_from_torch(ours, theirs):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        with tensorplug.no_grad():
            p.copy_(tensorplug.tensor(tp.detach().numpy()))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_against_torch(bias, shape):
    torch = pytest.importorskip("torch")
    ref = torch.nn.Linear(3, 4, bias=bias).double()
    ours = nn.Linear(3, 4, bias=bias).double()
    _copy_from_torch(ours, ref)
    x = np.random.default_rng(0).standard_normal(shape)
    a = tensorplug.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out, want = ours(a), ref(b)
    np.testing.assert_allclose(np.asarray(out.tolist()), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    (out * out).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_allclose(np.asarray(a.grad.tolist()), b.grad.numpy(), rtol=1e-10)
    for p, tp in zip(ours.parameters(), ref.parameters()):
        np.testing.assert_allclose(np.asarray(p.grad.tolist()), tp.grad.numpy(), rtol=1e-10)
    assert repr(ours) == repr(ref)


def test_linear_gradcheck_and_double_backward():
    x = tensorplug.randn(3, 2, dtype=tensorplug.float64, requires_grad=True)
    w = tensorplug.randn(4, 2, dtype=tensorplug.float64, requires_grad=True)
    b = tensorplug.randn(4, dtype=tensorplug.float64, requires_grad=True)
    assert tensorplug.autograd.gradcheck(F.linear, (x, w, b))
    assert tensorplug.autograd.gradgradcheck(F.linear, (x, w, b))


def test_linear_default_init_bounds():
    tensorplug.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    w = np.asarray(m.weight.tolist())
    bb = np.asarray(m.bias.tolist())
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(bb).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert m.weight.shape == (300, 400) and m.weight.dtype == tensorplug.float32


def test_linear_errors():
    m = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(5x4 and 3x2\)"):
        m(tensorplug.randn(5, 4))
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        m(tensorplug.randn(5, 3, dtype=tensorplug.float64))


def test_bilinear_and_identity_against_torch():
    torch = pytest.importorskip("torch")
    ref = torch.nn.Bilinear(3, 2, 4).double()
    ours = nn.Bilinear(3, 2, 4).double()
    _copy_from_torch(ours, ref)
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    a1, a2 = tensorplug.tensor(x1, requires_grad=True), tensorplug.tensor(x2, requires_grad=True)
    b1, b2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    out, want = ours(a1, a2), ref(b1, b2)
    np.testing.assert_allclose(np.asarray(out.tolist()), want.detach().numpy(), rtol=1e-10)
    out.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(np.asarray(a1.grad.tolist()), b1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(ours.weight.grad.tolist()), ref.weight.grad.numpy(), rtol=1e-10)
    assert repr(ours) == repr(ref)
    x = tensorplug.randn(2)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_lazy_linear():
    m = nn.LazyLinear(3)
    out = m(tensorplug.randn(2, 5))
    assert out.shape == (2, 3) and m.weight.shape == (3, 5) and type(m) is nn.Linear


def _sgd_step(model, lr):
    with tensorplug.no_grad():
        for p in model.parameters():
            p -= lr * p.grad


def test_mlp_learns_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, test = order[:1400], order[1400:]
    tensorplug.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = tensorplug.tensor(x), tensorplug.tensor(y)
    try:
        opt = tensorplug.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    except Exception:  # the optimizer package is optional for this test
        opt = None
    for epoch in range(15):
        for start in range(0, len(train), 64):
            idx = tensorplug.tensor(train[start:start + 64])
            model.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            if opt is not None:
                opt.step()
            else:
                _sgd_step(model, 0.2)
    model.eval()
    with tensorplug.no_grad():
        pred = model(xs[tensorplug.tensor(test)]).argmax(1) if hasattr(tensorplug.Tensor, "argmax") else None
        logits = model(xs[tensorplug.tensor(test)])
    predicted = np.asarray(logits.tolist()).argmax(1)
    accuracy = (predicted == y[test]).mean()
    assert accuracy > 0.93, accuracy
    if pred is not None:
        assert (np.asarray(pred.tolist()) == predicted).all()
