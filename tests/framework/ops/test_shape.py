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


@pytest.mark.parametrize("src, dst, shape", [
    ("float32", "int32", (2, 3)), ("float32", "int16", (2, 3)), ("float32", "uint8", (4,)),
    ("int16", "float32", (3, 4)), ("float64", "float32", (5,)), ("int64", "float64", (2, 2)),
    ("uint8", "bool", (6,)), ("float32", "float32", (3,)),
])
def test_view_dtype_reinterprets_memory_like_torch(src, dst, shape):
    torch = pytest.importorskip("torch")
    n = int(np.prod(shape))
    if dst == "bool":
        x0 = (np.arange(n) % 2).astype(src).reshape(shape)
    else:
        x0 = (np.arange(n) * 1.7 + 3).astype(src).reshape(shape)
    ours = tp.tensor(x0).view(getattr(tp, dst))
    theirs = torch.tensor(x0).view(getattr(torch, dst))
    assert ours.dtype == getattr(tp, dst) and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())


def test_view_dtype_shares_storage_and_refuses_like_torch():
    torch = pytest.importorskip("torch")
    x = tp.zeros(4)
    bits = x.view(tp.int32)
    bits[1] = 1065353216  # the bits of 1.0f
    assert x.tolist() == [0.0, 1.0, 0.0, 0.0] and bits._version is x._version
    for make, phrase in ((lambda m: m.zeros(3).view(m.float64), "must be divisible by 2 to view Float as Double"),
                         (lambda m: m.zeros(2, 3).t().view(m.int16), r"stride\(-1\) must be 1 to view Float as Short"),
                         (lambda m: m.tensor(1.0).view(m.int16), "cannot be 0 to view Float as Short")):
        for lib in (tp, torch):
            with pytest.raises(RuntimeError, match=phrase):
                make(lib)


def test_view_dtype_without_support_in_the_backend_says_so(backend):
    x = tp.ones(2, device=backend)
    if x._backend.view_dtype(x._data, tp.int32) is not None:
        pytest.skip("this backend reinterprets memory")
    with pytest.raises(RuntimeError, match="cannot reinterpret memory"):
        x.view(tp.int32)
