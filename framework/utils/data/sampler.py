"""Samplers (``torch.utils.data.sampler``): the index order a DataLoader reads a dataset in."""
from __future__ import annotations

import itertools
import math

import tensorplug as _tp

from ._random import _rng, _permutation

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


_CHUNK = 32  # torch's RandomSampler draws replacement indices 32 at a time


def _shuffled(n, rng):
    order = list(range(n))
    rng.shuffle(order)
    return order


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
        # a generator, as torch's: num_samples may be 1e10 (an "endless" sampler), so indices are drawn
        # in chunks (32 at a time with replacement, one permutation per pass without) as they are read
        n = len(self.data_source)
        rng = _rng(self.generator)
        if self.replacement:
            for start in range(0, self.num_samples, _CHUNK):
                yield from [rng.randrange(n) for _ in range(min(_CHUNK, self.num_samples - start))]
            return
        for _ in range(self.num_samples // n):
            yield from _shuffled(n, rng)
        yield from _shuffled(n, rng)[:self.num_samples % n]

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
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.weights = _tp.as_tensor(weights, dtype=_tp.float64)  # torch keeps a float64 tensor
        if self.weights.dim() != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(self.weights.shape)}")
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        # the weights are checked when drawing, as torch's multinomial does
        weights = self.weights.tolist()
        if any(math.isinf(w) or math.isnan(w) for w in weights):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity "
                               "or NaN)")
        if any(w < 0 for w in weights):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if sum(weights) <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > sum(1 for w in weights if w > 0):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        rng = _rng(self.generator)
        if self.replacement:
            return self._draws(rng, weights)
        # weighted sampling without replacement: keys u^(1/w) (Efraimidis-Spirakis)
        keys = [(rng.random() ** (1.0 / w) if w > 0 else -1.0, i) for i, w in enumerate(weights)]
        keys.sort(reverse=True)
        return iter([i for _, i in keys[:self.num_samples]])

    def _draws(self, rng, weights):
        # lazily, so a huge num_samples costs nothing until read
        population = range(len(weights))
        cumulative = list(itertools.accumulate(weights))
        for start in range(0, self.num_samples, _CHUNK):
            k = min(_CHUNK, self.num_samples - start)
            yield from rng.choices(population, cum_weights=cumulative, k=k)

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
