"""The ``tensorplug`` command: ``python -m tensorplug info | demo | run``.

``info`` shows versions, the selected backend and why, every backend with its
availability, and every plugin with its distribution. ``demo`` and ``run``
hand over to ``tensorplug.demo`` and ``tensorplug.runner``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import warnings

__all__ = ["main", "collect_info"]

_ENV_VARS = ("TENSORPLUG_BACKEND", "TENSORPLUG_PLUGINS", "TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD",
             "TENSORPLUG_DISABLE_PLUGINS", "TENSORPLUG_STRICT_PLUGINS")

# subcommand -> (module, what it does); each module has main(argv) -> int
_DELEGATED = {
    "demo": ("tensorplug.demo", "train a small model end to end and report (see --help of demo)"),
    "run": ("tensorplug.runner", "run a PyTorch script with 'torch' aliased to tensorplug for one run"),
}


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def collect_info():
    """Everything ``info`` prints, as a JSON-able dict (exceptions become messages)."""
    import os

    import tensorplug
    from tensorplug import registry

    info = {
        "versions": {"tensorplug": tensorplug.__version__, "python": platform.python_version(),
                     "numpy": _version("numpy"), "pluggy": _version("pluggy")},
        "environment": {name: os.environ[name] for name in _ENV_VARS if name in os.environ},
        "selected": None, "selected_reason": None, "error": None,
        "backends": [], "process_groups": [], "plugins": [], "not_loaded": [], "losses": [], "optimizers": [],
    }
    with warnings.catch_warnings():
        # broken plugins are listed below with their error; no need to warn twice
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            specs = registry.backend_specs()
            status = registry.backend_status()
            info["losses"] = sorted(registry.losses())
            info["optimizers"] = sorted(registry.optimizers())
            groups = registry.process_groups()
        except Exception as exc:  # strict mode: the broken plugin is the answer
            info["error"] = f"{type(exc).__name__}: {exc}"
            return info
        for name, spec in sorted(specs.items()):
            info["backends"].append({"name": name, "device_type": spec.device_type,
                                     "available": status[name] is None, "reason": status[name],
                                     "plugin": spec.plugin, "distribution": spec.distribution})
        for name, spec in sorted(groups.items()):
            reason = spec.why_unavailable()
            info["process_groups"].append({"name": name, "aliases": list(spec.aliases),
                                           "device_types": list(spec.device_types), "available": reason is None,
                                           "reason": reason, "plugin": spec.plugin})
        for name, plugin in sorted(registry.plugins().items()):
            info["plugins"].append({"name": name, "module": plugin.module, "source": plugin.source,
                                    "distribution": plugin.distribution, "version": plugin.version,
                                    "provides": list(plugin.provides), "conflicts": list(plugin.conflicts),
                                    "error": plugin.error})
        for plugin, why in registry.unloaded_plugins():  # from metadata: nothing is imported
            info["not_loaded"].append({"name": plugin.name, "module": plugin.module,
                                       "distribution": plugin.distribution, "version": plugin.version,
                                       "why": why})
        try:
            backend = registry.default_backend()
            info["selected"] = {"name": backend.name, "device": str(backend.device)}
            info["selected_reason"] = registry.selection_reason()
        except Exception as exc:
            info["error"] = str(exc)
    return info


def _print_info(info, out):
    w = out.write
    v = info["versions"]
    w(f"tensorplug {v['tensorplug']}  (python {v['python']}, numpy {v['numpy'] or 'not installed'}, "
      f"pluggy {v['pluggy'] or 'not installed'})\n\n")
    if info["selected"]:
        sel = info["selected"]
        w(f"selected backend: {sel['name']} on {sel['device']}\n")
        w(f"  because: {info['selected_reason']}\n")
        w("  order: device= argument > tensorplug.use_backend(...) > TENSORPLUG_BACKEND > numpy\n")
    if info["error"]:
        w(f"selected backend: NONE\n  error: {info['error']}\n")
    w("\nbackends:\n")
    if not info["backends"]:
        w("  (none registered)\n")
    width = max([len(b["name"]) for b in info["backends"]] + [4])
    tw = max([len(b["device_type"]) for b in info["backends"]] + [4])
    for b in info["backends"]:
        state = "available" if b["available"] else f"UNAVAILABLE: {b['reason']}"
        w(f"  {b['name']:<{width}}  {b['device_type']:<{tw}}  {state}  (plugin '{b['plugin']}')\n")
    w("\ndistributed backends (init_process_group(backend=...)):\n")
    if not info["process_groups"]:
        w("  (none registered)\n")
    for g in info["process_groups"]:
        names = "/".join([g["name"], *g["aliases"]])
        state = "available" if g["available"] else f"UNAVAILABLE: {g['reason']}"
        w(f"  {names}  {','.join(g['device_types'])}  {state}  (plugin '{g['plugin']}')\n")
    w("\nplugins:\n")
    if not info["plugins"]:
        w("  (none loaded)\n")
    width = max([len(p["name"]) for p in info["plugins"]] + [4])
    for p in info["plugins"]:
        origin = f"{p['distribution']} {p['version']}" if p["distribution"] else "no distribution"
        w(f"  {p['name']:<{width}}  {origin}, module {p['module']} (via {p['source']})\n")
        if p["error"]:
            w(f"  {'':<{width}}  BROKEN, skipped: {p['error']}\n")
        else:
            w(f"  {'':<{width}}  provides: {', '.join(p['provides']) or 'nothing'}\n")
        if p["conflicts"]:
            w(f"  {'':<{width}}  ignored: {', '.join(p['conflicts'])}\n")
    if info["not_loaded"]:
        w("\ninstalled plugins not loaded:\n")
        for p in info["not_loaded"]:
            origin = f"{p['distribution']} {p['version']}" if p["distribution"] else "no distribution"
            w(f"  {p['name']}  {origin}, module {p['module']}: {p['why']}\n")
    if info["losses"] or info["optimizers"]:
        w(f"\nplugin losses: {', '.join(info['losses']) or '-'}\n")
        w(f"plugin optimizers: {', '.join(info['optimizers']) or '-'}\n")
    if info["environment"]:
        w("\nenvironment:\n")
        for name, value in info["environment"].items():
            w(f"  {name}={value}\n")


def _info(args):
    info = collect_info()
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_info(info, sys.stdout)
    if info["error"]:
        sys.stderr.write(f"tensorplug: error: {info['error']}\n")
        return 1
    return 0


def _delegate(command, argv):
    module_name, _ = _DELEGATED[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        sys.stderr.write(f"tensorplug: '{command}' is not available in this installation "
                         f"({module_name} is missing); 'python -m tensorplug info' works\n")
        return 2
    return module.main(argv)


def _parser():
    parser = argparse.ArgumentParser(
        prog="tensorplug",
        description="tensorplug: a PyTorch-style deep-learning library whose backends are plugins.",
        epilog="Environment: TENSORPLUG_BACKEND=<name> picks the default backend; "
               "TENSORPLUG_PLUGINS=mod1,mod2 loads plugin modules; "
               "TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD=1 skips entry points; "
               "TENSORPLUG_DISABLE_PLUGINS=a,b skips the named plugins; "
               "TENSORPLUG_STRICT_PLUGINS=1 makes a broken plugin an error.")
    sub = parser.add_subparsers(dest="command", metavar="{info,demo,run}")
    info = sub.add_parser("info", help="versions, the selected backend and why, backends, plugins",
                          description="Show versions, the selected backend and the rule that chose it, "
                                      "every backend with its availability, and every plugin with its "
                                      "distribution. Exits 1 when no backend can be selected.")
    info.add_argument("--json", action="store_true", help="print the same facts as JSON")
    for name, (module, text) in _DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv=None) -> int:
    """Entry point of ``python -m tensorplug`` and the ``tensorplug`` script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        # demo/run parse their own arguments (and their own --help)
        return _delegate(argv[0], argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        try:
            return _info(args)
        except BrokenPipeError:  # `tensorplug info | head`: the reader left; not an error
            import os
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
