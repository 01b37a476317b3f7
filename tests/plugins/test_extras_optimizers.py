"""The extras plugin's optimizers: Lion and LAMB against NumPy references of the papers."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from optim_reference import assert_construction_errors_follow_torch, assert_resumes_bit_identically


def _lion_reference(p, grads, lr, beta1, beta2, wd):
    m = np.zeros_like(p)
    out = []
    for g in grads:
        update = np.sign(beta1 * m + (1 - beta1) * g)
        p = p - lr * (update + wd * p)
        m = beta2 * m + (1 - beta2) * g
        out.append(p)
    return out


def _lamb_reference(p, grads, lr, beta1, beta2, eps, wd):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    out = []
    for t, g in enumerate(grads, 1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        r = (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps) + wd * p
        w_norm, r_norm = np.linalg.norm(p), np.linalg.norm(r)
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        p = p - lr * trust * r
        out.append(p)
    return out


def _run(cls, p0, grads, **kwargs):
    p = tensorplug.tensor(p0, requires_grad=True)
    opt = cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = tensorplug.tensor(g)
        opt.step()
        out.append(p.detach().cpu().numpy().copy())
    return out


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.003, betas=(0.95, 0.98), weight_decay=0.1)])
def test_lion_against_the_paper(backend, kwargs):
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(40)]
    beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
    expected = _lion_reference(p0, grads, kwargs["lr"], beta1, beta2, kwargs.get("weight_decay", 0.0))
    for got, want in zip(_run(tensorplug.optim.Lion, p0, grads, **kwargs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.02, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.05)])
def test_lamb_against_the_paper(backend, kwargs):
    rng = np.random.default_rng(4)
    p0 = rng.standard_normal((5, 2))
    grads = [rng.standard_normal((5, 2)) for _ in range(40)]
    beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
    expected = _lamb_reference(p0, grads, kwargs["lr"], beta1, beta2, kwargs.get("eps", 1e-6),
                               kwargs.get("weight_decay", 0.0))
    for got, want in zip(_run(tensorplug.optim.LAMB, p0, grads, **kwargs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lamb_trust_ratio_is_one_for_zero_weights():
    p = tensorplug.zeros(3, requires_grad=True)
    p.grad = tensorplug.ones(3)
    tensorplug.optim.LAMB([p], lr=0.1).step()
    # the first Adam direction is sign(g) (up to eps): one lr step with trust ratio 1
    np.testing.assert_allclose(p.detach().cpu().numpy(), -0.1 * np.ones(3), rtol=1e-5)


@pytest.mark.parametrize("name", ["Lion", "LAMB"])
def test_state_dict_round_trip_is_bit_identical(name):
    assert_resumes_bit_identically(getattr(tensorplug.optim, name))


@pytest.mark.parametrize("name", ["Lion", "LAMB"])
def test_errors_follow_torch(name):
    assert_construction_errors_follow_torch(getattr(tensorplug.optim, name))


def test_trains_a_model():
    torch_nn = tensorplug.nn
    tensorplug.manual_seed(0)
    model = torch_nn.Linear(3, 1)
    x = tensorplug.randn(64, 3)
    y = x @ tensorplug.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    for name in ("AdamW", "Lion", "LAMB", "RAdam"):
        tensorplug.manual_seed(1)
        model = torch_nn.Linear(3, 1)
        opt = getattr(tensorplug.optim, name)(model.parameters(), lr=0.05)
        first = None
        for _ in range(150):
            opt.zero_grad()
            loss = torch_nn.MSELoss()(model(x), y)
            loss.backward()
            opt.step()
            first = first if first is not None else loss.item()
        assert loss.item() < 0.1 * first, name
