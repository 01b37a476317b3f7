"""Every nn layer, loss and init function on every backend (array_api_strict included), same numbers as numpy."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F


def _run(seed_values):
    """Forward + backward through most of nn with fixed values; returns outputs and grads as lists."""
    x_np, w_np, emb_np = seed_values
    x = tensorplug.tensor(x_np, requires_grad=True)
    lin = nn.Linear(4, 6).double()
    with tensorplug.no_grad():
        lin.weight.copy_(tensorplug.tensor(w_np))
        lin.bias.fill_(0.1)
    h = lin(x)
    outs = []
    for act in (nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Sigmoid(),
                nn.Tanh(), nn.Softplus(), nn.Hardtanh(), nn.Softmax(1), nn.LogSoftmax(1)):
        outs.append(act(h))
    bn = nn.BatchNorm1d(6).double()
    outs.append(bn(h))
    bn.eval()
    outs.append(bn(h))
    outs.append(nn.LayerNorm(6).double()(h))
    outs.append(nn.GroupNorm(2, 6).double()(h.unsqueeze(-1)).squeeze(-1))
    outs.append(F.pad(h.unsqueeze(0), (2, 1), mode="reflect").squeeze(0))
    outs.append(F.pad(h, (1, 1), value=0.5))
    emb = nn.Embedding(5, 6, padding_idx=0).double()
    with tensorplug.no_grad():
        emb.weight.copy_(tensorplug.tensor(emb_np))
    idx = tensorplug.tensor([1, 0, 4])
    outs.append(emb(idx) * h)
    target = tensorplug.tensor([0, 5, 2])
    probs = h.sigmoid()
    ones = tensorplug.ones(3, 6, dtype=tensorplug.float64) * 0.5
    losses = [F.mse_loss(h, ones), F.l1_loss(h, ones), F.cross_entropy(h, target, label_smoothing=0.1),
              F.nll_loss(F.log_softmax(h, 1), target), F.binary_cross_entropy(probs, ones),
              F.binary_cross_entropy_with_logits(h, ones, pos_weight=ones[0])]
    total = sum(o.sum() for o in outs) + sum(losses)
    total.backward()
    nn.utils.clip_grad_norm_(list(lin.parameters()), 1.0)
    oh = F.one_hot(target, 6)
    return ([o.tolist() for o in outs] + [l.item() for l in losses] + [oh.tolist()],
            [x.grad.tolist(), lin.weight.grad.tolist(), emb.weight.grad.tolist()])


def test_same_results_as_numpy(backend):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((3, 4)), rng.standard_normal((6, 4)), rng.standard_normal((5, 6)))
    with tensorplug.use_backend("numpy"):
        want_out, want_grad = _run(values)
    got_out, got_grad = _run(values)
    for got, want in zip(got_out + got_grad, want_out + want_grad):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-9, atol=1e-12)


def test_init_and_dropout_run(backend):
    t = tensorplug.empty(4, 5)
    for fn in (nn.init.xavier_uniform_, nn.init.xavier_normal_, nn.init.kaiming_uniform_, nn.init.kaiming_normal_,
               nn.init.orthogonal_, nn.init.zeros_, nn.init.ones_, nn.init.trunc_normal_):
        assert fn(t) is t
    out = nn.Dropout(0.5)(tensorplug.ones(10, 10, requires_grad=True))
    out.sum().backward()
    values = np.asarray(out.tolist())
    assert set(np.unique(values).tolist()) <= {0.0, 2.0}
