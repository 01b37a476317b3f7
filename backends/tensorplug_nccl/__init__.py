"""tensorplug's GPU communication backend: NCCL through CuPy (``init_process_group("nccl")``).

Collectives run on CUDA arrays of the CuPy backend, on the group's own
stream, ordered after the work already queued on the current stream. Ranks
are started by ``python -m tensorplug.distributed.run`` (MPI exchanges NCCL's
unique id, by buffer, never pickle); each rank uses GPU ``LOCAL_RANK % count``.
A collective that does not finish within the timeout aborts the communicator
(a watchdog, like torch's) and raises an error naming it.
"""
from __future__ import annotations

import importlib.util

import tensorplug
from tensorplug.distributed import ProcessGroupSpec


def _why_not():
    if importlib.util.find_spec("cupy") is None:
        return "cupy is not installed: pip install -e \".[cuda]\" (and a CUDA driver)"
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (NCCL's unique id is exchanged over MPI): pip install -e \".[distributed]\""
    try:
        import cupy
        from cupy.cuda import nccl
        if not getattr(nccl, "available", True):
            return "this CuPy was built without NCCL: install a cupy-cudaXXx wheel (they bundle NCCL support)"
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return "no CUDA device is visible"
    except Exception as exc:  # no driver, no libnccl: say which
        return f"CUDA/NCCL cannot start here: {type(exc).__name__}: {exc}"
    return None


def _make(rank, world_size, timeout, init_method):
    from .group import NcclProcessGroup
    return NcclProcessGroup.from_world(rank, world_size, timeout)


@tensorplug.hookimpl
def tensorplug_add_process_groups():
    return [ProcessGroupSpec("nccl", ("cuda",), factory=_make, probe=_why_not)]
