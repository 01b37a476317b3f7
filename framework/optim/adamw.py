"""``torch.optim.adamw``'s path: AdamW lives beside Adam (``adam.py``), whose update it runs."""
from __future__ import annotations

from .adam import AdamW

__all__ = ["AdamW"]
