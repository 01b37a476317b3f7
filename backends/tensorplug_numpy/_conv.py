"""Convolution and max pooling kernels of the NumPy backend: BLAS-friendly layouts, batch-split threads.

Windows are copied once, straight from a strided view of the (zero-padded) input into the
C-ordered layout the following GEMM reads without another copy:
  forward      (n, C*K, L): y[n] = W @ cols[n], batched, lands in (N, O, L) as is;
  weight grad  (C*K, n*L):  gW += g(O, n*L) @ cols.T, one GEMM summing batch and positions.
The batch goes in chunks of about ``_CHUNK`` bytes of windows through one buffer reused by
its thread: the windows are 9x the input for a 3x3 kernel, and a chunk stays in cache between
its copy and its GEMM. Swept on the cnn_b64 step (single-threaded, ratios to torch in one
process): 128 KB 1.27, 512 KB 1.18, 1 MB 1.14, 2 MB 1.14, the whole batch at once 1.31.

With more than one thread (``tensorplug.set_num_threads``), every kernel here splits the batch
into one part per thread (``_threads.split``), each with its own buffers and outputs (no shared
scratch); BLAS runs single-threaded meanwhile. Forward, input gradient and pooling are
bit-for-bit the single-threaded results; the weight gradient sums the parts' partial sums, so
it matches to rounding.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

import tensorplug

from . import _jit
from ._threads import scratch, split

_CHUNK = 1 << 20
# a part (thread) gets at least this many output elements: below it the handoff (tens of
# microseconds) costs more than the half of the work it saves
_MIN_PART = 1 << 15
# conv_weight_grad: windows of fewer elements per group than this take per-sample GEMMs
_WIDE_WINDOW = 64


def _chunk(per_sample_bytes, n):
    return max(1, min(n, _CHUNK // max(1, per_sample_bytes)))


def _min_samples(per_sample):
    return max(1, -(-_MIN_PART // max(1, per_sample)))


def _padded_chunks(x, pads, s0, e0, nb):
    """``(s, e, x[s:e] zero-padded)`` for the chunks of ``range(s0, e0)``.

    One buffer per caller (thread): its borders are zeroed once and only the interior is
    written per chunk, so the padding is a copy in cache instead of a padded copy of the whole
    input (which conv forward and its weight gradient would each make).
    """
    if not any(a or b for a, b in pads):
        for s in range(s0, e0, nb):
            yield s, min(e0, s + nb), x[s:min(e0, s + nb)]
        return
    spatial = x.shape[2:]
    padded = tuple(m + a + b for m, (a, b) in zip(spatial, pads))
    buf = scratch(0, (min(nb, e0 - s0), x.shape[1]) + padded, x.dtype)
    buf[...] = 0
    inner = (slice(None), slice(None)) + tuple(slice(a, a + m) for m, (a, _) in zip(spatial, pads))
    for s in range(s0, e0, nb):
        e = min(e0, s + nb)
        chunk = buf[:e - s]
        chunk[inner] = x[s:e]
        yield s, e, chunk


def _out_sizes(spatial, window, stride, pads, dilation):
    return tuple((m + a + b - d * (w - 1) - 1) // s + 1
                 for m, w, s, d, (a, b) in zip(spatial, window, stride, dilation, pads))


def _windows(x, window, stride, dilation, outs, channels_first):
    """A strided view of the windows of (padded) x: (N, C, *window, *out), or (C, *window, N, *out)."""
    k = len(window)
    # (N, C, *out, *window) cut to ``outs`` (x may be padded past them), then transposed
    view = tensorplug.ArrayAPIBackend.strided_windows(x, window, stride, dilation, as_strided_readonly)
    view = view[(slice(None), slice(None)) + tuple(slice(0, o) for o in outs)]
    ws, os = tuple(range(2 + k, 2 + 2 * k)), tuple(range(2, 2 + k))
    return view.transpose((1,) + ws + (0,) + os if channels_first else (0, 1) + ws + os)


def as_strided_readonly(x, shape, strides):
    """numpy's ``as_strided`` for views nobody may write through (windows overlap)."""
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


class ConvKernels:
    """Mixin of the NumPy backend: conv, conv_bias, conv_input_grad, conv_weight_grad, max_pool, max_unpool."""

    def conv(self, x, w, stride, pads, dilation, groups):
        return self.conv_bias(x, w, None, stride, pads, dilation, groups)

    def conv_bias(self, x, w, b, stride, pads, dilation, groups):
        """``conv`` with the bias (or None) added to each chunk while it is in cache."""
        n = x.shape[0]
        o = w.shape[0]
        window = tuple(w.shape[2:])
        outs = _out_sizes(x.shape[2:], window, stride, pads, dilation)
        length = math.prod(outs)
        wm = w.reshape(groups, o // groups, -1)
        dtype = np.result_type(x.dtype, w.dtype)
        y = np.empty((n, groups, o // groups, length), dtype=dtype)
        bias = None if b is None else b.reshape(groups, o // groups, 1)
        per = x.shape[1] * math.prod(window) * length
        nb = _chunk(per * x.itemsize, n)

        def part(s0, e0):
            buf = scratch(1, (min(nb, e0 - s0), per), x.dtype)
            for s, e, xc in _padded_chunks(x, pads, s0, e0, nb):
                win = _windows(xc, window, stride, dilation, outs, False)
                cols = buf[:e - s].reshape(win.shape)
                np.copyto(cols, win)
                out = y[s:e]
                np.matmul(wm, cols.reshape(e - s, groups, -1, length), out=out)
                if bias is not None:
                    out += bias

        split(part, n, _min_samples(o * length))
        return y.reshape((n, o) + outs)

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        if any(s != 1 for s in stride):
            out = super().conv_input_grad(g, w, input_shape, stride, pads, dilation, groups)
            # NumPy's matmul of bfloat16 gives float32: the result keeps the operands' dtype, as torch's
            return np.ascontiguousarray(out, dtype=np.result_type(g.dtype, w.dtype))
        # Stride 1: lay g on the padded input's grid (zeros in the columns past the output), so a
        # window offset is one flat shift of a plane and col2im is one add of long contiguous runs
        # per offset (instead of many short rows). Per chunk: g into a zero-bordered buffer, one
        # GEMM into the columns, their shifted sum in an accumulator, the interior out.
        n, c = input_shape[:2]
        o = w.shape[0]
        window = tuple(w.shape[2:])
        k = len(window)
        outs = tuple(g.shape[2:])
        padded = tuple(s + a + b for s, (a, b) in zip(input_shape[2:], pads))
        grid = (outs[0],) + padded[1:]
        need_pad = outs != grid
        length = math.prod(grid)
        wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
        plane = [math.prod(padded[i + 1:]) for i in range(k)]
        shifts = [sum(a * d * p for a, d, p in zip(offs, dilation, plane))
                  for offs in itertools.product(*(range(m) for m in window))]
        total = math.prod(padded)
        ext = max(total, shifts[-1] + length)
        dtype = np.result_type(g.dtype, w.dtype)
        out = np.empty(tuple(input_shape), dtype=dtype)
        inner = (slice(None), slice(None)) + tuple(slice(a, a + m) for m, (a, _) in zip(input_shape[2:], pads))
        interior = (slice(None), slice(None)) + tuple(slice(0, m) for m in outs)
        nb = _chunk(c * len(shifts) * length * np.dtype(dtype).itemsize, n)
        ordered = shifts[0] == 0 and all(a < b for a, b in zip(shifts, shifts[1:]))

        def part(s0, e0):
            m = min(nb, e0 - s0)
            gbuf = None
            if need_pad:
                gbuf = scratch(0, (m, o) + grid, g.dtype)
                gbuf[...] = 0  # the borders stay zero: each chunk writes the interior
            cbuf = scratch(1, (m, groups, wt.shape[1], length), dtype)
            acc = scratch(2, (m, c, ext), dtype)
            for s in range(s0, e0, nb):
                e = min(e0, s + nb)
                b = e - s
                if need_pad:
                    gsrc = gbuf[:b]
                    gsrc[interior] = g[s:e]
                else:
                    gsrc = g[s:e]
                cols = np.matmul(wt, gsrc.reshape(b, groups, o // groups, length), out=cbuf[:b])
                cols = cols.reshape(b, c, len(shifts), length)
                a = acc[:b]
                if ordered:  # the first offset writes, the rest add
                    a[:, :, :length] = cols[:, :, 0]
                    a[:, :, length:] = 0
                    first = 1
                else:
                    a[...] = 0
                    first = 0
                for i in range(first, len(shifts)):
                    sh = shifts[i]
                    a[:, :, sh:sh + length] += cols[:, :, i]
                out[s:e] = a[:, :, :total].reshape((b, c) + padded)[inner]

        split(part, n, _min_samples(c * total))
        return out

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        return self.conv_weight_bias_grad(x, g, weight_shape, stride, pads, dilation, groups, False)[0]

    def conv_weight_bias_grad(self, x, g, weight_shape, stride, pads, dilation, groups, bias=True):
        """``(weight grad, bias grad or None)``: the bias's sum of g taken per chunk while it is in cache."""
        window = tuple(weight_shape[2:])
        n = x.shape[0]
        o = weight_shape[0]
        outs = tuple(g.shape[2:])
        ck = x.shape[1] * math.prod(window)
        length = math.prod(outs)
        per_in, per_out = ck // groups, o // groups
        dtype = np.result_type(x.dtype, g.dtype)
        nb = _chunk(ck * length * x.itemsize, n)

        # Two layouts, by the size of a window (C*K), measured on cnn_b64's layers (one thread):
        # few window elements (the 1-channel first layer, C*K = 9): per-sample GEMMs g[n] @
        # cols[n].T in the forward layout, summed (0.30 ms vs 0.83 for one long GEMM whose
        # 9-wide result OpenBLAS handles poorly); many (C*K = 144): one GEMM over batch and
        # positions per chunk, as cols @ g.T (2.4 ms vs 2.9 for g @ cols.T).
        batched = per_in < _WIDE_WINDOW

        def part(s0, e0):
            acc = np.zeros((groups, per_out, per_in) if batched else (groups, per_in, per_out), dtype=dtype)
            gb = np.zeros((groups, per_out), dtype=g.dtype) if bias else None
            buf = scratch(1, (min(nb, e0 - s0) * ck * length,), x.dtype)
            for s, e, xc in _padded_chunks(x, pads, s0, e0, nb):
                win = _windows(xc, window, stride, dilation, outs, not batched)
                cols = buf[:(e - s) * ck * length].reshape(win.shape)
                np.copyto(cols, win)
                if batched:  # (chunk, C*K, L)
                    cols = cols.reshape(e - s, groups, per_in, length).transpose(0, 1, 3, 2)
                    gm = g[s:e].reshape(e - s, groups, per_out, length)
                    acc += np.matmul(gm, cols).sum(0)
                    if bias:
                        gb += gm.sum(axis=3).sum(0)
                    continue
                cols = cols.reshape(groups, per_in, -1)  # (C*K, chunk*L) per group
                gm = np.moveaxis(g[s:e], 1, 0).reshape(groups, per_out, -1)  # (O, chunk*L) per group
                for i in range(groups):
                    acc[i] += np.dot(cols[i], gm[i].T)
                if bias:
                    gb += gm.sum(axis=2)
            return acc, gb

        parts = split(part, n, _min_samples(ck * length // 4))
        acc, gb = parts[0]
        for p, b in parts[1:]:
            acc += p
            if bias:
                gb += b
        if not batched:
            acc = acc.transpose(0, 2, 1)
        return np.ascontiguousarray(acc).reshape(weight_shape), (gb.reshape(o) if bias else None)

    def max_pool(self, x, window, stride, pads, dilation):
        # a running max over the window offsets (one strided slice each, no window copy); the
        # argmax is carried as the flat input offset of the winning element. Chunks of the batch
        # keep the running arrays in cache; parts of the batch run on the pool's threads.
        k = len(window)
        spatial = x.shape[2:]
        if any(a or b for a, b in pads):
            # padding never wins: -inf, or an integer dtype's least value
            low = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
            x = np.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=low)
        n, c = x.shape[:2]
        out = tuple((m - d * (w - 1) - 1) // s + 1 for m, w, s, d in zip(x.shape[2:], window, stride, dilation))
        plane = [math.prod(spatial[i + 1:]) for i in range(k)]
        offsets = list(itertools.product(*(range(w) for w in window)))
        shifts = [sum(o * d * p for o, d, p in zip(offs, dilation, plane)) for offs in offsets]
        # a later window element wins when larger, so with increasing shifts the winner is a maximum
        direct = all(a < b for a, b in zip(shifts, shifts[1:]))
        keys = shifts if direct else list(range(len(shifts)))
        shift_arr = None if direct else np.asarray(shifts, dtype=np.int64)
        views = [(slice(None), slice(None)) + tuple(slice(o * d, o * d + (m - 1) * s + 1, s)
                                        for o, d, s, m in zip(offs, dilation, stride, out))
                 for offs in offsets]
        base = 0
        for i in range(k):
            coord = np.arange(out[i], dtype=np.int64) * stride[i] - pads[i][0]
            base = base + (coord * plane[i]).reshape((out[i],) + (1,) * (k - 1 - i))
        values = np.empty((n, c) + out, dtype=x.dtype)
        index = np.empty((n, c) + out, dtype=np.int64)
        nb = _chunk(math.prod(x.shape[1:]) * x.itemsize, n)

        def part(s0, e0):
            m = min(nb, e0 - s0)
            arg = scratch(0, (m, c) + out, np.int32)
            tmp = scratch(1, (m, c) + out, np.int32)
            for s in range(s0, e0, nb):
                e = min(e0, s + nb)
                xs = x[s:e]
                slices = [xs[v] for v in views]
                vals, a, t = values[s:e], arg[:e - s], tmp[:e - s]
                self._running_max(slices, keys, vals, a, t, nan_aware=False)
                if vals.dtype.kind not in "iub" and np.isnan(vals).any():
                    # torch lets a NaN win (the last one in the window)
                    self._running_max(slices, keys, vals, a, t, nan_aware=True)
                if shift_arr is not None:
                    np.add(shift_arr[a], base, out=index[s:e])
                else:
                    np.add(a, base, out=index[s:e])

        split(part, n, _min_samples(c * math.prod(out)))
        if any(a for a, _ in pads) and values.dtype.kind not in "iub" and np.isneginf(values).any():
            # an all -inf window that starts in the left padding: torch's index is the window's
            # first input element, not a padding position
            first = 0
            for i in range(k):
                start = np.arange(out[i], dtype=np.int64) * stride[i] - pads[i][0]
                coord = start + np.maximum(0, -(start // dilation[i])) * dilation[i]
                first = first + (coord * plane[i]).reshape((out[i],) + (1,) * (k - 1 - i))
            index = np.where(np.isneginf(values), first, index)
        return values, index

    @staticmethod
    def _running_max(slices, keys, values, arg, tmp, nan_aware):
        np.copyto(values, slices[0])
        arg.fill(keys[0])
        for sl, key in zip(slices[1:], keys[1:]):
            if nan_aware:
                better = np.greater(sl, values)
                better |= np.isnan(sl)
                np.copyto(values, sl, where=better)
                np.copyto(arg, key, where=better)
                continue
            better = np.greater(sl, values)
            np.maximum(values, sl, out=values)
            np.multiply(better, np.int32(key), out=tmp)
            np.maximum(arg, tmp, out=arg)

    def max_unpool(self, values, index, shape, unique=False):
        n, c = shape[:2]
        plane = math.prod(shape[2:])
        fits = unique and values.size and values.dtype.char in "fd" and index.dtype == np.int64
        compiled = _jit.kernels("unpool_unique") if fits else None
        if compiled is not None:  # one loop (numba): the fancy-index store below takes 2.5x as long
            out = np.zeros((n * c, plane), dtype=values.dtype)
            rows = (np.ascontiguousarray(a).reshape(n * c, -1) for a in (values, index))
            compiled[0](*rows, out)
            return out.reshape(shape)
        offsets = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, *(1,) * (index.ndim - 2))
        if unique:
            # no repeats: one scatter store (half the time of the bincount, no float64 temporary).
            # Not split over threads: numpy's fancy-index store holds the GIL (two threads took
            # 0.49 ms where one takes 0.34 on cnn_b64's first pool)
            out = np.zeros(n * c * plane, dtype=values.dtype)
            out[(index + offsets).ravel()] = values.ravel()
            return out.reshape(shape)
        # repeats add up: one bincount over global positions, much faster than np.add.at
        out = np.bincount((index + offsets).ravel(), weights=values.ravel(), minlength=n * c * plane)
        return out.astype(values.dtype, copy=False).reshape(shape)
