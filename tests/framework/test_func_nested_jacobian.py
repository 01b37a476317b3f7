"""Nested Jacobians (hessian, jacrev of jacrev, third order) and jacfwd against torch.func: the row-by-row
passes over a Jacobian that func made and jacfwd's column passes give torch's values."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import func

torch = pytest.importorskip("torch")

R = np.random.default_rng(11)
W = R.standard_normal((5, 7))
B = R.standard_normal(5)
X = R.standard_normal(7)


def _close(ours, theirs, rtol=1e-10, atol=1e-12):
    ours_leaves = tensorplug.utils._pytree.tree_leaves(ours)
    theirs_leaves = torch.utils._pytree.tree_leaves(theirs)
    assert len(ours_leaves) == len(theirs_leaves)
    for a, b in zip(ours_leaves, theirs_leaves):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def _both(build, *arrays):
    ours = [tensorplug.tensor(a) for a in arrays]
    theirs = [torch.tensor(a) for a in arrays]
    return build(tensorplug, tensorplug.func, ours), build(torch, torch.func, theirs)


def _predict(m):
    return lambda w, b, x: m.nn.functional.linear(x, w, b).tanh()


def _mixed(m):
    return lambda w, b, x: ((x.sin() @ w.T) * b.exp(), (x * x).sum().cos())


@pytest.mark.parametrize("build", [
    lambda m, f, a: f.hessian(_predict(m), argnums=2)(*a),
    lambda m, f, a: f.hessian(_predict(m), argnums=(0, 2))(*a),
    lambda m, f, a: f.jacrev(f.jacrev(_predict(m), argnums=2), argnums=2)(*a),
    lambda m, f, a: f.jacfwd(f.jacrev(_predict(m), argnums=(1, 2)), argnums=(0, 2))(*a),
    lambda m, f, a: f.jacrev(f.jacfwd(_mixed(m), argnums=2), argnums=(1, 2))(*a),
    lambda m, f, a: f.hessian(_mixed(m), argnums=(0, 1, 2))(*a),
    lambda m, f, a: f.jacrev(f.jacrev(f.jacrev(_predict(m), argnums=2), argnums=2), argnums=(1, 2))(*a),
    lambda m, f, a: f.jacrev(lambda w, b, x: f.jacrev(_predict(m), argnums=2)(w, b, x).sum(0), argnums=2)(*a),
    lambda m, f, a: f.jacrev(lambda w, b, x: f.jacrev(_predict(m), argnums=2)(w, b, x) * x, argnums=2)(*a),
    lambda m, f, a: f.hessian(lambda w, b, x: _predict(m)(w, b, x).sum(), argnums=2)(*a),
    lambda m, f, a: f.hessian(lambda x: (x.reshape(2, 3).exp() @ x.reshape(3, 2)).sin(), argnums=0)(a[2][:6]),
    lambda m, f, a: f.vmap(f.hessian(lambda x, w: (w @ x).tanh(), argnums=0), in_dims=(None, 0))(
        a[2], a[0].reshape(5, 1, 7)),
])
def test_nested_jacobians_match_torch(build):
    _close(*_both(build, W, B, X))


def test_an_inner_jacobian_written_in_place_is_differentiated_as_written():
    def build(m, f, a):
        def inner(w, b, x):
            jac = f.jacrev(_predict(m), argnums=2)(w, b, x)
            return jac.mul_(2.0) if m is tensorplug else jac * 2.0
        return f.jacrev(inner, argnums=2)(*a)
    _close(*_both(build, W, B, X))


def test_the_outer_jacobian_runs_row_by_row(monkeypatch):
    used = []
    rows_of = func._rows_of

    def spy(output):
        rows = rows_of(output)
        used.append(rows is not None)
        return rows
    monkeypatch.setattr(func, "_rows_of", spy)
    w, b, x = (tensorplug.tensor(a) for a in (W, B, X))
    func.jacrev(func.jacrev(_predict(tensorplug), argnums=2), argnums=2)(w, b, x)
    # the function's output (none), the stacked Jacobian (its rows), then nothing below its five rows
    assert used[:2] == [False, True] and sum(used) == 1


@pytest.mark.parametrize("build", [
    lambda m, f, a: f.jacfwd(lambda x: x.outer(x).sin())(a[2]),  # fewer inputs than outputs: by columns
    lambda m, f, a: f.jacfwd(lambda x: (x.outer(x).sin(), x.exp()))(a[2]),
    lambda m, f, a: f.jacfwd(lambda w, x: (w @ x).tanh().sum())(a[0], a[2]),  # by rows
    lambda m, f, a: f.jacfwd(_mixed(m), argnums=(1, 2))(*a),
    lambda m, f, a: f.jacfwd(lambda b, x: (b.outer(b) * 2.0, x * 0.0 + 1.0), argnums=(0, 1))(a[1], a[2]),
    lambda m, f, a: f.jacfwd(lambda x: (x.outer(x), x.sum()), has_aux=True)(a[2]),
    lambda m, f, a: f.jacfwd(lambda x: x.reshape(1, 7).expand(3, 7) * x)(a[2]),
    lambda m, f, a: f.vmap(f.jacfwd(lambda x: x.outer(x).exp()))(a[0]),
    lambda m, f, a: f.jacrev(f.jacfwd(lambda x: x.outer(x).exp()))(a[1]),
    lambda m, f, a: f.jacfwd(f.jacfwd(lambda x: x.outer(x).exp()))(a[1]),
    lambda m, f, a: f.jacfwd(lambda x: m.stack([x.sum(), x.prod()]).repeat(5))(a[1][:1]),
])
def test_jacfwd_matches_torch(build):
    _close(*_both(build, W, B, X))


def test_jacfwd_of_an_output_that_depends_on_no_input_is_zero():
    def build(m, f, a):
        const = m.ones(4, 4, dtype=m.float64)
        return f.jacfwd(lambda x: const * 2.0)(a[1])
    _close(*_both(build, W, B, X))


def test_first_order_jacobians_remember_nothing():
    w, b, x = (tensorplug.tensor(a) for a in (W, B, X))
    before = len(func._ROWS)
    jac = func.jacrev(_predict(tensorplug), argnums=2)(w, b, x)
    assert not jac.requires_grad and len(func._ROWS) == before
