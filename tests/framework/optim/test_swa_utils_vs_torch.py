"""optim.swa_utils against torch: AveragedModel (SWA, EMA through avg_fn and multi_avg_fn, use_buffers),
update_bn, SWALR's lr sequence and the averaging functions' errors."""
from __future__ import annotations

from importlib import import_module

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _model(lib):
    rng = np.random.default_rng(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.BatchNorm1d(3), lib.nn.ReLU(), lib.nn.Linear(3, 2))
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


OPTIONS = {"swa": lambda su: {}, "ema multi": lambda su: dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.9)),
           "ema avg_fn": lambda su: dict(avg_fn=su.get_ema_avg_fn(0.8)),
           "swa avg_fn": lambda su: dict(avg_fn=su.get_swa_avg_fn()),
           "swa buffers": lambda su: dict(use_buffers=True),
           "ema buffers": lambda su: dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.5), use_buffers=True)}


def _averaged(lib, option):
    su = import_module(lib.__name__ + ".optim.swa_utils")
    model = _model(lib)
    averaged = su.AveragedModel(model, **OPTIONS[option](su))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    history = []
    for _ in range(5):
        loss = (model(lib.tensor(rng.standard_normal((5, 4)).astype(np.float32))) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        averaged.update_parameters(model)
        history.append({k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()})
    batches = [lib.tensor(rng.standard_normal((5, 4)).astype(np.float32)) for _ in range(3)]
    su.update_bn([(b, 0) for b in batches], averaged)
    history.append({k: v.detach().numpy().copy() for k, v in averaged.state_dict().items()})
    history.append({"out": averaged(batches[0]).detach().numpy()})
    return history


@pytest.mark.parametrize("option", list(OPTIONS))
def test_averaged_model_and_update_bn_follow_torch(option):
    ours, theirs = _averaged(tensorplug, option), _averaged(torch, option)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert list(a) == list(b)
        for key in b:
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=f"step {step}, {key}")


@pytest.mark.parametrize("kwargs", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.01], anneal_epochs=3,
                                                               anneal_strategy="linear"),
                                    dict(swa_lr=0.02, anneal_epochs=0)], ids=str)
def test_swalr_follows_torch(kwargs):
    def lrs(lib):
        opt = lib.optim.SGD([{"params": [lib.ones(2, requires_grad=True)], "lr": 0.1},
                             {"params": [lib.ones(2, requires_grad=True)], "lr": 0.3}])
        s = import_module(lib.__name__ + ".optim.swa_utils").SWALR(opt, **kwargs)
        out = [s.get_last_lr()]
        for _ in range(12):
            opt.step()
            s.step()
            out.append(s.get_last_lr())
        return out, sorted(s.state_dict())

    ours, theirs = lrs(tensorplug), lrs(torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    assert ours[1] == theirs[1]


def test_swa_errors_follow_torch():
    for lib in (tensorplug, torch):
        su = import_module(lib.__name__ + ".optim.swa_utils")
        with pytest.raises(ValueError, match="Invalid decay value 1.5"):
            su.get_ema_multi_avg_fn(1.5)
        opt = lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
            su.SWALR(opt, 0.05, anneal_strategy="step")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
            su.SWALR(opt, 0.05, anneal_epochs=-1)
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            su.AveragedModel(lib.nn.Linear(2, 2), avg_fn=su.get_swa_avg_fn(), multi_avg_fn=su.get_swa_multi_avg_fn())
