"""tensorplug's CPU communication backend: MPI through mpi4py.

Serves ``init_process_group("mpi")`` and ``"gloo"`` (the name CPU scripts
written for torch use). Collectives are MPI's nonblocking buffer calls on the
NumPy arrays themselves (never mpi4py's pickling lowercase calls). Install
with ``pip install -e ".[distributed]"`` (mpi4py and the ``mpich`` wheel, which
needs no system MPI); start ranks with ``python -m tensorplug.distributed.run``.
"""
from __future__ import annotations

import importlib.util

import tensorplug
from tensorplug.distributed import ProcessGroupSpec


def _why_not():
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed: pip install -e \".[distributed]\" (mpi4py and the mpich wheel)"
    return None


def _make(rank, world_size, timeout, init_method):
    from .group import MpiProcessGroup
    return MpiProcessGroup.from_world(rank, world_size, timeout)


@tensorplug.hookimpl
def tensorplug_add_process_groups():
    return [ProcessGroupSpec("mpi", ("cpu",), factory=_make, probe=_why_not, aliases=("gloo",))]
