"""Module: attribute routing, registration errors, iteration, modes, moving, state dicts, hooks, repr."""
from __future__ import annotations

import copy

import pytest

import tensorplug
from tensorplug import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2)
        self.scale = nn.Parameter(tensorplug.ones(1))
        self.register_buffer("steps", tensorplug.zeros(()))
        self.register_buffer("cache", tensorplug.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameter_is_a_tensor_and_shares_data():
    t = tensorplug.zeros(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, tensorplug.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    t.add_(1)
    assert p.sum().item() == 6
    y = (p * 2).sum()
    assert type(y) is tensorplug.Tensor
    y.backward()
    assert p.grad.tolist() == [[2.0] * 3] * 2
    assert repr(p).startswith("Parameter containing:\ntensor([[1., 1., 1.],")
    assert repr(p).endswith("requires_grad=True)")
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.tolist() == p.tolist() and q._data is not p._data


def test_routing_and_registration_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert len(list(net.parameters())) == 5 and len(list(net.modules())) == 4
    assert len(list(net.parameters(recurse=False))) == 1
    assert "fc1" not in net.__dict__ and "scale" not in net.__dict__
    assert "fc1" in dir(net) and "steps" in dir(net)
    net.note = 3
    assert net.note == 3 and "note" in net.__dict__
    del net.fc2
    assert "fc2" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'fc2'"):
        net.fc2


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_assignment_errors():
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign .* as parameter 'scale' \(torch.nn.Parameter or None expected\)"):
        net.scale = tensorplug.ones(1)
    with pytest.raises(TypeError, match=r"as child module 'fc1' \(torch.nn.Module or None expected\)"):
        net.fc1 = 3
    with pytest.raises(TypeError, match=r"as buffer 'steps' \(torch.nn.Buffer, torch.Tensor or None expected\)"):
        net.steps = 5
    net.scale = None
    assert net.scale is None and "scale" not in dict(net.named_parameters())
    net.steps = tensorplug.ones(())
    assert net.steps.item() == 1

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tensorplug.zeros(1))
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError) as info:
        m.register_parameter("a.b", nn.Parameter(tensorplug.zeros(1)))
    assert 'can\'t contain "."' in info.value.args[0]
    with pytest.raises(KeyError) as info:
        m.register_buffer("a.b", tensorplug.zeros(1))
    assert 'can\'t contain "."' in info.value.args[0]
    with pytest.raises(KeyError, match="be empty string"):
        m.register_parameter("", None)
    with pytest.raises(TypeError, match="parameter name should be a string"):
        m.register_parameter(1, None)
    with pytest.raises(TypeError, match=r"\(torch.nn.Parameter or None required\)"):
        m.register_parameter("w", tensorplug.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", tensorplug.zeros(1))
    w = tensorplug.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        m.register_parameter("nl", _non_leaf_param(w))
    m.register_module("sub", nn.Linear(1, 1))
    assert m.get_submodule("sub") is m.sub
    assert m.get_parameter("sub.weight") is m.sub.weight


def _non_leaf_param(w):
    p = nn.Parameter(w.detach())
    p.grad_fn = (w * 2).grad_fn  # a Parameter with history, as torch refuses
    return p


def test_forward_missing():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


def test_train_eval_requires_grad_zero_grad_apply():
    net = Net()
    assert net.training and net.fc1.training
    assert net.eval() is net
    assert not net.training and not net.fc1.training
    net.train()
    assert net.act.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train(1)
    net(tensorplug.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


def test_to_double_keeps_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net.double()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == tensorplug.float64 for p in params)
    assert net.steps.dtype == tensorplug.float64
    out = net(tensorplug.randn(2, 4, dtype=tensorplug.float64))
    assert out.dtype == tensorplug.float64
    net.to(tensorplug.float32)
    assert net.fc1.weight.dtype == tensorplug.float32
    net.to("cpu").cpu()
    assert net.fc1.weight.device == tensorplug.device("cpu")
    with pytest.raises(TypeError, match="floating point"):
        net.to(tensorplug.int64)
    x = net.float().fc1.weight
    assert x is params[1]


def test_state_dict_round_trip():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert "cache" not in sd
    assert not sd["fc1.weight"].requires_grad
    other = Net()
    result = other.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for k, v in other.state_dict().items():
        assert v.tolist() == sd[k].tolist()
    x = tensorplug.randn(3, 4)
    assert net(x).tolist() == other(x).tolist()
    # loading copies in place: the Parameter objects stay
    w = other.fc1.weight
    other.load_state_dict(Net().state_dict())
    assert other.fc1.weight is w


def test_load_state_dict_errors():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    bad = dict(sd)
    del bad["bias"]
    bad["extra"] = tensorplug.zeros(1)
    with pytest.raises(RuntimeError) as info:
        lin.load_state_dict(bad)
    text = str(info.value)
    assert "Error(s) in loading state_dict for Linear" in text
    assert 'Missing key(s) in state_dict: "bias"' in text
    assert 'Unexpected key(s) in state_dict: "extra"' in text
    missing, unexpected = lin.load_state_dict(bad, strict=False)
    assert missing == ["bias"] and unexpected == ["extra"]
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        lin.load_state_dict({"weight": tensorplug.zeros(3, 3), "bias": tensorplug.zeros(2)})
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        lin.load_state_dict({"weight": tensorplug.zeros(3, 3)}, strict=False)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        lin.load_state_dict([1, 2])


def test_state_dict_through_save_load(tmp_path):
    net = Net()
    path = tmp_path / "net.tp"
    tensorplug.save(net.state_dict(), path)
    other = Net()
    other.load_state_dict(tensorplug.load(path))
    assert other.fc2.weight.tolist() == net.fc2.weight.tolist()


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(module, args, output):
        calls.append("post")
        return output + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(tensorplug.ones(1, 2))
    assert calls == ["pre", "post"]
    assert out.tolist() == (lin.bias + 1).unsqueeze(0).tolist()
    h1.remove()
    h2.remove()
    calls.clear()
    lin(tensorplug.ones(1, 2))
    assert calls == []

    def kw_pre(module, args, kwargs):
        return args, kwargs
    with lin.register_forward_pre_hook(kw_pre, with_kwargs=True):
        lin(tensorplug.ones(1, 2))
    assert not lin._forward_pre_hooks


def test_kwargs_pre_hook_returning_a_bad_value_raises_torchs_error():
    torch = pytest.importorskip("torch")
    for m in (tensorplug, torch):
        lin = m.nn.Linear(2, 1)
        lin.register_forward_pre_hook(lambda module, args, kwargs: args, with_kwargs=True)
        with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of \(new_args, "
                                               r"new_kwargs\), but got"):
            lin(m.ones(1, 2))


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(),
                                            torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False)))
            self.head = torch.nn.Linear(3, 2)

    class PNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 3, bias=False)))
            self.head = nn.Linear(3, 2)

    assert repr(PNet()).replace("PNet", "TNet") == repr(TNet())


def test_deepcopy_module():
    net = Net()
    twin = copy.deepcopy(net)
    assert twin.fc1.weight is not net.fc1.weight
    assert isinstance(twin.fc1.weight, nn.Parameter)
    assert twin.fc1.weight.tolist() == net.fc1.weight.tolist()
