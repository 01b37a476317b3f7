"""SGD: torch's trajectory for every option, in place, without a graph."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug.optim import SGD

torch = pytest.importorskip("torch")

CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05),
    dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1, maximize=True),
    dict(lr=0.1, maximize=True),
    dict(lr=0.1, momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_trajectory_matches_torch(backend, trajectory, kwargs):
    trajectory(SGD, torch.optim.SGD, kwargs, steps=40)


def test_per_group_options_match_torch(trajectory):
    trajectory(SGD, torch.optim.SGD, dict(lr=0.1), groups=[([0], {"momentum": 0.9}), ([1], {"lr": 0.01})])


def test_defaults_and_repr_match_torch():
    p = tensorplug.zeros(2, requires_grad=True)
    t = torch.zeros(2, requires_grad=True)
    assert repr(SGD([p], lr=0.1)) == repr(torch.optim.SGD([t], lr=0.1))
    assert {k: v for k, v in SGD([p]).param_groups[0].items() if k != "params"} == \
        {k: v for k, v in torch.optim.SGD([t]).param_groups[0].items() if k != "params"}


def test_step_is_in_place_and_builds_no_graph(backend):
    p = tensorplug.randn(3, 4, requires_grad=True)
    data = p._data
    version = p._version[0]
    (p * 2).sum().backward()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()
    assert p._data is data
    assert p.grad_fn is None and p.is_leaf
    assert p._version[0] == version + 1
    assert opt.state[p]["momentum_buffer"].grad_fn is None


def test_grad_is_not_modified():
    p = tensorplug.randn(4, requires_grad=True)
    p.grad = tensorplug.ones(4)
    SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5, maximize=True).step()
    np.testing.assert_array_equal(p.grad.cpu().numpy(), np.ones(4))


def test_broadcast_grad_of_a_sum(backend):
    # the grad of x.sum() is a read-only broadcast view: steps and zero_grad must cope
    p = tensorplug.randn(3, 4, requires_grad=True)
    before = p.detach().cpu().numpy().copy()
    p.sum().backward()
    opt = SGD([p], lr=0.5, momentum=0.9)
    opt.step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), before - 0.5)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), np.zeros((3, 4)))


def test_nesterov_needs_momentum():
    p = tensorplug.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid momentum value: -0.5"):
        SGD([p], lr=0.1, momentum=-0.5)


def test_closure_runs_with_grad_and_returns_loss():
    p = tensorplug.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tensorplug.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.detach().cpu().numpy(), [0.8, 1.6], rtol=1e-6)


def test_float32_parameters_stay_float32():
    p = tensorplug.randn(5, requires_grad=True)
    p.grad = tensorplug.randn(5)
    SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01).step()
    assert p.dtype == tensorplug.float32
    assert p._data.dtype == p.grad._data.dtype


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
                                    dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)], ids=str)
@pytest.mark.parametrize("accept", [True, False], ids=["fused", "declined"])
def test_backend_axpy_carries_the_updates(monkeypatch, trajectory, kwargs, accept):
    # a backend may offer a one-pass in-place axpy (BLAS); SGD routes its updates through it,
    # falls back to two passes where it declines, and the trajectory stays torch's either way
    backend = tensorplug.zeros(1)._backend
    calls = []

    def axpy(y, alpha, x):
        calls.append(alpha)
        if not accept:
            return False
        y += backend.xp.multiply(x, alpha)
        return True

    monkeypatch.setattr(backend, "axpy", axpy, raising=False)
    # a backend that fuses the whole update (cupy) would not call axpy: the two-pass path is under test
    monkeypatch.setattr(backend, "fused_sgd", lambda *args, **kwargs: False, raising=False)
    trajectory(SGD, torch.optim.SGD, kwargs, steps=10)
    assert calls
