"""Every optimizer against torch over mixed parameters: a 0-d, a 1-d and a 2-d float32 one, a float64 one
whose gradient is a transposed (non-contiguous) view and one whose gradient is None every third step; after
each step the parameters and the whole state_dict (keys, dtypes, values) must match. Modes: plain, a tensor
lr, two groups with different options, add_param_group mid-training, zero_grad(set_to_none=False), and a
state_dict round trip (own, or torch's converted through numpy) after which training goes on identically."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

SHAPES = [((), np.float32), ((5,), np.float32), ((3, 4), np.float32), ((4, 3), np.float64), ((2, 3), np.float32)]
STEPS = 12

CONFIGS = {
    "SGD": dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2, maximize=True),
    "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True),
    "AdamW": dict(lr=0.01, amsgrad=True, maximize=True),
    "Adamax": dict(lr=0.01, weight_decay=0.1, maximize=True),
    "Adagrad": dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3),
    "Adadelta": dict(lr=0.5, rho=0.5, eps=1e-3, weight_decay=0.1, maximize=True),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True),
    "Rprop": dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True),
    "NAdam": dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "RAdam": dict(lr=0.01, weight_decay=0.1, maximize=True),
    "ASGD": dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1),
    "Adafactor": dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1, maximize=True),
}
MODES = ["plain", "tensor lr", "groups", "add_param_group", "zero_grad(False)", "own state_dict", "torch state_dict"]


def _params(lib):
    rng = np.random.default_rng(0)
    return [lib.tensor(rng.standard_normal(s).astype(d), requires_grad=True) for s, d in SHAPES]


def _grads(step):
    rng = np.random.default_rng(1000 + step)
    grads = [rng.standard_normal(s).astype(d) for s, d in SHAPES]
    if step % 3 == 1:
        grads[4] = None
    return grads


def _set_grads(lib, params, grads, keep_zeroed=False):
    for i, (p, g) in enumerate(zip(params, grads)):
        if g is None:
            if not keep_zeroed:
                p.grad = None
        elif i == 3:
            p.grad = lib.tensor(np.ascontiguousarray(g.T)).t()
        else:
            p.grad = lib.tensor(g)


def _optimizer(lib, name, params, mode):
    kwargs = dict(CONFIGS[name])
    if mode == "tensor lr":
        kwargs["lr"] = lib.tensor(kwargs["lr"])
    cls = getattr(lib.optim, name)
    if mode == "groups":
        return cls([{"params": params[:3]}, {"params": params[3:], "lr": 0.003, "weight_decay": 0.05}], **kwargs)
    if mode == "add_param_group":
        return cls(params[:3], **kwargs)
    return cls(params, **kwargs)


def _to_tensorplug(value):
    if isinstance(value, torch.Tensor):
        return tensorplug.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _to_tensorplug(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tensorplug(v) for v in value)
    return value


def _assert_same(ours, theirs, where):
    if isinstance(theirs, torch.Tensor):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], where
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=2e-5, atol=1e-6,
                                   err_msg=where)
    elif isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for k in theirs:
            _assert_same(ours[k], theirs[k], f"{where}.{k}")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == pytest.approx(theirs, rel=1e-6) if isinstance(theirs, float) else ours == theirs, where


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_optimizer_follows_torch(name, mode):
    ps, ts = _params(tensorplug), _params(torch)
    ours, theirs = _optimizer(tensorplug, name, ps, mode), _optimizer(torch, name, ts, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in range(STEPS):
            grads = _grads(step)
            if mode == "add_param_group" and step == 5:
                ours.add_param_group({"params": ps[3:], "lr": 0.002})
                theirs.add_param_group({"params": ts[3:], "lr": 0.002})
            if mode == "zero_grad(False)":
                ours.zero_grad(set_to_none=False)
                theirs.zero_grad(set_to_none=False)
            _set_grads(tensorplug, ps, grads, keep_zeroed=mode == "zero_grad(False)")
            _set_grads(torch, ts, grads, keep_zeroed=mode == "zero_grad(False)")
            ours.step()
            theirs.step()
            for i, (p, t) in enumerate(zip(ps, ts)):
                _assert_same(p, t, f"step {step}, parameter {i}")
            _assert_same(ours.state_dict(), theirs.state_dict(), f"step {step}, state_dict")
            if step == 5 and mode.endswith("state_dict"):
                saved = (copy.deepcopy(ours.state_dict()) if mode == "own state_dict"
                         else _to_tensorplug(theirs.state_dict()))
                ours = _optimizer(tensorplug, name, ps, mode)
                ours.load_state_dict(saved)
                resumed = _optimizer(torch, name, ts, mode)
                resumed.load_state_dict(copy.deepcopy(theirs.state_dict()))
                theirs = resumed
