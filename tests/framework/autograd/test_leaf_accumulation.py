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


# early delivery: a leaf's gradient as soon as its last consumer ran -------------------------

def _delivery_log(lib):
    """Which leaves have a .grad when each post-accumulate hook and the queued callbacks run."""
    lib.manual_seed(0)
    layers = [lib.nn.Linear(3, 4), lib.nn.Linear(4, 4), lib.nn.Linear(4, 1)]
    scale = lib.tensor(1.5, requires_grad=True)  # consumed by the very first op: the last leaf reached
    named = {"scale": scale}
    for i, layer in enumerate(layers):
        named[f"l{i}.weight"] = layer.weight
        named[f"l{i}.bias"] = layer.bias
    log = []
    engine = lib.autograd.Variable._execution_engine

    def ready():
        return sorted(n for n, p in named.items() if p.grad is not None)

    def post(p, name):
        log.append((name, ready()))
        if name == "l2.weight":
            engine.queue_callback(lambda: log.append(("callback", ready(), lib.is_grad_enabled())))
            engine.queue_callback(lambda: engine.queue_callback(lambda: log.append(("queued by a callback",))))

    for name, p in named.items():
        p.register_post_accumulate_grad_hook(lambda p, name=name: post(p, name))
    h = lib.tensor([[1.0, -2.0, 0.5], [0.3, 0.2, -0.1]]) * scale
    for layer in layers[:-1]:
        h = lib.relu(layer(h))
    layers[-1](h).sum().backward()
    return log


def _by_layer(log):
    """Each hook's leaf, with the leaves ready then, up to the other leaf of its own layer."""
    out = []
    for name, ready in log[:-2]:
        layer = name.split(".")[0]
        out.append((layer, [n for n in ready if n.split(".")[0] != layer]))
    return out


def test_leaf_gradients_are_delivered_when_their_last_consumer_ran_like_torch():
    ours, theirs = _delivery_log(tensorplug), _delivery_log(torch)
    # a layer's weight and bias are freed by one node: their order within it is the node's input order
    assert _by_layer(ours) == _by_layer(theirs)
    assert ours[-2:] == theirs[-2:]
    order = [e[0] for e in ours]
    # the first layer's weight is final (its hook ran) before the last leaf, scale, got a gradient
    assert order.index("l0.weight") < order.index("scale")
    ready_then = dict(ours[:-2])["l0.weight"]
    assert "scale" not in ready_then and {"l1.weight", "l2.weight"} <= set(ready_then)
    # queued callbacks run once the pass is over, in grad mode off, and may queue more
    assert ours[-2][0] == "callback" and len(ours[-2][1]) == 7 and ours[-2][2] is False
    assert ours[-1] == ("queued by a callback",)


def test_a_leaf_used_at_two_depths_is_delivered_once_with_the_sum():
    logs = []
    for lib in (tensorplug, torch):
        w = lib.tensor([2.0], requires_grad=True)
        b = lib.tensor([1.0], requires_grad=True)
        log = []
        w.register_post_accumulate_grad_hook(
            lambda t, b=b, log=log: log.append(("w", t.grad.tolist(), b.grad is not None)))
        b.register_post_accumulate_grad_hook(lambda t, log=log: log.append(("b", t.grad.tolist())))
        x = lib.tensor([3.0])
        ((x * w + b) * w).sum().backward()  # w at the first and the last op
        logs.append(log)
    # d/dw (x*w + b)*w = x*w + (x*w + b) = 13, delivered once after its earliest use ran
    assert logs[0] == logs[1] == [("b", [2.0]), ("w", [13.0], True)]


def test_queue_callback_outside_backward_is_refused_like_torch():
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass"):
            lib.autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_callbacks_run_after_autograd_grad_and_a_nested_backward_keeps_its_own():
    for lib in (tensorplug, torch):
        engine = lib.autograd.Variable._execution_engine
        log = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)

        def hook(g):
            inner = lib.tensor([1.0], requires_grad=True)
            engine.queue_callback(lambda: log.append("outer"))
            with lib.enable_grad():
                y = (inner * 2).sum()
                y.grad_fn.register_prehook(lambda gs: engine.queue_callback(lambda: log.append("inner")))
                lib.autograd.grad(y, inner)
            log.append("hook done")

        y = x * 3
        y.register_hook(hook)
        lib.autograd.grad(y.sum(), x)
        assert log == ["inner", "hook done", "outer"], lib.__name__
