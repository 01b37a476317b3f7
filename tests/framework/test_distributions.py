"""tensorplug.distributions against torch.distributions: densities, entropies, moments, KL, sampling
statistics, reparameterized gradients, validation."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import distributions as D
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")
TD = torch.distributions


def _pair(make):
    return make(tensorplug, D), make(torch, TD)


def _np(t):
    return t.detach().cpu().numpy()


FAMILIES = {
    "normal": (lambda m, d: d.Normal(m.tensor([0.0, 1.0, -2.0], dtype=m.float64),
                                     m.tensor([1.0, 2.0, 0.5], dtype=m.float64)),
               [0.5, -1.0, -2.2]),
    "uniform": (lambda m, d: d.Uniform(m.tensor([0.0, -1.0, 2.0], dtype=m.float64),
                                       m.tensor([2.0, 3.0, 2.5], dtype=m.float64)), [1.0, 2.9, 2.1]),
    "bernoulli_probs": (lambda m, d: d.Bernoulli(probs=m.tensor([0.3, 0.9, 0.5], dtype=m.float64)), [1.0, 0.0, 1.0]),
    "bernoulli_logits": (lambda m, d: d.Bernoulli(logits=m.tensor([0.3, -2.0, 4.0], dtype=m.float64)),
                         [0.0, 1.0, 1.0]),
    "categorical_logits": (lambda m, d: d.Categorical(logits=m.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]],
                                                                      dtype=m.float64)), [2, 0]),
    "categorical_probs": (lambda m, d: d.Categorical(probs=m.tensor([[2.0, 1.0, 1.0], [0.0, 0.5, 0.5]],
                                                                    dtype=m.float64)), [0, 2]),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_densities_entropies_and_shapes_match_torch(family):
    make, value = FAMILIES[family]
    ours, theirs = _pair(make)
    assert repr(ours).replace("tensorplug.", "torch.") == repr(theirs)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    dtype = tensorplug.int64 if "categorical" in family else tensorplug.float64
    lp = ours.log_prob(tensorplug.tensor(value, dtype=dtype))
    tlp = theirs.log_prob(torch.tensor(value, dtype=torch.int64 if "categorical" in family else torch.float64))
    np.testing.assert_allclose(_np(lp), _np(tlp), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(ours.entropy()), _np(theirs.entropy()), rtol=1e-12, atol=1e-12)
    if "categorical" not in family:
        np.testing.assert_allclose(_np(ours.mean), _np(theirs.mean), rtol=1e-12)
        np.testing.assert_allclose(_np(ours.variance), _np(theirs.variance), rtol=1e-12)
        np.testing.assert_allclose(_np(ours.stddev), _np(theirs.stddev), rtol=1e-12)
    assert tuple(ours.sample((4, 5)).shape) == tuple(theirs.sample((4, 5)).shape)
    other, tother = _pair(make)
    np.testing.assert_allclose(_np(D.kl_divergence(ours, other)), _np(TD.kl_divergence(theirs, tother)), atol=1e-12)


def test_kl_between_different_parameters_matches_torch():
    a = lambda m, d: d.Normal(m.tensor([0.0, 1.0]), m.tensor([1.0, 2.0]))  # noqa: E731
    b = lambda m, d: d.Normal(m.tensor([0.5, -1.0]), m.tensor([0.5, 3.0]))  # noqa: E731
    c = lambda m, d: d.Categorical(logits=m.tensor([[1.0, 0.0, -1.0]]))  # noqa: E731
    e = lambda m, d: d.Categorical(probs=m.tensor([[0.2, 0.3, 0.5]]))  # noqa: E731
    for p, q in ((a, b), (c, e)):
        ours = D.kl_divergence(p(tensorplug, D), q(tensorplug, D))
        theirs = TD.kl_divergence(p(torch, TD), q(torch, TD))
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6)


def test_sampling_statistics():
    tensorplug.manual_seed(0)
    n = D.Normal(tensorplug.tensor([1.0, -2.0]), tensorplug.tensor([0.5, 2.0])).sample((20000,))
    np.testing.assert_allclose(_np(n.mean(0)), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(_np(n.std(0)), [0.5, 2.0], rtol=0.03)
    counts = np.bincount(_np(D.Categorical(probs=tensorplug.tensor([0.2, 0.5, 0.3])).sample((20000,))), minlength=3)
    np.testing.assert_allclose(counts / 20000, [0.2, 0.5, 0.3], atol=0.015)
    b = D.Bernoulli(probs=tensorplug.tensor([0.1, 0.8])).sample((20000,))
    np.testing.assert_allclose(_np(b.mean(0)), [0.1, 0.8], atol=0.015)
    u = D.Uniform(-1.0, 3.0).sample((20000,))
    assert float(u.min()) >= -1.0 and float(u.max()) < 3.0 and abs(float(u.mean()) - 1.0) < 0.05


def test_rsample_and_log_prob_carry_gradients():
    loc = tensorplug.tensor([0.5, -1.0], requires_grad=True)
    scale = tensorplug.tensor([1.0, 2.0], requires_grad=True)
    d = D.Normal(loc, scale)
    s = d.rsample((3,))
    s.sum().backward()
    np.testing.assert_allclose(_np(loc.grad), [3.0, 3.0])
    assert not d.sample().requires_grad
    logits = tensorplug.tensor([1.0, 2.0, 0.5], requires_grad=True)
    tlogits = torch.tensor([1.0, 2.0, 0.5], requires_grad=True)
    (-D.Categorical(logits=logits).log_prob(tensorplug.tensor(1)) * 2.0).backward()
    (-TD.Categorical(logits=tlogits).log_prob(torch.tensor(1)) * 2.0).backward()
    np.testing.assert_allclose(_np(logits.grad), _np(tlogits.grad), rtol=1e-6)


def test_validation_like_torch():
    for lib, d in ((tensorplug, D), (torch, TD)):
        with pytest.raises(ValueError, match="Expected parameter scale .* to satisfy the constraint "
                                             "GreaterThan\\(lower_bound=0.0\\)"):
            d.Normal(lib.tensor(0.0), lib.tensor(-1.0))
        with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
            d.Categorical(probs=lib.tensor([0.5, 0.5]), logits=lib.tensor([0.0, 0.0]))
        d.Normal(lib.tensor(0.0), lib.tensor(-1.0), validate_args=False)  # validation off: accepted


VALUES = {
    # torch clamps probabilities to [eps, 1 - eps] before the log: a zero probability's log-prob is log(eps)
    "categorical_zero_probability_log_prob": lambda m: m.distributions.Categorical(
        probs=m.tensor([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])).log_prob(m.tensor([2, 0])),
    "categorical_zero_probability_logits_float64": lambda m: m.distributions.Categorical(
        probs=m.tensor([0.0, 0.5, 0.5], dtype=m.float64)).logits,
    "categorical_zero_probability_entropy": lambda m: m.distributions.Categorical(
        probs=m.tensor([0.0, 0.5, 0.5])).entropy(),
    "normal_icdf": lambda m: m.distributions.Normal(0.5, 2.0).icdf(m.tensor([0.1, 0.5, 0.99])),
    "uniform_cdf": lambda m: m.distributions.Uniform(-1.0, 2.0).cdf(m.tensor([-1.0, 0.5, 2.0])),
    "uniform_icdf": lambda m: m.distributions.Uniform(-1.0, 2.0).icdf(m.tensor([0.0, 0.5])),
    "kl_bernoulli_certain": lambda m: m.distributions.kl_divergence(
        m.distributions.Bernoulli(probs=m.tensor([0.0, 1.0, 0.3, 0.5, 0.0])),
        m.distributions.Bernoulli(probs=m.tensor([0.5, 0.5, 0.0, 1.0, 0.0]))),
    "kl_categorical_zero": lambda m: m.distributions.kl_divergence(
        m.distributions.Categorical(probs=m.tensor([[0.0, 1.0], [0.5, 0.5]])),
        m.distributions.Categorical(probs=m.tensor([[0.5, 0.5], [0.0, 1.0]]))),
    "uniform_outside_unvalidated": lambda m: m.distributions.Uniform(-1.0, 2.0, validate_args=False).log_prob(
        m.tensor([3.0, 2.0, -1.0])),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_as_torch(name):
    np.testing.assert_allclose(VALUES[name](tensorplug).numpy(), VALUES[name](torch).numpy(), rtol=1e-6)


OUTSIDE = {
    "normal_nan": lambda m: m.distributions.Normal(0.0, 1.0).log_prob(m.tensor(float("nan"))),
    "bernoulli_half": lambda m: m.distributions.Bernoulli(probs=m.tensor(0.3)).log_prob(m.tensor(0.5)),
    "categorical_negative": lambda m: m.distributions.Categorical(probs=m.tensor([0.2, 0.8])).log_prob(m.tensor(-1)),
    "categorical_fraction": lambda m: m.distributions.Categorical(probs=m.tensor([0.2, 0.8])).log_prob(m.tensor(1.5)),
    "uniform_above": lambda m: m.distributions.Uniform(-1.0, 2.0).log_prob(m.tensor([3.0])),
    "uniform_cdf_below": lambda m: m.distributions.Uniform(-1.0, 2.0).cdf(m.tensor([-2.0])),
}


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_a_value_outside_the_support_raises_as_torch(name):
    assert_same_error(OUTSIDE[name])
