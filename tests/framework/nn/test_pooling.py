"""Pooling (functional and modules) against torch, gradcheck, higher order and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F
from tensorplug.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(1)


def _compare(fn_ours, fn_torch, x0, indices=False):
    x = tensorplug.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    y = fn_ours(x)
    ty = fn_torch(tx)
    if indices:
        np.testing.assert_array_equal(y[1].cpu().numpy(), ty[1].cpu().numpy())
        assert y[1].dtype == tensorplug.int64
        y, ty = y[0], ty[0]
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().cpu().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(ty.shape))
    y.backward(tensorplug.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-12, atol=1e-12)


MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=1, dilation=2, ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1),
    # windows that do not overlap: the backward writes instead of adding (unique indices)
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(2, 3)),
    dict(kernel_size=2, stride=2, dilation=(1, 2)),  # dilated windows overlap: adding path
]


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_matches_torch(backend, kw):
    x0 = rng.standard_normal((2, 3, 9, 10))
    _compare(lambda x: F.max_pool2d(x, return_indices=True, **kw),
             lambda x: TF.max_pool2d(x, return_indices=True, **kw), x0, indices=True)


def test_max_pool_ties_and_nan_follow_torch():
    x0 = np.zeros((1, 1, 4, 4))
    x0[0, 0, 0, 1] = np.nan
    _compare(lambda x: F.max_pool2d(x, 2, return_indices=True), lambda x: TF.max_pool2d(x, 2, return_indices=True),
             x0, indices=True)


def test_max_pool_relu_ties_cnn_shape_follow_torch():
    # the CNN pattern: relu zeros tie in most windows; the first maximum gets the gradient
    x0 = np.maximum(rng.standard_normal((4, 8, 28, 28)), 0)
    _compare(lambda x: F.max_pool2d(F.relu(x), 2, return_indices=True),
             lambda x: TF.max_pool2d(TF.relu(x), 2, return_indices=True), x0, indices=True)


def test_max_unpool_unique_writes_match_adding(backend):
    # backend.max_unpool(..., unique=True) (a store) against the adding default
    x = rng.standard_normal((2, 3, 6, 8))
    b = tensorplug.get_backend(backend)
    values, index = b.max_pool(b.asarray(x), (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
    np.testing.assert_array_equal(b.to_numpy(b.max_unpool(values, index, x.shape, unique=True)),
                                  b.to_numpy(b.max_unpool(values, index, x.shape)))


@pytest.mark.parametrize("shape, kw", [((1, 1, 4, 4), dict(kernel_size=2, padding=1)),
                                       ((1, 2, 5), dict(kernel_size=3, stride=2, padding=1)),
                                       ((1, 1, 5, 6), dict(kernel_size=3, stride=1, padding=1, dilation=2))])
def test_max_pool_all_neg_inf_with_padding_follows_torch(shape, kw, backend):
    # every window is -inf: torch picks each window's first input element, never the padding
    # (on every backend: the array-API default and the NumPy override)
    x0 = np.full(shape, -np.inf)
    x0.flat[::3] = 1.0 if kw.get("dilation") else -np.inf
    fn, tfn = (F.max_pool1d, TF.max_pool1d) if len(shape) == 3 else (F.max_pool2d, TF.max_pool2d)
    _compare(lambda x: fn(x, return_indices=True, **kw), lambda x: tfn(x, return_indices=True, **kw), x0,
             indices=True)


def test_max_pool_window_wider_than_input_row():
    # window offsets then map to non-increasing flat shifts (the backend's table path)
    x0 = rng.standard_normal((2, 2, 3, 2))
    _compare(lambda x: F.max_pool2d(x, 3, 1, 1, return_indices=True),
             lambda x: TF.max_pool2d(x, 3, 1, 1, return_indices=True), x0, indices=True)


def test_max_pool1d_and_unbatched():
    x0 = rng.standard_normal((2, 3, 11))
    _compare(lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True),
             lambda x: TF.max_pool1d(x, 3, 2, 1, return_indices=True), x0, indices=True)
    x1 = rng.standard_normal((3, 6, 6))
    _compare(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x1)


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, divisor_override=2),
]


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_matches_torch(backend, kw):
    x0 = rng.standard_normal((2, 3, 9, 10))
    _compare(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), x0)


def test_avg_pool1d_matches_torch():
    x0 = rng.standard_normal((2, 3, 10))
    _compare(lambda x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True), lambda x: TF.avg_pool1d(x, 3, 2, 1, ceil_mode=True),
             x0)
    _compare(lambda x: F.avg_pool1d(x, 4, 3, 2, count_include_pad=False),
             lambda x: TF.avg_pool1d(x, 4, 3, 2, count_include_pad=False), x0)


@pytest.mark.parametrize("size", [(3, 4), 1, (5, None), (2, 5), (9, 10)])
def test_adaptive_avg_pool2d_matches_torch(size):
    x0 = rng.standard_normal((2, 3, 9, 10))
    _compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), x0)


def test_adaptive_pools_1d_and_max(backend):
    x0 = rng.standard_normal((2, 3, 10))
    _compare(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: TF.adaptive_avg_pool1d(x, 4), x0)
    _compare(lambda x: F.adaptive_max_pool1d(x, 5), lambda x: TF.adaptive_max_pool1d(x, 5), x0)
    x1 = rng.standard_normal((2, 3, 8, 6))
    _compare(lambda x: F.adaptive_max_pool2d(x, (2, 3), return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, (2, 3), return_indices=True), x1, indices=True)


@pytest.mark.parametrize("size", [(3, 4), (4, None), (5, 7), 1])
def test_adaptive_max_pool2d_with_sizes_that_do_not_divide(backend, size):
    x0 = rng.standard_normal((2, 3, 7, 10))
    _compare(lambda x: F.adaptive_max_pool2d(x, size, return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True), x0, indices=True)
    x1 = rng.standard_normal((2, 3, 11))
    _compare(lambda x: F.adaptive_max_pool1d(x, 4, return_indices=True),
             lambda x: TF.adaptive_max_pool1d(x, 4, return_indices=True), x1, indices=True)


def test_max_unpool_matches_torch():
    x0 = rng.standard_normal((2, 3, 8, 9))
    y, idx = F.max_pool2d(tensorplug.tensor(x0), 2, return_indices=True)
    ty, tidx = TF.max_pool2d(torch.tensor(x0), 2, return_indices=True)
    _compare(lambda v: F.max_unpool2d(v, idx, 2, output_size=(8, 9)),
             lambda v: TF.max_unpool2d(v, tidx, 2, output_size=(8, 9)), y.cpu().numpy())
    assert repr(nn.MaxUnpool2d(2)) == repr(torch.nn.MaxUnpool2d(2))
    y1, i1 = F.max_pool1d(tensorplug.tensor(x0[0]), 3, 2, 1, return_indices=True)
    ty1, ti1 = TF.max_pool1d(torch.tensor(x0[0]), 3, 2, 1, return_indices=True)
    np.testing.assert_allclose(nn.MaxUnpool1d(3, 2, 1)(y1, i1).cpu().numpy(), torch.nn.MaxUnpool1d(3, 2, 1)(ty1, ti1).cpu().numpy())
    with pytest.raises(ValueError, match="invalid output_size"):
        F.max_unpool2d(y, idx, 2, output_size=(12, 12))


def test_pool_gradcheck_and_second_order():
    x = tensorplug.randn(1, 2, 5, 5, dtype=tensorplug.float64, requires_grad=True)
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (x,))
    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), (x,))
    assert gradgradcheck(lambda x: F.avg_pool2d(x, 2, 1) ** 2, (x,))
    assert gradgradcheck(lambda x: F.max_pool2d(x, 2) ** 2, (x,))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (x,))


@pytest.mark.parametrize("name, args", [
    ("MaxPool2d", (2,)), ("MaxPool2d", (3, 2, 1, 1, False, True)), ("MaxPool1d", (2,)), ("AvgPool2d", (3, 2, 1)),
    ("AvgPool1d", (2,)), ("AdaptiveAvgPool2d", ((2, 3),)), ("AdaptiveAvgPool1d", (3,)),
    ("AdaptiveMaxPool2d", (2,)),
])
def test_pool_modules_match_torch(name, args):
    ours = getattr(nn, name)(*args)
    theirs = getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    x0 = rng.standard_normal((2, 3, 8, 8) if "2d" in name else (2, 3, 8))
    y = ours(tensorplug.tensor(x0))
    ty = theirs(torch.tensor(x0))
    np.testing.assert_allclose(y.cpu().numpy(), ty.cpu().numpy(), atol=1e-12)


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda: F.max_pool2d(tensorplug.randn(1, 3, 5, 5), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size"),
    (lambda: F.max_pool2d(tensorplug.randn(3, 5), 2), RuntimeError,
     "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda: F.max_pool2d(tensorplug.randn(1, 1, 1, 1), 2), RuntimeError, "Output size is too small"),
    (lambda: F.avg_pool2d(tensorplug.randn(1, 1, 1, 1), 2), RuntimeError, "Output size is too small"),
    (lambda: F.max_pool2d(tensorplug.randn(1, 1, 4, 4), 2, stride=0), RuntimeError, "stride should not be zero"),
    (lambda: F.adaptive_avg_pool2d(tensorplug.randn(4), 2), RuntimeError, "Expected 3D or 4D tensor"),
])
def test_pool_errors(call, exc, phrase):
    with pytest.raises(exc) as info:
        call()
    assert phrase in str(info.value)


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d"])
def test_pool_empty_batch_as_torch(fn):
    # torch allows a 0-sized batch (the kernels split batches over threads: 0 samples too)
    x = tensorplug.randn(0, 2, 4, 4, requires_grad=True)
    y = getattr(tensorplug.nn.functional, fn)(x, 2)
    assert tuple(y.shape) == tuple(getattr(torch.nn.functional, fn)(torch.randn(0, 2, 4, 4), 2).shape)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 2, 4, 4)
    for shape in [(2, 0, 4, 4), (0, 4, 4), (2, 2, 0, 4)]:
        with pytest.raises(RuntimeError):
            getattr(torch.nn.functional, fn)(torch.randn(*shape), 2)
        with pytest.raises(RuntimeError, match="non-empty 3D or 4D"):
            getattr(tensorplug.nn.functional, fn)(tensorplug.randn(*shape), 2)


def _integer_pool_cases():
    cases = []
    for k in (1, 2, 3):
        for dtype in ("int64", "uint8", "int32", "bool"):
            for name, call in (
                    ("max", lambda F, x, k: getattr(F, f"max_pool{k}d")(x, 2)),
                    ("max_padded", lambda F, x, k: getattr(F, f"max_pool{k}d")(x, 3, 2, 1)),
                    ("max_indices", lambda F, x, k: getattr(F, f"max_pool{k}d")(x, 2, return_indices=True)[1]),
                    ("avg", lambda F, x, k: getattr(F, f"avg_pool{k}d")(x, 2)),
                    ("avg_negative", lambda F, x, k: getattr(F, f"avg_pool{k}d")(x - 9 if x.dtype.itemsize == 8 else x,
                                                                                3, 2, 1, count_include_pad=False)),
                    ("adaptive_avg", lambda F, x, k: getattr(F, f"adaptive_avg_pool{k}d")(x, 2)),
                    ("adaptive_max", lambda F, x, k: getattr(F, f"adaptive_max_pool{k}d")(x, 2))):
                cases.append((k, dtype, name, call))
    return cases


@pytest.mark.parametrize("k, dtype, name, call", _integer_pool_cases(), ids=lambda v: v if isinstance(v, str) else None)
def test_integer_pooling_as_torch(k, dtype, name, call):
    """torch max-pools integers in 2-D and 3-D (1-D with indices), averages int64 (truncating), and refuses
    the rest with NotImplementedError naming its kernel."""
    values = (np.arange(2 * 5 ** k).reshape((1, 2) + (5,) * k) * 7) % 11
    results = []
    for m in (torch, tensorplug):
        x = m.tensor(values % 2 == 0 if dtype == "bool" else values.astype(dtype))
        try:
            out = call(m.nn.functional, x, k)
            results.append((str(out.dtype).split(".")[1], out.numpy().tolist()))
        except NotImplementedError as exc:
            results.append(str(exc).split(";")[0])
    assert results[1] == results[0]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
@pytest.mark.parametrize("padding", [0, 1])
def test_a_nan_wins_its_window_in_every_float_dtype(dtype, padding):
    # torch lets a NaN win (the last one in the window); bfloat16's NumPy dtype is not of kind "f"
    values = np.arange(32.0).reshape(1, 2, 4, 4)
    values[0, 0, 0, 0] = values[0, 1, 2, 3] = values[0, 1, 3, 2] = np.nan
    grads = []
    for m in (torch, tensorplug):
        x = m.tensor(values, dtype=getattr(m, dtype), requires_grad=True)
        out = m.nn.functional.max_pool2d(x, 3 if padding else 2, 2, padding)
        out.float().sum().backward()
        grads.append((out.float().detach().numpy(), x.grad.float().numpy()))
    np.testing.assert_array_equal(grads[1][0], grads[0][0])
    np.testing.assert_array_equal(grads[1][1], grads[0][1])
