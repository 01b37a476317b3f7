"""``tensorplug.mps``: torch.mps's availability questions. No shipped backend serves Apple GPUs, so
``is_available()`` is False unless a plugin registers a backend of device type ``mps``."""
from ._other_devices import queries

__all__ = ["is_available", "device_count"]
is_available, device_count = queries("mps")
