"""The NumPy backend's ctypes view of numpy's own OpenBLAS: axpy, the linear layer's GEMM with its bias and the
thread-count switch."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import tensorplug

_blas = pytest.importorskip("tensorplug_numpy._blas")
blas = _blas.load()
needs_blas = pytest.mark.skipif(blas is None, reason="numpy is not built on a findable OpenBLAS")
N = _blas.AXPY_MIN * 2


def _backend():
    return tensorplug.tensor([1.0])._backend


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [-0.01, 2.5, 1])
def test_axpy_matches_two_passes(dtype, alpha):
    rng = np.random.default_rng(0)
    y = rng.standard_normal(N).astype(dtype)
    x = rng.standard_normal(N).astype(dtype)
    want = y + dtype(alpha) * x
    assert _backend().axpy(y, alpha, x) is True
    # BLAS may fuse the multiply-add (one rounding instead of two): equal to an ulp of the operands
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)


@needs_blas
def test_axpy_multidimensional_and_readonly_x():
    y = np.ones((N // 64, 64), np.float32)
    x = np.full((N // 64, 64), 3.0, np.float32)
    x.flags.writeable = False
    assert _blas.axpy(y, -0.5, x)
    assert np.all(y == -0.5)


@needs_blas
def test_axpy_same_array():
    y = np.full(N, 2.0, np.float32)
    assert _blas.axpy(y, 0.5, y)
    assert np.all(y == 3.0)


@pytest.mark.parametrize("case", ["small", "dtype", "shape", "strided", "readonly", "int", "overlap", "zero",
                                  "scalar", "list"])
def test_axpy_declines_and_leaves_y(case):
    y = np.ones(N, np.float32)
    x = np.full(N, 2.0, np.float32)
    alpha = 0.5
    if case == "small":
        y, x = y[:16], x[:16]
    elif case == "dtype":
        x = x.astype(np.float64)
    elif case == "shape":
        x = x.reshape(2, -1)
    elif case == "strided":
        y = np.ones(2 * N, np.float32)[::2]
    elif case == "readonly":
        y.flags.writeable = False
    elif case == "int":
        y, x = y.astype(np.int32), x.astype(np.int32)
    elif case == "overlap":
        buf = np.ones(N + 8, np.float32)
        y, x = buf[8:], buf[:-8]
    elif case == "zero":
        x[0] = np.inf
        alpha = 0.0  # BLAS skips alpha == 0; numpy's 0 * inf = nan must stay the caller's job
    elif case == "scalar":
        x = np.float32(2.0)
    elif case == "list":
        x = list(range(N))
    before = y.copy()
    assert _blas.axpy(y, alpha, x) is False
    np.testing.assert_array_equal(y, before)


@needs_blas
def test_one_blas_library_loaded():
    # opening numpy's OpenBLAS by its file path must not load a second copy (own thread pool);
    # other tests may have loaded other BLAS libraries (torch, scipy): count numpy's only
    threadpoolctl = pytest.importorskip("threadpoolctl")
    tensorplug.set_num_threads(tensorplug.get_num_threads())
    _blas.axpy(np.ones(N, np.float32), 1.0, np.ones(N, np.float32))
    libs = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert [p["filepath"] for p in libs].count(blas.filepath) == 1
    if "scipy" not in sys.modules and "torch" not in sys.modules:
        assert len(libs) == 1


@needs_blas
def test_thread_count_roundtrip():
    old = tensorplug.get_num_threads()
    try:
        tensorplug.set_num_threads(1)
        assert blas.get_num_threads() == 1
        assert tensorplug.get_num_threads() == 1
    finally:
        tensorplug.set_num_threads(old)
    assert tensorplug.get_num_threads() == old


@needs_blas
def test_sgd_on_the_blas_path_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((256, 200)).astype(np.float32)  # above AXPY_MIN: the BLAS path
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    for kwargs in (dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, nesterov=True,
                                                                   weight_decay=1e-3)):
        ours = tensorplug.tensor(w0.copy(), requires_grad=True)
        theirs = torch.tensor(w0.copy(), requires_grad=True)
        o1 = tensorplug.optim.SGD([ours], **kwargs)
        o2 = torch.optim.SGD([theirs], **kwargs)
        for g in grads:
            ours.grad = tensorplug.tensor(g)
            theirs.grad = torch.tensor(g)
            o1.step()
            o2.step()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


# linear: the GEMM adds into the broadcast bias (beta 1) --------------------------------------------

@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n", [(512, 128, 384), (256, 1000, 130), (4096, 3, 8)])
def test_linear_matches_matmul_and_add(dtype, m, k, n):
    rng = np.random.default_rng(m + k)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    out = _backend().fused_linear(x, w, b)
    assert out is not NotImplemented and out.dtype == dtype and out.shape == (m, n)
    want = x @ w.T + b
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.sqrt(k))


@needs_blas
def test_linear_reads_readonly_operands_and_keeps_them():
    x = np.arange(512 * 64, dtype=np.float32).reshape(512, 64) / 1000
    w = np.linspace(-1, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    b = np.full(64, np.inf, np.float32)
    b[1] = np.nan
    for a in (x, w, b):
        a.flags.writeable = False
    before = [a.copy() for a in (x, w, b)]
    out = _blas.linear(x, w, b)
    assert out is not NotImplemented
    assert np.isposinf(out[:, 0]).all() and np.isnan(out[:, 1]).all()  # inf + finite, nan as numpy's add
    for a, was in zip((x, w, b), before):
        np.testing.assert_array_equal(a, was)


@needs_blas
@pytest.mark.parametrize("case", ["small", "float16", "int64", "mixed dtypes", "x transposed", "w transposed",
                                  "3-d x", "bias shape", "inner size", "empty inner", "subclass"])
def test_linear_declines(case):
    m, k, n = 512, 64, 128
    x, w, b = np.ones((m, k), np.float32), np.ones((n, k), np.float32), np.ones(n, np.float32)
    if case == "small":
        x = np.ones((8, k), np.float32)
    elif case in ("float16", "int64"):
        x, w, b = (a.astype(case) for a in (x, w, b))
    elif case == "mixed dtypes":
        b = b.astype(np.float64)
    elif case == "x transposed":
        x = np.ones((k, m), np.float32).T
    elif case == "w transposed":
        w = np.ones((k, n), np.float32).T
    elif case == "3-d x":
        x = x.reshape(8, 64, k)
    elif case == "bias shape":
        b = np.ones((1, n), np.float32)
    elif case == "inner size":
        w = np.ones((n, k + 1), np.float32)
    elif case == "empty inner":
        x, w = np.ones((m, 0), np.float32), np.ones((n, 0), np.float32)
    elif case == "subclass":
        x = np.ma.masked_array(x)
    assert _blas.linear(x, w, b) is NotImplemented


@needs_blas
@pytest.mark.parametrize("rows", [2, 5, 16])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_few_rows_take_the_swapped_product(rows, bias):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 128)).astype(np.float32)
    w = rng.standard_normal((384, 128)).astype(np.float32)
    b = rng.standard_normal(384).astype(np.float32) if bias else None
    out = _blas.linear(x, w, b)
    assert out is not NotImplemented and out.dtype == np.float32 and out.flags.c_contiguous
    want = x @ w.T + (0 if b is None else b)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


@needs_blas
@pytest.mark.parametrize("case", ["one row", "17 rows, no bias", "float64, no bias", "small weight"])
def test_linear_few_rows_declines(case):
    rows, dtype, (n, k) = 4, np.float32, (384, 128)
    if case == "one row":
        rows = 1
    elif case == "17 rows, no bias":
        rows = 17
    elif case == "float64, no bias":
        dtype = np.float64
    else:
        n, k = 64, 128
    x, w = np.ones((rows, k), dtype), np.ones((n, k), dtype)
    assert _blas.linear(x, w, None) is NotImplemented


@pytest.fixture
def linear_calls(monkeypatch):
    """Whether each of the backend's ``fused_linear`` calls took a path (False: it declined)."""
    taken = []

    def spy(x, w, b):
        out = _blas.linear(x, w, b)
        taken.append(out is not NotImplemented)
        return out
    monkeypatch.setattr(type(_backend()), "fused_linear", staticmethod(spy))
    return taken


@needs_blas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nn_linear_on_the_fused_path_matches_torch(dtype, linear_calls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 64, 128)).astype(dtype)  # 512 rows x 384: above LINEAR_MIN
    w = rng.standard_normal((384, 128)).astype(dtype) / 10
    b = rng.standard_normal(384).astype(dtype)
    ours = tensorplug.nn.Linear(128, 384, dtype=getattr(tensorplug, dtype))
    with tensorplug.no_grad():
        ours.weight.copy_(tensorplug.tensor(w))
        ours.bias.copy_(tensorplug.tensor(b))
    xt = tensorplug.tensor(x, requires_grad=True)
    y = ours(xt)
    y.sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.linear(tx, torch.tensor(w, requires_grad=True), torch.tensor(b))
    ty.sum().backward()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    assert linear_calls == [True]


@needs_blas
def test_nn_linear_without_bias_at_a_few_rows_matches_torch(linear_calls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 256)).astype(np.float32)
    w = rng.standard_normal((1024, 256)).astype(np.float32) / 16
    ours = tensorplug.nn.Linear(256, 1024, bias=False)
    with tensorplug.no_grad():
        ours.weight.copy_(tensorplug.tensor(w))
    xt = tensorplug.tensor(x, requires_grad=True)
    y = ours(xt)
    (y * y).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.linear(tx, tw)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert linear_calls == [True]
