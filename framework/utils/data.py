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

import bisect
import collections.abc
import itertools
import math
import random
import weakref

import tensorplug as _tp

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split", "DataLoader", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "default_collate",
           "default_convert", "get_worker_info"]


# randomness ------------------------------------------------------------------------
# Shuffling is bookkeeping, not math, so it runs on Python's ``random``. Each
# generator object owns one Python RNG seeded from ``generator.initial_seed()``
# that advances from epoch to epoch (as a torch.Generator would); with no
# generator a seed is drawn from tensorplug's global RNG, so
# ``tensorplug.manual_seed`` makes shuffling reproducible.

_RNGS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_RNGS_BY_ID: dict = {}


def _rng(generator):
    if generator is None:
        seed = int(_tp.randint(0, 2 ** 62, (1,)).item())
        return random.Random(seed)
    if not hasattr(generator, "initial_seed"):
        raise TypeError(f"generator must be a Generator (with initial_seed()), got {type(generator).__name__}")
    seed = int(generator.initial_seed())
    try:
        entry = _RNGS.get(generator)
        store = _RNGS
    except TypeError:
        entry = _RNGS_BY_ID.get(id(generator))
        store = _RNGS_BY_ID
        generator = id(generator)
    if entry is None or entry[0] != seed:
        # a new generator, or manual_seed() gave it a new seed: start over
        entry = (seed, random.Random(seed))
        store[generator] = entry
    return entry[1]


def _permutation(n, generator):
    order = list(range(n))
    _rng(generator).shuffle(order)
    return order


# datasets ------------------------------------------------------------------------

class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are ``(t1[i], t2[i], ...)`` for tensors sharing their first dimension.

    Example:
        >>> ds = TensorDataset(tensorplug.randn(8, 2), tensorplug.zeros(8))
        >>> len(ds)
        8
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].size(0)
        for t in tensors:
            if t.size(0) != n:
                raise ValueError(f"Size mismatch between tensors: first dimensions are "
                                 f"{[t.size(0) for t in tensors]}; they must all be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].size(0)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use ChainDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets of the given lengths (or fractions).

    Example:
        >>> train, test = random_split(range(10), [0.8, 0.2])
        >>> len(train), len(test)
        (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, int) or x < 0 for x in lengths):
        raise ValueError(f"random_split lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! "
                         f"({sum(lengths)} vs {n})")
    order = _permutation(n, generator)
    out = []
    offset = 0
    for length in lengths:
        out.append(Subset(dataset, order[offset:offset + length]))
        offset += length
    return out


# samplers ------------------------------------------------------------------------

class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = _rng(self.generator)
        if self.replacement:
            return iter([rng.randrange(n) for _ in range(self.num_samples)])
        full, rest = divmod(self.num_samples, n)
        out = []
        for _ in range(full + (1 if rest else 0)):
            order = list(range(n))
            rng.shuffle(order)
            out.extend(order)
        return iter(out[:self.num_samples])

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = _permutation(len(self.indices), self.generator)
        return (self.indices[i] for i in order)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        self.weights = [float(w) for w in (weights.tolist() if hasattr(weights, "tolist") else weights)]
        if any(w < 0 or w != w for w in self.weights) or not any(self.weights):
            raise RuntimeError("invalid multinomial distribution: weights must be non-negative, finite, "
                               "and not all zero")
        if not replacement and num_samples > sum(1 for w in self.weights if w > 0):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = _rng(self.generator)
        population = range(len(self.weights))
        if self.replacement:
            return iter(rng.choices(population, weights=self.weights, k=self.num_samples))
        # weighted sampling without replacement: keys u^(1/w) (Efraimidis-Spirakis)
        keys = [(rng.random() ** (1.0 / w) if w > 0 else -1.0, i) for i, w in enumerate(self.weights)]
        keys.sort(reverse=True)
        return iter([i for _, i in keys[:self.num_samples]])

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        size = self.batch_size
        while True:
            batch = list(itertools.islice(it, size))
            if not batch or (self.drop_last and len(batch) < size):
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


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
        return _rebuild(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(d) for d in data])
    return data


def _rebuild(template, value):
    try:
        return type(template)(value)
    except TypeError:
        return value


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
                            f"lists; found numpy arrays of dtype {elem.dtype}")
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
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        return _rebuild(elem, [default_collate(s) for s in transposed])
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
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

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
