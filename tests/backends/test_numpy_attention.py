"""The NumPy backend's head-at-a-time attention (backends/tensorplug_numpy/_attention.py): the same
values and gradients, bit for bit, as the array code it stands in for (whole-stack matmuls, the mask,
the compiled softmax rows), for every mask kind and for heads split over the thread pool."""
from __future__ import annotations

import math

import numpy as np
import pytest

_attention = pytest.importorskip("tensorplug_numpy._attention")
_softmax = pytest.importorskip("tensorplug_numpy._softmax")
_jit = pytest.importorskip("tensorplug_numpy._jit")

if _jit.kernels("softmax32") is None:
    pytest.skip("compiled kernels are off (no numba, or TENSORPLUG_JIT=0): the backend declines",
                allow_module_level=True)

rng = np.random.default_rng(0)


def _composed(q, k, v, blocked, bias, scale, keep=None):
    s = np.matmul(q * scale, np.swapaxes(k, -1, -2))
    if blocked is not None:
        s = np.where(blocked, -np.inf, s)
    elif bias is not None:
        s = s + bias
    p = _softmax.softmax(s, False)
    if blocked is not None:
        p = np.where(np.all(blocked, axis=-1, keepdims=True), 0, p)
    elif bias is not None:
        p = np.where(np.all(bias == -np.inf, axis=-1, keepdims=True), 0, p)
    return np.matmul(p if keep is None else p * keep, v), p


def _composed_backward(q, k, v, p, g, scale, keep=None):
    gp = np.matmul(g, np.swapaxes(v, -1, -2))
    if keep is not None:
        gp = gp * keep
    ds = _softmax.softmax_backward(p, gp, False)
    dropped = p if keep is None else p * keep
    return (np.matmul(ds, k) * scale, np.matmul(np.swapaxes(ds, -1, -2), q) * scale,
            np.matmul(np.swapaxes(dropped, -1, -2), g))


def _masks(lead, length, source, dtype):
    causal = np.arange(source)[None, :] > np.arange(length)[:, None]
    unattended = rng.random(lead[:1] + (1,) * (len(lead) - 1) + (length, source)) > 0.6
    unattended[0, ..., 1, :] = True  # a query with every key masked
    bias = rng.standard_normal((length, source)).astype(dtype)
    bias[2] = -np.inf
    return {"none": (None, None), "causal": (causal, None), "bool": (unattended, None), "float": (None, bias)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "float"])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 6, 6, 4, 5), (5, 9, 7, 8, 3), (8, 4, 64, 64, 32, 32)])
def test_fused_attention_is_the_array_codes_values(shape, mask, dtype, dropout):
    *lead, length, source, e, ev = shape
    lead = tuple(lead)
    q = rng.standard_normal(lead + (length, e)).astype(dtype)
    k = rng.standard_normal(lead + (source, e)).astype(dtype)
    v = rng.standard_normal(lead + (source, ev)).astype(dtype)
    g = rng.standard_normal(lead + (length, ev)).astype(dtype)
    blocked, bias = _masks(lead, length, source, dtype)[mask]
    scale = 1 / math.sqrt(e)
    keep = (rng.random(lead + (length, source)) >= 0.3).astype(dtype) / dtype(0.7) if dropout else None
    out, p = _attention.attention(q, k, v, blocked, bias, scale, keep)
    want_out, want_p = _composed(q, k, v, blocked, bias, scale, keep)
    assert out.dtype == p.dtype == dtype
    np.testing.assert_array_equal(p, want_p)
    np.testing.assert_array_equal(out, want_out)
    grads = _attention.attention_backward(q, k, v, p, g, scale, (True, True, True), keep)
    for got, want in zip(grads, _composed_backward(q, k, v, want_p, g, scale, keep)):
        np.testing.assert_array_equal(got, want)
    only_v = _attention.attention_backward(q, k, v, p, g, scale, (False, False, True), keep)
    assert only_v[0] is None and only_v[1] is None
    np.testing.assert_array_equal(only_v[2], grads[2])


def test_declines_what_it_does_not_fit():
    q = rng.standard_normal((2, 4, 3)).astype(np.float32)
    assert _attention.attention(q, q, q.astype(np.float64), None, None, 1.0) is NotImplemented  # mixed dtypes
    assert _attention.attention(q.astype(np.float16), *[q.astype(np.float16)] * 2, None, None, 1.0) is NotImplemented
    assert _attention.attention(q[0], q[0], q[0], None, None, 1.0) is NotImplemented  # no batch axis
    wider = np.ones((3, 4, 4), bool)  # a mask that would broadcast the scores to more heads
    assert _attention.attention(q, q, q, wider, None, 1.0) is NotImplemented
    assert _attention.attention(q, q[:1], q[:1], None, None, 1.0) is NotImplemented  # batch shapes differ


def test_nan_from_the_inputs_stays():
    q = rng.standard_normal((1, 3, 4)).astype(np.float32)
    k = q.copy()
    k[0, 1, 0] = np.nan
    out, p = _attention.attention(q, k, q, None, None, 0.5)
    assert np.isnan(p).all(axis=-1).all() and np.isnan(out).all()
