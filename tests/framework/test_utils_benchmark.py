"""tensorplug.utils.benchmark (torch.utils.benchmark's Timer, used by the vmap and jacobian tutorials): the
measurements a script reads (times, mean, median, iqr, number_per_run) and torch's printed layout."""
from __future__ import annotations

import pytest

import tensorplug as tp
from tensorplug.utils.benchmark import Timer

torch = pytest.importorskip("torch")
pytest.importorskip("torch.utils.benchmark")


def _layout(text):
    """The printed lines with the object address and the times taken out."""
    import re
    lines = text.splitlines()[1:]
    return [re.sub(r"\(\d+\.\d+ to \d+\.\d+\)", "(A to B)",
                   re.sub(r"\d+\.\d+ (ns|us|ms|s)", "T", re.sub(r"\d+ (runs|measurements)", r"N \1", line)))
            for line in lines]


@pytest.mark.parametrize("kwargs", [{}, {"label": "sum", "description": "d"}, {"setup": "y = 1"}])
def test_timeit_prints_as_torchs(kwargs):
    ours = Timer("x.sum()", globals={"x": tp.ones(10)}, **kwargs).timeit(20)
    theirs = torch.utils.benchmark.Timer("x.sum()", globals={"x": torch.ones(10)}, **kwargs).timeit(20)
    assert _layout(repr(ours)) == _layout(repr(theirs))
    assert ours.number_per_run == 20 and len(ours.times) == 1 and ours.times[0] > 0 and ours.iqr == 0.0


def test_blocked_autorange_measures_blocks():
    m = Timer("x.sum()", globals={"x": tp.ones(10)}, label="sum").blocked_autorange(min_run_time=0.05)
    theirs = torch.utils.benchmark.Timer("x.sum()", globals={"x": torch.ones(10)}, label="sum").blocked_autorange(
        min_run_time=0.05)
    assert len(m.times) >= 2 and m.number_per_run > 1 and sum(m.raw_times) >= 0.05
    assert min(m.times) <= m.median <= max(m.times) and m.iqr >= 0
    assert _layout(repr(m)) == _layout(repr(theirs))


def test_the_thread_count_is_restored():
    before = tp.get_num_threads()
    Timer("pass", num_threads=1).timeit(3)
    assert tp.get_num_threads() == before
