"""``torch.utils.data._utils.collate``: the same ``default_collate`` / ``default_convert`` as
``tensorplug.utils.data``."""
from __future__ import annotations

from ..dataloader import default_collate, default_convert

__all__ = ["default_collate", "default_convert"]
