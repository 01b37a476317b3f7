"""Functions whose torch result is a new tensor give one here too, at every size and argument: a write to
the result must never reach the input (a view there is a silent wrong answer). And views torch makes even
where nothing changes (squeeze of no size-1 dim, expand to the same shape) are views here: not the tensor
itself, not a leaf. Each row is compared with torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

NEW = {
    "pad_nothing": lambda m, x: m.nn.functional.pad(x, (0, 0)),
    "pad_crop": lambda m, x: m.nn.functional.pad(x, (-1, 0, 0, 0)),
    "pad_reflect_nothing": lambda m, x: m.nn.functional.pad(x, (0, 0, 0, 0), mode="reflect"),
    "pad_replicate_nothing": lambda m, x: m.nn.functional.pad(x, (0, 0, 0, 0), mode="replicate"),
    "pad_circular_nothing": lambda m, x: m.nn.functional.pad(x, (0, 0, 0, 0), mode="circular"),
    "pixel_shuffle_1": lambda m, x: m.nn.functional.pixel_shuffle(x, 1),
    "pixel_shuffle_1x1_image": lambda m, x: m.nn.functional.pixel_shuffle(x[:, :, :1, :1], 2),
    "pixel_unshuffle_1": lambda m, x: m.nn.functional.pixel_unshuffle(x, 1),
    "channel_shuffle_1": lambda m, x: m.nn.functional.channel_shuffle(x, 1),
    "channel_shuffle_each": lambda m, x: m.nn.functional.channel_shuffle(x, 4),
    "repeat_ones": lambda m, x: x.repeat(1, 1, 1, 1),
    "repeat_over_size_1": lambda m, x: x[:, :1].repeat(1, 3, 1, 1),
    "repeat_new_dim": lambda m, x: x.repeat(2, 1, 1, 1, 1),
    "tile_ones": lambda m, x: x.tile((1,)),
    "interpolate_same_size": lambda m, x: m.nn.functional.interpolate(x, size=(3, 4)),
}


@pytest.mark.parametrize("name", sorted(NEW))
def test_writing_the_result_leaves_the_input(name):
    for m in (torch, tensorplug):
        x = m.tensor(np.arange(48.0).reshape(1, 4, 3, 4))
        y = NEW[name](m, x)
        y.add_(1)
        assert float(x.sum()) == sum(range(48)), m.__name__


def test_repeat_values_and_gradient_match_torch():
    for sizes in ((1, 1), (2, 1), (1, 2, 2), (3, 1, 2)):
        got = []
        for m in (torch, tensorplug):
            x = m.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
            y = x.repeat(*sizes)
            (y * m.tensor(np.arange(float(y.numel())).reshape(tuple(y.shape)))).sum().backward()
            got.append((y.detach().numpy(), x.grad.numpy(), y.grad_fn.name()))
        np.testing.assert_array_equal(got[0][0], got[1][0])
        np.testing.assert_array_equal(got[0][1], got[1][1])
        assert got[0][2] == got[1][2]


@pytest.mark.parametrize("name", ["squeeze", "squeeze_dim", "expand", "expand_as", "broadcast_to"])
def test_views_where_nothing_changes_are_new_views(name):
    make = {"squeeze": lambda x: x.squeeze(), "squeeze_dim": lambda x: x.squeeze(0),
            "expand": lambda x: x.expand(3, 4), "expand_as": lambda x: x.expand_as(x),
            "broadcast_to": lambda x: x.broadcast_to((3, 4))}[name]
    for m in (torch, tensorplug):
        leaf = m.ones(3, 4, requires_grad=True)
        y = make(leaf)
        assert y is not leaf and not y.is_leaf and y.grad_fn is not None, m.__name__
        x = m.zeros(3, 4)
        make(x).add_(1)  # a view: the write reaches the input, as in torch (nothing overlaps)
        assert float(x.sum()) == 12.0, m.__name__
