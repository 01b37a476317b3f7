"""Conformance checks of the frontend on a backend: tensorplug's own ops, autograd
and nn run with the backend as the default, compared with NumPy.

On the test-only ``array_api_strict`` backend these prove that the frontend
calls only what the Array API standard and the named backend methods offer.
"""
from __future__ import annotations

import numpy as np

from .conformance import ConformanceError, _true, check

_RNG = np.random.default_rng(99)
_X = _RNG.standard_normal((8, 4)).astype("float32")
_W1 = (_RNG.standard_normal((4, 5)) * 0.5).astype("float32")
_W2 = (_RNG.standard_normal((5, 3)) * 0.5).astype("float32")


def _tp():
    import tensorplug
    return tensorplug


def _host(t):
    """A tensor's values as NumPy, through the backend (works for GPU tensors too)."""
    return np.asarray(t._backend.to_numpy(t.detach()._data))


def _same(t, expected, what, rtol=1e-5, atol=1e-6, dtype=None):
    got = _host(t)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise ConformanceError(f"{what}: shape {got.shape}, expected {expected.shape}")
    if dtype is not None and str(t.dtype).split(".")[-1] != dtype:
        raise ConformanceError(f"{what}: dtype {t.dtype}, expected {dtype}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise ConformanceError(f"{what}: got {got!r}, expected {expected!r}")


def _on(b):
    return _tp().use_backend(b)


@check
def check_frontend_creation(b):
    tp = _tp()
    with _on(b):
        _same(tp.zeros(2, 3), np.zeros((2, 3)), "zeros", dtype="float32")
        _same(tp.ones(4, dtype=tp.float64), np.ones(4), "ones float64", dtype="float64")
        _same(tp.arange(5), np.arange(5), "arange", dtype="int64")
        _same(tp.tensor([[1.0, 2.0], [3.0, 4.0]]), [[1, 2], [3, 4]], "tensor(list)", dtype="float32")
        _same(tp.full((2,), 3.5), [3.5, 3.5], "full")
        _same(tp.eye(3), np.eye(3), "eye")
        _same(tp.linspace(0, 1, 5), np.linspace(0, 1, 5), "linspace")
        t = tp.rand(3, 4)
        _true(t.device == b.device and tuple(t.shape) == (3, 4), f"rand lands on {t.device}, shape {t.shape}")
        _true(tp.tensor(2.5).item() == 2.5, "item()")
        _true(tp.tensor([1, 2]).tolist() == [1, 2], "tolist()")


@check
def check_frontend_arithmetic_promotion(b):
    tp = _tp()
    with _on(b):
        i = tp.tensor([1, 2, 3])
        f = tp.tensor([0.5, 1.5, 2.5])
        _same(i + 2.5, [3.5, 4.5, 5.5], "int64 + 2.5", dtype="float32")
        _same(i + f, [1.5, 3.5, 5.5], "int64 + float32", dtype="float32")
        _same(f * tp.tensor(2.0, dtype=tp.float64), [1, 3, 5], "float32 * 0-d float64", dtype="float32")
        _same(f + tp.tensor([1.0, 1.0, 1.0], dtype=tp.float64), [1.5, 2.5, 3.5], "float32 + float64", dtype="float64")
        _same(i * 2, [2, 4, 6], "int * int", dtype="int64")
        _same(i / 2, [0.5, 1, 1.5], "int / int", dtype="float32")
        _same(i // 2, [0, 1, 1], "int // int", dtype="int64")
        _same(f ** 2, np.array([0.5, 1.5, 2.5]) ** 2, "pow")
        _same(-f, [-0.5, -1.5, -2.5], "neg")
        _same((f > 1).float(), [0, 1, 1], "comparison + cast")
        a = tp.tensor(_X)
        _same(a.exp().log(), _X, "exp/log", rtol=1e-4, atol=1e-5)
        _same(a.tanh(), np.tanh(_X), "tanh")
        _same(a.relu(), np.maximum(_X, 0), "relu")
        _same(tp.sigmoid(a), 1 / (1 + np.exp(-_X)), "sigmoid")


@check
def check_frontend_reductions(b):
    tp = _tp()
    with _on(b):
        a = tp.tensor(_X)
        _same(a.sum(), _X.sum(), "sum()", rtol=1e-4)
        _same(a.sum(1), _X.sum(1), "sum(1)", rtol=1e-4)
        _same(a.mean(0, keepdim=True), _X.mean(0, keepdims=True), "mean(0, keepdim)")
        values, idx = a.max(1)
        _same(values, _X.max(1), "max(1).values")
        _same(idx, _X.argmax(1), "max(1).indices")
        _same(a.argmax(), _X.argmax(), "argmax()")
        _same(tp.softmax(a, dim=1), np.exp(_X) / np.exp(_X).sum(1, keepdims=True), "softmax")


@check
def check_frontend_matmul_and_shapes(b):
    tp = _tp()
    with _on(b):
        a, w = tp.tensor(_X), tp.tensor(_W1)
        _same(a @ w, _X @ _W1, "matmul", rtol=1e-4, atol=1e-5)
        _same(tp.mm(a, w), _X @ _W1, "mm", rtol=1e-4, atol=1e-5)
        _same(a.t(), _X.T, "t()")
        _same(a.view(4, 8), _X.reshape(4, 8), "view")
        _same(a.reshape(-1), _X.reshape(-1), "reshape(-1)")
        _same(a.unsqueeze(0).squeeze(0), _X, "unsqueeze/squeeze")
        _same(tp.cat([a, a], 0), np.concatenate([_X, _X]), "cat")
        _same(tp.stack([a, a], 1), np.stack([_X, _X], 1), "stack")
        _same(a.permute(1, 0).contiguous().view(-1), _X.T.reshape(-1), "permute + contiguous + view")


@check
def check_frontend_indexing(b):
    tp = _tp()
    with _on(b):
        a = tp.tensor(_X)
        _same(a[1:3, 0], _X[1:3, 0], "slices")
        _same(a[-1], _X[-1], "negative int")
        _same(a[:, None, 2], _X[:, None, 2], "None")
        _same(a[a > 0], _X[_X > 0], "bool mask")
        _same(a[tp.tensor([0, 2]), :], _X[[0, 2], :], "integer tensor + slice")
        c = a.clone()
        c[0] = 0.0
        e = _X.copy()
        e[0] = 0
        _same(c, e, "setitem")
        _true(abs(a[2, 3].item() - float(_X[2, 3])) < 1e-6, "a[i, j].item()")


@check
def check_frontend_autograd_mlp(b):
    tp = _tp()
    with _on(b):
        x = tp.tensor(_X)
        w1 = tp.tensor(_W1, requires_grad=True)
        w2 = tp.tensor(_W2, requires_grad=True)
        h = (x @ w1).relu()
        y = h @ w2
        loss = ((y - 1.0) ** 2).mean()
        loss.backward()
    # NumPy reference of the same graph
    hp = np.maximum(_X @ _W1, 0)
    yp = hp @ _W2
    gy = 2 * (yp - 1) / yp.size
    gw2 = hp.T @ gy
    gh = (gy @ _W2.T) * (hp > 0)
    gw1 = _X.T @ gh
    _same(loss, ((yp - 1) ** 2).mean(), "mlp loss", rtol=1e-4)
    _same(w1.grad, gw1, "mlp dL/dw1", rtol=1e-4, atol=1e-5)
    _same(w2.grad, gw2, "mlp dL/dw2", rtol=1e-4, atol=1e-5)


@check
def check_frontend_nn_linear(b):
    tp = _tp()
    try:
        Linear = tp.nn.Linear
    except AttributeError:  # nn not there yet in this build
        return
    with _on(b):
        tp.manual_seed(0)
        m = Linear(4, 3)
        x = tp.tensor(_X)
        out = m(x)
        out.sum().backward()
    w, bias = _host(m.weight), _host(m.bias)
    _same(out, _X @ w.T + bias, "Linear forward", rtol=1e-4, atol=1e-5)
    _same(m.weight.grad, np.ones((8, 3), "float32").T @ _X, "Linear dL/dweight", rtol=1e-4, atol=1e-5)
    _same(m.bias.grad, np.full(3, 8.0), "Linear dL/dbias")
