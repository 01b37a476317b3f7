"""nn.utils: gradient clipping and parameter vectors, against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import nn

torch = pytest.importorskip("torch")


def _grads(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5)]


def _params(grads):
    ours, theirs = [], []
    for g in grads:
        p = nn.Parameter(tensorplug.zeros(*g.shape, dtype=tensorplug.float64))
        p.grad = tensorplug.tensor(g)
        tp = torch.nn.Parameter(torch.zeros(*g.shape, dtype=torch.float64))
        tp.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm(norm_type, max_norm):
    ours, theirs = _params(_grads(0))
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(want.item(), rel=1e-10)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(p.grad.tolist()), tp.grad.numpy(), rtol=1e-10)


def test_clip_grad_value_and_nonfinite():
    ours, theirs = _params(_grads(1))
    nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(p.grad.tolist()), tp.grad.numpy())
    p = nn.Parameter(tensorplug.zeros(2))
    p.grad = tensorplug.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_round_trip():
    m = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(m.parameters())
    assert vec.shape == (8,)
    assert vec.tolist()[:6] == m.weight.reshape(-1).tolist()
    vec.sum().backward()
    assert m.weight.grad.tolist() == [[1.0] * 3] * 2
    nn.utils.vector_to_parameters(tensorplug.arange(8.0), m.parameters())
    assert m.bias.tolist() == [6.0, 7.0]
