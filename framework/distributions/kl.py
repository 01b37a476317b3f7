"""``torch.distributions.kl``: the same object as ``tensorplug.distributions.kl_divergence``."""
from __future__ import annotations

from . import kl_divergence

__all__ = ["kl_divergence"]
