"""A view's history follows its base's in-place writes, as torch regenerates a view's grad_fn when its
base's version moved: the view's values changed with the storage, so its gradient must flow through the
write (a view that kept its old history gave gradients that skipped it, silently). Compared with torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _leaf(m, values):
    return m.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def _write_base_then_use_view(m):
    x = _leaf(m, [1.0, 3.0, 5.0])
    y = x.clone()
    v = y[:2]
    y.mul_(2)
    (v * v).sum().backward()
    return x.grad


def _write_view_then_use_sibling(m):
    x = _leaf(m, [1.0, 3.0, 5.0])
    y = x.clone()
    v, w = y[:2], y[1:]
    v.mul_(3)
    (w * w).sum().backward()
    return x.grad


def _view_of_view_after_two_writes(m):
    x = _leaf(m, [[1.0, 3.0], [5.0, 7.0]])
    y = x * 1
    first_column = y.t()[0]
    y.add_(y.detach())
    y.exp_()
    (first_column * 2).sum().backward()
    return x.grad


def _write_base_then_write_view(m):
    x = _leaf(m, [1.0, 3.0, 5.0])
    y = x.clone()
    v = y.view(3, 1)
    y.pow_(2)
    v.add_(1)
    (v.sum() + y.sum()).backward()
    return x.grad


def _view_made_without_grad_then_write_with_grad(m):
    x = _leaf(m, [1.0, 2.0])
    y = x * 1
    with m.no_grad():
        y.add_(1)  # unrecorded: the view's history (through y) still holds
    v = y[:1]
    y.mul_(x)
    v.sum().backward()
    return x.grad


CASES = [_write_base_then_use_view, _write_view_then_use_sibling, _view_of_view_after_two_writes,
         _write_base_then_write_view, _view_made_without_grad_then_write_with_grad]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__.strip("_"))
def test_view_gradients_flow_through_writes_to_the_base(case):
    np.testing.assert_allclose(case(tensorplug).numpy(), case(torch).numpy(), rtol=1e-12)


def test_dead_views_are_dropped():
    x = tensorplug.ones(4, requires_grad=True) * 1
    for _ in range(200):
        x[:2]  # made and dropped at once
    assert len(x._views) < 64
