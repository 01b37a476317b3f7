"""Gradients into leaves: summed over every use first, then hooks, .grad, post-accumulate hooks (torch's
AccumulateGrad), compared with torch event by event."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _events(lib):
    log = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0], requires_grad=True)
    x.register_hook(lambda g: log.append(("x hook", g.tolist())))
    x.register_hook(lambda g: g * 10)  # a hook may replace the gradient that accumulates
    hx = x.register_post_accumulate_grad_hook(lambda t: log.append(("x post", t.grad.tolist())))
    w.register_post_accumulate_grad_hook(lambda t: log.append(("w post", t.grad.tolist())))
    y = (x * w).sum() + (x * x).sum() + x.sum()  # x used three times, w once
    y.backward(retain_graph=True)
    y.backward()
    hx.remove()
    (x * 2).sum().backward()
    lib.autograd.grad((x * 3).sum(), x)  # autograd.grad accumulates nothing: no post hooks
    log.append(("grads", x.grad.tolist(), w.grad.tolist()))
    return log


def test_hooks_see_the_summed_gradient_once_per_backward_like_torch():
    ours, theirs = _events(tensorplug), _events(torch)
    # the order of two different leaves' AccumulateGrad nodes is torch's graph order; compare per leaf
    for key in ("x hook", "x post", "w post", "grads"):
        assert [e for e in ours if e[0] == key] == [e for e in theirs if e[0] == key]
    assert len(ours) == len(theirs)


def test_post_accumulate_hook_registration_errors():
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
            lib.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_optimizer_step_in_backward():
    # the documented use: one optimizer per parameter stepped as soon as its gradient is ready
    results = []
    for lib in (tensorplug, torch):
        lib.manual_seed(0)
        model = lib.nn.Linear(3, 2)
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]))
            model.bias.copy_(lib.tensor([0.05, -0.05]))
        optims = {p: lib.optim.SGD([p], lr=0.1) for p in model.parameters()}

        def step(p, optims=optims):
            optims[p].step()
            optims[p].zero_grad()

        for p in model.parameters():
            p.register_post_accumulate_grad_hook(step)
        x = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
        for _ in range(3):
            model(x).square().sum().backward()
        results.append([p.detach().cpu().numpy().copy() for p in model.parameters()])
        assert all(p.grad is None for p in model.parameters())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)
