"""torch's top-level nn functions (torch.conv2d, torch.batch_norm, torch.embedding, torch.kl_div ...) against
torch: torch's argument order, integer reductions and trailing cudnn flags."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tensorplug as tp
from tensorplug import _nn_routes

from torch_compare import assert_same_as_torch

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)
X = RNG.standard_normal((2, 3, 5, 5))


def test_every_route_is_a_torch_name():
    for name in _nn_routes.__all__:
        assert hasattr(torch, name) and hasattr(tp, name), name


def test_convolutions_and_norms():
    w = RNG.standard_normal((4, 3, 3, 3))
    assert_same_as_torch(lambda m, x, w: (
        m.conv2d(x, w, None, 1, 1), m.conv1d(x[0, :, 0], w[:, :, 0], None, 2), m.conv_transpose2d(x, w.transpose(0, 1)[:3]),
        m.conv3d(x.unsqueeze(2), w[:, :, None], None, 1, (0, 1, 1)),
        m.layer_norm(x, (5,), None, None, 1e-5, True), m.group_norm(x, 3, None, None, 1e-5, False),
        m.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
        m.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False), m.pixel_shuffle(x[:, :1], 1),
        m.cosine_similarity(x, x.flip(0)), m.pairwise_distance(x[0, 0], x[1, 0]), m.pdist(x[0, 0]),
        m.prelu(x, m.ones(1, dtype=x.dtype) * 0.3), m.selu(x), m.celu(x, 0.5), m.threshold(x, 0.1, -1.0),
        m.dropout(x, 0.3, False), x.prelu(m.ones(3, dtype=x.dtype) * 0.2), x.hardshrink(0.4)), [X, w], tol=1e-9)


def test_embedding_weight_first():
    assert_same_as_torch(lambda m, w: (m.embedding(w, m.tensor([[0, 2], [4, 4]])),
                                       m.embedding(w, m.tensor([1, 3]), 3)), [X[0, 0]])


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_losses_take_integer_reductions(reduction):
    y = np.abs(RNG.standard_normal((4, 3))) + 0.1
    target = RNG.choice([-1.0, 1.0], (4, 3))
    assert_same_as_torch(lambda m, a, b: (
        m.kl_div(a, b, reduction), m.kl_div(a, b.log(), reduction, log_target=True),
        m.margin_ranking_loss(a, b, m.tensor(target), 0.2, reduction),
        m.hinge_embedding_loss(a, m.tensor(target), 1.0, reduction),
        m.triplet_margin_loss(a, b, a.flip(0), 1.0, 2.0, 1e-6, False, reduction),
        m.poisson_nll_loss(a, b, True, False, 1e-8, reduction),
        m.cosine_embedding_loss(a, b, m.tensor(target[:, 0]), 0.0, reduction),
        m.binary_cross_entropy_with_logits(a, b.sigmoid(), None, None, reduction)), [y * 0.5, y], tol=1e-9)


def test_nn_is_not_imported_with_tensorplug():
    code = "import sys, tensorplug as t; assert 'tensorplug.nn' not in sys.modules; t.selu(t.ones(1)); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
