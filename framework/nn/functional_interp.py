"""``interpolate`` (and ``upsample``): resizing with torch's nearest / linear / bilinear / trilinear rules.

Each spatial axis is resized on its own (the modes are separable): nearest
gathers one source slice per output position, the linear modes blend two
neighbours with weights computed once per call. Gathers are ``index_select``,
so the result is differentiable to any order.
"""
from __future__ import annotations

import math

from .. import creation
from .. import dtypes as _dt
from ..ops import index_select
from ..tensor import Tensor
from ..autograd import _nodes

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle"]

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")


def _per_axis(value, k, spatial, subject, got, form):
    """``value`` as one entry per spatial axis (a scalar repeated), with torch's error for a wrong count."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * k
    if len(values) != k:
        raise ValueError(f"Input and {subject} must have the same number of spatial dimensions, but got input "
                         f"with spatial dimensions of {list(spatial)} and {got} {value}. Please provide input "
                         f"tensor in (N, C, d1, d2, ...,dK) format and {form} format.")
    return values


def _sizes(input, size, scale_factor, k, recompute_scale_factor):
    spatial = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        out = _per_axis(size, k, spatial, "output", "output size of", "output size in (o1, o2, ...,oK)")
        return spatial, tuple(int(o) for o in out), None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    scales = _per_axis(scale_factor, k, spatial, "scale_factor", "scale_factor of shape",
                       "scale_factor in (s1, s2, ...,sK)")
    out = tuple(int(math.floor(n * float(s))) for n, s in zip(spatial, scales))
    # torch maps coordinates with 1/scale_factor unless asked to recompute it from the sizes
    return spatial, out, None if recompute_scale_factor else tuple(1.0 / float(s) for s in scales)


def _ratio(n_in, n_out, inv_scale, align_corners):
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return inv_scale if inv_scale is not None else n_in / n_out


def _index(values, like):
    return creation.tensor(values, dtype=_dt.int64, device=like.device)


def _nearest_axis(x, axis, n_in, n_out, inv_scale, exact):
    scale = _ratio(n_in, n_out, inv_scale, False)
    if exact:
        src = [min(int(math.floor((i + 0.5) * scale)), n_in - 1) for i in range(n_out)]
    else:
        src = [min(int(math.floor(i * scale)), n_in - 1) for i in range(n_out)]
    return index_select(x, axis, _index(src, x))


def _linear_axis(x, axis, n_in, n_out, inv_scale, align_corners):
    scale = _ratio(n_in, n_out, inv_scale, align_corners)
    lo, hi, w_hi = [], [], []
    for i in range(n_out):
        src = i * scale if align_corners else max((i + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        lo.append(i0)
        hi.append(min(i0 + 1, n_in - 1))
        w_hi.append(src - i0)
    a = index_select(x, axis, _index(lo, x))
    b = index_select(x, axis, _index(hi, x))
    return a + (b - a) * _weights(w_hi, x, axis)


def _weights(values, like, axis):
    """One weight per output position along ``axis``, shaped to broadcast against ``like``."""
    shape = [1] * like.dim()
    shape[axis] = len(values)
    return creation.tensor(values, dtype=like.dtype, device=like.device).reshape(shape)


_CUBIC_A = -0.75  # torch's (and Keys') cubic convolution coefficient


def _cubic_near(t):
    return ((_CUBIC_A + 2) * t - (_CUBIC_A + 3)) * t * t + 1  # |t| <= 1


def _cubic_far(t):
    return ((_CUBIC_A * t - 5 * _CUBIC_A) * t + 8 * _CUBIC_A) * t - 4 * _CUBIC_A  # 1 < |t| < 2


def _cubic_axis(x, axis, n_in, n_out, inv_scale, align_corners):
    """Four taps per output position, at floor(src) - 1 ... + 2 clamped to the border, as torch's
    upsample_bicubic2d (the source index is not clamped at 0 first, unlike the linear modes)."""
    scale = _ratio(n_in, n_out, inv_scale, align_corners)
    taps = ([], [], [], [])
    weights = ([], [], [], [])
    for i in range(n_out):
        src = i * scale if align_corners else (i + 0.5) * scale - 0.5
        i0 = min(int(math.floor(src)), n_in - 1)
        t = min(max(src - i0, 0.0), 1.0)
        for k, w in enumerate((_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t))):
            taps[k].append(min(max(i0 - 1 + k, 0), n_in - 1))
            weights[k].append(w)
    out = None
    for tap, w in zip(taps, weights):
        term = index_select(x, axis, _index(tap, x)) * _weights(w, x, axis)
        out = term if out is None else out + term
    return out


def _area(input, outs):
    """torch's area mode is adaptive average pooling to the output size."""
    from . import functional as F
    pools = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
    return pools[len(outs)](input, outs if len(outs) > 1 else outs[0])


def _mode_error(input, mode):
    return NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                               f"for the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area "
                               f"| nearest-exact (got {mode})")


def _check_mode(input, mode, align_corners, antialias):
    if mode not in _MODES and mode != "lanczos":
        raise _mode_error(input, mode)
    if align_corners is not None and mode not in _LINEAR and mode != "bicubic":
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if input.dim() not in (3, 4, 5) or (mode in ("bicubic", "lanczos") and input.dim() != 4):
        raise _mode_error(input, mode)
    if mode in _LINEAR and _LINEAR[mode] != input.dim() - 2:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_LINEAR[mode] + 2}D input")
    if mode == "lanczos" or antialias:
        raise NotImplementedError(f"interpolate: mode {mode!r} with antialias=True is not implemented in "
                                  f"tensorplug yet; use antialias=False (or blur before a downscale)")
    if not input.is_floating_point() and not (input.dtype is _dt.uint8 and mode in _UINT8_MODES.get(input.dim(), ())):
        # torch resizes uint8 images (nearest at any rank, bilinear and bicubic in 2-D) and no other integers
        raise NotImplementedError(f'"{_integer_kernel(mode, input.dim())}" not implemented for '
                                  f"'{_dt.scalar_type_name(input.dtype)}'; convert the input with .float() first")


_UINT8_MODES = {3: ("nearest", "nearest-exact"), 4: ("nearest", "nearest-exact", "bilinear", "bicubic"),
                5: ("nearest", "nearest-exact")}


def _integer_kernel(mode, ndim):
    """The kernel torch names when it refuses an integer input."""
    if mode == "area":
        return "adaptive_avg_pool3d_cpu" if ndim == 5 else "adaptive_avg_pool2d"
    if ndim == 4 and mode != "bicubic":
        return f"upsample_{'nearest' if mode.startswith('nearest') else mode}2d_channels_last"
    return f"compute_indices_weights_{'nearest' if mode.startswith('nearest') else 'linear' if mode in _LINEAR else 'cubic'}"


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of ``(N, C, d1...)`` (torch's modes nearest, nearest-exact, linear,
    bilinear, bicubic, trilinear, area; ``size`` or ``scale_factor``).

    Example:
        >>> F.interpolate(tensorplug.randn(1, 3, 8, 8), scale_factor=2, mode="bicubic").shape
        tensorplug.Size([1, 3, 16, 16])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be Tensor, not {type(input).__name__}")
    _check_mode(input, mode, align_corners, antialias)
    k = input.dim() - 2
    spatial, outs, inv = _sizes(input, size, scale_factor, k, recompute_scale_factor)
    if any(o <= 0 for o in outs):
        raise ValueError(f"Input and output sizes should be greater than 0, but got input ({', '.join(map(str, spatial))}) "
                         f"and output ({', '.join(map(str, outs))})")
    if mode == "area":
        return _area(input, outs)
    blend = _BLENDS.get(mode)
    if blend is not None and input._dtype.itemsize < 4 and input.is_floating_point():
        # torch blends float16/bfloat16 in float32 and rounds once; one rounding per axis doubled the error
        out = interpolate(input.float(), size, scale_factor, mode, align_corners, recompute_scale_factor,
                          antialias).to(input._dtype)
    elif blend is not None and not input.is_floating_point():
        # uint8 images as torch's separable kernel: the last axis first, each pass rounded to the nearest
        # level and clamped to [0, 255] (its fixed-point weights can round a bicubic value near .5 the other
        # way: under 2% of values, by one level)
        out = input.float()
        for j in reversed(range(k)):
            inv_j = None if inv is None else inv[j]
            out = blend(out, 2 + j, spatial[j], outs[j], inv_j, bool(align_corners))
            out = (out + 0.5).floor().clamp(0, 255)
        out = out.to(input._dtype)
    else:
        out = input
        for j in range(k):
            axis = 2 + j
            inv_j = None if inv is None else inv[j]
            if blend is not None:
                out = blend(out, axis, spatial[j], outs[j], inv_j, bool(align_corners))
            elif spatial[j] != outs[j] or inv_j not in (None, 1.0):
                out = _nearest_axis(out, axis, spatial[j], outs[j], inv_j, mode == "nearest-exact")
        out = out if out is not input else input.clone()
    return _nodes.named(out, f"Upsample{_UPSAMPLE_NODES[mode]}{k}DBackward0")  # torch's one node per mode


_BLENDS = {"linear": _linear_axis, "bilinear": _linear_axis, "trilinear": _linear_axis, "bicubic": _cubic_axis}
_UPSAMPLE_NODES = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear", "bilinear": "Bilinear",
                   "trilinear": "Trilinear", "bicubic": "Bicubic"}


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate`` (as in torch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)``: channels moved into space (sub-pixel convolution)."""
    r = int(upscale_factor)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return _nodes.named(_new(x.reshape(*lead, c // (r * r), h * r, w * r)), "PixelShuffleBackward0")


def pixel_unshuffle(input, downscale_factor):
    """The inverse of ``pixel_shuffle``: ``(*, C, H*r, W*r) -> (*, C*r^2, H, W)``."""
    r = int(downscale_factor)
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but "
                           f"input.size(-1)={w} is not divisible by {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return _nodes.named(_new(x.reshape(*lead, c * r * r, h // r, w // r)), "PixelUnshuffleBackward0")


def _new(out):
    """``out``, copied where it is a view of the input (a factor of 1, a 1x1 image): torch's result is
    always a new tensor, so a write to it must not reach the input."""
    return out.clone() if getattr(out, "_view", None) is not None else out
