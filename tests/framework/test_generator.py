from __future__ import annotations

import pytest

import tensorplug
from tensorplug.utils.data import DataLoader, random_split


def test_seeded_generator_makes_data_order_reproducible():
    def order(seed):
        g = tensorplug.Generator().manual_seed(seed)
        return [b.tolist() for b in DataLoader(tensorplug.arange(10), batch_size=5, shuffle=True, generator=g)]
    assert order(1) == order(1)
    assert sorted(sum(order(1), [])) == list(range(10))
    assert order(1) != order(2) or order(1) != order(3)


def test_random_split_with_generator_is_a_reproducible_partition():
    parts = [list(p) for p in random_split(range(8), [5, 3], generator=tensorplug.Generator().manual_seed(0))]
    again = [list(p) for p in random_split(range(8), [5, 3], generator=tensorplug.Generator().manual_seed(0))]
    assert parts == again
    assert sorted(parts[0] + parts[1]) == list(range(8))


def test_generator_seed_api_matches_torch():
    torch = pytest.importorskip("torch")
    assert tensorplug.Generator().initial_seed() == torch.Generator().initial_seed()
    g = tensorplug.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    state = g.get_state()
    g.manual_seed(9)
    assert g.set_state(state).initial_seed() == 5
