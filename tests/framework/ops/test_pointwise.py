"""lerp/addcmul/addcdiv/logaddexp/clamp_min/clamp_max and their in-place forms — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

A, B, C = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.0]), np.array([2.0, 1.5, -0.5])


@pytest.mark.parametrize("case", [
    lambda m, a, b, c: m.lerp(a, b, 0.25), lambda m, a, b, c: a.lerp(b, c), lambda m, a, b, c: m.addcmul(a, b, c),
    lambda m, a, b, c: a.addcmul(b, c, value=-0.5), lambda m, a, b, c: m.addcdiv(a, b, c, value=2),
    lambda m, a, b, c: m.logaddexp(a, b), lambda m, a, b, c: a.logaddexp(a * 100),
    lambda m, a, b, c: m.clamp_min(a, 0.5), lambda m, a, b, c: a.clamp_max(1.0),
    lambda m, a, b, c: (a * 1).addcmul_(b, c, value=3), lambda m, a, b, c: (a * 1).addcdiv_(b, c),
    lambda m, a, b, c: (a * 1).lerp_(b, 0.5),
])
def test_against_torch(case):
    same(case, A, B, C)


def test_in_place_returns_self():
    t = tp.tensor(A)
    assert t.addcmul_(tp.tensor(B), tp.tensor(C)) is t
