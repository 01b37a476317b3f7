"""Anomaly detection: name the backward function that produced NaN."""
from __future__ import annotations

from .grad_mode import GradMode

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "set_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return GradMode.anomaly_enabled


def is_anomaly_check_nan_enabled() -> bool:
    return GradMode.anomaly


def set_anomaly_enabled(enabled, check_nan=True):
    """``torch.set_anomaly_enabled``: anomaly mode on or off for the rest of the program."""
    _set(bool(enabled), check_nan)


def _set(enabled, check_nan):
    # GradMode.anomaly is what the engine reads: check each gradient for NaN
    GradMode.anomaly_enabled = enabled
    GradMode.anomaly = enabled and check_nan


class detect_anomaly:
    """Inside the block, a backward that produces NaN raises naming its function
    (``check_nan=False``: anomaly mode is on without that check, as torch's)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (GradMode.anomaly_enabled, GradMode.anomaly)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        GradMode.anomaly_enabled, GradMode.anomaly = self._prev
        return False


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        self._prev = (GradMode.anomaly_enabled, GradMode.anomaly)
        _set(bool(mode), check_nan)
        self.check_nan = check_nan

    def __enter__(self):
        return self
