"""The backend protocol's base class: what a factory must return and the optional methods' defaults."""
from __future__ import annotations

import types

import pytest

import tensorplug


def _plugin(name, factory):
    module = types.ModuleType(f"tp_test_{name}")

    @tensorplug.hookimpl
    def tensorplug_add_backends():
        return [tensorplug.BackendSpec(name, "cpu", factory)]

    module.tensorplug_add_backends = tensorplug_add_backends
    return module


@pytest.fixture
def registered():
    reg = tensorplug.registry.REGISTRY
    pm = reg._load()
    added = []

    def add(module):
        pm.register(module, name=module.__name__)
        reg._backends = None
        added.append(module)

    yield add
    for module in added:
        pm.unregister(module)
    reg._backends = None


def test_a_factory_must_return_a_backend(registered):
    registered(_plugin("not_a_backend", lambda index: types.SimpleNamespace(xp=None)))
    with pytest.raises(TypeError, match="not a tensorplug.Backend; subclass tensorplug.ArrayAPIBackend"):
        tensorplug.get_backend("not_a_backend")


def _train(where):
    with tensorplug.use_backend(where):
        tensorplug.manual_seed(0)
        model = tensorplug.nn.Sequential(tensorplug.nn.Conv2d(1, 2, 3), tensorplug.nn.Flatten(),
                                         tensorplug.nn.Linear(8, 3))
        x = tensorplug.randn(4, 1, 4, 4)
        y = tensorplug.tensor([0, 2, 1, 2])
        opt = tensorplug.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            loss = tensorplug.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        assert x._backend.name == where and next(model.parameters())._backend.name == where
        return loss.item()


def test_optional_fused_methods_decline_by_default_and_training_uses_the_array_code(registered):
    numpy_backend = type(tensorplug.get_backend("numpy"))

    class Plain(tensorplug.ArrayAPIBackend):
        name = "plain_numpy"
        xp = numpy_backend.xp

    plain = Plain()
    assert plain.axpy(None, 1.0, None) is False
    assert plain.fused_adam(None, None, None, None, None, sign=1.0, weight_decay=0.0, decay=1.0, beta1=0.9,
                            beta2=0.99, step_size=0.1, eps=1e-8) is False
    assert plain.fused_cross_entropy(None, None, -100, "mean") is NotImplemented
    assert plain.conv_bias(None, None, None, 1, 0, 1, 1) is NotImplemented
    registered(_plugin("plain_numpy", lambda index: plain))
    assert _train("plain_numpy") == pytest.approx(_train("numpy"), rel=1e-5)
