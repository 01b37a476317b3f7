"""distributions.MultivariateNormal (missing: karpathy's normalizing flows and torchdiffeq's cnf.py stopped on
it) against torch: log_prob, entropy, mean, variance, the three matrices and gradients for each of the three
parameterizations with broadcast batches; sample statistics; torch's argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 2, 2))
COV = A @ A.transpose(0, 2, 1) + np.eye(2)
MU = rng.standard_normal((3, 2))
X = rng.standard_normal((5, 3, 2))


@pytest.mark.parametrize("kind", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_densities_matrices_and_gradients_are_torchs(kind):
    results = []
    for m in (torch, tp):
        loc, cov = m.tensor(MU, requires_grad=True), m.tensor(COV, requires_grad=True)
        d = m.distributions.MultivariateNormal(loc, **{kind: m.linalg.cholesky(cov) if kind == "scale_tril" else cov})
        lp, ent = d.log_prob(m.tensor(X)), d.entropy()
        (lp.sum() + ent.sum()).backward()
        results.append([t.detach().numpy() for t in (lp, ent, d.mean, d.variance, d.covariance_matrix,
                                                     d.precision_matrix, d.scale_tril, loc.grad, cov.grad)]
                       + [tuple(d.batch_shape), tuple(d.event_shape), tuple(d.rsample((4,)).shape)])
    for theirs, ours in zip(*results):
        if isinstance(theirs, tuple):
            assert ours == theirs
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_samples_have_the_covariance_and_a_shared_loc_broadcasts():
    tp.manual_seed(0)
    d = tp.distributions.MultivariateNormal(tp.tensor([1.0, -2.0], dtype=tp.float64),
                                           tp.tensor(COV[0], dtype=tp.float64))
    s = d.sample((40000,)).numpy()
    np.testing.assert_allclose(s.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(np.cov(s.T), COV[0], atol=0.1 * np.abs(COV[0]).max())
    shared = tp.distributions.MultivariateNormal(tp.zeros(2, dtype=tp.float64), tp.tensor(COV, dtype=tp.float64))
    assert tuple(shared.batch_shape) == (3,) and tuple(shared.sample().shape) == (3, 2)


@pytest.mark.parametrize("call", [
    lambda m: m.distributions.MultivariateNormal(m.zeros(2)),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.eye(2), scale_tril=m.eye(2)),
    lambda m: m.distributions.MultivariateNormal(m.tensor(0.0), m.eye(1)),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.ones(2)),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2), m.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda m: m.distributions.MultivariateNormal(m.zeros(2), scale_tril=m.tensor([[1.0, 1.0], [0.0, 1.0]]))])
def test_arguments_are_refused_as_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tp)
    assert str(theirs.value).split(" (Tensor")[0].split("\n")[0] in str(ours.value)
