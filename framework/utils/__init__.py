"""Utilities: data loading (``tensorplug.utils.data``)."""
from __future__ import annotations

from . import data

__all__ = ["data"]
