"""``python -m tensorplug demo``: end to end in a subprocess, and the full run's accuracy."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]


def _demo(*args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "tensorplug", "demo", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_short_run_end_to_end(tmp_path):
    out = tmp_path / "plots" / "demo.png"
    proc = _demo("--epochs", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    # the summary
    assert "backend: numpy on cpu" in proc.stdout
    assert "epochs: 2" in proc.stdout
    acc = float(re.search(r"final test accuracy: ([0-9.]+)", proc.stdout).group(1))
    assert 0.5 < acc <= 1.0
    assert re.search(r"time: [0-9.]+ s", proc.stdout)
    assert f"plot: {out}" in proc.stdout
    # the progress bar (tqdm writes to stderr) shows loss and accuracy
    assert "loss=" in proc.stderr and "test_acc=" in proc.stderr and "46/46" in proc.stderr
    # a real PNG
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000


def test_env_backend_is_respected_and_named(tmp_path):
    proc = _demo("--epochs", "1", "--no-progress", "--out", str(tmp_path / "a.png"),
                 env_extra={"TENSORPLUG_BACKEND": "numpy"})
    assert proc.returncode == 0, proc.stderr
    assert "TENSORPLUG_BACKEND=numpy" in proc.stdout
    assert proc.stderr == ""


def test_unknown_backend_is_a_clear_error(tmp_path):
    proc = _demo("--backend", "nosuch", "--out", str(tmp_path / "a.png"))
    assert proc.returncode == 2
    assert "unknown backend 'nosuch'" in proc.stderr and "numpy" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_sklearn_names_the_install_command(tmp_path):
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "from tensorplug.demo import main\n"
            f"sys.exit(main(['--epochs', '1', '--out', {str(tmp_path / 'x.png')!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install scikit-learn" in proc.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_default_run_reaches_095_test_accuracy():
    import tensorplug
    from tensorplug.demo import train
    with tensorplug.use_backend("numpy"):
        result = train(progress=False)
    assert result["epochs"] == 20
    assert result["test_accuracy"] >= 0.95
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]


def test_out_may_be_an_existing_directory(tmp_path):
    proc = _demo("--epochs", "1", "--no-progress", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    plot = tmp_path / "tensorplug-demo.png"
    assert f"plot: {plot}" in proc.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_plot_extension_is_refused_before_training(tmp_path):
    for name in ("plot.xyz123", "plot"):
        proc = _demo("--epochs", "1", "--out", str(tmp_path / name))
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr and "training" not in proc.stderr  # no progress bar: no run
        assert f"--out {tmp_path / name}" in proc.stderr and ".png" in proc.stderr
        assert "existing directory" in proc.stderr
    assert list(tmp_path.iterdir()) == []
    svg = _demo("--epochs", "1", "--no-progress", "--out", str(tmp_path / "plot.svg"))
    assert svg.returncode == 0 and (tmp_path / "plot.svg").read_bytes().lstrip().startswith(b"<?xml")
