"""Backwards at NaN and inf compared with torch: a NaN incoming gradient stays out of the elements a masked
backward cuts (maximum/minimum's losing operand, clamp's clamped elements, relu's zeros), and the
gradients whose formula meets inf or NaN operands."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

NAN = float("nan")
X = [1.0, -2.0, 3.0, 0.5]
Y = [2.0, -3.0, 1.0, 0.5]
NAN_GRAD_CASES = {
    # name: fn(module, x, y); gradients are taken for x and y with a NaN incoming gradient
    "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y),
    "max_binary": lambda m, x, y: m.max(x, y),
    "clamp": lambda m, x, y: m.clamp(x, -1, 2),
    "clamp_min": lambda m, x, y: m.clamp(x, min=0.7),
    "clamp_max": lambda m, x, y: x.clamp(max=0.7),
    "clamp_tensor": lambda m, x, y: m.clamp(x, y),
    "where": lambda m, x, y: m.where(x > 0, x, y),
    "masked_fill": lambda m, x, y: x.masked_fill(x > 2, 0.0),
    "relu": lambda m, x, y: m.relu(x),
    "F.relu": lambda m, x, y: m.nn.functional.relu(x),
    "hardtanh": lambda m, x, y: m.nn.functional.hardtanh(x * 0.5),
    "relu6": lambda m, x, y: m.nn.functional.relu6(x),
    "hardsigmoid": lambda m, x, y: m.nn.functional.hardsigmoid(x * 3),
    "hardswish": lambda m, x, y: m.nn.functional.hardswish(x * 3),
    "max_dim": lambda m, x, y: x.reshape(2, 2).max(1)[0],
    "amax": lambda m, x, y: x.reshape(2, 2).amax(1),
    "amax_all": lambda m, x, y: x.amax(),
    "max_all": lambda m, x, y: x.max(),
    "min_all": lambda m, x, y: x.min(),
    "norm_inf": lambda m, x, y: x.norm(float("inf")),
    "max_pool1d": lambda m, x, y: m.nn.functional.max_pool1d(x.reshape(1, 1, 4), 2).flatten(),
    "margin_ranking_loss": lambda m, x, y: m.nn.functional.margin_ranking_loss(
        x, y, m.tensor([1.0, -1.0, 1.0, -1.0]), reduction="none"),
}


def _nan_grad_run(m, fn):
    x = m.tensor(X, requires_grad=True)
    y = m.tensor(Y, requires_grad=True)
    out = fn(m, x, y)
    out.backward(m.full(tuple(out.shape), NAN))
    return [None if t.grad is None else t.grad.numpy() for t in (x, y)]


@pytest.mark.parametrize("case", sorted(NAN_GRAD_CASES))
def test_nan_incoming_gradient_stays_where_torch_sends_it(case):
    fn = NAN_GRAD_CASES[case]
    expected = _nan_grad_run(torch, fn)
    got = _nan_grad_run(tp, fn)
    for name, e, g in zip("xy", expected, got):
        assert (e is None) == (g is None), f"{case}: gradient of {name}"
        if e is not None:
            np.testing.assert_array_equal(g, e, err_msg=f"{case}: gradient of {name}")


def test_atan2_gradient_at_zeros_inf_and_nan_matches_torch():
    specials = [float("inf"), -float("inf"), NAN, 0.0, -0.0, 1.0, -2.0, 1e30]
    a_values = [a for a in specials for _ in specials]
    b_values = [b for _ in specials for b in specials]
    grads = []
    for m in (torch, tp):
        a = m.tensor(a_values, requires_grad=True)
        b = m.tensor(b_values, requires_grad=True)
        m.atan2(a, b).backward(m.ones(len(a_values)))
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for name, e, g in zip("ab", *grads):
        np.testing.assert_array_equal(g, e, err_msg=f"atan2 gradient of {name}")


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("loss, options", [("nll_loss", {}), ("nll_loss", {"weight": [1.0, 0.0, 1.0, 1.0]}),
                                           ("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.1}),
                                           ("cross_entropy", {"weight": [1.0, 0.0, 2.0, 1.0]})])
def test_nan_gradient_stays_out_of_ignored_rows_and_other_classes(loss, options, reduction, create_graph):
    logits = np.random.default_rng(0).standard_normal((4, 4))
    grads = []
    for m in (torch, tp):
        x = m.tensor(logits, dtype=m.float32, requires_grad=True)
        kwargs = {k: m.tensor(v) if k == "weight" else v for k, v in options.items()}
        out = getattr(m.nn.functional, loss)(x, m.tensor([0, -100, 1, 2]), reduction=reduction, **kwargs)
        g = m.tensor([1.0, NAN, NAN, 2.0]) if reduction == "none" else m.tensor(NAN)
        out.backward(g, create_graph=create_graph)
        grads.append(x.grad.detach().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, equal_nan=True)
