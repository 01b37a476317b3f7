"""Shape ops: view rules, reshape, flip, repeat, broadcast_to, movedim, contiguous — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("case", [
    lambda m, x: x.flip(0), lambda m, x: m.flip(x, (0, 1)), lambda m, x: x.fliplr(), lambda m, x: x.repeat(2, 2),
    lambda m, x: x.repeat(3, 1, 2), lambda m, x: x[0].repeat(2), lambda m, x: m.broadcast_to(x, (4, 2, 3)),
    lambda m, x: x[:, :1].broadcast_to((2, 5)), lambda m, x: m.movedim(x, 0, 1), lambda m, x: x.t().contiguous(),
    lambda m, x: x.t().reshape(-1), lambda m, x: x.view(3, 2), lambda m, x: x.view(-1), lambda m, x: x.flatten(),
    lambda m, x: x.unsqueeze(0).expand(4, 2, 3), lambda m, x: x.squeeze(), lambda m, x: x.unsqueeze(-1).squeeze(-1),
    lambda m, x: m.swapaxes(x, 0, 1), lambda m, x: x.T, lambda m, x: x.mT,
])
def test_against_torch(case):
    same(case, X)


def test_view_contiguity_rule():
    x = tp.tensor(X)
    assert x.is_contiguous() and not x.t().is_contiguous()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(6)
    assert x.t().contiguous().view(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_flip_copies_and_view_shares():
    x = tp.tensor(X)
    f = x.flip(0)
    f.add_(100)
    assert x.max().item() == 5.0
    v = x.view(3, 2)
    v[0, 0] = -1.0
    assert x[0, 0].item() == -1.0


def test_repeat_errors():
    with pytest.raises(RuntimeError, match="can not be smaller"):
        tp.ones(2, 3).repeat(2)


@pytest.mark.parametrize("case", [
    lambda m, x: x.narrow(1, 1, 2), lambda m, x: m.narrow(x, 0, -1, 1), lambda m, x: x.diagonal(),
    lambda m, x: m.diagonal(x, 1), lambda m, x: x.diagonal(-1), lambda m, x: m.diagonal(x.reshape(1, 2, 3), 0, 1, 2),
    lambda m, x: m.diag(x), lambda m, x: m.diag(x[0]), lambda m, x: x[1].diag(2), lambda m, x: m.tril(x),
    lambda m, x: x.triu(1), lambda m, x: m.tril(x.reshape(1, 3, 2), -1), lambda m, x: (x * 1).tril_(),
])
def test_more_shape_ops_against_torch(case):
    same(case, X)


@pytest.mark.parametrize("case", [
    lambda m, x: x.unflatten(1, (3, 1)), lambda m, x: m.tile(x, (2,)), lambda m, x: x.tile((2, 1, 2)),
    lambda m, x: m.roll(x, 1), lambda m, x: x.roll(-1, 1), lambda m, x: m.roll(x, (1, 2), (0, 1)),
    lambda m, x: m.diff(x), lambda m, x: x.diff(n=2, dim=1), lambda m, x: m.diff(x, dim=0, prepend=x[:1] * 2),
    lambda m, x: x.type_as(m.zeros(1, dtype=m.float32)), lambda m, x: (x * 1).stride(), lambda m, x: x.t().stride(0),
])
def test_even_more_shape_ops_against_torch(case):
    same(case, X)
