"""The meta device: torch.device('meta') is a plain device object, and every way of making a tensor on it
raises one NotImplementedError naming the feature (tensorplug has no storage-less tensors);
``with device(...)`` is torch's device mode."""
from __future__ import annotations

import pytest

import tensorplug


@pytest.mark.parametrize("make", [
    lambda: tensorplug.empty(2, 3, device="meta"),
    lambda: tensorplug.zeros(2, device=tensorplug.device("meta")),
    lambda: tensorplug.ones(2).to("meta"),
    lambda: tensorplug.nn.Linear(2, 3, device="meta"),
    lambda: tensorplug.set_default_device("meta"),
])
def test_meta_tensors_are_refused_naming_the_feature(make):
    with pytest.raises(NotImplementedError, match=r"meta tensors \(device='meta'"):
        make()
    assert tensorplug.zeros(1).device.type == "cpu"


def test_meta_device_object_behaves_as_torch():
    torch = pytest.importorskip("torch")
    assert repr(tensorplug.device("meta")) == repr(torch.device("meta"))
    assert str(tensorplug.device("meta")) == "meta"


def test_device_as_a_context_manager():
    with tensorplug.device("cpu") as dev:
        assert dev == tensorplug.device("cpu")
        assert tensorplug.zeros(2).device == dev
    with pytest.raises(NotImplementedError, match="meta tensors"):
        with tensorplug.device("meta"):
            tensorplug.nn.Linear(2, 2)
    assert tensorplug.zeros(1).device.type == "cpu"
