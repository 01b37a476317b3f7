"""``tensorplug.utils.data``: datasets, samplers and the DataLoader, as in ``torch.utils.data``.

Batches are built on the selected backend (``tensorplug.use_backend`` /
``TENSORPLUG_BACKEND``). Loading runs in the calling process: ``num_workers``
is accepted for compatibility and ignored (see the docs' differences page).

Example:
    >>> ds = TensorDataset(tensorplug.randn(10, 3), tensorplug.arange(10))
    >>> for x, y in DataLoader(ds, batch_size=4, shuffle=True):
    ...     pass
"""
from __future__ import annotations

from .dataset import (Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, ChainDataset,
                      random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler,
                      BatchSampler)
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from . import _utils, dataset, sampler, dataloader

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split", "DataLoader", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "default_collate",
           "default_convert", "get_worker_info"]
