"""Exception classes. Each subclasses the built-in that torch raises, so
``except RuntimeError`` keeps working, and ``TensorplugError`` catches all."""
from __future__ import annotations

__all__ = ["TensorplugError", "OutOfMemoryError", "BackendUnavailableError",
           "PluginError", "CheckpointError"]


class TensorplugError(Exception):
    """Base of every error tensorplug defines."""


class OutOfMemoryError(TensorplugError, RuntimeError, MemoryError):
    """An allocation failed (``can't allocate memory``)."""


class BackendUnavailableError(TensorplugError, RuntimeError):
    """A backend was asked for that cannot run here; the message says why and how to fix it."""


class PluginError(TensorplugError, RuntimeError):
    """A plugin failed to load (raised only with ``TENSORPLUG_STRICT_PLUGINS=1``)."""


class CheckpointError(TensorplugError, ValueError):
    """A checkpoint file is truncated, corrupted, foreign or hostile."""
