"""The CuPy backend: tensorplug on NVIDIA GPUs (device type ``cuda``).

A plugin like any third party's: it imports only tensorplug's public API and
is registered through the ``tensorplug`` entry-point group. Importing this
module is cheap: CuPy is imported only when the backend is first used
(``device='cuda'``, ``.cuda()``, ``TENSORPLUG_BACKEND=cupy``).

The probe tells the truth about why CUDA cannot run here, without importing
CuPy (which imports fine on machines with no GPU): it looks for the package,
then loads the CUDA driver library with ctypes and counts devices.
"""
from __future__ import annotations

import importlib.util
import sys

import tensorplug

__all__ = ["tensorplug_add_backends", "probe", "device_count"]

INSTALL_HINT = ("pip install -e '.[cuda]' (cupy-cuda12x), or the cupy-cudaXXx wheel matching "
                "your CUDA driver, e.g. pip install cupy-cuda13x")

_CUDA_ERROR_NO_DEVICE = 100
_probe_cache = None


@tensorplug.hookimpl
def tensorplug_add_backends():
    return [tensorplug.BackendSpec("cupy", "cuda", factory=_make, probe=probe, priority=10)]


def _make(index):
    reason = probe()
    if reason:  # pragma: no cover - the registry probes first
        raise tensorplug.BackendUnavailableError(f"backend 'cupy' (cuda) is unavailable: {reason}")
    try:
        from .backend import CupyBackend
    except ImportError as exc:
        raise tensorplug.BackendUnavailableError(
            f"backend 'cupy' (cuda) is unavailable: cupy is installed but cannot be imported ({exc}); "
            f"{INSTALL_HINT}. TENSORPLUG_BACKEND=numpy (the CPU) works everywhere") from exc
    return CupyBackend(index)


def _importable(name):
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def probe():
    """``None`` when CUDA can run here, else the reason it cannot and how to fix it. Never raises."""
    global _probe_cache
    if _probe_cache is None:
        try:
            _probe_cache = (_probe(),)
        except Exception as exc:  # a probe must never raise
            _probe_cache = (f"the CUDA probe failed ({type(exc).__name__}: {exc})",)
    return _probe_cache[0]


def _probe():
    if not _importable("cupy"):
        return f"cupy is not installed ({INSTALL_HINT})"
    if not _importable("array_api_compat"):
        return "array-api-compat is not installed (pip install array-api-compat); the cupy backend needs it"
    count, reason = _driver_device_count()
    if reason:
        return reason
    if count == 0:
        return "no CUDA device: the NVIDIA driver is loaded but reports 0 GPUs (check CUDA_VISIBLE_DEVICES and nvidia-smi)"
    return None


def device_count():
    """How many CUDA devices the driver sees (0 where there is no driver)."""
    try:
        count, _ = _driver_device_count()
    except Exception:
        return 0
    return count


def _driver_device_count():
    """``(count, None)`` or ``(0, reason)``, asking the CUDA driver API through ctypes."""
    import ctypes
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    lib = None
    errors = []
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as exc:
            errors.append(str(exc))
    if lib is None:
        return 0, (f"cupy is installed but no CUDA driver was found ({errors[0]}): install the NVIDIA "
                   f"driver, or run on a machine with an NVIDIA GPU")
    status = lib.cuInit(0)
    if status == _CUDA_ERROR_NO_DEVICE:
        return 0, ("no CUDA device: the NVIDIA driver is installed but finds no GPU "
                   "(check nvidia-smi and CUDA_VISIBLE_DEVICES)")
    if status != 0:
        return 0, f"cupy is installed but the CUDA driver failed to initialise ({_error_name(lib, status)})"
    count = ctypes.c_int(0)
    status = lib.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        return 0, f"the CUDA driver could not count devices ({_error_name(lib, status)})"
    return count.value, None


def _error_name(lib, status):
    import ctypes
    try:
        text = ctypes.c_char_p()
        lib.cuGetErrorName(status, ctypes.byref(text))
        return f"{text.value.decode()} ({status})"
    except Exception:
        return f"CUDA error {status}"
