"""Conformance kit for backends."""
from __future__ import annotations
