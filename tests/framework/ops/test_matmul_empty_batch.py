"""matmul's gradient of an operand shared by an empty batch (the folded-batch GEMM) against torch."""
from __future__ import annotations

import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shapes", [((3, 2), (0, 2, 4)), ((0, 3, 2), (2, 4)), ((3, 0), (2, 0, 4)),
                                    ((2, 0, 3), (3, 4))], ids=str)
def test_gradients_of_empty_batches_like_torch(shapes):
    grads = []
    for m in (tp, torch):
        a, b = (m.ones(*s, requires_grad=True) for s in shapes)
        (a @ b).sum().backward()
        grads.append([(tuple(x.grad.shape), x.grad.sum().item()) for x in (a, b)])
    assert grads[0] == grads[1]
