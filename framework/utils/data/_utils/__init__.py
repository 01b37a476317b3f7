"""``torch.utils.data._utils``: the collate helpers under the path some scripts import them from."""
from __future__ import annotations

from . import collate

__all__ = ["collate"]
