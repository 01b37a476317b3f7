"""Window functions, logspace, torch.range and vander against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same
from .test_aliases import _errors_alike

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8])
def test_windows(name, length):
    same(lambda m: (getattr(m, name)(length), getattr(m, name)(length, False),
                    getattr(m, name)(length, periodic=True, dtype=m.float64)), grad=False, rtol=1e-5, atol=1e-6)


def test_window_options_and_errors():
    same(lambda m: (m.hamming_window(6, False, 0.5, 0.3), m.kaiser_window(7, True, 3.0, dtype=m.float64)),
         grad=False, rtol=1e-6, atol=1e-9)
    assert tp.hann_window(4, requires_grad=True).requires_grad
    _errors_alike(lambda m: m.hann_window(4, dtype=m.int64), "hann_window expects floating point dtypes")
    _errors_alike(lambda m: m.kaiser_window(-1), "requires non-negative window_length")


def test_logspace_and_range():
    same(lambda m: (m.logspace(0, 2, 3), m.logspace(-1, 1, 5, base=2.0, dtype=m.float64), m.logspace(1, 0, 0)),
         grad=False, rtol=1e-6)
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        same(lambda m: (m.range(1, 4), m.range(0, 1, 0.25), m.range(5, 1, -2, dtype=m.int64),
                        m.range(1, 3, dtype=m.float64)), grad=False)
    with pytest.warns(UserWarning):
        _errors_alike(lambda m: m.range(0, 3, -1), "upper bound and lower bound inconsistent with step sign")


def test_vander():
    # (torch's own vander backward fails in 2.13: compare values, and gradients against the formula)
    same(lambda m, x: (m.vander(x), m.vander(x, 2), m.vander(x, 4, increasing=True)), np.array([0.5, -1.0, 2.0]),
         grad=False)
    same(lambda m: (m.vander(m.tensor([1, 2, 3])), m.vander(m.tensor([1, 2]), 0)), grad=False)
    x = tp.tensor([0.0, 2.0, 3.0], requires_grad=True)
    tp.vander(x, 4).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 + 2 * x.detach().numpy() + 3 * x.detach().numpy() ** 2)
