"""``torch.distributions.distribution``: the same object as ``tensorplug.distributions.Distribution``."""
from __future__ import annotations

from . import Distribution

__all__ = ["Distribution"]
