"""F.gumbel_softmax (it was missing): a sample of the concrete distribution whose argmax frequencies are the
softmax probabilities, hard one-hot samples carrying the soft sample's gradient, torch's eps warning."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp
import tensorplug.nn.functional as F


def test_hard_samples_are_one_hot_with_the_class_frequencies_of_the_softmax():
    tp.manual_seed(0)
    probs = np.array([0.1, 0.2, 0.7], np.float32)
    logits = tp.tensor(np.tile(np.log(probs), (20000, 1)), requires_grad=True)
    sample = F.gumbel_softmax(logits, tau=0.5, hard=True)
    values = sample.detach().numpy()
    assert set(np.unique(values)) == {0.0, 1.0} and (values.sum(1) == 1).all()
    np.testing.assert_allclose(values.mean(0), probs, atol=0.015)
    (sample * tp.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0  # straight through


@pytest.mark.parametrize("dim", [-1, 0])
def test_soft_samples_sum_to_one_along_dim(dim):
    sample = F.gumbel_softmax(tp.randn(4, 5), tau=2.0, dim=dim)
    np.testing.assert_allclose(sample.sum(dim).numpy(), 1.0, rtol=1e-6)


def test_eps_is_deprecated_as_in_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.gumbel_softmax(tp.randn(2, 3), eps=1e-5)
    assert [str(w.message) for w in caught] == ["`eps` parameter is deprecated and has no effect."]
