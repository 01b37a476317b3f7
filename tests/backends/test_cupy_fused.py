"""The CuPy backend's fused optimizer updates, cross-entropy and LSTM step (backends/tensorplug_cupy/_fused*.py).

Without a GPU the very CUDA C source is compiled with the host C++ compiler
(one "thread" runs the grid-stride loop; a one-block reduction runs with one
thread) and ``FusedOps`` drives it on NumPy arrays. A NumPy backend whose
fused hooks call those kernels then runs the real frontend -- the optimizers,
``F.cross_entropy`` and ``nn.LSTM`` -- against PyTorch, so both the kernels and the
frontend's use of the hooks are checked. On a GPU (``-m gpu``): the real
CuPy backend against the NumPy backend.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import tensorplug
import tensorplug.nn.functional as F
import tensorplug_cupy
from tensorplug_cupy import _fused_kernels
from tensorplug_cupy._fused import MAX_CLASSES, FusedOps

from host_cuda import compile_for_host

torch = pytest.importorskip("torch")

_CSCALAR = {"float32": ctypes.c_float, "float64": ctypes.c_double}


@pytest.fixture(scope="module")
def host_ops(tmp_path_factory):
    """FusedOps over the kernels compiled for the CPU; ``ops.calls`` lists the kernels launched."""
    libs = compile_for_host(_fused_kernels.SOURCE, tmp_path_factory)
    calls = []

    def launch(name, dtype, total, arrays, ints, scalars=(), one_block=False):
        assert len(arrays) == _fused_kernels.KERNELS[name]
        assert all(a.flags.c_contiguous for a in arrays)
        calls.append(name)
        fn = getattr(libs[np.dtype(dtype).name], name)
        fn.restype = None
        ctype = _CSCALAR[np.dtype(dtype).name]
        fn(*(ctypes.c_void_p(a.ctypes.data) for a in arrays), *(ctypes.c_longlong(int(v)) for v in ints),
           *(ctype(v) for v in scalars))

    ops = FusedOps(np, launch)
    ops.calls = calls
    return ops


@pytest.fixture(scope="module")
def fused_backend(host_ops):
    """A NumPy backend whose fused hooks run the host-compiled kernels (the real frontend calls them)."""
    base = type(tensorplug.get_backend("numpy"))

    class HostFused(base):
        def axpy(self, y, alpha, x):
            return host_ops.axpy(y, alpha, x)

        def fused_sgd(self, *args, **kw):
            return host_ops.sgd(*args, **kw)

        def fused_adam(self, *args, **kw):
            return host_ops.adam(*args, **kw)

        def fused_rmsprop(self, *args, **kw):
            return host_ops.rmsprop(*args, **kw)

        def fused_cross_entropy(self, *args):
            return host_ops.cross_entropy(*args)

        def fused_cross_entropy_backward(self, *args):
            return host_ops.cross_entropy_backward(*args)

        def fused_lstm_cell(self, *args):
            return host_ops.lstm_cell(*args)

        def fused_lstm_cell_backward(self, *args):
            return host_ops.lstm_cell_backward(*args)

    return HostFused()


def _on(backend, array, requires_grad=False):
    t = tensorplug.Tensor._make(np.ascontiguousarray(array), tensorplug.float64 if array.dtype == np.float64
                                else tensorplug.float32, backend)
    return t.requires_grad_(requires_grad)


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), maximize=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, alpha=0.9)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_host_compiled_updates_follow_torch(host_ops, fused_backend, name, options, dtype):
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (7,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(6)]
    ours = [_on(fused_backend, a.copy(), True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt = getattr(tensorplug.optim, name)(ours, **options)
    ref = getattr(torch.optim, name)(theirs, **options)
    del host_ops.calls[:]
    for step in grads:
        for p, q, g in zip(ours, theirs, step):
            p.grad = _on(fused_backend, g)
            q.grad = torch.tensor(g)
        opt.step()
        ref.step()
    kernel = {"SGD": "tp_sgd", "Adam": "tp_adam", "AdamW": "tp_adam", "RMSprop": "tp_rmsprop"}[name]
    assert host_ops.calls == [kernel] * (len(grads) * len(shapes))  # every update went through the kernel
    tol = 1e-12 if dtype == "float64" else 2e-5
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=tol, atol=tol)
    # the state is torch's too, and checkpoints round-trip
    key = {"SGD": "momentum_buffer", "RMSprop": "square_avg"}.get(name, "exp_avg_sq")
    if key in opt.state[ours[0]]:
        np.testing.assert_allclose(opt.state[ours[0]][key].numpy(), ref.state[theirs[0]][key].numpy(),
                                   rtol=tol, atol=tol)


def test_host_compiled_axpy_and_declines(host_ops):
    y = np.arange(6.0)
    assert host_ops.axpy(y, -0.5, np.ones(6)) is True
    np.testing.assert_array_equal(y, np.arange(6.0) - 0.5)
    assert host_ops.axpy(y, 2.0, np.ones(6, dtype="float32")) is False  # mixed dtypes: the array code
    assert host_ops.axpy(np.zeros((3, 4)).T, 2.0, np.ones((4, 3))) is False  # not contiguous
    assert host_ops.adam(np.zeros(3, dtype="float16"), np.zeros(3, dtype="float16"), np.zeros(3, "float16"),
                         np.zeros(3, "float16"), None, sign=1.0, weight_decay=0.0, decay=1.0, beta1=0.9,
                         beta2=0.99, step_size=0.1, eps=1e-8) is False


def _ce_case(dtype, m=9, c=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, c)).astype(dtype) * 3
    t = rng.integers(0, c, m)
    t[2] = -100
    t[5] = 3
    return x, t


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_host_compiled_cross_entropy_follows_torch(host_ops, fused_backend, reduction, dtype):
    x, t = _ce_case(dtype)
    xs = _on(fused_backend, x, True)
    del host_ops.calls[:]
    loss = F.cross_entropy(xs, _on_int(fused_backend, t), reduction=reduction)
    assert host_ops.calls == ["tp_ce_forward", "tp_ce_reduce"]
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction=reduction)
    g = np.linspace(0.5, 2, 9).astype(dtype) if reduction == "none" else None
    loss.backward(None if g is None else _on(fused_backend, g))
    ref.backward(None if g is None else torch.tensor(g))
    assert host_ops.calls[-1] == "tp_ce_backward"
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(loss.detach().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def _on_int(backend, array):
    return tensorplug.Tensor._make(np.ascontiguousarray(array, dtype=np.int64), tensorplug.int64, backend)


def test_host_compiled_cross_entropy_double_backward_and_edge_cases(host_ops, fused_backend):
    x, t = _ce_case("float64")
    xs = _on(fused_backend, x, True)
    # create_graph: the fused forward's saved values feed the differentiable backward
    loss = F.cross_entropy(xs, _on_int(fused_backend, t))
    (gx,) = tensorplug.autograd.grad(loss, xs, create_graph=True)
    (gx.square().sum()).backward()
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(t)), xt, create_graph=True)
    gt.square().sum().backward()
    np.testing.assert_allclose(gx.detach().numpy(), gt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    # every target ignored: nan like torch, and zero gradient
    xs.grad = None
    loss = F.cross_entropy(xs, _on_int(fused_backend, np.full(9, -100)))
    assert np.isnan(loss.item())
    loss.backward()
    assert not xs.grad.numpy().any()
    # a target out of range: torch's IndexError, found by the kernel
    bad = t.copy()
    bad[4] = 6
    del host_ops.calls[:]
    with pytest.raises(IndexError, match=r"Target 6 is out of bounds"):
        F.cross_entropy(xs, _on_int(fused_backend, bad))
    assert host_ops.calls == ["tp_ce_forward", "tp_ce_reduce"]
    # what the kernel does not cover goes to the array code: class weights, too many classes
    del host_ops.calls[:]
    F.cross_entropy(xs, _on_int(fused_backend, t), weight=_on(fused_backend, np.ones(6)))
    F.cross_entropy(_on(fused_backend, np.zeros((2, MAX_CLASSES + 1))), _on_int(fused_backend, [0, 1]))
    assert host_ops.calls == []


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_host_compiled_lstm_step_follows_torch(host_ops, fused_backend, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 3, 5)).astype(dtype)
    h0, c0 = (rng.standard_normal((2, 3, 6)).astype(dtype) for _ in range(2))
    torch.manual_seed(0)
    ref = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=False).to(getattr(torch, dtype))
    ours = tensorplug.nn.LSTM(5, 6, num_layers=2).to(getattr(tensorplug, dtype))
    ours.load_state_dict({k: tensorplug.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    for p in ours.parameters():
        p.data = _on(fused_backend, p.detach().numpy())
    xs = _on(fused_backend, x, True)
    del host_ops.calls[:]
    out, (h, c) = ours(xs, (_on(fused_backend, h0), _on(fused_backend, c0)))
    (out.square().sum() + h.sum() + c.sum()).backward()
    # every step of both layers ran the kernels (and each layer's backward asked once with one row)
    assert host_ops.calls == ["tp_lstm_cell"] * (2 * 7) + ["tp_lstm_cell_backward"] * (2 * 8)
    tx = torch.tensor(x, requires_grad=True)
    t_out, (t_h, t_c) = ref(tx, (torch.tensor(h0), torch.tensor(c0)))
    (t_out.square().sum() + t_h.sum() + t_c.sum()).backward()
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, e in ((out, t_out), (h, t_h), (c, t_c), (xs.grad, tx.grad)):
        np.testing.assert_allclose(a.detach().numpy(), e.detach().numpy(), rtol=tol, atol=tol)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    half = np.zeros((2, 8), dtype="float16")
    assert host_ops.lstm_cell(half, half, half[:, :2], half[:, :2], half[:, :2], half[:, :2]) is NotImplemented


def test_fused_kernels_compile_with_nvcc(tmp_path):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not installed")
    src = tmp_path / "k.cu"
    src.write_text("typedef float T;\n" + _fused_kernels.SOURCE)
    r = subprocess.run(["nvcc", "-ptx", "-arch=compute_80", "-o", str(tmp_path / "k.ptx"), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


# on a GPU -------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("name,options", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_gpu_fused_updates_match_numpy(name, options):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((33, 17)).astype("float32")
    grads = [rng.standard_normal((33, 17)).astype("float32") for _ in range(5)]
    results = []
    for device in ("cpu", "cuda"):
        p = tensorplug.tensor(start, device=device, requires_grad=True)
        opt = getattr(tensorplug.optim, name)([p], **options)
        for g in grads:
            p.grad = tensorplug.tensor(g, device=device)
            opt.step()
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=2e-5, atol=2e-6)
    status = tensorplug.get_backend("cupy").fastpath_status["fused"]
    assert status.startswith("kernels:") and {"SGD": "sgd", "RMSprop": "rmsprop"}.get(name, "adam") in status


@pytest.mark.gpu
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gpu_fused_cross_entropy_matches_numpy(reduction):
    x, t = _ce_case("float32", m=300, c=10)
    out = []
    for device in ("cpu", "cuda"):
        xs = tensorplug.tensor(x, device=device, requires_grad=True)
        loss = F.cross_entropy(xs, tensorplug.tensor(t, device=device), reduction=reduction)
        loss.sum().backward()
        out.append((loss.detach().cpu().numpy(), xs.grad.cpu().numpy()))
    for a, b in zip(out[1], out[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert "cross_entropy" in tensorplug.get_backend("cupy").fastpath_status["fused"]
    bad = t.copy()
    bad[7] = 10
    with pytest.raises(IndexError, match="Target 10 is out of bounds"):
        F.cross_entropy(tensorplug.tensor(x, device="cuda"), tensorplug.tensor(bad, device="cuda"))


def test_module_imports_without_cupy():
    assert tensorplug_cupy is not None and FusedOps.__module__ == "tensorplug_cupy._fused"


def test_conformance_checks_the_fused_hooks(host_ops, fused_backend):
    from tensorplug.testing.conformance import CHECKS, ConformanceError
    del host_ops.calls[:]
    CHECKS["fused_updates"](fused_backend)
    CHECKS["fused_cross_entropy"](fused_backend)
    CHECKS["fused_lstm_cell"](fused_backend)
    CHECKS["fused_lstm_cell_backward"](fused_backend)
    assert {"tp_axpy", "tp_sgd", "tp_adam", "tp_rmsprop", "tp_ce_forward", "tp_ce_backward",
            "tp_lstm_cell", "tp_lstm_cell_backward"} <= set(host_ops.calls)

    class OffByOne(type(fused_backend)):
        def fused_adam(self, p, g, *args, **kw):
            done = super().fused_adam(p, g, *args, **kw)
            p += 1e-3
            return done

    with pytest.raises(ConformanceError, match="fused_adam parameter"):
        CHECKS["fused_updates"](OffByOne())


@pytest.mark.gpu
def test_gpu_fused_lstm_step_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 4, 8)).astype("float32")
    results = []
    for device in ("cpu", "cuda"):
        tensorplug.manual_seed(0)
        lstm = tensorplug.nn.LSTM(8, 16, num_layers=2).to(device)
        xs = tensorplug.tensor(x, device=device, requires_grad=True)
        out, (h, c) = lstm(xs)
        (out.square().sum() + h.sum() + c.sum()).backward()
        results.append([t.detach().cpu().numpy() for t in (out, h, c, xs.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert "lstm_cell, lstm_cell_backward" in tensorplug.get_backend("cupy").fastpath_status["fused"]
