"""Every optimizer steps parameters of every rank, 0-d included, exactly as torch does
(issue 12: a 0-d parameter's in-place updates must never be lost)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

#: (optimizer name, options): every torch optimizer tensorplug has, with options that use all its state
OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1)),
    ("Rprop", dict(lr=0.05, maximize=True)),
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1)),
]

#: one parameter of each rank, 0 to 4 (a size-1 dim among them)
SHAPES = ((), (3,), (2, 3), (2, 1, 3), (1, 2, 2, 2))


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=str)
def test_parameters_of_every_rank_follow_torch(trajectory, name, kwargs):
    trajectory(getattr(tensorplug.optim, name), getattr(torch.optim, name), kwargs, steps=8, shapes=SHAPES)


def _square_steps(lib, name, kwargs, steps=5):
    w = lib.nn.Parameter(lib.tensor(1.0))
    opt = getattr(lib.optim, name)([w], **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        (w * w).backward()
        opt.step()
    return float(w.detach().item())


def test_sgd_momentum_on_a_0d_parameter_gives_torch_answer():
    # the report: 0.080 where torch gives -0.580 (the momentum buffer's updates were lost)
    got = _square_steps(tensorplug, "SGD", dict(lr=0.1, momentum=0.9))
    assert got == pytest.approx(-0.580, abs=5e-4)
    assert got == pytest.approx(_square_steps(torch, "SGD", dict(lr=0.1, momentum=0.9)), rel=1e-6)


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=str)
def test_0d_parameter_through_backward_and_zero_grad(name, kwargs):
    # gradients accumulated by backward (not assigned), zeroed in place between steps: torch's loop
    ours = _square_steps(tensorplug, name, kwargs, steps=6)
    theirs = _square_steps(torch, name, kwargs, steps=6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
