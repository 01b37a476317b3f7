"""Tensor.as_strided / torch.as_strided as torch's: a view of the storage (a view's root), its values,
torch's AsStridedBackward0 gradient (overlapping windows sum), writes through it, an in-place write
recorded through it, and torch's errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")


def _cases(m):
    out = []
    x = m.arange(6.0).requires_grad_()
    y = x.as_strided((2, 2), (1, 2), 1)
    (y * m.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    out += [y, x.grad, type(y.grad_fn).__name__]
    x = m.arange(10.0).requires_grad_()
    windows = x.as_strided((4, 3), (2, 1))  # overlapping: their gradients sum
    (windows ** 2).sum().backward()
    out += [windows, x.grad]
    rows = m.arange(12.0).reshape(3, 4)[1:]  # a view: its storage is the whole base, its offset 4
    out += [rows.as_strided((2, 2), (4, 1)), rows.as_strided((2, 2), (4, 1), 0)]
    a = m.arange(6.0).reshape(2, 3).requires_grad_()
    s = a.t().as_strided((3,), (1,))
    (s * m.tensor([1.0, 2.0, 3.0])).sum().backward()
    out += [s, a.grad]
    b = m.zeros(4)
    b.as_strided((2,), (2,)).add_(1)  # writes reach the storage
    out += [b, m.as_strided(m.arange(4.0), (2,), (1,), 2)]
    x = m.arange(6.0).requires_grad_()
    y = x * 1
    y.as_strided((2, 2), (2, 1), 1).mul_(3)  # recorded through the view
    (y * m.arange(6.0)).sum().backward()
    out += [y, x.grad, type(y.grad_fn).__name__]
    return out


def test_as_strided_is_torchs():
    for theirs, ours in zip(_cases(torch), _cases(tp)):
        if isinstance(theirs, str):
            assert ours == theirs
        else:
            np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


@pytest.mark.parametrize("args", [((3, 3), (1, 1), 5), ((2,), (1, 2)), ((2,), (-1,)), ((-1,), (1,))])
def test_as_strided_refuses_as_torch(args):
    assert_same_error(lambda m: m.arange(6.0).as_strided(*args))
