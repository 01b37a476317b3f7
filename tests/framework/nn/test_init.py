"""nn.init: gains, fans, distributions (moments and bounds), in place, without grad."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
from tensorplug.nn import init


def _values(t):
    return np.asarray(t.tolist())


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swishy")


def test_fill_functions_in_place_on_parameters():
    p = nn.Parameter(tensorplug.empty(3, 4))
    assert init.ones_(p) is p and _values(p).tolist() == [[1.0] * 4] * 3
    assert p.requires_grad and p.grad_fn is None
    init.zeros_(p)
    assert _values(p).sum() == 0
    init.constant_(p, 2.5)
    assert (_values(p) == 2.5).all()
    init.eye_(p)
    assert _values(p).tolist() == np.eye(3, 4).tolist()


def test_distributions():
    tensorplug.manual_seed(0)
    t = tensorplug.empty(200, 300)
    init.uniform_(t, -2, 3)
    v = _values(t)
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 2.0)
    v = _values(t)
    assert abs(v.mean() - 1.0) < 0.05 and abs(v.std() - 2.0) < 0.05
    init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.0)
    v = _values(t)
    assert v.min() >= -1 and v.max() <= 1

    fan_in, fan_out = 300, 200
    init.xavier_uniform_(t)
    a = math.sqrt(6 / (fan_in + fan_out))
    v = _values(t)
    assert np.abs(v).max() <= a and abs(v.std() - a / math.sqrt(3)) < 0.01
    init.xavier_normal_(t, gain=2.0)
    assert abs(_values(t).std() - 2.0 * math.sqrt(2 / (fan_in + fan_out))) < 0.005
    init.kaiming_uniform_(t, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    v = _values(t)
    assert np.abs(v).max() <= bound and abs(v.std() - bound / math.sqrt(3)) < 0.005
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(_values(t).std() - math.sqrt(2 / fan_out)) < 0.005


def test_orthogonal():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        t = tensorplug.empty(*shape)
        init.orthogonal_(t, gain=2.0)
        m = _values(t).reshape(shape[0], -1)
        if m.shape[0] <= m.shape[1]:
            assert np.allclose(m @ m.T, 4 * np.eye(m.shape[0]), atol=1e-5)
        else:
            assert np.allclose(m.T @ m, 4 * np.eye(m.shape[1]), atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"):
        init.xavier_uniform_(tensorplug.empty(3))
    with pytest.raises(ValueError, match="Mode fan_mid not supported"):
        init.kaiming_uniform_(tensorplug.empty(2, 2), mode="fan_mid")
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(tensorplug.empty(3))
