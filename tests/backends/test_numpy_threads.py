"""The NumPy backend's batch-split kernels: 2 threads give the 1-thread results, and match torch."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F

_conv = pytest.importorskip("tensorplug_numpy._conv")
_threads = pytest.importorskip("tensorplug_numpy._threads")
_blas = pytest.importorskip("tensorplug_numpy._blas")
pytestmark = pytest.mark.skipif(_blas.load() is None, reason="numpy is not built on a findable OpenBLAS")

rng = np.random.default_rng(0)
P1 = ((1, 1), (1, 1))
ONE = (1, 1)


@pytest.fixture
def threads():
    """Run with n threads and tiny parts (so small test shapes split), restoring the thread count."""
    old = tensorplug.get_num_threads()
    saved = _conv._MIN_PART, _conv._CHUNK

    def use(n, chunk=None):
        tensorplug.set_num_threads(n)
        _conv._MIN_PART = 1
        _conv._CHUNK = saved[1] if chunk is None else chunk

    yield use
    _conv._MIN_PART, _conv._CHUNK = saved
    tensorplug.set_num_threads(old)


def _backend():
    return tensorplug.tensor([1.0])._backend


def _kernels(dtype, stride=ONE, pads=P1, dilation=ONE, groups=1):
    b = _backend()
    x = rng.standard_normal((7, 4, 9, 8)).astype(dtype)
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(dtype)
    bias = rng.standard_normal(6).astype(dtype)
    y = b.conv_bias(x, w, bias, stride, pads, dilation, groups)
    g = rng.standard_normal(y.shape).astype(dtype)
    gx = b.conv_input_grad(g, w, x.shape, stride, pads, dilation, groups)
    gw = b.conv_weight_grad(x, g, w.shape, stride, pads, dilation, groups)
    gw2, gb = b.conv_weight_bias_grad(x, g, w.shape, stride, pads, dilation, groups)
    np.testing.assert_array_equal(gw, gw2)
    np.testing.assert_allclose(gb, g.sum((0, 2, 3)), rtol=1e-5, atol=1e-4)
    xr = np.maximum(x, 0)  # ties (zeros) in the pooling windows: the first one must win
    v, i = b.max_pool(xr, (2, 2), (2, 2), ((0, 0), (0, 0)), ONE)
    v3, i3 = b.max_pool(x, (3, 2), (2, 1), ((1, 1), (1, 0)), (1, 2))
    un = b.max_unpool(v, i, xr.shape, unique=True)
    return y, gx, gw, v, i, v3, i3, un


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk", [None, 1])
@pytest.mark.parametrize("geometry", [dict(), dict(stride=(2, 1)), dict(groups=2, dilation=(2, 1)),
                                      dict(pads=((0, 0), (0, 0)))])
@pytest.mark.parametrize("wide", [False, True])
def test_two_threads_give_the_one_thread_results(threads, dtype, chunk, geometry, wide, monkeypatch):
    monkeypatch.setattr(_conv, "_WIDE_WINDOW", 1 if wide else 10 ** 9)  # both weight-grad layouts
    state = rng.bit_generator.state
    threads(1, chunk)
    one = _kernels(dtype, **geometry)
    rng.bit_generator.state = state
    threads(2, chunk)
    two = _kernels(dtype, **geometry)
    names = ["conv", "input grad", "weight grad", "pool values", "pool index", "pool3 values", "pool3 index",
             "unpool"]
    for name, a, b in zip(names, one, two):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if name == "weight grad":  # the parts' partial sums are added: equal to rounding
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_split_really_uses_another_thread(threads):
    threads(2)
    seen = _threads.split(lambda s, e: (s, e, threading.get_ident()), 10)
    assert [p[:2] for p in seen] == [(0, 5), (5, 10)]
    assert seen[0][2] == threading.get_ident() != seen[1][2]
    # BLAS is back at 2 threads after the split (it is pinned to 1 while the parts run)
    assert _blas.load().get_num_threads() == 2
    inside = _threads.split(lambda s, e: _blas.load().get_num_threads(), 10)
    assert inside == [1, 1]


def test_split_reraises_a_workers_error_and_restores_blas(threads):
    threads(2)

    def fail_second(s, e):
        if s:
            raise ValueError("part failed")
        return s

    with pytest.raises(ValueError, match="part failed"):
        _threads.split(fail_second, 4)
    assert _blas.load().get_num_threads() == 2
    assert _threads.split(lambda s, e: e - s, 4) == [2, 2]  # the pool still works


def test_one_thread_runs_one_part(threads):
    threads(1)
    assert _threads.split(lambda s, e: (s, e, threading.get_ident()), 10) == [(0, 10, threading.get_ident())]


def test_cnn_step_with_two_threads_matches_torch(threads):
    torch = pytest.importorskip("torch")
    threads(2)

    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(1, 8, 3, padding=1), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                                 lib.nn.Conv2d(8, 16, 3, padding=1), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                                 lib.nn.Flatten(), lib.nn.Linear(16 * 7 * 7, 10))

    ours, theirs = build(tensorplug), build(torch)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    loss = F.cross_entropy(ours(tensorplug.tensor(x)), tensorplug.tensor(y))
    loss.backward()
    ref = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_double_backward_through_conv_still_builds_a_graph(threads):
    # fast_backward is for create_graph=False only: the graph of the backward must still work
    threads(2)
    x = tensorplug.randn(3, 2, 6, 6, dtype=tensorplug.float64, requires_grad=True)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    (gx,) = tensorplug.autograd.grad(conv(x).pow(2).sum(), x, create_graph=True)
    assert gx.requires_grad
    gx.sum().backward()
    assert conv.weight.grad is not None and np.isfinite(conv.weight.grad.numpy()).all()


def _conv_in_child(queue):
    x = np.ones((8, 2, 6, 6), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    queue.put(float(_backend().conv(x, w, ONE, P1, ONE, 1).sum()))


def test_forked_child_splits_without_the_parents_threads(threads):
    # the pool's threads do not exist in a forked child (DataLoader workers): it must start its own
    import multiprocessing
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    threads(2)
    x = np.ones((8, 2, 6, 6), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    want = float(_backend().conv(x, w, ONE, P1, ONE, 1).sum())  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_conv_in_child, args=(queue,))
    proc.start()
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        pytest.fail("the forked child hung in a split")
    assert proc.exitcode == 0
    assert queue.get(timeout=5) == want


def _training(steps=2):
    """A few training steps of a small CNN and an LSTM on fixed data: final parameters and losses.

    The CNN's weight gradients are sums of per-part partial sums (the batch split over threads),
    so a split that changed with load would change their rounding. (The LSTM is small enough that
    its bias gradient, a ones-vector GEMV, stays under OpenBLAS's threading threshold: a bigger
    threaded GEMV rounds differently while another thread's split has BLAS pinned to 1.)"""
    gen = np.random.default_rng(5)
    cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    lstm = nn.LSTM(16, 8)
    params = list(cnn.parameters()) + list(lstm.parameters())
    with tensorplug.no_grad():
        for p in params:
            p.copy_(tensorplug.tensor(gen.standard_normal(tuple(p.shape)).astype("float32") * 0.1))
    opt = tensorplug.optim.SGD(params, lr=0.1)
    images = tensorplug.tensor(gen.standard_normal((64, 1, 28, 28)).astype("float32"))
    sequence = tensorplug.tensor(gen.standard_normal((12, 16, 16)).astype("float32"))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out, _ = lstm(sequence)
        loss = (cnn(images) ** 2).mean() + (out * out).mean()
        loss.backward()
        opt.step()
        losses.append(loss.detach().numpy())
    return [p.detach().numpy().copy() for p in params] + losses


def _assert_bits_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_the_split_follows_the_configured_count_while_blas_is_pinned():
    """issue 12 item 5: while another user thread's split has BLAS pinned to one thread, a split
    still makes as many parts as configured (it used to read the pinned 1 and make one)."""
    old = tensorplug.get_num_threads()
    tensorplug.set_num_threads(2)
    try:
        _threads._pin_blas(2)  # as another thread's split does
        try:
            assert tensorplug.get_num_threads() == 2
            with _threads._config_lock:  # BLAS itself says 1 meanwhile
                assert _blas.load().get_num_threads() == 1
            spans = []
            lock_free = threading.Event()

            def other_caller():
                _threads.split(lambda s, e: spans.append((s, e)), 100, 10)
                lock_free.set()

            with _threads._lock:  # the other split is still running: the caller waits for it
                caller = threading.Thread(target=other_caller)
                caller.start()
                assert not lock_free.wait(0.05)
        finally:
            _threads._pin_blas(-2)
        caller.join()
        assert sorted(spans) == [(0, 50), (50, 100)]
    finally:
        tensorplug.set_num_threads(old)


def test_training_from_two_threads_is_bit_identical():
    old = tensorplug.get_num_threads()
    tensorplug.set_num_threads(2)
    try:
        alone = _training()
        results = [None, None]

        def run(i):
            results[i] = _training()

        workers = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        tensorplug.set_num_threads(old)
    for r in results:
        _assert_bits_equal(alone, r)
