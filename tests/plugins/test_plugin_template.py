"""The third-party plugin template: a real pip install into a fresh venv, found through its entry point."""
from __future__ import annotations

import os
import pathlib
import shutil
import site
import subprocess
import sys
import textwrap

import tensorplug

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
TEMPLATE = EXAMPLES / "plugin-template"

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


def venv_seeing_this_python(venv):
    """A new venv whose own packages come first, then this interpreter's (tensorplug, pip, setuptools).

    ``--system-site-packages`` would show the base interpreter's packages, not those of
    the venv running the tests; a .pth adding this interpreter's site dirs needs no network.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    lines = [f"import site; site.addsitedir({folder!r})" for folder in site.getsitepackages()]
    pathlib.Path(purelib, "_tensorplug_tests_parent.pth").write_text("\n".join(lines) + "\n")
    return python


def pip_install(tmp_path, *folders):
    """A fresh venv with the example plugin ``folders`` pip-installed (copied first: builds write build/)."""
    sources = []
    for folder in folders:
        source = tmp_path / "src" / folder.name
        shutil.copytree(folder, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        sources.append(str(source))
    python = venv_seeing_this_python(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                              "-q", *sources], capture_output=True, text=True, env=env, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return python, env


def test_pip_install_into_a_venv_and_train(tmp_path):
    python, env = pip_install(tmp_path, TEMPLATE)
    run = subprocess.run([str(python), "-c", TRAIN], capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    first, last = map(float, run.stdout.split())
    assert last < 0.2 * first
    info = subprocess.run([str(python), "-m", "tensorplug", "info"], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert "tensorplug-signum" in info.stdout and "Signum" in info.stdout


def test_both_example_plugins_install_side_by_side(tmp_path):
    """The template and examples/backend_plugin give different names: installed together, nothing clashes."""
    python, env = pip_install(tmp_path, TEMPLATE, EXAMPLES / "backend_plugin")
    code = textwrap.dedent("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import tensorplug
            from tensorplug import registry
            losses, optimizers = registry.losses(), registry.optimizers()
        assert not [w for w in caught if "tensorplug" in str(w.message)], [str(w.message) for w in caught]
        assert {"LogCoshLoss", "PseudoHuberLoss"} <= set(losses) and {"Signum", "SignSGD"} <= set(optimizers)
        assert issubclass(tensorplug.nn.PseudoHuberLoss, tensorplug.nn.Loss)
        assert issubclass(tensorplug.nn.LogCoshLoss, tensorplug.nn.Loss)
        print("ok")
    """)
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         env=env, timeout=300, cwd=tmp_path)
    assert run.returncode == 0 and "ok" in run.stdout, run.stdout + run.stderr
