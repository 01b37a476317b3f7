"""``tensorplug.jit``: TorchScript's spellings, so scripts that use them run eagerly.

``script``, ``trace``, ``ignore``, ``unused``, ``export``, ``interface`` and
``Final`` behave as ``tensorplug.compile`` does: they return the eager object,
which is what runs (tensorplug has no graph compiler). What only a compiled
graph can do (``save``, ``load``, ``freeze``, ``fork``...) raises
NotImplementedError naming the function.
"""
from __future__ import annotations

import typing

from ._stubs import unsupported
from .nn import Module as _Module

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "interface", "Final", "Attribute",
           "annotate", "is_scripting", "is_tracing", "script_if_tracing", "ScriptModule", "ScriptFunction",
           "script_method", "TracerWarning", "save", "load", "freeze", "optimize_for_inference", "fork", "wait",
           "enable_onednn_fusion"]

Final = typing.Final


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns ``obj`` itself: the eager module or function is what runs."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Returns ``func`` itself (nothing is traced; the eager code runs on every call)."""
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
                 strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    return mod


def ignore(drop=False, **kwargs):
    """``@ignore`` or ``@ignore(drop=True)``: the function is left as it is."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def interface(obj):
    return obj


def script_if_tracing(fn):
    return fn


def annotate(the_type, the_value):
    return the_value


def Attribute(value, type):  # noqa: N802 - torch's name
    return value


def is_scripting() -> bool:
    """False: code always runs eagerly here."""
    return False


def is_tracing() -> bool:
    return False


class ScriptModule(_Module):
    """A plain ``nn.Module`` here: old code that subclasses it (with ``@script_method``) runs eagerly, and
    no module made otherwise is an instance of it (``isinstance(m, torch.jit.ScriptModule)`` is False)."""


def script_method(fn):
    return fn


class ScriptFunction:
    """No object is a ScriptFunction here."""


class TracerWarning(Warning):
    pass


_NO_TORCHSCRIPT = ("tensorplug has no TorchScript; script() and trace() return the eager object, so save it with "
                   "tensorplug.save(model.state_dict(), path) and load it into the same class")

save = unsupported("torch.jit.save", _NO_TORCHSCRIPT)
load = unsupported("torch.jit.load", _NO_TORCHSCRIPT)
freeze = unsupported("torch.jit.freeze", _NO_TORCHSCRIPT)
optimize_for_inference = unsupported("torch.jit.optimize_for_inference", _NO_TORCHSCRIPT)
fork = unsupported("torch.jit.fork", _NO_TORCHSCRIPT)
wait = unsupported("torch.jit.wait", _NO_TORCHSCRIPT)
enable_onednn_fusion = unsupported("torch.jit.enable_onednn_fusion", _NO_TORCHSCRIPT)
