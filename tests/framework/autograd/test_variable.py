"""``Variable(t, requires_grad=...)`` as torch's: a new leaf sharing t's storage that requires grad as
asked; ``t`` itself is left alone (it was switched to requires_grad, and returned as the Variable)."""
from __future__ import annotations

import warnings

import pytest

import tensorplug as tp
from tensorplug.autograd import Variable as TpVariable

torch = pytest.importorskip("torch")
from torch.autograd import Variable as TorchVariable  # noqa: E402


def _report(m, Variable):
    t = m.tensor([1.0, 2.0])
    a = m.ones(2, requires_grad=True)
    b = a * 2
    rows = []
    for source, flag in ((t, True), (t, False), (b, False), (b, True), (a, False)):
        v = Variable(source, requires_grad=flag)
        rows.append((v is source, source.requires_grad, v.requires_grad, v.grad_fn is None, v.is_leaf,
                     v.data_ptr() == source.data_ptr()))
    v = Variable(t, requires_grad=True)
    v.data.mul_(3)  # shares t's storage
    rows.append(t.tolist())
    rows.append(type(Variable(m.nn.Parameter(m.ones(2)))).__name__)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows.append(Variable(t, volatile=True).requires_grad)
    rows.append([str(w.message) for w in caught])
    with pytest.raises(TypeError) as info:
        Variable([1.0, 2.0])
    rows.append(str(info.value))
    return rows


def test_variable_makes_a_new_leaf_as_torchs():
    assert _report(tp, TpVariable) == _report(torch, TorchVariable)


def test_the_old_tutorial_pattern_trains_the_variable_not_the_tensor():
    t = tp.tensor([1.0, 2.0])
    v = TpVariable(t, requires_grad=True)
    (v * v).sum().backward()
    assert v.grad.tolist() == [2.0, 4.0] and t.grad is None and not t.requires_grad
