"""RMSprop: torch's trajectory for every option."""
from __future__ import annotations

import pytest

import tensorplug
from tensorplug.optim import RMSprop

torch = pytest.importorskip("torch")

CASES = [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9, eps=1e-6),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1),
    dict(lr=0.01, maximize=True, centered=True),
    dict(lr=0.01, maximize=True, momentum=0.5, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", CASES, ids=str)
def test_trajectory_matches_torch(backend, trajectory, kwargs):
    trajectory(RMSprop, torch.optim.RMSprop, kwargs, steps=40)


def test_invalid_alpha():
    with pytest.raises(ValueError, match="Invalid alpha value"):
        RMSprop([tensorplug.zeros(2, requires_grad=True)], alpha=-1)
