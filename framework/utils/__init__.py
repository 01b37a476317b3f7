"""Utilities: data loading (``tensorplug.utils.data``) and activation checkpointing (``.checkpoint``)."""
from __future__ import annotations

from . import checkpoint, data

__all__ = ["data", "checkpoint"]
