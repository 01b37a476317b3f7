"""Run one snippet with tensorplug and with torch and compare values, dtypes and gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp


def _flat(out):
    if isinstance(out, (tuple, list)):
        items = []
        for o in out:
            items += _flat(o)
        return items
    return [out]


def to_numpy(x):
    """A tensor's (tensorplug's or torch's, on any device) values as a NumPy array; other values as they are."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(got, want, rtol, atol):
    """Floats within tolerance; integers and booleans exactly (a tolerance hides an off-by-one at 2**60)."""
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.kind in "iub" and got.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def same(fn, *arrays, grad=True, rtol=1e-7, atol=1e-10):
    """``fn(module, *tensors)`` under tensorplug and torch: equal results, dtypes and input gradients."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        xs = [m.tensor(a, requires_grad=grad and np.asarray(a).dtype.kind == "f") for a in arrays]
        out = fn(m, *xs)
        outs = _flat(out)
        diff = [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad]
        if diff:
            total = sum((o * (1 + 0.5 * m.arange(o.numel(), dtype=o.dtype).reshape(o.shape))).sum() for o in diff)
            total.backward()
        results.append((outs, [x.grad for x in xs]))
    (a_outs, a_grads), (b_outs, b_grads) = results
    assert len(a_outs) == len(b_outs)
    for a, b in zip(a_outs, b_outs):
        if hasattr(b, "dtype"):
            assert a.dtype.name == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
            assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        assert_close(to_numpy(a), to_numpy(b), rtol=rtol, atol=atol)
    for a, b in zip(a_grads, b_grads):
        if b is None:
            assert a is None or not np.any(to_numpy(a))
        else:
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=rtol, atol=atol, equal_nan=True)
