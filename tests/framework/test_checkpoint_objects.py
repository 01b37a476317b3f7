"""Whole-object checkpoints (``save(model, f)``), NumPy values, and the weights_only allow-list, as torch >= 2.6."""
from __future__ import annotations

import collections
import enum
import hashlib
import importlib
import io
import json
import pickle
import struct
import sys

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F
from tensorplug import serialization as S
from tensorplug.errors import CheckpointError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 2)
        self.fc2.weight = nn.Parameter(self.fc1.weight[:2].detach().clone())
        self.tied = self.fc1              # the same submodule twice
        self.act = F.relu                 # a function, stored by its import path
        self.scale = 0.5
        self.names = ("a", "b")
        self.register_buffer("steps", tensorplug.zeros(1, dtype=tensorplug.int64))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


@pytest.fixture(autouse=True)
def _no_leftover_allow_list():
    yield
    S.clear_safe_globals()


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    tensorplug.save(obj, buf)
    buf.seek(0)
    return tensorplug.load(buf, **load_kwargs)


def test_whole_model_round_trip_with_weights_only_false():
    tensorplug.manual_seed(0)
    model = Net()
    back = _round_trip(model, weights_only=False)
    assert type(back) is Net and back.training
    x = tensorplug.randn(3, 4)
    assert tensorplug.equal(back(x), model(x))
    assert back.tied is back.fc1 and back.act is F.relu and back.names == ("a", "b")
    assert type(back.fc1.weight) is nn.Parameter and back.fc1.weight.requires_grad
    assert back.steps.dtype is tensorplug.int64
    assert [k for k, _ in back.named_parameters()] == [k for k, _ in model.named_parameters()]


def test_model_and_optimizer_keep_their_links():
    model = nn.Linear(3, 1)
    opt = tensorplug.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(tensorplug.randn(2, 3)).sum().backward()
    opt.step()
    back = _round_trip({"model": model, "opt": opt}, weights_only=False)
    assert back["opt"].param_groups[0]["params"][0] is back["model"].weight
    back["opt"].zero_grad()
    back["model"](tensorplug.randn(2, 3)).sum().backward()
    back["opt"].step()                      # momentum buffers came back and still fit


def test_refused_by_default_with_torchs_error():
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed") as info:
        _round_trip(Net())
    message = str(info.value)
    assert isinstance(info.value, CheckpointError)
    assert f"Unsupported global: GLOBAL {__name__}.Net was not an allowed global by default" in message
    assert "add_safe_globals" in message and "weights_only=False" in message
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed") as theirs:
        torch.load(buf)
    assert "Unsupported global: GLOBAL torch.nn.modules.linear.Linear was not an allowed global by default" in \
        str(theirs.value)


def test_refusal_imports_nothing(tmp_path, monkeypatch):
    # the class's module is not imported under weights_only=True, even when it exists on the path
    (tmp_path / "ckpt_side_effect.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('imported').touch()\nclass Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    side_effect = importlib.import_module("ckpt_side_effect")   # a module this test writes
    path = tmp_path / "thing.tp"
    tensorplug.save(side_effect.Thing(), path)
    (tmp_path / "imported").unlink()
    del sys.modules["ckpt_side_effect"]
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL ckpt_side_effect.Thing"):
        tensorplug.load(path)
    assert not (tmp_path / "imported").exists()
    assert type(tensorplug.load(path, weights_only=False)).__name__ == "Thing"   # trusted: imported
    assert (tmp_path / "imported").exists()


def test_allow_list_add_and_context_manager():
    allowed = [Net, nn.Linear, F.relu]
    with S.safe_globals(allowed):
        assert S.get_safe_globals() == allowed
        assert type(_round_trip(Net())) is Net
    assert S.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        _round_trip(Net())
    S.add_safe_globals([(Net, f"{__name__}.Net"), nn.Linear, F.relu])
    assert type(_round_trip(Net())) is Net
    S.clear_safe_globals()
    with pytest.raises(TypeError, match="safe globals"):
        S.add_safe_globals([42])


def test_partial_allow_list_names_the_next_missing_class():
    with S.safe_globals([Net]):
        with pytest.raises(pickle.UnpicklingError, match="GLOBAL tensorplug.nn.*Linear"):
            _round_trip(Net())


def test_numpy_values_and_numbers_come_back_as_they_were():
    obj = {"f64": np.arange(6.0).reshape(2, 3).T, "i8": np.array([-1, 2], dtype=np.int8),
           "u32": np.array([7], dtype=np.uint32), "bool": np.array(True), "f32": np.float32(1.5),
           "i64": np.int64(-3), "c": np.complex64(1 + 2j), "numbers": [1, 2.5, 1 + 2j, float("nan")],
           "dd": collections.defaultdict(list, {"a": [1]})}
    back = _round_trip(obj)            # pure data: allowed with weights_only=True (beyond torch, which refuses)
    for key in ("f64", "i8", "u32", "bool"):
        assert type(back[key]) is np.ndarray and back[key].dtype == obj[key].dtype, key
        np.testing.assert_array_equal(back[key], obj[key])
    for key in ("f32", "i64", "c"):
        assert type(back[key]) is type(obj[key]) and back[key] == obj[key], key
    assert back["numbers"][:3] == [1, 2.5, 1 + 2j] and back["numbers"][3] != back["numbers"][3]
    assert type(back["dd"]) is collections.defaultdict and back["dd"]["missing"] == []
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    theirs = torch.load(buf, weights_only=False)
    assert all(type(theirs[k]) is type(back[k]) for k in obj)


class _TaggedDict(dict):
    pass


class _Color(enum.Enum):
    RED = 1


@pytest.mark.parametrize("value, problem", [
    (np.array(["text"]), "dtype"),
    (np.array([object()], dtype=object), "dtype"),
    (lambda x: x, "top level"),
    (collections.namedtuple("Local", "a")(1), "not supported"),
    (collections.UserDict({"a": 1}), None),                     # a plain class with its data in __dict__: fine
    (_TaggedDict(a=1), "not supported"),                       # its items live outside __dict__
    (_Color.RED, "not supported"),                             # an Enum rebuilds itself through __reduce_ex__
])
def test_unsavable_values_say_why(tmp_path, value, problem):
    if problem is None:
        tensorplug.save({"v": value}, tmp_path / "x.tp")
        assert tensorplug.load(tmp_path / "x.tp", weights_only=False)["v"] == value
        return
    with pytest.raises(TypeError, match=problem):
        tensorplug.save({"v": value}, tmp_path / "x.tp")
    assert not any(tmp_path.iterdir())


def _signed(root, storages=(), data=b""):
    header = json.dumps({"format": "tensorplug-checkpoint", "storages": list(storages), "tensors": [],
                         "root": root}).encode()
    header += b" " * (-(20 + len(header)) % 64)
    body = struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, len(header)) + header + data
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("root, weights_only, error, problem", [
    ({"$": "object", "id": 0, "module": "os", "qualname": "system", "state": {}}, True, pickle.UnpicklingError,
     "GLOBAL os.system"),
    ({"$": "global", "module": "subprocess", "qualname": "Popen"}, True, pickle.UnpicklingError, "GLOBAL subprocess"),
    ({"$": "object", "id": 0, "module": "os", "qualname": "system", "state": {}}, False, CheckpointError,
     "not a new instance of a class"),
    ({"$": "object", "id": 0, "module": "no_such_module_xyz", "qualname": "A", "state": {}}, False, CheckpointError,
     "cannot be imported"),
    ({"$": "ref", "id": 3}, True, CheckpointError, "comes before it"),
    ({"$": "ndarray", "dtype": "|O", "shape": [1], "storage": 0}, True, CheckpointError, "bad NumPy dtype"),
    ({"$": "ndarray", "dtype": "<f4", "shape": [100], "storage": 0}, True, CheckpointError, "does not fill"),
    ({"$": "ndarray", "dtype": "<f4", "shape": [1], "storage": 9}, True, CheckpointError, "storage 9"),
    ({"$": "defaultdict", "factory": {"$": "global", "module": "os", "qualname": "getcwd"}, "items": []}, True,
     pickle.UnpicklingError, "GLOBAL os.getcwd"),
])
def test_hostile_object_nodes(tmp_path, root, weights_only, error, problem):
    path = tmp_path / "hostile.tp"
    path.write_bytes(_signed(root, [{"offset": 0, "nbytes": 8}], bytes(8)))
    with pytest.raises(error, match=problem):
        tensorplug.load(path, weights_only=weights_only)
