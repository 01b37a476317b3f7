"""``tensorplug.nn.parallel``: DistributedDataParallel (one process per replica, as torch recommends)."""
from __future__ import annotations

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel", "DataParallel"]


class DataParallel:
    """torch.nn.DataParallel (single-process multi-device replication) is not provided.

    Use DistributedDataParallel with one process per device, started by
    ``python -m tensorplug.distributed.run``.
    """

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("tensorplug does not provide torch.nn.DataParallel; use "
                                  "nn.parallel.DistributedDataParallel with one process per device "
                                  "(python -m tensorplug.distributed.run --nproc-per-node N script.py)")
