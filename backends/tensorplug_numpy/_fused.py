"""Softmax cross-entropy and Adam in fewer NumPy calls and memory passes (the backend protocol's
optional ``fused_cross_entropy``, ``fused_adam`` and ``fused_rmsprop``).

The frontend's array code for cross-entropy is written for any Array API
namespace and takes about 25 NumPy calls per forward (class weights, label
smoothing and ignored rows all handled the same way); at a batch of 64 that is
~100 us, a tenth of an MLP training step. Here the common case -- no weights,
no smoothing, every row's target valid -- takes about a dozen, and ignored
rows a few more.
"""
from __future__ import annotations

import numpy as np

from . import _blas, _jit
from ._special import JIT_MIN
from ._threads import split

#: a fused update splits its flat arrays over the backend's threads from this many elements
#: (each part makes every pass over its slice, numpy releasing the GIL; a handoff costs ~15 us)
SPLIT_MIN = 1 << 19  # measured: 2 parts win from ~500k float32 elements (1M: 1020 -> 670 us), lose below
#: smaller parameters decline the fused Adam/RMSprop: inside a training step at MLP sizes (200k elements)
#: the array code's in-place passes measured 4-10% faster per step than these (BLAS axpy wake-ups,
#: one more temporary), though an isolated optimizer step says the opposite
FUSE_MIN = SPLIT_MIN

__all__ = ["cross_entropy", "cross_entropy_backward", "adam", "rmsprop", "relu_backward"]

_INT64 = np.dtype("int64")


def _all_classes(target, c):
    """Every target in ``[0, c)``, in one reduction: a negative int64 read as uint64 is above any ``c``."""
    return int(target.view(np.uint64).max()) < c


def cross_entropy(x, target, ignore_index, reduction):
    """``(loss, logp, den, bad)`` as ``tensorplug.Backend.fused_cross_entropy`` describes."""
    if x.ndim != 2 or x.dtype.char not in "fd" or target.dtype != _INT64 or target.ndim != 1 or not x.size:
        return NotImplemented
    m, c = x.shape
    logp = x - x.max(axis=1, keepdims=True)
    lse = np.exp(logp).sum(axis=1, keepdims=True)
    np.log(lse, out=lse)
    logp -= lse
    rows = np.arange(m)
    if _all_classes(target, c) and not 0 <= ignore_index < c:  # the common case: no row ignored, none bad
        count = m
        bad = -1
        picked = logp[rows, target]
    else:
        valid = target != ignore_index
        count = int(np.count_nonzero(valid))
        out_of_range = valid & ((target < 0) | (target >= c))
        bad = int(np.flatnonzero(out_of_range)[0]) if out_of_range.any() else -1
        picked = logp[rows, np.where(valid & ~out_of_range, target, 0)]
        picked[~valid] = 0
    if reduction == "none":
        loss = -picked
    else:
        total = -picked.sum(dtype=np.float64)
        loss = np.array(total / count if reduction == "mean" else total, dtype=x.dtype)  # 0/0: nan, as torch
    return loss, logp, np.array(max(count, 1), dtype=x.dtype), bad


def cross_entropy_backward(logp, target, ignore_index, g, den, reduction):
    """``(softmax - onehot) * g`` (per row for 'none', over ``den`` for 'mean'); ignored rows 0 (NaN
    where their softmax is NaN, as torch)."""
    if g.dtype != logp.dtype:
        return NotImplemented
    m, c = logp.shape
    grad = np.exp(logp)
    if _all_classes(target, c) and not 0 <= ignore_index < c:
        grad[np.arange(m), target] -= 1
    else:
        valid = target != ignore_index
        rows = np.flatnonzero(valid)
        grad[rows, target[rows]] -= 1
        grad[~valid] *= 0  # torch's gradient there is softmax * 0: NaN where the row's logits hold inf or NaN
    if reduction == "none":
        grad *= g.reshape(m, 1)
    else:
        grad *= g / den if reduction == "mean" else g
    return grad


def _run(update, arrays, options):
    """``update(*arrays, **options)``, split over the thread pool when the arrays are big and flat."""
    p = arrays[0]
    if p.size >= SPLIT_MIN and all(a is None or a.flags.c_contiguous for a in arrays):
        flat = [None if a is None else a.reshape(-1) for a in arrays]
        split(lambda s, e: update(*(None if a is None else a[s:e] for a in flat), **options), p.size,
              SPLIT_MIN // 2)
    else:
        update(*arrays, **options)
    return True


def adam(p, g, m, v, vmax, **options):
    """One Adam update in place (``tensorplug.Backend.fused_adam``) for a big parameter: nine memory
    passes and one temporary, where the array code makes twelve and three, BLAS axpy where it takes
    the operands, split over the thread pool."""
    if p.size < FUSE_MIN or p.dtype.char not in "fd" or g.dtype != p.dtype or g.shape != p.shape:
        return False
    return _run(_adam, (p, g, m, v, vmax), options)


def _adam(p, g, m, v, vmax, *, sign, weight_decay, decay, beta1, beta2, step_size, eps):
    if decay != 1:
        p *= decay
    d = g
    if sign != 1 or weight_decay:
        d = g * sign
        _axpy(d, weight_decay, p)
    m *= beta1  # m = beta1*m + (1-beta1)*d
    _axpy(m, 1 - beta1, d)
    tmp = np.multiply(d, d)  # v = beta2*v + (1-beta2)*d*d
    v *= beta2
    _axpy(v, 1 - beta2, tmp)
    if vmax is not None:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    np.sqrt(v, out=tmp)  # p -= step_size * m / (sqrt(v) + eps)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    _axpy(p, -step_size, tmp)


def rmsprop(p, g, square_avg, buf, grad_avg, **options):
    """One RMSprop update in place (``tensorplug.Backend.fused_rmsprop``) with one temporary."""
    if p.size < FUSE_MIN or p.dtype.char not in "fd" or g.dtype != p.dtype or g.shape != p.shape:
        return False
    return _run(_rmsprop, (p, g, square_avg, buf, grad_avg), options)


def _rmsprop(p, g, square_avg, buf, grad_avg, *, sign, lr, alpha, eps, weight_decay, momentum):
    d = g
    if sign != 1 or weight_decay:
        d = g * sign
        _axpy(d, weight_decay, p)
    tmp = np.multiply(d, d)  # square_avg = alpha*square_avg + (1-alpha)*d*d
    square_avg *= alpha
    _axpy(square_avg, 1 - alpha, tmp)
    if grad_avg is not None:  # centered: sqrt(square_avg - grad_avg**2)
        grad_avg *= alpha
        _axpy(grad_avg, 1 - alpha, d)
        np.multiply(grad_avg, grad_avg, out=tmp)
        np.subtract(square_avg, tmp, out=tmp)
        np.sqrt(tmp, out=tmp)
    else:
        np.sqrt(square_avg, out=tmp)
    tmp += eps
    np.divide(d, tmp, out=tmp)
    if buf is not None:
        buf *= momentum
        buf += tmp
        tmp = buf
    _axpy(p, -lr, tmp)


def _axpy(y, alpha, x):
    if alpha and not _blas.axpy(y, alpha, x):
        y += alpha * x


def add_rows(target, index, values):
    """``np.add.at(target, (index,), values)`` for a 1-D ``index`` and one row of ``values`` per index
    (embedding and index_select backward); True when done, False declines (other layouts).

    A stable sort groups equal indices; rows alone in their group are added with one fancy-indexed
    add, and ``np.add.reduceat`` sums only the groups of several rows (it costs microseconds per
    group: over every row of GPT-2's 8192 tokens it took 22 ms). GPT-2's 50304x128 embedding, 8192
    tokens, zeros included: np.add.at 38 ms, this 18 ms; 1000 rows: 26 -> 12 ms (a one-hot GEMM: 83
    ms). Deterministic; the order of a row's
    additions may differ from ``np.add.at``'s (as torch's sort-based embedding backward does).
    """
    n = index.shape[0] if index.ndim == 1 and index.dtype.kind in "iu" else 0
    if n < 2 or values.ndim < 1 or values.shape[0] != n or values.dtype != target.dtype:
        return False
    if values.dtype.itemsize == 2 and values.dtype.kind in "fV":
        # float16/bfloat16: torch adds each row in turn in that dtype (its embedding and index backward),
        # which np.add.at reproduces bit for bit; a regrouped sum rounds elsewhere
        return False
    if _compiled_add_rows(target, index, values):
        return True
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    if ordered[0] < 0:  # -1 and n-1 would be two groups of one row: the fancy add would drop one
        return False
    differs = ordered[1:] != ordered[:-1]
    first = np.concatenate(([True], differs))  # the first row of its group
    alone = first & np.concatenate((differs, [True]))  # ... and the last
    rows = values[order]
    target[ordered[alone]] += rows[alone]
    grouped = ~alone
    if grouped.any():
        keys = ordered[grouped]
        starts = np.flatnonzero(first[grouped])
        target[keys[starts]] += np.add.reduceat(rows[grouped], starts, axis=0)
    return True


def _compiled_add_rows(target, index, values):
    """``add_rows`` as one compiled loop (numba, ``_loops._add_rows``) in ``np.add.at``'s order (the
    NumPy code below groups equal indices first, so its sums round differently); False where it does
    not apply (no numba, a layout it does not take, negative or out-of-range indices: the NumPy code's)."""
    fits = (target.dtype.char in "fd" and target.flags.c_contiguous and target.ndim == values.ndim
            and target.shape[1:] == values.shape[1:])  # (every size: a row's sum never depends on the batch)
    compiled = _jit.kernels("add_rows") if fits else None
    if compiled is None or index.min() < 0 or index.max() >= target.shape[0]:
        return False
    rows = target.shape[0]
    compiled[0](target.reshape(rows, -1), np.ascontiguousarray(index, dtype=np.int64),
                np.ascontiguousarray(values).reshape(index.size, -1))
    return True


def relu_backward(out, g):
    """ReLU's gradient in one compiled pass where numba is installed (``_loops._relu_grad``); the
    frontend's product and finiteness check otherwise (three passes: 64x16x28x28 float32 ~0.7 ms).
    From ``JIT_MIN`` elements: below, numba's start-up is not worth it (the values are the same)."""
    fits = out.size >= JIT_MIN and out.dtype.char in "fd" and g.dtype == out.dtype and g.shape == out.shape
    compiled = _jit.kernels("relu_grad") if fits else None
    if compiled is None:
        return NotImplemented
    flat_out, flat_g = np.ascontiguousarray(out).reshape(-1), np.ascontiguousarray(g).reshape(-1)
    gx = np.empty(out.size, out.dtype)
    zero = out.dtype.type(0)
    # split only from 2**19 elements: 512x256 took 22 us on one thread, 49 us handed to two
    split(lambda s, e: compiled[0](flat_out[s:e], flat_g[s:e], gx[s:e], zero), out.size, 1 << 18)
    return gx.reshape(out.shape)


def lstm_cell(gates, projected, c_prev, c, tanh_c, h):
    """One LSTM step (``Backend.fused_lstm_cell``) in one compiled loop where numba is installed
    (``_loops._lstm_cell32``, float32), instead of the frontend's ten array calls a step, which two
    threads serialise on the GIL; the loop releases it. Declines float64 and any non-row-major block."""
    arrays = (gates, projected, c_prev, c, tanh_c, h)
    if not all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays):
        return NotImplemented
    compiled = _jit.kernels("lstm_cell32")
    if compiled is None:
        return NotImplemented
    compiled[0](*arrays)
    return None


def lstm_cell_backward(gates, c_prev, tanh_c, dh, dc, dz):
    """One LSTM step's backward (``Backend.fused_lstm_cell_backward``) in one compiled call where numba
    is installed (``_loops._lstm_cell_grad``), float32 and float64."""
    arrays = (gates, c_prev, tanh_c, dh, dc, dz)
    if gates.dtype.char not in "fd" or not all(a.dtype == gates.dtype and a.flags.c_contiguous for a in arrays):
        return NotImplemented
    compiled = _jit.kernels("lstm_cell_grad")
    if compiled is None:
        return NotImplemented
    compiled[0](*arrays, gates.dtype.type(1))
    return None
