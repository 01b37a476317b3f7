"""LayerNorm's forward and backward over row blocks on the backend's threads (the backend protocol's
optional ``fused_layer_norm`` and ``fused_layer_norm_backward``).

Rows are independent, so each thread makes every pass over its own rows while they are in cache, and
the row and column sums are GEMVs against a ones vector (2048x512 float32: a row sum 0.04 ms as a GEMV,
0.2 ms as ``np.mean(axis=1)``). Forward and backward on 2048x512 went from 3.5 to 1.7 ms on two
threads (torch: 0.7 ms, one fused loop per row). Where numba is installed (``_loops``) each row is one
compiled loop instead, for every size (a row's value must not depend on how many rows come with it):
the same formulas, summed in eight running sums rather than BLAS's order, so the last bits differ
from the NumPy passes'.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _jit
from ._threads import split

__all__ = ["layer_norm", "layer_norm_backward"]

#: rows are split over the threads from this many elements per part (a handoff costs ~15 us); the
#: compiled loop is memory-bound sooner (512x128: 29 us on one thread, 43 us split over two)
PART_MIN = 1 << 15
PART_MIN_COMPILED = 1 << 17


def _accepts(*arrays):
    return all(a is None or (a.dtype.char in "fd" and a.flags.c_contiguous) for a in arrays)


def layer_norm(x, w, b, eps):
    """``(y, xhat, rstd)`` of LayerNorm over the rows of the 2-D ``x`` (``w``, ``b``: ``(cols,)`` or None),
    ``rstd`` of shape ``(rows, 1)``; or NotImplemented."""
    if x.ndim != 2 or not x.size or not _accepts(x, w, b) or any(a is not None and a.dtype != x.dtype for a in (w, b)):
        return NotImplemented
    rows, cols = x.shape
    y, xhat = np.empty_like(x), np.empty_like(x)
    rstd = np.empty((rows, 1), x.dtype)
    compiled = _jit.kernels("layer_norm")
    rows_fn = _rows if compiled is None else functools.partial(_compiled_rows, compiled[0])
    split(functools.partial(rows_fn, x, w, b, eps, y, xhat, rstd), rows, _grain(compiled, cols))
    return y, xhat, rstd


def _grain(compiled, cols):
    return max(1, (PART_MIN if compiled is None else PART_MIN_COMPILED) // cols)


def _rows(x, w, b, eps, y, xhat, rstd, s, e):
    """``layer_norm`` of rows ``s:e`` in NumPy passes."""
    cols = x.shape[1]
    xb, hb, yb, rb = x[s:e], xhat[s:e], y[s:e], rstd[s:e, 0]
    mean = xb @ np.ones(cols, x.dtype)
    mean /= cols
    np.subtract(xb, mean[:, None], out=hb)
    np.vecdot(hb, hb, out=rb)
    rb /= cols
    rb += eps
    np.sqrt(rb, out=rb)
    np.divide(1, rb, out=rb)
    hb *= rb[:, None]
    if w is not None:
        np.multiply(hb, w, out=yb)
    else:
        yb[...] = hb
    if b is not None:
        yb += b


def _compiled_rows(kernel, x, w, b, eps, y, xhat, rstd, s, e):
    """``layer_norm`` of rows ``s:e`` in numba's loop, one row at a time (``_loops._layer_norm``)."""
    dt, ones = x.dtype.type, np.ones(x.shape[1], x.dtype)
    kernel(x[s:e], ones if w is None else w, ones if b is None else b, dt(eps), ones, dt(x.shape[1]),
           y[s:e], xhat[s:e], rstd[s:e], w is not None, b is not None)


def layer_norm_backward(g, w, xhat, rstd, need_x, need_w, need_b):
    """``(gx, gw, gb)`` for upstream ``g`` (2-D, as ``xhat``), each None where not needed; or NotImplemented."""
    if g.shape != xhat.shape or g.dtype != xhat.dtype or not _accepts(g, w, xhat):
        return NotImplemented
    rows, cols = g.shape
    gx = np.empty_like(g) if need_x else None
    compiled = _jit.kernels("layer_norm_grad")
    rows_fn = _grad_rows if compiled is None else functools.partial(_compiled_grad_rows, compiled[0])
    parts = split(functools.partial(rows_fn, g, w, xhat, rstd, need_x, need_w, need_b, gx), rows,
                  _grain(compiled, cols))
    gw = sum(p[0] for p in parts) if need_w else None
    gb = sum(p[1] for p in parts) if need_b else None
    return gx, gw, gb


def _grad_rows(g, w, xhat, rstd, need_x, need_w, need_b, gx, s, e):
    """``layer_norm_backward`` of rows ``s:e`` in NumPy passes: ``(gw, gb)`` partial sums."""
    cols = g.shape[1]
    gb_, hb = g[s:e], xhat[s:e]
    ones_r = np.ones(e - s, g.dtype)
    t = gb_ * hb  # also the scratch of the input gradient's last pass
    gw = ones_r @ t if need_w else None
    gb = ones_r @ gb_ if need_b else None
    if need_x:
        ob = gx[s:e]
        if w is not None:
            np.multiply(gb_, w, out=ob)
        else:
            ob[...] = gb_
        dot = np.vecdot(ob, hb)
        dot /= cols
        mean = ob @ np.ones(cols, g.dtype)
        mean /= cols
        ob -= mean[:, None]
        np.multiply(hb, dot[:, None], out=t)
        ob -= t
        ob *= rstd[s:e]
    return gw, gb


def _compiled_grad_rows(kernel, g, w, xhat, rstd, need_x, need_w, need_b, gx, s, e):
    """``layer_norm_backward`` of rows ``s:e`` in numba's loop (``_loops._layer_norm_grad``)."""
    cols = g.shape[1]
    ones = np.ones(cols, g.dtype)
    gw, gb = np.zeros(cols, g.dtype), np.zeros(cols, g.dtype)
    kernel(g[s:e], ones if w is None else w, xhat[s:e], rstd[s:e], ones, g.dtype.type(cols),
           np.empty((1, 1), g.dtype) if gx is None else gx[s:e], gw, gb, w is not None, need_x, need_w, need_b)
    return gw, gb
