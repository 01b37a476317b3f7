"""Every quick example runs, as a user would run it, in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _run(args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def test_seed_tutorial(tmp_path):
    pytest.importorskip("matplotlib")
    proc = _run([str(EXAMPLES / "seed_tutorial.py"), str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert "refused: " in proc.stdout and "final loss:" in proc.stdout
    assert "use tensor.item()" in proc.stderr or ".item()" in proc.stderr   # loss.data[0] warns
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["seed_data.png", "seed_fit_manual.png",
                                                              "seed_fit_sgd.png"]


def test_mlp_classifier():
    proc = _run([str(EXAMPLES / "mlp_classifier.py"), "--epochs", "15"])
    assert proc.returncode == 0, proc.stderr
    last = [line for line in proc.stdout.splitlines() if line.startswith("restored")][0]
    assert float(last.split()[-1]) >= 0.9


def test_small_cnn():
    pytest.importorskip("sklearn")
    proc = _run([str(EXAMPLES / "small_cnn.py"), "--epochs", "2"])
    assert proc.returncode == 0, proc.stderr
    accs = [float(line.split()[-1]) for line in proc.stdout.splitlines() if "test accuracy" in line]
    assert len(accs) == 2 and accs[-1] > 0.7


def test_custom_autograd_function():
    proc = _run([str(EXAMPLES / "custom_autograd_function.py")])
    assert proc.returncode == 0, proc.stderr
    assert "gradcheck: True" in proc.stdout


def test_backend_plugin_example():
    plugin = EXAMPLES / "backend_plugin"
    proc = _run([str(plugin / "try_it.py")],
                env_extra={"TENSORPLUG_PLUGINS": "tensorplug_example", "PYTHONPATH": str(plugin)})
    assert proc.returncode == 0, proc.stderr
    assert "backend counting on cpu" in proc.stdout
    assert "tensorplug_example" in proc.stdout
    counted = int(proc.stdout.split(" matmuls counted")[0].split()[-1])
    assert counted >= 200
    loss_from, loss_to = (float(v) for v in proc.stdout.split("loss ")[1].split(",")[0].split(" -> "))
    assert loss_to < loss_from
