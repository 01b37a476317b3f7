"""Tensor printing matches torch's (dtype names aside)."""
from __future__ import annotations

import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

CASES = [
    lambda m: m.tensor([1.0, 2.5, 3.0]), lambda m: m.tensor([[1, 2], [3, 4]]), lambda m: m.tensor(3.5),
    lambda m: m.tensor([True, False]), lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([], dtype=m.float32), lambda m: m.zeros(2, 0), lambda m: m.tensor([1e-8, 1.0]),
    lambda m: m.tensor([1e10, 1.0]), lambda m: m.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    lambda m: m.arange(2000.0), lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2, lambda m: m.tensor([[1.123456789, 2.0]]),
    lambda m: m.tensor(5), lambda m: m.tensor([100000.0, 2.0]), lambda m: m.tensor([0.0001, 2.0]),
    lambda m: m.arange(24).reshape(2, 3, 4), lambda m: m.tensor([-0.0, 1.0]), lambda m: m.tensor([1.0, 2.0]).sum(),
    lambda m: m.tensor([float("inf"), 1.0]), lambda m: m.zeros(3), lambda m: m.arange(3000).reshape(1000, 3).float(),
    lambda m: m.arange(200).reshape(2, 100), lambda m: m.tensor([1, 2], dtype=m.uint8),
    # suffixes past the line width start an indented line of their own
    lambda m: m.tensor([0.1, 0.25, 1.0, 3.14159], dtype=m.float64, requires_grad=True) * 2,
    lambda m: m.tensor([[0.1, 0.25, 1.0, 3.14159]] * 3, dtype=m.float64, requires_grad=True) * 2,
    lambda m: m.tensor([1e10, 2.5, 3.0], dtype=m.float64, requires_grad=True) * 2,
    lambda m: m.tensor([1e10, 2.5, 3.0, 4.0, 5.0, 6.0], dtype=m.float16, requires_grad=True) * 2,
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_repr_matches_torch(i):
    from tensorplug.runner import torch_alias
    theirs = repr(CASES[i](torch))
    with torch_alias():  # torch's names in the text, so its lines wrap where torch's do
        assert repr(CASES[i](tp)) == theirs
