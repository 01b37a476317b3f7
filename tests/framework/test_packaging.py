"""The distribution: a built wheel holds every package and the entry points."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "tensorplug": "framework",
    "tensorplug.autograd": "framework/autograd",
    "tensorplug.ops": "framework/ops",
    "tensorplug.nn": "framework/nn",
    "tensorplug.optim": "framework/optim",
    "tensorplug.utils": "framework/utils",
    "tensorplug.testing": "framework/testing",
    "tensorplug_numpy": "backends/tensorplug_numpy",
    "tensorplug_cupy": "backends/tensorplug_cupy",
    "tensorplug_extras": "plugins/tensorplug_extras",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the sources (the build writes build/ and *.egg-info)."""
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("framework", "backends", "plugins"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    out = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
                           str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = list(out.glob("tensorplug-*.whl"))
    assert len(wheels) == 1, wheels
    return zipfile.ZipFile(wheels[0])


def test_every_package_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    for package in PACKAGES:
        assert package.replace(".", "/") + "/__init__.py" in names, f"{package} missing from the wheel"
    assert "tensorplug/__main__.py" in names and "tensorplug/hookspecs.py" in names
    assert not any(n.startswith(("tests/", "framework/", "backends/")) for n in names)


def test_every_source_file_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    for package, folder in PACKAGES.items():
        for path in (ROOT / folder).glob("*.py"):
            target = package.replace(".", "/") + "/" + path.name
            assert target in names, f"{path.relative_to(ROOT)} is not packaged as {target}"


def test_no_package_folder_is_forgotten():
    """A new subpackage under framework/ must be listed in pyproject.toml too."""
    for init in (ROOT / "framework").rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT / "framework")
        package = ".".join(("tensorplug",) + rel.parts)
        listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
        assert package in listed, f"{package} is not in [tool.setuptools] packages"


def test_wheel_declares_entry_points_and_script(wheel):
    dist_info = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(dist_info).decode())
    assert dict(parser["tensorplug"]) == {"numpy": "tensorplug_numpy", "cupy": "tensorplug_cupy",
                                          "extras": "tensorplug_extras"}
    assert parser["console_scripts"]["tensorplug"] == "tensorplug.__main__:main"


def test_wheel_metadata(wheel):
    meta = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: tensorplug" in meta
    assert "Requires-Dist: numpy" in meta and "Requires-Dist: pluggy" in meta
    assert "torch" not in [line.split()[1].split(">")[0].split("=")[0] for line in meta.splitlines()
                           if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert "Provides-Extra: test" in meta


def test_readme_test_command_matches_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]"' in readme and 'python -m pip install -e ".[test]"' in ci
    assert "```bash\npython -m pytest\n```" in readme
    assert "python -m pytest ||" in ci and "set -euo pipefail" in ci
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"


def test_ci_script_fails_when_pytest_collects_nothing(tmp_path):
    """Run .ci/run's own logic with pip and pytest replaced by stubs that exit as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "python"
    stub.write_text('#!/usr/bin/env bash\nif [ "$2" = "pytest" ]; then exit "${PYTEST_RC:-0}"; fi\nexit 0\n')
    stub.chmod(0o755)
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    for rc, expect_zero in ((0, True), (1, False), (5, False)):
        proc = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env={**env, "PYTEST_RC": str(rc)},
                              capture_output=True, text=True)
        assert (proc.returncode == 0) == expect_zero, (rc, proc.returncode, proc.stderr)
