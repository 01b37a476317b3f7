"""The CuPy backend's fast convolution and pooling paths (backends/tensorplug_cupy/_fastpaths.py).

Without a GPU: the very CUDA C source of the kernels is compiled with the host
C++ compiler (the grid-stride loop then runs every index in one "thread") and
the tier's driver code (layouts, GEMMs, 1-D as 2-D, groups) runs on NumPy
arrays against the NumPy backend; nvcc, where installed, checks the source
compiles as CUDA; the tier dispatcher is exercised with the real KernelOps.
On a GPU (``-m gpu``): the cuDNN tier (where CuPy has it) and the kernels tier
against the default ArrayAPIBackend implementation on random inputs.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import shutil
import subprocess

import numpy as np
import pytest

import tensorplug
import tensorplug_cupy
from tensorplug_cupy import _kernels
from tensorplug_cupy._fastpaths import Dispatcher, KernelOps, agree, as_2d

from host_cuda import compile_for_host

GPU = tensorplug.cuda.is_available()

# (N, C, spatial, O, window, stride, pads, dilation, groups)
CASES_2D = [
    (2, 3, (7, 6), 4, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    (2, 4, (8, 9), 6, (3, 2), (2, 1), ((1, 1), (0, 0)), (1, 1), 2),
    (1, 2, (9, 9), 4, (3, 3), (2, 3), ((2, 2), (1, 1)), (2, 1), 1),
    (3, 6, (5, 7), 6, (2, 3), (1, 2), ((1, 0), (0, 2)), (1, 2), 3),  # asymmetric pads, depthwise-ish
    (2, 1, (28, 28), 16, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # the benchmark's first layer
]
CASES_1D = [
    (2, 3, (11,), 4, (3,), (2,), ((1, 1),), (2,), 1),
    (2, 4, (10,), 4, (4,), (1,), ((0, 3),), (1,), 4),
]


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """The kernel source compiled for the CPU: {dtype name: ctypes library}."""
    return compile_for_host(_kernels.SOURCE, tmp_path_factory)


@pytest.fixture(scope="module")
def host_ops(host_kernels):
    calls = []

    def launch(name, dtype, total, arrays, ints):
        assert len(arrays) == _kernels.KERNELS[name]
        for a in arrays:
            assert a.flags.c_contiguous
        calls.append(name)
        fn = getattr(host_kernels[np.dtype(dtype).name], name)
        fn.restype = None
        fn(*(ctypes.c_void_p(a.ctypes.data) for a in arrays), *(ctypes.c_longlong(int(v)) for v in ints))

    ops = KernelOps(np, launch)
    ops.calls = calls
    return ops


@pytest.fixture(scope="module")
def ref():
    return tensorplug.get_backend("numpy")


def _default(ref, name):
    return getattr(tensorplug.ArrayAPIBackend, name).__get__(ref)


def _inputs(case, dtype, seed=0):
    n, c, spatial, o, window, stride, pads, dilation, groups = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + spatial).astype(dtype)
    w = rng.standard_normal((o, c // groups) + window).astype(dtype)
    return x, w, stride, pads, dilation, groups


def _close(a, b, dtype):
    tol = 1e-4 if dtype == "float32" else 1e-11
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES_2D + CASES_1D)
def test_host_compiled_conv_family_matches_default(host_ops, ref, case, dtype):
    x, w, stride, pads, dilation, groups = _inputs(case, dtype)
    y = host_ops.conv(x, w, stride, pads, dilation, groups)
    _close(y, _default(ref, "conv")(x, w, stride, pads, dilation, groups), dtype)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    gx = host_ops.conv_input_grad(g, w, x.shape, stride, pads, dilation, groups)
    _close(gx, _default(ref, "conv_input_grad")(g, w, x.shape, stride, pads, dilation, groups), dtype)
    gw = host_ops.conv_weight_grad(x, g, w.shape, stride, pads, dilation, groups)
    _close(gw, _default(ref, "conv_weight_grad")(x, g, w.shape, stride, pads, dilation, groups), dtype)


@pytest.mark.parametrize("case", [CASES_2D[0], CASES_2D[1], CASES_1D[0], CASES_1D[1]])
def test_host_compiled_conv_bias_adds_the_bias_in_the_layout_kernel(host_ops, ref, case):
    x, w, stride, pads, dilation, groups = _inputs(case, "float64")
    b = np.random.default_rng(2).standard_normal(w.shape[0])
    del host_ops.calls[:]
    y = host_ops.conv_bias(x, w, b, stride, pads, dilation, groups)
    expected = _default(ref, "conv")(x, w, stride, pads, dilation, groups) + b.reshape((-1,) + (1,) * (x.ndim - 2))
    _close(y, expected, "float64")
    if groups == 1:  # one GEMM, the bias added by the kernel that lays out (N, O, L)
        assert host_ops.calls == ["tp_im2col", "tp_swap01"]


def test_host_compiled_conv_input_grad_leaves_unreached_rows_zero(host_ops, ref):
    # stride 2 over 8 rows with a 3-window: the last input row feeds no output
    x, w, *_ = _inputs((1, 2, (8, 8), 3, (3, 3), None, None, None, 1), "float64")
    g = np.ones((1, 3, 3, 3))
    gx = host_ops.conv_input_grad(g, w, x.shape, (2, 2), ((0, 0), (0, 0)), (1, 1), 1)
    assert np.all(gx[..., 7, :] == 0) and np.all(gx[..., :, 7] == 0)
    _close(gx, _default(ref, "conv_input_grad")(g, w, x.shape, (2, 2), ((0, 0), (0, 0)), (1, 1), 1), "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("window,stride,pads,dilation", [
    ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
    ((3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ((3, 2), (1, 2), ((1, 2), (0, 1)), (2, 1)),  # ceil-mode style extra right padding
    ((3,), (2,), ((1, 1),), (1,)),
])
def test_host_compiled_max_pool_and_unpool_match_default(host_ops, ref, window, stride, pads, dilation, dtype):
    k = len(window)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3) + (9, 8)[:k] if k == 2 else (2, 3, 11)).astype(dtype)
    x[0, 0].flat[:4] = 1.5  # ties: the first maximum wins
    v, i = host_ops.max_pool(x, window, stride, pads, dilation)
    rv, ri = _default(ref, "max_pool")(x, window, stride, pads, dilation)
    _close(v, rv, dtype)
    assert i.dtype == np.int64 and np.array_equal(i, ri)
    # the numpy backend's own max_pool agrees too (same tie rule)
    nv, ni = ref.max_pool(x, window, stride, pads, dilation)
    assert np.array_equal(i, ni)
    g = rng.standard_normal(v.shape).astype(dtype)
    out = host_ops.max_unpool(g, i, x.shape)
    _close(out, _default(ref, "max_unpool")(g, i, x.shape), dtype)


def test_host_compiled_max_pool_nan_wins_like_torch(host_ops, ref):
    x = np.arange(16, dtype="float32").reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 1, 0] = np.nan
    v, i = host_ops.max_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    nv, ni = ref.max_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    assert np.isnan(v[0, 0, 0, 0]) and i[0, 0, 0, 0] == 4  # the last NaN in the window, as numpy backend / torch
    assert np.array_equal(i, ni)
    np.testing.assert_array_equal(v, nv)


def test_kernel_ops_decline_what_they_do_not_cover(host_ops):
    x3 = np.zeros((1, 1, 4, 4, 4), "float32")
    w3 = np.zeros((1, 1, 2, 2, 2), "float32")
    assert host_ops.conv(x3, w3, (1, 1, 1), ((0, 0),) * 3, (1, 1, 1), 1) is NotImplemented
    xh = np.zeros((1, 1, 4, 4), "float16")
    assert host_ops.conv(xh, np.zeros((1, 1, 2, 2), "float16"), (1, 1), ((0, 0),) * 2, (1, 1), 1) is NotImplemented
    assert host_ops.max_pool(np.zeros((1, 1, 4, 4), "int32"), (2, 2), (2, 2), ((0, 0),) * 2, (1, 1)) is NotImplemented
    assert as_2d((3,), (2,), ((1, 0),), (1,)) == ((1, 3), (1, 2), ((0, 0), (1, 0)), (1, 1))


def test_dispatcher_uses_kernels_and_falls_back_on_failure(host_ops, ref):
    x, w, stride, pads, dilation, groups = _inputs(CASES_2D[1], "float64")
    default = _default(ref, "conv")
    d = Dispatcher(np, {"conv": [("kernels", host_ops)]})
    assert d.status()["conv"].startswith("not used yet (candidates: kernels, default)")
    _close(d.run("conv", "conv", (x, w, stride, pads, dilation, groups), default),
           default(x, w, stride, pads, dilation, groups), "float64")
    assert d.status()["conv"] == "kernels"
    # a 3-D conv is declined: served by the default, the kernels tier stays live
    x3, w3 = np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))
    d.run("conv", "conv", (x3, w3, (1,) * 3, ((0, 0),) * 3, (1,) * 3, 1), default)
    assert d.status()["conv"] == "kernels+default" and d.tiers["conv"]

    # a tier whose launch fails is dropped for good, with its traceback kept
    def broken(*a):
        raise RuntimeError("nvrtc: compilation failed")

    d2 = Dispatcher(np, {"conv": [("kernels", KernelOps(np, broken))]})
    out = d2.run("conv", "conv", (x, w, stride, pads, dilation, groups), default)
    _close(out, default(x, w, stride, pads, dilation, groups), "float64")
    assert d2.tiers["conv"] == []
    assert "kernels dropped: conv raised RuntimeError: nvrtc: compilation failed" in d2.status()["conv"]
    assert "Traceback" in d2.errors["conv/kernels"]

    # a tier that computes a wrong answer is caught by the first-call check
    def wrong(name, dtype, total, arrays, ints):
        host_ops.launch(name, dtype, total, arrays, ints)
        arrays[-1][...] += 1

    d3 = Dispatcher(np, {"conv": [("kernels", KernelOps(np, wrong))]}, check=True)
    _close(d3.run("conv", "conv", (x, w, stride, pads, dilation, groups), default),
           default(x, w, stride, pads, dilation, groups), "float64")
    assert "disagreed with the default" in d3.status()["conv"]


def test_agree_tolerates_tf32_not_indexing_errors():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)).astype("float32")
    assert agree(a * (1 + 1e-3), a, np)
    assert not agree(np.roll(a, 1), a, np)
    assert not agree(a.astype("float64"), a, np)
    i = np.arange(20).reshape(4, 5)
    assert agree((a, i), (a, i), np) and not agree((a, i + 1), (a, i), np)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_kernel_source_compiles_as_cuda(tmp_path, ctype):
    src = tmp_path / "k.cu"
    src.write_text(f"typedef {ctype} T;\n" + _kernels.SOURCE)
    r = subprocess.run(["nvcc", "-ptx", "-arch=compute_80", "-o", str(tmp_path / "k.ptx"), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ptx = (tmp_path / "k.ptx").read_text()
    for name in _kernels.KERNELS:
        assert f".entry {name}(" in ptx


@pytest.mark.skipif(not tensorplug_cupy._importable("cupy"), reason="cupy not installed")
def test_backend_status_names_the_candidates_and_why_cudnn_is_skipped():
    # the real CupyBackend class; its constructor needs a device, so only the fast-path state is set up
    from tensorplug_cupy.backend import CupyBackend
    b = object.__new__(CupyBackend)
    b._dev, b._fast, b._cudnn_reason = contextlib.nullcontext(), None, None
    b._fused, b._fused_off, b._fused_used = None, None, set()
    status = b.fastpath_status
    assert set(status) == {"conv", "max_pool", "max_unpool", "fused"}
    assert status["fused"] == "kernels: not used yet"
    assert status["max_pool"] == "not used yet (candidates: kernels, default)"
    conv = status["conv"]
    assert conv.startswith("not used yet (candidates: cudnn, kernels, default)") or (
        conv.startswith("not used yet (candidates: kernels, default); cudnn skipped: ") and "cudnn" in conv[60:])
    assert b.fastpath_errors == {}


# on a GPU -------------------------------------------------------------------------------------
GPU_CASES = CASES_2D + CASES_1D + [
    (8, 16, (13, 13), 32, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # the benchmark's second layer
    (2, 4, (9, 10), 8, (3, 3), (2, 2), ((1, 1), (1, 1)), (2, 2), 2),
    (2, 3, (6, 5, 4), 2, (2, 2, 2), (1, 1, 1), ((1, 1), (0, 0), (1, 1)), (1, 1, 1), 1),  # 3-D: cudnn only
]


@pytest.fixture(scope="module")
def gpu_backend():
    return tensorplug.get_backend("cupy")


@functools.lru_cache(maxsize=None)
def _gpu_tiers():
    from tensorplug_cupy import _fastpaths
    import cupy
    tiers = [("kernels", _fastpaths.KernelOps(cupy, _fastpaths.gpu_launcher()))]
    reason = _fastpaths.cudnn_unavailable_reason()
    tiers.append(("cudnn", _fastpaths.CudnnOps() if reason is None else reason))
    return tiers


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("tier", ["kernels", "cudnn"])
@pytest.mark.parametrize("case", GPU_CASES, ids=[f"case{i}" for i in range(len(GPU_CASES))])
def test_gpu_fast_tiers_match_default(gpu_backend, case, dtype, tier):
    import cupy
    ops = dict(_gpu_tiers())[tier]
    if isinstance(ops, str):
        pytest.skip(ops)
    x, w, stride, pads, dilation, groups = (cupy.asarray(a) if isinstance(a, np.ndarray) else a
                                            for a in _inputs(case, dtype))
    base = tensorplug.ArrayAPIBackend
    y = ops.conv(x, w, stride, pads, dilation, groups)
    if y is NotImplemented:
        pytest.skip(f"{tier} does not cover this case")
    tol = 5e-3 if dtype == "float32" else 1e-9  # cuDNN may use TF32 for float32
    ref = base.conv(gpu_backend, x, w, stride, pads, dilation, groups)
    assert y.shape == ref.shape and y.dtype == ref.dtype
    cupy.testing.assert_allclose(y, ref, rtol=tol, atol=tol * float(abs(ref).max()))
    g = cupy.asarray(np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(dtype))
    gx = ops.conv_input_grad(g, w, tuple(x.shape), stride, pads, dilation, groups)
    rgx = base.conv_input_grad(gpu_backend, g, w, tuple(x.shape), stride, pads, dilation, groups)
    assert gx.shape == rgx.shape
    cupy.testing.assert_allclose(gx, rgx, rtol=tol, atol=tol * float(abs(rgx).max()))
    gw = ops.conv_weight_grad(x, g, tuple(w.shape), stride, pads, dilation, groups)
    rgw = base.conv_weight_grad(gpu_backend, x, g, tuple(w.shape), stride, pads, dilation, groups)
    assert gw.shape == rgw.shape
    cupy.testing.assert_allclose(gw, rgw, rtol=tol, atol=tol * float(abs(rgw).max()))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gpu_kernels_max_pool_and_unpool_match_default(gpu_backend, dtype):
    import cupy
    ops = dict(_gpu_tiers())["kernels"]
    base = tensorplug.ArrayAPIBackend
    rng = np.random.default_rng(3)
    for window, stride, pads, dilation in [((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
                                           ((3, 3), (2, 2), ((1, 1), (1, 2)), (1, 1)),
                                           ((3,), (2,), ((1, 1),), (2,))]:
        shape = (4, 5, 11) if len(window) == 1 else (4, 5, 12, 11)
        x = cupy.asarray(rng.standard_normal(shape).astype(dtype))
        v, i = ops.max_pool(x, window, stride, pads, dilation)
        rv, ri = base.max_pool(gpu_backend, x, window, stride, pads, dilation)
        cupy.testing.assert_array_equal(v, rv)
        cupy.testing.assert_array_equal(i, ri)
        g = cupy.asarray(rng.standard_normal(tuple(v.shape)).astype(dtype))
        out = ops.max_unpool(g, i, tuple(x.shape))
        cupy.testing.assert_allclose(out, base.max_unpool(gpu_backend, g, i, tuple(x.shape)), rtol=1e-6)


@pytest.mark.gpu
def test_gpu_backend_reports_fast_path_and_trains_a_conv(gpu_backend):
    import tensorplug.nn.functional as F
    x = tensorplug.randn(8, 3, 12, 12, device="cuda", requires_grad=True)
    w = tensorplug.randn(4, 3, 3, 3, device="cuda", requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    y.sum().backward()
    status = gpu_backend.fastpath_status
    print("\nfastpath_status:", status)
    for tb in gpu_backend.fastpath_errors.values():
        print(tb)
    assert set(status) == {"conv", "max_pool", "max_unpool", "fused"}
    assert status["conv"].split(";")[0] in ("cudnn", "kernels", "default")
    assert x.grad is not None and w.grad is not None and tuple(x.grad.shape) == (8, 3, 12, 12)
    # the same computation on the CPU backend
    xc = tensorplug.tensor(x.detach().cpu().numpy(), requires_grad=True)
    wc = tensorplug.tensor(w.detach().cpu().numpy(), requires_grad=True)
    F.max_pool2d(F.conv2d(xc, wc, padding=1), 2).sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), wc.grad.numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(x.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-2, atol=1e-2)
