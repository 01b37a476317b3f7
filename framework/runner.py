"""Run PyTorch code unmodified on tensorplug: ``python -m tensorplug run script.py [args]``.

For one run, ``torch`` and every ``torch.<sub>`` module resolve to tensorplug's
(``torch.nn`` -> ``tensorplug.nn``, ``torch.utils.data`` ->
``tensorplug.utils.data``, ...). The aliases are thin module proxies, so the
real tensorplug modules are never renamed or modified, and whatever tensorplug
lacks fails with an error that names the missing PyTorch API::

    ModuleNotFoundError: tensorplug does not provide torch.distributed (used by train.py, line 3) ...
    AttributeError: tensorplug does not provide torch.compile (used by train.py, line 40) ...

In a notebook, ``with tensorplug.runner.torch_alias(): import torch`` does the
same for a block of code.
"""
from __future__ import annotations

import argparse
import contextlib
import dis
import importlib
import importlib.abc
import importlib.machinery
import os
import re
import runpy
import sys
import traceback
import types

from . import _display

__all__ = ["torch_alias", "run_path", "run_module", "alias_active", "main"]

_ALIAS = "torch"
_TARGET = "tensorplug"
_HERE = os.path.abspath(__file__)
_HELP_TAIL = ("; see the 'differences from PyTorch' page of the tensorplug docs, or run this script "
              "with PyTorch itself")


def _torch_name(target_name):
    return _ALIAS + target_name[len(_TARGET):]


def _target_name(torch_name):
    return _TARGET + torch_name[len(_ALIAS):]


def _user_site():
    """'file.py, line N' of the innermost frame outside tensorplug and importlib, for messages."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith("<frozen") or os.path.abspath(filename) == _HERE
                or "importlib" in filename):
            return f"{os.path.basename(filename)}, line {frame.f_lineno}"
        frame = frame.f_back
    return "this program"


_IMPORT_FROM = dis.opmap.get("IMPORT_FROM")


def _in_import_from():
    """Whether the caller of ``__getattr__`` is executing a ``from module import name``."""
    try:
        frame = sys._getframe(2)
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (AttributeError, IndexError, ValueError):
        return False


class _TorchModule(types.ModuleType):
    """``torch.<x>`` for one run: reads through to ``tensorplug.<x>``, missing names say so."""

    def __init__(self, name, target):
        super().__init__(name, getattr(target, "__doc__", None))
        object.__setattr__(self, "_tp_target", target)

    def __getattr__(self, name):
        target = object.__getattribute__(self, "_tp_target")
        try:
            value = getattr(target, name)
        except AttributeError:
            value = _submodule(target, name)
            if value is None:
                if name.startswith("__") and name.endswith("__"):
                    raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'") from None
                message = f"tensorplug does not provide {self.__name__}.{name} (used by {_user_site()}){_HELP_TAIL}"
                if _in_import_from():
                    # `from torch.x import name`: Python would replace an AttributeError with
                    # "cannot import name ... (unknown location)", so say it as an ImportError
                    raise ImportError(message, name=self.__name__) from None
                raise AttributeError(message) from None
        if isinstance(value, types.ModuleType) and value.__name__.startswith(_TARGET + "."):
            value = _proxy(value)
            # cache it, as an import of the submodule would
            types.ModuleType.__setattr__(self, name, value)
        return value

    def __dir__(self):
        return sorted(set(dir(object.__getattribute__(self, "_tp_target"))) | set(self.__dict__))

    def __repr__(self):
        target = object.__getattribute__(self, "_tp_target")
        return f"<module '{self.__name__}' (alias of {target.__name__})>"


def _submodule(target, name):
    """``target.name`` imported as a submodule, or None when there is none."""
    full = f"{target.__name__}.{name}"
    if getattr(target, "__path__", None) is None:
        return None
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


def _proxy(module):
    name = _torch_name(module.__name__)
    existing = sys.modules.get(name)
    if isinstance(existing, _TorchModule) and object.__getattribute__(existing, "_tp_target") is module:
        return existing
    proxy = _TorchModule(name, module)
    proxy.__package__ = name if hasattr(module, "__path__") else name.rpartition(".")[0]
    # every proxy is a package to the import system: `import torch.backends.cudnn` must reach the finder
    # even where tensorplug's module is a plain file with names registered in sys.modules
    proxy.__path__ = []
    sys.modules[name] = proxy
    return proxy


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        proxy = _TorchModule(spec.name, self.target)
        proxy.__path__ = []  # see _proxy
        return proxy

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Maps ``import torch.x.y`` to a proxy of ``tensorplug.x.y``; a missing module names itself."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        name = _target_name(fullname)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name and not name.startswith(f"{exc.name}."):
                raise
            parent, _, leaf = name.rpartition(".")
            module = getattr(sys.modules.get(parent), leaf, None)
            if module is None or isinstance(module, (type, types.FunctionType)):
                raise ModuleNotFoundError(
                    f"tensorplug does not provide {fullname} (used by {_user_site()}){_HELP_TAIL}",
                    name=fullname) from None
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=True)
        return spec


def _is_alias(name):
    return name == _ALIAS or name.startswith(_ALIAS + ".")


def _install_alias():
    """Alias ``torch``: ``(saved torch modules, finder, root proxy, display name shown before)``."""
    import tensorplug
    saved = {name: mod for name, mod in sys.modules.items() if _is_alias(name)}
    for name in saved:
        del sys.modules[name]
    finder = _AliasFinder()
    sys.meta_path.insert(0, finder)
    root = _TorchModule(_ALIAS, tensorplug)
    root.__package__ = _ALIAS
    root.__path__ = []
    root.__spec__ = importlib.machinery.ModuleSpec(_ALIAS, _AliasLoader(tensorplug), is_package=True)
    sys.modules[_ALIAS] = root
    shown, _display.MODULE = _display.MODULE, _ALIAS
    return saved, finder, root, shown


@contextlib.contextmanager
def torch_alias():
    """Inside the block, ``import torch`` (and ``torch.nn``, ``torch.optim``, ...) gives tensorplug.

    A real PyTorch that was imported before is hidden for the block and
    restored after it, with every ``torch.*`` module it had loaded.

    Example:
        >>> with torch_alias():
        ...     import torch
        ...     import torch.nn.functional as F
        ...     y = F.relu(torch.tensor([-1.0, 2.0]))
    """
    saved, finder, root, shown = _install_alias()
    try:
        yield root
    finally:
        _display.MODULE = shown
        try:
            sys.meta_path.remove(finder)
        except ValueError:
            pass
        for name in [n for n in sys.modules if _is_alias(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


_CHILD_SHIM = '''"""Written by ``python -m tensorplug run`` for the processes its program starts with multiprocessing's
"spawn" or "forkserver" methods (mp.spawn, DataLoader workers on macOS): they begin in a fresh
interpreter, which finds this package first on the sys.path it inherits, so their torch is
tensorplug too."""
from tensorplug import runner as _runner

_runner._alias_for_good()
'''


def _alias_for_good():
    """Alias ``torch`` to tensorplug for the rest of this process (a spawned child of a run)."""
    _install_alias()


@contextlib.contextmanager
def _spawned_children_aliased():
    """Put a ``torch`` package first on sys.path that aliases torch in the interpreters multiprocessing
    starts fresh (they inherit the parent's sys.path, not its imports); removed afterwards."""
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix="tensorplug-run-")
    os.mkdir(os.path.join(folder, _ALIAS))
    with open(os.path.join(folder, _ALIAS, "__init__.py"), "w") as f:
        f.write(_CHILD_SHIM)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
        shutil.rmtree(folder, ignore_errors=True)


def run_path(script, args=()):
    """Run ``script`` as ``__main__`` with ``torch`` aliased to tensorplug; returns its globals.

    ``sys.argv`` is ``[script, *args]`` and the script's folder is first on
    ``sys.path`` for the run, as with ``python script.py``.
    """
    script = os.fspath(script)
    old_argv = sys.argv
    old_path0 = list(sys.path)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        with torch_alias():
            return runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = old_argv
        sys.path[:] = old_path0


_TENSOR_ATTRIBUTE = re.compile(r"^'(Tensor|Parameter)' object has no attribute '(\w+)'")
_KEYWORD = re.compile(r"^([\w.]+)\(\) got an unexpected keyword argument '(\w+)'")


def _is_tensorplug_file(filename):
    package = os.path.dirname(os.path.abspath(importlib.import_module(_TARGET).__file__))
    return os.path.abspath(filename).startswith(package + os.sep)


def _tensorplug_callable(qualname):
    """The torch spelling of a tensorplug function or class named by a TypeError's ``qualname``, or None."""
    import tensorplug
    owner, _, name = qualname.rpartition(".")
    if name == "__init__":
        owner, _, name = owner.rpartition(".")
    places = [("", tensorplug), (".nn", tensorplug.nn), (".nn.functional", tensorplug.nn.functional),
              (".optim", tensorplug.optim)]
    if owner in ("", "Tensor") and hasattr(tensorplug.Tensor, name):
        return f"{_ALIAS}.Tensor.{name}" if owner or name not in vars(tensorplug) else f"{_ALIAS}.{name}"
    for suffix, place in places:
        if name in vars(place):
            return f"{_ALIAS}{suffix}.{name}"
    return None


def _missing_api_message(exc, tb):
    """The runner's "tensorplug does not provide ..." wording for a missing Tensor attribute or keyword
    argument met in the user's own code, or None when ``exc`` is something else."""
    frames = list(traceback.walk_tb(tb))
    if not frames or not isinstance(exc, (AttributeError, TypeError)) or len(exc.args) != 1:
        return None
    frame, line = frames[-1]
    filename = frame.f_code.co_filename
    if _is_tensorplug_file(filename) or filename.startswith("<"):
        return None  # raised inside tensorplug, or not at a user's line: not a missing API
    site = f"{os.path.basename(filename)}, line {line}"
    text = str(exc.args[0])
    attribute = _TENSOR_ATTRIBUTE.match(text)
    if isinstance(exc, AttributeError) and attribute:
        return f"tensorplug does not provide {_ALIAS}.Tensor.{attribute.group(2)} (used by {site}){_HELP_TAIL}"
    keyword = _KEYWORD.match(text)
    if isinstance(exc, TypeError) and keyword:
        api = _tensorplug_callable(keyword.group(1))
        if api is not None:
            return (f"tensorplug does not provide the keyword argument '{keyword.group(2)}' of {api} "
                    f"(used by {site}){_HELP_TAIL}")
    return None


def alias_active() -> bool:
    """Whether ``import torch`` gives tensorplug here (inside ``torch_alias`` or ``python -m tensorplug run``)."""
    return isinstance(sys.modules.get(_ALIAS), _TorchModule)


def run_module(name, args=()):
    """``python -m name args`` with ``torch`` aliased: ``torch.distributed.run`` runs tensorplug's launcher."""
    target = _target_name(name) if name == _ALIAS or name.startswith(_ALIAS + ".") else name
    old_argv = sys.argv
    sys.argv = [name, *args]
    try:
        with torch_alias():
            return runpy.run_module(target, run_name="__main__", alter_sys=True)
    finally:
        sys.argv = old_argv


def _is_runner_frame(filename):
    return filename.startswith("<frozen runpy") or filename == getattr(runpy, "__file__", None) or (
        not filename.startswith("<") and os.path.abspath(filename) == _HERE)


def main(argv=None) -> int:
    """``python -m tensorplug run script.py [args...]``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tensorplug run",
        description="Run a script written for PyTorch on tensorplug, unmodified: 'torch' and its "
                    "submodules (torch.nn, torch.optim, torch.utils.data, ...) resolve to tensorplug for "
                    "this run only. PyTorch APIs that tensorplug lacks fail with an error naming them.",
        epilog="The backend is chosen as usual: TENSORPLUG_BACKEND=<name> (default numpy).")
    parser.add_argument("-m", dest="module", action="store_true",
                        help="run the first argument as a module (python -m tensorplug run -m torch.distributed.run ...)")
    parser.add_argument("script", help="the Python file to run (the module with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not ns.module and not os.path.isfile(ns.script):
        sys.stderr.write(f"tensorplug run: can't open file '{ns.script}': no such file\n")
        return 2
    try:
        with _spawned_children_aliased():
            if ns.module:
                run_module(ns.script, ns.args)
            else:
                run_path(ns.script, ns.args)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException:
        exc_type, exc, tb = sys.exc_info()
        # hide the runner's own frames: the traceback starts in the user's script
        while tb is not None and _is_runner_frame(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        message = _missing_api_message(exc, tb)
        if message is not None:
            exc.args = (message,)
        traceback.print_exception(exc_type, exc, tb)
        return 1
    return 0
