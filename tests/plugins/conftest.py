"""Fixtures for the plugin tests: ``trajectory`` runs tensorplug and torch optimizers side by side."""
from __future__ import annotations

from optim_reference import trajectory  # noqa: F401  (a fixture: pytest finds it by name here)
