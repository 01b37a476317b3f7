"""Availability answers for device types tensorplug ships no backend for (``tensorplug.xpu``,
``tensorplug.mps``): a registered backend of that device type whose probe passes makes the type
available, as ``tensorplug.cuda`` asks of the ``cuda`` backends. Programs ask these before choosing the CPU
(``if torch.xpu.is_available(): ...``)."""
from __future__ import annotations

from .registry import _probe, backend_specs


def queries(device_type):
    """``(is_available, device_count)`` for ``device_type``: the functions of its torch module."""

    def is_available() -> bool:
        return any(spec.device_type == device_type and _probe(spec) is None for spec in backend_specs().values())

    def device_count() -> int:
        return int(is_available())  # device indices are a serving backend's business

    is_available.__doc__ = f"Whether a registered backend serves device type '{device_type}' here."
    device_count.__doc__ = f"1 when a backend serves '{device_type}' here, else 0."
    return is_available, device_count
