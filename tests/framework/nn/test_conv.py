"""Convolutions (functional and modules) against torch, gradcheck, higher order, errors, backend defaults."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F
from tensorplug.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)


def _pair(*arrays):
    ours = [tensorplug.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _compare(fn_ours, fn_torch, *arrays):
    ours, theirs = _pair(*arrays)
    y = fn_ours(*ours)
    z = fn_torch(*theirs)
    assert tuple(y.shape) == tuple(z.shape)
    np.testing.assert_allclose(y.detach().cpu().numpy(), z.detach().cpu().numpy(), rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(tuple(z.shape))
    y.backward(tensorplug.tensor(g))
    z.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-10, atol=1e-10)


CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(2, 0), stride=(1, 3)),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(groups=2, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    dict(groups=4, padding=1),
]


@pytest.mark.parametrize("kw", CONV2D_CASES)
def test_conv2d_matches_torch(backend, kw):
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((8, 4 // groups, 3, 2))
    b = rng.standard_normal(8)
    _compare(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w, b)


def test_conv2d_unbatched_and_no_bias():
    x = rng.standard_normal((3, 6, 6))
    w = rng.standard_normal((5, 3, 3, 3))
    _compare(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), x, w)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=2), dict(padding="same"), dict(dilation=3, groups=3)])
def test_conv1d_matches_torch(kw):
    x = rng.standard_normal((2, 3, 13))
    w = rng.standard_normal((6, 3 // kw.get("groups", 1), 4))
    b = rng.standard_normal(6)
    with pytest.warns(UserWarning) if kw.get("padding") == "same" else _nullcontext():
        _compare(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw), x, w, b)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_conv3d_matches_torch():
    x = rng.standard_normal((1, 2, 5, 4, 6))
    w = rng.standard_normal((3, 2, 2, 3, 2))
    _compare(lambda x, w: F.conv3d(x, w, stride=(1, 2, 1), padding=1),
             lambda x, w: TF.conv3d(x, w, stride=(1, 2, 1), padding=1), x, w)


@pytest.mark.parametrize("kw", [dict(stride=2), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=3, groups=2, dilation=2, output_padding=(1, 2)), dict(padding=(1, 0))])
def test_conv_transpose2d_matches_torch(backend, kw):
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(3 * groups)
    _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
             x, w, b)


def test_conv_transpose1d_matches_torch():
    x = rng.standard_normal((2, 4, 7))
    w = rng.standard_normal((4, 2, 3))
    _compare(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
             lambda x, w: TF.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1), x, w)


def test_unfold_fold_match_torch(backend):
    x = rng.standard_normal((2, 3, 7, 8))
    _compare(lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2),
             lambda x: TF.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=2), x)
    cols = rng.standard_normal((2, 18, 16))
    _compare(lambda c: F.fold(c, (7, 8), (2, 3), padding=1, stride=2),
             lambda c: TF.fold(c, (7, 8), (2, 3), padding=1, stride=2), cols)


def test_conv2d_gradcheck():
    x = tensorplug.randn(1, 2, 5, 4, dtype=tensorplug.float64, requires_grad=True)
    w = tensorplug.randn(4, 1, 2, 3, dtype=tensorplug.float64, requires_grad=True)
    b = tensorplug.randn(4, dtype=tensorplug.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, groups=2), (x, w, b))


def test_conv2d_second_order_matches_torch_and_gradgradcheck():
    x0 = rng.standard_normal((2, 2, 5, 5))
    w0 = rng.standard_normal((3, 2, 3, 3))
    (x, w), (tx, tw) = _pair(x0, w0)
    y = F.conv2d(x, w, stride=2, padding=1)
    ty = TF.conv2d(tx, tw, stride=2, padding=1)
    gx, gw = tensorplug.autograd.grad((y ** 2).sum(), (x, w), create_graph=True)
    tgx, tgw = torch.autograd.grad((ty ** 2).sum(), (tx, tw), create_graph=True)
    ((gx ** 2).sum() + (gw ** 3).sum()).backward()
    ((tgx ** 2).sum() + (tgw ** 3).sum()).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(w.grad.cpu().numpy(), tw.grad.cpu().numpy(), rtol=1e-9, atol=1e-9)
    xs = tensorplug.randn(1, 1, 4, 4, dtype=tensorplug.float64, requires_grad=True)
    ws = tensorplug.randn(2, 1, 2, 2, dtype=tensorplug.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding=1, stride=2), (xs, ws))


def test_conv_transpose2d_gradgradcheck():
    x = tensorplug.randn(1, 2, 3, 3, dtype=tensorplug.float64, requires_grad=True)
    w = tensorplug.randn(2, 1, 2, 2, dtype=tensorplug.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1), (x, w))


def test_array_api_defaults_match_numpy_overrides():
    # the ArrayAPIBackend defaults (what a new backend inherits) against the numpy backend's overrides
    np_backend = tensorplug.get_backend("numpy")

    class PlainNumpy(tensorplug.ArrayAPIBackend):
        name = "plain-numpy"
        xp = np

    plain = PlainNumpy()
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    # strided + grouped, and the stride-1 (flat-shift) path, with asymmetric pads and dilation
    for weight, params in ((w, ((2, 1), ((1, 2), (0, 1)), (1, 2), 2)),
                           (rng.standard_normal((5, 4, 3, 2)), ((1, 1), ((2, 1), (0, 1)), (2, 1), 1))):
        y = plain.conv(x, weight, *params)
        np.testing.assert_allclose(y, np_backend.conv(x, weight, *params), atol=1e-12)
        g = rng.standard_normal(y.shape)
        np.testing.assert_allclose(plain.conv_weight_grad(x, g, weight.shape, *params),
                                   np_backend.conv_weight_grad(x, g, weight.shape, *params), atol=1e-12)
        np.testing.assert_allclose(plain.conv_input_grad(g, weight, x.shape, *params),
                                   np_backend.conv_input_grad(g, weight, x.shape, *params), atol=1e-12)
    v1, i1 = plain.max_pool(x, (3, 2), (2, 1), ((1, 2), (1, 1)), (1, 2))
    v2, i2 = np_backend.max_pool(x, (3, 2), (2, 1), ((1, 2), (1, 1)), (1, 2))
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(plain.max_unpool(v1, i1, x.shape), np_backend.max_unpool(v2, i2, x.shape))


@pytest.mark.parametrize("xshape, wshape, params", [
    ((3, 4, 9), (6, 2, 3), ((1,), ((2, 0),), (2,), 2)),                            # 1-d, grouped, dilated
    ((2, 3, 5, 6, 4), (4, 3, 2, 3, 2), ((1, 1, 1), ((1, 0), (0, 2), (1, 1)), (1, 1, 2), 1)),  # 3-d
    ((3, 1, 6, 5), (4, 1, 3, 3), ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)),          # no padding: g not widened
    ((5, 4, 7, 6), (6, 2, 3, 2), ((2, 1), ((1, 2), (0, 1)), (1, 2), 2)),          # strided, grouped
    ((2, 3, 4, 4), (2, 3, 1, 1), ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)),          # 1x1
])
@pytest.mark.parametrize("chunk", [None, 1])
@pytest.mark.parametrize("wide", [False, True])
def test_numpy_conv_layouts_match_defaults(xshape, wshape, params, chunk, wide, monkeypatch):
    # the numpy backend's copy-once im2col layouts and flat-shift col2im against the array-API
    # defaults, in one batch chunk and (chunk=1 byte) one sample per chunk; the weight gradient
    # in both of its layouts (per-sample GEMMs for small windows, one long GEMM for wide ones)
    np_backend = tensorplug.get_backend("numpy")
    kernels = pytest.importorskip("tensorplug_numpy._conv")
    if chunk is not None:
        monkeypatch.setattr(kernels, "_CHUNK", chunk)
    monkeypatch.setattr(kernels, "_WIDE_WINDOW", 1 if wide else 10 ** 9)

    class PlainNumpy(tensorplug.ArrayAPIBackend):
        name = "plain-numpy"
        xp = np

    plain = PlainNumpy()
    x = rng.standard_normal(xshape)
    w = rng.standard_normal(wshape)
    y = np_backend.conv(x, w, *params)
    np.testing.assert_allclose(y, plain.conv(x, w, *params), atol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(np_backend.conv_weight_grad(x, g, w.shape, *params),
                               plain.conv_weight_grad(x, g, w.shape, *params), atol=1e-12)
    gw, gb = np_backend.conv_weight_bias_grad(x, g, w.shape, *params)  # the bias's sum in the same pass
    np.testing.assert_allclose(gw, plain.conv_weight_grad(x, g, w.shape, *params), atol=1e-12)
    np.testing.assert_allclose(gb, g.sum((0,) + tuple(range(2, g.ndim))), atol=1e-12)
    gx = np_backend.conv_input_grad(g, w, x.shape, *params)
    assert gx.shape == x.shape and gx.flags.c_contiguous
    np.testing.assert_allclose(gx, plain.conv_input_grad(g, w, x.shape, *params), atol=1e-12)
    # non-contiguous inputs (a transposed view) give the same numbers
    xt = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    np.testing.assert_allclose(np_backend.conv(xt, w, *params), y, atol=1e-12)


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda: F.conv2d(tensorplug.randn(2, 3), tensorplug.randn(1, 1, 3, 3)), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d"),
    (lambda: F.conv1d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3)), RuntimeError,
     "Expected 2D (unbatched) or 3D (batched) input to conv1d"),
    (lambda: F.conv2d(tensorplug.randn(1, 4, 8, 8), tensorplug.randn(16, 3, 3, 3)), RuntimeError,
     "to have 3 channels, but got 4 channels instead"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 2, 2), tensorplug.randn(16, 3, 3, 3)), RuntimeError,
     "Kernel size can't be greater than actual input size"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5, dtype=tensorplug.float64), tensorplug.randn(16, 3, 3, 3)),
     RuntimeError, "expected scalar type Double but found Float"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3, 3), stride=2, padding="same"),
     RuntimeError, "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3, 3), padding="foo"),
     RuntimeError, "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(tensorplug.randn(1, 4, 5, 5), tensorplug.randn(15, 2, 3, 3), groups=2), RuntimeError,
     "expected weight to be divisible by 2 at dimension 0"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3, 3), stride=0), RuntimeError,
     "non-positive stride is not supported"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3, 3), padding=-1), RuntimeError,
     "negative padding is not supported"),
    (lambda: F.conv2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(16, 3, 3, 3), bias=tensorplug.randn(3)),
     RuntimeError, "expected bias to be 1-dimensional with 16 elements"),
    (lambda: F.conv_transpose2d(tensorplug.randn(1, 3, 5, 5), tensorplug.randn(3, 2, 3, 3), stride=2,
                                output_padding=2), RuntimeError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="foo"), ValueError, "padding_mode must be one of"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), ValueError,
     "padding='same' is not supported for strided convolutions"),
])
def test_conv_errors(call, exc, phrase):
    with pytest.raises(exc) as info:
        call()
    assert phrase in str(info.value)


@pytest.mark.parametrize("args, kw", [
    ((4, 8, 3), dict(stride=2, padding=1, bias=False)),
    ((4, 8, (3, 5)), dict(dilation=2, groups=2, padding="same", padding_mode="circular")),
    ((4, 6, 3), dict(padding=1, padding_mode="reflect")),
    ((4, 6, 2), dict(padding=(1, 2), padding_mode="replicate")),
])
def test_conv2d_module_matches_torch(args, kw):
    ours = nn.Conv2d(*args, **kw).double()
    theirs = torch.nn.Conv2d(*args, **kw).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: tensorplug.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})
    x0 = rng.standard_normal((2, 4, 9, 10))
    x = tensorplug.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    y = ours(x)
    ty = theirs(tx)
    np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.cpu().numpy(), theirs.weight.grad.cpu().numpy(), atol=1e-10)


def test_conv_modules_repr_shapes_and_init():
    for ours, theirs in [(nn.Conv1d(2, 3, 4), torch.nn.Conv1d(2, 3, 4)),
                         (nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1),
                          torch.nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1)),
                         (nn.Conv3d(2, 4, 3, groups=2), torch.nn.Conv3d(2, 4, 3, groups=2))]:
        assert repr(ours) == repr(theirs)
        assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    assert m.weight.abs().max().item() <= bound and m.weight.abs().max().item() > 0.8 * bound
    assert m.bias.abs().max().item() <= bound
    t = nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1)
    assert tuple(t(tensorplug.randn(1, 4, 5, 5), output_size=(12, 12)).shape) == (1, 8, 12, 12)
    assert tuple(t(tensorplug.randn(4, 5, 5)).shape) == (8, 12, 12)


def test_conv_transpose2d_module_matches_torch():
    ours = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    ours.load_state_dict({k: tensorplug.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})
    x0 = rng.standard_normal((2, 4, 5, 5))
    y = ours(tensorplug.tensor(x0), output_size=(10, 10))
    ty = theirs(torch.tensor(x0), output_size=(10, 10))
    np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-12)
