"""Plugin discovery and backend selection.

Plugins come from the ``tensorplug`` entry-point group (read lazily, the first
time any registry is needed) and from ``TENSORPLUG_PLUGINS=mod1,mod2``.
Environment variables:

- ``TENSORPLUG_BACKEND``: the default backend (read once, on first use).
- ``TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1``: skip entry points (the NumPy
  backend, the last resort of selection, is still registered).
- ``TENSORPLUG_PLUGINS=a,b``: import and register these modules (a module that
  an installed entry point already loaded is not loaded twice).
- ``TENSORPLUG_DISABLE_PLUGINS=a,b``: skip these plugins (entry-point or module
  names), as pytest's ``-p no:name``; that also keeps their modules out of
  ``TENSORPLUG_PLUGINS`` (with a warning), and a name that matches no
  installed plugin gives a warning.
- ``TENSORPLUG_STRICT_PLUGINS=1``: a broken plugin raises instead of warning.

A plugin that is not loaded is never imported, not even to build an error
hint: hints name installed plugins from their entry-point metadata only.

Backend selection order: an explicit ``device=`` argument, then
``use_backend(...)``, then ``TENSORPLUG_BACKEND``, then ``numpy``.
"""
from __future__ import annotations

import contextlib
import contextvars
import difflib
import importlib
import keyword
import os
import sys
import warnings

from .device import device as _device
from .errors import BackendUnavailableError, PluginError

__all__ = ["get_backend", "default_backend", "use_backend", "backend_specs", "backend_status", "backend_of",
           "losses", "optimizers", "plugins", "unloaded_plugins", "missing_hint", "selection_reason", "reset"]

GROUP = "tensorplug"
DEFAULT_BACKEND = "numpy"
DEFAULT_MODULE = "tensorplug_numpy"

_current = contextvars.ContextVar("tensorplug_backend", default=None)


class PluginInfo:
    """One loaded (or failed) plugin: where it came from and what it gave."""

    __slots__ = ("name", "module", "distribution", "version", "error", "provides", "conflicts", "source")

    def __init__(self, name, module, distribution=None, version=None, source="entry point"):
        self.name = name
        self.module = module
        self.distribution = distribution
        self.version = version
        self.error = None
        self.provides = []
        self.conflicts = []
        self.source = source

    def label(self):
        if self.distribution:
            return f"plugin '{self.name}' (distribution {self.distribution} {self.version})"
        return f"plugin '{self.name}' (module {self.module}, not from an installed distribution)"

    def __repr__(self):
        state = f"error={self.error!r}" if self.error else f"provides={self.provides}"
        return f"<PluginInfo {self.name!r} from {self.distribution or self.module}: {state}>"


class _Registry:
    def __init__(self):
        self.reset()

    def reset(self):
        self.manager = None
        self.plugins = {}
        self._backends = None
        self._losses = None
        self._optimizers = None
        self._process_groups = None
        self._instances = {}
        # (kind, name) -> why a plugin's value for that name was rejected, for the missing-name error
        self.rejected = {}
        self._env_default = None
        self._env_reason = None
        self.seed = None
        self.num_threads = None

    # discovery ----------------------------------------------------------------
    def _load(self):
        if self.manager is not None:
            return self.manager
        import pluggy
        from . import hookspecs
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        self.manager = pm
        try:
            if not _flag("TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD"):
                for ep in _entry_points():
                    if _disabled_by(ep.name, ep.value):
                        continue
                    dist, version = _dist_of(ep)
                    self._register(PluginInfo(ep.name, ep.value, dist, version), ep.load)
            elif not _disabled_by(DEFAULT_BACKEND, DEFAULT_MODULE):
                # autoload off skips every entry point, but the documented last resort of
                # backend selection (numpy) stays, as pytest keeps its built-in plugins
                dist, version = _dist_of_module(DEFAULT_MODULE)
                info = PluginInfo(DEFAULT_BACKEND, DEFAULT_MODULE, dist, version,
                                  source="the built-in default (autoload is off)")
                self._register(info, lambda: importlib.import_module(DEFAULT_MODULE))
            self._load_named_modules()
            _warn_unmatched_disabled()
            # the hooks are called now, not at the first missing name: a claim on a built-in name
            # (optim.Adam) never reaches a lookup, and its warning must not wait for one
            self.backends()
            self.losses()
            self.optimizers()
        except PluginError:
            # strict mode: forget the half-done discovery so the next read raises again
            self.reset()
            raise
        return pm

    def _load_named_modules(self):
        """The modules of ``TENSORPLUG_PLUGINS``, unless ``TENSORPLUG_DISABLE_PLUGINS`` names them."""
        for module in _env_list("TENSORPLUG_PLUGINS"):
            blocked = _disabled_by(module, module) or _disabled_entry_point_of(module)
            if blocked:
                # disabling wins (as pytest's -p no:name), but both lists were written on purpose: say so
                warnings.warn(f"tensorplug: TENSORPLUG_PLUGINS names {module}, but TENSORPLUG_DISABLE_PLUGINS "
                              f"disables it (as '{blocked}'), so it is not loaded; remove '{blocked}' from "
                              f"TENSORPLUG_DISABLE_PLUGINS to load it, or {module} from TENSORPLUG_PLUGINS to "
                              f"silence this", RuntimeWarning, stacklevel=_outside_stacklevel())
                continue
            already = next((p for p in self.plugins.values() if p.module == module), None)
            if already is not None:
                # installed and named too (both documented steps): one plugin, loaded once
                already.source += " and TENSORPLUG_PLUGINS"
                continue
            dist, version = _dist_of_module(module)
            info = PluginInfo(module, module, dist, version, source="TENSORPLUG_PLUGINS")
            self._register(info, lambda module=module: importlib.import_module(module))

    def _register(self, info, load):
        if info.name in self.plugins:
            other = self.plugins[info.name]
            if other.module != info.module:
                self._broken(info, PluginError(
                    f"the plugin name '{info.name}' is already taken by {other.label()}; "
                    f"rename one of the entry points"), what="was skipped")
            return
        self.plugins[info.name] = info
        try:
            obj = load()
            _check_plugin(self.manager, obj)
            if self.manager.is_registered(obj):
                other = self.manager.get_name(obj)
                raise PluginError(f"its module {info.module} is already registered as plugin '{other}'")
            self.manager.register(obj, name=info.name)
            unknown = [hc.name for hc in self.manager.get_hookcallers(obj) or [] if not hc.has_spec()]
            if unknown:
                self.manager.unregister(obj)
                raise PluginError(f"unknown hook(s) {sorted(unknown)}; the hooks tensorplug calls are "
                                  f"{_hook_names()} (see tensorplug.hookspecs)")
        except Exception as exc:  # a broken plugin must not break tensorplug
            self._broken(info, exc)

    def _broken(self, info, exc, what="failed to load and was skipped"):
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if info.error is None and what.startswith("failed"):
            info.error = error
        if _flag("TENSORPLUG_STRICT_PLUGINS"):
            raise PluginError(
                f"tensorplug: {info.label()} is broken: {error}. Fix or uninstall the plugin; "
                f"TENSORPLUG_STRICT_PLUGINS=1 makes this an error (unset it to skip the plugin "
                f"with a warning)") from exc
        message = (f"tensorplug: {info.label()} {what}: {error}. Everything else keeps working; "
                   f"fix or uninstall the plugin (TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1 skips all "
                   f"plugins; TENSORPLUG_STRICT_PLUGINS=1 makes this an error)")
        warnings.warn(message, RuntimeWarning, stacklevel=_outside_stacklevel())

    def _collect(self, hook_name, what):
        """Call one hook plugin by plugin, so a failure or a bad value names its plugin.

        Plugins are asked in the order they were registered; the first to
        claim a name keeps it, and built-in names (``tensorplug.optim.Adam``)
        stay built-in.
        """
        pm = self._load()
        found = {}
        provided = []
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = self.plugins.get(impl.plugin_name) or PluginInfo(impl.plugin_name, impl.plugin_name)
            try:
                items = _as_items(impl.function(), what)
            except Exception as exc:
                self._broken(info, exc, what=f"failed in {hook_name}() and its {_PLURAL[what]} were skipped")
                continue
            for name, value in items:
                problem = _bad_value(what, name, value)
                if problem:
                    info.conflicts.append(f"{what} {name!r} (invalid: {problem})")
                    self.rejected[(what, name)] = (f"{info.label()} offered {what} '{name}', "
                                                   f"which was rejected: {problem}")
                    self._broken(info, PluginError(f"{hook_name}() gave {what} {name!r} = {value!r}: {problem}"),
                                 what=f"gave an invalid {what}, which was skipped")
                    continue
                builtin = _builtin_name(what, name, value)
                if builtin:
                    info.conflicts.append(f"{what} {name} (built in: {builtin})")
                    self._broken(info, PluginError(
                        f"{what} '{name}' is the built-in {builtin}; built-in names stay built-in, so "
                        f"the plugin's {name} is ignored: give it another name"),
                        what=f"claims a built-in {what} name")
                    continue
                if name in found:
                    other = found[name][1]
                    info.conflicts.append(f"{what} {name} (taken by plugin '{other.name}')")
                    self._broken(info, PluginError(
                        f"{what} '{name}' is already provided by {other.label()}; "
                        f"the one from {info.label()} is ignored"), what=f"claims a taken {what} name")
                    continue
                found[name] = (value, info)
                provided.append((info, f"{what} {name}"))
        for info, text in provided:  # after strict mode had its say, so a retry does not list twice
            info.provides.append(text)
        return found
    # registries -----------------------------------------------------------------
    def backends(self):
        self._load()  # discovery fills the registries itself: before the check, so never twice
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
        self._load()
        if self._losses is None:
            self._losses = {n: v for n, (v, _) in self._collect("tensorplug_add_losses", "loss").items()}
        return self._losses

    def optimizers(self):
        self._load()
        if self._optimizers is None:
            self._optimizers = {n: v for n, (v, _) in
                                self._collect("tensorplug_add_optimizers", "optimizer").items()}
        return self._optimizers

    def process_groups(self):
        self._load()
        if self._process_groups is None:
            found = self._collect("tensorplug_add_process_groups", "process group")
            for spec, info in found.values():
                spec.plugin = info.name
            self._process_groups = {name: spec for name, (spec, _) in found.items()}
        return self._process_groups

    def unloaded_plugins(self):
        """Installed plugins that are not loaded, from entry-point metadata only (nothing is imported).

        Returns ``[(PluginInfo, why), ...]``: ``why`` says what kept each one
        out and how to load it.
        """
        self._load()
        loaded = {info.module for info in self.plugins.values()}
        out = []
        for ep in _entry_points():
            if ep.value in loaded:
                continue
            dist, version = _dist_of(ep)
            info = PluginInfo(ep.name, ep.value, dist, version, source="not loaded")
            module = ep.value.partition(":")[0]
            entry = _disabled_by(ep.name, ep.value)
            if entry:
                why = f"TENSORPLUG_DISABLE_PLUGINS names it; remove '{entry}' from that list to load it"
            else:
                why = (f"plugin autoload is off (TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1); "
                       f"load it with TENSORPLUG_PLUGINS={module}")
            out.append((info, why))
        return out

    def missing_hint(self, kind, name, choices=()):
        """A sentence on how to get a missing backend/loss/optimizer ``name`` ('' when there is nothing to say).

        It says which plugin offered ``name`` and why it was rejected, lists
        the close matches among ``choices`` (the names that do exist), and
        names the installed plugins that are not loaded. Those come from
        entry-point metadata only: a plugin that is not loaded is never
        imported, so what it provides is unknown; they are ranked by how
        closely their names match ``name``.
        """
        if kind not in _HOOK_OF:
            raise ValueError(f"kind must be one of {sorted(_HOOK_OF)}, got {kind!r}")
        self._load()
        parts = []
        rejected = self.rejected.get((kind, name))
        if rejected:
            parts.append(rejected)
        close = difflib.get_close_matches(name, sorted(set(choices)), n=5, cutoff=0.6)
        if close:
            parts.append(f"close matches: {', '.join(close)}")
        unloaded = [info for info, _ in self.unloaded_plugins()]
        if unloaded:
            parts.append(_unloaded_hint(kind, name, unloaded))
        return "; ".join(parts)

    # backends -------------------------------------------------------------------
    def spec(self, name):
        specs = self.backends()
        if name in specs:
            return specs[name]
        by_type = sorted((s for s in specs.values() if s.device_type == name),
                         key=lambda s: -s.priority)
        if by_type:
            return by_type[0]
        if name == "meta":
            raise NotImplementedError(
                "tensorplug does not provide meta tensors (device='meta': shapes and dtypes without storage); "
                "build the model on the CPU (device='cpu'), or load a checkpoint into a model made there")
        raise ValueError(self._unknown_message(name, specs))

    def _unknown_message(self, name, specs):
        available = sorted(specs)
        types = sorted({s.device_type for s in specs.values()})
        parts = [f"unknown backend '{name}': expected one of {available} (or a device type: {types})"]
        hint = self.missing_hint("backend", name)
        if hint:
            parts.append(hint)
        broken = [info for info in self.plugins.values() if info.error]
        if broken:
            parts.append("these plugins failed to load: " +
                         "; ".join(f"{info.label()}: {info.error}" for info in broken))
        if os.environ.get("TENSORPLUG_BACKEND", "").strip() == name:
            parts.append(f"TENSORPLUG_BACKEND={name} names it: set it to one of {available} "
                         f"or unset it (the default is {DEFAULT_BACKEND})")
        elif not hint:
            parts.append("install the plugin that provides it, or pick one of the available backends")
        return "; ".join(parts)

    def instance(self, spec, index):
        key = (spec.name, index)
        backend = self._instances.get(key)
        if backend is None:
            reason = _probe(spec)
            if reason:
                raise BackendUnavailableError(
                    f"backend '{spec.name}' ({spec.device_type}) is unavailable: {reason}. "
                    f"TENSORPLUG_BACKEND=numpy (the CPU) works everywhere")
            try:
                backend = spec.factory(index)
            except Exception as exc:
                raise BackendUnavailableError(
                    f"backend '{spec.name}' ({spec.device_type}) from {_spec_origin(spec, self.plugins)} could not be created: "
                    f"its factory raised {type(exc).__name__}: {exc}. Fix or uninstall the plugin; "
                    f"TENSORPLUG_BACKEND=numpy (the CPU) works everywhere") from exc
            from .backend import Backend
            if not isinstance(backend, Backend):
                # the frontend calls the protocol's optional methods unconditionally: the base class
                # supplies their defaults
                raise TypeError(f"backend '{spec.name}' from {_spec_origin(spec, self.plugins)}: the factory returned "
                                f"{type(backend).__name__}, which is not a tensorplug.Backend; subclass "
                                f"tensorplug.ArrayAPIBackend (or tensorplug.Backend)")
            if self.seed is not None:
                backend.manual_seed(self.seed)
            if self.num_threads is not None and hasattr(backend, "set_num_threads"):
                backend.set_num_threads(self.num_threads)
            self._instances[key] = backend
        return backend

    def env_default(self):
        if self._env_default is None:
            name = os.environ.get("TENSORPLUG_BACKEND", "").strip()
            if name:
                reason = f"TENSORPLUG_BACKEND={name} is set"
            else:
                name = DEFAULT_BACKEND
                reason = f"the default ({DEFAULT_BACKEND}; TENSORPLUG_BACKEND is not set)"
            self._env_default = self.resolve(name)
            self._env_reason = reason
        return self._env_default

    def resolve(self, name):
        """A backend from a backend name, a device type or a device string like ``cuda:1``."""
        text = str(name)
        base, _, index = text.partition(":")
        spec = self.spec(base)
        if index:
            if not index.isdigit():
                raise RuntimeError(f"Invalid device string: '{text}': the index must be a non-negative integer")
            index = int(index)
        else:
            index = name.index if isinstance(name, _device) else None
        if spec.device_type != "cpu" and index is None:
            # a bare 'cuda' means the current device (tensorplug.cuda.set_device)
            cuda = sys.modules.get("tensorplug.cuda") if spec.device_type == "cuda" else None
            index = cuda._state.get("current", 0) if cuda is not None else 0
        return self.instance(spec, index)


REGISTRY = _Registry()


_HOOK_OF = {"backend": "tensorplug_add_backends", "loss": "tensorplug_add_losses",
            "optimizer": "tensorplug_add_optimizers", "process group": "tensorplug_add_process_groups"}
_PLURAL = {"backend": "backends", "loss": "losses", "optimizer": "optimizers", "process group": "process groups"}


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_list(name):
    return [m.strip() for m in os.environ.get(name, "").split(",") if m.strip()]


def _entry_points():
    """The ``tensorplug`` entry points, this distribution's first, then by name (deterministic)."""
    try:
        from importlib.metadata import entry_points
    except ImportError:  # pragma: no cover - very old environments
        from importlib_metadata import entry_points
    seen = {}
    for ep in entry_points(group=GROUP):
        seen.setdefault((ep.name, ep.value), ep)  # the same path twice on sys.path lists it twice
    return sorted(seen.values(), key=lambda ep: (_dist_of(ep)[0] != "tensorplug", ep.name))


def _dist_of(ep):
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _dist_of_module(module):
    """The installed distribution that ships a top-level module (None for a loose module)."""
    try:
        from importlib.metadata import packages_distributions, version
        names = packages_distributions().get(module.split(".")[0])
        if names:
            return names[0], version(names[0])
    except Exception:
        pass
    return None, None


def _hook_names():
    from . import hookspecs
    return sorted(n for n in dir(hookspecs) if n.startswith("tensorplug_"))


def _check_plugin(pm, obj):
    """Hooks spelled right but not marked ``@tensorplug.hookimpl`` would be silently ignored."""
    unmarked = [n for n in _hook_names()
                if callable(getattr(obj, n, None)) and pm.parse_hookimpl_opts(obj, n) is None]
    if unmarked:
        raise PluginError(f"{unmarked} defined without the @tensorplug.hookimpl marker, "
                          f"so tensorplug would never call them; decorate them with @tensorplug.hookimpl")


def _outside_stacklevel():
    """The ``stacklevel`` that points a warning at the first caller outside tensorplug."""
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(2)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(here):
        frame = frame.f_back
        level += 1
    return level


def _spec_origin(spec, plugins):
    info = plugins.get(spec.plugin)
    if info is not None:
        return info.label()
    return f"plugin '{spec.plugin}'" if spec.plugin else "its plugin"


def _probe(spec):
    try:
        return spec.probe()
    except Exception as exc:  # a probe must not raise; if it does, that is the reason
        return f"its availability probe raised {type(exc).__name__}: {exc}"


def _as_items(result, what):
    """The ``(name, value)`` pairs a hook returned (each checked later by ``_bad_value``)."""
    if result is None:
        return []
    if what == "backend":
        from .backend import BackendSpec
        if isinstance(result, (BackendSpec, str)) or not hasattr(result, "__iter__"):
            raise TypeError(f"{_HOOK_OF[what]}() must return a list of BackendSpec, got {type(result).__name__}")
        return [(getattr(spec, "name", None), spec) for spec in result]
    if what == "process group":
        if isinstance(result, str) or not hasattr(result, "__iter__"):
            raise TypeError(f"{_HOOK_OF[what]}() must return a list of ProcessGroupSpec, got {type(result).__name__}")
        return [(getattr(spec, "name", None), spec) for spec in result]
    if not hasattr(result, "items"):
        raise TypeError(f"{_HOOK_OF[what]}() must return a mapping of name -> class, got {type(result).__name__}")
    return list(result.items())


def _bad_value(what, name, value):
    """Why one hook value is unusable, or None: each becomes tensorplug.nn.<name> / optim.<name> / a backend."""
    if what == "backend":
        from .backend import BackendSpec
        if not isinstance(value, BackendSpec):
            return f"expected a tensorplug.BackendSpec, got {type(value).__name__}"
        if not isinstance(value.device_type, str) or not value.device_type.isidentifier():
            return f"device_type must be an identifier like 'cpu', got {value.device_type!r}"
        if not callable(value.factory):
            return f"factory must be callable (factory(index) -> Backend), got {type(value.factory).__name__}"
    if what == "process group":
        return _bad_process_group(value)
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        return f"the name must be a public Python identifier (like 'HuberLoss'), got {name!r}"
    if what == "backend":
        return None
    base, base_name = _base_class(what)
    if isinstance(value, base):
        cls = type(value).__name__
        return (f"expected a class (a subclass of {base_name}), got an instance of {cls}; "
                f"return the class itself ({cls}, not {cls}())")
    if not isinstance(value, type):
        return f"expected a class (a subclass of {base_name}), got {type(value).__name__}"
    if not issubclass(value, base):
        return f"expected a subclass of {base_name}, got the class {value.__qualname__}"
    return None


def _bad_process_group(spec):
    from .distributed.process_group import ProcessGroupSpec
    if not isinstance(spec, ProcessGroupSpec):
        return f"expected a tensorplug.distributed.ProcessGroupSpec, got {type(spec).__name__}"
    names = [spec.name, *spec.aliases]
    if not all(isinstance(n, str) and n.isidentifier() for n in names):
        return f"the name and aliases must be identifiers like 'mpi', got {names!r}"
    types = spec.device_types
    if isinstance(types, str) or not all(isinstance(t, str) and t.isidentifier() for t in types):
        return f"device_types must be a tuple of device types like ('cpu',), got {types!r}"
    if not callable(spec.factory):
        return f"factory must be callable (factory(rank, world_size, timeout, init_method)), got {spec.factory!r}"
    return None


def _base_class(what):
    if what == "loss":
        from .nn import Module
        return Module, "tensorplug.nn.Module"
    from .optim import Optimizer
    return Optimizer, "tensorplug.optim.Optimizer"


def _builtin_name(what, name, value):
    """``"tensorplug.optim.Adam"`` when a plugin claims a built-in name, else None."""
    module = {"loss": "tensorplug.nn", "optimizer": "tensorplug.optim"}.get(what)
    if module is None:
        return None
    present = vars(importlib.import_module(module)).get(name, value)
    # tensorplug.nn caches the plugin losses it has handed out: that is not a built-in
    return None if present is value else f"{module}.{name}"


def _listing(infos, limit=8):
    shown = [f"{info.label()[:-1]}, module {info.module})" if info.distribution else info.label()
             for info in infos[:limit]]
    if len(infos) > limit:
        shown.append(f"and {len(infos) - limit} more (python -m tensorplug info lists them)")
    return ", ".join(shown)


def _disabled_by(name, module):
    """The entry of TENSORPLUG_DISABLE_PLUGINS, as the user wrote it, that names this plugin (or None)."""
    for entry in _env_list("TENSORPLUG_DISABLE_PLUGINS"):
        if entry in (name, module, module.partition(":")[0]):
            return entry
    return None


def _disabled_entry_point_of(module):
    """The disabling entry for an installed plugin whose entry point loads ``module`` (metadata only)."""
    if not _env_list("TENSORPLUG_DISABLE_PLUGINS"):
        return None
    for ep in _entry_points():
        if module in (ep.value, ep.value.partition(":")[0]):
            entry = _disabled_by(ep.name, ep.value)
            if entry:
                return entry
    return None


def _warn_unmatched_disabled():
    """A name in TENSORPLUG_DISABLE_PLUGINS that matches no plugin disables nothing: a typo, most likely."""
    entries = _env_list("TENSORPLUG_DISABLE_PLUGINS")
    if not entries:
        return
    eps = _entry_points()
    known = {DEFAULT_BACKEND, DEFAULT_MODULE, *_env_list("TENSORPLUG_PLUGINS")}
    for ep in eps:
        known.update((ep.name, ep.value, ep.value.partition(":")[0]))
    names = sorted({ep.name for ep in eps} | {DEFAULT_BACKEND})
    for entry in entries:
        if entry in known:
            continue
        close = difflib.get_close_matches(entry, sorted(known), n=3, cutoff=0.6)
        guess = f" (close matches: {', '.join(close)})" if close else ""
        warnings.warn(f"tensorplug: TENSORPLUG_DISABLE_PLUGINS names '{entry}', which matches no installed plugin, "
                      f"so it disables nothing{guess}; the installed plugins are {names} (entry-point names; "
                      f"their module names work too, as does a module of TENSORPLUG_PLUGINS)",
                      RuntimeWarning, stacklevel=_outside_stacklevel())


def _match_score(name, info):
    """How closely a plugin's names (entry point, module, distribution) match a missing name, 0..1."""
    target = name.lower()
    keys = {info.name, info.module.partition(":")[0].split(".")[0], info.distribution or ""}
    best = 0.0
    for key in keys:
        key = key.lower()
        for prefix in ("tensorplug_", "tensorplug-", "tp_", "tp-"):
            key = key[len(prefix):] if key.startswith(prefix) else key
        if key == target:
            return 1.0
        if len(key) >= 3 and (key in target or target in key):
            # 'tiny' in 'tinysgd': strong, and stronger the more of the longer name it covers
            best = max(best, 0.8 + 0.2 * min(len(key), len(target)) / max(len(key), len(target)))
        elif key:
            best = max(best, difflib.SequenceMatcher(None, target, key).ratio())
    return best


def _unloaded_hint(kind, name, unloaded):
    """The installed plugins that are not loaded, ranked by name match; one suggested only if it stands out."""
    # a weak resemblance ranks nothing: below 0.6, third-party plugins first, then by name
    scores = {info.name: score if (score := _match_score(name, info)) >= 0.6 else 0.0 for info in unloaded}
    unloaded = sorted(unloaded, key=lambda info: (-scores[info.name], info.distribution == "tensorplug", info.name))
    ranked = [scores[info.name] for info in unloaded]
    order = ("ranked by how closely their names match" if ranked[0] else f"none of them named like '{name}'")
    # "e.g." only for a plugin whose name clearly matches and matches better than every other one
    best = unloaded[0] if ranked[0] and (len(ranked) == 1 or ranked[0] > ranked[1]) else None
    parts = [f"no loaded plugin provides {kind} '{name}'"]
    disabled = [info for info in unloaded if _disabled_by(info.name, info.module)]
    skipped = [info for info in unloaded if info not in disabled]
    unknown = "what an unloaded plugin provides is unknown until it is loaded (nothing is imported to find out)"
    if disabled:
        only = best if best in disabled else disabled[0] if len(disabled) == 1 else None
        entry = _disabled_by(only.name, only.module) if only else None  # quoted as the user wrote it
        match = f" (its name matches '{name}')" if only is best else ""
        way = (f"remove '{entry}' from that list to load it{match}" if entry else
               "remove a plugin's entry from that list to load it")
        parts.append(f"plugins disabled by TENSORPLUG_DISABLE_PLUGINS ({order}): {_listing(disabled)}; {way}")
    if skipped:
        example = (f", e.g. TENSORPLUG_PLUGINS={best.module.partition(':')[0]} (its name matches '{name}')"
                   if best in skipped else "")
        parts.append(f"installed plugins not loaded because plugin autoload is off "
                     f"(TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1; {order}): {_listing(skipped)}; "
                     f"load one with TENSORPLUG_PLUGINS=<its module>{example}")
    parts.append(unknown)
    return "; ".join(parts)


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
    try:
        current = default_backend()
    except (ValueError, BackendUnavailableError):
        # a bad TENSORPLUG_BACKEND must not break an explicit device= that is fine
        return REGISTRY.resolve(device)
    text = str(device)
    if text == current.device_type or text == current.name or text == str(current.device):
        return current
    return REGISTRY.resolve(device)


def selection_reason(device=None):
    """Which rule chose the backend for ``device`` (None: the default backend), in words.

    The order is: an explicit ``device=`` argument, then ``use_backend(...)``,
    then ``TENSORPLUG_BACKEND``, then the default, numpy.
    """
    if device is not None:
        return f"an explicit device= argument ({device})"
    if _current.get() is not None:
        return f"tensorplug.use_backend({_current.get().name!r}) is active"
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


def process_groups():
    """Communication backends for tensorplug.distributed that plugins add, by name."""
    return dict(REGISTRY.process_groups())


def plugins():
    """Every plugin seen, loaded or broken, by name (loads them if needed)."""
    REGISTRY._load()
    return dict(REGISTRY.plugins)


def backend_status():
    """``{name: None or the reason it cannot run here}`` for every registered backend."""
    return {name: _probe(spec) for name, spec in sorted(REGISTRY.backends().items())}


def unloaded_plugins():
    """Installed plugins that are not loaded, as ``[(PluginInfo, why), ...]``, read from metadata only."""
    return REGISTRY.unloaded_plugins()


def backend_of(tensor):
    """The backend that holds ``tensor``'s data.

    Two backends can serve one device type (``device(type='cpu')`` for both);
    this tells them apart. Move a tensor to another backend by name with
    ``tensor.to("name")`` (or ``tensor.to(backend)``), which is differentiable.

    Example:
        >>> tensorplug.registry.backend_of(tensorplug.zeros(2)).name
        'numpy'
    """
    backend = getattr(tensor, "_backend", None)
    if backend is None:
        raise TypeError(f"backend_of() expected a tensorplug.Tensor, got {type(tensor).__name__}")
    return backend


def missing_hint(kind, name, choices=()):
    """How to get a missing backend/loss/optimizer ``name``, as a sentence ('' when there is nothing to say).

    ``choices`` are the names that do exist: the close matches among them are listed.
    """
    return REGISTRY.missing_hint(kind, name, choices)


def manual_seed(seed):
    """Seed every backend's generator, and those created later."""
    seed = int(seed)
    REGISTRY.seed = seed
    for backend in REGISTRY._instances.values():
        backend.manual_seed(seed)


def reset():
    """Forget every plugin and backend, so environment variables are read again (for tests)."""
    REGISTRY.reset()
