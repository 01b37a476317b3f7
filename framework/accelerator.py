"""``tensorplug.accelerator``: torch's device-agnostic accelerator API.

The accelerator is CUDA when a CUDA backend can run here (``tensorplug.cuda``),
else there is none, as on a CPU-only torch build: ``is_available()`` is False
and ``current_accelerator()`` is None, so the tutorial idiom
``device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``
picks the CPU.
"""
from __future__ import annotations

import contextlib

from . import cuda
from .device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize", "device_index", "empty_cache", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats"]


def _require(what):
    # torch's phrase; the reason and the way out added
    if not cuda.is_available():
        raise RuntimeError(f"Cannot access accelerator device when none is available. ({what}: "
                           f"{cuda.unavailable_reason()}; check torch.accelerator.is_available() first)")


def is_available() -> bool:
    """Whether an accelerator (a usable CUDA backend) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``device('cuda')`` when there is an accelerator, else None (torch's answer on a CPU-only build)."""
    if not cuda.is_available():
        return None
    return _device("cuda")


def device_count() -> int:
    """How many accelerator devices there are (0 without one)."""
    return cuda.device_count()


def current_device_index() -> int:
    _require("current_device_index()")
    return cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    _require("set_device_index()")
    cuda.set_device(device)


set_device_idx = set_device_index


@contextlib.contextmanager
def device_index(device):
    """Make ``device`` current inside the block (None: leave it as it is)."""
    if device is None:
        yield
        return
    previous = current_device_index()
    set_device_index(device)
    try:
        yield
    finally:
        set_device_index(previous)


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work."""
    _require("synchronize()")
    cuda.synchronize(device)


def empty_cache() -> None:
    _require("empty_cache()")
    cuda.empty_cache()


def memory_allocated(device_index=None) -> int:
    _require("memory_allocated()")
    return cuda.memory_allocated(device_index)


def max_memory_allocated(device_index=None) -> int:
    _require("max_memory_allocated()")
    return cuda.max_memory_allocated(device_index)


def memory_reserved(device_index=None) -> int:
    _require("memory_reserved()")
    return cuda.memory_reserved(device_index)


def reset_peak_memory_stats(device_index=None) -> None:
    _require("reset_peak_memory_stats()")
    cuda.reset_peak_memory_stats(device_index)
