"""The third-party plugin template: a real pip install into a fresh venv, found through its entry point."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import tensorplug

TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "plugin-template"

TRAIN = textwrap.dedent("""
    import tensorplug as torch
    from tensorplug import nn

    plugins = torch.registry.plugins()
    assert plugins["signum"].distribution == "tensorplug-signum", plugins
    Signum, LogCosh = torch.optim.Signum, nn.LogCoshLoss
    assert Signum.__module__ == "tensorplug_signum.impl"
    torch.manual_seed(0)
    x = torch.randn(128, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) - 1.0
    model = nn.Linear(4, 1)
    opt = Signum(model.parameters(), lr=0.1)
    loss_fn = LogCosh()
    losses = []
    for _ in range(80):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    state = opt.state_dict()
    assert sorted(state["state"]) == [0, 1] and "momentum_buffer" in state["state"][0]
    print(losses[0], losses[-1])
""")


def test_template_is_small_and_complete():
    code = list((TEMPLATE / "tensorplug_signum").glob("*.py"))
    assert sum(len(p.read_text().splitlines()) for p in code) < 60
    pyproject = (TEMPLATE / "pyproject.toml").read_text()
    assert "[project.entry-points.tensorplug]" in pyproject and 'signum = "tensorplug_signum"' in pyproject


def test_not_installed_here():
    assert "Signum" not in tensorplug.registry.optimizers()


def test_pip_install_into_a_venv_and_train(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    # the venv sees this interpreter's packages (tensorplug, pip, setuptools): no network needed
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                              "-q", str(source)], capture_output=True, text=True, env=env, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    run = subprocess.run([str(python), "-c", TRAIN], capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    first, last = map(float, run.stdout.split())
    assert last < 0.2 * first
    info = subprocess.run([str(python), "-m", "tensorplug", "info"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert "tensorplug-signum" in info.stdout and "Signum" in info.stdout
