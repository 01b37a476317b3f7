"""``F.affine_grid`` and ``F.grid_sample`` (2-D and 3-D), written in tensorplug ops so gradients reach both
the input and the grid. Coordinates, padding and interpolation follow torch's grid sampler
(aten/src/ATen/native/GridSampler.h): unnormalise, reflect or clip, then interpolate the corners
that fall inside the input.
"""
from __future__ import annotations

import itertools
import math
import warnings

from .. import amp as _amp
from ..autograd.function import Op
from ..autograd import _nodes
from ..tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_CHANGED = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                    "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                    "grid_sample for details.")


def _base_axis(theta, n, align_corners):
    """The n sample positions along one axis in [-1, 1] (pixel corners or pixel centres)."""
    from .. import creation
    if n <= 1:
        return creation.zeros(n, dtype=theta.dtype, device=theta.device)
    axis = creation.linspace(-1.0, 1.0, n, dtype=theta.dtype, device=theta.device)
    return axis if align_corners else axis * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid ``(N, H, W, 2)`` (or ``(N, D, H, W, 3)``) of affine matrices ``theta`` (N, 2, 3)
    (or (N, 3, 4)) for an output of ``size`` (N, C, H, W) (or (N, C, D, H, W)).

    Example:
        >>> theta = tensorplug.tensor([[[1., 0., 0.], [0., 1., 0.]]])
        >>> F.affine_grid(theta, (1, 1, 2, 3), align_corners=False).shape
        tensorplug.Size([1, 2, 3, 2])
    """
    from ..ops.join import stack
    if align_corners is None:
        warnings.warn(_DEFAULT_CHANGED, UserWarning, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(size)
    k = len(size) - 2
    if k not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {_size(size)}.")
    if theta.dim() != 3 or tuple(theta.shape[-2:]) != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for size {_size(size)}. "
                         f"Got {theta.shape}.")
    spatial = size[2:]
    if theta.shape[0] != size[0]:  # torch's message is its batched matmul's
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {k + 1}] "
                           f"but got: [{theta.shape[0]}, {k + 1}].")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", UserWarning, stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {_size(size)}")
    # grid channels are (x, y[, z]): x runs along the last spatial axis
    axes = [_base_axis(theta, n, align_corners) for n in reversed(spatial)]
    count = math.prod(spatial)
    columns = []
    for i, axis in enumerate(axes):
        shape = [1] * k
        shape[k - 1 - i] = spatial[k - 1 - i]
        columns.append(axis.reshape(shape).expand(*spatial).reshape(count))
    columns.append(theta.new_ones(count))
    base = stack(columns, -1)
    return AffineGrid.apply(theta, base=base._data, shape=(size[0],) + tuple(spatial) + (k,))


class AffineGrid(Op):
    """``base @ theta^T`` over the constant ``(count, k + 1)`` base grid, shaped ``(N, *spatial, k)``. The
    node keeps the base itself, never a saved tensor, so its graph can run backward again, as torch's
    (whose node saves only the size)."""

    node_name = "AffineGridGeneratorBackward0"

    @staticmethod
    def forward(ctx, theta, base, shape):
        from ..ops.linalg import matmul_arrays
        xp = ctx.backend.xp
        ctx.base = base
        return xp.reshape(matmul_arrays(xp, base, xp.matrix_transpose(theta)), shape)

    @staticmethod
    def backward(ctx, g):
        n, k = g.shape[0], g.shape[-1]
        return g.reshape(n, -1, k).transpose(1, 2) @ ctx.tensor(ctx.base)


def _size(size):
    return f"torch.Size([{', '.join(map(str, size))}])"


def _check(input, grid, mode, padding_mode):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor):
            raise TypeError(f"grid_sample(): argument '{name}' must be Tensor, not {type(t).__name__}")
    nd = input.dim()
    if not nd or not grid.dim():
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if nd not in (4, 5) or grid.dim() != nd:
        ranks = f"{nd}D" if nd in (4, 5) else "4D or 5D"
        raise RuntimeError(f"grid_sampler(): expected {ranks} input and grid with same number of dimensions, but "
                           f"got input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if grid.shape[-1] != nd - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd - 2} in last dimension, but got grid "
                           f"with sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if any(n == 0 for n in input.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                           f"sizes {list(input.shape)} with dimension {list(input.shape).index(0)} being empty")
    if mode == "bicubic" and nd == 5:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def _reflect(c, twice_low, twice_high):
    """Reflect ``c`` at the edges of [twice_low / 2, twice_high / 2] until it lies inside (torch's rule)."""
    from ..ops.arithmetic import where
    if twice_low == twice_high:
        return c * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    c = (c - low).abs()
    extra = c.fmod(span)
    flips = (c / span).floor()
    return where(flips.remainder(2) == 0, extra + low, span - extra + low)


def _source_coordinate(g, n, padding_mode, align_corners):
    """Grid values in [-1, 1] to input positions along an axis of size ``n``, padded as asked."""
    c = (g + 1) / 2 * (n - 1) if align_corners else ((g + 1) * n - 1) / 2
    if padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (n - 1)) if align_corners else _reflect(c, -1, 2 * n - 1)
    if padding_mode in ("border", "reflection"):
        # torch's CPU kernel clips a nan coordinate to 0
        c = c.clamp(0, n - 1).nan_to_num(0.0)
    return c


def _gather(input, index):
    """``input[n, c, *position]`` for each flat position ``index`` (N, *out) -> (N, C, *out)."""
    n, channels = input.shape[:2]
    out = tuple(index.shape[1:])
    flat = input.reshape(n, channels, math.prod(input.shape[2:]))
    idx = index.reshape(n, 1, math.prod(out)).expand(n, channels, math.prod(out))
    return flat.gather(2, idx).reshape((n, channels) + out)


def _corner(positions, sizes):
    """Flat index and in-bounds mask of integer positions (a float tensor per axis)."""
    index = None
    inside = None
    for pos, n in zip(positions, sizes):
        # nan/inf positions (from a nan/inf grid) are outside: -1 keeps the integer index defined
        pos = pos.nan_to_num(-1.0, -1.0, -1.0)
        ok = (pos >= 0) & (pos <= n - 1)
        flat = pos.clamp(0, n - 1).long()
        index = flat if index is None else index * n + flat
        inside = ok if inside is None else inside & ok
    return index, inside


def _linear(input, coords, sizes):
    out = 0
    floors = [c.floor() for c in coords]
    fractions = [c - f for c, f in zip(coords, floors)]
    for corner in itertools.product((0, 1), repeat=len(coords)):
        weight = 1
        for bit, frac in zip(corner, fractions):
            weight = weight * (frac if bit else 1 - frac)
        index, inside = _corner([f + bit for f, bit in zip(floors, corner)], sizes)
        out = out + _gather(input, index) * (weight * inside.to(weight.dtype)).unsqueeze(1)
    return out


class GridZeroGrad(Op):
    """A 0-d zero that hands ``grid`` a zero gradient: nearest sampling is piecewise constant in the grid, and
    torch gives the grid a zero gradient rather than none."""

    @staticmethod
    def forward(ctx, grid):
        ctx.shape = tuple(grid.shape)
        return ctx.backend.xp.zeros((), dtype=grid.dtype)

    @staticmethod
    def backward(ctx, g):
        return g.new_zeros(ctx.shape)


def _nearest(input, coords, sizes):
    # round half to even, as torch's nearbyint
    index, inside = _corner([c.detach().round() for c in coords], sizes)
    return _gather(input, index) * inside.to(input.dtype).unsqueeze(1)


def _cubic_weights(t):
    """Keys' cubic convolution weights (A = -0.75) of the four taps around fraction ``t``."""
    a = -0.75

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic(input, grid, padding_mode, align_corners):
    height, width = input.shape[2:]
    # bicubic unnormalises without padding; each tap is padded on its own
    x = (grid[..., 0] + 1) / 2 * (width - 1) if align_corners else ((grid[..., 0] + 1) * width - 1) / 2
    y = (grid[..., 1] + 1) / 2 * (height - 1) if align_corners else ((grid[..., 1] + 1) * height - 1) / 2
    x0 = x.floor()
    y0 = y.floor()
    wx = _cubic_weights(x - x0)
    wy = _cubic_weights(y - y0)
    out = 0
    for i in range(4):
        for j in range(4):
            taps = [_tap(y0.detach() - 1 + i, height, padding_mode, align_corners),
                    _tap(x0.detach() - 1 + j, width, padding_mode, align_corners)]
            index, inside = _corner(taps, (height, width))
            value = _gather(input, index) * inside.to(input.dtype).unsqueeze(1)
            out = out + value * (wy[i] * wx[j]).unsqueeze(1)
    return out


def _tap(pos, n, padding_mode, align_corners):
    if padding_mode == "reflection":
        pos = _reflect(pos, 0, 2 * (n - 1)) if align_corners else _reflect(pos, -1, 2 * n - 1)
    if padding_mode in ("border", "reflection"):
        pos = pos.clamp(0, n - 1)
    return pos


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) positions in [-1, 1] (x, y order);
    5-D input takes a (N, D_out, H_out, W_out, 3) grid.

    Args:
        mode: 'bilinear' (trilinear for 5-D), 'nearest' or 'bicubic' (4-D only).
        padding_mode: 'zeros', 'border' or 'reflection' for positions outside the input.
        align_corners: -1 and 1 are the centres (True) or the outer edges (False) of the corner pixels.

    Example:
        >>> grid = F.affine_grid(tensorplug.eye(2, 3).unsqueeze(0), (1, 1, 4, 4), align_corners=False)
        >>> F.grid_sample(tensorplug.ones(1, 1, 4, 4), grid, align_corners=False).shape
        tensorplug.Size([1, 1, 4, 4])
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, grid_sample, input, grid, mode, padding_mode, align_corners)
    _check(input, grid, mode, padding_mode)
    if align_corners is None:
        warnings.warn(_DEFAULT_CHANGED, UserWarning, stacklevel=2)
        align_corners = False
    sizes = tuple(input.shape[2:])
    k = len(sizes)
    if mode == "bicubic":
        out = _bicubic(input, grid, padding_mode, align_corners)
    else:
        # grid channel i addresses spatial axis k - 1 - i
        coords = [_source_coordinate(grid[..., k - 1 - axis], sizes[axis], padding_mode, align_corners)
                  for axis in range(k)]
        if mode == "bilinear":
            out = _linear(input, coords, sizes)
        else:
            out = _nearest(input, coords, sizes)
            out = out + GridZeroGrad.apply(grid) if grid.requires_grad else out
    return _nodes.named(out, f"GridSampler{k}DBackward0")  # torch's one node
