"""glibc malloc settings that keep a training step's large temporaries out of the page-fault path.

A training step allocates and frees the same multi-megabyte arrays every
iteration (activations, im2col columns, gradients). With glibc's defaults each
free above the mmap threshold unmaps the block, and freeing the heap's top
trims it back to the OS, so the next step faults every page in again: about
3,000 minor faults per small-CNN step, a third of its time (23 ms -> 16 ms
without them). Raising the mmap threshold to 64 MiB and the trim threshold to
256 MiB keeps those blocks in the heap for reuse; the cost is up to 256 MiB of
freed memory the process keeps instead of returning to the OS.

Applied once, when the NumPy backend is first built, only on glibc, and never
where the user chose: ``TENSORPLUG_MALLOC_TUNING=0`` turns it off, and
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` in the environment
(glibc's own settings) are left to glibc.
"""
from __future__ import annotations

import ctypes
import os

__all__ = ["tune", "STATE"]

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20

#: what ``tune`` did: None (not run yet), "applied", or why not
STATE = {"malloc": None}


def tune():
    """Apply the settings once per process; returns STATE's text."""
    if STATE["malloc"] is not None:
        return STATE["malloc"]
    STATE["malloc"] = _apply()
    return STATE["malloc"]


def _apply():
    if os.environ.get("TENSORPLUG_MALLOC_TUNING", "1").strip() == "0":
        return "off (TENSORPLUG_MALLOC_TUNING=0)"
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return "left to glibc (MALLOC_*_THRESHOLD_ set in the environment)"
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "not glibc"
    version.restype = ctypes.c_char_p
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return "mallopt refused"
    return f"applied (glibc {version().decode()}: mmap threshold 64 MiB, trim threshold 256 MiB)"
