"""Batch-split kernels on a small persistent pool of Python threads.

NumPy releases the GIL inside BLAS calls, copies and large ufunc loops, so
two Python threads each working on half of a batch run on two cores. BLAS's
own threads would then contend with them (two callers of a multi-threaded
OpenBLAS serialise on its server and spin: measured 8x slower), so while the
pool works, numpy's OpenBLAS is pinned to one thread through its own
``openblas_set_num_threads`` (a ctypes call of well under a microsecond;
threadpoolctl's context manager costs far more per call) and restored after.

How many threads a kernel splits over is BLAS's thread count, which
``tensorplug.set_num_threads`` sets; 1 (or no findable OpenBLAS) runs the
kernel on the calling thread as one part. One split runs at a time (a lock):
a second caller meanwhile, from another user thread, waits for it rather than
fight over the BLAS setting.

The parts never depend on load: kernels that sum partial results per part
(a convolution's weight gradient) would otherwise round differently when
another thread happens to be splitting (issue 12: results must be
bit-identical whatever runs beside them). So the count is the configured one
even while a split has BLAS pinned to one thread (``_busy_threads``).
"""
from __future__ import annotations

import os
import queue
import threading

import numpy as np

from . import _blas

_lock = threading.Lock()
_config_lock = threading.Lock()  # BLAS's count and _busy_threads change together under it
_busy_threads = 0  # while a split has BLAS pinned to 1: the count it pinned it from
_workers: list = []
_local = threading.local()
_SCRATCH_MAX = 1 << 24


def scratch(slot, shape, dtype):
    """A reusable uninitialised buffer of this thread (numbered ``slot``) viewed as ``shape``/``dtype``.

    Kernels take their temporaries (window columns, accumulators, padded chunks) from here
    instead of allocating them per call: freshly allocated large arrays come from new pages
    (mmap) whose page faults can cost more than the arithmetic. Per thread, so workers never
    share one; a kernel uses each slot once and nothing of it outlives the call.
    """
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 64), dtype=np.uint8)
        if nbytes <= _SCRATCH_MAX:  # a huge one-off (one sample of a big image) is not kept
            bufs[slot] = buf
    return buf[:nbytes].view(dtype).reshape(shape)


def _after_fork_in_child():
    # a forked child (a DataLoader worker, say) has none of the parent's threads: start afresh
    global _lock
    _workers.clear()
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Worker:
    """One daemon thread running ``fn(*args)`` jobs from its own queue (results on another)."""

    def __init__(self):
        self.jobs = queue.SimpleQueue()
        self.done = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="tensorplug-numpy", daemon=True).start()

    def _loop(self):
        np.seterr(all="ignore")  # as the backend sets for its own thread: torch computes silently
        while True:
            fn, args = self.jobs.get()
            try:
                self.done.put((True, fn(*args)))
            except BaseException as exc:  # handed to the caller, which re-raises it
                self.done.put((False, exc))


def num_threads():
    """How many threads a split uses (BLAS's configured thread count; 1 without a usable OpenBLAS)."""
    blas = _blas.load()
    if blas is None:
        return 1
    with _config_lock:
        return _busy_threads or blas.get_num_threads()


def _pin_blas(k):
    """BLAS to one thread for a split's parts (``k`` > 0), or back to ``-k`` threads after."""
    global _busy_threads
    blas = _blas.load()
    with _config_lock:
        _busy_threads = max(k, 0)
        blas.set_num_threads(1 if k > 0 else -k)


def split(fn, n, grain=1):
    """``fn(start, stop)`` over consecutive parts of ``range(n)``, one part per thread; results in order.

    ``grain``: no part smaller than this (small work is not worth a thread handoff); the name of
    ``Backend.parallel_for``'s parameter, as this is the NumPy backend's ``parallel_for``.
    The first part runs on the calling thread. Parts must write disjoint outputs. The parts depend
    only on ``n``, ``grain`` and the configured thread count, never on what other threads run.
    """
    k = num_threads()
    parts = min(k, n // max(1, grain))
    if parts <= 1:
        return [fn(0, n)]
    bounds = [n * i // parts for i in range(parts + 1)]
    # a caller from another user thread waits for the running split rather than run these parts
    # meanwhile: its BLAS calls would see the count pinned to 1 by that split, and a threaded GEMV
    # rounds differently with 1 thread than with 2
    _lock.acquire()
    try:
        while len(_workers) < parts - 1:
            _workers.append(_Worker())
        _pin_blas(k)
        try:
            for i in range(1, parts):
                _workers[i - 1].jobs.put((fn, (bounds[i], bounds[i + 1])))
            error = None
            try:
                results = [fn(bounds[0], bounds[1])]
            except BaseException as exc:
                error, results = exc, [None]
            for i in range(1, parts):  # wait for every worker, even after an error here
                ok, value = _workers[i - 1].done.get()
                if not ok and error is None:
                    error = value
                results.append(value)
        finally:
            _pin_blas(-k)
        if error is not None:
            raise error
        return results
    finally:
        _lock.release()
