"""F.interpolate and nn.Upsample against torch: every implemented mode, sizes and scale factors, gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)

CASES = [
    ((1, 2, 5), dict(size=8, mode="nearest")), ((1, 2, 5), dict(scale_factor=2.5, mode="nearest")),
    ((1, 2, 7), dict(size=3, mode="nearest-exact")),
    ((1, 2, 5), dict(size=3, mode="linear")), ((1, 2, 5), dict(size=9, mode="linear", align_corners=True)),
    ((2, 3, 4, 6), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 4, 6), dict(size=(7, 5), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 6), dict(size=(3, 11), mode="nearest")),
    ((2, 3, 4, 6), dict(scale_factor=(1.5, 0.5), mode="nearest-exact")),
    ((2, 3, 4, 6), dict(scale_factor=1.7, mode="bilinear")),
    ((2, 3, 4, 6), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True)),
    ((2, 3, 5, 5), dict(size=(2, 3), mode="bilinear")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(2, 6, 7), mode="nearest")),
    # bicubic: taps past the border are clamped, downscaling reaches below index 0 (not clamped first)
    ((2, 3, 4, 6), dict(scale_factor=2, mode="bicubic")),
    ((2, 3, 4, 6), dict(size=(7, 5), mode="bicubic", align_corners=True)),
    ((2, 3, 9, 8), dict(size=(3, 2), mode="bicubic")),
    ((2, 3, 4, 6), dict(scale_factor=1.7, mode="bicubic")),
    ((1, 1, 1, 5), dict(size=(3, 1), mode="bicubic", align_corners=True)),
    # area: adaptive average pooling to the output size (a scale_factor is turned into a size)
    ((1, 2, 7), dict(size=3, mode="area")), ((2, 3, 9, 6), dict(size=(4, 6), mode="area")),
    ((2, 3, 5, 6), dict(scale_factor=0.6, mode="area")), ((2, 3, 4, 6), dict(scale_factor=1.5, mode="area")),
    ((1, 2, 4, 5, 6), dict(size=(2, 3, 4), mode="area")),
]


@pytest.mark.parametrize("shape, kw", CASES, ids=[f"{len(s) - 2}d-{k['mode']}-{i}" for i, (s, k) in enumerate(CASES)])
def test_interpolate_matches_torch(backend, shape, kw):
    x0 = rng.standard_normal(shape)
    x = tensorplug.tensor(x0, requires_grad=True, device=backend)
    tx = torch.tensor(x0, requires_grad=True)
    a, b = F.interpolate(x, **kw), torch.nn.functional.interpolate(tx, **kw)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(tuple(b.shape))
    (a * tensorplug.tensor(g, device=backend)).sum().backward()
    (b * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["bicubic", "area"])
def test_bicubic_and_area_keep_narrow_dtypes(dtype, mode):
    x0 = rng.standard_normal((1, 2, 5, 6))
    a = F.interpolate(tensorplug.tensor(x0).to(getattr(tensorplug, dtype)), size=(8, 4), mode=mode)
    b = torch.nn.functional.interpolate(torch.tensor(x0).to(getattr(torch, dtype)), size=(8, 4), mode=mode)
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    tol = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 2e-2}[dtype]
    np.testing.assert_allclose(a.float().numpy(), b.float().numpy(), atol=tol, rtol=tol)


def test_bicubic_upsample_module_and_gradgradcheck():
    ours, theirs = nn.Upsample(scale_factor=3, mode="bicubic"), torch.nn.Upsample(scale_factor=3, mode="bicubic")
    assert repr(ours) == repr(theirs)
    x0 = rng.standard_normal((1, 2, 3, 4))
    np.testing.assert_allclose(ours(tensorplug.tensor(x0)).numpy(), theirs(torch.tensor(x0)).numpy(), atol=1e-12)
    x = tensorplug.tensor(rng.standard_normal((1, 1, 3, 4)), requires_grad=True)
    assert tensorplug.autograd.gradgradcheck(lambda t: F.interpolate(t, size=(5, 2), mode="bicubic"), (x,))
    assert tensorplug.autograd.gradgradcheck(lambda t: F.interpolate(t, size=(2, 3), mode="area"), (x,))


def test_antialias_is_refused_with_a_clear_error():
    with pytest.raises(NotImplementedError, match="antialias=True is not implemented"):
        F.interpolate(tensorplug.zeros(1, 1, 8, 8), size=(3, 3), mode="bilinear", antialias=True)


def test_upsample_modules_and_gradcheck():
    for ours, theirs in ((nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                         (nn.Upsample(size=(3, 4), mode="bilinear"), torch.nn.Upsample(size=(3, 4), mode="bilinear")),
                         (nn.UpsamplingNearest2d(size=5), torch.nn.UpsamplingNearest2d(size=5)),
                         (nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2))):
        assert repr(ours) == repr(theirs)
        x0 = rng.standard_normal((1, 2, 3, 3))
        np.testing.assert_allclose(ours(tensorplug.tensor(x0)).numpy(), theirs(torch.tensor(x0)).numpy(), atol=1e-12)
    x = tensorplug.tensor(rng.standard_normal((1, 1, 3, 4)), requires_grad=True)
    assert tensorplug.autograd.gradcheck(lambda t: F.interpolate(t, size=(5, 3), mode="bilinear"), (x,))
    assert tensorplug.autograd.gradgradcheck(lambda t: F.interpolate(t, scale_factor=2, mode="bilinear"), (x,))


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda m, x: m.nn.functional.interpolate(x), ValueError, "either size or scale_factor should be defined"),
    (lambda m, x: m.nn.functional.interpolate(x, size=4, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda m, x: m.nn.functional.interpolate(x, size=4, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda m, x: m.nn.functional.interpolate(x, size=4, mode="linear"), NotImplementedError,
     "Got 4D input, but linear mode needs 3D input"),
    (lambda m, x: m.nn.functional.interpolate(x, size=4, mode="area", align_corners=False), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda m, x: m.nn.functional.interpolate(x[0], size=4, mode="bicubic"), NotImplementedError,
     r"Only 3D, 4D and 5D input Tensors supported \(got 3D\) for the modes"),
    (lambda m, x: m.nn.functional.interpolate(x, size=4, mode="nearest", antialias=True), ValueError,
     "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes"),
    (lambda m, x: m.nn.functional.interpolate(x.long(), size=4, mode="bicubic"), NotImplementedError,
     "\"compute_indices_weights_cubic\" not implemented for 'Long'"),
    (lambda m, x: m.nn.functional.interpolate(x, size=(4, 5, 6)), ValueError,
     r"Input and output must have the same number of spatial dimensions, but got input with spatial "
     r"dimensions of \[3, 3\] and output size of \(4, 5, 6\)"),
    (lambda m, x: m.nn.functional.interpolate(x, scale_factor=[2]), ValueError,
     r"Input and scale_factor must have the same number of spatial dimensions, but got input with spatial "
     r"dimensions of \[3, 3\] and scale_factor of shape \[2\]"),
])
def test_interpolate_errors_like_torch(call, exc, phrase):
    for lib in (tensorplug, torch):
        with pytest.raises(exc, match=phrase):
            call(lib, lib.zeros(1, 1, 3, 3))


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 3, 18, 2, 2), 3), ((9, 1, 1), 3)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, r):
    x0 = rng.standard_normal(shape)
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    a, b = nn.PixelShuffle(r)(x), torch.nn.PixelShuffle(r)(tx)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    back, tback = F.pixel_unshuffle(a, r), torch.nn.functional.pixel_unshuffle(b, r)
    np.testing.assert_array_equal(back.detach().numpy(), x0)
    np.testing.assert_array_equal(back.detach().numpy(), tback.detach().numpy())
    (a * a).sum().backward()
    (b * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert repr(nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))
    assert repr(nn.PixelUnshuffle(r)) == repr(torch.nn.PixelUnshuffle(r))


def test_pixel_shuffle_errors_like_torch():
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="input.size\\(-3\\)=7 is not divisible by 4"):
            lib.nn.functional.pixel_shuffle(lib.zeros(1, 7, 2, 2), 2)
        with pytest.raises(RuntimeError, match="expects height to be divisible by downscale_factor"):
            lib.nn.functional.pixel_unshuffle(lib.zeros(1, 1, 3, 4), 2)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(11, 5), (14, 18), (3, 4)])
def test_uint8_images_resize_as_torch(mode, size):
    # torch's separable uint8 kernel rounds each pass (the last axis first); its fixed-point bicubic weights
    # can land a value near .5 on the other level
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 7, 9)).astype(np.uint8)
    for align in ((None,) if mode.startswith("nearest") else (False, True)):
        ours = F.interpolate(tensorplug.tensor(x), size=size, mode=mode, align_corners=align)
        theirs = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode=mode, align_corners=align)
        assert ours.dtype == tensorplug.uint8 and ours.is_contiguous()
        diff = np.abs(ours.numpy().astype(int) - theirs.numpy().astype(int))
        if mode == "bicubic":
            assert diff.max() <= 1 and (diff > 0).mean() < 0.02
        else:
            assert diff.max() == 0


@pytest.mark.parametrize("dtype", ["uint8", "int64", "bool"])
@pytest.mark.parametrize("mode", ["nearest", "linear", "bilinear", "trilinear", "bicubic", "area"])
def test_integer_inputs_are_refused_as_torch(dtype, mode):
    rank = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode, 2)
    for m in (torch, tensorplug):
        x = m.zeros((1, 1) + (2,) * rank, dtype=getattr(m, dtype))
        try:
            m.nn.functional.interpolate(x, scale_factor=2, mode=mode)
            outcome = "ok"
        except NotImplementedError as exc:
            outcome = str(exc).split(";")[0]
        if m is torch:
            expected = outcome
    assert outcome == expected
