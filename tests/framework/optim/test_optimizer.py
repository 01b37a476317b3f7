"""The Optimizer base: groups, state_dict round trips, zero_grad, and torch's errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug
from tensorplug.optim import SGD, Adam, RMSprop, Optimizer


def _leaf(*shape):
    return tensorplug.randn(*shape, requires_grad=True)


def _train(opt, params, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = tensorplug.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()


def _clone(params):
    return [p.detach().clone().requires_grad_() for p in params]


@pytest.mark.parametrize("cls, kwargs", [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
])
@pytest.mark.parametrize("through_file", [False, True])
def test_state_dict_round_trip_continues_bit_identically(backend, tmp_path, cls, kwargs, through_file):
    params = [_leaf(3, 4), _leaf(4)]
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], **kwargs)
    _train(opt, params, 5, seed=1)
    state = opt.state_dict()
    if through_file:
        tensorplug.save(state, tmp_path / "opt.tp")
        state = tensorplug.load(tmp_path / "opt.tp")
    copies = _clone(params)
    resumed = cls([{"params": copies[:1]}, {"params": copies[1:]}], **kwargs)
    resumed.load_state_dict(state)
    assert resumed.param_groups[1]["lr"] == 0.05
    _train(opt, params, 7, seed=2)
    _train(resumed, copies, 7, seed=2)
    for p, q in zip(params, copies):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), q.detach().cpu().numpy())


def test_loaded_state_is_a_copy():
    p = _leaf(3)
    opt = Adam([p])
    _train(opt, [p], 2, seed=0)
    q = p.detach().clone().requires_grad_()
    other = Adam([q])
    other.load_state_dict(opt.state_dict())
    assert other.state[q]["exp_avg"]._data is not opt.state[p]["exp_avg"]._data
    np.testing.assert_array_equal(other.state[q]["exp_avg"].cpu().numpy(), opt.state[p]["exp_avg"].cpu().numpy())


def test_state_dict_maps_parameters_to_positions_like_torch():
    torch = pytest.importorskip("torch")
    a, b, c = _leaf(2), _leaf(3), _leaf(4)
    ta, tb, tc = (torch.zeros(n, requires_grad=True) for n in (2, 3, 4))
    for p in (a, c):
        p.grad = tensorplug.ones(*p.shape)
    for t in (ta, tc):
        t.grad = torch.ones(t.shape)
    opt = SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ta, tb]}, {"params": [tc], "lr": 0.5}], lr=0.1, momentum=0.9)
    opt.step()
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 2]
    assert sd["state"][2]["momentum_buffer"] is opt.state[c]["momentum_buffer"]


def test_load_state_dict_with_other_group_size():
    opt = SGD([_leaf(2), _leaf(2)], lr=0.1)
    other = SGD([_leaf(2)], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        SGD([{"params": [_leaf(1)]}, {"params": [_leaf(1)]}]).load_state_dict(other.state_dict())
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        other.load_state_dict([1, 2])


# ERRORS.md rows --------------------------------------------------------------------------

def test_empty_parameter_list():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        Adam(iter([]))


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop])
def test_negative_and_nan_lr(cls):
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        cls([_leaf(2)], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        cls([_leaf(2)], lr=math.nan)
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        cls([{"params": [_leaf(2)], "lr": math.nan}], lr=0.1)


def test_beta_outside_range():
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        Adam([_leaf(2)], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        Adam([_leaf(2)], betas=(math.nan, 0.999))


def test_params_as_one_tensor():
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        SGD(_leaf(3), lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        SGD([_leaf(3), 1.0], lr=0.1)


def test_non_leaf_parameter():
    x = _leaf(3)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([x * 2], lr=0.1)


def test_same_parameter_twice_names_it():
    x, y = _leaf(3), _leaf(2, 5)
    with pytest.raises(ValueError, match=r"parameter 2 of parameter group 0 \(shape \[2, 5\]\).*parameter 1"):
        SGD([x, y, y], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        SGD([{"params": [x]}, {"params": [y, x]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        SGD([{"params": {x, y}}], lr=0.1)


def test_required_option_missing():
    class NeedsLr(Optimizer):
        def __init__(self, params, lr=tensorplug.optim.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        NeedsLr([_leaf(2)])


# groups and gradients ----------------------------------------------------------------------

def test_add_param_group_takes_defaults():
    a, b = _leaf(2), _leaf(2)
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])


def test_zero_grad(backend):
    a, b = _leaf(3), _leaf(3)
    (a * b).sum().backward()
    opt = SGD([a, b], lr=0.1)
    held = a.grad
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(held.cpu().numpy(), np.zeros(3))
    assert a.grad is held
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_params_without_grad_are_skipped(backend):
    a, b = _leaf(3), _leaf(3)
    before = b.detach().cpu().numpy().copy()
    a.grad = tensorplug.ones(3)
    for cls in (SGD, Adam, RMSprop):
        opt = cls([a, b], lr=0.1)
        opt.step()
        assert b not in opt.state or not opt.state[b]
    np.testing.assert_array_equal(b.detach().cpu().numpy(), before)


def test_a_step_between_forward_and_backward_is_caught():
    # the update bumps the version counter, so autograd sees the stale saved tensor
    w = _leaf(3)
    w.grad = tensorplug.ones(3)
    y = (w * w).sum()
    SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_a_subclass_without_step_raises_like_torch():
    # the base step runs the one-parameter rule _update; a plain subclass still has no step, as in torch
    torch = pytest.importorskip("torch")

    class Plain(Optimizer):
        pass

    class TorchPlain(torch.optim.Optimizer):
        pass

    p = tensorplug.zeros(2, requires_grad=True)
    p.grad = tensorplug.ones(2)
    with pytest.raises(NotImplementedError) as ours:
        Plain([p], {}).step()
    with pytest.raises(NotImplementedError):
        TorchPlain([torch.zeros(2, requires_grad=True)], {}).step()
    assert "Plain" in str(ours.value)
