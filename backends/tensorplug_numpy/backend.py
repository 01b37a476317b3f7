"""NumpyBackend: the array-API defaults, with numpy's faster native routines."""
from __future__ import annotations

import itertools
import math

import numpy as np

import tensorplug

from . import _blas


class NumpyBackend(tensorplug.ArrayAPIBackend):
    name = "numpy"
    device_type = "cpu"
    xp = np

    def __init__(self, index=None):
        super().__init__(None)
        # torch computes log(0) = -inf and 0/0 = nan silently; numpy would warn on every such op,
        # and a per-op np.errstate costs more than the op. This sets numpy's error state for the
        # thread that creates the backend (docs/differences.md says so).
        np.seterr(all="ignore")
        self._native = {d: np.dtype(n) for d, n in ((d, d.name) for d in self._native)}

    def astype(self, array, dtype):
        return array.astype(self._native[dtype])

    def asarray(self, obj, dtype=None):
        return np.asarray(obj, dtype=None if dtype is None else self.native_dtype(dtype))

    def to_numpy(self, array):
        return array

    def from_numpy(self, ndarray):
        return ndarray

    def copy(self, array):
        return array.copy()

    def set_num_threads(self, n):
        """Limit NumPy's BLAS to ``n`` threads (through threadpoolctl, which finds the loaded BLAS)."""
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n, user_api="blas")

    def get_num_threads(self):
        blas = _blas.load()
        if blas is not None:
            return blas.get_num_threads()
        from threadpoolctl import threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        return max(counts) if counts else 1

    # the optimizers' one-pass ``y += alpha * x`` (True when done; False declines: layout, dtype,
    # small arrays, no usable BLAS), through numpy's own OpenBLAS (_blas.py)
    axpy = staticmethod(_blas.axpy)

    def erf(self, x):
        from math import erf
        # vectorised erf without scipy: numpy has none, math.erf is exact
        return np.frompyfunc(erf, 1, 1)(x).astype(x.dtype) if x.size else x.copy()

    def einsum(self, equation, *operands):
        return np.asarray(np.einsum(equation, *operands, optimize=len(operands) > 2))

    def pad(self, x, pad_width, value=0):
        return np.pad(x, pad_width, constant_values=value)

    def scatter_add(self, target, index, values):
        np.add.at(target, index, values)

    def put_along_axis(self, array, index, values, axis):
        out = array.copy()
        np.put_along_axis(out, index, values, axis)
        return out

    def add_along_axis(self, array, index, values, axis):
        out = array.copy()
        grids = list(np.indices(index.shape, sparse=True))
        grids[axis] = index
        np.add.at(out, tuple(grids), values)
        return out

    def sliding_windows(self, x, window, stride, dilation):
        k = len(window)
        spatial = x.shape[-k:]
        outs = tuple((n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(spatial, window, stride, dilation))
        strides = x.strides[-k:]
        shape = x.shape[:-k] + outs + tuple(window)
        new_strides = (x.strides[:-k] + tuple(st * s for st, s in zip(strides, stride))
                       + tuple(st * d for st, d in zip(strides, dilation)))
        return np.lib.stride_tricks.as_strided(x, shape, new_strides, writeable=False)

    # convolution and pooling: BLAS-friendly layouts ---------------------------------
    # Windows are copied once, straight from a strided view of the (zero-padded) input into the
    # C-ordered layout the following GEMM reads without another copy:
    #   forward      (n, C*K, L): y[n] = W @ cols[n], batched, lands in (N, O, L) as is;
    #   weight grad  (C*K, n*L):  gW += g(O, n*L) @ cols.T, one GEMM summing batch and positions.
    # The batch goes in chunks of about _CHUNK bytes of windows through one reused buffer: the
    # windows are 9x the input for a 3x3 kernel, and a chunk stays in cache between its copy and
    # its GEMM. Swept on the cnn_b64 step (single-threaded, ratios to torch in one process):
    # 128 KB 1.27, 512 KB 1.18, 1 MB 1.14, 2 MB 1.14, the whole batch at once 1.31.
    _CHUNK = 1 << 20

    @staticmethod
    def _pad0(x, pads):
        if not any(a or b for a, b in pads):
            return x
        spatial = x.shape[2:]
        out = np.zeros(x.shape[:2] + tuple(s + a + b for s, (a, b) in zip(spatial, pads)), dtype=x.dtype)
        out[(slice(None), slice(None)) + tuple(slice(a, a + s) for s, (a, _) in zip(spatial, pads))] = x
        return out

    def _windows(self, x, window, stride, pads, dilation, channels_first):
        """A strided view of the windows: (N, C, *window, *out), or (C, *window, N, *out)."""
        x = self._pad0(x, pads)
        k = len(window)
        outs = tuple((n - d * (w - 1) - 1) // s + 1
                     for n, w, s, d in zip(x.shape[2:], window, stride, dilation))
        st = x.strides
        wst = tuple(st[2 + i] * dilation[i] for i in range(k))
        ost = tuple(st[2 + i] * stride[i] for i in range(k))
        n, c = x.shape[:2]
        if channels_first:
            shape, strides = (c,) + tuple(window) + (n,) + outs, (st[1],) + wst + (st[0],) + ost
        else:
            shape, strides = (n, c) + tuple(window) + outs, (st[0], st[1]) + wst + ost
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False), outs

    def _chunk(self, per_sample_bytes, n):
        return max(1, min(n, self._CHUNK // max(1, per_sample_bytes)))

    def conv(self, x, w, stride, pads, dilation, groups):
        n, c = x.shape[:2]
        o = w.shape[0]
        window = tuple(w.shape[2:])
        win, outs = self._windows(x, window, stride, pads, dilation, False)
        length = math.prod(outs)
        wm = w.reshape(groups, o // groups, -1)
        dtype = np.result_type(x.dtype, w.dtype)
        y = np.empty((n, groups, o // groups, length), dtype=dtype)
        per = math.prod(win.shape[1:])
        nb = self._chunk(per * x.itemsize, n)
        buf = np.empty((nb,) + win.shape[1:], dtype=x.dtype)
        for s in range(0, n, nb):
            e = min(n, s + nb)
            cols = buf[:e - s]
            np.copyto(cols, win[s:e])
            np.matmul(wm, cols.reshape(e - s, groups, -1, length), out=y[s:e])
        return y.reshape((n, o) + outs)

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        if any(s != 1 for s in stride):
            return np.ascontiguousarray(super().conv_input_grad(g, w, input_shape, stride, pads, dilation, groups))
        # Stride 1: lay g on the padded input's grid (zeros in the columns past the output), so a
        # window offset is one flat shift of a plane and col2im is one add of long contiguous runs
        # per offset (instead of many short rows).
        n, c = input_shape[:2]
        o = w.shape[0]
        window = tuple(w.shape[2:])
        k = len(window)
        outs = g.shape[2:]
        padded = tuple(s + a + b for s, (a, b) in zip(input_shape[2:], pads))
        if tuple(outs[1:]) == padded[1:]:
            gw = g
        else:
            gw = np.zeros((n, o, outs[0]) + padded[1:], dtype=g.dtype)
            gw[(slice(None), slice(None)) + tuple(slice(0, m) for m in outs)] = g
        length = math.prod(gw.shape[2:])
        gw = gw.reshape(n, groups, o // groups, length)
        wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
        plane = [math.prod(padded[i + 1:]) for i in range(k)]
        shifts = [sum(a * d * p for a, d, p in zip(offs, dilation, plane))
                  for offs in itertools.product(*(range(m) for m in window))]
        total = math.prod(padded)
        dtype = np.result_type(g.dtype, w.dtype)
        acc = np.zeros((n, c, max(total, shifts[-1] + length)), dtype=dtype)
        nb = self._chunk(c * len(shifts) * length * acc.itemsize, n)
        buf = np.empty((nb, groups, wt.shape[1], length), dtype=dtype)
        for s in range(0, n, nb):
            e = min(n, s + nb)
            cols = np.matmul(wt, gw[s:e], out=buf[:e - s]).reshape(e - s, c, len(shifts), length)
            part = acc[s:e]
            for i, sh in enumerate(shifts):
                part[:, :, sh:sh + length] += cols[:, :, i]
        acc = acc[:, :, :total].reshape((n, c) + padded)
        inner = tuple(slice(a, a + m) for m, (a, _) in zip(input_shape[2:], pads))
        return np.ascontiguousarray(acc[(slice(None), slice(None)) + inner])

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        window = tuple(weight_shape[2:])
        n = x.shape[0]
        k = len(window)
        o = weight_shape[0]
        win, _ = self._windows(x, window, stride, pads, dilation, True)  # (C, *window, N, *out)
        ck = x.shape[1] * math.prod(window)
        length = math.prod(g.shape[2:])
        per_in, per_out = ck // groups, o // groups
        dtype = np.result_type(x.dtype, g.dtype)
        gw = np.zeros((o, per_in), dtype=dtype)
        nb = self._chunk(ck * length * x.itemsize, n)
        buf = np.empty(win.shape[:1 + k] + (nb,) + win.shape[2 + k:], dtype=x.dtype)
        lead = (slice(None),) * (1 + k)
        for s in range(0, n, nb):
            e = min(n, s + nb)
            cols = buf if e - s == nb else np.empty(win.shape[:1 + k] + (e - s,) + win.shape[2 + k:], x.dtype)
            np.copyto(cols, win[lead + (slice(s, e),)])
            cols = cols.reshape(ck, -1)  # (C*K, chunk*L)
            gm = np.moveaxis(g[s:e], 1, 0).reshape(o, -1)  # (O, chunk*L)
            for i in range(groups):
                gw[i * per_out:(i + 1) * per_out] += np.dot(gm[i * per_out:(i + 1) * per_out],
                                                            cols[i * per_in:(i + 1) * per_in].T)
        return gw.reshape(weight_shape)

    def max_pool(self, x, window, stride, pads, dilation):
        # a running max over the window offsets (one strided slice each, no window copy); the
        # argmax is carried as the flat input offset of the winning element
        k = len(window)
        spatial = x.shape[2:]
        if any(a or b for a, b in pads):
            x = np.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=-np.inf)
        out = tuple((n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(x.shape[2:], window, stride, dilation))
        plane = [math.prod(spatial[i + 1:]) for i in range(k)]
        offsets = list(itertools.product(*(range(w) for w in window)))
        shifts = [sum(o * d * p for o, d, p in zip(offs, dilation, plane)) for offs in offsets]
        # a later window element wins when larger, so with increasing shifts the winner is a maximum
        direct = all(a < b for a, b in zip(shifts, shifts[1:]))
        slices = [x[(slice(None), slice(None)) + tuple(slice(o * d, o * d + (m - 1) * s + 1, s)
                                                        for o, d, s, m in zip(offs, dilation, stride, out))]
                  for offs in offsets]
        values, arg = self._running_max(slices, shifts if direct else range(len(slices)), nan_aware=False)
        if np.isnan(values).any():
            # torch lets a NaN win (the last one in the window)
            values, arg = self._running_max(slices, shifts if direct else range(len(slices)), nan_aware=True)
        if not direct:
            arg = np.asarray(shifts, dtype=np.int64)[arg]
        base = 0
        for i in range(k):
            coord = np.arange(out[i], dtype=np.int64) * stride[i] - pads[i][0]
            base = base + (coord * plane[i]).reshape((out[i],) + (1,) * (k - 1 - i))
        index = arg + base
        if any(a for a, _ in pads) and np.isneginf(values).any():
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
    def _running_max(slices, keys, nan_aware):
        values = slices[0].copy()
        arg = np.zeros(values.shape, dtype=np.int32)
        tmp = np.empty(values.shape, dtype=np.int32)
        for sl, key in zip(slices[1:], list(keys)[1:]):
            better = np.greater(sl, values)
            if nan_aware:
                better |= np.isnan(sl)
                np.copyto(values, sl, where=better)
                np.copyto(arg, key, where=better)
                continue
            np.maximum(values, sl, out=values)
            np.multiply(better, np.int32(key), out=tmp)
            np.maximum(arg, tmp, out=arg)
        return values, arg

    def max_unpool(self, values, index, shape, unique=False):
        n, c = shape[:2]
        plane = math.prod(shape[2:])
        offsets = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, *(1,) * (index.ndim - 2))
        if unique:
            # no repeats: one scatter store (half the time of the bincount, no float64 temporary)
            out = np.zeros(n * c * plane, dtype=values.dtype)
            out[(index + offsets).ravel()] = values.ravel()
            return out.reshape(shape)
        # repeats add up: one bincount over global positions, much faster than np.add.at
        out = np.bincount((index + offsets).ravel(), weights=values.ravel(), minlength=n * c * plane)
        return out.astype(values.dtype, copy=False).reshape(shape)
