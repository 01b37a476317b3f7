"""The NumPy backend's glibc malloc settings (backends/tensorplug_numpy/_malloc.py), each in a fresh process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SCRIPT = r"""
import resource, sys
import numpy as np
import tensorplug
tensorplug.zeros(1)  # builds the NumPy backend
from tensorplug_numpy import _malloc
faults = []
for _ in range(30):  # what a training step does: big temporaries allocated, written and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(2_000_000, dtype=np.float32)  # 8 MB
    b = a * 2
    del a, b
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(_malloc.STATE["malloc"])
print(sorted(faults[5:])[12])
"""


def _run(**env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TENSORPLUG_MALLOC_TUNING"}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=full, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    state, faults = out.stdout.strip().splitlines()
    return state, int(faults)


glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION"),
                           reason="glibc only")


@glibc
def test_freed_temporaries_are_reused_without_page_faults():
    state, faults = _run()
    assert state.startswith("applied (glibc")
    assert faults < 50  # a reused heap block: no new pages
    off_state, off_faults = _run(TENSORPLUG_MALLOC_TUNING="0")
    assert off_state == "off (TENSORPLUG_MALLOC_TUNING=0)"
    assert off_faults > 200  # glibc's defaults: the 8 MB blocks are mapped and faulted in again each time


@glibc
def test_glibcs_own_environment_settings_are_left_alone():
    state, _ = _run(MALLOC_TRIM_THRESHOLD_="1000000")
    assert state == "left to glibc (MALLOC_*_THRESHOLD_ set in the environment)"
