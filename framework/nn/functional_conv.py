"""Convolution and pooling: conv1d/2d, conv_transpose1d/2d, max/avg/adaptive pooling, unfold/fold.

The arithmetic is the backend's (``conv``, ``conv_input_grad``,
``conv_weight_grad``, ``im2col``, ``col2im``, ``window_sum``, ``max_pool``):
a backend overrides them with a faster kernel. The three convolution ops are
each other's derivatives, so ``create_graph=True`` works to any order.
"""
from __future__ import annotations

import math

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ..ops._util import c_order
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "max_unpool1d", "max_unpool2d",
           "unfold", "fold", "scaled_dot_product_attention"]


# ops --------------------------------------------------------------------------------------------
class Convolution(Op):
    """y = conv(x, w) + b; params: stride, pads ((lo, hi) per axis), dilation, groups."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups):
        ctx.params = (stride, pads, dilation, groups)
        backend = ctx.backend
        if b is not None:
            # the backend's optional ``conv_bias`` adds the bias while the output is written
            y = backend.conv_bias(x, w, b, stride, pads, dilation, groups)
            if y is not NotImplemented:
                return y
        y = backend.conv(x, w, stride, pads, dilation, groups)
        if b is not None:
            y += backend.xp.reshape(b, (-1,) + (1,) * (y.ndim - 2))
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors_list()
        gx = gw = gb = None
        if ctx.needs_grad(0):
            gx = ConvInputGrad.apply(g, w, shape=x._data.shape, params=ctx.params)
        if ctx.needs_grad(1):
            gw = ConvWeightGrad.apply(x, g, shape=w._data.shape, params=ctx.params)
        if ctx.needs_grad(2):
            gb = g.sum((0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb

    @staticmethod
    def fast_backward(ctx, g):
        # the same formulas on arrays when no graph of the backward is built: the backend's
        # kernels directly, no ConvInputGrad/ConvWeightGrad nodes or sum op per step
        x, w = ctx.saved_arrays()
        backend = ctx.backend
        gx = gw = gb = None
        if ctx.needs_grad(0):
            gx = backend.conv_input_grad(g, w, x.shape, *ctx.params)
        need_b = ctx.needs_grad(2)
        if ctx.needs_grad(1):
            # the backend's optional ``conv_weight_bias_grad`` sums the bias's gradient in the same pass
            both = backend.conv_weight_bias_grad(x, g, w.shape, *ctx.params) if need_b else NotImplemented
            if both is not NotImplemented:
                gw, gb = both
                return gx, gw, gb
            gw = backend.conv_weight_grad(x, g, w.shape, *ctx.params)
        if need_b:
            gb = backend.xp.sum(g, axis=(0,) + tuple(range(2, g.ndim)))
        return gx, gw, gb


class ConvInputGrad(Op):
    """gx = conv^T(g, w) into an input of ``shape`` (also the transposed convolution)."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, g, w, shape, params):
        ctx.params = params
        return ctx.backend.conv_input_grad(g, w, shape, *params)

    @staticmethod
    def backward(ctx, h):
        g, w = ctx.saved_tensors_list()
        gg = gw = None
        if ctx.needs_grad(0):
            gg = Convolution.apply(h, w, None, *ctx.params)
        if ctx.needs_grad(1):
            gw = ConvWeightGrad.apply(h, g, shape=w._data.shape, params=ctx.params)
        return gg, gw


class ConvWeightGrad(Op):
    """gw = the weight gradient of conv(x, w) for output gradient g."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, g, shape, params):
        ctx.params = params
        return ctx.backend.conv_weight_grad(x, g, shape, *params)

    @staticmethod
    def backward(ctx, h):
        x, g = ctx.saved_tensors_list()
        gx = gg = None
        if ctx.needs_grad(0):
            gx = ConvInputGrad.apply(g, h, shape=x._data.shape, params=ctx.params)
        if ctx.needs_grad(1):
            gg = Convolution.apply(x, h, None, *ctx.params)
        return gx, gg


class Im2Col(Op):
    """Windows of x as (N, C, *window, *out); the adjoint is Col2Im."""

    @staticmethod
    def forward(ctx, x, window, stride, pads, dilation):
        ctx.params = (window, stride, pads, dilation)
        ctx.spatial = tuple(x.shape[2:])
        cols = ctx.backend.im2col(x, window, stride, pads, dilation)
        return ctx.backend.xp.asarray(cols, copy=True)  # im2col may give a view of x

    @staticmethod
    def backward(ctx, g):
        return Col2Im.apply(g, ctx.spatial, *ctx.params)


class Col2Im(Op):
    @staticmethod
    def forward(ctx, cols, spatial, window, stride, pads, dilation):
        ctx.params = (window, stride, pads, dilation)
        # contiguous, as torch's (a backend may hand back the interior of its padded sum)
        return c_order(ctx.backend, ctx.backend.col2im(cols, spatial, window, stride, pads, dilation))

    @staticmethod
    def backward(ctx, g):
        return Im2Col.apply(g, *ctx.params)


class WindowSum(Op):
    """Sum over pooling windows (zero padding); the adjoint is WindowSpread."""

    @staticmethod
    def forward(ctx, x, window, stride, pads, dilation):
        ctx.params = (window, stride, pads, dilation)
        ctx.spatial = tuple(x.shape[2:])
        return ctx.backend.window_sum(x, window, stride, pads, dilation)

    @staticmethod
    def backward(ctx, g):
        return WindowSpread.apply(g, ctx.spatial, *ctx.params)


class WindowSpread(Op):
    @staticmethod
    def forward(ctx, g, spatial, window, stride, pads, dilation):
        ctx.params = (window, stride, pads, dilation)
        xp = ctx.backend.xp
        k = len(window)
        cols = xp.broadcast_to(xp.reshape(g, tuple(g.shape[:2]) + (1,) * k + tuple(g.shape[2:])),
                               tuple(g.shape[:2]) + tuple(window) + tuple(g.shape[2:]))
        return ctx.backend.col2im(cols, spatial, window, stride, pads, dilation)

    @staticmethod
    def backward(ctx, h):
        return WindowSum.apply(h, *ctx.params)


class PlaneGather(Op):
    """out[n, c, i] = x[n, c].flat[index[n, c, i]] (max pooling's selection); adjoint PlaneScatter.

    ``values`` may hand in the already-gathered result (the backend's max_pool computed it).
    """

    @staticmethod
    def forward(ctx, x, index, values=None, unique=False):
        ctx.shape = tuple(x.shape)
        ctx.index = ctx.tensor(index)
        ctx.unique = unique
        if values is not None:
            return values
        xp = ctx.backend.xp
        n, c = x.shape[:2]
        idx = xp.reshape(index, (n, c, -1))
        out = ctx.backend.take_along_axis(xp.reshape(x, (n, c, -1)), idx, -1)
        return xp.reshape(out, tuple(index.shape))

    @staticmethod
    def backward(ctx, g):
        return PlaneScatter.apply(g, ctx.index, shape=ctx.shape, unique=ctx.unique), None

    @staticmethod
    def fast_backward(ctx, g):
        index = ctx.index._data
        if ctx.unique:
            return ctx.backend.max_unpool(g, index, ctx.shape, unique=True), None
        return ctx.backend.max_unpool(g, index, ctx.shape), None


class PlaneScatter(Op):
    """``unique``: no index repeats within a plane (windows that do not overlap)."""

    @staticmethod
    def forward(ctx, g, index, shape, unique=False):
        ctx.index = ctx.tensor(index)
        ctx.unique = unique
        if unique:
            return ctx.backend.max_unpool(g, index, shape, unique=True)
        return ctx.backend.max_unpool(g, index, shape)

    @staticmethod
    def backward(ctx, h):
        return PlaneGather.apply(h, ctx.index, unique=ctx.unique), None


class MaxUnpool(Op):
    """Values written at flat per-plane indices of zeros (a repeated index keeps one value, as torch)."""

    @staticmethod
    def forward(ctx, x, index, shape):
        ctx.index = ctx.tensor(index)
        xp = ctx.backend.xp
        n, c = shape[:2]
        zeros = xp.zeros((n, c, math.prod(shape[2:])), dtype=x.dtype)
        out = ctx.backend.put_along_axis(zeros, xp.reshape(index, (n, c, -1)), xp.reshape(x, (n, c, -1)), -1)
        return xp.reshape(out, tuple(shape))

    @staticmethod
    def backward(ctx, g):
        return PlaneGather.apply(g, ctx.index), None


# argument handling -------------------------------------------------------------------------------
def _tuple(value, n, name):
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            value = tuple(value) * n
        if len(value) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to "
                               f"match the convolution dimensions, but got {name}={list(value)}")
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _check_input(input, k, name, unbatched_ok=True):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    nd = input._data.ndim
    if nd == k + 2:
        return input, False
    if nd == k + 1 and unbatched_ok:
        return input.unsqueeze(0), True
    raise RuntimeError(f"Expected {k + 1}D (unbatched) or {k + 2}D (batched) input to {name}, but got input "
                       f"of size: {list(input.shape)}")


def _same_dtype(input, weight, bias):
    if input._dtype is not weight._dtype:
        raise RuntimeError(f"expected scalar type {_dt.scalar_type_name(input._dtype)} but found "
                           f"{_dt.scalar_type_name(weight._dtype)} (input {input._dtype}, weight {weight._dtype}); "
                           f"convert one, e.g. weight.to(input.dtype)")
    if not input.is_floating_point():
        raise RuntimeError(f"convolution expects a floating-point input, got {input._dtype}; use x.float()")
    if bias is not None and bias._dtype is not input._dtype:
        raise RuntimeError(f"Input type ({input._dtype}) and bias type ({bias._dtype}) should be the same")


def _conv(input, weight, bias, stride, padding, dilation, groups, k, name):
    x, unbatched = _check_input(input, k, name)
    if not isinstance(weight, Tensor) or weight._data.ndim != k + 2:
        shape = list(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise RuntimeError(f"{name}: expected weight to be {k + 2}-dimensional, got {shape}")
    _same_dtype(x, weight, bias)
    stride = _tuple(stride, k, "stride")
    dilation = _tuple(dilation, k, "dilation")
    groups = int(groups)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    wshape = tuple(weight._data.shape)
    window = wshape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * k
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            totals = [d * (w - 1) for d, w in zip(dilation, window)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'; use 'same', 'valid' or integers")
    else:
        pad = _tuple(padding, k, "padding")
        if any(p < 0 for p in pad):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((p, p) for p in pad)
    xshape = tuple(x._data.shape)
    if wshape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size [{list(wshape)}] instead")
    if xshape[1] != wshape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(wshape)}, expected input{list(xshape)} "
                           f"to have {wshape[1] * groups} channels, but got {xshape[1]} channels instead")
    padded = [s + a + b for s, (a, b) in zip(xshape[2:], pads)]
    eff = [d * (w - 1) + 1 for d, w in zip(dilation, window)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != wshape[0]):
        raise RuntimeError(f"Given weight of size {list(wshape)}, expected bias to be 1-dimensional with "
                           f"{wshape[0]} elements, but got bias of size {list(bias.shape)} instead")
    out = Convolution.apply(x, weight, bias, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) input with weight (O, C/groups, K).

    Example:
        >>> y = F.conv1d(tensorplug.randn(2, 3, 10), tensorplug.randn(4, 3, 3), padding='same')
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv1d, input, weight, bias, stride, padding, dilation, groups)
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C, H, W) input with weight (O, C/groups, kH, kW).

    Args:
        padding: an int, a pair, ``'valid'`` (none) or ``'same'`` (output size = input size, stride 1).

    Example:
        >>> y = F.conv2d(tensorplug.randn(1, 3, 8, 8), tensorplug.randn(6, 3, 3, 3), padding=1)
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv2d, input, weight, bias, stride, padding, dilation, groups)
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over (N, C, D, H, W) input."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv3d, input, weight, bias, stride, padding, dilation, groups)
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, k, name):
    x, unbatched = _check_input(input, k, name)
    if not isinstance(weight, Tensor) or weight._data.ndim != k + 2:
        raise RuntimeError(f"{name}: expected weight to be {k + 2}-dimensional")
    _same_dtype(x, weight, bias)
    if x._dtype.name == "bfloat16":
        # torch sums the overlapping bfloat16 contributions in float32 and rounds once (rounded per add:
        # twice torch's error); its float16 rounds as ours does
        wide_bias = None if bias is None else bias.float()
        out = _conv_transpose(input.float(), weight.float(), wide_bias, stride, padding, output_padding,
                              groups, dilation, k, name)
        return out.to(x._dtype)
    stride = _tuple(stride, k, "stride")
    pad = _tuple(padding, k, "padding")
    opad = _tuple(output_padding, k, "output_padding")
    dilation = _tuple(dilation, k, "dilation")
    groups = int(groups)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(p < 0 for p in pad):
        raise RuntimeError("negative padding is not supported")
    if any(o >= s and o >= d for o, s, d in zip(opad, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={list(opad)} stride={list(stride)} dilation={list(dilation)}")
    wshape = tuple(weight._data.shape)
    xshape = tuple(x._data.shape)
    if xshape[1] != wshape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(wshape)}, expected input{list(xshape)} "
                           f"to have {wshape[0]} channels, but got {xshape[1]} channels instead")
    if wshape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                           f"but got weight of size [{list(wshape)}] instead")
    out_c = wshape[1] * groups
    spatial = tuple((i - 1) * s - 2 * p + d * (w - 1) + o + 1
                    for i, s, p, d, w, o in zip(xshape[2:], stride, pad, dilation, wshape[2:], opad))
    if any(s <= 0 for s in spatial):
        raise RuntimeError(f"Given input size per channel: {list(xshape[2:])}. Calculated output size per "
                           f"channel: {list(spatial)}. Output size is too small")
    if bias is not None and (bias._data.ndim != 1 or bias._data.shape[0] != out_c):
        raise RuntimeError(f"Given transposed=1, weight of size {list(wshape)}, expected bias to be "
                           f"1-dimensional with {out_c} elements, but got bias of size {list(bias.shape)} instead")
    params = (stride, tuple((p, p) for p in pad), dilation, groups)
    out = ConvInputGrad.apply(x, weight, shape=(xshape[0], out_c) + spatial, params=params)
    if bias is not None:
        out = out + bias.reshape((-1,) + (1,) * k)
    out = _nodes.named(out, "ConvolutionBackward0")  # torch's: one convolution node, the bias in it
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution; weight (C_in, C_out/groups, K)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv_transpose1d, input, weight, bias,
                        stride, padding, output_padding, groups, dilation)
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the gradient of conv2d); weight (C_in, C_out/groups, kH, kW).

    Example:
        >>> y = F.conv_transpose2d(tensorplug.randn(1, 4, 5, 5), tensorplug.randn(4, 2, 3, 3), stride=2)
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv_transpose2d, input, weight, bias,
                        stride, padding, output_padding, groups, dilation)
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


# pooling ------------------------------------------------------------------------------------------
MAX_POOL, AVG_POOL = "MaxPool{k}DWithIndicesBackward0", "AvgPool{k}DBackward0"
ADAPTIVE_MAX, ADAPTIVE_AVG = "AdaptiveMaxPool{k}DBackward0", "AdaptiveAvgPool{k}DBackward0"


def _pool_node(result, node, k):
    """A pool's result (or its (values, indices)) showing torch's node: ``node`` for ``k`` dimensions;
    torch's 1-d pools are its 2-d ones on an unsqueezed input, squeezed back."""
    name = "SqueezeBackward1" if k == 1 else node.format(k=k)
    if isinstance(result, tuple):
        return (_nodes.named(result[0], name),) + result[1:]
    return _nodes.named(result, name)


def _pool_args(input, kernel_size, stride, padding, dilation, k, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    nd = input._data.ndim
    # torch allows an empty batch (the first of k + 2 dims), no other empty dimension
    if nd not in (k + 1, k + 2) or not all(input._data.shape[nd - k - 1:]):
        raise RuntimeError(f"non-empty {k + 1}D or {k + 2}D (batch mode) tensor expected for input, but got "
                           f"input of size: {list(input.shape)}")
    window = _tuple(kernel_size, k, "kernel_size")
    stride = window if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _tuple(stride, k, "stride")
    pad = _tuple(padding, k, "padding")
    dilation = _tuple(dilation, k, "dilation")
    if any(w <= 0 for w in window):
        raise RuntimeError("kernel_size must be greater than zero")
    if any(s <= 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    x = input.unsqueeze(0) if nd == k + 1 else input
    return x, nd == k + 1, window, stride, pad, dilation


def _pool_geometry(spatial, window, stride, pad, dilation, ceil_mode, shape):
    """Output sizes and (lo, hi) pads, hi grown so ceil-mode windows fit."""
    outs = []
    pads = []
    for n, w, s, p, d in zip(spatial, window, stride, pad, dilation):
        eff = d * (w - 1) + 1
        span = n + 2 * p - eff
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1  # the last window must start inside the input or left padding
        outs.append(o)
        pads.append((p, max(p, (o - 1) * s + eff - n - p)))
    if any(o <= 0 for o in outs):
        size = "x".join(map(str, shape[1:]))
        osize = "x".join(map(str, (shape[1],) + tuple(outs)))
        raise RuntimeError(f"Given input size: ({size}). Calculated output size: ({osize}). Output size is "
                           f"too small; use a smaller kernel_size or more padding")
    return tuple(outs), tuple(pads)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, k, name):
    x, unbatched, window, stride, pad, dilation = _pool_args(input, kernel_size, stride, padding, dilation, k,
                                                             name)
    if any(p * 2 > d * (w - 1) + 1 for p, w, d in zip(pad, window, dilation)):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pad[0] if k == 1 else list(pad)}, "
                           f"kernel_size={window[0] if k == 1 else list(window)} and dilation="
                           f"{dilation[0] if k == 1 else list(dilation)}")
    # torch pools integers in 2-D and 3-D (and in 1-D with indices, through its 2-D kernel)
    if not x.is_floating_point() and ((k == 1 and not return_indices) or x._dtype is _dt.bool_):
        kernel = "max_pool1d_impl" if k == 1 and not return_indices else "max_pool2d" if k == 1 else name
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(x._dtype)}'; "
                                  f"use x.float()")
    shape = tuple(x._data.shape)
    outs, pads = _pool_geometry(shape[2:], window, stride, pad, dilation, ceil_mode, shape)
    values, index = x._backend.max_pool(x._data, window, stride, pads, dilation)
    idx = Tensor._make(index, _dt.int64, x._backend)
    # windows that do not overlap select each input element at most once (without left padding,
    # which an all -inf window could select, every index is inside its plane)
    unique = not any(pad) and all(s >= d * (w - 1) + 1 for s, w, d in zip(stride, window, dilation))
    out = PlaneGather.apply(x, idx, values=values, unique=unique)
    if unbatched:
        out = out.squeeze(0)
        idx = idx.squeeze(0)
    return (out, idx) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L) input; ``return_indices`` also gives flat argmax positions."""
    return _pool_node(_max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                                "max_pool1d"), MAX_POOL, 1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W) input (stride defaults to kernel_size).

    Example:
        >>> y = F.max_pool2d(tensorplug.randn(1, 3, 8, 8), 2)   # (1, 3, 4, 4)
    """
    return _pool_node(_max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                                "max_pool2d"), MAX_POOL, 2)


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, k, name):
    window = _tuple(kernel_size, k, "kernel_size")
    stride = window if stride is None else _tuple(stride, k, "stride")
    pad = _tuple(padding, k, "padding")
    if not isinstance(input, Tensor) or input._data.ndim not in (k + 1, k + 2):
        raise RuntimeError(f"{name}: expected a {k + 1}D or {k + 2}D input tensor")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) "
                           f"but got indices tensor with shape: {list(indices.shape)}")
    unbatched = input._data.ndim == k + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices.unsqueeze(0) if unbatched else indices
    default = tuple((n - 1) * s - 2 * p + w for n, s, p, w in zip(x.shape[2:], stride, pad, window))
    if output_size is None:
        spatial = default
    else:
        spatial = tuple(output_size)[-k:]
        for d, (size, base, s) in enumerate(zip(spatial, default, stride)):
            if not base - s < size < base + s:
                raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must be between '
                                 f'{base - s} and {base + s})')
    if idx._dtype is not _dt.int64:
        idx = idx.long()
    from ..ops.gather import first_out_of_range
    bad = first_out_of_range(idx, math.prod(spatial))  # NumPy would read -1 as the plane's last element
    if bad is not None:
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, spatial))}{'x1' if k == 1 else ''}); pass the indices "
                           f"max_pool{k}d(return_indices=True) gave for this input")
    shape = tuple(x.shape[:2]) + tuple(spatial)
    out = MaxUnpool.apply(x, idx, shape=shape)
    out = out.squeeze(0) if unbatched else out
    # torch's node: its 1-d unpool is the 2-d one on an unsqueezed input, squeezed back
    return _nodes.named(out, "SqueezeBackward1" if k == 1 else f"MaxUnpool{k}DBackward0")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: values back at their ``indices``, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d (``return_indices=True``): values at ``indices``, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, k, name):
    if isinstance(input, Tensor) and not input.is_floating_point():
        if input._dtype is not _dt.int64:  # torch averages int64 and floats only
            raise NotImplementedError(f"\"{'avg_pool3d_out_frame' if k == 3 else 'avg_pool2d'}\" not implemented "
                                      f"for '{_dt.scalar_type_name(input._dtype)}'; use x.float()")
        # torch's sum divided by the count in integer arithmetic (truncated toward zero)
        out = _avg_pool(input.double(), kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, k, name)
        return out.trunc().to(input._dtype)
    if isinstance(input, Tensor) and input.is_floating_point() and input._dtype.itemsize < 4:
        # torch sums float16/bfloat16 windows in float32: a 16x16 float16 window of 3000s overflows
        out = _avg_pool(input.float(), kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, k, name)
        return out.to(input._dtype)
    x, unbatched, window, stride, pad, _ = _pool_args(input, kernel_size, stride, padding, 1, k, name)
    if any(p * 2 > w for p, w in zip(pad, window)):
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad="
                           f"{pad[0] if k == 1 else list(pad)}, kernel_size={window[0] if k == 1 else list(window)}"
                           f" and dilation=1")
    shape = tuple(x._data.shape)
    outs, pads = _pool_geometry(shape[2:], window, stride, pad, (1,) * k, ceil_mode, shape)
    dilation = (1,) * k
    total = WindowSum.apply(x, window, stride, pads, dilation)
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad and all(a == b for a, b in pads):
        out = total / math.prod(window)
    else:
        out = total / _divisor(x, shape, window, stride, pad, pads, count_include_pad)
    return out.squeeze(0) if unbatched else out


def _divisor(x, shape, window, stride, pad, pads, count_include_pad):
    """How many elements each window averages: windows clipped to the input (+ padding if counted)."""
    backend = x._backend
    xp = backend.xp
    spatial = shape[2:]
    if count_include_pad:
        # the padded input counts; ceil-mode overhang beyond it does not
        ones = backend.ones((1, 1) + tuple(n + 2 * p for n, p in zip(spatial, pad)), x._dtype)
        extra = tuple((0, hi - p) for (_, hi), p in zip(pads, pad))
    else:
        ones = backend.ones((1, 1) + tuple(spatial), x._dtype)
        extra = pads
    counts = backend.window_sum(ones, window, stride, extra, (1,) * len(window))
    return Tensor._make(xp.reshape(counts, tuple(counts.shape[2:])), x._dtype, backend)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Average over sliding windows of (N, C, L) input."""
    return _pool_node(_avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                                "avg_pool1d"), AVG_POOL, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of (N, C, H, W) input.

    Example:
        >>> y = F.avg_pool2d(tensorplug.randn(1, 3, 8, 8), 2)   # (1, 3, 4, 4)
    """
    return _pool_node(_avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                divisor_override, 2, "avg_pool2d"), AVG_POOL, 2)


def _refuse_integers(input, kernel):
    """torch's NotImplementedError for an adaptive pool of an integer input."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(input._dtype)}'; "
                                  f"use x.float()")


def _adaptive_bounds(n, o):
    return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def _adaptive_matrix(x, n, o):
    """(o, n) averaging matrix of adaptive pooling along one axis (torch's start/end rule)."""
    rows = []
    for a, b in _adaptive_bounds(n, o):
        rows.append([1.0 / (b - a) if a <= j < b else 0.0 for j in range(n)])
    return Tensor._make(x._backend.asarray(rows, x._dtype), x._dtype, x._backend)


def _adaptive_args(input, output_size, k, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    nd = input._data.ndim
    if nd not in (k + 1, k + 2):
        raise RuntimeError(f"{name}(): Expected {k + 1}D or {k + 2}D tensor, but got {list(input.shape)}")
    spatial = tuple(input._data.shape[-k:])
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != k:
            raise RuntimeError(f"{name}: output_size must be {k}")
        outs = tuple(n if o is None else int(o) for o, n in zip(output_size, spatial))
    else:
        outs = (int(output_size),) * k
    if any(o < 0 for o in outs):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{list(outs)}")
    if any(n == 0 for n in spatial):
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                           f"has sizes {list(input.shape)} with an empty dimension")
    return spatial, outs


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a fixed output length."""
    spatial, outs = _adaptive_args(input, output_size, 1, "adaptive_avg_pool1d")
    if outs == (1,):
        return _pool_node(input.mean(-1, keepdim=True), ADAPTIVE_AVG, 1)
    _refuse_integers(input, "adaptive_avg_pool2d")
    if spatial[0] % outs[0] == 0:
        s = spatial[0] // outs[0]
        out = avg_pool1d(input, s, s)
    else:
        out = input @ _adaptive_matrix(input, spatial[0], outs[0]).t()
    return _pool_node(out, ADAPTIVE_AVG, 1)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (``None`` keeps that input size).

    Example:
        >>> y = F.adaptive_avg_pool2d(tensorplug.randn(1, 3, 7, 9), (2, 3))
    """
    spatial, outs = _adaptive_args(input, output_size, 2, "adaptive_avg_pool2d")
    if outs == (1, 1):
        return input.mean((-2, -1), keepdim=True)  # torch's too: MeanBackward1
    _refuse_integers(input, "adaptive_avg_pool2d")
    if all(n % o == 0 for n, o in zip(spatial, outs)):
        s = tuple(n // o for n, o in zip(spatial, outs))
        out = avg_pool2d(input, s, s)
    else:
        ph = _adaptive_matrix(input, spatial[0], outs[0])
        pw = _adaptive_matrix(input, spatial[1], outs[1])
        out = ph @ input @ pw.t()
    return _pool_node(out, ADAPTIVE_AVG, 2)


def _adaptive_max(input, output_size, return_indices, k, name):
    spatial, outs = _adaptive_args(input, output_size, k, name)
    _refuse_integers(input, "adaptive_max_pool3d_cpu" if k == 3 else "adaptive_max_pool2d")
    if all(o and n % o == 0 for n, o in zip(spatial, outs)):
        s = tuple(n // o for n, o in zip(spatial, outs))
        return _max_pool(input, s, s, 0, 1, False, return_indices, k, name)
    return _adaptive_max_windows(input, spatial, outs, return_indices)


def _adaptive_max_windows(input, spatial, outs, return_indices):
    """Sizes that do not divide: torch's windows [floor(i n / o), ceil((i + 1) n / o)) per output
    position, each a max over a slice (differentiable through max's backward)."""
    import itertools
    from ..ops import stack
    k = len(spatial)
    lead = tuple(input.shape[:-k])
    bounds = [[((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)] for n, o in zip(spatial, outs)]
    values, indices = [], []
    for window in itertools.product(*bounds):
        block = input[(Ellipsis,) + tuple(slice(a, b) for a, b in window)]
        widths = tuple(b - a for a, b in window)
        v, arg = block.reshape(lead + (-1,)).max(-1)
        values.append(v)
        if return_indices:
            flat = arg * 0  # the flat input index of each maximum: window offsets plus its place inside
            rest = arg
            for axis in reversed(range(k)):
                pos = rest % widths[axis] + window[axis][0]
                rest = rest // widths[axis]
                stride = 1
                for n in spatial[axis + 1:]:
                    stride *= n
                flat = flat + pos * stride
            indices.append(flat)
    shape = lead + tuple(outs)
    out = stack(values, -1).reshape(shape) if values else input.new_zeros(shape)
    if not return_indices:
        return out
    return out, (stack(indices, -1).reshape(shape) if indices else out.long())


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length."""
    return _pool_node(_adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d"), ADAPTIVE_MAX, 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size (``None`` keeps that input size)."""
    return _pool_node(_adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d"), ADAPTIVE_MAX, 2)


# unfold / fold ------------------------------------------------------------------------------------
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding local blocks of (N, C, H, W) as (N, C*kH*kW, L) (im2col)."""
    if isinstance(input, Tensor) and input.dim() < 3:  # torch reads dim 1 and 2 before checking the rank
        d = input.dim()
        raise IndexError("Dimension specified as 1 but tensor has no dimensions" if not d else
                         f"Dimension out of range (expected to be in range of [{-d}, {d - 1}], but got {d})")
    if isinstance(input, Tensor) and (input.dim() > 4 or not all(input.shape[-3:])):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    x, unbatched = _check_input(input, 2, "unfold")
    window = _tuple(kernel_size, 2, "kernel_size")
    dilation = _tuple(dilation, 2, "dilation")
    pad = _tuple(padding, 2, "padding")
    stride = _tuple(stride, 2, "stride")
    shape = tuple(x._data.shape)
    pads = tuple((p, p) for p in pad)
    outs = [(n + 2 * p - d * (w - 1) - 1) // s + 1 for n, p, d, w, s in zip(shape[2:], pad, dilation, window, stride)]
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"Given input with spatial size {list(shape[2:])}, kernel_size={list(window)}, "
                           f"dilation={list(dilation)}, padding={list(pad)}, calculated shape of the array of "
                           f"sliding blocks as {outs}, but its components must be at least one.")
    cols = Im2Col.apply(x, window, stride, pads, dilation)
    out = cols.reshape(shape[0], shape[1] * window[0] * window[1], outs[0] * outs[1])
    return _nodes.named(out.squeeze(0) if unbatched else out, "Im2ColBackward0")  # torch's one node, batched or not


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum (N, C*kH*kW, L) blocks back into (N, C, *output_size) (col2im; the adjoint of unfold)."""
    if not isinstance(input, Tensor) or input._data.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to fold, but got input of size: "
                           f"{list(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    if not all(input.shape[-2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    unbatched = input._data.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    spatial = _tuple(output_size, 2, "output_size")
    window = _tuple(kernel_size, 2, "kernel_size")
    dilation = _tuple(dilation, 2, "dilation")
    pad = _tuple(padding, 2, "padding")
    stride = _tuple(stride, 2, "stride")
    outs = [(n + 2 * p - d * (w - 1) - 1) // s + 1 for n, p, d, w, s in zip(spatial, pad, dilation, window, stride)]
    n, ckk, length = x._data.shape
    kk = window[0] * window[1]
    if ckk % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={ckk} and kernel_size={list(window)}")
    if length != outs[0] * outs[1]:
        raise RuntimeError(f"Given output_size={list(spatial)}, kernel_size={list(window)}, dilation="
                           f"{list(dilation)}, padding={list(pad)}, stride={list(stride)}, expected size of "
                           f"input's dimension 2 to match the calculated number of sliding blocks "
                           f"{outs[0]} * {outs[1]} = {outs[0] * outs[1]}, but got input.size(2)={length}.")
    cols = x.reshape(n, ckk // kk, window[0], window[1], outs[0], outs[1])
    out = Col2Im.apply(cols, spatial, window, stride, tuple((p, p) for p in pad), dilation)
    return _nodes.named(out.squeeze(0) if unbatched else out, "Col2ImBackward0")  # torch's one node, batched or not


# attention --------------------------------------------------------------------------------------
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """``softmax(q @ k^T * scale + mask) @ v`` over (..., L, E) queries and (..., S, E) keys/values.

    ``attn_mask``: bool (True = may attend) or float (added to the scores);
    ``is_causal`` masks keys after each query. ``dropout_p`` drops attention weights.

    Example:
        >>> q = k = v = tensorplug.randn(2, 4, 5, 8)   # (N, heads, L, E)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        tensorplug.Size([2, 4, 5, 8])
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, scaled_dot_product_attention, query, key, value,
                        attn_mask, dropout_p, is_causal, scale, enable_gqa)
    from .. import creation
    from . import functional as F
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same embedding size, got "
                           f"{query.shape[-1]} and {key.shape[-1]}")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key = _repeat_heads(key, groups)
        value = _repeat_heads(value, groups)
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                           "is_causal=True")
    if attn_mask is not None:
        _check_mask(tuple(query.shape[:-1]) + (source,), tuple(attn_mask.shape))
    if _fusable(query, key, value, attn_mask):
        mask = None if attn_mask is None else attn_mask._data
        keep = None if dropout_p == 0.0 else _dropout_mask(query, tuple(query.shape[:-1]) + (source,), dropout_p)
        return Attention.apply(query, key, value, mask=mask, causal=is_causal, scale=scale, keep=keep)
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        rows = creation.arange(length, device=query.device).unsqueeze(-1)
        cols = creation.arange(source, device=query.device).unsqueeze(0)
        scores = scores.masked_fill(cols > rows, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype is _dt.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        else:
            scores = scores + attn_mask
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ value


def _safe_softmax(scores):
    """torch's attention softmax: a row of scores that are all -inf (a query whose every key is masked)
    gives weights 0, where a plain softmax gives NaN (which would reach every gradient)."""
    from . import functional as F
    weights = F.softmax(scores, -1)
    if weights.numel() and bool(weights[..., 0].isnan().any()):  # NaN in every such row: one column read
        unattended = (scores == -math.inf).all(-1, keepdim=True)
        # those rows' scores set finite first, so the softmax's backward (which reads its output) sees no NaN
        weights = F.softmax(scores.masked_fill(unattended, 0.0), -1).masked_fill(unattended, 0.0)
    return weights


def _check_mask(scores, mask):
    """torch's RuntimeError where the mask does not broadcast against the (..., L, S) scores."""
    from ..ops._util import broadcast_error
    for a, b in zip(reversed(scores), reversed(mask)):
        if a != b and 1 not in (a, b):
            raise broadcast_error(scores, mask)
    if len(mask) > len(scores):  # torch adds the mask into the scores in place: it may not add dims
        full = tuple(mask[:len(mask) - len(scores)]) + tuple(max(a, b) for a, b in zip(scores, mask[-len(scores):]))
        raise RuntimeError(f"output with shape {list(scores)} doesn't match the broadcast shape {list(full)}")


def _repeat_heads(t, groups):
    shape = tuple(t.shape)
    lead, heads = shape[:-3], shape[-3]
    expanded = t.unsqueeze(-3).expand(*lead, heads, groups, *shape[-2:])
    return expanded.reshape(*lead, heads * groups, *shape[-2:])


def _dropout_mask(query, shape, p):
    """The scaled keep-mask of attention dropout over the ``shape`` of the scores: the draw F.dropout makes
    on the weights (``rand >= p``, kept ones scaled by ``1 / (1 - p)``), so both paths use one stream."""
    backend = query._backend
    if p >= 1.0:
        return backend.zeros(shape, query._dtype)
    keep = backend.rand(shape, query._dtype) >= p
    return backend.astype(keep, query._dtype) * (1.0 / (1.0 - p))


def _fusable(query, key, value, attn_mask):
    """Whether the one-node Attention takes this call: same batch dims, one dtype, and a mask that is bool
    or a float one nobody differentiates."""
    if query.dim() < 2 or key.dim() != query.dim() or value.dim() != query.dim():
        return False
    if not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2] and key.shape[-2] == value.shape[-2]):
        return False
    if not (query.dtype == key.dtype == value.dtype) or not query.dtype.is_floating_point:
        return False
    return attn_mask is None or attn_mask.dtype is _dt.bool_ or (
        attn_mask.dtype == query.dtype and not attn_mask.requires_grad)


class Attention(Op):
    """``softmax(q @ k^T * scale + mask) * keep @ v`` in one node (scaled_dot_product_attention; ``keep``:
    dropout's scaled keep-mask, or None).

    The scale goes into ``q`` (an (L, E) pass instead of an (L, S) one), the mask and the softmax
    are applied in place on the scores, and the probabilities are kept for the backward: about
    half the memory passes of the composed matmul, mul, masked_fill, softmax, dropout and matmul nodes.
    """

    save_inputs = (0, 1, 2)

    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale, keep=None):
        xp = ctx.backend.xp
        ctx.scale = scale
        ctx.mask, ctx.causal, ctx.keep = mask, causal, keep
        dtype = v.dtype
        if getattr(dtype, "itemsize", 4) == 2:  # torch computes float16/bfloat16 in float32, rounds once
            q, k, v = (xp.astype(t, xp.float32) for t in (q, k, v))
            if mask is not None and mask.dtype == dtype:
                mask = xp.astype(mask, xp.float32)
            keep = None if keep is None else xp.astype(keep, xp.float32)
        blocked = _blocked(xp, mask, causal, q.shape[-2], k.shape[-2])
        fused = ctx.backend.fused_attention(q, k, v, blocked, None if blocked is not None else mask, scale, keep)
        if fused is not NotImplemented:
            out, p = fused
            ctx.p = p if p.dtype == dtype else xp.astype(p, dtype)
            return out if out.dtype == dtype else xp.astype(out, dtype)
        s = xp.matmul(q * scale, xp.matrix_transpose(k))
        if blocked is not None:
            s = xp.where(blocked, -math.inf, s)
        elif mask is not None:  # a float mask is added (and may broadcast the scores)
            s = s + mask
        p = ctx.backend.fused_softmax(s, False)
        if p is NotImplemented:
            s -= xp.max(s, axis=-1, keepdims=True)
            p = xp.exp(s)
            p /= xp.sum(p, axis=-1, keepdims=True)
        p = _zero_unattended(xp, p, blocked, mask)
        ctx.p = p if p.dtype == dtype else xp.astype(p, dtype)
        out = xp.matmul(p if keep is None else p * keep, v)
        return out if out.dtype == dtype else xp.astype(out, dtype)  # NumPy's bfloat16 matmul is float32

    @staticmethod
    def backward(ctx, g):
        # the composed formulas in tensor ops (double backward): p recomputed from q and k
        q, k, v = ctx.saved_tensors_list()
        s = (q * ctx.scale) @ k.transpose(-2, -1)
        blocked = _blocked(ctx.backend.xp, ctx.mask, ctx.causal, s.shape[-2], s.shape[-1])
        if blocked is not None:
            s = s.masked_fill(ctx.tensor(blocked), -math.inf)
        elif ctx.mask is not None:
            s = s + ctx.tensor(ctx.mask)
        p = _safe_softmax(s)
        gp = g @ v.transpose(-2, -1)
        if ctx.keep is not None:
            keep = ctx.tensor(ctx.keep)
            gp, dropped = gp * keep, p * keep
        else:
            dropped = p
        gs = p * (gp - (gp * p).sum(-1, keepdim=True)) * ctx.scale
        return gs @ k, gs.transpose(-2, -1) @ q, dropped.transpose(-2, -1) @ g

    @staticmethod
    def fast_backward(ctx, g):
        q, k, v = ctx.saved_arrays()
        xp = ctx.backend.xp
        p = ctx.p
        keep = ctx.keep
        fused = ctx.backend.fused_attention_backward(q, k, v, p, g, ctx.scale,
                                                     tuple(ctx.needs_grad(i) for i in range(3)), keep)
        if fused is not NotImplemented:
            return fused
        gp = xp.matmul(g, xp.matrix_transpose(v))
        if keep is not None:
            gp *= keep
        fused = ctx.backend.fused_softmax_backward(p, gp, False)
        if fused is NotImplemented:
            gp -= xp.sum(gp * p, axis=-1, keepdims=True)
            gp *= p  # d(scores); the scale goes on the (L, E) and (S, E) results
        else:
            gp = fused
        gq = xp.matmul(gp, k) if ctx.needs_grad(0) else None
        gk = xp.matmul(xp.matrix_transpose(gp), q) if ctx.needs_grad(1) else None
        gv = xp.matmul(xp.matrix_transpose(p if keep is None else p * keep), g) if ctx.needs_grad(2) else None
        if gq is not None:
            gq *= ctx.scale
        if gk is not None:
            gk *= ctx.scale
        return gq, gk, gv


def _zero_unattended(xp, p, blocked, mask):
    """``p`` with 0 in the rows of a query whose every key is masked (torch's safe softmax; softmax of a
    row of -inf is NaN). Such rows are NaN throughout, so column 0 finds them in one strided read."""
    if not p.size or not bool(xp.any(xp.isnan(p[..., 0]))):
        return p
    if blocked is not None:
        unattended = xp.all(blocked, axis=-1, keepdims=True)
    elif mask is not None:
        unattended = xp.all(mask == -math.inf, axis=-1, keepdims=True)
    else:
        return p  # NaN from the inputs themselves stays, as in torch
    return xp.where(unattended, xp.zeros((), dtype=p.dtype), p)


def _blocked(xp, mask, causal, length, source):
    """A bool array, True where a query may not attend (causal: keys after it; a bool mask's False),
    or None when nothing is blocked this way."""
    if causal:
        rows = xp.reshape(xp.arange(length), (length, 1))
        return xp.reshape(xp.arange(source), (1, source)) > rows
    if mask is not None and mask.dtype == xp.bool:
        return xp.logical_not(mask)
    return None
