"""Multi-process training with torch.distributed's API.

Start ranks with the launcher (``python -m tensorplug.distributed.run
--nproc-per-node 2 train.py``), then in the script::

    import tensorplug.distributed as dist
    dist.init_process_group("gloo")          # "gloo"/"mpi": CPU tensors over MPI; "nccl": CUDA tensors
    dist.all_reduce(t)                        # in place, SUM by default

Communication backends are plugins (``tensorplug_add_process_groups``): MPI
(mpi4py) and NCCL (CuPy) ship with tensorplug; ``python -m tensorplug info``
lists them. Every collective takes ``async_op=True`` and then returns a
:class:`Work` to ``wait()`` on; a collective another rank never joins fails
after the group's timeout with an error naming it, never hangs.
``TENSORPLUG_DISTRIBUTED_DEBUG=DETAIL`` checks before each collective that
every rank issues the same one.
"""
from __future__ import annotations

import os
from datetime import timedelta

from .process_group import (CompletedWork, DistBackendError, DistError, ProcessGroup, ProcessGroupSpec,
                            ReduceOp, Work)
from . import _state
from ._state import (destroy_process_group, get_backend, get_process_group_ranks, get_rank,
                     get_world_size, init_process_group, is_initialized, new_group, process_group_specs)
from ._collectives import (all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast, gather,
                           irecv, isend, recv, reduce, reduce_scatter_tensor, scatter, send)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized", "get_rank",
           "get_world_size", "get_backend", "get_process_group_ranks", "new_group", "ReduceOp", "Work",
           "ProcessGroup", "ProcessGroupSpec", "CompletedWork", "DistError", "DistBackendError", "GroupMember", "group",
           "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor",
           "reduce", "gather", "scatter", "barrier", "send", "recv", "isend", "irecv",
           "is_torchelastic_launched", "is_mpi_available", "is_nccl_available", "is_gloo_available",
           "default_pg_timeout"]

default_pg_timeout = timedelta(minutes=30)


class _GroupMarkers:
    """torch's ``dist.group`` / ``dist.GroupMember``: ``.WORLD`` is the default process group (None
    before init_process_group); ``NON_GROUP_MEMBER`` is what ``new_group`` returns outside the group."""

    NON_GROUP_MEMBER = _state.NON_GROUP_MEMBER

    @property
    def WORLD(self):  # noqa: N802 - torch's name
        return _state.default_group(required=False)


group = GroupMember = _GroupMarkers()


def is_available() -> bool:
    """True: the API is always importable; whether a backend can run here, ``is_backend_available`` says."""
    return True


def is_backend_available(backend: str) -> bool:
    spec = _state.find_spec(backend.lower(), required=False)
    return spec is not None and spec.why_unavailable() is None


def is_mpi_available() -> bool:
    return is_backend_available("mpi")


def is_gloo_available() -> bool:
    return is_backend_available("gloo")


def is_nccl_available() -> bool:
    return is_backend_available("nccl")


def is_torchelastic_launched() -> bool:
    """True in a process started by the launcher (``TORCHELASTIC_RUN_ID`` set, as torchrun does)."""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None
