"""``torch.distributions.categorical``: the same object as ``tensorplug.distributions.Categorical``."""
from __future__ import annotations

from . import Categorical

__all__ = ["Categorical"]
