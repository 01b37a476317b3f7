"""cross_entropy and nll_loss refuse class-index targets of the wrong shape with torch's error type and
message: a 0-d target beside a batch is a ValueError naming batch size 0 (it was RuntimeError 'Expected
target size'), and an IndexError for an empty batch."""
from __future__ import annotations

import pytest

from torch_compare import assert_same_error

pytest.importorskip("torch")

SHAPES = [((1, 5), ()), ((2, 5), ()), ((0, 5), ()), ((3, 5), (2,)), ((3, 5), (3, 2)), ((2, 5, 4), (2, 3)),
          ((2, 5, 4), (2,))]


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("shapes", SHAPES)
def test_a_target_of_the_wrong_shape_is_refused_as_torch(loss, shapes):
    inp, target = shapes
    assert_same_error(lambda m: getattr(m.nn.functional, loss)(m.zeros(inp), m.zeros(target, dtype=m.long)))
