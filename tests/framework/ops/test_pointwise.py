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


@pytest.mark.parametrize("case", [
    # tensor1 * tensor2 in the dtype of all three (uint8 255 * 255 wrapped to 1 before the add)
    lambda m: m.addcmul(m.tensor([-7, 1, 100], dtype=m.int32), m.tensor([255, 2, 3], dtype=m.uint8),
                        m.tensor([255, 2, 3], dtype=m.uint8), value=2),
    lambda m: m.addcmul(m.tensor([1.5, -2.0, 0.5]).half(), m.tensor([255, 2, 3], dtype=m.uint8),
                        m.tensor([255, 2, 3], dtype=m.uint8)),
    lambda m: m.addcmul(m.tensor(1.5, dtype=m.float64), m.tensor([255, 2, 3], dtype=m.uint8),
                        m.tensor([1.5, -2.0, 0.5]).half()),
    lambda m: m.addcdiv(m.tensor([1.5, -2.0, 0.5]).half(), m.tensor([255, 2, 3], dtype=m.uint8),
                        m.tensor([7.0, 3.0, 9.0], dtype=m.float64)),
])
def test_addcmul_addcdiv_in_the_common_dtype_as_torch(case):
    torch = pytest.importorskip("torch")
    got, want = case(tp), case(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    assert got.tolist() == want.tolist()
