"""The DataLoader and batch collation (``torch.utils.data.dataloader``)."""
from __future__ import annotations

import collections.abc
import copy
import itertools
import warnings

import tensorplug as _tp

from .dataset import IterableDataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


# collation ------------------------------------------------------------------------

def _is_numpy(obj):
    return type(obj).__module__ == "numpy" and hasattr(obj, "dtype")


def default_convert(data):
    """Turn numpy arrays into tensors, recursing into dicts and sequences (no batching)."""
    if isinstance(data, _tp.Tensor):
        return data
    if _is_numpy(data):
        if data.dtype.kind in "USO":
            return data
        return _tp.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(template, values):
    """A mapping of ``template``'s type holding ``values``: a mutable one is copied and updated (so a
    defaultdict keeps its factory, as torch's), another is rebuilt by its type, or else a dict."""
    if isinstance(template, collections.abc.MutableMapping):
        clone = copy.copy(template)
        clone.update(values)
        return clone
    try:
        return type(template)(values)
    except TypeError:
        return values


def _rebuild_sequence(template, values):
    """A sequence of ``template``'s type holding ``values`` (copied and filled where mutable, as torch)."""
    if isinstance(template, collections.abc.MutableSequence):
        clone = copy.copy(template)
        for i, value in enumerate(values):
            clone[i] = value
        return clone
    try:
        return type(template)(values)
    except TypeError:
        return values


def default_collate(batch):
    """Stack a list of samples into a batch, as torch's ``default_collate`` does.

    Tensors and numpy arrays are stacked along a new first dimension, Python
    floats become a float64 tensor and ints an int64 tensor, strings stay a
    list, and dicts, named tuples, tuples and lists are collated field by field.

    Example:
        >>> default_collate([(1, 2.0), (3, 4.0)])
        [tensor([1, 3]), tensor([2., 4.], dtype=tensorplug.float64)]
    """
    elem = batch[0]
    if isinstance(elem, _tp.Tensor):
        return _tp.stack(list(batch), 0)
    if _is_numpy(elem):
        if elem.dtype.kind in "USO":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                            f"lists; found {elem.dtype}")
        if elem.shape == ():
            return _tp.tensor([b.item() for b in batch], dtype=_tp.dtypes.BY_NAME[str(elem.dtype)])
        return default_collate([_tp.as_tensor(b) for b in batch])
    if isinstance(elem, bool):
        return _tp.tensor(list(batch))
    if isinstance(elem, float):
        return _tp.tensor(list(batch), dtype=_tp.float64)
    if isinstance(elem, int):
        return _tp.tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        # each field's samples stay the tuple zip made (strings batch as a tuple, as torch)
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        return _rebuild_sequence(elem, [default_collate(s) for s in transposed])
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


# the loader ------------------------------------------------------------------------

def get_worker_info():
    """Always None: tensorplug loads data in the calling process."""
    return None


class DataLoader:
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__`` + ``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns batching off.
        shuffle: a new random order each epoch (seeded by ``generator`` or ``tensorplug.manual_seed``).
        sampler / batch_sampler: custom index order / batches (exclusive with shuffle etc., as in torch).
        collate_fn: merges a list of samples into a batch (default ``default_collate``).
        drop_last: drop the last incomplete batch.
        generator: the RNG for shuffling (any object with ``initial_seed()``, e.g. a torch-style Generator).
        num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers:
            accepted for compatibility; loading runs in the calling process.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
        >>> for xb, yb in loader:
        ...     loss = loss_fn(model(xb), yb)
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        # torch's checks of the multi-process options, though loading runs in this process either way
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                             f"(num_workers > 0), but got num_workers={num_workers}")
        self.multiprocessing_context = multiprocessing_context
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler "
                                 f"option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable and (
                not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        if self.pin_memory:
            from ... import cuda
            if not cuda.is_available():  # torch's notice; batches stay in ordinary memory either way
                warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device "
                              "pinned memory won't be used.", UserWarning, stacklevel=2)
        if self._iterable:
            batches = self._iter_stream()
        elif self.batch_sampler is None:
            batches = (self.collate_fn(self.dataset[i]) for i in self.sampler)
        else:
            batches = self._iter_batches()
        return _LoaderIter(self, batches)

    def _iter_batches(self):
        dataset = self.dataset
        collate = self.collate_fn
        # a TensorDataset batch is one gather per tensor instead of a stack of single rows
        fast = type(dataset) is TensorDataset and collate is default_collate
        getitems = getattr(dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if fast:
                index = _tp.tensor(indices, dtype=_tp.int64, device=dataset.tensors[0].device)
                yield [t[index] for t in dataset.tensors]
            elif getitems is not None:
                yield collate(getitems(indices))
            else:
                yield collate([dataset[i] for i in indices])

    def _iter_stream(self):
        it = iter(self.dataset)
        if self.batch_size is None:
            for item in it:
                yield self.collate_fn(item)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)


class _LoaderIter:
    """What ``iter(loader)`` returns: the batches, with ``len()`` the loader's, as torch's iterators."""

    def __init__(self, loader, batches):
        self._loader = loader
        self._batches = batches

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self):
        return len(self._loader)
