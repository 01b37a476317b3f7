"""The extras plugin is a plugin like a third party's: entry point only, lazy, and absent when disabled."""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import tensorplug
import tensorplug_extras

LOSSES = set(tensorplug_extras.LOSSES)
OPTIMIZERS = set(tensorplug_extras.OPTIMIZERS)
SOURCE = pathlib.Path(tensorplug_extras.__file__).parent


def _python(code, **env):
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_registered_through_its_entry_point():
    eps = {ep.name: ep.value for ep in entry_points(group="tensorplug")}
    assert eps.get("extras") == "tensorplug_extras"


def test_registries_list_every_loss_and_optimizer():
    assert LOSSES <= set(tensorplug.registry.losses())
    assert OPTIMIZERS <= set(tensorplug.registry.optimizers())
    assert "extras" in tensorplug.registry.plugins()


def test_exposed_as_nn_and_optim_names():
    for name in LOSSES:
        cls = getattr(tensorplug.nn, name)
        assert issubclass(cls, tensorplug.nn.Module) and cls.__name__ == name
    for name in OPTIMIZERS:
        cls = getattr(tensorplug.optim, name)
        assert issubclass(cls, tensorplug.optim.Optimizer) and cls.__name__ == name
    assert OPTIMIZERS <= set(dir(tensorplug.optim))


def test_keeps_only_what_torch_lacks():
    # torch's own names are built in (they must not vanish with autoload off, nor be claimed by a plugin)
    torch = pytest.importorskip("torch")
    assert not LOSSES & set(dir(torch.nn)) and not OPTIMIZERS & set(dir(torch.optim))
    assert not LOSSES & set(tensorplug.nn.loss.__all__) and not OPTIMIZERS & set(tensorplug.optim.__all__)


def test_unknown_optimizer_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Shampoo'"):
        tensorplug.optim.Shampoo
    # as tensorplug.nn: the close matches, the plugin's names included (not every optimizer)
    with pytest.raises(AttributeError, match="has no attribute 'Lino'; close matches: Lion$"):
        tensorplug.optim.Lino
    assert not hasattr(tensorplug.optim, "_private")


def test_info_lists_the_plugin():
    out = subprocess.run([sys.executable, "-m", "tensorplug", "info"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "extras" in out.stdout and "tensorplug_extras" in out.stdout
    for name in ("FocalLoss", "Lion", "LAMB"):
        assert name in out.stdout


def test_absent_when_autoload_is_disabled_and_the_error_names_the_plugin():
    out = _python(
        "import tensorplug\n"
        "assert not set(tensorplug.registry.optimizers()) and not set(tensorplug.registry.losses())\n"
        "for mod, name in ((tensorplug.optim, 'Lion'), (tensorplug.nn, 'FocalLoss')):\n"
        "    try:\n"
        "        getattr(mod, name)\n"
        "    except AttributeError as exc:\n"
        "        print(exc)\n"
        "    else:\n"
        "        raise SystemExit(name + ' was found')\n"
        "import tensorplug.optim as optim; optim.SGD\n",
        TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "tensorplug_extras" in line and "TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD" in line


def test_named_module_loads_it_even_without_autoload():
    out = _python("import tensorplug; print(tensorplug.optim.Lion.__name__, tensorplug.nn.FocalLoss.__name__)",
                  TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1", TENSORPLUG_PLUGINS="tensorplug_extras")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Lion", "FocalLoss"]


def test_importing_the_plugin_is_cheap_and_import_tensorplug_loads_no_plugin():
    out = _python("import sys, tensorplug\n"
                  "assert 'tensorplug_extras' not in sys.modules, 'loaded at import tensorplug'\n"
                  "import tensorplug_extras\n"
                  "heavy = [m for m in ('tensorplug.nn', 'tensorplug.optim', 'tensorplug_extras.losses',\n"
                  "                     'tensorplug_extras.optimizers', 'torch') if m in sys.modules]\n"
                  "print(heavy)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_imports_only_tensorplugs_public_api():
    # no numpy or private tensorplug modules: what a third party could write
    allowed = {"tensorplug", "tensorplug.nn", "tensorplug.nn.functional", "tensorplug.nn.loss",
               "tensorplug.optim", "tensorplug.optim.optimizer", "math", "warnings", "__future__"}
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module] if node.level == 0 else []
            else:
                continue
            for name in names:
                assert name in allowed, f"{path.name} imports {name}"
