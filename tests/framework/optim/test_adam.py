"""Adam: torch's trajectory for every option."""
from __future__ import annotations

import pytest

import tensorplug
from tensorplug.optim import Adam

torch = pytest.importorskip("torch")

CASES = [
    dict(lr=0.1),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.1, amsgrad=True),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.1, weight_decay=0.1, amsgrad=True, maximize=True),
    dict(lr=0.1, maximize=True),
    dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True),
    dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True, amsgrad=True),
]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_trajectory_matches_torch(backend, trajectory, kwargs):
    trajectory(Adam, torch.optim.Adam, kwargs, steps=40)


@pytest.mark.parametrize("bad, match", [
    (dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (dict(eps=-1.0), "Invalid epsilon value"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value"),
])
def test_invalid_options(bad, match):
    with pytest.raises(ValueError, match=match):
        Adam([tensorplug.zeros(2, requires_grad=True)], **bad)
