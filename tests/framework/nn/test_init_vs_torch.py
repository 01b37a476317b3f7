"""nn.init against torch: generators are honoured, dirac_/sparse_ exist, errors read as torch's."""
import pytest

import tensorplug

torch = pytest.importorskip("torch")

_FILLS = ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
          "kaiming_normal_", "orthogonal_"]  # not sparse_: torch draws its zero rows from the global RNG


@pytest.mark.parametrize("name", _FILLS)
def test_generator_makes_the_fill_reproducible(name):
    def fill(L, seed):
        t = L.empty(4, 6)
        getattr(L.nn.init, name)(t, generator=L.Generator().manual_seed(seed))
        L.manual_seed(seed + 100)  # the global RNG must not matter
        return t.tolist()
    for L in (torch, tensorplug):
        assert fill(L, 3) == fill(L, 3)
        assert fill(L, 3) != fill(L, 4)


def test_trunc_normal_stays_in_bounds():
    t = tensorplug.nn.init.trunc_normal_(tensorplug.empty(2000), mean=5.0, std=3.0, a=4.0, b=6.0)
    assert 4.0 <= t.min().item() and t.max().item() <= 6.0
    assert abs(t.mean().item() - 5.0) < 0.1


@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 1), ((4, 2, 3, 3), 2), ((2, 3, 3, 3, 3), 1), ((6, 2, 5), 3)])
def test_dirac_matches_torch(shape, groups):
    ours = tensorplug.nn.init.dirac_(tensorplug.empty(*shape), groups=groups)
    theirs = torch.nn.init.dirac_(torch.empty(*shape), groups=groups)
    assert ours.tolist() == theirs.tolist()


def test_sparse_zeros_per_column_as_torch():
    ours = tensorplug.nn.init.sparse_(tensorplug.empty(10, 4), 0.3)
    theirs = torch.nn.init.sparse_(torch.empty(10, 4), 0.3)
    assert (ours == 0).sum(0).tolist() == (theirs == 0).sum(0).tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize("call", [
    lambda L: L.nn.init.dirac_(L.empty(2, 2)),
    lambda L: L.nn.init.dirac_(L.empty(3, 2, 2), groups=2),
    lambda L: L.nn.init.sparse_(L.empty(2, 2, 2), 0.1),
    lambda L: L.nn.init.kaiming_uniform_(L.empty(3, 3), mode="fan_avg"),
])
def test_errors_as_torch(call):
    with pytest.raises(ValueError) as theirs:
        call(torch)
    with pytest.raises(ValueError) as ours:
        call(tensorplug)
    assert str(ours.value) == str(theirs.value)
