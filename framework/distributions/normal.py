"""``torch.distributions.normal``: the same object as ``tensorplug.distributions.Normal``."""
from __future__ import annotations

from . import Normal

__all__ = ["Normal"]
