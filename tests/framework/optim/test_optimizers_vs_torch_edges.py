"""Optimizers against torch where the common trajectory tests do not reach: complex parameters (each part a
real parameter), an empty parameter, fused=True, and construction errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

SHAPES = [((3,), np.complex64), ((0,), np.float32), ((2, 2), np.complex128)]

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, maximize=True)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.05, t0=3)),
]


def _array(rng, shape, dtype):
    a = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _run(lib, name, kwargs, steps=10):
    rng = np.random.default_rng(0)
    params = [lib.tensor(_array(rng, s, d), requires_grad=True) for s, d in SHAPES]
    opt = getattr(lib.optim, name)(params, **kwargs)
    for step in range(steps):
        rng = np.random.default_rng(100 + step)
        for p, (s, d) in zip(params, SHAPES):
            p.grad = lib.tensor(_array(rng, s, d))
        opt.step()
    state = {i: {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v) for k, v in st.items()}
             for i, st in opt.state_dict()["state"].items()}
    return [p.detach().numpy() for p in params], state


@pytest.mark.parametrize("name, kwargs", CASES, ids=str)
def test_complex_parameters_follow_torch(name, kwargs):
    # before: Adagrad's initial accumulator and Rprop's step size filled only the real parts (torch fills both)
    (ours, our_state), (theirs, their_state) = _run(tensorplug, name, kwargs), _run(torch, name, kwargs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    assert list(our_state) == list(their_state)
    for i in their_state:
        assert list(our_state[i]) == list(their_state[i])
        for key in their_state[i]:
            np.testing.assert_allclose(our_state[i][key], their_state[i][key], rtol=2e-5, atol=1e-6, err_msg=key)


def test_adafactor_refuses_complex_parameters_as_torch():
    for lib in (tensorplug, torch):
        p = lib.zeros(2, dtype=lib.complex64, requires_grad=True)
        p.grad = lib.ones(2, dtype=lib.complex64)
        with pytest.raises(RuntimeError, match="Adafactor does not support complex parameters"):
            lib.optim.Adafactor([p]).step()


def _trajectory(lib, name, kwargs, steps=8):
    rng = np.random.default_rng(1)
    params = [lib.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in [(), (4,), (2, 3)]]
    opt = getattr(lib.optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()
    return [p.detach().numpy() for p in params], opt.state_dict()["param_groups"]


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("AdamW", dict(lr=0.01)), ("Adagrad", dict(lr=0.1))], ids=str)
def test_fused_true_runs_as_torch(name, kwargs):
    # torch has fused CPU kernels for these four; fused=True raised here before
    (ours, our_groups), (theirs, their_groups) = (_trajectory(lib, name, dict(kwargs, fused=True))
                                                  for lib in (tensorplug, torch))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert our_groups == their_groups


def _error(lib, name, kwargs):
    p = lib.ones(3, requires_grad=True)
    kwargs = {k: lib.tensor(v) if isinstance(v, list) else
              tuple(lib.tensor(x) if isinstance(x, list) else x for x in v) if isinstance(v, tuple) else v
              for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(lib.optim, name)([p], **kwargs)
        except (ValueError, RuntimeError, TypeError) as exc:
            return type(exc), str(exc)
    return None


# lists stand for tensors: [0.1] a 1-element one, [[0.1, 0.2]] a 2-element one
ERRORS = [(name, kw) for name in ("SGD", "Adam", "AdamW", "Adagrad", "Adamax", "Adadelta", "RMSprop", "Rprop", "NAdam",
                                   "RAdam", "ASGD", "Adafactor", "LBFGS")
          for kw in (dict(lr=[0.1, 0.2]),)] + [
    (name, kw) for name in ("SGD", "Adam", "AdamW", "Adagrad")
    for kw in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True))] + [
    (name, kw) for name in ("Adam", "AdamW")
    for kw in (dict(lr=[0.1], foreach=True), dict(betas=([0.9], 0.999)), dict(betas=(0, 0.99)),
               dict(betas=([0.9], [0.99]), foreach=True))]


@pytest.mark.parametrize("name, kwargs", ERRORS, ids=str)
def test_construction_errors_follow_torch(name, kwargs):
    theirs = _error(torch, name, kwargs)
    assert theirs is not None
    ours = _error(tensorplug, name, kwargs)
    assert ours is not None and ours[0] is theirs[0] and theirs[1] in ours[1], (ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adafactor"])
def test_a_string_lr_is_a_type_error_as_in_torch(name):
    # float() read '0.1' before: torch's comparison refuses it
    for lib in (tensorplug, torch):
        with pytest.raises(TypeError, match="not supported between instances of"):
            getattr(lib.optim, name)([lib.ones(2, requires_grad=True)], lr="0.1")
