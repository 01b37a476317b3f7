"""The NumPy backend's ctypes view of numpy's own OpenBLAS: axpy and the thread-count switch."""
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
