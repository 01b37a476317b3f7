"""scaled_dot_product_attention a head at a time (the backend protocol's optional ``fused_attention``
and ``fused_attention_backward``), where numba is installed.

The frontend's array code makes each step one pass over the whole ``(..., L, S)`` stack of scores:
the product with the keys, the mask, the softmax, the product with the values. At nanoGPT's sizes
(8, 4, 256, 32) that stack is 8 MB, so every pass goes through memory, and each of the 32 per-head
GEMMs of a step is just big enough for OpenBLAS to wake a worker thread for it. Here the heads are
split over the backend's thread pool (BLAS pinned to one thread, ``_threads.split``) and each head's
``L x S`` scores (256 KB at 256 positions) are made, masked, normalised and multiplied while they
are in cache, with the same kernels in the same order as the array code (its values, bit for bit,
in the tests). The probabilities are kept for the backward, as the array code keeps them.
"""
from __future__ import annotations

import numpy as np

from . import _jit, _softmax
from ._threads import scratch, split

__all__ = ["attention", "attention_backward"]


def _fits(shape, scores):
    """Whether a mask of ``shape`` broadcasts to the ``scores`` shape without changing it."""
    return len(shape) <= len(scores) and all(m in (1, s) for m, s in zip(reversed(shape), reversed(scores)))


def _heads(a, lead, tail):
    """``a`` broadcast to ``lead + tail`` as a function of the flat head index, or None for None."""
    if a is None:
        return None
    full = np.broadcast_to(a, lead + tail)
    index = list(np.ndindex(*lead))
    return lambda i: full[index[i]]


def attention(q, k, v, blocked, bias, scale, keep=None):
    """``(out, p)``: ``p = softmax(q * scale @ k^T, masked)`` and ``out = (p * keep) @ v`` over ``(..., L, E)``
    queries and ``(..., S, E)`` / ``(..., S, Ev)`` keys and values of one float dtype and batch shape;
    ``blocked`` (bool, True = may not attend) or ``bias`` (added to the scores) broadcast to the
    scores or None; ``keep`` dropout's scaled keep-mask of the scores' shape or None. A query whose
    every key is blocked gets probabilities 0 (torch's safe softmax). NotImplemented where the shapes,
    dtype or kernels do not fit."""
    if not (q.dtype == k.dtype == v.dtype and q.dtype.char in "fd" and q.ndim >= 3 and q.size and k.size):
        return NotImplemented
    lead, (length, _), source = q.shape[:-2], q.shape[-2:], k.shape[-2]
    if k.shape[:-2] != lead or v.shape[:-2] != lead or v.shape[-2] != source:
        return NotImplemented
    if not all(_fits(m.shape, lead + (length, source)) for m in (blocked, bias, keep) if m is not None):
        return NotImplemented
    if keep is not None and keep.dtype != q.dtype:
        return NotImplemented
    soft = _softmax.rows_kernel(q.dtype, False)
    if soft is None or (bias is not None and bias.dtype != q.dtype):
        return NotImplemented
    n = int(np.prod(lead))
    q3, k3, v3 = (np.ascontiguousarray(a).reshape(n, *a.shape[-2:]) for a in (q, k, v))
    out = np.empty((n, length, v.shape[-1]), q.dtype)
    p = np.empty((n, length, source), q.dtype)
    blocked_at, bias_at = _heads(blocked, lead, (length, source)), _heads(bias, lead, (length, source))
    keep_at = _heads(keep, lead, (length, source))

    def run(start, stop):
        s = scratch(0, (length, source), q.dtype)
        qs = scratch(1, q3.shape[1:], q.dtype)
        dropped = scratch(2, (length, source), q.dtype) if keep_at is not None else None
        for i in range(start, stop):
            np.multiply(q3[i], scale, out=qs)  # the scale on (L, E), not on the (L, S) scores
            np.matmul(qs, k3[i].T, out=s)
            if blocked_at is not None:
                np.copyto(s, -np.inf, where=blocked_at(i))
            elif bias_at is not None:
                s += bias_at(i)
            soft(s, p[i])
            if np.isnan(p[i, :, 0]).any():  # a query with every key masked: nan throughout its row
                _zero_unattended(p[i], blocked_at, bias_at, i)
            if keep_at is None:
                np.matmul(p[i], v3[i], out=out[i])
            else:
                np.multiply(p[i], keep_at(i), out=dropped)
                np.matmul(dropped, v3[i], out=out[i])

    split(run, n)
    return out.reshape(lead + out.shape[1:]), p.reshape(lead + p.shape[1:])


def _zero_unattended(p, blocked_at, bias_at, i):
    # only the rows masked throughout: a nan that came from the inputs stays, as in torch
    if blocked_at is not None:
        p[np.all(blocked_at(i), axis=-1)] = 0
    elif bias_at is not None:
        p[np.all(bias_at(i) == -np.inf, axis=-1)] = 0


def attention_backward(q, k, v, p, g, scale, needs, keep=None):
    """``(gq, gk, gv)`` of :func:`attention` for its probabilities ``p``, dropout's ``keep`` (or None) and
    upstream ``g``; None where ``needs`` (three bools) says that gradient is not wanted; or NotImplemented."""
    if not (q.dtype == k.dtype == v.dtype == p.dtype == g.dtype and q.dtype.char in "fd" and q.ndim >= 3):
        return NotImplemented
    lead, length, source = q.shape[:-2], q.shape[-2], k.shape[-2]
    if not (k.shape[:-2] == v.shape[:-2] == g.shape[:-2] == p.shape[:-2] == lead and q.size and k.size):
        return NotImplemented
    if keep is not None and not (keep.dtype == q.dtype and _fits(keep.shape, lead + (length, source))):
        return NotImplemented
    kernels = _jit.kernels("softmax_grad")
    if kernels is None:
        return NotImplemented
    soft_grad = kernels[0]
    n = int(np.prod(lead))
    q3, k3, v3, g3 = (np.ascontiguousarray(a).reshape(n, *a.shape[-2:]) for a in (q, k, v, g))
    p3 = np.ascontiguousarray(p).reshape(n, length, source)
    grads = [np.empty_like(a) if need else None for a, need in zip((q3, k3, v3), needs)]
    gq, gk, gv = grads
    keep_at = _heads(keep, lead, (length, source))

    def run(start, stop):
        gp = scratch(0, (length, source), q.dtype)
        ds = scratch(1, (length, source), q.dtype)
        for i in range(start, stop):
            np.matmul(g3[i], v3[i].T, out=gp)
            if keep_at is not None:
                gp *= keep_at(i)
            soft_grad(p3[i], gp, ds, False)  # d(scores); the scale goes on the (L, E) and (S, E) results
            if gq is not None:
                np.matmul(ds, k3[i], out=gq[i])
                gq[i] *= scale
            if gk is not None:
                np.matmul(ds.T, q3[i], out=gk[i])
                gk[i] *= scale
            if gv is not None:
                if keep_at is None:
                    np.matmul(p3[i].T, g3[i], out=gv[i])
                else:
                    np.multiply(p3[i], keep_at(i), out=ds)  # ds is read no more this round
                    np.matmul(ds.T, g3[i], out=gv[i])

    split(run, n)
    return tuple(None if a is None else a.reshape(lead + a.shape[1:]) for a in grads)
