"""Generic checks driven by the op table (op_table.py): NumPy reference, gradcheck, gradgradcheck,
function/method/in-place agreement, non-contiguous, 0-d and empty inputs, dtype promotion."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp
from tensorplug.autograd import gradcheck, gradgradcheck

from ._compare import to_numpy
from .op_table import OPS, resolve

ALL = pytest.mark.parametrize("op", OPS, ids=[o.id for o in OPS])


def _call(op, module, tensors):
    args = resolve(op.args, module)
    fn = op.func(module) if op.func else getattr(module, op.name)
    return fn(*tensors, *args, **op.kwargs)


def _method(op, module, tensors):
    args = resolve(op.args, module)
    return getattr(tensors[0], op.name)(*tensors[1:], *args, **op.kwargs)


def _inplace(op, module, tensors):
    args = resolve(op.args, module)
    return getattr(tensors[0], op.name + "_")(*tensors[1:], *args, **op.kwargs)


def _ref(op, arrays):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return np.asarray(op.ref(*arrays))


def _close(t, expected, rtol=1e-7, atol=1e-9):
    got = to_numpy(t)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if expected.dtype.kind in "iub" and got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, expected)  # exactly: a tolerance hides an off-by-one at 2**60
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


@ALL
def test_forward_matches_numpy(op, backend):
    arrays = op.arrays(np.random.default_rng(0))
    out = _call(op, tp, [tp.tensor(a) for a in arrays])
    assert out.dtype == tp.float64
    _close(out, _ref(op, arrays))


@ALL
def test_float32_stays_float32(op):
    arrays = [a.astype(np.float32) for a in op.arrays(np.random.default_rng(1))]
    out = _call(op, tp, [tp.tensor(a) for a in arrays])
    assert out.dtype == tp.float32
    _close(out, _ref(op, arrays).astype(np.float32), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", [o for o in OPS if o.grad], ids=[o.id for o in OPS if o.grad])
def test_gradcheck(op):
    rng = np.random.default_rng(2)
    tensors = [tp.tensor(a, requires_grad=True) for a in op.arrays(rng)]
    assert gradcheck(lambda *xs: _call(op, tp, xs), tensors, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("op", [o for o in OPS if o.grad and o.gradgrad],
                         ids=[o.id for o in OPS if o.grad and o.gradgrad])
def test_gradgradcheck(op):
    rng = np.random.default_rng(3)
    tensors = [tp.tensor(a, requires_grad=True) for a in op.arrays(rng)]
    assert gradgradcheck(lambda *xs: _call(op, tp, xs), tensors, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("op", [o for o in OPS if o.method], ids=[o.id for o in OPS if o.method])
def test_method_agrees_with_function(op):
    arrays = op.arrays(np.random.default_rng(4))
    f = _call(op, tp, [tp.tensor(a) for a in arrays])
    m = _method(op, tp, [tp.tensor(a) for a in arrays])
    _close(m, to_numpy(f))


@pytest.mark.parametrize("op", [o for o in OPS if o.inplace], ids=[o.id for o in OPS if o.inplace])
def test_inplace_agrees_with_function(op):
    arrays = op.arrays(np.random.default_rng(5))
    expected = _call(op, tp, [tp.tensor(a) for a in arrays])
    tensors = [tp.tensor(a) for a in arrays]
    target = tensors[0]
    version = target._version[0]
    out = _inplace(op, tp, tensors)
    assert out is target
    assert target._version[0] == version + 1
    _close(target, to_numpy(expected))


@pytest.mark.parametrize("op", [o for o in OPS if o.inplace], ids=[o.id for o in OPS if o.inplace])
def test_inplace_records_the_graph(op):
    """``y = x * 1; y.op_(); y.sum().backward()`` gives the out-of-place gradient."""
    arrays = op.arrays(np.random.default_rng(6))
    xs = [tp.tensor(a, requires_grad=True) for a in arrays]
    _call(op, tp, xs).sum().backward()
    expected = [to_numpy(x.grad).copy() for x in xs]
    xs2 = [tp.tensor(a, requires_grad=True) for a in arrays]
    y = xs2[0] * 1
    _inplace(op, tp, [y] + xs2[1:]).sum().backward()
    for x, e in zip(xs2, expected):
        _close(x.grad, e)


def _noncontiguous(a):
    """A tensor with ``a``'s values whose storage is not contiguous."""
    if a.ndim >= 2:
        perm = tuple(reversed(range(a.ndim)))
        t = tp.tensor(np.ascontiguousarray(a.transpose(perm))).permute(*perm)
    else:
        doubled = np.repeat(a, 2) if a.ndim == 1 else a
        t = tp.tensor(doubled)[::2] if a.ndim == 1 else tp.tensor(a)
    return t


@ALL
def test_noncontiguous_inputs(op):
    arrays = op.arrays(np.random.default_rng(7))
    expected = _call(op, tp, [tp.tensor(a) for a in arrays])
    inputs = [_noncontiguous(a) for a in arrays]
    if any(a.ndim >= 1 for a in arrays):
        assert not all(t.is_contiguous() for t in inputs if t.dim() and t.numel() > 1)
    _close(_call(op, tp, inputs), to_numpy(expected))
    # and the gradient is the same as for contiguous inputs
    if op.grad:
        leaves = [tp.tensor(a, requires_grad=True) for a in arrays]
        _call(op, tp, leaves).sum().backward()
        nc = [_noncontiguous(a).requires_grad_() for a in arrays]
        _call(op, tp, nc).sum().backward()
        for a, b in zip(leaves, nc):
            _close(b.grad, to_numpy(a.grad))


@pytest.mark.parametrize("op", [o for o in OPS if o.zero_dim], ids=[o.id for o in OPS if o.zero_dim])
def test_zero_dim_inputs(op):
    arrays = op.arrays(np.random.default_rng(8), shapes=[()] * len(op.shapes))
    out = _call(op, tp, [tp.tensor(a) for a in arrays])
    _close(out, _ref(op, arrays))
    if op.grad:
        xs = [tp.tensor(a, requires_grad=True) for a in arrays]
        assert gradcheck(lambda *t: _call(op, tp, t), xs)


@pytest.mark.parametrize("op", [o for o in OPS if o.empty], ids=[o.id for o in OPS if o.empty])
def test_empty_inputs(op):
    # the first input gets a zero-size leading dim; inputs of the same shape follow it
    first = op.shapes[0]
    shapes = [(0,) + tuple(s[1:]) if s == first else s for s in op.shapes]
    arrays = op.arrays(np.random.default_rng(9), shapes=shapes)
    xs = [tp.tensor(a, requires_grad=op.grad) for a in arrays]
    out = _call(op, tp, xs)
    _close(out, _ref(op, arrays))
    if op.grad:
        out.sum().backward()
        for x in xs:
            assert x.grad is not None and tuple(x.grad.shape) == tuple(x.shape)


# dtype results follow torch's promotion -------------------------------------------------

_PAIRS = [("int64", "float32"), ("int32", "int64"), ("float32", "float64"), ("bool", "int64"),
          ("uint8", "int8"), ("int16", "float16"), ("bool", "float32"), ("uint8", "uint8")]
_PROMOTE = [o for o in OPS if o.promote]


def _typed(module, values, dtype_name, dims=True):
    a = np.asarray(values)
    if not dims:
        a = a.reshape(-1)[0]
    return module.tensor(a.tolist(), dtype=getattr(module, dtype_name if dtype_name != "bool" else "bool"))


@pytest.mark.parametrize("op", _PROMOTE, ids=[o.id for o in _PROMOTE])
@pytest.mark.parametrize("pair", _PAIRS, ids=["-".join(p) for p in _PAIRS])
def test_binary_promotion_matches_torch(op, pair):
    torch = pytest.importorskip("torch")
    values = [[1, 2, 3], [4, 5, 6]]
    for dims_b in (True, False):
        outs = []
        for module in (tp, torch):
            a = _typed(module, values, pair[0])
            b = _typed(module, [1, 2, 3], pair[1], dims=dims_b)
            if op.name == "sub" and (pair[0] == "bool" or pair[1] == "bool"):
                pytest.skip("torch refuses bool subtraction; tested in test_arithmetic")
            outs.append(_call(op, module, [a, b]))
        assert outs[0].dtype.name == str(outs[1].dtype).split(".")[-1], (pair, dims_b)
        np.testing.assert_allclose(to_numpy(outs[0]).astype(float), to_numpy(outs[1]).astype(float))


@pytest.mark.parametrize("op", _PROMOTE, ids=[o.id for o in _PROMOTE])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("dtype", ["int64", "float32", "bool", "uint8"])
def test_scalar_promotion_matches_torch(op, scalar, dtype):
    torch = pytest.importorskip("torch")
    if op.name == "sub" and (dtype == "bool" or scalar is True):
        pytest.skip("torch refuses bool subtraction")
    if op.name in ("maximum", "minimum"):
        pytest.skip("torch's maximum takes tensors only")
    outs = [_call(op, m, [_typed(m, [[1, 2, 3], [4, 5, 6]], dtype), scalar]) for m in (tp, torch)]
    assert outs[0].dtype.name == str(outs[1].dtype).split(".")[-1]
    np.testing.assert_allclose(to_numpy(outs[0]).astype(float), to_numpy(outs[1]).astype(float))


_INTS = [o for o in OPS if o.ints]


@pytest.mark.parametrize("op", _INTS, ids=[o.id for o in _INTS])
def test_integer_inputs_match_torch(op):
    torch = pytest.importorskip("torch")
    arrays = [np.arange(int(np.prod(s))).reshape(s) - 2 for s in op.shapes]
    outs = [_call(op, m, [m.tensor(a) for a in arrays]) for m in (tp, torch)]
    assert outs[0].dtype.name == str(outs[1].dtype).split(".")[-1]
    np.testing.assert_array_equal(to_numpy(outs[0]), to_numpy(outs[1]))


@pytest.mark.parametrize("op", [o for o in OPS if o.grad], ids=[o.id for o in OPS if o.grad])
def test_backward_and_double_backward_on_every_backend(op, backend):
    """Backward formulas use only what every backend offers (the strict Array API backend included);
    the array fast paths equal the tensor-level formulas (create_graph) under a random upstream
    gradient (with ones, a dropped ``g *`` would go unseen)."""
    rng = np.random.default_rng(10)
    arrays = op.arrays(rng)
    xs = [tp.tensor(a, requires_grad=True) for a in arrays]
    out = _call(op, tp, xs)
    upstream = rng.standard_normal(tuple(out.shape))
    fast = tp.autograd.grad(out, xs, tp.tensor(upstream))  # the array fast paths
    grads = tp.autograd.grad(_call(op, tp, xs), xs, tp.tensor(upstream), create_graph=True)
    for f, g in zip(fast, grads):
        np.testing.assert_allclose(np.asarray(f.tolist()), np.asarray(g.detach().tolist()), rtol=1e-12)
    second = [g.sum() for g in grads if g.requires_grad]
    if second:
        sum(second).backward()
    if backend != "numpy":
        with tp.use_backend("numpy"):
            ref = [tp.tensor(a, requires_grad=True) for a in arrays]
            expected = tp.autograd.grad(_call(op, tp, ref), ref, tp.tensor(upstream))
        for g, e in zip(grads, expected):
            np.testing.assert_allclose(to_numpy(g), to_numpy(e), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", [o for o in OPS if o.grad], ids=[o.id for o in OPS if o.grad])
def test_float32_gradients_stay_float32(op):
    """The gradient's recorded dtype is its storage's dtype (the array fast paths included)."""
    arrays = [a.astype(np.float32) for a in op.arrays(np.random.default_rng(11))]
    xs = [tp.tensor(a, requires_grad=True) for a in arrays]
    out = _call(op, tp, xs)
    (out * tp.ones(out.shape)).sum().backward()
    for x in xs:
        assert x.grad.dtype == tp.float32
        assert str(x.grad._data.dtype) == "float32"
