"""3-D pooling and transposed convolution over (N, C, D, H, W) input, on the k-dimensional kernels of
``functional_conv`` (the same windows, geometry and errors as the 1-D and 2-D forms)."""
from __future__ import annotations

import itertools

from .. import amp as _amp
from . import functional_conv as _fc

__all__ = ["max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d", "max_unpool3d",
           "conv_transpose3d"]


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, D, H, W) input; indices are flat positions in each D*H*W volume.

    Example:
        >>> F.max_pool3d(tensorplug.randn(1, 2, 4, 4, 4), 2).shape
        tensorplug.Size([1, 2, 2, 2, 2])
    """
    return _fc._pool_node(_fc._max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                                        3, "max_pool3d"), _fc.MAX_POOL, 3)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average over sliding windows of (N, C, D, H, W) input."""
    return _fc._pool_node(_fc._avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                        divisor_override, 3, "avg_pool3d"), _fc.AVG_POOL, 3)


def _check_rank(input, output_size):
    # torch's Python wrapper fills None sizes from the input before the kernel checks its rank
    if isinstance(output_size, (list, tuple)) and hasattr(input, "dim") and input.dim() <= len(output_size):
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")


def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a fixed (D, H, W) size (``None`` keeps that input size), torch's window rule.

    Example:
        >>> F.adaptive_avg_pool3d(tensorplug.randn(1, 2, 5, 6, 7), (2, 3, 1)).shape
        tensorplug.Size([1, 2, 2, 3, 1])
    """
    _check_rank(input, output_size)
    spatial, outs = _fc._adaptive_args(input, output_size, 3, "adaptive_avg_pool3d")
    if outs == (1, 1, 1):
        return input.mean((-3, -2, -1), keepdim=True)  # torch's too: MeanBackward1
    _fc._refuse_integers(input, "adaptive_avg_pool3d_cpu")
    if all(o and n % o == 0 for n, o in zip(spatial, outs)):
        s = tuple(n // o for n, o in zip(spatial, outs))
        return _fc._pool_node(avg_pool3d(input, s, s), _fc.ADAPTIVE_AVG, 3)
    # each output cell averages its own slice (torch's [floor(i n / o), ceil((i + 1) n / o)) windows); an
    # averaging matrix would turn an inf into nan through its zeros
    from ..ops.join import stack
    bounds = [_fc._adaptive_bounds(n, o) for n, o in zip(spatial, outs)]
    cells = [input[(Ellipsis,) + tuple(slice(a, b) for a, b in window)].mean((-3, -2, -1))
             for window in itertools.product(*bounds)]
    lead = tuple(input.shape[:-3])
    if not cells:
        return input.new_zeros(lead + tuple(outs))
    return _fc._pool_node(stack(cells, -1).reshape(lead + tuple(outs)), _fc.ADAPTIVE_AVG, 3)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling to a fixed (D, H, W) size; indices are flat positions in each D*H*W volume."""
    _check_rank(input, output_size)
    return _fc._pool_node(_fc._adaptive_max(input, output_size, return_indices, 3, "adaptive_max_pool3d"),
                          _fc.ADAPTIVE_MAX, 3)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d (``return_indices=True``): values at ``indices``, zeros elsewhere."""
    return _fc._max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution (the gradient of conv3d); weight (C_in, C_out/groups, kD, kH, kW).

    Example:
        >>> F.conv_transpose3d(tensorplug.randn(1, 4, 3, 3, 3), tensorplug.randn(4, 2, 2, 2, 2), stride=2).shape
        tensorplug.Size([1, 2, 6, 6, 6])
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, conv_transpose3d, input, weight, bias,
                        stride, padding, output_padding, groups, dilation)
    if hasattr(weight, "dim") and weight.dim() == 5 and not weight.numel():
        raise RuntimeError(f"non-empty 5D (n_output_plane x n_input_plane x kernel_depth x kernel_height x "
                           f"kernel_width) tensor expected for weight, but got: {list(weight.shape)}")
    return _fc._conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                               "conv_transpose3d")
