from __future__ import annotations

import subprocess
import sys

import pytest

import tensorplug


def test_set_num_threads_limits_the_blas_and_get_reports_it():
    # in a subprocess: the limit is process-wide and would slow the rest of the suite
    code = ("import tensorplug, threadpoolctl\n"
            "tensorplug.set_num_threads(1)\n"
            "x = tensorplug.ones(2, 2) @ tensorplug.ones(2, 2)\n"
            "blas = [p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas']\n"
            "print(tensorplug.get_num_threads(), blas)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1 [1]"


def test_get_num_threads_is_a_positive_int():
    n = tensorplug.get_num_threads()
    assert isinstance(n, int) and n >= 1


@pytest.mark.parametrize("value, phrase", [(0, "positive integer"), (-2, "positive integer"), (1.5, "expects an int")])
def test_set_num_threads_refuses_what_torch_refuses(value, phrase):
    with pytest.raises(RuntimeError, match=phrase):
        tensorplug.set_num_threads(value)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match=phrase):
        torch.set_num_threads(value)
