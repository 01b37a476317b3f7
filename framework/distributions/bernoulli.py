"""``torch.distributions.bernoulli``: the same object as ``tensorplug.distributions.Bernoulli``."""
from __future__ import annotations

from . import Bernoulli

__all__ = ["Bernoulli"]
