"""``tensorplug.utils.benchmark``: torch's ``Timer`` and ``Measurement`` for timing a statement.

``Timer(stmt, setup, globals=...).timeit(n)`` runs the statement ``n`` times as one measurement;
``blocked_autorange(min_run_time)`` picks a block size and measures blocks until ``min_run_time`` seconds
have passed. A ``Measurement`` prints as torch's does (its title, the median, the IQR of several
blocks) and holds ``times`` (seconds per run, one entry per block), ``mean``, ``median`` and ``iqr``.
``num_threads`` sets tensorplug's thread count while timing. torch's ``Compare``, ``Fuzzer`` and Callgrind
helpers are not provided.
"""
from __future__ import annotations

import statistics
import timeit as _timeit

__all__ = ["Timer", "Measurement", "select_unit"]


def select_unit(t):
    """``(unit, scale)`` for a time of ``t`` seconds: ns, us, ms or s, as torch's."""
    for unit, scale in (("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3)):
        if t < scale * 1e3:
            return unit, scale
    return "s", 1.0


class Measurement:
    """The times of one statement: ``times`` holds seconds per run, one entry per measured block of
    ``number_per_run`` runs."""

    def __init__(self, number_per_run, raw_times, task_spec):
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        for name in ("stmt", "setup", "label", "sub_label", "description", "env", "num_threads"):
            setattr(self, name, task_spec[name])

    @property
    def times(self):
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def mean(self):
        return statistics.fmean(self.times)

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def iqr(self):
        if len(self.times) < 2:
            return 0.0
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[2] - q[0]

    @property
    def title(self):
        return self.label if self.label is not None else self.stmt

    def __repr__(self):
        lines = [f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}>", self.title]
        lines += [text for text in (self.sub_label, self.description) if text]
        if self.label is None and self.setup.strip() not in ("", "pass"):
            lines.append(f"setup: {self.setup}")
        unit, scale = select_unit(self.median)
        threads = f"{self.num_threads} thread{'s' if self.num_threads != 1 else ''}"
        if len(self.times) == 1:
            lines += [f"  {self.median / scale:.2f} {unit}", f"  1 measurement, {self.number_per_run} runs , {threads}"]
        else:
            q = statistics.quantiles(self.times, n=4, method="inclusive")
            lines += [f"  Median: {self.median / scale:.2f} {unit}",
                      f"  IQR:    {self.iqr / scale:.2f} {unit} ({q[0] / scale:.2f} to {q[2] / scale:.2f})",
                      f"  {len(self.times)} measurements, {self.number_per_run} runs per measurement, {threads}"]
        return "\n".join(lines)


class Timer:
    """Times ``stmt`` after ``setup`` in a namespace of ``globals``.

    Example:
        >>> Timer("x.sum()", globals={"x": tensorplug.ones(100)}).timeit(100).median < 1
        True
    """

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=_timeit.default_timer, globals=None,
                 label=None, sub_label=None, description=None, env=None, num_threads=1, language="python"):
        if language not in ("python", "py"):
            raise ValueError(f"tensorplug's Timer times Python statements; got language={language!r}")
        namespace = dict(globals or {})
        if global_setup:
            exec(global_setup, namespace)
        self._timer = _timeit.Timer(stmt, setup, timer, namespace)
        self._task_spec = {"stmt": stmt, "setup": setup, "label": label, "sub_label": sub_label,
                           "description": description, "env": env, "num_threads": num_threads}

    def _run(self, number):
        from .. import get_num_threads, set_num_threads
        before = get_num_threads()
        set_num_threads(self._task_spec["num_threads"])
        try:
            return self._timer.timeit(number)
        finally:
            set_num_threads(before)

    def timeit(self, number=1000000):
        """One measurement of ``number`` runs (a warm-up run first, as torch's)."""
        self._run(1)
        return Measurement(number, [self._run(number)], self._task_spec)

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of runs, each long enough to time well, until ``min_run_time`` seconds are measured."""
        number = 1
        while True:  # a block of at least a tenth of the run, or of 1 ms
            spent = self._run(number)
            if spent >= max(min_run_time / 10, 1e-3) or number >= 1 << 30:
                break
            number *= 10 if spent < min_run_time / 1000 else 2
        times, total = [], 0.0
        while total < min_run_time or len(times) < 2:
            spent = self._run(number)
            if callback is not None:
                callback(number, spent)
            times.append(spent)
            total += spent
        return Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0, callback=None):
        """Blocks until the IQR is within ``threshold`` of the median (or ``max_run_time`` passes)."""
        measurement = self.blocked_autorange(callback, min_run_time)
        spent = sum(measurement.raw_times)
        while measurement.iqr / measurement.median > threshold and spent < max_run_time:
            more = self.blocked_autorange(callback, min_run_time)
            measurement = Measurement(measurement.number_per_run, measurement.raw_times + [
                t * measurement.number_per_run / more.number_per_run for t in more.raw_times], self._task_spec)
            spent += sum(more.raw_times)
        return measurement
