"""An in-place op refuses a value that would change its tensor's shape with torch's error: NumPy would
drop leading 1s ([2.] copied into a 0-d tensor); shapes that do not broadcast at all get torch's 'must
match the size' message."""
from __future__ import annotations

import pytest

from torch_compare import assert_same_error

pytest.importorskip("torch")


@pytest.mark.parametrize("op", ["copy_", "add_", "mul_", "sub_"])
@pytest.mark.parametrize("shapes", [((), (1,)), ((3,), (2,)), ((3,), (2, 3)), ((1, 3), (2, 3)), ((1,), (1, 1))])
def test_an_in_place_op_keeps_its_shape_as_torch(op, shapes):
    target, value = shapes
    assert_same_error(lambda m: getattr(m.zeros(target), op)(m.ones(value)))
