"""``Op.apply2`` (binary arithmetic's two-tensor path) builds the same node as the generic ``Op.apply``:
the same edges, shapes, output numbers, saved tensors and their versions, and the same result."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from tensorplug.ops.arithmetic import Add, Div, DivFloor, Fmod, Mul, Pow, Remainder, Sub
from tensorplug.ops.minmax import Maximum, Minimum

BINARY = [Add, Sub, Mul, Div, Pow, Maximum, Minimum, DivFloor, Remainder, Fmod]  # floor_divide has no backward


def _operands(kind):
    """Two float64 tensors of broadcasting shapes: leaves, intermediates, or outputs 1 of a split."""
    rng = np.random.default_rng(0)
    a = tp.tensor(rng.uniform(0.5, 2.0, (2, 3)), requires_grad="a" in kind)
    b = tp.tensor(rng.uniform(0.5, 2.0, (3,)), requires_grad="b" in kind)
    if "inner" in kind:  # non-leaves: the edge is the producer's node
        a, b = a * 1, b * 1
    if "split" in kind:  # a second output of a multi-output node (output number 1)
        a = tp.cat([a, a]).split(2)[1]
        b = tp.cat([b, b]).split(3)[1]
    return a, b


def _state(result):
    node = result.grad_fn
    if node is None:
        return None
    edges = [("node", id(e)) if isinstance(e, tp.autograd.Node) else (None if e is None else ("leaf", id(e)))
             for e in node._edges]
    saved = [(id(t), version) for t, version in (node._saved or ())]
    out = None
    if "_out" in node.__dict__:
        array, cell, version, dtype = node._out
        out = (np.asarray(array).tolist(), id(cell) == id(result._version), version, dtype)
    keys = sorted(k for k in node.__dict__ if k != "_seq")
    return dict(type=type(node), edges=edges, shapes=list(node._shapes), nrs=node._input_nrs,
                saved=saved, out=out, keys=keys, backend=node.backend)


KINDS = ["a", "b", "ab", "ab inner", "a inner split", "ab split"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", BINARY, ids=[op.__name__ for op in BINARY])
def test_apply2_builds_the_node_apply_builds(op, kind):
    a, b = _operands(kind)
    generic = op.apply(a, b)
    two = op.apply2(a, b)
    assert _state(two) == _state(generic)
    assert two.grad_fn._seq > generic.grad_fn._seq  # numbered as created
    np.testing.assert_array_equal(two.numpy() if not two.requires_grad else two.detach().numpy(),
                                  generic.detach().numpy())
    # and the two nodes give the same gradients
    g = tp.tensor(np.random.default_rng(1).standard_normal(tuple(generic.shape)))
    wanted = [t for t in (a, b) if t.requires_grad]
    for x, y in zip(tp.autograd.grad(generic, wanted, g), tp.autograd.grad(two, wanted, g)):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_apply2_without_grad_mode_records_nothing():
    a, b = _operands("ab")
    with tp.no_grad():
        assert Mul.apply2(a, b).grad_fn is None and Mul.apply(a, b).grad_fn is None
