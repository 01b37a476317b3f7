"""Counting and lookup ops (not differentiable, as in torch): unique, bincount, histc, searchsorted, bucketize."""
from __future__ import annotations

from .. import dtypes as _dt
from ..tensor import Tensor

__all__ = ["unique", "bincount", "histc", "searchsorted", "bucketize"]

_make = Tensor._make


def _wrap(backend, array, dtype=None):
    return _make(array, dtype or backend.dtype_of(array), backend)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values of ``input`` in ascending order, with the inverse indices and counts if asked
    (with ``dim``, the distinct slices along it: ``sorting.unique_dim``)."""
    if dim is not None:
        from .sorting import unique_dim
        return unique_dim(input, dim, return_inverse, return_counts)
    backend = input._backend
    xp = backend.xp
    flat = xp.reshape(input._data, (-1,))
    found = xp.unique_all(flat)
    values, inverse, counts = found.values, found.inverse_indices, found.counts
    order = xp.argsort(values)  # the standard leaves the order unspecified; torch's is ascending
    values, counts = xp.take(values, order), xp.take(counts, order)
    rank = xp.argsort(order)  # old position -> new position
    result = [_wrap(backend, values, input._dtype)]
    if return_inverse:
        inv = xp.reshape(xp.take(rank, xp.reshape(inverse, (-1,))), input._data.shape)
        result.append(_wrap(backend, xp.astype(inv, backend.native_dtype(_dt.int64)), _dt.int64))
    if return_counts:
        result.append(_wrap(backend, xp.astype(counts, backend.native_dtype(_dt.int64)), _dt.int64))
    return result[0] if len(result) == 1 else tuple(result)


def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in 1-D ``input`` (weighted sums with ``weights``)."""
    if input.dim() != 1 or input._dtype.category != _dt.INT or (input.numel() and int(input.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and tuple(weights.shape) != tuple(input.shape):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    backend = input._backend
    n = max(int(input.max()) + 1 if input.numel() else 0, minlength)
    # torch's weighted counts are float32 for float32 weights and float64 for every other dtype
    # (float16 and bfloat16 included, whose sums of a few hundred would stall)
    dtype = _dt.int64 if weights is None else (weights._dtype if weights._dtype in (_dt.float32, _dt.float64)
                                              else _dt.float64)
    out = backend.zeros((n,), dtype)
    values = backend.ones(tuple(input.shape), dtype) if weights is None else backend.astype(weights._data, dtype)
    backend.scatter_add(out, input._data, values)
    return _wrap(backend, out, dtype)


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """A histogram of ``bins`` equal bins over ``[min, max]`` (the data's range when both are 0)."""
    if input._dtype.category != _dt.FLOAT:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{_dt.scalar_type_name(input._dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    lo, hi = float(min), float(max)
    if lo == hi and input.numel():
        lo, hi = float(input.min()), float(input.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, but got min {min} max {max}")
    x = input.reshape(-1)
    keep = (x >= lo) & (x <= hi)
    x = x[keep]
    idx = ((x - lo) * (bins / (hi - lo))).long().clamp(0, bins - 1)  # x == max falls in the last bin
    return bincount(idx, minlength=bins).to(input.dtype)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``input``'s values would be inserted into ``sorted_sequence`` (its last dim) to keep order."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    from ..creation import tensor
    values = input if isinstance(input, Tensor) else tensor(input, dtype=sorted_sequence.dtype,
                                                              device=sorted_sequence.device)
    if sorter is not None:
        from .gather import gather
        sorted_sequence = gather(sorted_sequence, -1, sorter)
    backend = sorted_sequence._backend
    xp = backend.xp
    seq, vals = sorted_sequence._data, values._data
    mode = "right" if right else "left"
    if seq.ndim <= 1:
        flat = xp.reshape(vals, (-1,))
        out = xp.reshape(xp.searchsorted(xp.reshape(seq, (-1,)), flat, side=mode), vals.shape)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
        rows_s = xp.reshape(seq, (-1, seq.shape[-1]))
        rows_v = xp.reshape(vals, (-1, vals.shape[-1]))
        out = xp.reshape(xp.stack([xp.searchsorted(rows_s[i, ...], rows_v[i, ...], side=mode)
                                   for i in range(rows_s.shape[0])]), vals.shape)
    if values._dtype.category == _dt.FLOAT:  # torch's search never stops at a NaN: past the end (numpy's is
        out = xp.where(xp.isnan(vals), seq.shape[-1] if seq.ndim else 1, out)  # before the NaNs sorted last)
    dtype = _dt.int32 if out_int32 else _dt.int64
    return _wrap(backend, xp.astype(out, backend.native_dtype(dtype)), dtype)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value of ``input`` among 1-D ``boundaries`` (``searchsorted(boundaries, input)``)."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
