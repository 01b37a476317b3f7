"""Property tests (hypothesis): broadcasting of binary ops and torch's type promotion."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorplug as tp

from ._compare import to_numpy

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "maximum": lambda a, b: tp.maximum(a, b)
       if isinstance(a, tp.Tensor) else None, "eq": lambda a, b: a == b, "where": None}

shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def broadcastable_pair(draw):
    a = draw(shapes)
    b = list(a[draw(st.integers(0, len(a))):])
    b = tuple(1 if draw(st.booleans()) else s for s in b)
    if draw(st.booleans()):
        a, b = b, a
    return a, b


@settings(max_examples=60, deadline=None)
@given(broadcastable_pair(), st.sampled_from(["add", "mul", "sub", "div", "maximum", "where", "gt"]))
def test_broadcasting_matches_numpy(pair, op):
    sa, sb = pair
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb) + 3
    ta, tb = tp.tensor(a, requires_grad=True), tp.tensor(b, requires_grad=True)
    fns = {"add": (np.add, lambda x, y: x + y), "mul": (np.multiply, lambda x, y: x * y),
           "sub": (np.subtract, lambda x, y: x - y), "div": (np.divide, lambda x, y: x / y),
           "maximum": (np.maximum, tp.maximum), "where": (lambda x, y: np.where(x > 0, x, y),
                                                          lambda x, y: tp.where(x > 0, x, y)),
           "gt": (np.greater, lambda x, y: x > y)}
    ref, fn = fns[op]
    out = fn(ta, tb)
    np.testing.assert_allclose(to_numpy(out), ref(a, b))
    if out.requires_grad:
        out.sum().backward()
        assert ta.grad.shape == sa and tb.grad.shape == sb


@settings(max_examples=40, deadline=None)
@given(shapes, shapes)
def test_non_broadcastable_shapes_raise_runtime_error(sa, sb):
    try:
        np.broadcast_shapes(sa, sb)
        compatible = True
    except ValueError:
        compatible = False
    a, b = tp.zeros(sa), tp.zeros(sb)
    if compatible:
        assert (a + b).shape == np.broadcast_shapes(sa, sb)
    else:
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            a + b


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES), st.booleans(), st.booleans(),
       st.sampled_from(["add", "mul", "maximum", "div", "eq"]))
def test_promotion_matches_torch(da, db, dims_a, dims_b, op):
    torch = pytest.importorskip("torch")
    if op == "div" and "bool" in (da, db) and da == db:
        pass
    results = []
    for m in (tp, torch):
        a = m.ones((2,) if dims_a else (), dtype=getattr(m, da))
        b = m.ones((2,) if dims_b else (), dtype=getattr(m, db))
        fn = {"add": lambda: a + b, "mul": lambda: a * b, "maximum": lambda: m.maximum(a, b),
              "div": lambda: a / b, "eq": lambda: a == b}[op]
        results.append(fn())
    assert results[0].dtype.name == str(results[1].dtype).split(".")[-1], (da, db, dims_a, dims_b, op)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DTYPES), st.one_of(st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.booleans()),
       st.sampled_from(["add", "mul", "rsub", "div"]))
def test_scalar_promotion_matches_torch(dtype, scalar, op):
    torch = pytest.importorskip("torch")
    if dtype == "bool" and op == "rsub":
        return  # torch refuses bool subtraction
    if op == "rsub" and isinstance(scalar, bool):
        return
    outs = []
    for m in (tp, torch):
        a = m.ones(2, dtype=getattr(m, dtype))
        fn = {"add": lambda: a + scalar, "mul": lambda: scalar * a, "rsub": lambda: scalar - a,
              "div": lambda: a / (scalar if scalar else 1)}[op]
        outs.append(fn())
    assert outs[0].dtype.name == str(outs[1].dtype).split(".")[-1]
    np.testing.assert_allclose(to_numpy(outs[0]).astype(float), to_numpy(outs[1]).astype(float), rtol=1e-3)
