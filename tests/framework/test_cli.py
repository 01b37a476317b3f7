"""``python -m tensorplug``: info, demo/run dispatch, help."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tensorplug
from tensorplug.__main__ import main


def cli(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "tensorplug", *args], env=clean, capture_output=True,
                          text=True, timeout=120)


def test_info_prints_versions_backend_reason_and_plugins(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"tensorplug {tensorplug.__version__}" in out
    import numpy
    import pluggy
    assert f"numpy {numpy.__version__}" in out and f"pluggy {pluggy.__version__}" in out
    assert "python 3." in out
    assert "selected backend: numpy on cpu" in out
    assert "because:" in out
    assert "numpy  " in out and "available  (plugin 'numpy')" in out
    assert "tensorplug 0.1.0, module tensorplug_numpy" in out and "provides: backend numpy" in out


def test_info_json_matches_the_registry(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    names = {b["name"] for b in info["backends"]}
    assert names == set(tensorplug.registry.backend_specs())
    numpy_backend = next(b for b in info["backends"] if b["name"] == "numpy")
    assert numpy_backend["available"] and numpy_backend["reason"] is None
    assert numpy_backend["distribution"] == "tensorplug"
    plugin = next(p for p in info["plugins"] if p["name"] == "numpy")
    assert plugin["distribution"] == "tensorplug" and plugin["version"] == tensorplug.__version__
    assert info["error"] is None


def test_info_reason_names_the_env_var():
    proc = cli("info", TENSORPLUG_BACKEND="numpy")
    assert proc.returncode == 0, proc.stderr
    assert "because: TENSORPLUG_BACKEND=numpy is set" in proc.stdout
    proc = cli("info")
    assert "because: the default (numpy; TENSORPLUG_BACKEND is not set)" in proc.stdout


def test_unknown_backend_is_a_clear_error_without_traceback():
    proc = cli("info", TENSORPLUG_BACKEND="nope")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "unknown backend 'nope'" in proc.stderr
    assert "expected one of [" in proc.stderr and "'numpy'" in proc.stderr
    # the rest of the report still tells what is available
    assert "numpy  " in proc.stdout and "available" in proc.stdout
    assert "TENSORPLUG_BACKEND=nope" in proc.stdout


def test_broken_plugin_is_listed_with_its_error():
    proc = cli("info", TENSORPLUG_PLUGINS="no_such_plugin_xyz")
    assert proc.returncode == 0, proc.stderr
    assert "no_such_plugin_xyz" in proc.stdout and "BROKEN, skipped: ModuleNotFoundError" in proc.stdout
    assert "RuntimeWarning" not in proc.stderr  # listed once, not warned as well


def test_strict_mode_broken_plugin_exits_non_zero():
    proc = cli("info", TENSORPLUG_PLUGINS="no_such_plugin_xyz", TENSORPLUG_STRICT_PLUGINS="1")
    assert proc.returncode == 1
    assert "PluginError" in proc.stderr and "no_such_plugin_xyz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("info", "demo", "run", "TENSORPLUG_BACKEND"):
        assert word in out
    assert main([]) == 0  # no subcommand: the help, not an error


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("command, module", [("demo", "tensorplug.demo"), ("run", "tensorplug.runner")])
def test_demo_and_run_dispatch_lazily(command, module, monkeypatch, capsys):
    import types
    seen = []
    fake = types.ModuleType(module)
    fake.main = lambda argv: seen.append(argv) or 7
    monkeypatch.setitem(sys.modules, module, fake)
    assert main([command, "--x", "y"]) == 7
    assert seen == [["--x", "y"]]


@pytest.mark.parametrize("command, module", [("demo", "tensorplug.demo"), ("run", "tensorplug.runner")])
def test_missing_subcommand_module_is_a_clear_message(command, module, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # import of it fails as if it were not there
    try:
        code = main([command])
    except ModuleNotFoundError:
        pytest.fail("a missing module must give a message, not a traceback")
    assert code == 2
    assert f"'{command}' is not available" in capsys.readouterr().err


def test_console_script_is_declared():
    from importlib.metadata import entry_points
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("tensorplug") == "tensorplug.__main__:main"


# python -m tensorplug.testing ---------------------------------------------------------

def kit(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "tensorplug.testing", *args], env=clean, capture_output=True,
                          text=True, timeout=120)


def test_conformance_kit_help_is_help_not_a_backend():
    proc = kit("--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m tensorplug.testing") and "failed" not in proc.stdout


def test_conformance_kit_names_the_backend_it_tested():
    proc = kit("-k", "dtypes,creation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("conformance of backend 'numpy' (NumpyBackend on cpu; chosen by the default")
    assert lines[-1] == "2 passed, 0 failed"
    named = kit("-k", "dtypes", "cpu", TENSORPLUG_BACKEND="numpy")
    assert "backend 'numpy'" in named.stdout and "explicit device= argument (cpu)" in named.stdout


def test_conformance_kit_usage_errors():
    assert kit("-k", "nosuchcheck").returncode == 2
    unknown = kit("nosuchbackend")
    assert unknown.returncode == 2 and "unknown backend 'nosuchbackend'" in unknown.stdout
    listed = kit("--list")
    assert listed.returncode == 0 and "dtypes" in listed.stdout.split()
