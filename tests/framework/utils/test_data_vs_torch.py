"""utils.data against torch: collate structure, Subset batches, sampler attributes, random_split and the
DataLoader's option checks, with the same calls on both libraries."""
import collections
import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

Point = collections.namedtuple("Point", ["x", "name"])


def _shape(x):
    """The structure of a batch: container types, tensor dtypes and values, plain leaves."""
    if isinstance(x, (torch.Tensor, tensorplug.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, tuple(_shape(v) for v in x))
    if isinstance(x, dict):
        return (type(x).__name__, [(k, _shape(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_shape(v) for v in x])
    return x


def _both(fn):
    return fn(torch), fn(tensorplug)


@pytest.mark.parametrize("sample", [
    lambda L, i: Point(L.tensor([i]), f"p{i}"),
    lambda L, i: collections.defaultdict(int, {"k": i, "s": f"s{i}"}),
    lambda L, i: {"a": (i, [L.tensor([i]), {"z": np.array([1.0])}]), "b": Point(i, f"p{i}")},
])
def test_collate_and_convert_keep_container_types(sample):
    def run(L):
        D = L.utils.data
        batched = [_shape(b) for b in D.DataLoader([sample(L, i) for i in range(5)], batch_size=2)]
        converted = [_shape(b) for b in D.DataLoader([sample(L, i) for i in range(3)], batch_size=None)]
        return batched, converted
    ours, theirs = _both(run)
    assert ours == theirs


def test_collate_error_names_the_numpy_dtype():
    def run(L):
        with pytest.raises(TypeError) as err:
            L.utils.data.default_collate([np.array(["a"]), np.array(["b"])])
        return str(err.value)
    ours, theirs = _both(run)
    assert ours == theirs


def test_subset_batches_go_through_the_datasets_getitems():
    def run(L):
        D = L.utils.data

        class Batched(D.Dataset):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return ("one", i)

            def __getitems__(self, indices):
                return [("many", i) for i in indices]
        subset = D.Subset(Batched(), [4, 3, 2])
        return ([_shape(b) for b in D.DataLoader(subset, batch_size=2)],
                D.Subset(list(range(10, 20)), [4, 0, 3]).__getitems__([0, 2]))
    ours, theirs = _both(run)
    assert ours == theirs


def test_weighted_sampler_attributes_and_errors():
    def run(L):
        D = L.utils.data
        s = D.WeightedRandomSampler([1, 2], 3)
        got = [_shape(s.weights), s.num_samples, s.replacement]
        for make in (lambda: D.WeightedRandomSampler([0.1, 0.5], 2, replacement=1),
                     lambda: D.WeightedRandomSampler([[0.1, 0.5]], 2)):
            with pytest.raises(ValueError) as err:
                make()
            got.append(str(err.value))
        for weights in ([-1.0, 0.5], [0.0, 0.0], [float("inf"), 1.0]):
            sampler = D.WeightedRandomSampler(weights, 2)  # checked when drawing, as torch
            with pytest.raises(RuntimeError) as err:
                list(sampler)
            got.append(str(err.value))
        return got
    ours, theirs = _both(run)
    assert ours == theirs


def test_random_split_lengths_warnings_and_errors():
    def run(L):
        split = L.utils.data.random_split
        got = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got.append([len(s) for s in split(range(3), [0.1, 0.1, 0.8])])
        got.append([str(w.message) for w in caught])
        got.append([len(s) for s in split(range(10), [np.int64(4), np.int64(6)])])
        got.append([len(s) for s in split(range(10), L.tensor([4, 6]))])
        for lengths in ([0.5, 0.6], [1.5, -0.5], [5, 0.5], [0.3, 0.3]):
            with pytest.raises(ValueError) as err:
                split(range(10), lengths)
            got.append(str(err.value).split("!")[0])
        return got
    ours, theirs = _both(run)
    assert ours == theirs


def test_loader_checks_multiprocess_options_and_iterator_length():
    def run(L):
        D = L.utils.data
        got = []
        for kwargs in ({"prefetch_factor": 2}, {"persistent_workers": True}, {"multiprocessing_context": "spawn"}):
            with pytest.raises(ValueError) as err:
                D.DataLoader(list(range(3)), **kwargs)
            got.append(str(err.value))
        it = iter(D.DataLoader(list(range(5)), batch_size=2))
        got.append(len(it))
        got.append(_shape(next(it)))
        with pytest.raises(NotImplementedError) as err:
            D.Dataset()[0]
        got.append(str(err.value))
        got.append(_shape(D._utils.collate.default_collate([1, 2])))
        return got
    ours, theirs = _both(run)
    assert ours == theirs
