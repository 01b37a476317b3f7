"""The extras plugin's losses: values and gradients against torch (FocalLoss against NumPy)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


def _pair(a, grad=True):
    return tensorplug.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _check(name, kwargs, arrays, grad_mask=None, torch_name=None, rtol=1e-10):
    grad_mask = grad_mask or [True] * len(arrays)
    ours, theirs = zip(*(_pair(a, g) for a, g in zip(arrays, grad_mask)))
    loss = getattr(tensorplug.nn, name)(**kwargs)(*ours)
    expected = getattr(torch.nn, torch_name or name)(**kwargs)(*theirs)
    np.testing.assert_allclose(loss.detach().cpu().numpy(), expected.detach().cpu().numpy(), rtol=rtol, atol=1e-12)
    loss.sum().backward()
    expected.sum().backward()
    for o, t, g in zip(ours, theirs, grad_mask):
        if g:
            np.testing.assert_allclose(o.grad.cpu().numpy(), t.grad.cpu().numpy(), rtol=rtol, atol=1e-12)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber(reduction, delta):
    _check("HuberLoss", dict(reduction=reduction, delta=delta),
           [rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1(reduction, beta):
    _check("SmoothL1Loss", dict(reduction=reduction, beta=beta),
           [rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))])


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    logp = np.log(rng.dirichlet(np.ones(6), size=4))
    q = rng.dirichlet(np.ones(6), size=4)
    q[0, :3] = 0  # exercises 0 * log 0
    q /= q.sum(1, keepdims=True)
    target = np.log(q + 1e-3) if log_target else q
    kwargs = dict(reduction=reduction, log_target=log_target)
    if reduction == "mean":
        with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
            _check("KLDivLoss", kwargs, [logp, target], grad_mask=[True, False])
    else:
        _check("KLDivLoss", kwargs, [logp, target], grad_mask=[True, False])


@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True), (False, True)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll(log_input, full, reduction):
    x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.1, 3, (3, 4))
    target = rng.poisson(2.0, (3, 4)).astype(np.float64)
    _check("PoissonNLLLoss", dict(log_input=log_input, full=full, reduction=reduction), [x, target],
           grad_mask=[True, False])


@pytest.mark.parametrize("margin", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding(margin, reduction):
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    _check("CosineEmbeddingLoss", dict(margin=margin, reduction=reduction),
           [rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), y], grad_mask=[True, True, False])


def test_cosine_embedding_1d():
    _check("CosineEmbeddingLoss", {}, [rng.standard_normal(4), rng.standard_normal(4), np.array(-1.0)],
           grad_mask=[True, True, False])


@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking(margin, reduction):
    y = np.sign(rng.standard_normal(6))
    _check("MarginRankingLoss", dict(margin=margin, reduction=reduction),
           [rng.standard_normal(6), rng.standard_normal(6), y], grad_mask=[True, True, False])


@pytest.mark.parametrize("p, swap", [(2.0, False), (1.0, False), (2.0, True), (3.0, True)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin(p, swap, reduction):
    _check("TripletMarginLoss", dict(margin=1.0, p=p, swap=swap, reduction=reduction),
           [rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 4))])


def _focal_reference(x, y, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    ce = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1, 2.0), (0.5, 0.0), (0.25, 1.5)])
def test_focal_against_numpy(alpha, gamma):
    x = rng.standard_normal((6, 3)) * 3
    y = (rng.uniform(size=(6, 3)) > 0.6).astype(np.float64)
    xt = tensorplug.tensor(x, requires_grad=True)
    loss = tensorplug.nn.FocalLoss(alpha=alpha, gamma=gamma, reduction="none")(xt, tensorplug.tensor(y))
    np.testing.assert_allclose(loss.detach().cpu().numpy(), _focal_reference(x, y, alpha, gamma), rtol=1e-10)
    mean = tensorplug.nn.FocalLoss(alpha=alpha, gamma=gamma)(xt, tensorplug.tensor(y))
    assert mean.item() == pytest.approx(_focal_reference(x, y, alpha, gamma).mean(), rel=1e-10)
    mean.backward()
    h = 1e-6
    numeric = (_focal_reference(x + h, y, alpha, gamma) - _focal_reference(x - h, y, alpha, gamma)) / (2 * h) / x.size
    np.testing.assert_allclose(xt.grad.cpu().numpy(), numeric, rtol=1e-5, atol=1e-9)


def test_focal_with_gamma_zero_is_weighted_bce():
    x = tensorplug.randn(10)
    y = (tensorplug.rand(10) > 0.5).float()
    plain = tensorplug.nn.BCEWithLogitsLoss()(x, y)
    assert tensorplug.nn.FocalLoss(alpha=-1, gamma=0)(x, y).item() == pytest.approx(plain.item(), rel=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        tensorplug.nn.HuberLoss(reduction="avg")
    with pytest.raises(RuntimeError, match="does not support negative values for beta"):
        tensorplug.nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        tensorplug.nn.TripletMarginLoss(margin=0)


def test_losses_work_in_float32_on_every_backend(backend):
    x = tensorplug.randn(4, 3, requires_grad=True)
    y = tensorplug.randn(4, 3)
    for loss in (tensorplug.nn.HuberLoss()(x, y), tensorplug.nn.SmoothL1Loss()(x, y),
                 tensorplug.nn.FocalLoss()(x, (y > 0).float())):
        assert loss.dtype == tensorplug.float32
        loss.backward()
    assert x.grad.shape == x.shape
