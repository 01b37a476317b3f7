"""Compiled loops through numba, where it is installed (``pip install "tensorplug[jit]"``).

A NumPy ufunc makes one pass over memory per operation: exact GELU's float32
polynomial is about 20 passes where torch runs one fused loop (16384x384
forward: 12.9 ms against torch's 1.5 ms). numba compiles a loop written in
Python with LLVM, vectorised for the machine's SIMD width, into one pass.

This module is the switch and the registry: ``kernels(names)`` compiles the
loops of ``_loops`` (which imports numba, so only once kernels are on) for
their declared signatures and hands them out. ``_loops`` says how close each
loop's values are to the NumPy code's (most are bit-identical);
``tests/backends/test_numpy_jit.py`` checks all of them. Kernels release the GIL and
run on the backend's own thread pool (``_threads.split``); numba's threading
layer is not used, so there is no second pool beside OpenBLAS's and ours.

Compiled on first use: a few seconds the first time on a machine, then about
0.5 s once per process (numba's import and its disk cache). GELU takes this
path only from ``_special.JIT_MIN`` elements, ReLU's gradient too (their
values are the same either way); the row kernels at every size, so that a row
never changes with the batch.
``TENSORPLUG_JIT=0`` turns the kernels off; without numba the NumPy code runs.
"""
from __future__ import annotations

import os
import threading

_enabled = None
_compiled: dict = {}
_compile_lock = threading.Lock()


def enabled():
    """Whether compiled kernels are used: numba importable and ``TENSORPLUG_JIT`` not ``0``."""
    global _enabled
    if _enabled is None:
        on = os.environ.get("TENSORPLUG_JIT", "1") != "0"
        if on:
            try:
                import numba  # noqa: F401
            except Exception:  # absent, or built for another NumPy (ImportError, or worse)
                on = False
        _enabled = on
    return _enabled


def kernels(*names):
    """The compiled kernels ``names`` (functions of ``_loops`` without their leading underscore), or
    None when compiled kernels are off. Call it before splitting work over threads: it compiles."""
    if not enabled():
        return None
    found = _compiled.get(names)  # every op's call once compiled: one lookup, no lock
    if found is not None:
        return found
    with _compile_lock:
        import numba

        from . import _loops
        for name in names:
            if name not in _compiled:
                sigs = _loops.SIGNATURES[name]
                sigs = [_inputs_read_only(numba, sig, _loops.INPUTS[name])
                        for sig in ([sigs] if isinstance(sigs, str) else sigs)]
                # error_model "numpy": x / 0 is inf or nan as in NumPy, not a raised ZeroDivisionError
                # (whose check per division keeps a loop from vectorising)
                _compiled[name] = numba.njit(sigs, nogil=True, cache=True, error_model="numpy",
                                             fastmath=_loops.REASSOCIATE.get(name, False))(
                                                 getattr(_loops, "_" + name))
        _compiled[names] = tuple(_compiled[name] for name in names)
    return _compiled[names]


def _inputs_read_only(numba, signature, inputs):
    """``signature`` with the arrays at positions ``inputs`` typed read-only, so that a read-only array
    (a tensor made from one) is accepted there; a writable one converts to that type."""
    args, result = numba.core.sigutils.normalize_signature(signature)
    args = [a.copy(readonly=True) if i in inputs else a for i, a in enumerate(args)]
    return result(*args)
