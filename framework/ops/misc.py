"""Small composites torch users reach for: meshgrid, cartesian_prod, tril/triu_indices, diag_embed, trace,
kron, logit, xlogy, sinc, nan_to_num -- written with differentiable tensorplug ops."""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._opmath import is_narrow, opmath

__all__ = ["meshgrid", "cartesian_prod", "tril_indices", "triu_indices", "diag_embed", "trace", "kron", "logit",
           "xlogy", "sinc", "nan_to_num"]


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors (``indexing='ij'`` by default, as torch; ``'xy'`` swaps the first two)."""
    import warnings
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
                      "argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    ts = [t.reshape(-1) for t in tensors]
    shape = tuple(t.shape[0] for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = shape[i]
        grids.append(t.reshape(view).expand(shape))
    if indexing == "xy" and len(ts) >= 2:  # the first two axes swapped
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def cartesian_prod(*tensors):
    """Every combination of the 1-D tensors' elements, one per row."""
    from .join import stack
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def _tri_indices(row, col, offset, lower, dtype, device):
    from ..creation import arange
    from .gather import nonzero
    rows = arange(row, device=device).unsqueeze(1)
    cols = arange(col, device=device).unsqueeze(0)
    keep = (cols - rows <= offset) if lower else (cols - rows >= offset)
    return nonzero(keep).t().to(dtype or _dt.int64)  # row-major order, as torch lists them


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row/column indices of the lower triangle of a ``row x col`` matrix."""
    return _tri_indices(row, col, offset, True, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, N) row/column indices of the upper triangle of a ``row x col`` matrix."""
    return _tri_indices(row, col, offset, False, dtype, device)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Square matrices (last two dims) with ``input``'s last dim on their ``offset`` diagonal."""
    from ..creation import arange, zeros
    from .gather import index_add
    if (dim1, dim2) not in ((-2, -1), (input.dim() - 2, input.dim() - 1)):
        raise NotImplementedError("diag_embed: only the last two dims (dim1=-2, dim2=-1) are supported")
    m = input.shape[-1]
    n = m + abs(offset)
    # the k-th diagonal entry goes to the flat place (k + max(-offset, 0)) * n + k + max(offset, 0)
    places = arange(m, device=input.device) * (n + 1) + (max(-offset, 0) * n + max(offset, 0))
    flat = index_add(zeros(tuple(input.shape[:-1]) + (n * n,), dtype=input.dtype, device=input.device), -1,
                     places, input)
    return flat.reshape(tuple(input.shape[:-1]) + (n, n))


def trace(input):
    """The sum of a matrix's diagonal."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return input.diagonal().sum()


def kron(input, other):
    """The Kronecker product."""
    a, b = input, other
    n = max(a.dim(), b.dim())
    a = a.reshape((1,) * (n - a.dim()) + tuple(a.shape))
    b = b.reshape((1,) * (n - b.dim()) + tuple(b.shape))
    inter_a, inter_b, out = [], [], []
    for sa, sb in zip(a.shape, b.shape):
        inter_a += [sa, 1]
        inter_b += [1, sb]
        out.append(sa * sb)
    return (a.reshape(inter_a) * b.reshape(inter_b)).reshape(out)


from .special_math import logit, xlogy  # noqa: E402,F401 - Ops there, with torch's gradients


class Sinc(Op):
    """float16/bfloat16 sinc as torch's kernel (widened to float32 by ``opmath``): ``pi x`` in float32, its
    sine correctly rounded, divided in float32 and rounded once (each step rounding put 12652 of 20000
    bfloat16 values an ulp off); the gradient torch's ``sinc_backward``, op by op (13661 off)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        px = a * math.pi
        sin = xp.astype(xp.sin(xp.astype(px, ctx.backend.native_dtype(_dt.float64))), px.dtype)
        return xp.where(a == 0, 1, sin / px)

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        (x,) = ctx.saved_tensors_list()
        x_pi = x * math.pi
        x_squared_pi = x * x * math.pi
        gx = g * (((x_pi * x_pi.cos()) - x_pi.sin()) / x_squared_pi)
        return where(x_squared_pi == 0, 0.0, gx)


def sinc(input):
    """The normalized sinc ``sin(pi x) / (pi x)``, 1 at 0."""
    from .arithmetic import where
    x = input if input.is_floating_point() or input.is_complex() else input.to(_dt.get_default_dtype())
    if is_narrow(x):
        return _NARROW_SINC.apply(x)
    zero = x == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, px.sin() / px)


_NARROW_SINC = opmath(Sinc)


class NanToNum(Op):
    # torch's gradient is g * isfinite(x): a NaN upstream gradient stays NaN at a replaced element
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, values):
        xp = ctx.backend.xp
        nan, posinf, neginf = (xp.asarray(v, dtype=a.dtype) for v in values)
        out = xp.where(xp.isnan(a), nan, a)
        return xp.where(out == math.inf, posinf, xp.where(out == -math.inf, neginf, out))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        return g * x.isfinite()


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (the dtype's extremes by default)."""
    if not input.is_floating_point():
        return input.clone()
    big = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38,
           "float32": 3.4028234663852886e38}.get(input._dtype.name, 1.7976931348623157e308)
    values = (float(nan), big if posinf is None else float(posinf), -big if neginf is None else float(neginf))
    return NanToNum.apply(input, values=values)
