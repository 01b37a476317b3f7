"""Optimizers and learning-rate schedulers."""
from __future__ import annotations
