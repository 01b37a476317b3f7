"""Utilities: data loading."""
from __future__ import annotations
