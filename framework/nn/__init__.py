"""Neural-network layers, losses and functional API."""
from __future__ import annotations
