"""0-d tensors keep aliasing: an in-place op through a detached, ``.data`` or view alias of a 0-d tensor
changes the original, as in torch (NumPy hands out immutable scalars for 0-d results)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from .op_table import OPS, resolve

torch = pytest.importorskip("torch")

# the ways a 0-d tensor is made: from data, by a full reduction, by an op on 0-d operands, by indexing
SOURCES = {
    "tensor": lambda m, v: m.tensor(v),
    "sum": lambda m, v: m.tensor([v, 0.0]).sum(),
    "mean": lambda m, v: m.tensor([v, v]).mean(),
    "op_on_0d": lambda m, v: m.tensor(v) * m.tensor(1.0),
    "index": lambda m, v: m.tensor([0.0, v])[1],
    "amax": lambda m, v: m.tensor([v, -9.0]).amax(),
}
ALIASES = {
    "detach": lambda t: t.detach(),
    "data": lambda t: t.data,
    "view": lambda t: t.view(()),
    "ellipsis": lambda t: t[...],
    "unsqueeze": lambda t: t.unsqueeze(0),
}
INPLACE = [op for op in OPS if op.inplace and op.zero_dim]


def _value(op):
    return {"pos": 1.3, "unit": 0.4, "away": 1.3}.get(op.domain, 0.7)


def _run(m, op, source, alias):
    s = SOURCES[source](m, _value(op))
    a = ALIASES[alias](s)
    others = [m.tensor(0.6 if op.domain != "pos" else 1.6) for _ in op.shapes[1:]]
    getattr(a, op.name + "_")(*others, *resolve(op.args, m), **op.kwargs)
    return s


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("op", INPLACE, ids=repr)
def test_inplace_through_alias_reaches_the_0d_tensor(op, source, alias):
    got = _run(tp, op, source, alias)
    want = _run(torch, op, source, alias)
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)


REDUCTIONS = {
    "sum": lambda x: x.sum(), "mean": lambda x: x.mean(), "prod": lambda x: x.prod(), "norm": lambda x: x.norm(), "norm1": lambda x: x.norm(1),
    "logsumexp": lambda x: x.logsumexp(0), "amax": lambda x: x.amax(), "amin": lambda x: x.amin(),
    "max": lambda x: x.max(), "min": lambda x: x.min(), "argmax": lambda x: x.argmax(),
    "argmin": lambda x: x.argmin(), "max_dim": lambda x: x.max(0)[0], "all": lambda x: x.all(),
    "any": lambda x: x.any(), "index": lambda x: x[1], "index_2d": lambda x: x.reshape(1, 3)[0, 1],
    "clone_0d": lambda x: x.sum().clone(), "to_double": lambda x: x.sum().double(),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_0d_results_take_in_place_writes(name):
    # the result's own storage takes an in-place write that a second alias sees, without being rebuilt
    out = REDUCTIONS[name](tp.tensor([1.0, 2.0, 3.0]))
    data = out._data
    view = out.detach()
    view.zero_() if out.dtype != tp.bool else view.logical_not_()
    assert out._data is data
    assert hasattr(data, "__setitem__")


def test_numpy_of_a_0d_tensor_shares_memory():
    s = tp.tensor([1.0, 2.0]).sum()
    n = s.numpy()
    n += 1
    assert s.item() == 4.0


def test_accumulated_0d_grad_is_writable_through_data():
    for m in (tp, torch):
        p = m.tensor(2.0, requires_grad=True)
        (p * p).backward()
        (p * p).backward()
        p.grad.data.add_(1)
        if m is tp:
            got = p.grad.item()
        else:
            want = p.grad.item()
    assert got == want


def test_sgd_momentum_on_a_0d_parameter_matches_torch():
    finals = []
    for m in (tp, torch):
        w = m.nn.Parameter(m.tensor(1.0))
        opt = m.optim.SGD([w], lr=0.1, momentum=0.9)
        for _ in range(5):
            (w * w).backward()
            opt.step()
        finals.append(w.item())
    assert finals[0] == pytest.approx(finals[1], rel=1e-6)


# leaves made from 0-d results: the optimizers update their storage in place
LEAVES = {
    "requires_grad_": lambda m: (m.tensor(1.0) * 2).requires_grad_(),
    "requires_grad=": lambda m: _set_requires_grad(m.tensor(3.0) * 1),
    "Parameter": lambda m: m.nn.Parameter(m.tensor(2.0) + 1),
    "Parameter_of_sum": lambda m: m.nn.Parameter(m.tensor([1.0, 2.0]).sum()),
}
OPTIMIZERS = {
    "sgd": lambda m, p: m.optim.SGD([p], lr=0.1),
    "sgd_momentum": lambda m, p: m.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda m, p: m.optim.Adam([p], lr=0.1),
    "rmsprop": lambda m, p: m.optim.RMSprop([p], lr=0.01),
}


def _set_requires_grad(t):
    t.requires_grad = True
    return t


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("leaf", LEAVES)
def test_optimizers_update_0d_leaves_made_from_results(leaf, optimizer):
    finals = []
    for m in (tp, torch):
        p = LEAVES[leaf](m)
        opt = OPTIMIZERS[optimizer](m, p)
        for _ in range(3):
            opt.zero_grad()
            (p * p).backward()
            opt.step()
        finals.append(p.item())
    assert finals[0] == pytest.approx(finals[1], rel=1e-5)


EXPANDS = {
    "expand": lambda s: s.expand(3),
    "unsqueeze_expand": lambda s: s.unsqueeze(0).expand(2, 2),
    "broadcast_to": lambda s: s.broadcast_to((2,)),
}


@pytest.mark.parametrize("name", EXPANDS)
def test_expanded_0d_result_sees_later_writes(name):
    got, want = [], []
    for m, out in ((tp, got), (torch, want)):
        s = m.tensor(1.0) * 2
        e = EXPANDS[name](s)
        s.add_(1)
        out.append(e.tolist())
    assert got == want
