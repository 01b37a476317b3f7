"""Anomaly detection: name the backward function that produced NaN."""
from __future__ import annotations

from .grad_mode import GradMode

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return GradMode.anomaly


class detect_anomaly:
    """Inside the block, a backward that produces NaN raises naming its function."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = GradMode.anomaly
        GradMode.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        GradMode.anomaly = self._prev
        return False


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        self._prev = GradMode.anomaly
        GradMode.anomaly = bool(mode) and check_nan
        self.check_nan = bool(mode) and check_nan

    def __enter__(self):
        return self
