"""affine_grid is one node that saves no tensor, as torch's: its graph can be differentiated again without
retain_graph (a second autograd.grad raised 'backward through the graph a second time'), with torch's
values and second derivatives."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("size", [(1, 1, 4, 4), (2, 1, 3, 5), (1, 1, 2, 3, 4)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_backward_twice_and_twice_over_as_torch(size, align_corners):
    k = len(size) - 2
    theta = np.random.default_rng(0).standard_normal((size[0], k, k + 1))
    results = []
    for m in (torch, tp):
        th = m.tensor(theta, requires_grad=True)
        grid = m.nn.functional.affine_grid(th, size, align_corners=align_corners)
        first = m.autograd.grad((grid * grid).sum(), th, create_graph=True)[0]
        again = m.autograd.grad(grid.sum(), th)[0]
        second = m.autograd.grad(first.sum(), th)[0]
        results.append([type(grid.grad_fn).__name__] + [t.detach().numpy() for t in (grid, first, again, second)])
    assert results[0][0] == results[1][0]
    for theirs, ours in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch", [0, 1, 3])
def test_a_theta_batch_other_than_the_sizes_is_refused_as_torch(batch):
    from torch_compare import assert_same_error
    assert_same_error(lambda m: m.nn.functional.affine_grid(m.zeros(batch, 2, 3), (2, 1, 4, 4), align_corners=False))
