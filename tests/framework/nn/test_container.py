"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from __future__ import annotations

from collections import OrderedDict

import pytest

import tensorplug
from tensorplug import nn


def test_sequential_indexing_slicing_append():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert head(tensorplug.randn(4, 2)).shape == (4, 3)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    out = seq(tensorplug.randn(5, 2))
    assert out.shape == (5, 1) and all(0 < v[0] < 1 for v in out.tolist())
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"] and seq[1] is c
    seq[2] = nn.Tanh()
    assert isinstance(seq[2], nn.Tanh)
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and seq[1] is a


def test_sequential_ordered_dict_and_repr():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    ref = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)), ("act", torch.nn.ReLU())]))
    assert ours.fc is ours[0]
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list():
    torch = pytest.importorskip("torch")
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers += [nn.Sigmoid()]
    assert len(layers) == 6 and isinstance(layers[-1], nn.Sigmoid)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    ref = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU(), torch.nn.Tanh(),
                                                                           torch.nn.Sigmoid()])
    assert repr(layers) == repr(ref)
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    with pytest.raises(TypeError, match="should be called with an iterable"):
        layers.extend(nn.ReLU())

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    s = Stack()
    assert [n for n, _ in s.named_parameters()] == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                   "layers.1.bias"]
    assert s(tensorplug.randn(1, 2)).shape == (1, 2)


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert list(d.keys()) == ["a", "b"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    d.update([("e", nn.Identity())])
    assert list(d) == ["a", "b", "c", "e"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    assert len(list(d.parameters())) == 2


def test_parameter_list_and_dict():
    torch = pytest.importorskip("torch")
    pl = nn.ParameterList([nn.Parameter(tensorplug.zeros(2, 3)), tensorplug.ones(4)])
    assert all(isinstance(p, nn.Parameter) for p in pl)
    assert len(pl) == 2 and len(list(pl.parameters())) == 2
    pl.append(tensorplug.zeros(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    ref = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.ones(4), torch.zeros(1)])
    assert repr(pl) == repr(ref).replace("torch.float32", "tensorplug.float32")
    pd = nn.ParameterDict({"w": tensorplug.ones(2)})
    pd["b"] = nn.Parameter(tensorplug.zeros(1))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    tref = torch.nn.ParameterDict({"w": torch.ones(2)})
    tref["b"] = torch.nn.Parameter(torch.zeros(1))
    assert repr(pd) == repr(tref)
    assert list(nn.ParameterDict({"z": tensorplug.ones(1), "a": tensorplug.ones(1)})) == ["a", "z"]

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = nn.ParameterList([tensorplug.ones(2)])
    assert list(M().state_dict()) == ["ps.0"]
