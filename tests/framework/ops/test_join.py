"""cat/stack/split/chunk/unbind — against torch, plus view semantics of the pieces."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

A = np.arange(12.0).reshape(3, 4)
B = np.arange(8.0).reshape(2, 4) - 3


@pytest.mark.parametrize("case", [
    lambda m, a, b: m.cat([a, b]), lambda m, a, b: m.cat((a.t(), b.t()), dim=-1), lambda m, a, b: m.cat([a]),
    lambda m, a, b: m.concat([a, a * 2], 1), lambda m, a, b: m.stack([a, a * 2]),
    lambda m, a, b: m.stack([b, b], dim=-1), lambda m, a, b: m.stack([a[0], b[0], b[1]], 1),
    lambda m, a, b: m.hstack([a, a]), lambda m, a, b: m.vstack([a, b]),
    lambda m, a, b: a.split(2), lambda m, a, b: m.split(a, [1, 3], 1), lambda m, a, b: a.split(4, 1),
    lambda m, a, b: a.chunk(2), lambda m, a, b: m.chunk(a, 3, 1), lambda m, a, b: a.chunk(5, 1),
    lambda m, a, b: a.unbind(), lambda m, a, b: m.unbind(b, 1),
])
def test_against_torch(case):
    same(case, A, B)


def test_cat_promotes_dtypes_like_torch():
    same(lambda m, a, b: m.cat([a, b.long()]), A, B, grad=False)
    same(lambda m, a: m.cat([a.int(), a.bool()]), A, grad=False)


def test_cat_skips_legacy_empty_1d():
    same(lambda m, a: m.cat([m.tensor([], dtype=a.dtype), a]), A)


def test_pieces_are_views():
    a = tp.zeros(4, 2)
    top, bottom = a.split(2)
    bottom[0, 0] = 7.0
    assert a[2, 0].item() == 7.0
    rows = a.unbind()
    rows[1].fill_(3.0)
    assert a[1].tolist() == [3.0, 3.0]


def test_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 1"):
        tp.cat([tp.ones(2, 3), tp.ones(3, 3)], 1)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        tp.cat([tp.ones(2, 3), tp.ones(3)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        tp.cat([tp.tensor(1.0), tp.tensor(2.0)])
    with pytest.raises(TypeError, match="tuple of Tensors"):
        tp.cat(tp.ones(2))
    with pytest.raises(RuntimeError, match="split_sizes to sum exactly"):
        tp.ones(4).split([1, 2])
    with pytest.raises(RuntimeError, match="chunks"):
        tp.ones(4).chunk(0)


# split / chunk / unbind are one multi-output node whose backward joins the pieces' grads once -------
@pytest.mark.parametrize("case", [
    lambda m, a, b: a.split(2)[1] * 3,                       # only some pieces get a gradient
    lambda m, a, b: (a.chunk(4, 1)[0], a.chunk(4, 1)[3].exp()),
    lambda m, a, b: m.unbind(a, 1)[2] + m.unbind(a, 1)[0],
    lambda m, a, b: a.unbind()[0] * a.unbind()[0],
    lambda m, a, b: m.stack(list(reversed(a.unbind(1))), 0),
    lambda m, a, b: m.cat([p * (k + 1) for k, p in enumerate(m.split(a, [1, 0, 3], 1))], 1),
])
def test_multi_output_pieces_grads_match_torch(case):
    same(case, A, B)


def test_one_node_for_all_pieces():
    torch = pytest.importorskip("torch")
    a = tp.tensor(A, requires_grad=True) * 1
    ta = torch.tensor(A, requires_grad=True) * 1
    for ours, theirs in ((a.unbind(1), ta.unbind(1)), (a.chunk(2), ta.chunk(2))):
        assert len({id(p.grad_fn) for p in ours}) == 1
        assert [p._output_nr for p in ours] == list(range(len(ours)))
        assert ours[0].grad_fn.name() == theirs[0].grad_fn.name()
    assert a.split([1, 2])[0].grad_fn.name() in ("SplitBackward0", "SplitWithSizesBackward0")


def test_pieces_double_backward():
    x = tp.tensor(A, requires_grad=True)
    rows = x.unbind(0)
    y = (rows[0] ** 3).sum() + (x.split(2, 1)[1] ** 2).sum()
    (g,) = tp.autograd.grad(y, (x,), create_graph=True)
    assert g.requires_grad
    (gg,) = tp.autograd.grad(g.sum(), (x,))
    expected = np.zeros_like(A)
    expected[0] = 6 * A[0]
    expected[:, 2:] += 2
    np.testing.assert_allclose(gg.numpy(), expected)
    assert tp.autograd.gradgradcheck(lambda t: tp.stack(t.unbind(1)[::-1]) ** 2,
                                     (tp.tensor(A + 1, requires_grad=True),))


@pytest.mark.parametrize("make", [lambda y: y.split([1, 2])[1], lambda y: y.unbind(1)[3],
                                  lambda y: y.chunk(2)[0]])
def test_inplace_on_a_piece_is_refused_under_grad_as_in_torch(make):
    torch = pytest.importorskip("torch")
    for lib in (tp, torch):
        x = lib.tensor(A, requires_grad=True)
        piece = make(x * 2)
        with pytest.raises(RuntimeError, match="is a view and is being modified inplace"):
            piece.add_(1)
        with lib.no_grad():
            piece.add_(1)  # outside the graph it is a plain write, allowed by both


def test_writing_the_source_after_splitting_is_differentiated():
    # the pieces' node saved nothing: writing to the source after splitting is differentiated correctly
    # (torch refuses this one; tensorplug is more permissive here, see docs/differences.md)
    x = tp.tensor(A, requires_grad=True)
    y = x * 1
    pieces = y.chunk(3)
    y.add_(1)
    sum(p.sum() for p in pieces).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones_like(A))
