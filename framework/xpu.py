"""``tensorplug.xpu``: torch.xpu's availability questions. No shipped backend serves Intel GPUs, so
``is_available()`` is False unless a plugin registers a backend of device type ``xpu``."""
from ._other_devices import queries

__all__ = ["is_available", "device_count"]
is_available, device_count = queries("xpu")
