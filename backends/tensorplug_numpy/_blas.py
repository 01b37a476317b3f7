"""NumPy's own bundled OpenBLAS through ctypes: one-pass axpy, a linear layer's GEMM with its bias
added as the product is written (and the layout its small batches need), and a cheap thread-count switch.

NumPy wheels ship OpenBLAS (``numpy.libs/libscipy_openblas64_*.so``) with
64-bit-integer symbols (``scipy_cblas_saxpy64_``...). The library is found
through threadpoolctl's record of the loaded BLAS (never a hard-coded path) and
opened by that same file path, which returns the already-loaded library: no
second OpenBLAS with its own thread pool (SciPy's BLAS would load one and
make every BLAS call contend). Where anything is missing (numpy built on MKL
or Accelerate, no threadpoolctl), ``lib()`` is None and callers fall back to
plain NumPy.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

_UNSET = object()
_state = _UNSET

# (symbol prefix, suffix) of the integer-64 interfaces we know, most likely first
_MANGLES = (("scipy_", "64_"), ("", "64_"))


class Blas:
    """The resolved functions of one loaded OpenBLAS (all 64-bit-integer interfaces)."""

    def __init__(self, cdll, prefix, suffix, filepath):
        self.filepath = filepath
        i64, f32, f64, vp = ctypes.c_int64, ctypes.c_float, ctypes.c_double, ctypes.c_void_p
        self.saxpy = getattr(cdll, f"{prefix}cblas_saxpy{suffix}")
        self.saxpy.argtypes = (i64, f32, vp, i64, vp, i64)
        self.saxpy.restype = None
        self.daxpy = getattr(cdll, f"{prefix}cblas_daxpy{suffix}")
        self.daxpy.argtypes = (i64, f64, vp, i64, vp, i64)
        self.daxpy.restype = None
        gemm_args = (ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64)
        self.sgemm = getattr(cdll, f"{prefix}cblas_sgemm{suffix}")
        self.sgemm.argtypes = gemm_args + (f32, vp, i64, vp, i64, f32, vp, i64)
        self.sgemm.restype = None
        self.dgemm = getattr(cdll, f"{prefix}cblas_dgemm{suffix}")
        self.dgemm.argtypes = gemm_args + (f64, vp, i64, vp, i64, f64, vp, i64)
        self.dgemm.restype = None
        self.get_num_threads = getattr(cdll, f"{prefix}openblas_get_num_threads{suffix}")
        self.get_num_threads.argtypes = ()
        self.get_num_threads.restype = ctypes.c_int
        self.set_num_threads = getattr(cdll, f"{prefix}openblas_set_num_threads{suffix}")
        self.set_num_threads.argtypes = (ctypes.c_int,)
        self.set_num_threads.restype = None


def _numpy_blas_path():
    """The file of the OpenBLAS numpy itself loaded, from threadpoolctl's list of loaded libraries."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    libs = [p for p in threadpool_info() if p.get("internal_api") == "openblas" and p.get("filepath")]
    if not libs:
        return None
    # numpy's wheel keeps its libraries in site-packages/numpy.libs; prefer that one if another
    # package loaded a second OpenBLAS
    numpy_libs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))), "numpy.libs")
    for p in libs:
        if os.path.dirname(os.path.abspath(p["filepath"])) == numpy_libs:
            return p["filepath"]
    return libs[0]["filepath"] if len(libs) == 1 else None


def load():
    """The ``Blas`` of numpy's OpenBLAS, or None (looked up once per process)."""
    global _state
    if _state is not _UNSET:
        return _state
    _state = None
    path = _numpy_blas_path()
    if path is None:
        return None
    try:
        cdll = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix, suffix in _MANGLES:
        try:
            _state = Blas(cdll, prefix, suffix, path)
            break
        except AttributeError:
            continue
    return _state


_char = ctypes.c_char.from_buffer
_byref = ctypes.byref

# Below this many elements the ctypes call (argument conversion, pointer lookups: about 3 us; measured break-even 20k-30k float32 values)
# costs more than the multiply pass it saves; numpy's two passes run instead.
AXPY_MIN = 1 << 15


def axpy(y, alpha, x):
    """``y += alpha * x`` in one pass through BLAS; False (nothing done) where it does not apply."""
    if (type(y) is not np.ndarray or type(x) is not np.ndarray or y.size < AXPY_MIN
            or y.dtype != x.dtype or y.shape != x.shape):
        return False
    fy, fx = y.flags, x.flags
    if not (fy.c_contiguous and fx.c_contiguous and fy.writeable):
        return False
    blas = _state if _state is not _UNSET else load()
    if blas is None:
        return False
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        return False
    if alpha == 0.0:
        return False  # BLAS returns early on 0: numpy's 0 * inf = nan must still reach y
    kind = y.dtype.char
    if kind == "f":
        fn = blas.saxpy
    elif kind == "d":
        fn = blas.daxpy
    else:
        return False
    if x is not y and np.may_share_memory(x, y) and x.ctypes.data != y.ctypes.data:
        return False  # partial overlap: BLAS would read values it already wrote
    fn(y.size, alpha, _address(x), 1, _byref(_char(y)), 1)
    return True


# Below this many output elements the ctypes call (about 4 us more than numpy's matmul and add, measured
# at 64x64 @ 64x64 and 128x64 @ 64x64) costs more than the pass over the output it saves.
LINEAR_MIN = 1 << 15
# float32 batches of this many rows fall off OpenBLAS's small-matrix path in ``x @ w.T`` (the transposed
# operand): 4x128 @ 128x384 takes 30-38 us where ``(w @ x.T).T`` takes 15-17 (1.3-2.8x over 2-16 rows
# and layers of 64-1024 inputs and 128-4096 outputs; at 1 row, and in float64, no gap)
FEW_ROWS = (2, 16)
FEW_ROWS_WEIGHT_MIN = 1 << 14  # smaller weights: both ways take a few us, the swap ~0.7 more
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def linear(x, w, b):
    """``x @ w.T + b`` (``b`` may be None) for a linear layer (``Backend.fused_linear``), or NotImplemented:
    ``_few_rows`` for ``FEW_ROWS`` float32 rows, ``_addmm`` from ``LINEAR_MIN`` output elements with a
    bias; numpy's matmul and add elsewhere."""
    xs, ws = x.shape, w.shape
    if len(xs) != 2 or len(ws) != 2:
        return NotImplemented
    (m, k), n = xs, ws[0]
    if FEW_ROWS[0] <= m <= FEW_ROWS[1] and n * k >= FEW_ROWS_WEIGHT_MIN and x.dtype == np.float32:
        path = _few_rows
    elif b is not None and m * n >= LINEAR_MIN:
        path = _addmm
    else:  # small layers decline first: ~0.3 us
        return NotImplemented
    if type(x) is not np.ndarray or type(w) is not np.ndarray or not (b is None or type(b) is np.ndarray):
        return NotImplemented
    if ws[1] != k or not k or x.dtype != w.dtype or not (b is None or (b.shape == (n,) and b.dtype == x.dtype)):
        return NotImplemented
    if x.dtype.char not in "fd" or not w.flags.c_contiguous:
        return NotImplemented
    blas = _state if _state is not _UNSET else load()
    if blas is None:  # (numpy on another BLAS: neither workaround is measured there)
        return NotImplemented
    return path(blas, x, w, b)


def _few_rows(blas, x, w, b):
    """``(w @ x.T).T`` copied to row-major, plus ``b``: OpenBLAS's fast form for a few rows (``FEW_ROWS``)."""
    out = np.ascontiguousarray(np.matmul(w, x.T).T)
    if b is not None:
        out += b
    return out


def _addmm(blas, x, w, b):
    """One GEMM adding into the broadcast bias, or NotImplemented (``x`` not row-major).

    numpy's matmul has no ``beta``: OpenBLAS zeroes the output, accumulates the product into it, and the
    bias add is one more read and write of it. Here the output starts as the broadcast bias and the GEMM
    adds into it (beta 1), as torch's addmm does: 4-6% of a layer's time at a transformer's 512 rows of
    128 (an in-process A/B). The product is the GEMM numpy calls; where OpenBLAS splits a long inner
    dimension into blocks (past a few hundred), the bias joins the sum before the later blocks' products
    rather than after them, so the last bits can differ from ``x @ w.T + b``.
    """
    if not x.flags.c_contiguous:
        return NotImplemented
    (m, k), n = x.shape, w.shape[0]
    out = np.empty((m, n), x.dtype)
    np.copyto(out, b)
    fn = blas.sgemm if x.dtype.char == "f" else blas.dgemm
    fn(_ROW_MAJOR, _NO_TRANS, _TRANS, m, n, k, 1.0, _address(x), k, _address(w), k, 1.0,
       _byref(_char(out)), n)
    return out


def _address(a):
    # the buffer protocol gives the address far cheaper than ``.ctypes.data`` (0.2 vs 1 us); it needs a
    # writeable array
    return _byref(_char(a)) if a.flags.writeable else a.ctypes.data
