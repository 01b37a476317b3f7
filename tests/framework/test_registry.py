"""The plugin registry, with real entry points of real installed distributions.

The fixture distributions in ``fixtures/`` are pip-installed into one temporary
virtual environment (built once per session; it sees the packages of the
interpreter running the tests, so tensorplug itself is visible there); each scenario runs that
environment's python in a subprocess with its own environment variables.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tensorplug
from tensorplug import registry
from tensorplug.errors import BackendUnavailableError, PluginError

FIXTURES = Path(__file__).parent / "fixtures"
DISTS = ("tinybackend", "brokenplugin", "badhooks")


@pytest.fixture(scope="session")
def venv_python(tmp_path_factory):
    """A venv that sees tensorplug (this interpreter's packages) plus the fixture plugin distributions."""
    root = tmp_path_factory.mktemp("plugin-venv")
    src = root / "src"
    for name in DISTS:  # build from a copy: setuptools writes build/ and *.egg-info next to the sources
        shutil.copytree(FIXTURES / name, src / name)
    python = venv_seeing_this_python(root / "venv")
    # this interpreter's pip (seen through the .pth) installs into the new venv's prefix
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", *(str(src / n) for n in DISTS)],
                   check=True, cwd=root)
    return str(python)


def venv_seeing_this_python(venv):
    """A new venv whose own packages come first, then this interpreter's (tensorplug, pip, setuptools).

    ``--system-site-packages`` would show the base interpreter's packages, not those
    of the venv running the tests; a .pth that adds this interpreter's site dirs (and
    runs their .pth files, so an editable tensorplug is found) needs no network.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    lines = [f"import site; site.addsitedir({folder!r})" for folder in site.getsitepackages()]
    Path(purelib, "_tensorplug_tests_parent.pth").write_text("\n".join(lines) + "\n")
    return python


def run_in(python, code, **env):
    """Run ``code`` in ``python`` with only the given TENSORPLUG_* variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_") and k != "PYTHONWARNINGS"}
    clean.update(env)
    return subprocess.run([python, "-c", textwrap.dedent(code)], env=clean, capture_output=True,
                          text=True, timeout=120, cwd=str(FIXTURES.parent))


REPORT = """
    import json, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import tensorplug
        from tensorplug import registry
        x = tensorplug.ones(3) + 1
        out = {
            "values": x.tolist(),
            "backend": x._backend.name,
            "reason": registry.selection_reason(),
            "backends": sorted(registry.backend_specs()),
            "losses": sorted(registry.losses()),
            "optimizers": sorted(registry.optimizers()),
            "plugins": {n: {"dist": p.distribution, "version": p.version, "error": p.error,
                            "provides": p.provides, "source": p.source}
                        for n, p in registry.plugins().items()},
        }
    out["warnings"] = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    print(json.dumps(out))
"""


def report(python, **env):
    proc = run_in(python, REPORT, **env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # only the fixture plugins' warnings: an in-tree plugin that a checkout's stale metadata still
    # lists (one being written beside this test) is not what these tests are about
    out["warnings"] = [w for w in out["warnings"] if "(distribution tensorplug " not in w]
    return out


# import is cheap -------------------------------------------------------------------

def test_import_does_no_discovery_and_no_numpy():
    code = """
        import sys
        import tensorplug
        from tensorplug import registry
        assert registry.REGISTRY.manager is None, "plugins discovered at import"
        assert "importlib.metadata" not in sys.modules, "entry points read at import"
        assert "numpy" not in sys.modules, "numpy imported by import tensorplug"
        assert "tensorplug_numpy" not in sys.modules
        assert "cupy" not in sys.modules
        tensorplug.zeros(2)  # the first tensor loads the plugins and the NumPy backend
        assert registry.REGISTRY.manager is not None
        assert "numpy" in sys.modules and "tensorplug_numpy" in sys.modules
        assert "cupy" not in sys.modules, "the CPU path imported cupy"
        print("ok")
    """
    proc = run_in(sys.executable, code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# discovery through real entry points ----------------------------------------------------

def test_discovery_of_an_installed_third_party_plugin(venv_python):
    out = report(venv_python)
    tiny = out["plugins"]["tiny"]
    assert tiny["dist"] == "tensorplug-tinybackend" and tiny["version"] == "1.2.3"
    assert tiny["error"] is None
    assert tiny["provides"] == ["backend tiny", "backend tinygpu", "loss TinyLoss", "optimizer TinySGD"]
    assert {"numpy", "tiny", "tinygpu"} <= set(out["backends"])
    assert "TinyLoss" in out["losses"] and "TinySGD" in out["optimizers"]
    # the default stays numpy: installing a plugin does not change the selection
    assert out["backend"] == "numpy" and "default" in out["reason"]
    assert out["values"] == [2.0, 2.0, 2.0]


def test_env_var_selects_the_plugin_backend(venv_python):
    code = """
        import tensorplug
        from tensorplug import registry
        x = tensorplug.arange(4.0) * 2
        print(type(x._backend).__name__, x._backend.name, x.device, x.tolist(), registry.selection_reason())
    """
    proc = run_in(venv_python, code, TENSORPLUG_BACKEND="tiny")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:4] == ["TinyBackend", "tiny", "cpu", "[0.0,"]
    assert "TENSORPLUG_BACKEND=tiny" in proc.stdout


def test_selection_order_device_over_use_backend_over_env(venv_python):
    code = """
        import tensorplug
        from tensorplug import registry
        assert tensorplug.zeros(1)._backend.name == "tiny"
        with tensorplug.use_backend("numpy"):
            assert tensorplug.zeros(1)._backend.name == "numpy"
            assert "use_backend('numpy')" in registry.selection_reason()
            assert tensorplug.zeros(1, device="tiny")._backend.name == "tiny"
        assert tensorplug.zeros(1)._backend.name == "tiny"
        print("ok")
    """
    proc = run_in(venv_python, code, TENSORPLUG_BACKEND="tiny")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_priority_picks_the_backend_for_a_bare_device_type(venv_python):
    """As BackendSpec.priority says: numpy (10) serves device='cpu' over tiny (0) unless tiny is the default."""
    code = """
        import tensorplug
        with tensorplug.use_backend("numpy"):
            pass
        print(tensorplug.zeros(1, device="cpu")._backend.name)
        with tensorplug.use_backend("tiny"):
            print(tensorplug.zeros(1, device="cpu")._backend.name)
    """
    proc = run_in(venv_python, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["numpy", "tiny"]
    proc = run_in(venv_python, "import tensorplug; print(tensorplug.zeros(1, device='cpu')._backend.name)",
                  TENSORPLUG_BACKEND="tiny")
    assert proc.stdout.split() == ["tiny"], proc.stderr


def test_broken_plugins_warn_with_name_and_distribution(venv_python):
    out = report(venv_python)
    warns = out["warnings"]
    text = "\n".join(warns)
    # import error
    assert any("'broken'" in w and "tensorplug-brokenplugin 0.0.1" in w and "notinstalled_xyz" in w
               for w in warns), text
    # a hookimpl whose arguments do not match the spec (pluggy's validation)
    assert any("'badargs'" in w and "tensorplug-badhooks" in w and "config" in w for w in warns), text
    # a hook name that does not exist
    assert any("'typo'" in w and "tensorplug_add_loss" in w and "unknown hook" in w for w in warns), text
    # a hook without the marker
    assert any("'unmarked'" in w and "hookimpl" in w for w in warns), text
    # a name clash names both plugins and both distributions
    assert any("'tiny_clash'" in w and "'tiny'" in w and "tensorplug-tinybackend" in w
               and "tensorplug-badhooks" in w for w in warns), text
    # built-in names claimed (2) and invalid hook values (5): test_hook_values_* below
    assert len(warns) == 12, text
    # ... and everything else keeps working; the first to claim "tiny" keeps it
    assert out["values"] == [2.0, 2.0, 2.0]
    assert out["plugins"]["broken"]["error"].startswith("ImportError")
    assert out["plugins"]["tiny"]["error"] is None


def test_built_in_names_stay_built_in(venv_python):
    out = report(venv_python)
    assert "Adam" not in out["optimizers"] and "MSELoss" not in out["losses"]
    claims = [w for w in out["warnings"] if "claims a built-in" in w]
    assert len(claims) == 2, out["warnings"]
    adam = next(w for w in claims if "'Adam'" in w)
    assert "plugin 'builtin' (distribution tensorplug-badhooks 0.0.2)" in adam
    assert "tensorplug.optim.Adam" in adam and "another name" in adam
    assert out["plugins"]["builtin"]["provides"] == []
    code = """
        import tensorplug
        from tensorplug.optim.adam import Adam
        from tensorplug.nn import MSELoss
        assert tensorplug.optim.Adam is Adam and tensorplug.nn.MSELoss is MSELoss
        print("ok")
    """
    proc = run_in(venv_python, code)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
    info = run_in(venv_python, "from tensorplug.__main__ import main; main(['info'])")
    assert "ignored: loss MSELoss (built in: tensorplug.nn.MSELoss)" in info.stdout, info.stdout
    assert "optimizer Adam (built in: tensorplug.optim.Adam)" in info.stdout
    # strict mode: an error naming the plugin
    strict = run_in(venv_python, "import tensorplug; tensorplug.registry.optimizers()",
                    TENSORPLUG_STRICT_PLUGINS="1", TENSORPLUG_DISABLE_PLUGINS="badargs,broken,typo,unmarked,tiny_clash")
    assert strict.returncode != 0
    last = strict.stderr.strip().splitlines()[-1]
    assert last.startswith("tensorplug.errors.PluginError") and "plugin 'builtin'" in last, strict.stderr


def test_hook_values_are_validated(venv_python):
    out = report(venv_python)
    assert "JunkOpt" not in out["optimizers"] and "PlainLoss" not in out["losses"]
    assert "bad name" not in out["losses"]
    text = "\n".join(out["warnings"])
    junk = next(w for w in out["warnings"] if "JunkOpt" in w)
    assert "plugin 'junk' (distribution tensorplug-badhooks 0.0.2)" in junk
    assert "42" in junk and "expected a class (a subclass of tensorplug.optim.Optimizer)" in junk
    assert any("PlainLoss" in w and "subclass of tensorplug.nn.Module" in w for w in out["warnings"]), text
    assert any("'bad name'" in w and "identifier" in w for w in out["warnings"]), text
    assert any("tensorplug_add_losses() must return a mapping" in w and "'junk'" in w
               for w in out["warnings"]), text
    assert "losss" not in text
    # strict mode: tensorplug.optim.JunkOpt is an error naming the plugin, never the number 42
    strict = run_in(venv_python, "import tensorplug; print(tensorplug.optim.JunkOpt)", TENSORPLUG_STRICT_PLUGINS="1",
                    TENSORPLUG_DISABLE_PLUGINS="badargs,broken,typo,unmarked,tiny_clash,builtin")
    assert strict.returncode != 0 and "42" not in strict.stdout
    last = strict.stderr.strip().splitlines()[-1]
    assert last.startswith("tensorplug.errors.PluginError") and "plugin 'junk'" in last, strict.stderr


def test_clash_keeps_the_first_plugins_backend(venv_python):
    proc = run_in(venv_python, "import tensorplug; print(tensorplug.zeros(2, device='tiny')._backend.name)")
    assert proc.returncode == 0 and proc.stdout.strip() == "tiny", proc.stderr


def test_strict_mode_raises_plugin_error(venv_python):
    code = """
        import tensorplug
        from tensorplug.errors import PluginError
        for attempt in range(2):  # the error comes back on every read, not only the first
            try:
                tensorplug.zeros(1)
            except PluginError as exc:
                assert isinstance(exc, RuntimeError)
                print(exc)
            else:
                raise SystemExit("no PluginError")
    """
    proc = run_in(venv_python, code, TENSORPLUG_STRICT_PLUGINS="1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "plugin 'badargs' (distribution tensorplug-badhooks 0.0.2)" in lines[0]
    assert "TENSORPLUG_STRICT_PLUGINS" in lines[0]


def test_autoload_off_skips_entry_points(venv_python):
    out = report(venv_python, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    assert out["warnings"] == []
    assert list(out["plugins"]) == ["numpy"]  # the last-resort default backend stays
    assert out["backends"] == ["numpy"] and out["losses"] == [] and out["optimizers"] == []
    assert out["values"] == [2.0, 2.0, 2.0]


FIXTURE_MODULES = ("tensorplug_tinybackend", "tensorplug_brokenplugin", "tensorplug_badhooks")


def test_autoload_off_never_imports_an_entry_point(venv_python, tmp_path):
    """Error hints come from entry-point metadata: hasattr, getattr, device= and load() import no plugin."""
    code = f"""
        import sys, tensorplug
        from tensorplug import nn, optim, registry
        assert not hasattr(optim, "TinySGD")
        assert getattr(nn, "TinyLoss", None) is None
        try:
            optim.TinySGD
        except AttributeError as exc:
            print(exc)
        try:
            tensorplug.zeros(1, device="tiny")
        except ValueError as exc:
            print(exc)
        path = {str(tmp_path / "ckpt.pt")!r}
        tensorplug.save({{"w": tensorplug.ones(2)}}, path)
        try:
            tensorplug.load(path, map_location={{"cpu": "tinydev"}})
        except ValueError as exc:
            print("load:", exc)
        imported = [m for m in sys.modules if m.startswith({FIXTURE_MODULES!r})]
        assert not imported, imported
        assert "tiny" not in registry.backend_specs()
    """
    proc = run_in(venv_python, code, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    assert proc.returncode == 0, proc.stderr
    attribute, device, load = proc.stdout.strip().splitlines()
    tiny = "plugin 'tiny' (distribution tensorplug-tinybackend 1.2.3, module tensorplug_tinybackend)"
    for message in (attribute, device, load):
        assert tiny in message and "e.g. TENSORPLUG_PLUGINS=tensorplug_tinybackend" in message, message
        assert "autoload is off" in message
    assert "unknown backend 'tiny'" in device and "optimizer 'TinySGD'" in attribute
    # the plugin named like the missing backend is listed first
    assert "closely their names match): plugin 'tiny' (" in device, device


def test_disable_plugins_skips_the_named_ones(venv_python):
    code = """
        import sys, warnings, tensorplug
        from tensorplug import registry
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            print(sorted(registry.plugins()))
        print(len([w for w in caught if "(distribution tensorplug " not in str(w.message)]))
        try:
            tensorplug.zeros(1, device="tiny")
        except ValueError as exc:
            print(exc)
        assert "tensorplug_tinybackend" not in sys.modules and "tensorplug_brokenplugin" not in sys.modules
    """
    proc = run_in(venv_python, code,
                  TENSORPLUG_DISABLE_PLUGINS=" tiny, tensorplug_brokenplugin,badargs,typo,unmarked,tiny_clash,"
                                             "builtin,junk")
    assert proc.returncode == 0, proc.stderr
    plugins, warned, error = proc.stdout.strip().splitlines()
    assert "'tiny'" not in plugins and "'broken'" not in plugins and "'numpy'" in plugins
    assert warned == "0"
    assert "plugins disabled by TENSORPLUG_DISABLE_PLUGINS (ranked by how closely their names match): " \
           "plugin 'tiny'" in error
    assert "remove 'tiny' from that list to load it (its name matches 'tiny')" in error
    info = run_in(venv_python, "from tensorplug.__main__ import main; main(['info'])", TENSORPLUG_DISABLE_PLUGINS="tiny")
    assert "installed plugins not loaded:" in info.stdout and "tensorplug-tinybackend 1.2.3" in info.stdout


LOOKUP = """
    import sys, warnings, tensorplug
    from tensorplug import nn, optim
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for module, name in {lookups!r}:
            try:
                getattr({{"nn": nn, "optim": optim}}[module], name)
            except AttributeError as exc:
                print("error:", exc)
        tensorplug.zeros(1)
    for w in caught:
        if "(distribution tensorplug " not in str(w.message):
            print("warning:", w.message)
    print("imported:", sorted(m for m in sys.modules if m.startswith({modules!r})))
"""


def lookup(python, lookups, **env):
    """``(errors, warnings, imported fixture modules)`` of ``getattr(nn or optim, name)`` for each lookup."""
    proc = run_in(python, LOOKUP.format(lookups=lookups, modules=FIXTURE_MODULES), **env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    pick = lambda tag: [line[len(tag) + 2:] for line in lines if line.startswith(tag + ":")]
    return pick("error"), pick("warning"), pick("imported")[0]


def test_a_rejected_loss_says_which_plugin_offered_it_and_why(venv_python):
    errors, warns, _ = lookup(venv_python, [("nn", "LogCoshLoss"), ("nn", "LogCoshLoss")])
    assert len(errors) == 2, errors
    for message in errors:  # every lookup says it, not only the one that warned
        assert message.startswith("module 'tensorplug.nn' has no attribute 'LogCoshLoss'; ")
        assert "plugin 'builtin' (distribution tensorplug-badhooks 0.0.2) offered loss 'LogCoshLoss', " \
               "which was rejected: expected a class (a subclass of tensorplug.nn.Module), got an instance " \
               "of LogCoshLoss; return the class itself (LogCoshLoss, not LogCoshLoss())" in message, message
    assert sum("LogCoshLoss" in w for w in warns) == 1, warns


def test_nn_and_optim_misses_list_close_matches_alike(venv_python):
    errors, _, _ = lookup(venv_python, [("nn", "MSELos"), ("optim", "Adamm"), ("optim", "Foo")])
    mse, adam, foo = errors
    assert mse.startswith("module 'tensorplug.nn' has no attribute 'MSELos'; close matches: MSELoss"), mse
    assert adam.startswith("module 'tensorplug.optim' has no attribute 'Adamm'; close matches: Adam"), adam
    assert "LBFGS" not in adam and "Rprop" not in adam  # close matches, not every optimizer
    assert foo == "module 'tensorplug.optim' has no attribute 'Foo'", foo


def test_autoload_off_hint_says_plugins_are_unknown_and_ranks_them(venv_python):
    errors, _, imported = lookup(venv_python, [("nn", "LogCoshLoss"), ("nn", "TinyLoss")],
                                 TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    logcosh, tiny = errors
    assert imported == "[]", imported
    for message in errors:
        assert " may" not in message, message  # metadata cannot say what a plugin provides
        assert "what an unloaded plugin provides is unknown until it is loaded" in message
    # no plugin is named like LogCoshLoss: none is singled out
    assert "e.g." not in logcosh and "TENSORPLUG_PLUGINS=<its module>" in logcosh, logcosh
    assert "none of them named like 'LogCoshLoss'" in logcosh and "ranked" not in logcosh
    assert "e.g. TENSORPLUG_PLUGINS=tensorplug_tinybackend (its name matches 'TinyLoss')" in tiny, tiny
    assert "closely their names match): plugin 'tiny' (" in tiny, tiny


def test_disabling_an_entry_point_blocks_its_module_in_tensorplug_plugins(venv_python):
    _, warns, imported = lookup(venv_python, [], TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1",
                                TENSORPLUG_DISABLE_PLUGINS="tiny", TENSORPLUG_PLUGINS="tensorplug_tinybackend")
    assert imported == "[]", imported
    assert len(warns) == 1, warns
    assert "TENSORPLUG_PLUGINS names tensorplug_tinybackend, but TENSORPLUG_DISABLE_PLUGINS disables it " \
           "(as 'tiny'), so it is not loaded; remove 'tiny'" in warns[0], warns[0]


def test_disable_hints_quote_the_entry_as_written(venv_python):
    errors, warns, _ = lookup(venv_python, [("optim", "TinySGD")],
                              TENSORPLUG_DISABLE_PLUGINS="tensorplug_tinybackend,badargs,typo,unmarked,broken,"
                                                         "builtin,junk")
    assert warns == [], warns
    assert "remove 'tensorplug_tinybackend' from that list to load it" in errors[0], errors[0]
    assert "remove 'tiny'" not in errors[0]
    # the only disabled plugin, though not named like the missing name: still quoted as written
    errors, _, _ = lookup(venv_python, [("nn", "WassersteinLoss")], TENSORPLUG_DISABLE_PLUGINS="tensorplug_tinybackend")
    assert "none of them named like 'WassersteinLoss'" in errors[0], errors[0]
    assert "remove 'tensorplug_tinybackend' from that list to load it;" in errors[0], errors[0]
    info = run_in(venv_python, "from tensorplug.__main__ import main; main(['info'])",
                  TENSORPLUG_DISABLE_PLUGINS="tensorplug_tinybackend")
    assert "remove 'tensorplug_tinybackend' from that list" in info.stdout, info.stdout


def test_a_disabled_name_that_matches_no_plugin_warns(venv_python):
    _, warns, _ = lookup(venv_python, [], TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1", TENSORPLUG_DISABLE_PLUGINS="tinyy")
    assert len(warns) == 1, warns
    assert "TENSORPLUG_DISABLE_PLUGINS names 'tinyy', which matches no installed plugin, so it disables " \
           "nothing (close matches: tiny" in warns[0], warns[0]
    assert "'badargs'" in warns[0] and "'numpy'" in warns[0]  # the known plugins are named


def test_a_built_in_name_claim_warns_when_plugins_load(venv_python):
    """No lookup reaches the registry for optim.Adam: the claim is reported when the plugins are discovered."""
    code = """
        import warnings, tensorplug
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w = tensorplug.zeros(2, requires_grad=True)
            tensorplug.optim.Adam([w])
        print([str(x.message) for x in caught if "claims a built-in" in str(x.message)])
    """
    proc = run_in(venv_python, code, TENSORPLUG_DISABLE_PLUGINS="badargs,broken,typo,unmarked,tiny_clash,junk")
    assert proc.returncode == 0, proc.stderr
    assert "optimizer 'Adam' is the built-in tensorplug.optim.Adam" in proc.stdout, proc.stdout
    assert "loss 'MSELoss' is the built-in tensorplug.nn.MSELoss" in proc.stdout


def test_plugin_both_installed_and_named_loads_once(venv_python):
    """Both documented steps (install X, TENSORPLUG_PLUGINS=X) are one plugin, not a failure."""
    out = report(venv_python, TENSORPLUG_PLUGINS="tensorplug_tinybackend",
                 TENSORPLUG_DISABLE_PLUGINS="badargs,broken,typo,unmarked,tiny_clash,builtin,junk")
    assert out["warnings"] == []
    assert "tensorplug_tinybackend" not in out["plugins"]
    tiny = out["plugins"]["tiny"]
    assert tiny["error"] is None and tiny["source"] == "entry point and TENSORPLUG_PLUGINS"
    assert "backend tiny" in tiny["provides"]


def test_a_factory_that_raises_names_backend_and_plugin(venv_python):
    code = """
        import tensorplug
        from tensorplug.errors import BackendUnavailableError
        try:
            tensorplug.zeros(1, device="failing")
        except BackendUnavailableError as exc:
            assert isinstance(exc, RuntimeError) and isinstance(exc.__cause__, RuntimeError)
            print(exc)
    """
    proc = run_in(venv_python, code)
    assert proc.returncode == 0, proc.stderr
    assert "backend 'failing' (cpu) from plugin 'failing' (distribution tensorplug-badhooks 0.0.2)" in proc.stdout
    assert "RuntimeError: driver init failed" in proc.stdout and "TENSORPLUG_BACKEND=numpy" in proc.stdout


def test_plugins_env_var_loads_named_modules(venv_python):
    out = report(venv_python, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1",
                 TENSORPLUG_PLUGINS="tensorplug_tinybackend, ")
    tiny = out["plugins"]["tensorplug_tinybackend"]
    assert tiny["source"] == "TENSORPLUG_PLUGINS"
    assert tiny["dist"] == "tensorplug-tinybackend" and tiny["error"] is None
    assert "tiny" in out["backends"] and out["warnings"] == []


def test_plugins_env_var_with_a_missing_module_warns(venv_python):
    out = report(venv_python, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1", TENSORPLUG_PLUGINS="no_such_mod_xyz")
    assert len(out["warnings"]) == 1
    assert "plugin 'no_such_mod_xyz'" in out["warnings"][0] and "ModuleNotFoundError" in out["warnings"][0]
    assert out["values"] == [2.0, 2.0, 2.0]


def test_unavailable_backend_says_why_and_what_works(venv_python):
    code = """
        import tensorplug
        from tensorplug.errors import BackendUnavailableError
        try:
            tensorplug.zeros(1, device="tinydev")
        except BackendUnavailableError as exc:
            assert isinstance(exc, RuntimeError)
            print(exc)
    """
    proc = run_in(venv_python, code)
    assert proc.returncode == 0, proc.stderr
    assert "backend 'tinygpu'" in proc.stdout and "no tiny device is attached" in proc.stdout
    assert "TENSORPLUG_BACKEND=numpy" in proc.stdout


def test_unknown_env_backend_lists_the_available_ones(venv_python):
    proc = run_in(venv_python, "import tensorplug; tensorplug.zeros(1)", TENSORPLUG_BACKEND="nope")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: unknown backend 'nope'")
    listed = last.split("expected one of ", 1)[1]
    assert all(f"'{name}'" in listed.split("]")[0] for name in ("numpy", "tiny", "tinygpu")), last
    assert "TENSORPLUG_BACKEND=nope" in last


# in-process: the in-tree plugins -------------------------------------------------------

def test_in_tree_plugins_come_from_the_tensorplug_distribution():
    plugins = registry.plugins()
    assert plugins["numpy"].distribution == "tensorplug"
    assert plugins["numpy"].module == "tensorplug_numpy" and plugins["numpy"].error is None
    assert registry.backend_specs()["numpy"].plugin == "numpy"
    assert registry.backend_status()["numpy"] is None


def test_unknown_backend_name_is_value_error_listing_available():
    with pytest.raises(ValueError, match=r"unknown backend 'cuda2': expected one of \[.*'numpy'"):
        tensorplug.zeros(1, device="cuda2")
    with pytest.raises(ValueError, match="unknown backend"):
        with tensorplug.use_backend("nope"):
            pass


def test_use_backend_is_a_context_and_restores():
    before = registry.default_backend()
    with tensorplug.use_backend("numpy") as b:
        assert registry.default_backend() is b
        assert "use_backend" in registry.selection_reason()
    assert registry.default_backend() is before
    assert registry.selection_reason(device="cpu").startswith("an explicit device=")


def test_env_var_read_by_a_fresh_registry(monkeypatch):
    # a private registry, so the session's backend instances stay untouched
    monkeypatch.setenv("TENSORPLUG_BACKEND", "numpy")
    reg = registry._Registry()
    assert reg.env_default().name == "numpy" and reg._env_reason == "TENSORPLUG_BACKEND=numpy is set"
    monkeypatch.setenv("TENSORPLUG_BACKEND", "nope")
    with pytest.raises(ValueError, match=r"TENSORPLUG_BACKEND=nope names it"):
        registry._Registry().env_default()


def test_explicit_device_works_even_with_a_bad_env_var(monkeypatch):
    monkeypatch.setenv("TENSORPLUG_BACKEND", "nope")
    monkeypatch.setattr(registry, "REGISTRY", registry._Registry())
    assert tensorplug.zeros(2, device="cpu").tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        tensorplug.zeros(2)


def test_errors_subclass_the_builtins():
    assert issubclass(BackendUnavailableError, RuntimeError)
    assert issubclass(PluginError, RuntimeError)
    assert issubclass(tensorplug.OutOfMemoryError, RuntimeError)
    assert issubclass(tensorplug.OutOfMemoryError, MemoryError)
    assert issubclass(tensorplug.CheckpointError, ValueError)
    for cls in (BackendUnavailableError, PluginError, tensorplug.OutOfMemoryError):
        assert issubclass(cls, tensorplug.TensorplugError)


def test_missing_hint_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        registry.missing_hint("layer", "Linear")
