"""``torch.distributions.uniform``: the same object as ``tensorplug.distributions.Uniform``."""
from __future__ import annotations

from . import Uniform

__all__ = ["Uniform"]
