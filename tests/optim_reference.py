"""Run a tensorplug optimizer and torch's side by side (shared by tests/framework/optim and tests/plugins).

A plain module, not a conftest: pytest's default 'prepend' import mode puts
tests/ (the folder of the root conftest, which has no __init__.py) on
sys.path, so each conftest that needs the ``trajectory`` fixture does
``from optim_reference import trajectory``.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug


def _trajectory(tp_cls, torch_cls, kwargs, steps=25, shapes=((3, 4), (5,)), seed=0, groups=None):
    """Feed the same float64 gradients to both optimizers; return both parameter histories."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    pps = [tensorplug.tensor(a, requires_grad=True) for a in init]

    def params(ps):
        if groups is None:
            return ps
        return [dict(g, params=[ps[i] for i in idx]) for idx, g in groups]

    t_opt = torch_cls(params(tps), **kwargs)
    p_opt = tp_cls(params(pps), **kwargs)
    t_hist, p_hist = [], []
    for gs in grads:
        for t, p, g in zip(tps, pps, gs):
            t.grad = torch.tensor(g)
            p.grad = tensorplug.tensor(g)
        t_opt.step()
        p_opt.step()
        t_hist.append([t.detach().cpu().numpy().copy() for t in tps])
        p_hist.append([p.detach().cpu().numpy().copy() for p in pps])
    return t_hist, p_hist


_DECLINE = {"axpy": False, "fused_sgd": False, "fused_adam": False, "fused_rmsprop": False}


@pytest.fixture(params=["backend's fused updates", "array code"])
def trajectory(request, monkeypatch):
    """``trajectory(tp_cls, torch_cls, kwargs)`` asserts both optimizers follow the same path: once
    through the default backend's fused update methods, once with them declining (the array code
    every backend falls back to)."""
    if request.param == "array code":
        backend = tensorplug.get_backend()
        for name, declined in _DECLINE.items():
            monkeypatch.setattr(backend, name, lambda *args, declined=declined, **kwargs: declined)

    def check(tp_cls, torch_cls, kwargs, **options):
        t_hist, p_hist = _trajectory(tp_cls, torch_cls, kwargs, **options)
        for step, (ts, ps) in enumerate(zip(t_hist, p_hist)):
            for t, p in zip(ts, ps):
                np.testing.assert_allclose(p, t, rtol=1e-10, atol=1e-12, err_msg=f"step {step + 1}, {kwargs}")
    return check


def assert_resumes_bit_identically(cls):
    """Four steps, ``state_dict()`` into a fresh optimizer, six more: both copies end bit-identical."""
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal(6).astype(np.float32) for _ in range(10)]
    p = tensorplug.randn(6, requires_grad=True)
    opt = cls([p], lr=0.01)
    for g in grads[:4]:
        p.grad = tensorplug.tensor(g)
        opt.step()
    q = p.detach().clone().requires_grad_()
    resumed = cls([q], lr=0.01)
    resumed.load_state_dict(opt.state_dict())
    for g in grads[4:]:
        for x, o in ((p, opt), (q, resumed)):
            x.grad = tensorplug.tensor(g)
            o.step()
    np.testing.assert_array_equal(p.detach().cpu().numpy(), q.detach().cpu().numpy())


def assert_construction_errors_follow_torch(cls):
    """A negative lr, an empty parameter list and a lone tensor give torch's errors."""
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        cls([tensorplug.zeros(2, requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        cls([])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        cls(tensorplug.zeros(2, requires_grad=True))
