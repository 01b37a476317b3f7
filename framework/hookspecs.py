"""The whole plugin contract.

A plugin is a module (or object) with functions named like the stubs below,
each marked ``@tensorplug.hookimpl``, registered in the ``tensorplug``
entry-point group of its distribution::

    [project.entry-points.tensorplug]
    mybackend = "my_package.plugin"

Hooks are called lazily, the first time a registry is read (the first tensor
made, the first ``tensorplug.nn.<Name>`` looked up, ``python -m tensorplug
info``), never at ``import tensorplug``. A plugin whose import or hook fails,
or that claims a name already taken, is reported with a warning naming it and
its distribution; everything else keeps working. A hookimpl is checked when
its plugin registers: arguments must match the stub here (pluggy's
validation), a ``tensorplug_*`` name with no stub and a stub-named function
without ``@tensorplug.hookimpl`` are errors too. ``TENSORPLUG_STRICT_PLUGINS=1``
turns every such warning into a ``tensorplug.PluginError``. When two plugins
claim the same name, the first registered keeps it (the ``tensorplug``
distribution's own plugins first, then by entry-point name); a built-in name
(``tensorplug.optim.Adam``, ``tensorplug.nn.MSELoss``) always stays built-in.
Every returned value is checked: a loss must be a subclass of
``tensorplug.nn.Module``, an optimizer of ``tensorplug.optim.Optimizer``, a
backend a ``BackendSpec``, and every name a public Python identifier; a bad
value is skipped with a warning naming the plugin and its distribution.
``TENSORPLUG_DISABLE_PLUGINS=a,b`` skips the named plugins.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("tensorplug")
hookimpl = pluggy.HookimplMarker("tensorplug")


@hookspec
def tensorplug_add_backends():
    """Declare the backends this plugin provides.

    Called once, when the plugins are discovered (the first tensor made).
    Import nothing heavy here: each spec's ``factory`` imports its library
    when the backend is first used.

    :return: a list of :class:`tensorplug.BackendSpec`, e.g.
        ``[BackendSpec("numpy", "cpu", factory=make, probe=why_not)]``.
        ``factory(index)`` returns the backend for device ``index`` (1 for
        ``"cuda:1"``; for a bare name None on the CPU, else 0, or for CUDA
        the current device), called once per index; ``probe()`` returns
        ``None`` when the backend can run here, else a sentence saying why
        not and how to fix it. The backend's ``autocast_dtypes`` (names,
        e.g. ``("float16", "bfloat16")``) says which lower precisions
        :class:`tensorplug.autocast` may cast its tensors to: list only those
        its matmuls and convolutions run faster in than in float32; with the
        default, none, autocast changes no dtype of its tensors.
    """


@hookspec
def tensorplug_add_losses():
    """Declare extra loss modules.

    Called once, when the plugins are discovered (the first tensor made, the
    first ``tensorplug.nn.<Name>`` that misses the built-in names, or
    ``python -m tensorplug info``), so a claim on a built-in name is reported
    then. Import loss modules inside the hook, not at the plugin's import.

    :return: a mapping ``{"HuberLoss": HuberLoss, ...}`` of
        :class:`tensorplug.nn.Module` subclasses (usually of
        :class:`tensorplug.nn.Loss`, which takes ``reduction``); each becomes
        ``tensorplug.nn.<Name>``. A name must be a public identifier not
        already in ``tensorplug.nn``: built-in names stay built-in.
    """


@hookspec
def tensorplug_add_optimizers():
    """Declare extra optimizers.

    Called once, when the plugins are discovered (the first tensor made, the
    first ``tensorplug.optim.<Name>`` that misses the built-in names, or
    ``python -m tensorplug info``), so a claim on ``Adam`` is reported then.

    :return: a mapping ``{"AdamW": AdamW, ...}`` of
        :class:`tensorplug.optim.Optimizer` subclasses; each becomes
        ``tensorplug.optim.<Name>`` (names already in ``tensorplug.optim``
        stay built-in).
    """


@hookspec
def tensorplug_add_process_groups():
    """Declare communication backends for :mod:`tensorplug.distributed`.

    Called once, at the first ``init_process_group`` (or ``python -m
    tensorplug info``). Import nothing heavy here: each spec's ``factory``
    imports its library when a group is made.

    :return: a list of :class:`tensorplug.distributed.ProcessGroupSpec`, e.g.
        ``[ProcessGroupSpec("mpi", ("cpu",), factory=make, probe=why_not, aliases=("gloo",))]``.
        ``factory(rank, world_size, timeout, init_method)`` returns a
        :class:`tensorplug.distributed.ProcessGroup`; ``probe()`` returns None
        when it can run here, else a sentence saying why not and how to fix it.
    """
