"""Tensor.resize_ / resize_as_ (missing; the public-program sweep listed resize_) as torch's: the storage
re-read from the tensor's offset in the new shape, growth onto new memory keeping the old elements first,
views of the old storage left as they were, and torch's refusal for a tensor that requires grad."""
from __future__ import annotations

import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")


def _cases(m):
    out = []
    x = m.arange(6.0)
    out.append(x.resize_(2, 3).tolist())
    x = m.arange(6.0)
    x.resize_(8)
    out.append((tuple(x.shape), x[:6].tolist()))
    out.append(m.arange(6.0).resize_(2).tolist())
    out.append(m.arange(6.0)[1:4].resize_(5).tolist())  # a view reads on into its base's storage
    out.append(tuple(m.arange(6.0).resize_as_(m.zeros(3, 2)).shape))
    x = m.arange(6.0)
    out.append((x.resize_((3, 2)) is x, tuple(x.shape)))
    x = m.arange(6.0)
    view = x.view(2, 3)
    x.resize_(2)
    out.append(view.tolist())
    x = m.arange(6.0).resize_(2, 3)
    x[0, 0] = 9
    out.append(x.tolist())
    out.append(tuple(m.tensor([]).resize_(0).shape))
    return out


def test_resize_is_torchs():
    assert _cases(tp) == _cases(torch)


def test_resize_of_a_tensor_that_requires_grad_is_refused():
    assert_same_error(lambda m: m.arange(6.0, requires_grad=True).resize_(2, 3))
