"""float() of a tensor that requires grad warns as torch 2.13 does (the gradient stops at the number);
int(), item() and detached tensors do not."""
from __future__ import annotations

import warnings

import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


def _messages(m, convert):
    x = m.ones(1, requires_grad=True) * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert(x)
    return [str(w.message).split(" (Triggered internally")[0] for w in caught]


@pytest.mark.parametrize("convert", [float, int, lambda x: x.item(), lambda x: float(x.detach())],
                         ids=["float", "int", "item", "detached"])
def test_the_warning_is_torchs(convert):
    assert _messages(tp, convert) == _messages(torch, convert)


def test_no_warning_under_no_grad_as_torch():
    """LBFGS converts its closure's loss under no_grad: torch says nothing there, nor does tensorplug."""
    def quiet(m):
        x = m.ones(1, requires_grad=True) * 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with m.no_grad():
                float(x)
            lin = m.nn.Linear(2, 1)
            opt = m.optim.LBFGS(lin.parameters(), max_iter=3, line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = (lin(m.ones(4, 2)) ** 2).mean()
                loss.backward()
                return loss
            opt.step(closure)
        return [str(w.message) for w in caught]
    assert quiet(tp) == quiet(torch) == []
