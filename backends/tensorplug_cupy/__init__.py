"""The CuPy backend (filled in by the CUDA work)."""
from __future__ import annotations
