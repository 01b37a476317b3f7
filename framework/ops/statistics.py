"""Order statistics and repetition, written with the core ops (so gradients flow through them):
quantile / nanquantile, nanmean / nansum, kthvalue, mode, repeat_interleave, Tensor.unfold and
torch.normal."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from ..autograd import _nodes
from ..tensor import Tensor
from ._util import wrap_dim, write_out
from .shape import unfold  # Tensor.unfold is a view: it lives with the other views

__all__ = ["quantile", "nanquantile", "nanmean", "nansum", "kthvalue", "mode", "repeat_interleave", "unfold",
           "normal"]

kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _index_tensor(backend, array):
    return Tensor._make(array, _dt.int64, backend)


# quantiles ------------------------------------------------------------------------

def _check_quantile(name, input, q, interpolation):
    if input._dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    values = q.tolist() if isinstance(q, Tensor) else q
    if isinstance(q, Tensor) and q._dtype is not input._dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if isinstance(q, Tensor) and q.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    for v in values if isinstance(values, list) else [values]:
        if not 0 <= v <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {v}")


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    from .. import creation
    _check_quantile(name, input, q, interpolation)
    scalar_q = not isinstance(q, Tensor) or q.ndim == 0
    qs = creation.tensor(q.tolist() if isinstance(q, Tensor) else q, dtype=input._dtype,
                         device=input._backend).reshape(-1)
    x = input.reshape(-1) if dim is None else input.movedim(wrap_dim(dim, max(input.ndim, 1)), -1)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.shape[-1] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    ordered = x.sort(-1).values  # NaN sorts last, as in torch
    nan = x.isnan()
    count = (~nan).sum(-1, keepdim=True) if ignore_nan else creation.full(x.shape[:-1] + (1,), x.shape[-1],
                                                                         device=input._backend)
    last = (count - 1).clamp_min(0).to(input._dtype)
    pos = last.unsqueeze(0) * qs.reshape((-1,) + (1,) * x.ndim)  # (nq, ..., 1)
    lower, upper = pos.floor(), pos.ceil()
    if interpolation == "lower":
        upper = lower
    elif interpolation == "higher":
        lower = upper
    elif interpolation == "nearest":
        lower = upper = pos.round()
    expanded = ordered.unsqueeze(0).expand((qs.shape[0],) + ordered.shape)
    low_v = expanded.gather(-1, lower.long())
    high_v = expanded.gather(-1, upper.long())
    if interpolation == "midpoint":
        out = low_v + (high_v - low_v) * 0.5
    elif interpolation == "linear":
        out = low_v.lerp(high_v, pos - lower)
    else:
        out = low_v
    # a row with NaN gives NaN (quantile), a row of only NaN gives NaN (nanquantile)
    invalid = (count == 0) if ignore_nan else nan.any(-1, keepdim=True)
    out = out.masked_fill(invalid.unsqueeze(0), float("nan")).squeeze(-1)
    if keepdim:
        out = _keep_dims(out, input, dim)
    return out.squeeze(0) if scalar_q else out


def _keep_dims(out, input, dim):
    if dim is None:
        return out.reshape((out.shape[0],) + (1,) * input.ndim)
    return out.unsqueeze(wrap_dim(dim, max(input.ndim, 1)) + 1)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """The ``q``-th quantiles of ``input`` (all of it, or along ``dim``), as torch.quantile.

    Example:
        >>> quantile(tensorplug.tensor([1.0, 2.0, 3.0, 4.0]), 0.5)
        tensor(2.5000)
    """
    return _into(out, _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False))


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """``quantile`` ignoring NaN values (NaN only where a row is all NaN)."""
    return _into(out, _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True))


def no_complex(kernel, t):
    """torch orders values here and has no complex kernel: its NotImplementedError (numpy would order
    complex numbers lexicographically and answer)."""
    if t._dtype.category == _dt.COMPLEX:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(t._dtype)}': complex "
                                  f"numbers have no order; use z.real or z.abs()")


def _into(out, result):
    """torch's ``out=``: the result written into ``out`` (of the result's shape), which is returned."""
    if out is None:
        return result
    if tuple(out.shape) != tuple(result.shape):
        raise RuntimeError(f"out= tensor has shape {tuple(out.shape)}, expected {tuple(result.shape)}: pass an "
                           f"out tensor of the result's shape, or use the returned tensor")
    from ..autograd.grad_mode import no_grad
    with no_grad():
        out.copy_(result)
    return out


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum treating NaN as zero."""
    if input._dtype.category == _dt.COMPLEX:
        raise RuntimeError("nansum on CPU does not support complex inputs; sum the real and imaginary parts "
                           "(x.real, x.imag) separately")
    zeroed = input.masked_fill(input.isnan(), 0) if input.is_floating_point() else input
    total = zeroed.sum(dtype=dtype) if dim is None else zeroed.sum(dim, keepdim=keepdim, dtype=dtype)
    return _nodes.named(total, "NansumBackward0")  # torch's one node


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the non-NaN values (NaN where there are none)."""
    if input._dtype.category == _dt.COMPLEX:
        nansum(input)  # torch's refusal of complex input comes from its nansum
    if not input.is_floating_point():
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{str(input.dtype).replace('tensorplug.', '')}")
    count = (~input.isnan()).sum(dim, keepdim=keepdim) if dim is not None else (~input.isnan()).sum()
    return nansum(input, dim, keepdim, dtype=dtype) / count


# selection ------------------------------------------------------------------------

def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The ``k``-th smallest value along ``dim`` and its index, as torch.kthvalue."""
    if out is not None:
        return write_out("kthvalue", out, kthvalue(input, k, dim, keepdim))
    if input._dtype is _dt.bool_:
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool': kthvalue() takes numbers; "
                                  "convert first, e.g. x.int().kthvalue(k)")
    no_complex("kthvalue_cpu", input)
    d = wrap_dim(dim, max(input.ndim, 1))
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    x = input if input.ndim else input.reshape(1)
    ordered = x.sort(d, stable=True)
    values = ordered.values.narrow(d, k - 1, 1)
    indices = ordered.indices.narrow(d, k - 1, 1)
    if not keepdim or input.ndim == 0:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return kthvalue_result(_nodes.named(values, "KthvalueBackward0"), indices)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest on ties) and the index of its last occurrence."""
    no_complex("mode_cpu", input)
    d = wrap_dim(dim, max(input.ndim, 1))
    x = (input if input.ndim else input.reshape(1)).movedim(d, -1)
    n = x.shape[-1]
    # counts[i] = how often x[..., i] occurs in its row; the winner is the most frequent, then the smallest
    same = x.detach().unsqueeze(-1) == x.detach().unsqueeze(-2)
    counts = same.sum(-1)
    best = counts.amax(-1, keepdim=True)
    candidates = x.detach().masked_fill(counts != best, float("inf") if x.is_floating_point() else x.max())
    value = candidates.amin(-1, keepdim=True)
    positions = Tensor._make(x._backend.xp.arange(n), _dt.int64, x._backend).expand(x.shape)
    last = positions.masked_fill(x.detach() != value, -1).amax(-1, keepdim=True)
    values = x.gather(-1, last)
    values, last = values.movedim(-1, d), last.movedim(-1, d)
    if not keepdim or input.ndim == 0:
        values, last = values.squeeze(d), last.squeeze(d)
    return mode_result(_nodes.named(values, "ModeBackward0"), last)


# repetition ------------------------------------------------------------------------

def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times, as torch.repeat_interleave.

    ``repeat_interleave(counts)`` alone gives ``[0]*counts[0] + [1]*counts[1] + ...``.

    Example:
        >>> repeat_interleave(tensorplug.tensor([1, 2]), 2)
        tensor([1, 1, 2, 2])
    """
    if repeats is None:  # the index form
        counts = input
        xp = counts._backend.xp
        return _index_tensor(counts._backend, xp.repeat(xp.arange(counts.shape[0]), counts._data))
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else wrap_dim(dim, max(x.ndim, 1))
    n = x.shape[d] if x.ndim else 1
    xp = x._backend.xp
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        if repeats.ndim != 1 or repeats.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {repeats.shape[0] if repeats.ndim else 1} and "
                               f"input.size({d}) = {n}")
        index = xp.repeat(xp.arange(n), repeats._data)
    else:
        count = int(repeats.item() if isinstance(repeats, Tensor) else repeats)
        if count < 0:
            raise RuntimeError("repeats can not be negative")
        index = xp.repeat(xp.arange(n), count)
    return x.index_select(d, _index_tensor(x._backend, index))


# sampling ------------------------------------------------------------------------

def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None, layout=None,
           pin_memory=False, requires_grad=False):
    """Samples from N(mean, std): tensors broadcast, or floats with ``size``, as torch.normal.

    As in torch, the result records a graph with zero gradients for ``mean`` and ``std``.
    """
    from .. import creation
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal() missing required argument 'size' (positional 2) when mean and std are "
                            "floats")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        sample = creation.randn(*size, dtype=dtype, device=device, generator=generator) * std + mean
        return _into(out, sample.requires_grad_(requires_grad) if requires_grad else sample)
    like = tensors[0]
    if isinstance(std, Tensor) and bool((std < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")
    if not isinstance(std, Tensor) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    shape = like.shape if len(tensors) == 1 else (mean + std).shape
    noise = creation.randn(*shape, dtype=like.dtype, device=like._backend, generator=generator)
    sample = (noise * (std.detach() if isinstance(std, Tensor) else std)
              + (mean.detach() if isinstance(mean, Tensor) else mean))
    for t in tensors:  # torch's NormalBackward: zero gradients
        if t.requires_grad:
            sample = sample + 0 * t
    return _into(out, sample)


def _bind():
    from . import bind
    bind({"quantile": quantile, "nanquantile": nanquantile, "nanmean": nanmean, "nansum": nansum,
          "kthvalue": kthvalue, "mode": mode, "repeat_interleave": repeat_interleave, "unfold": unfold})


_bind()
