"""nn.EmbeddingBag / F.embedding_bag against torch: modes, offsets, 2-D bags, weights, padding, gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn

torch = pytest.importorskip("torch")

W = np.random.default_rng(0).standard_normal((10, 3))

CASES = [
    (dict(mode="sum"), ([1, 2, 4, 5, 4, 3, 2, 9], [0, 4]), None),
    (dict(mode="mean"), ([1, 2, 4, 5, 4, 3, 2, 9], [0, 4, 4]), None),  # an empty bag
    (dict(mode="max"), ([1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 5]), None),
    (dict(mode="sum", include_last_offset=True), ([1, 2, 4, 5, 4], [0, 2, 5]), None),
    (dict(mode="mean", padding_idx=2), ([1, 2, 4, 2, 2], [0, 3]), None),
    (dict(mode="sum"), ([[1, 2, 3], [4, 4, 0]], None), None),
    (dict(mode="max"), ([[1, 2, 3], [4, 4, 0]], None), None),
    (dict(mode="sum"), ([1, 2, 4, 5], [0, 1]), [0.5, 2.0, -1.0, 1.5]),
    # torch 2.13's CPU kernel divides by the wrong index's count where a once-seen index sorts after a repeated
    # one (pytorch/pytorch#190063): these cases repeat only the largest index, where its counts are right
    (dict(mode="sum", scale_grad_by_freq=True), ([4, 1, 4, 2, 4], [0, 2]), None),
    (dict(mode="mean", scale_grad_by_freq=True, padding_idx=1), ([4, 1, 4, 2, 4], [0, 3, 3]), None),
    (dict(mode="sum", scale_grad_by_freq=True), ([[1, 2, 3], [4, 4, 4]], None), [[1.0, 2.0, 3.0], [0.5, 1.0, 2.0]]),
]


@pytest.mark.parametrize("kw, data, weights", CASES)
def test_embedding_bag_matches_torch(kw, data, weights):
    values, offsets = data
    outs = []
    for lib in (tensorplug, torch):
        bag = lib.nn.EmbeddingBag(10, 3, **kw).double()
        with lib.no_grad():
            bag.weight.copy_(lib.tensor(W))
        args = [lib.tensor(values)] + ([lib.tensor(offsets)] if offsets is not None else [])
        psw = None if weights is None else lib.tensor(weights, dtype=lib.float64)
        out = bag(*args, per_sample_weights=psw) if psw is not None else bag(*args)
        (out * out).sum().backward()
        outs.append((out.detach().numpy(), bag.weight.grad.numpy(), repr(bag)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], atol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], atol=1e-12)
    assert outs[0][2] == outs[1][2]


def test_embedding_bag_errors_like_torch():
    for lib in (tensorplug, torch):
        bag = lib.nn.EmbeddingBag(10, 3, mode="sum")
        with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
            bag(lib.tensor([1, 2]))
        with pytest.raises(RuntimeError, match="offsets\\[-1\\] can not be greater than input's length 3"):
            bag(lib.tensor([1, 2, 3]), lib.tensor([0, 5]))
        with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
            bag(lib.tensor([[1, 2]]), lib.tensor([0]))
        with pytest.raises(ValueError, match="max mode does not support scaling the gradient by the frequency"):
            lib.nn.EmbeddingBag(10, 3, mode="max", scale_grad_by_freq=True)(lib.tensor([1, 2]), lib.tensor([0]))
        with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
            lib.nn.EmbeddingBag(10, 3, mode="max")(lib.tensor([1, 2]), lib.tensor([0]),
                                                    per_sample_weights=lib.tensor([1.0, 1.0]))


@pytest.mark.parametrize("name, kwargs", [
    ("Embedding", {}),
    ("Embedding", dict(padding_idx=1, max_norm=2.0, norm_type=1.0, scale_grad_by_freq=True, sparse=True)),
    ("Embedding", dict(norm_type=2.0, padding_idx=-1)),
    ("EmbeddingBag", {}),
    ("EmbeddingBag", dict(max_norm=1.0, norm_type=3, scale_grad_by_freq=True, mode="sum", padding_idx=2)),
])
def test_repr_lists_the_options_torch_lists(name, kwargs):
    assert repr(getattr(nn, name)(10, 3, **kwargs)) == repr(getattr(torch.nn, name)(10, 3, **kwargs))
