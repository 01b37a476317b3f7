"""The NumPy backend's fused cross-entropy (backends/tensorplug_numpy/_fused.py) against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn.functional as F
from call_spy import record_calls

torch = pytest.importorskip("torch")

TARGETS = {
    "all valid": [1, 4, 0, 0, 3, 2, 4],
    "some ignored": [1, -100, 0, 0, -100, 2, 4],
    "ignore_index in range": [1, 4, 2, 0, 3, 2, 4],  # with ignore_index=2 below
}


@pytest.fixture
def calls(monkeypatch):
    """The real fused functions, with each call recorded (the test must see the fused path taken)."""
    return record_calls(monkeypatch, tensorplug.get_backend("numpy"), ("fused_cross_entropy", "fused_cross_entropy_backward"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", list(TARGETS))
def test_fused_cross_entropy_matches_torch(calls, case, reduction, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 5)) * 4).astype(dtype)
    t = np.array(TARGETS[case])
    ignore = 2 if case == "ignore_index in range" else -100
    ours = tensorplug.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    a = F.cross_entropy(ours, tensorplug.tensor(t), ignore_index=ignore, reduction=reduction)
    b = torch.nn.functional.cross_entropy(theirs, torch.tensor(t), ignore_index=ignore, reduction=reduction)
    g = np.linspace(0.5, 2, 7).astype(dtype)
    (a * tensorplug.tensor(g) if reduction == "none" else a * 3).sum().backward()
    (b * torch.tensor(g) if reduction == "none" else b * 3).sum().backward()
    tol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)
    assert a.dtype == getattr(tensorplug, dtype)
    assert calls == [("fused_cross_entropy", True), ("fused_cross_entropy_backward", True)]


def test_every_row_ignored_gives_nan_and_zero_gradient(calls):
    x = tensorplug.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, tensorplug.tensor([-100, -100, -100]))
    assert np.isnan(loss.item())
    loss.backward()
    assert not x.grad.numpy().any()
    assert calls[0] == ("fused_cross_entropy", True)


@pytest.mark.parametrize("t", [[0, 5, 1], [-100, 7, 1], [-3, 1, 2]])
def test_targets_out_of_range_raise_torchs_error(calls, t):
    bad = [v for v in t if v != -100 and not 0 <= v < 5][0]
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor(t))
    assert calls == [("fused_cross_entropy", True)]


def test_double_backward_through_the_fused_forward():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    t = np.array([2, 0, -100, 1])
    ours = tensorplug.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (ga,) = tensorplug.autograd.grad(F.cross_entropy(ours, tensorplug.tensor(t)), ours, create_graph=True)
    (gb,) = torch.autograd.grad(torch.nn.functional.cross_entropy(theirs, torch.tensor(t)), theirs, create_graph=True)
    ga.square().sum().backward()
    gb.square().sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_weights_and_smoothing_use_the_array_code(calls):
    x = tensorplug.randn(3, 4)
    F.cross_entropy(x, tensorplug.tensor([0, 1, 3]), weight=tensorplug.ones(4))
    F.cross_entropy(x, tensorplug.tensor([0, 1, 3]), label_smoothing=0.1)
    assert calls == []


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_big_updates_split_over_threads_match_one_thread(monkeypatch, name):
    from tensorplug_numpy import _fused
    tensorplug.zeros(1)  # the backend (and its thread settings) exists
    rng = np.random.default_rng(0)
    n = _fused.SPLIT_MIN + 12345
    start = [rng.standard_normal(n).astype("float32") for _ in range(5)]
    start[3] = np.abs(start[3])
    if name == "adam":
        options = dict(sign=-1.0, weight_decay=0.01, decay=0.999, beta1=0.9, beta2=0.99, step_size=1e-2, eps=1e-8)
    else:
        options = dict(sign=1.0, lr=1e-2, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.5)
    results = []
    parts = []
    real_split = _fused.split
    monkeypatch.setattr(_fused, "split", lambda fn, n, m: parts.append(real_split(fn, n, m)))
    monkeypatch.setattr(_fused, "FUSE_MIN", 0)
    for split_min in (1 << 40, _fused.SPLIT_MIN):
        monkeypatch.setattr(_fused, "SPLIT_MIN", split_min)
        arrays = [a.copy() for a in start]
        if name == "adam":
            assert _fused.adam(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], **options)
        else:  # p, g, square_avg, momentum buffer, grad_avg (centered)
            assert _fused.rmsprop(arrays[0], arrays[1], arrays[3], arrays[2], arrays[4], **options)
        results.append(arrays)
    assert len(parts) == 1  # only the second run split
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


ADAM_RMSPROP = [("Adam", dict(lr=0.1)), ("Adam", dict(lr=0.1, weight_decay=0.1, amsgrad=True, maximize=True)),
                ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
                ("RMSprop", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
                ("RMSprop", dict(lr=0.01, maximize=True, momentum=0.5))]


@pytest.mark.parametrize("name,options", ADAM_RMSPROP, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ADAM_RMSPROP)])
def test_fused_adam_and_rmsprop_follow_torch(monkeypatch, name, options):
    # small parameters normally decline (FUSE_MIN); forced here so the fused formulas meet torch's
    from optim_reference import _trajectory
    from tensorplug_numpy import _fused
    monkeypatch.setattr(_fused, "FUSE_MIN", 0)
    backend = tensorplug.get_backend("numpy")
    taken = []
    real = getattr(backend, f"fused_{name.lower()}")
    monkeypatch.setattr(backend, f"fused_{name.lower()}", lambda *a, **k: taken.append(real(*a, **k)) or taken[-1])
    t_hist, p_hist = _trajectory(getattr(tensorplug.optim, name), getattr(torch.optim, name), options, steps=15)
    assert taken and all(taken)
    for ts, ps in zip(t_hist, p_hist):
        for t, p in zip(ts, ps):
            np.testing.assert_allclose(p, t, rtol=1e-10, atol=1e-12)


_fused = pytest.importorskip("tensorplug_numpy._fused")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_add_rows_is_np_add_at(dtype):
    rng = np.random.default_rng(4)
    index = rng.integers(0, 37, 500)
    values = (rng.standard_normal((500, 3, 2)) * 100).astype(dtype)
    want = np.zeros((40, 3, 2), dtype)
    np.add.at(want, index, values)
    got = np.zeros((40, 3, 2), dtype)
    assert _fused.add_rows(got, index, values)
    np.testing.assert_allclose(got, want, atol=2e-3 if dtype == "float32" else 1e-10)  # sums of ~13 x 100
    again = np.zeros((40, 3, 2), dtype)
    _fused.add_rows(again, index, values)
    np.testing.assert_array_equal(got, again)


def test_add_rows_declines_what_it_cannot_do_exactly():
    target = np.zeros((5, 2))
    assert not _fused.add_rows(target, np.array([0, -1, 4]), np.ones((3, 2)))  # -1 and 4: one row
    assert not _fused.add_rows(target, np.array([True, False, True, False, True]), np.ones((5, 2)))
    assert not _fused.add_rows(target, np.array([1, 2]), np.ones((1, 2)))  # broadcast values
    assert not target.any()


def test_embedding_backward_matches_torch_with_repeated_indices():
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 11, (4, 9))
    w = rng.standard_normal((11, 6)).astype("float32")
    g = rng.standard_normal((4, 9, 6)).astype("float32")
    ours = tensorplug.tensor(w, requires_grad=True)
    theirs = torch.tensor(w, requires_grad=True)
    F.embedding(tensorplug.tensor(idx), ours, padding_idx=3).backward(tensorplug.tensor(g))
    torch.nn.functional.embedding(torch.tensor(idx), theirs, padding_idx=3).backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-6)
