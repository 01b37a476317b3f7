"""NumpyBackend: the array-API defaults, with numpy's faster native routines."""
from __future__ import annotations

import numpy as np

import tensorplug

from . import _attention, _blas, _conv, _fused, _malloc, _norm, _softmax, _special, _threads
from ._conv import ConvKernels


class _DtypeTable(dict):
    """A dtype table whose bfloat16 entries appear on first use: importing ml_dtypes takes ~0.6 s, which
    every program's first tensor paid although most never touch bfloat16."""

    def __init__(self, entries, add_bfloat16):
        super().__init__(entries)
        self._add_bfloat16 = add_bfloat16

    def __missing__(self, key):
        if "bfloat16" not in (getattr(key, "name", None), getattr(key, "__name__", None)):
            raise KeyError(key)
        self._add_bfloat16()
        return dict.__getitem__(self, key)


class NumpyBackend(ConvKernels, tensorplug.ArrayAPIBackend):
    # conv, conv_bias, conv_input_grad, conv_weight_grad, max_pool, max_unpool: _conv.py
    name = "numpy"
    device_type = "cpu"
    xp = np

    def __init__(self, index=None):
        super().__init__(None)
        # torch computes log(0) = -inf and 0/0 = nan silently; numpy would warn on every such op,
        # and a per-op np.errstate costs more than the op. This sets numpy's error state for the
        # thread that creates the backend (docs/differences.md says so).
        np.seterr(all="ignore")
        _malloc.tune()  # keep a step's big temporaries out of the page-fault path (_malloc.py says why)
        self._native = _DtypeTable({d: np.dtype(n) for d, n in ((d, d.name) for d in self._native)},
                                   self._add_bfloat16)
        self._from_native = _DtypeTable(self._from_native, self._add_bfloat16)

    def _add_bfloat16(self):
        import ml_dtypes  # torch.bfloat16 as a NumPy dtype (NumPy has none)
        dict.__setitem__(self._native, tensorplug.bfloat16, np.dtype(ml_dtypes.bfloat16))
        for key in (ml_dtypes.bfloat16, np.dtype(ml_dtypes.bfloat16)):
            dict.__setitem__(self._from_native, key, tensorplug.bfloat16)

    # No method returns a NumPy scalar (np.generic): those are immutable, and a tensor's storage must take
    # in-place writes (torch's 0-d tensors alias like any other). numpy gives scalars for the 0-d results
    # of its operators, indexing and reductions; each such path here turns them into 0-d arrays, and
    # the frontend does so where a tensor's storage is shared (tensor.py: _shared_data).
    def astype(self, array, dtype):
        out = array.astype(self._native[dtype])
        return out if type(out) is np.ndarray else np.asarray(out)

    def asarray(self, obj, dtype=None):
        return np.asarray(obj, dtype=None if dtype is None else self.native_dtype(dtype))

    def to_numpy(self, array):
        return array

    def from_numpy(self, ndarray):
        return ndarray

    def copy(self, array):
        out = array.copy()
        return out if type(out) is np.ndarray else np.asarray(out)

    def getitem(self, array, key):
        out = array[key]
        if type(out) is not np.ndarray:
            # integers picked one element: numpy copies it out as a scalar; with a trailing ... it is a
            # 0-d view, as torch's x[i, j] is
            out = array[(key if type(key) is tuple else (key,)) + (...,)]
        return out

    def set_num_threads(self, n):
        """Limit NumPy's BLAS to ``n`` threads (through threadpoolctl, which finds the loaded BLAS)."""
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n, user_api="blas")

    def get_num_threads(self):
        if _blas.load() is not None:
            return _threads.num_threads()  # the configured count, also while a split has BLAS pinned
        from threadpoolctl import threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        return max(counts) if counts else 1

    # the optimizers' one-pass ``y += alpha * x`` (True when done; False declines: layout, dtype,
    # small arrays, no usable BLAS), through numpy's own OpenBLAS (_blas.py)
    axpy = staticmethod(_blas.axpy)
    # independent row blocks (the LSTM recurrences) on the backend's thread pool (_threads.py)
    parallel_for = staticmethod(_threads.split)
    # a linear layer as one GEMM that adds into the broadcast bias (_blas.py)
    fused_linear = staticmethod(_blas.linear)
    # softmax cross-entropy in about a dozen numpy calls instead of the array code's 25 (_fused.py)
    fused_cross_entropy = staticmethod(_fused.cross_entropy)
    fused_cross_entropy_backward = staticmethod(_fused.cross_entropy_backward)
    # Adam and RMSprop with one temporary and BLAS axpy passes (_fused.py)
    fused_adam = staticmethod(_fused.adam)
    fused_rmsprop = staticmethod(_fused.rmsprop)

    # sliding_windows (im2col, pooling) as read-only strided views: no copy of the windows
    as_strided = staticmethod(_conv.as_strided_readonly)
    # diagonal and unfold as views that write through to their base, as torch's
    as_strided_writeable = staticmethod(np.lib.stride_tricks.as_strided)
    # numpy has no erf: polynomials through ufuncs, within 1 ulp of math.erf in float64 (_special.py)
    erf = staticmethod(_special.erf)
    # GELU (exact and tanh) and its gradient in one blocked pass each, forward saving Phi(x) (_special.py)
    fused_gelu = staticmethod(_special.gelu)
    fused_gelu_backward = staticmethod(_special.gelu_backward)
    # LayerNorm's passes over row blocks on the thread pool, row sums as GEMVs (_norm.py)
    fused_layer_norm = staticmethod(_norm.layer_norm)
    fused_layer_norm_backward = staticmethod(_norm.layer_norm_backward)
    # only where numba is installed (compiled loops: _jit.py, _loops.py); they decline otherwise
    fused_softmax = staticmethod(_softmax.softmax)
    fused_softmax_backward = staticmethod(_softmax.softmax_backward)
    # attention a head at a time over the thread pool, its scores in cache (_attention.py)
    fused_attention = staticmethod(_attention.attention)
    fused_attention_backward = staticmethod(_attention.attention_backward)
    fused_relu_backward = staticmethod(_fused.relu_backward)
    fused_lstm_cell = staticmethod(_fused.lstm_cell)
    fused_lstm_cell_backward = staticmethod(_fused.lstm_cell_backward)

    def einsum(self, equation, *operands):
        dtype = np.result_type(*operands)
        if dtype.itemsize < 4 and dtype.kind in "fV":
            # float16 sums stall and overflow, and numpy has no bfloat16 einsum: float32, as torch accumulates
            out = np.einsum(equation, *(o.astype(np.float32) for o in operands), optimize=len(operands) > 2)
            return np.asarray(out).astype(dtype)
        return np.asarray(np.einsum(equation, *operands, optimize=len(operands) > 2))

    def pad(self, x, pad_width, value=0):
        return np.pad(x, pad_width, constant_values=value)

    def scatter_add(self, target, index, values):
        # rows at one index array (embedding backward) summed per index after a sort (_fused.py)
        if len(index) != 1 or not _fused.add_rows(target, index[0], values):
            np.add.at(target, index, values)

    def put_along_axis(self, array, index, values, axis):
        out = array.copy()
        np.put_along_axis(out, index, values, axis)
        return out
