"""Plugin discovery and backend selection.

Plugins come from the ``tensorplug`` entry-point group (read lazily, the first
time any registry is needed) and from ``TENSORPLUG_PLUGINS=mod1,mod2``.
Environment variables:

- ``TENSORPLUG_BACKEND``: the default backend (read once, on first use).
- ``TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1``: skip entry points.
- ``TENSORPLUG_PLUGINS=a,b``: import and register these modules.
- ``TENSORPLUG_STRICT_PLUGINS=1``: a broken plugin raises instead of warning.

Backend selection order: an explicit ``device=`` argument, then
``use_backend(...)``, then ``TENSORPLUG_BACKEND``, then ``numpy``.
"""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import warnings

from .errors import BackendUnavailableError, PluginError

__all__ = ["get_backend", "default_backend", "use_backend", "backend_specs",
           "losses", "optimizers", "plugins", "selection_reason", "reset"]

GROUP = "tensorplug"
DEFAULT_BACKEND = "numpy"

_current = contextvars.ContextVar("tensorplug_backend", default=None)


class PluginInfo:
    """One loaded (or failed) plugin: where it came from and what it gave."""

    __slots__ = ("name", "module", "distribution", "version", "error", "provides")

    def __init__(self, name, module, distribution=None, version=None):
        self.name = name
        self.module = module
        self.distribution = distribution
        self.version = version
        self.error = None
        self.provides = []

    def label(self):
        if self.distribution:
            return f"plugin '{self.name}' (distribution {self.distribution} {self.version})"
        return f"plugin '{self.name}'"


class _Registry:
    def __init__(self):
        self.reset()

    def reset(self):
        self.manager = None
        self.plugins = {}
        self._backends = None
        self._losses = None
        self._optimizers = None
        self._instances = {}
        self._env_default = None
        self._env_reason = None
        self.seed = None

    # discovery ----------------------------------------------------------------
    def _load(self):
        if self.manager is not None:
            return self.manager
        import pluggy
        from . import hookspecs
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        self.manager = pm
        if not _flag("TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD"):
            for ep in _entry_points():
                dist = getattr(ep, "dist", None)
                info = PluginInfo(ep.name, ep.value,
                                  dist.metadata["Name"] if dist else None,
                                  dist.version if dist else None)
                self._register(info, ep.load)
        for module in filter(None, (m.strip() for m in os.environ.get("TENSORPLUG_PLUGINS", "").split(","))):
            info = PluginInfo(module, module)
            self._register(info, lambda module=module: importlib.import_module(module))
        return pm

    def _register(self, info, load):
        if info.name in self.plugins:
            return
        self.plugins[info.name] = info
        try:
            obj = load()
            unknown = [n for n in dir(obj) if n.startswith("tensorplug_") and callable(getattr(obj, n))
                       and not hasattr(self.manager.hook, n)]
            if unknown:
                raise PluginError(f"unknown hook(s) {unknown}; the hooks are listed in tensorplug.hookspecs")
            self.manager.register(obj, name=info.name)
        except Exception as exc:  # a broken plugin must not break tensorplug
            self._broken(info, exc)

    def _broken(self, info, exc):
        info.error = f"{type(exc).__name__}: {exc}"
        message = (f"tensorplug: {info.label()} failed to load and was skipped: {info.error}. "
                   f"Fix or uninstall it; set TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1 to skip all plugins")
        if _flag("TENSORPLUG_STRICT_PLUGINS"):
            raise PluginError(message) from exc
        warnings.warn(message, RuntimeWarning, stacklevel=4)

    def _collect(self, hook_name, what):
        """Call one hook plugin by plugin, so a failure or a name clash names its plugin."""
        pm = self._load()
        found = {}
        for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
            info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, impl.plugin_name)
            try:
                result = impl.function()
                items = _as_items(result, what)
            except Exception as exc:
                self._broken(info, exc)
                continue
            for name, value in items:
                if name in found:
                    other = found[name][1]
                    exc = PluginError(f"{what} '{name}' is already provided by {other.label()}")
                    self._broken(info, exc)
                    continue
                found[name] = (value, info)
                info.provides.append(f"{what} {name}")
        return found

    # registries -----------------------------------------------------------------
    def backends(self):
        if self._backends is None:
            found = self._collect("tensorplug_add_backends", "backend")
            specs = {}
            for name, (spec, info) in found.items():
                spec.plugin = info.name
                spec.distribution = info.distribution
                specs[name] = spec
            self._backends = specs
        return self._backends

    def losses(self):
        if self._losses is None:
            self._losses = {n: v for n, (v, _) in self._collect("tensorplug_add_losses", "loss").items()}
        return self._losses

    def optimizers(self):
        if self._optimizers is None:
            self._optimizers = {n: v for n, (v, _) in
                                self._collect("tensorplug_add_optimizers", "optimizer").items()}
        return self._optimizers

    def provider_of(self, kind, name):
        """Which installed-but-disabled plugin would provide ``name`` (for error messages)."""
        for ep in _entry_points():
            if ep.name == "extras" and kind in ("loss", "optimizer"):
                return f"{ep.value} (entry point '{ep.name}')"
        return None

    # backends -------------------------------------------------------------------
    def spec(self, name):
        specs = self.backends()
        if name in specs:
            return specs[name]
        by_type = sorted((s for s in specs.values() if s.device_type == name),
                         key=lambda s: -s.priority)
        if by_type:
            return by_type[0]
        available = sorted(specs)
        raise ValueError(f"unknown backend '{name}': expected one of {available} "
                         f"(or a device type: {sorted({s.device_type for s in specs.values()})}); "
                         f"install the plugin that provides it or unset TENSORPLUG_BACKEND")

    def instance(self, spec, index):
        key = (spec.name, index)
        backend = self._instances.get(key)
        if backend is None:
            reason = spec.probe()
            if reason:
                raise BackendUnavailableError(
                    f"backend '{spec.name}' ({spec.device_type}) is unavailable: {reason}. "
                    f"TENSORPLUG_BACKEND=numpy (the CPU) works everywhere")
            backend = spec.factory(index)
            if self.seed is not None:
                backend.manual_seed(self.seed)
            self._instances[key] = backend
        return backend

    def env_default(self):
        if self._env_default is None:
            name = os.environ.get("TENSORPLUG_BACKEND", "").strip()
            if name:
                self._env_reason = f"TENSORPLUG_BACKEND={name}"
            else:
                name = DEFAULT_BACKEND
                self._env_reason = "the default (TENSORPLUG_BACKEND is not set)"
            self._env_default = self.resolve(name)
        return self._env_default

    def resolve(self, name):
        """A backend from a backend name, a device type or a device string like ``cuda:1``."""
        text = str(name)
        base, _, index = text.partition(":")
        spec = self.spec(base)
        if index:
            if not index.isdigit():
                raise RuntimeError(f"Invalid device string: '{text}'")
            index = int(index)
        else:
            index = getattr(name, "index", None)
        if spec.device_type != "cpu" and index is None:
            index = 0
        return self.instance(spec, index)


REGISTRY = _Registry()


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _entry_points():
    try:
        from importlib.metadata import entry_points
        return list(entry_points(group=GROUP))
    except Exception:  # pragma: no cover - very old environments
        import importlib_metadata
        return list(importlib_metadata.entry_points(group=GROUP))


def _as_items(result, what):
    if result is None:
        return []
    if what == "backend":
        from .backend import BackendSpec
        result = list(result)
        for spec in result:
            if not isinstance(spec, BackendSpec):
                raise TypeError(f"tensorplug_add_backends must return BackendSpec objects, got {spec!r}")
        return [(s.name, s) for s in result]
    if not hasattr(result, "items"):
        raise TypeError(f"tensorplug_add_{what}s must return a mapping of name -> class, got {type(result).__name__}")
    return list(result.items())


# public API ---------------------------------------------------------------------

def default_backend():
    """The backend new tensors go to when no ``device=`` is given."""
    backend = _current.get()
    if backend is not None:
        return backend
    backend = REGISTRY._env_default
    if backend is None:
        backend = REGISTRY.env_default()
    return backend


def get_backend(device=None):
    """The backend for ``device`` (a device, a device string, a backend name, or None for the default)."""
    if device is None:
        return default_backend()
    if hasattr(device, "xp"):
        return device
    current = default_backend()
    text = str(device)
    if text == current.device_type or text == current.name or text == str(current.device):
        return current
    return REGISTRY.resolve(device)


def selection_reason():
    """Which rule chose the current default backend, in words."""
    if _current.get() is not None:
        return "tensorplug.use_backend(...) is active"
    REGISTRY.env_default()
    return REGISTRY._env_reason


@contextlib.contextmanager
def use_backend(name):
    """Make ``name`` (a backend name or device) the default inside a ``with`` block.

    Example:
        >>> with use_backend("numpy"):
        ...     x = tensorplug.zeros(3)
    """
    token = _current.set(get_backend(name) if not hasattr(name, "xp") else name)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def backend_specs():
    """Every registered backend spec, by name."""
    return dict(REGISTRY.backends())


def losses():
    """Loss classes that plugins add, by name."""
    return dict(REGISTRY.losses())


def optimizers():
    """Optimizer classes that plugins add, by name."""
    return dict(REGISTRY.optimizers())


def plugins():
    """Every plugin seen, loaded or broken (loads them if needed)."""
    REGISTRY._load()
    return dict(REGISTRY.plugins)


def manual_seed(seed):
    """Seed every backend's generator, and those created later."""
    seed = int(seed)
    REGISTRY.seed = seed
    for backend in REGISTRY._instances.values():
        backend.manual_seed(seed)


def reset():
    """Forget every plugin and backend, so environment variables are read again (for tests)."""
    REGISTRY.reset()
