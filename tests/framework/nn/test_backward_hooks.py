"""Module full backward hooks and pre-hooks, compared with torch event by event."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _lists(grads):
    return [None if g is None else np.round(g.detach().cpu().numpy(), 6).tolist() for g in grads]


class TwoInputs:
    """A module taking (tensor, float, tensor) and returning a tuple (tensor, int, tensor)."""

    @staticmethod
    def build(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = lib.nn.Parameter(lib.tensor([1.5, -0.5]))

            def forward(self, a, scale, b):
                return a * self.w * scale, 7, (a + b).sum(0)
        return M()


def _run(lib, case):
    log = []
    lib.manual_seed(0)
    if case == "linear":
        model = lib.nn.Sequential(lib.nn.Linear(3, 2), lib.nn.ReLU(), lib.nn.Linear(2, 1))
        with lib.no_grad():
            for p, v in zip(model.parameters(), ([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], [0.05, -0.1], [[1.0, -2.0]],
                                                 [0.3])):
                p.copy_(lib.tensor(v))
        targets = [model, model[0], model[2]]
        x = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 1.0]], requires_grad=True)
        run = lambda: model(x).sum().backward()  # noqa: E731
    else:
        model = TwoInputs.build(lib)
        targets = [model]
        a = lib.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
        b = lib.tensor([[0.5, 0.5], [1.0, 1.0]])  # needs no gradient
        x = a

        def run():
            out, _, s = model(a, 2.0, b)
            (out.sum() + (s * s).sum()).backward()
    for i, m in enumerate(targets):
        m.register_full_backward_pre_hook(lambda mod, go, i=i: log.append((i, "pre", _lists(go))))
        m.register_full_backward_hook(lambda mod, gi, go, i=i: log.append((i, "full", _lists(gi), _lists(go))))
    run()
    log.append(("x.grad", _lists([x.grad])))
    return log


@pytest.mark.parametrize("case", ["linear", "two inputs"])
def test_hooks_fire_like_torch(case):
    assert _run(tensorplug, case) == _run(torch, case)


def test_hooks_may_replace_gradients_like_torch():
    results = []
    for lib in (tensorplug, torch):
        lin = lib.nn.Linear(2, 2)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
        handle = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1,))
        x = lib.tensor([[1.0, -1.0]], requires_grad=True)
        lin(x).sum().backward()
        first = x.grad.clone()
        handle.remove()
        x.grad = None
        lin(x).sum().backward()
        results.append((first.tolist(), x.grad.tolist(), lin.weight.grad.tolist()))
    assert results[0] == results[1]


def test_no_input_needing_grad_warns_and_refuses_new_grads():
    for lib in (tensorplug, torch):
        lin = lib.nn.Linear(2, 1)
        lin.register_full_backward_hook(lambda m, gi, go: (lib.ones(1, 2),))
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with "
                                             "respect to module outputs"):
            with pytest.raises(RuntimeError, match="should always return None or None for all gradients"):
                lin(lib.ones(1, 2)).sum().backward()


def test_wrong_number_of_gradients_is_refused():
    lin = tensorplug.nn.Linear(2, 1)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad"):
        lin(tensorplug.ones(1, 2, requires_grad=True)).sum().backward()


def test_no_hooks_no_wrapping_and_none_under_no_grad():
    lin = tensorplug.nn.Linear(2, 1)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with tensorplug.no_grad():
        y = lin(tensorplug.ones(1, 2))
    assert y.grad_fn is None and calls == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = tensorplug.ones(1, 2, requires_grad=True)
        lin(x).sum().backward()
    assert calls == [1]
