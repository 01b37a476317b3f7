"""tensorplug.utils.data against torch.utils.data (where torch is importable)."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import tensorplug
from tensorplug.utils import data as D


class Gen:
    """The generator protocol the samplers read: ``initial_seed()`` (as torch.Generator)."""

    def __init__(self, seed=0):
        self.seed = seed

    def manual_seed(self, seed):
        self.seed = seed
        return self

    def initial_seed(self):
        return self.seed


def _plain(obj):
    """A comparable form of a (torch or tensorplug) batch: tensors become (dtype, shape, values)."""
    if hasattr(obj, "dtype") and hasattr(obj, "shape") and hasattr(obj, "tolist"):
        return ("T", str(obj.dtype).split(".")[-1], tuple(obj.shape), obj.tolist())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__,) + tuple(_plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_plain(v) for v in obj])
    return obj


Point = collections.namedtuple("Point", "x y")

BATCHES = {
    "tuples": [(1, 2.0), (3, 4.0)],
    "bools": [True, False, True],
    "dicts": [{"a": 1, "b": np.ones(2, np.float32)}, {"a": 2, "b": np.zeros(2, np.float32)}],
    "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy_int": [np.arange(3), np.arange(3) + 1],
    "strings": [("a", 1), ("b", 2)],
    "lists": [[1, 2], [3, 4]],
    "namedtuple": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [{"x": (np.ones((2, 2)), 1.0)}, {"x": (np.zeros((2, 2)), 2.0)}],
}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_default_collate_matches_torch(name):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    batch = BATCHES[name]
    assert _plain(D.default_collate(batch)) == _plain(torch_collate(batch))


def test_default_collate_tensors_and_errors():
    out = D.default_collate([tensorplug.ones(2, 3), tensorplug.zeros(2, 3)])
    assert tuple(out.shape) == (2, 2, 3)
    with pytest.raises(RuntimeError, match="equal size"):
        D.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        D.default_collate([object(), object()])


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (10, False), (4, True)])
def test_batches_match_torch_in_order(batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ours = D.DataLoader(D.TensorDataset(tensorplug.tensor(x), tensorplug.tensor(y)),
                        batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]


def test_custom_dataset_with_dict_samples_matches_torch():
    torch = pytest.importorskip("torch")

    class Ours(D.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.full(3, i, np.float32), "label": i % 2, "name": f"s{i}"}

    class Theirs(torch.utils.data.Dataset):
        __len__ = Ours.__len__
        __getitem__ = Ours.__getitem__

    ours = list(D.DataLoader(Ours(), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(Theirs(), batch_size=3))
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]


def test_shuffle_with_generator_is_a_reproducible_permutation():
    ds = D.TensorDataset(tensorplug.arange(50))
    loader = D.DataLoader(ds, batch_size=8, shuffle=True, generator=Gen(3))
    epoch1 = [v for (b,) in loader for v in b.tolist()]
    epoch2 = [v for (b,) in loader for v in b.tolist()]
    assert sorted(epoch1) == list(range(50)) and sorted(epoch2) == list(range(50))
    assert epoch1 != list(range(50))
    assert epoch1 != epoch2                      # the generator advances between epochs
    again = D.DataLoader(ds, batch_size=8, shuffle=True, generator=Gen(3))
    assert [v for (b,) in again for v in b.tolist()] == epoch1
    other = D.DataLoader(ds, batch_size=8, shuffle=True, generator=Gen(4))
    assert [v for (b,) in other for v in b.tolist()] != epoch1


def test_shuffle_follows_manual_seed():
    ds = list(range(30))
    tensorplug.manual_seed(5)
    a = [v for b in D.DataLoader(ds, batch_size=4, shuffle=True) for v in b.tolist()]
    tensorplug.manual_seed(5)
    b = [v for b in D.DataLoader(ds, batch_size=4, shuffle=True) for v in b.tolist()]
    assert a == b and sorted(a) == ds


def test_shuffle_with_torch_generator():
    torch = pytest.importorskip("torch")
    loader = D.DataLoader(list(range(10)), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(1))
    assert sorted(v for b in loader for v in b.tolist()) == list(range(10))


def test_drop_last_and_len():
    ds = list(range(10))
    assert [len(b) for b in D.DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(D.DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert len(D.DataLoader(ds, batch_size=4)) == 3


def test_no_auto_batching():
    out = list(D.DataLoader([np.ones(2), np.zeros(2)], batch_size=None))
    assert all(isinstance(t, tensorplug.Tensor) and tuple(t.shape) == (2,) for t in out)


def test_custom_collate_fn_and_batch_sampler():
    loader = D.DataLoader(list(range(6)), batch_sampler=[[0, 5], [1, 2, 3]], collate_fn=lambda b: sum(b))
    assert list(loader) == [5, 6]


def test_iterable_dataset():
    class Stream(D.IterableDataset):
        def __iter__(self):
            return iter(range(7))

        def __len__(self):
            return 7

    batches = [b.tolist() for b in D.DataLoader(Stream(), batch_size=3)]
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(D.DataLoader(Stream(), batch_size=3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        D.DataLoader(Stream(), shuffle=True)


def test_argument_errors_match_torch_wording():
    ds = list(range(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        D.DataLoader(ds, sampler=D.SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        D.DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        D.DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        D.RandomSampler(ds, num_samples=0)
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        D.TensorDataset(tensorplug.zeros(3), tensorplug.zeros(4))


def test_random_split():
    parts = D.random_split(range(10), [0.7, 0.3], generator=Gen(0))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = D.random_split(range(10), [7, 3], generator=Gen(0))
    assert list(again[0]) == list(parts[0])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        D.random_split(range(10), [3, 3])


def test_random_split_fraction_rounding_matches_torch():
    torch = pytest.importorskip("torch")
    for n, fracs in [(10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.9])]:
        ours = [len(p) for p in D.random_split(range(n), fracs)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fracs)]
        assert ours == theirs


def test_subset_and_concat():
    a = D.TensorDataset(tensorplug.arange(3))
    b = D.TensorDataset(tensorplug.arange(10, 14))
    cat = a + b
    assert len(cat) == 7
    assert cat[3][0].item() == 10 and cat[-1][0].item() == 13
    sub = D.Subset(cat, [6, 0])
    assert [s[0].item() for s in sub] == [13, 0]


def test_samplers():
    ds = list(range(5))
    assert sorted(D.RandomSampler(ds, generator=Gen(1))) == ds
    draws = list(D.RandomSampler(ds, replacement=True, num_samples=20, generator=Gen(1)))
    assert len(draws) == 20 and set(draws) <= set(ds)
    w = list(D.WeightedRandomSampler([0.0, 1.0, 0.0, 1.0], 50, generator=Gen(2)))
    assert set(w) == {1, 3}
    w = list(D.WeightedRandomSampler([0.1, 1.0, 5.0], 3, replacement=False, generator=Gen(2)))
    assert sorted(w) == [0, 1, 2]
    assert sorted(D.SubsetRandomSampler([4, 2, 9], generator=Gen(0))) == [2, 4, 9]
    assert list(D.BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]


def test_batches_land_on_the_selected_backend(backend):
    dev = tensorplug.get_backend(backend).device
    loader = D.DataLoader([(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)], batch_size=2)
    x, y = next(iter(loader))
    assert x.device == dev and y.device == dev
    ds = D.TensorDataset(tensorplug.arange(6.0), tensorplug.arange(6))
    xb, yb = next(iter(D.DataLoader(ds, batch_size=4, shuffle=True, generator=Gen(0))))
    assert xb.device == dev and xb.tolist() == [float(v) for v in yb.tolist()]


def test_import_path():
    import tensorplug.utils.data as d2
    assert d2.DataLoader is D.DataLoader
    assert tensorplug.utils.data.TensorDataset is D.TensorDataset


def test_torch_submodule_paths_hold_the_same_objects():
    from tensorplug.utils.data.dataloader import DataLoader, default_collate
    from tensorplug.utils.data.dataset import Dataset, TensorDataset
    from tensorplug.utils.data.sampler import RandomSampler, Sampler
    from tensorplug.utils.data._utils.collate import default_collate as private_path_collate
    assert private_path_collate is D.default_collate
    assert (DataLoader, default_collate, Dataset) == (D.DataLoader, D.default_collate, D.Dataset)
    assert (TensorDataset, RandomSampler, Sampler) == (D.TensorDataset, D.RandomSampler, D.Sampler)


def test_samplers_draw_lazily():
    import itertools
    import types
    endless = D.RandomSampler(range(10), replacement=True, num_samples=10 ** 12, generator=Gen(0))
    assert isinstance(iter(endless), types.GeneratorType)
    first = list(itertools.islice(iter(endless), 100))
    assert len(first) == 100 and set(first) <= set(range(10))
    weighted = D.WeightedRandomSampler([0.0, 1.0], num_samples=10 ** 12, generator=Gen(0))
    assert list(itertools.islice(iter(weighted), 50)) == [1] * 50
    loader = D.DataLoader(range(10), sampler=endless, batch_size=4)
    assert len(loader) == 25 * 10 ** 10 and next(iter(loader)).shape == (4,)


def test_random_sampler_without_replacement_makes_whole_passes_as_torch():
    # torch: num_samples // n full permutations, then the head of one more
    order = list(D.RandomSampler(range(4), num_samples=10, generator=Gen(3)))
    assert len(order) == 10
    assert sorted(order[:4]) == sorted(order[4:8]) == [0, 1, 2, 3]
    assert len(set(order[8:])) == 2
    torch = pytest.importorskip("torch")
    theirs = list(torch.utils.data.RandomSampler(range(4), num_samples=10))
    assert sorted(theirs[:4]) == sorted(theirs[4:8]) == [0, 1, 2, 3]
