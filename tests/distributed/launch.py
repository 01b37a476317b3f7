"""Multi-rank tests start real ranks with the launcher (mpiexec underneath) in a subprocess.

pytest itself never runs under mpiexec. Each job gets a hard timeout; its whole
process group is killed if it overruns, so a hang fails the test instead of CI.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

needs_mpi = pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py and an MPI (pip install -e '.[distributed]')")


class Job:
    def __init__(self, returncode, stdout, stderr, folder):
        self.returncode, self.stdout, self.stderr, self.folder = returncode, stdout, stderr, folder

    def results(self):
        """What each rank wrote with ``RESULT(obj)`` (a file per rank: ranks' stdout lines interleave), by rank."""
        return {int(f.stem.split("-")[1]): json.loads(f.read_text()) for f in self.folder.glob("result-*.json")}


def launch(tmp_path, code, nproc=2, timeout=60, env=None, args=(), launcher_args=()):
    """Run ``code`` as a script on ``nproc`` ranks; returns the finished Job."""
    script = tmp_path / "job.py"
    for old in tmp_path.glob("result-*.json"):
        old.unlink()
    script.write_text(_PRELUDE + textwrap.dedent(code))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TENSORPLUG_", "OMPI_", "PMI_"))}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "tensorplug.distributed.run", "--nproc-per-node", str(nproc),
           *launcher_args, str(script), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
                            cwd=str(tmp_path), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the job did not end within {timeout} s (killed)\nstdout:\n{stdout}\nstderr:\n{stderr}")
    return Job(proc.returncode, stdout, stderr, tmp_path)


_PRELUDE = """\
def RESULT(obj):
    import json, os
    with open(f"result-{obj['rank']}.json", "w") as f:
        json.dump(obj, f)
"""
