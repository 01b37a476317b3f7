"""Filled in by the nn work (see DESIGN.md)."""
from __future__ import annotations

__all__ = []
