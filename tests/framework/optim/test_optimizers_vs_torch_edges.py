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
