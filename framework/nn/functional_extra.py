"""More of ``torch.nn.functional``: power-average pooling (lp_pool), glu, hard/soft shrink, rrelu, the
in-place activation names (``elu_``, ``hardtanh_`` ...), dropout3d, pdist, channel_shuffle and the
``*_with_indices`` pooling names -- composites of the existing functional ops."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ..ops._opmath import is_narrow, opmath
from . import functional as F

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d", "glu", "hardshrink", "softshrink", "threshold_", "hardtanh_",
           "elu_", "leaky_relu_", "celu_", "selu_", "rrelu", "rrelu_", "dropout3d", "pdist", "channel_shuffle",
           "native_channel_shuffle", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices"]


def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, n):
    """torch's lp_pool: the window mean of ``x**p``, times the window size, to the power ``1/p`` (the sign
    and relu keep a negative mean of an odd power out of the root, as torch)."""
    pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    if n == 2:  # torch's lp_pool2d reads the channel dim first: its IndexError for fewer than 3 dims
        from ..ops._util import wrap_dim
        wrap_dim(-3, input.dim())
    size = 1
    for k in _tuple(kernel_size, n):
        size *= k
    out = pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * F.relu(out.abs())).mul(size).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window over the last dim of ``(N, C, L)`` input."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window over the last two dims."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The ``norm_type``-norm of each window over the last three dims."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


def glu(input, dim=-1):
    """The gated linear unit ``a * sigmoid(b)``, ``a`` and ``b`` the two halves of ``input`` along ``dim``."""
    F._float_input(input, "glu")
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    from ..ops._util import wrap_dim
    d = wrap_dim(dim, input.dim())
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    if is_narrow(input):
        return _NARROW_GLU.apply(input, dim=d)
    a, b = input.chunk(2, d)
    return _nodes.named(a * b.sigmoid(), "GluBackward0")


class Glu(Op):
    """float16/bfloat16 glu as torch's kernels: ``a / (1 + exp(-b))`` in float32 (widened by ``opmath``, exp
    correctly rounded) rounded once; the gradient ``s * g`` for ``a`` and ``(1 - s) * s * a * g`` in float32
    for ``b``, each rounded once, ``s = sigmoid(b)`` rounded (a * sigmoid(b) rounded twice: 2472 of 20000
    bfloat16 values and 2572 gradients an ulp off)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, x, dim):
        backend = ctx.backend
        xp = backend.xp
        ctx.dim = dim
        half = x.shape[dim] // 2
        before = (slice(None),) * dim
        a, b = x[before + (slice(None, half),)], x[before + (slice(half, None),)]
        exp = xp.astype(xp.exp(xp.astype(-b, backend.native_dtype(_dt.float64))), b.dtype)
        return a * (1 / (1 + exp))

    @staticmethod
    def backward(ctx, g):
        from ..ops.join import cat
        (x,) = ctx.saved_tensors_list()
        a, b = x.chunk(2, ctx.dim)
        s = b.sigmoid()
        gb = ((1 - s.float()) * s.float() * a.float() * g.float()).to(g.dtype)
        return cat([s * g, gb], ctx.dim)


_NARROW_GLU = opmath(Glu)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    F._float_input(input, "hardshrink")
    from ..ops.arithmetic import where
    return _nodes.named(where(input.abs() <= lambd, 0.0, input), "HardshrinkBackward0")  # (NaN stays NaN, as torch)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""
    from ..ops.arithmetic import where
    if lambd < 0:
        largest = _dt.finfo(input.dtype).max if input._dtype.category >= _dt.FLOAT else 2 ** 31 - 1
        raise RuntimeError(f"lambda must be in range [0, {largest:g}] for input dtype "
                           f"{_dt.scalar_type_name(input._dtype)}, but found {lambd:g}; pass a non-negative lambd")
    F._float_input(input, "softshrink")
    if is_narrow(input):
        return _NARROW_SOFTSHRINK.apply(input, lambd=lambd)
    out = where(input.abs() <= lambd, 0.0, input - input.sign() * lambd)  # (NaN stays NaN, as torch)
    return _nodes.named(out, "SoftshrinkBackward0")


class Softshrink(Op):
    """float16/bfloat16 softshrink as torch's kernels: ``x -+ lambd`` in float32 (widened by ``opmath``),
    rounded once (each step rounding put 4005 of 20000 bfloat16 values an ulp off); the gradient compares
    ``|x|`` with ``lambd`` rounded to the dtype, as torch's ``softshrink_backward`` does (for lambd=0.3 a
    bfloat16 0.30078125 has the value 0.00078 but the gradient 0)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, lambd):
        xp = ctx.backend.xp
        ctx.lambd = lambd
        return xp.where(xp.abs(a) <= lambd, 0, a - xp.sign(a) * lambd)  # (NaN stays NaN)

    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        (x,) = ctx.saved_tensors_list()
        return where(x.abs() <= ctx.lambd, 0.0, g)


_NARROW_SOFTSHRINK = opmath(Softshrink)


def threshold_(input, threshold, value):
    """In-place ``threshold``."""
    return F.threshold(input, threshold, value, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place ``hardtanh``."""
    return F.hardtanh(input, min_val, max_val, inplace=True)


def elu_(input, alpha=1.0):
    """In-place ``elu``."""
    return F.elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    """In-place ``leaky_relu``."""
    return F.leaky_relu(input, negative_slope, inplace=True)


def celu_(input, alpha=1.0):
    """In-place ``celu``."""
    return F.celu(input, alpha, inplace=True)


def selu_(input):
    """In-place ``selu``."""
    return F.selu(input, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: in training each non-positive element gets its own slope drawn uniformly from
    ``[lower, upper]`` (from the tensor's backend generator); in eval the mean slope ``(lower + upper) / 2``."""
    from ..ops.arithmetic import where
    names = ("RreluWithNoiseBackward0", "RreluWithNoiseBackward1")  # torch's, in training and in eval
    if not training:
        slope = (lower + upper) / 2
        return F._inplace_apply(input, lambda x: F.leaky_relu(x, slope), inplace, *names)
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"rrelu: expected a floating tensor, got {input._dtype}; convert with .float()")
    slopes = input.new_empty(input.shape).uniform_(lower, upper)
    return F._inplace_apply(input, lambda x: where(x > 0, x, x * slopes), inplace, *names)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place ``rrelu``."""
    return rrelu(input, lower, upper, training, inplace=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of ``(N, C, D, H, W)`` (or unbatched ``(C, D, H, W)``) input with probability ``p``."""
    if input.dim() not in (4, 5):
        import warnings
        warnings.warn(f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is deprecated and will "
                      f"result in an error in a future release. To retain the behavior and silence this "
                      f"warning, please use dropout instead.", UserWarning, stacklevel=2)
    if input.dim() == 4:  # unbatched: channels first
        out = F.dropout2d(input.unsqueeze(0), p, training, False).squeeze(0)
        return input.copy_(out) if inplace else out
    return F.dropout2d(input, p, training, inplace)


def pdist(input, p=2.0):
    """The ``p``-norm distances between every pair of rows of an ``(N, M)`` input, the upper triangle of
    ``cdist(input, input)`` in row-major order (N(N-1)/2 values)."""
    from ..ops.misc import triu_indices
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    pairs = triu_indices(n, n, 1, device=input._backend)
    # norm's gradient is 0 at a zero distance, as torch's pdist backward
    return _nodes.named((input[pairs[0]] - input[pairs[1]]).norm(p, dim=-1), "PdistBackward0")


def channel_shuffle(input, groups):
    """Interleave the channels of ``(N, C, *)`` input across ``groups`` groups (ShuffleNet)."""
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    if input.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    n, c, *rest = input.shape
    if c == 0:  # torch's message for this case
        raise RuntimeError("Number of groups to divide channels in must be positive. Value of groups:0 (the input "
                           "has no channels to shuffle)")
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    out = input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)
    if getattr(out, "_view", None) is not None:  # one group, or one channel a group: torch's is still a copy
        out = out.clone()
    return _nodes.named(out, "ChannelShuffleBackward0")


native_channel_shuffle = channel_shuffle


def _with_indices(fn):
    def pooled(*args, **kwargs):
        kwargs["return_indices"] = True
        return fn(*args, **kwargs)
    pooled.__name__ = pooled.__qualname__ = f"{fn.__name__}_with_indices"
    pooled.__doc__ = f"``{fn.__name__}(..., return_indices=True)``: (values, indices)."
    return pooled


max_pool1d_with_indices = _with_indices(F.max_pool1d)
max_pool2d_with_indices = _with_indices(F.max_pool2d)
max_pool3d_with_indices = _with_indices(F.max_pool3d)
adaptive_max_pool1d_with_indices = _with_indices(F.adaptive_max_pool1d)
adaptive_max_pool2d_with_indices = _with_indices(F.adaptive_max_pool2d)
adaptive_max_pool3d_with_indices = _with_indices(F.adaptive_max_pool3d)
