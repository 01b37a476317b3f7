"""More of torch's statistics and integration: cov, corrcoef, trapezoid (trapz), cumulative_trapezoid,
nanmedian, histogram, unique_consecutive, isin, renorm -- composites of differentiable ops."""
from __future__ import annotations

import warnings
from collections import namedtuple

from .. import dtypes as _dt
from ..autograd import _nodes
from ..tensor import Tensor
from ._util import wrap_dim

__all__ = ["cov", "corrcoef", "trapezoid", "trapz", "cumulative_trapezoid", "nanmedian", "histogram",
           "unique_consecutive", "isin", "renorm"]

nanmedian_result = namedtuple("nanmedian", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


def _weights(input, fweights, aweights):
    w = None
    if fweights is not None:
        if fweights._dtype.category != _dt.INT:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{fweights._dtype} dtype")
        w = fweights
    if aweights is not None:
        if aweights._dtype.category < _dt.FLOAT:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{aweights._dtype} dtype")
        w = aweights if w is None else w * aweights
    return w


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance of the rows (variables) of a 2-D ``input`` whose columns are observations, with
    torch's frequency and analytic weights and ``correction`` (1: Bessel's)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input._data.ndim} dimensions")
    x = input.reshape(1, -1) if input._data.ndim < 2 else input
    if x._dtype.category < _dt.FLOAT:
        x = x.to(_dt.get_default_dtype())
    w = _weights(input, fweights, aweights)
    if w is None:
        n = x.shape[1]
        avg = x.mean(1, keepdim=True)
        norm = n - correction
        xw = x - avg
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        norm = w_sum - (correction if aweights is None else correction * (w * aweights).sum() / w_sum)
        xw = (x - avg) * w
    if not isinstance(norm, Tensor) and norm <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=2)
        norm = 0
    elif isinstance(norm, Tensor):
        norm = norm.clamp(min=0)
    c = (xw @ (x - avg).transpose(0, 1).conj()) / norm
    return c.squeeze()


def corrcoef(input):
    """Pearson's correlation coefficients of the rows of ``input`` (cov normalised, clipped to [-1, 1])."""
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.unsqueeze(1) / std.unsqueeze(0)
    return c.clamp(-1, 1) if not c.is_complex() else c


def _pairs(y, dim):
    d = wrap_dim(dim, y._data.ndim)
    n = y.shape[d]
    return y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1), d


def _spacing(y, x, dx, d):
    if x is None:
        return 1 if dx is None else dx
    if x._data.ndim == 1:
        shape = [1] * y._data.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
        return x.narrow(d, 1, x.shape[d] - 1) - x.narrow(d, 0, x.shape[d] - 1)
    return x.diff(dim=d)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid-rule integral of ``y`` along ``dim`` (sample points ``x``, or spacing ``dx``)."""
    if isinstance(x, (int, float)):
        x, dx = None, x
    d = wrap_dim(dim, y._data.ndim)
    if y.shape[d] == 0:
        return y.sum(d)
    if x is None:
        # torch's form for even spacing: dx * (sum - (first + last) / 2); one sample with inf/nan gives nan
        ends = y.select(d, 0) + y.select(d, -1)
        return (y.sum(d) - ends * 0.5) * (1.0 if dx is None else dx)
    sums, d = _pairs(y, dim)
    return (_spacing(y, x, dx, d) * sums).sum(d) / 2


def trapz(y, x=None, *, dx=None, dim=-1):
    """``trapezoid`` under numpy's older name."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid-rule integral along ``dim`` (one element fewer than ``y``)."""
    if isinstance(x, (int, float)):
        x, dx = None, x
    d = wrap_dim(dim, y._data.ndim)
    if y.shape[d] == 0:
        return y
    sums, d = _pairs(y, dim)
    return (_spacing(y, x, dx, d) * sums / 2).cumsum(d)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median ignoring NaN (NaN where all are): of all elements, or ``(values, indices)``."""
    from .gather import gather
    from .sorting import argsort
    from .statistics import no_complex
    no_complex("median_cpu" if dim is None else "median_out", input)
    flat = dim is None
    x = input.reshape(-1) if flat else input
    axis = 0 if flat else wrap_dim(dim, x._data.ndim)
    if x._data.ndim == 0:
        return input.clone() if flat else nanmedian_result(input.clone(), input.new_zeros((), dtype=_dt.int64))
    if x.shape[axis] == 0:
        if flat:
            return Tensor._make(x._backend.full((), float("nan"), x._dtype), x._dtype, x._backend)
        raise IndexError(f"nanmedian(): Expected reduction dim {axis} to have non-zero size.")
    order = argsort(x, axis)  # NaNs last
    if x._dtype.category >= _dt.FLOAT:
        count = (~x.isnan()).sum(axis, keepdim=True)
        k = ((count - 1) // 2).clamp(min=0)
    else:
        k = x.new_full([1 if i == axis else s for i, s in enumerate(x.shape)], (x.shape[axis] - 1) // 2,
                       dtype=_dt.int64)
    pick = gather(order, axis, k)
    values = gather(x, axis, pick)
    if flat:
        values = values.reshape(())
        values = values if x._dtype.category < _dt.FLOAT else _evenly_differentiated(x, values)
        return _nodes.named(values, "NanmedianBackward0")
    if not keepdim:
        values, pick = values.squeeze(axis), pick.squeeze(axis)
    return nanmedian_result(_nodes.named(values, "NanmedianBackward1"), pick)


def _evenly_differentiated(x, value):
    """``value`` (one of ``x``'s elements), whose gradient is shared evenly by every element of ``x`` equal to
    it (every NaN for a NaN), as torch's median/nanmedian of all elements."""
    detached = value.detach()
    mask = x.isnan() if bool(detached.isnan()) else x == detached
    share = x.where(mask, 0.0).sum() / mask.sum()
    return detached + (share - share.detach())  # exactly ``value`` forward, the shared gradient backward


def _edges(input, bins, range, name):
    from ..creation import linspace
    if isinstance(bins, Tensor):
        if bins._dtype is not input._dtype:
            raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, but "
                               f"got input with dtype {input._dtype} and bins with dtype {bins._dtype}; convert "
                               f"the bins with .to(input.dtype)")
        return bins
    if bins <= 0:
        raise RuntimeError(f"{name}(): bins must be > 0, but got {bins} for dimension 0")
    if range is not None:
        lo, hi = float(range[0]), float(range[1])
    elif input.numel():
        lo, hi = input.min().item(), input.max().item()
    else:  # an empty input: numpy's and torch's unit range
        lo, hi = 0.0, 1.0
    if lo > hi:
        raise RuntimeError(f"{name}(): max must be larger than min, got min={lo} max={hi}")
    if lo == hi:  # numpy's and torch's empty or constant range: one unit wide
        lo, hi = lo - 0.5, hi + 0.5
    return linspace(lo, hi, bins + 1, dtype=input._dtype, device=input._backend)


def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):
    """``(hist, bin_edges)``: counts (or summed ``weight``) of ``input``'s values in ``bins`` equal bins over
    ``range`` (default: min to max), or in the bins between the given edges; the last bin includes its
    right edge, values outside are not counted. ``density=True`` gives a probability density."""
    from .counting import bincount, searchsorted
    if input._dtype.category != _dt.FLOAT:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_dt.scalar_type_name(input._dtype)}': "
                                  f"histogram takes floating inputs; convert with .float()")
    edges = _edges(input, bins, range, "histogram")
    nbins = edges.shape[0] - 1
    x = input.reshape(-1)
    w = None if weight is None else weight.reshape(-1).to(input._dtype)
    place = searchsorted(edges, x, right=True) - 1
    place = place.masked_fill(x == edges[-1], nbins - 1)
    keep = (place >= 0) & (place < nbins)
    hist = bincount(place[keep], weights=None if w is None else w[keep], minlength=nbins).to(input._dtype)
    if density:
        hist = hist / (hist.sum() * edges.diff())
    result = histogram_result(hist, edges)
    if out is not None:
        from .._out import write_out
        return write_out("histogram", out, result)
    return result


def _consecutive_groups(x, dim):
    """``x`` with ``dim`` moved first and flattened per slice, and the mask of slices that start a group."""
    from .join import cat
    from ..creation import ones
    rows = x.reshape(-1) if dim is None else x.movedim(dim, 0).reshape(x.shape[dim], -1)
    if rows.shape[0] == 0:
        return rows, ones(0, dtype=_dt.bool_, device=x._backend)
    change = rows[1:] != rows[:-1]
    if dim is not None:
        change = change.any(1)
    return rows, cat([ones(1, dtype=_dt.bool_, device=x._backend), change])


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The input with each run of equal consecutive elements (or slices along ``dim``) reduced to one; with
    the index of each element's run (``return_inverse``) and the runs' lengths (``return_counts``)."""
    from .gather import nonzero
    from .join import cat
    from .statistics import no_complex
    no_complex("unique", input)
    d = None if dim is None else wrap_dim(dim, input._data.ndim)
    rows, starts = _consecutive_groups(input, d)
    kept = rows[starts]
    if d is None:
        values = kept
    else:
        shape = list(input.movedim(d, 0).shape)
        shape[0] = kept.shape[0]
        values = kept.reshape(shape).movedim(0, d)
    extra = []
    if return_inverse:
        run = starts.long().cumsum(0) - 1
        extra.append(run.reshape(input.shape) if d is None else run)
    if return_counts:
        first = nonzero(starts).reshape(-1)
        ends = cat([first[1:], first.new_full((1,), rows.shape[0])])
        extra.append(ends - first)
    return (values, *extra) if extra else values


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Elementwise: is each of ``elements`` in ``test_elements`` (bool, shape of ``elements``)."""
    from .counting import searchsorted
    from .sorting import sort
    from ..tensor import tensor
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): expected elements or test_elements to be a Tensor, got two numbers")
    if not isinstance(elements, Tensor):
        elements = tensor(elements, device=test_elements._backend)
    if not isinstance(test_elements, Tensor):
        test_elements = tensor(test_elements, device=elements._backend)
    dtype = _dt.promote_types(elements._dtype, test_elements._dtype)
    if dtype.category == _dt.COMPLEX:
        raise RuntimeError(f"Unsupported input type encountered for isin(): {_dt.scalar_type_name(dtype)}; "
                           f"complex numbers cannot be sorted to search; compare z.real and z.imag instead")
    e, t = elements.to(dtype), test_elements.reshape(-1).to(dtype)
    if t.numel() == 0:
        from ..creation import zeros
        found = zeros(e.shape, dtype=_dt.bool_, device=e._backend)
    else:
        table = sort(t).values
        place = searchsorted(table, e).clamp(max=t.numel() - 1)
        found = table[place] == e
    return ~found if invert else found


def renorm(input, p, dim, maxnorm):
    """Each slice of ``input`` along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it
    (torch's factor ``maxnorm / (norm + 1e-7)``)."""
    from .arithmetic import where
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"renorm: expected a floating tensor, got {input._dtype}; convert with .float()")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    n = input._data.ndim
    if n < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {n} dimensions")
    d = wrap_dim(dim, n)
    others = tuple(i for i in range(n) if i != d)
    exceeds = input.detach().norm(p, dim=others, keepdim=True) > maxnorm
    # the slices within maxnorm (NaN ones too) pass through unchanged, their gradient untouched by the norm
    # of the others (torch's renorm_backward selects it the same way)
    scaled = where(exceeds, input, 0.0)
    factor = maxnorm / (scaled.norm(p, dim=others, keepdim=True) + 1e-7)
    return _nodes.named(where(exceeds, scaled * factor, input), "RenormBackward0")  # torch's one node


def _bind():
    from . import bind
    from .inplace import make_inplace
    methods = {"cov": cov, "corrcoef": corrcoef, "nanmedian": nanmedian, "histogram": histogram,
               "unique_consecutive": unique_consecutive, "renorm": renorm,
               "renorm_": make_inplace(renorm, "renorm_")}
    bind({name: fn for name, fn in methods.items() if name not in Tensor.__dict__})


_bind()
