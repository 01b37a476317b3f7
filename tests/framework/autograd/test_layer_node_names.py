"""Layers and functions that tensorplug composes from several ops show torch's node (``loss.grad_fn``,
``out.grad_fn.name()``): pools, norms, activations (in place too), pads, resizing, reshapes and slices.
Each row is compared with torch itself."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _input(m, *shape):
    return m.tensor(np.linspace(-2.0, 2.0, int(np.prod(shape))).reshape(shape), requires_grad=True)


def _inplace(m, name, *args):
    y = _input(m, 3, 4) * 1
    getattr(m.nn.functional, name)(y, *args, inplace=True)
    return y


def _cases():
    cases = {}
    for k in (1, 2, 3):
        shape = (2, 3) + (6,) * k
        for batched in (True, False):
            tag = f"{k}d{'' if batched else '_unbatched'}"
            def x(shape=shape, batched=batched, m=None):
                return _input(m, *(shape if batched else shape[1:]))
            cases[f"max_pool{tag}"] = lambda m, x=x, k=k: getattr(m.nn.functional, f"max_pool{k}d")(x(m=m), 2)
            cases[f"max_pool{tag}_indices"] = (
                lambda m, x=x, k=k: getattr(m.nn.functional, f"max_pool{k}d")(x(m=m), 3, 2, 1, return_indices=True)[0])
            cases[f"avg_pool{tag}"] = lambda m, x=x, k=k: getattr(m.nn.functional, f"avg_pool{k}d")(x(m=m), 2)
            for size in (1, 2, 4):
                cases[f"adaptive_avg{tag}_{size}"] = (
                    lambda m, x=x, k=k, size=size: getattr(m.nn.functional, f"adaptive_avg_pool{k}d")(x(m=m), size))
                cases[f"adaptive_max{tag}_{size}"] = (
                    lambda m, x=x, k=k, size=size: getattr(m.nn.functional, f"adaptive_max_pool{k}d")(x(m=m), size))
        cases[f"conv_transpose{k}d"] = (lambda m, k=k, shape=shape: getattr(m.nn.functional, f"conv_transpose{k}d")(
            _input(m, *shape), _input(m, 3, 2, *(2,) * k), _input(m, 2)))
        for mode in ("reflect", "replicate"):
            cases[f"pad_{mode}{k}d"] = lambda m, k=k, shape=shape, mode=mode: m.nn.functional.pad(
                _input(m, *shape), (1, 1) * k, mode=mode)
        cases[f"pad_constant{k}d"] = lambda m, k=k, shape=shape: m.nn.functional.pad(_input(m, *shape), (1, 1) * k)
        modes = {1: ("nearest", "nearest-exact", "linear"), 2: ("nearest", "bilinear", "bicubic"),
                 3: ("nearest", "trilinear")}[k]
        for mode in modes:
            cases[f"interpolate_{mode}{k}d"] = lambda m, k=k, shape=shape, mode=mode: m.nn.functional.interpolate(
                _input(m, *shape), scale_factor=2, mode=mode)
    cases.update({
        "pad_nothing": lambda m: m.nn.functional.pad(_input(m, 3, 4), (0, 0)),
        "pad_crop": lambda m: m.nn.functional.pad(_input(m, 3, 4), (-1, 0)),
        "batch_norm": lambda m: m.nn.BatchNorm1d(3).double()(_input(m, 4, 3, 5)),
        "batch_norm_eval": lambda m: m.nn.BatchNorm1d(3).double().eval()(_input(m, 4, 3)),
        "instance_norm": lambda m: m.nn.InstanceNorm1d(3)(_input(m, 4, 3, 5)),
        "prelu": lambda m: m.nn.functional.prelu(_input(m, 2, 3, 4), _input(m, 3)),
        "mish": lambda m: m.nn.functional.mish(_input(m, 3, 4)),
        "hardtanh": lambda m: m.nn.functional.hardtanh(_input(m, 3, 4)),
        "relu6": lambda m: m.nn.functional.relu6(_input(m, 3, 4)),
        "hardsigmoid": lambda m: m.nn.functional.hardsigmoid(_input(m, 3, 4)),
        "celu": lambda m: m.nn.functional.celu(_input(m, 3, 4)),
        "glu": lambda m: m.nn.functional.glu(_input(m, 3, 4)),
        "hardshrink": lambda m: m.nn.functional.hardshrink(_input(m, 3, 4)),
        "softshrink": lambda m: m.nn.functional.softshrink(_input(m, 3, 4)),
        "rrelu_eval": lambda m: m.nn.functional.rrelu(_input(m, 3, 4)),
        "threshold": lambda m: m.nn.functional.threshold(_input(m, 3, 4), 0.5, 0.0),
        "pixel_shuffle": lambda m: m.nn.functional.pixel_shuffle(_input(m, 1, 4, 2, 2), 2),
        "pixel_unshuffle": lambda m: m.nn.functional.pixel_unshuffle(_input(m, 1, 1, 4, 4), 2),
        "channel_shuffle": lambda m: m.nn.functional.channel_shuffle(_input(m, 1, 4, 2, 2), 2),
        "pairwise_distance": lambda m: m.nn.functional.pairwise_distance(_input(m, 3, 4), _input(m, 3, 4) * 2),
        "pdist": lambda m: m.nn.functional.pdist(_input(m, 3, 4)),
        "cdist": lambda m: m.cdist(_input(m, 3, 4), _input(m, 2, 4) * 2),
        "std": lambda m: _input(m, 3, 4).std(), "std_dim": lambda m: _input(m, 3, 4).std(1),
        "unfold": lambda m: m.nn.functional.unfold(_input(m, 1, 2, 4, 4), 2),
        "unfold_unbatched": lambda m: m.nn.functional.unfold(_input(m, 2, 4, 4), 2),
        "fold_unbatched": lambda m: m.nn.functional.fold(_input(m, 12, 4), (4, 4), 2, stride=2),
        "embedding_bag_mean": lambda m: m.nn.functional.embedding_bag(m.tensor([[0, 2], [1, 1]]), _input(m, 3, 4)),
        "embedding_bag_sum": lambda m: m.nn.functional.embedding_bag(m.tensor([0, 2, 1]), _input(m, 3, 4),
                                                                     m.tensor([0, 2]), mode="sum"),
        "embedding_bag_max": lambda m: m.nn.functional.embedding_bag(m.tensor([[0, 2], [1, 1]]), _input(m, 3, 4),
                                                                     mode="max"),
        "affine_grid": lambda m: m.nn.functional.affine_grid(_input(m, 1, 2, 3), (1, 1, 3, 3), align_corners=False),
        "grid_sample": lambda m: m.nn.functional.grid_sample(_input(m, 1, 1, 3, 3), _input(m, 1, 2, 2, 2) / 3,
                                                             align_corners=False),
        # reshapes: a view of a contiguous tensor, a view of a strided one, a copy
        "reshape_view": lambda m: _input(m, 2, 3, 4).reshape(6, 4),
        "reshape_alias": lambda m: _input(m, 2, 3, 4).permute(2, 0, 1).reshape(4, 6),
        "reshape_copy": lambda m: _input(m, 2, 3, 4).transpose(0, 1).reshape(6, 4),
        "flatten_copy": lambda m: _input(m, 2, 3, 4).mT.flatten(),
        # slices: a lone slice is a slice even when whole; whole slices in a tuple are an alias
        "slice_whole": lambda m: _input(m, 3, 4)[:], "slice_whole_tuple": lambda m: _input(m, 3, 4)[:, :],
        "narrow_whole": lambda m: _input(m, 3, 4).narrow(0, 0, 3),
        "squeeze_nothing": lambda m: _input(m, 3, 4).squeeze(), "expand_same": lambda m: _input(m, 3, 4).expand(3, 4),
        "repeat": lambda m: _input(m, 3, 4).repeat(2, 1),
        "attention_weights_per_head": lambda m: _attention_weights(m),
    })
    for k in (1, 2, 3):
        for batched in (True, False):
            cases[f"max_unpool{k}d{'' if batched else '_unbatched'}"] = lambda m, k=k, batched=batched: _unpool(m, k, batched)
    for name in ("elu", "selu", "celu", "leaky_relu", "hardtanh", "relu6", "hardsigmoid", "mish"):
        cases[f"{name}_inplace"] = lambda m, name=name: _inplace(m, name)
    cases["threshold_inplace"] = lambda m: _inplace(m, "threshold", 0.5, 0.0)
    cases["rrelu_inplace"] = lambda m: _inplace(m, "rrelu")
    return cases


def _unpool(m, k, batched):
    F = m.nn.functional
    x = _input(m, *((2, 3) if batched else (3,)) + (4,) * k)
    values, indices = getattr(F, f"max_pool{k}d")(x, 2, return_indices=True)
    return getattr(F, f"max_unpool{k}d")(values, indices, 2)


def _attention_weights(m):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(4, 2).double()
    module = m.nn.MultiheadAttention(4, 2).double()
    module.load_state_dict({k: m.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _input(m, 3, 2, 4)
    return module(x, x, x, average_attn_weights=False)[1]


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_is_torchs(name):
    ours = CASES[name](tensorplug).grad_fn.name()
    assert ours == CASES[name](torch).grad_fn.name().replace("torch::autograd::", "")
