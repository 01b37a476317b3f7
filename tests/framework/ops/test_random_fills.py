"""In-place random fills as torch's: log_normal_, cauchy_ and geometric_ draw from their distributions,
and the continuous fills refuse integer tensors with torch's errors (they filled truncated draws)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")

MISUSE = {
    "normal_integer": lambda m: m.zeros(3, dtype=m.int64).normal_(),
    "normal_bool": lambda m: m.zeros(3, dtype=m.bool).normal_(),
    "init_normal_integer": lambda m: m.nn.init.normal_(m.zeros(3, dtype=m.int64)),
    "uniform_integer": lambda m: m.zeros(3, dtype=m.int64).uniform_(),
    "exponential_integer": lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    "cauchy_integer": lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
    "log_normal_integer": lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
    "geometric_p_0": lambda m: m.zeros(3).geometric_(0),
    "log_normal_negative_std": lambda m: m.zeros(3).log_normal_(0, -1),
    "cauchy_negative_sigma": lambda m: m.zeros(3).cauchy_(0, -1),
}


@pytest.mark.parametrize("name", sorted(MISUSE))
def test_misuse_raises_as_torch(name):
    assert_same_error(MISUSE[name])


def test_the_draws_follow_their_distributions():
    tensorplug.manual_seed(0)
    n = 200_000
    geometric = tensorplug.zeros(n, dtype=tensorplug.int64).geometric_(0.3).numpy()
    assert geometric.min() == 1 and abs(geometric.mean() - 1 / 0.3) < 0.05
    cauchy = tensorplug.zeros(n, dtype=tensorplug.float64).cauchy_(1.0, 2.0).numpy()
    assert abs(np.median(cauchy) - 1.0) < 0.05 and abs(np.median(np.abs(cauchy - 1.0)) - 2.0) < 0.05
    log_normal = np.log(tensorplug.zeros(n, dtype=tensorplug.float64).log_normal_(0.5, 0.25).numpy())
    assert abs(log_normal.mean() - 0.5) < 0.01 and abs(log_normal.std() - 0.25) < 0.01
    for m in (torch, tensorplug):  # dtypes kept
        assert m.zeros(2, dtype=m.int64).geometric_(0.5).dtype == m.int64
        assert m.zeros(2, dtype=m.float16).cauchy_().dtype == m.float16
