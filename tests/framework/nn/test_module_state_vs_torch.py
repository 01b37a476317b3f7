"""nn.Module's state dict, hooks and copies against torch: the same calls on both libraries, compared."""
import copy
from collections import OrderedDict

import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _net(L):
    class Net(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = L.nn.BatchNorm1d(2)
            self.seq = L.nn.Sequential(L.nn.Linear(2, 3), L.nn.ReLU())
            self.register_buffer("scratch", L.zeros(2), persistent=False)

        def forward(self, x):
            return self.seq(self.bn(x))
    return Net()


def _both(fn):
    return fn(torch), fn(tensorplug)


def test_state_dict_metadata_versions():
    ours, theirs = _both(lambda L: list(_net(L).state_dict()._metadata.items()))
    assert ours == theirs  # BatchNorm is version 2 in both


def test_batchnorm_loads_a_plain_dict_without_num_batches_tracked():
    def load(L):
        m = _net(L)
        sd = {k: v for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
        return repr(m.load_state_dict(sd))
    ours, theirs = _both(load)
    assert ours == theirs == "<All keys matched successfully>"


def test_extra_state_is_saved_and_restored():
    def run(L):
        class Counter(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.steps = 0
                self.fc = L.nn.Linear(1, 1)

            def get_extra_state(self):
                return {"steps": self.steps}

            def set_extra_state(self, state):
                self.steps = state["steps"]
        a = Counter()
        a.steps = 7
        b = Counter()
        b.load_state_dict(a.state_dict())
        sd = a.state_dict()
        del sd["_extra_state"]
        with pytest.raises(RuntimeError) as err:
            Counter().load_state_dict(sd)
        plain = L.nn.Linear(1, 1)
        unexpected = plain.load_state_dict(dict(plain.state_dict(), _extra_state=1), strict=False)
        return list(a.state_dict()), b.steps, str(err.value), unexpected.unexpected_keys
    ours, theirs = _both(run)
    assert ours == theirs
    assert ours[1] == 7


def test_load_state_dict_assign_takes_the_tensors():
    def run(L):
        m = L.nn.BatchNorm1d(2)
        m.weight.requires_grad_(False)
        sd = {k: v + 1 for k, v in L.nn.BatchNorm1d(2).state_dict().items()}
        m.load_state_dict(sd, assign=True)
        with L.no_grad():
            sd["bias"].add_(10)
            sd["running_mean"].add_(10)
        return (type(m.weight).__name__, m.weight.requires_grad, m.bias.requires_grad,
                m.bias.tolist(), m.running_mean.tolist(), m.running_mean is sd["running_mean"])
    ours, theirs = _both(run)
    assert ours == theirs


def test_unexpected_nested_key_under_a_parameter():
    def run(L):
        m = _net(L)
        sd = dict(m.state_dict(), **{"seq.0.weight.extra": L.zeros(1)})
        with pytest.raises(RuntimeError) as err:
            m.load_state_dict(sd)
        return str(err.value).replace("tensorplug", "torch")
    ours, theirs = _both(run)
    assert ours == theirs


def test_scalar_parameter_loads_a_one_element_checkpoint():
    def run(L):
        m = L.nn.Module()
        m.scale = L.nn.Parameter(L.tensor(1.0))
        m.load_state_dict({"scale": L.tensor([3.0])})
        return m.scale.shape, m.scale.item()
    ours, theirs = _both(run)
    assert (tuple(ours[0]), ours[1]) == (tuple(theirs[0]), theirs[1])


def test_state_dict_and_load_hooks():
    def run(L):
        m = L.nn.Sequential(L.nn.Linear(2, 2))
        calls = []
        m[0].register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(("pre", prefix)))

        def post(mod, sd, prefix, local_metadata):
            sd[prefix + "note"] = L.zeros(1)
        m[0].register_state_dict_post_hook(post)
        keys = list(m.state_dict(prefix="model."))

        def load_pre(mod, sd, prefix, *rest):
            calls.append(("load_pre", type(mod).__name__, prefix, sorted(sd)))

        def load_post(mod, incompatible):
            calls.append(("load_post", list(incompatible.unexpected_keys)))
            incompatible.unexpected_keys.clear()
        m[0].register_load_state_dict_pre_hook(load_pre)
        m.register_load_state_dict_post_hook(load_post)
        result = m.load_state_dict(m.state_dict())
        return keys, calls, repr(result)
    ours, theirs = _both(run)
    assert ours == theirs


def test_forward_hook_always_call_and_global_hooks():
    def run(L):
        class Boom(L.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        calls = []
        m = Boom()
        m.register_forward_hook(lambda mod, args, out: calls.append(("always", out)), always_call=True)
        m.register_forward_hook(lambda mod, args, out: calls.append(("plain", out)))
        with pytest.raises(ValueError):
            m(L.ones(1))
        handle = L.nn.modules.module.register_module_forward_hook(
            lambda mod, args, out: calls.append(type(mod).__name__))
        try:
            L.nn.Sequential(L.nn.ReLU())(L.ones(1))
        finally:
            handle.remove()
        L.nn.ReLU()(L.ones(1))
        return calls
    ours, theirs = _both(run)
    assert ours == theirs


def test_set_submodule_get_parameter_and_bfloat16():
    def run(L):
        m = _net(L)
        m.set_submodule("seq.1", L.nn.Tanh())
        m.set_submodule("seq.new", L.nn.Sigmoid())
        errors = []
        for call in (lambda: m.set_submodule("seq.other", L.nn.Tanh(), strict=True),
                     lambda: m.set_submodule("", L.nn.Tanh()),
                     lambda: m.set_submodule("seq.0", 3),
                     lambda: m.get_parameter("seq.0.missing"),
                     lambda: m.get_buffer("bn.missing")):
            with pytest.raises((AttributeError, ValueError)) as err:
                call()
            errors.append((type(err.value).__name__, str(err.value)))
        m.bfloat16()
        dtypes = [str(v.dtype).split(".")[-1] for v in m.state_dict().values()]
        return repr(m.seq), errors, dtypes
    ours, theirs = _both(run)
    assert ours == theirs


def test_module_init_arguments_message():
    def run(L):
        with pytest.raises(TypeError) as err:
            L.nn.Module(3)
        return str(err.value)
    ours, theirs = _both(run)
    assert ours == theirs


def test_deepcopy_leaves_gradients_behind():
    def run(L):
        m = L.nn.Linear(2, 2)
        m(L.ones(1, 2)).sum().backward()
        c = copy.deepcopy(m)
        return c.weight.grad is None, m.weight.grad is not None, type(c.weight).__name__
    ours, theirs = _both(run)
    assert ours == theirs == (True, True, "Parameter")


def test_state_dict_keys_with_shared_and_nonpersistent():
    def run(L):
        m = _net(L)
        m.alias = m.seq[0]
        sd = m.state_dict(destination=OrderedDict(), prefix="p.")
        return list(sd), list(m.state_dict(keep_vars=True))
    ours, theirs = _both(run)
    assert ours == theirs
