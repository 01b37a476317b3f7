"""NumPy backend specifics: the optional one-pass axpy."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug


def test_axpy_updates_in_place_in_one_call():
    pytest.importorskip("scipy")
    backend = tensorplug.get_backend("numpy")
    y = np.ones((3, 4), np.float32)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = y.__array_interface__["data"][0]
    assert backend.axpy(y, -0.5, x) is True
    np.testing.assert_array_equal(y, 1 - 0.5 * x)
    assert y.__array_interface__["data"][0] == before


@pytest.mark.parametrize("case", ["broadcast", "int", "mixed dtype", "transposed"])
def test_axpy_declines_what_it_cannot_do_in_one_pass(case):
    backend = tensorplug.get_backend("numpy")
    y = np.ones((3, 4), np.float64)
    x = np.ones((3, 4), np.float64)
    if case == "broadcast":
        x = np.broadcast_to(np.ones(4), (3, 4))
    elif case == "int":
        y, x = y.astype(np.int64), x.astype(np.int64)
    elif case == "mixed dtype":
        x = x.astype(np.float32)
    else:
        y = np.ones((4, 3)).T
    kept = y.copy()
    assert backend.axpy(y, 2.0, x) is False
    np.testing.assert_array_equal(y, kept)


def test_sgd_step_through_axpy_matches_the_plain_update():
    pytest.importorskip("scipy")
    p = tensorplug.randn(50, 20, requires_grad=True)
    start = p.detach().clone()
    p.grad = tensorplug.randn(50, 20)
    tensorplug.optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.detach().numpy(), (start - 0.1 * p.grad).numpy(), rtol=1e-6, atol=1e-7)  # BLAS may fuse the multiply-add
