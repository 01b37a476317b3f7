"""torch.utils.checkpoint: the same gradients as without checkpointing and as torch, fewer saved tensors,
dropout replayed with the same mask."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug
from tensorplug.utils.checkpoint import checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")
import torch.utils.checkpoint as torch_checkpoint  # noqa: E402


def _net(lib, dropout=0.0):
    lib.manual_seed(0)
    net = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Dropout(dropout), lib.nn.Linear(8, 8),
                            lib.nn.ReLU(), lib.nn.Linear(8, 2))
    with lib.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(lib.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape)) * 0.5, dtype=lib.float32))
    return net


X = np.random.default_rng(9).standard_normal((3, 4)).astype("float32")


def _grads(lib, x, net):
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in net.parameters()]


def test_checkpoint_matches_torch_and_plain_backward():
    results = []
    for lib, cp in ((tensorplug, checkpoint), (torch, torch_checkpoint.checkpoint)):
        net = _net(lib)
        x = lib.tensor(X, requires_grad=True)
        h = cp(lambda t: net[3](net[2](net[1](net[0](t)))), x, use_reentrant=False)
        net[5](net[4](h)).square().sum().backward()
        results.append(_grads(lib, x, net))
    net = _net(tensorplug)
    x = tensorplug.tensor(X, requires_grad=True)
    net(x).square().sum().backward()
    results.append(_grads(tensorplug, x, net))
    for a, b, c in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)


def test_checkpoint_sequential_with_an_input_that_needs_no_grad():
    net, plain = _net(tensorplug), _net(tensorplug)
    y = checkpoint_sequential(net, 3, tensorplug.tensor(X), use_reentrant=False)
    y.square().sum().backward()
    plain(tensorplug.tensor(X)).square().sum().backward()
    for p, q in zip(net.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_checkpoint_keeps_nothing_inside_and_replays_dropout():
    net = _net(tensorplug, dropout=0.5)
    net.train()
    x = tensorplug.tensor(X, requires_grad=True)
    tensorplug.manual_seed(3)
    block = lambda t: net[3](net[2](net[1](net[0](t))))  # noqa: E731
    h = checkpoint(block, x, use_reentrant=False)
    assert type(h.grad_fn).__name__ == "_CheckpointBackward"  # one node: the block's graph was not kept
    h.sum().backward()
    # the same draw as the forward: a plain run from the same seed gives the same gradient
    ref_x = tensorplug.tensor(X, requires_grad=True)
    tensorplug.manual_seed(3)
    block(ref_x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_use_reentrant_must_be_explicit_like_torch():
    x = tensorplug.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tensorplug.no_grad():
            assert checkpoint(lambda t: t * 2, x, use_reentrant=False).grad_fn is None
