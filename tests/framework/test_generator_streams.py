"""``generator=`` draws come from the Generator's own stream (they were silently the global one)."""
from __future__ import annotations

import pytest

import tensorplug as tp


def _draw(name, g):
    x = tp.empty(6)
    return {
        "rand": lambda: tp.rand(6, generator=g),
        "randn": lambda: tp.randn(6, generator=g),
        "randint": lambda: tp.randint(0, 100, (6,), generator=g),
        "randperm": lambda: tp.randperm(6, generator=g),
        "uniform_": lambda: x.uniform_(generator=g),
        "normal_": lambda: x.normal_(generator=g),
        "random_": lambda: x.random_(0, 100, generator=g),
        "bernoulli_": lambda: x.bernoulli_(0.5, generator=g),
        "exponential_": lambda: x.exponential_(generator=g),
        "bernoulli": lambda: tp.bernoulli(tp.full((6,), 0.5), generator=g),
        "multinomial": lambda: tp.multinomial(tp.ones(6), 6, generator=g),
    }[name]().tolist()


NAMES = ["rand", "randn", "randint", "randperm", "uniform_", "normal_", "random_", "bernoulli_",
         "exponential_", "bernoulli", "multinomial"]


@pytest.mark.parametrize("name", NAMES)
def test_a_seeded_generator_repeats_and_leaves_the_global_stream_alone(name):
    tp.manual_seed(1)
    plain = [_draw(name, None), _draw(name, None)]
    tp.manual_seed(1)
    first = _draw(name, tp.Generator().manual_seed(7))
    again = _draw(name, tp.Generator().manual_seed(7))
    assert first == again                                   # the seed decides
    assert [_draw(name, None), _draw(name, None)] == plain  # the global stream did not move


@pytest.mark.parametrize("name", ["randn", "randperm", "normal_"])
def test_a_generator_stream_moves_on_and_reseeding_restarts_it(name):
    g = tp.Generator().manual_seed(3)
    a, b = _draw(name, g), _draw(name, g)
    assert a != b
    g.manual_seed(3)
    assert _draw(name, g) == a


def test_default_generator_is_the_global_stream():
    tp.manual_seed(5)
    a = tp.randn(4, generator=tp.default_generator).tolist()
    tp.manual_seed(5)
    assert tp.randn(4).tolist() == a


def test_a_generator_that_is_not_one_is_a_type_error():
    with pytest.raises(TypeError, match="argument 'generator' must be torch.Generator, not int"):
        tp.randn(3, generator=3)
