"""The extras plugin's loss: FocalLoss against NumPy (torch's own losses are core: tests/framework/nn/test_loss.py)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

rng = np.random.default_rng(0)


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
        tensorplug.nn.FocalLoss(reduction="avg")
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        tensorplug.nn.FocalLoss(gamma=-1)


def test_losses_work_in_float32_on_every_backend(backend):
    x = tensorplug.randn(4, 3, requires_grad=True)
    y = tensorplug.randn(4, 3)
    for loss in (tensorplug.nn.HuberLoss()(x, y), tensorplug.nn.SmoothL1Loss()(x, y),
                 tensorplug.nn.FocalLoss()(x, (y > 0).float())):
        assert loss.dtype == tensorplug.float32
        loss.backward()
    assert x.grad.shape == x.shape
