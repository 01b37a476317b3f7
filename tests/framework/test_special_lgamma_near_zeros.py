"""torch.special.gammaln / torch.lgamma near their zeros at 1 and 2, against torch (std::lgamma): the
Stirling sum with upward recurrence cancelled there to an absolute error of ~1e-15, a relative error of
up to 1e-4 (lgamma(2 + 1e-12))."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

NEAR_ZEROS = np.array([1 + 1e-12, 1 - 1e-9, 1.0000001, 2.000000001, 2 - 1e-12, 2 + 1e-6, 0.8, 1.2, 1.76, 2.24, 1.0, 2.0])


@pytest.mark.parametrize("name", ["special.gammaln", "lgamma"])
def test_lgamma_relative_precision_near_one_and_two(name):
    def call(m, x):
        return m.special.gammaln(x) if name == "special.gammaln" else m.lgamma(x)
    ours = call(tensorplug, tensorplug.tensor(NEAR_ZEROS)).numpy()
    theirs = call(torch, torch.tensor(NEAR_ZEROS)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_lgamma_float32_near_one_and_two():
    x = NEAR_ZEROS.astype(np.float32)
    np.testing.assert_allclose(tensorplug.special.gammaln(tensorplug.tensor(x)).numpy(),
                               torch.special.gammaln(torch.tensor(x)).numpy(), rtol=2e-6, atol=1e-12)
