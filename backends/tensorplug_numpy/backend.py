"""NumpyBackend: the array-API defaults, with numpy's faster native routines."""
from __future__ import annotations

import itertools
import math

import numpy as np

import tensorplug


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
    # The weight gradient sums over batch and positions: lay windows out (C*K, N*L), one GEMM.
    def _cols(self, x, window, stride, pads, dilation):
        win = self.im2col(x, window, stride, pads, dilation)  # (N, C, *window, *out) view
        k = len(window)
        perm = (1,) + tuple(range(2, 2 + k)) + (0,) + tuple(range(2 + k, 2 + 2 * k))
        return win.transpose(perm).reshape(x.shape[1] * math.prod(window), -1), win.shape[2 + k:]

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        window = tuple(weight_shape[2:])
        n, c = x.shape[:2]
        o = weight_shape[0]
        cols, _ = self._cols(x, window, stride, pads, dilation)
        gm = np.ascontiguousarray(np.moveaxis(g, 1, 0)).reshape(o, -1)  # (O, N*L)
        if groups == 1:
            return np.dot(gm, cols.T).reshape(weight_shape)
        per_in = cols.shape[0] // groups
        per_out = o // groups
        parts = [np.dot(gm[i * per_out:(i + 1) * per_out], cols[i * per_in:(i + 1) * per_in].T)
                 for i in range(groups)]
        return np.concatenate(parts).reshape(weight_shape)

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
        return values, arg + base

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

    def max_unpool(self, values, index, shape):
        # one bincount over global positions: much faster than np.add.at
        n, c = shape[:2]
        plane = math.prod(shape[2:])
        offsets = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, *(1,) * (index.ndim - 2))
        out = np.bincount((index + offsets).ravel(), weights=values.ravel(), minlength=n * c * plane)
        return out.astype(values.dtype, copy=False).reshape(shape)
