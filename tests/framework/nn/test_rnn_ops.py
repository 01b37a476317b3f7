"""The fused LSTM layer's array backward (fast_backward) against its tensor-level reference (backward,
the path create_graph takes), on random shapes, both directions, with and without initial states."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from tensorplug.nn._rnn_ops import lstm_layer

CASES = [  # steps, batch, input, hidden, reverse, initial state, biases, which output grads are given
    (1, 1, 1, 1, False, False, True, (0,)),
    (3, 2, 4, 5, False, True, True, (0, 1, 2)),
    (4, 3, 2, 3, True, True, False, (0, 1, 2)),
    (5, 4, 3, 2, True, False, True, (0,)),
    (2, 5, 6, 4, False, True, True, (1, 2)),
    (6, 2, 3, 7, True, True, True, (0, 2)),
]


def _inputs(rng, T, B, I, H, state, biases):
    def leaf(*shape):
        return tp.tensor(rng.standard_normal(shape) * 0.5, requires_grad=True)
    x = leaf(T * B, I)
    w_ih, w_hh = leaf(4 * H, I), leaf(4 * H, H)
    b_ih, b_hh = (leaf(4 * H), leaf(4 * H)) if biases else (None, None)
    h0, c0 = (leaf(B, H), leaf(B, H)) if state else (None, None)
    return [x, w_ih, b_ih, h0, c0, w_hh, b_hh]


@pytest.mark.parametrize("case", CASES, ids=[f"T{c[0]}B{c[1]}I{c[2]}H{c[3]}{'-rev' if c[4] else ''}" for c in CASES])
def test_array_backward_equals_tensor_backward(case):
    T, B, I, H, reverse, state, biases, given = case
    rng = np.random.default_rng(T * 100 + B * 10 + H)
    inputs = _inputs(rng, T, B, I, H, state, biases)
    wanted = [t for t in inputs if t is not None]
    outs = lstm_layer(*inputs, steps=T, reverse=reverse)
    # random upstream gradients: with ones a missing factor of g would go unseen
    pairs = [(outs[k], tp.tensor(rng.standard_normal(tuple(outs[k].shape)))) for k in given]
    roots, seeds = [o for o, _ in pairs], [g for _, g in pairs]
    fast = tp.autograd.grad(roots, wanted, seeds, retain_graph=True)
    reference = tp.autograd.grad(roots, wanted, seeds, create_graph=True)
    for f, r in zip(fast, reference):
        np.testing.assert_allclose(f.numpy(), r.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_array_backward_skips_inputs_that_need_no_gradient():
    rng = np.random.default_rng(7)
    inputs = _inputs(rng, 3, 2, 3, 4, True, True)
    for i in (0, 2, 3, 4):  # x, b_ih, h0, c0 as constants
        inputs[i] = inputs[i].detach()
    outs = lstm_layer(*inputs, steps=3, reverse=True)
    g = tp.tensor(rng.standard_normal(tuple(outs[0].shape)))
    wanted = [inputs[1], inputs[5], inputs[6]]
    fast = tp.autograd.grad(outs[0], wanted, g, retain_graph=True)
    reference = tp.autograd.grad(outs[0], wanted, g, create_graph=True)
    for f, r in zip(fast, reference):
        np.testing.assert_allclose(f.numpy(), r.detach().numpy(), rtol=1e-10, atol=1e-12)
