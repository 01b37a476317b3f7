"""Extra losses and optimizers, as a plugin."""
from __future__ import annotations
