"""``tensorplug.nn.attention``: torch's attention-kernel switches, accepted so scripts run.

tensorplug has one scaled-dot-product attention (the math formulation), so
``sdpa_kernel`` checks its argument and changes nothing.
"""
from __future__ import annotations

import contextlib
import enum

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The attention kernels torch can pick between (the same members and values)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Accepts one ``SDPBackend`` or a list of them; attention inside the block runs as always."""
    listed = backends if isinstance(backends, (list, tuple, set)) else [backends]
    for backend in listed:
        if not isinstance(backend, SDPBackend):
            raise AssertionError(f"Backend must be an instance of SDPBackend, got {type(backend).__name__}; "
                                 f"use tensorplug.nn.attention.SDPBackend.MATH (or another member)")
    yield
