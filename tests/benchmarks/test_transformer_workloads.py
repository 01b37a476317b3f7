"""The transformer workloads: the decoder trains and evaluates on both libraries, and the NumPy twins
compute what torch computes (a benchmark against a wrong reference would mean nothing)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug
from benchmarks import transformer as T

torch = pytest.importorskip("torch")


def test_decoder_steps_lower_the_loss():
    lib = tensorplug
    model, idx, targets = T._decoder(lib)
    opt = T._adamw(lib, model)
    losses = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        _, loss = model(idx, targets)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert abs(losses[0] - math.log(T.VOCAB)) < 0.5  # a fresh model guesses uniformly
    assert losses[-1] < losses[0]
    T.fw_decoder_eval(lib)()


def test_numpy_layer_norm_matches_torch():
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((6, 10)) for _ in range(2))
    w, b = rng.standard_normal(10), rng.standard_normal(10)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.layer_norm(xt, (10,), wt, bt)
    y.backward(torch.tensor(g))
    for ours, theirs in zip(T.layer_norm_step(x, w, b, g), (y, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_numpy_causal_attention_matches_torch():
    rng = np.random.default_rng(1)
    q, k, v, g = (rng.standard_normal((2, 3, 5, 4)) for _ in range(4))
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    out.backward(torch.tensor(g))
    for ours, theirs in zip(T.causal_attention_step(q, k, v, g), (out, qt.grad, kt.grad, vt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
