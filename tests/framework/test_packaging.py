"""The distribution: a built wheel holds every package and the entry points."""
from __future__ import annotations

import ast
import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra installs tomli there
    import tomli as tomllib

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
    declared = _project()["entry-points"]["tensorplug"]
    assert {"numpy": "tensorplug_numpy", "cupy": "tensorplug_cupy", "extras": "tensorplug_extras"}.items() <= \
        declared.items()
    assert dict(parser["tensorplug"]) == declared
    assert parser["console_scripts"]["tensorplug"] == "tensorplug.__main__:main"


def test_wheel_metadata(wheel):
    meta = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: tensorplug" in meta
    assert "Requires-Dist: numpy" in meta and "Requires-Dist: pluggy" in meta
    assert "torch" not in [line.split()[1].split(">")[0].split("=")[0] for line in meta.splitlines()
                           if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert "Provides-Extra: test" in meta


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _dist_name(requirement):
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def test_supported_pythons_are_declared():
    project = _project()
    assert project["requires-python"] == ">=3.10"
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in project["classifiers"]


def test_test_extra_has_the_build_tools_the_wheel_tests_use():
    # the wheel builds run without build isolation: setuptools 65 (a stock venv's) has no bdist_wheel
    test = {_dist_name(r): r for r in _project()["optional-dependencies"]["test"]}
    assert test["setuptools"].replace(" ", "") == "setuptools>=70.1" and "wheel" in test and "build" in test
    assert "tomli" in test  # tomllib is 3.11+


# imported by tests but deliberately not in the test extra: the oracle (.ci/run installs it) and the GPU extra
NOT_IN_TEST_EXTRA = {"torch", "cupy", "cupyx"}


def _third_party_imports():
    """Top-level modules the tests import (``import``, ``from``, ``pytest.importorskip``) that are not theirs."""
    local = {p.stem for p in (ROOT / "tests").rglob("*.py")} | {p.name for p in (ROOT / "tests").rglob("*")}
    sources = {path: path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("*.py")}
    everything = "\n".join(sources.values())
    found = {}
    for path, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip" and node.args
                  and isinstance(node.args[0], ast.Constant)):
                names = [node.args[0].value]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or top.startswith("tensorplug"):
                    continue
                if f"{top}.py" in everything:  # a module a test writes and imports itself
                    continue
                found.setdefault(top, path.relative_to(ROOT))
    return found


def test_test_extra_declares_every_module_the_tests_import():
    """A newcomer's `pip install -e ".[test]"` brings everything the suite imports (no silent skips)."""
    from importlib.metadata import packages_distributions
    project = _project()
    declared = {_dist_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    dists = packages_distributions()
    missing = []
    for module, where in sorted(_third_party_imports().items()):
        if module in NOT_IN_TEST_EXTRA:
            continue
        # a module not installed here (tomli on 3.11+) is looked up under its own name
        names = {_dist_name(d) for d in dists.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} (imported by {where}; distribution {sorted(names) or 'not installed'})")
    assert not missing, "add to the test extra in pyproject.toml: " + "; ".join(missing)


def _readme_block(heading):
    text = (ROOT / "README.md").read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```bash\n", 1)[1].split("```", 1)[0].strip()


def test_ci_runs_the_readme_commands_in_a_fresh_venv():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_block("Install") == 'pip install -e ".[test]"'
    assert _readme_block("Test") == "python -m pytest"
    # .ci/run reads both commands from README.md, so they cannot drift apart
    assert "readme_block Install" in ci and "readme_block Test" in ci
    assert "python -m venv" in ci and "--system-site-packages" not in ci
    assert "set -euo pipefail" in ci
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"


def _fake_ci(tmp_path):
    """.ci/run with README.md beside it and a stub ``python`` on PATH whose venv's pip and pytest exit as told."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    python = bin_dir / "python"
    python.write_text(f"""#!/usr/bin/env bash
echo "python $*" >> {log}
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    printf '#!/usr/bin/env bash\\necho "pip $*" >> {log}\\nexit "${{PIP_RC:-0}}"\\n' > "$3/bin/pip"
    chmod +x "$3/bin/pip"
    echo "export PATH=$3/bin:\\$PATH" > "$3/bin/activate"
    exit 0
fi
if [ "$2" = "pytest" ]; then exit "${{PYTEST_RC:-0}}"; fi
exit 0
""")
    python.chmod(0o755)
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return bin_dir, log


@pytest.mark.parametrize("pip_rc, pytest_rc, ok", [(0, 0, True), (0, 1, False), (0, 5, False), (1, 0, False)])
def test_ci_script_fails_on_test_failures_no_tests_or_a_failed_install(tmp_path, pip_rc, pytest_rc, ok):
    bin_dir, log = _fake_ci(tmp_path)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PIP_RC": str(pip_rc), "PYTEST_RC": str(pytest_rc),
           "TMPDIR": str(tmp_path)}
    proc = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode == 0) == ok, (proc.returncode, proc.stdout, proc.stderr)
    steps = log.read_text().splitlines()
    assert steps[0].startswith("python -m venv ") and steps[1] == 'pip install -e .[test]'
    if pip_rc == 0:
        assert steps[2:] == ["python -m pip install torch==2.13.0", "python -m pytest"]
    assert not list(tmp_path.glob("tensorplug-ci-venv.*")), "the temporary venv is removed"


def test_test_file_names_are_unique():
    """tests/ has no __init__.py: two test files with one basename stop `python -m pytest` at collection."""
    seen = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == "conftest.py" or "fixtures" in path.parts:
            continue
        other = seen.setdefault(path.name, path)
        assert other == path, f"{other.relative_to(ROOT)} and {path.relative_to(ROOT)} share a name: rename one"
