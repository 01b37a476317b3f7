"""Files written by ``torch.save``, read without torch and without running their pickle; hostile ones refused."""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

import tensorplug
from tensorplug.errors import CheckpointError
from tensorplug.serialization import WeightsOnlyError

DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "bool",
          "complex64", "complex128"] + (["bfloat16"] if hasattr(tensorplug, "bfloat16") else [])


def _torch():
    return pytest.importorskip("torch")


def _torch_file(obj, tmp_path, name="model.pt"):
    path = tmp_path / name
    _torch().save(obj, path)
    return path


# real files --------------------------------------------------------------------------------

def test_state_dict_of_a_torch_model_drives_a_tensorplug_model(tmp_path):
    torch = _torch()
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    path = _torch_file(theirs.state_dict(), tmp_path)
    sd = tensorplug.load(path)
    assert type(sd) is collections.OrderedDict and list(sd) == list(theirs.state_dict())
    ours = tensorplug.nn.Sequential(tensorplug.nn.Linear(5, 7), tensorplug.nn.ReLU(), tensorplug.nn.Linear(7, 3))
    ours.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(tensorplug.tensor(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype(tmp_path, dtype):
    torch = _torch()
    values = torch.arange(-3, 9).reshape(3, 4) if dtype != "bool" else torch.arange(12).reshape(3, 4) % 3 == 0
    t = values.to(getattr(torch, dtype))
    back = tensorplug.load(_torch_file({"t": t, "col": t[:, 1], "zero_d": t[1, 1], "empty": t[:0]}, tmp_path))
    for key, ref in {"t": t, "col": t[:, 1], "zero_d": t[1, 1], "empty": t[:0]}.items():
        assert back[key].dtype is getattr(tensorplug, dtype), key
        assert tuple(back[key].shape) == tuple(ref.shape), key
        assert back[key].tolist() == ref.tolist(), key


def test_bfloat16_is_read_or_refused_by_name(tmp_path):
    torch = _torch()
    path = _torch_file({"h": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}, tmp_path)
    if hasattr(tensorplug, "bfloat16"):
        assert tensorplug.load(path)["h"].float().tolist() == [1.5, -2.0]
    else:
        with pytest.raises(CheckpointError, match="bfloat16"):
            tensorplug.load(path)


def test_views_and_shared_storages_stay_shared(tmp_path):
    torch = _torch()
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"base": base, "row": base[1], "col": base[:, 2], "t": base.t(), "again": base}
    back = tensorplug.load(_torch_file(obj, tmp_path))
    ref = torch.load(_torch_file(obj, tmp_path, "again.pt"))
    assert back["again"] is back["base"]
    for key in obj:
        assert back[key].stride() == ref[key].stride(), key
        assert back[key].tolist() == ref[key].tolist(), key
    back["base"][1, 2] = 100.0
    assert back["row"][2].item() == back["col"][1].item() == back["t"][2, 1].item() == 100.0


def test_views_keep_their_storage_offset(tmp_path):
    # torch's loaded views start where they did in the shared storage; tensorplug's said 0 for all of them
    torch = _torch()
    a = torch.arange(10.0)
    obj = {"a": a, "slice": a[3:7], "grid": a[2:].view(2, 4)[:, 1:], "one": a[5], "empty": a[10:],
           "half": a.half()[1:]}
    back = tensorplug.load(_torch_file(obj, tmp_path))
    ref = torch.load(_torch_file(obj, tmp_path, "again.pt"))
    for key in obj:
        assert back[key].storage_offset() == ref[key].storage_offset(), key
        assert back[key].stride() == ref[key].stride(), key
        assert back[key].tolist() == ref[key].tolist(), key
    back["a"][4] = 100.0
    assert back["slice"][1].item() == back["grid"][0, 1].item() == 100.0


def test_containers_numbers_and_metadata(tmp_path):
    torch = _torch()
    obj = {
        "nested": [collections.OrderedDict(a=torch.ones(2)), (1, "x", None), {"deep": [torch.zeros(1)]}],
        "param": torch.nn.Parameter(torch.ones(2)),
        "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
        "grad": torch.ones(2, requires_grad=True),
        "numbers": [3, -5, 70000, 2 ** 70, 1.5, float("inf"), 1 + 2j, True],
        "size": torch.Size([2, 3]), "dtype": torch.float16, "device": torch.device("cpu"),
        "set": {1, 2}, "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"), "counter": collections.Counter("aab"),
    }
    back = tensorplug.load(_torch_file(obj, tmp_path))
    assert type(back["nested"][0]) is collections.OrderedDict
    assert back["nested"][1] == (1, "x", None) and back["nested"][2]["deep"][0].tolist() == [0.0]
    assert type(back["param"]).__name__ == "Parameter" and back["param"].requires_grad
    assert type(back["frozen"]).__name__ == "Parameter" and not back["frozen"].requires_grad
    assert type(back["grad"]) is tensorplug.Tensor and back["grad"].requires_grad
    assert back["numbers"] == obj["numbers"]
    assert back["size"] == tensorplug.Size([2, 3]) and back["dtype"] is tensorplug.float16
    assert back["device"] == tensorplug.device("cpu")
    assert back["set"] == {1, 2} and back["bytes"] == b"\x00\xff" and back["bytearray"] == bytearray(b"ab")
    assert back["counter"] == collections.Counter("aab")


def test_file_object_and_map_location(tmp_path):
    torch = _torch()
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf)
    buf.seek(0)
    assert tensorplug.load(buf, map_location="cpu")["w"].tolist() == [1.0, 1.0, 1.0]
    buf.seek(0)
    assert tensorplug.load(buf, map_location=lambda storage, loc: storage)["w"].tolist() == [1.0, 1.0, 1.0]


def test_a_whole_torch_model_is_refused_with_torchs_error(tmp_path):
    torch = _torch()
    path = _torch_file(torch.nn.Linear(2, 2), tmp_path)
    for weights_only in (True, False):
        with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL torch.nn.modules.linear.Linear "
                                                         "was not an allowed global by default") as info:
            tensorplug.load(path, weights_only=weights_only)
        assert isinstance(info.value, CheckpointError) and "state_dict" in str(info.value)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL torch.nn.modules.linear.Linear"):
        torch.load(path)


def test_truncated_torch_file_refused(tmp_path):
    data = _torch_file({"w": _torch().ones(100)}, tmp_path).read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        bad = tmp_path / "cut.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="cut.pt"):
            tensorplug.load(bad)


# crafted files -------------------------------------------------------------------------------

def _g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _s(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _i(n):
    if -2 ** 31 <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _tup(*parts):
    return b"(" + b"".join(parts) + b"t"


def _call(fn, *args):
    return fn + _tup(*args) + b"R"


def _storage(key="0", numel=4, kind="FloatStorage"):
    return _tup(_s("storage"), _g("torch", kind), _s(key), _s("cpu"), _i(numel)) + b"Q"


def _tensor(offset=0, size=(4,), stride=(1,), storage=None):
    return _call(_g("torch._utils", "_rebuild_tensor_v2"), storage or _storage(), _i(offset),
                 _tup(*map(_i, size)), _tup(*map(_i, stride)), b"\x89", _call(_g("collections", "OrderedDict")))


def _zip(tmp_path, body, entries=None, compress=zipfile.ZIP_STORED):
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + body + b".")
        zf.writestr("archive/byteorder", b"little")
        zf.writestr("archive/version", b"3\n")
        for key, data in ({"0": bytes(16)} if entries is None else entries).items():
            zf.writestr(f"archive/data/{key}", data)
    return path


def test_crafted_helper_builds_what_torch_reads(tmp_path):
    torch = _torch()
    path = _zip(tmp_path, _tensor(offset=1, size=(2,), stride=(1,)), {"0": np.arange(4, dtype=np.float32).tobytes()})
    assert torch.load(path).tolist() == [1.0, 2.0]
    assert tensorplug.load(path).tolist() == [1.0, 2.0]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_reduce_to_os_system_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    body = pickle.dumps({"w": _Evil(marker)}, protocol=2)[2:-1]
    path = _zip(tmp_path, body)
    with pytest.raises(WeightsOnlyError, match="unsupported GLOBAL (os|posix).system whose module (os|posix) is "
                                               "blocked"):
        tensorplug.load(path, weights_only=False)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("__builtin__", "exec"), ("subprocess", "Popen"),
                                          ("__main__", "Net"), ("torch", "load"), ("numpy", "frombuffer"),
                                          ("builtins", "getattr"), ("torch._utils", "_rebuild_nope")])
def test_any_other_global_is_refused(tmp_path, module, name):
    path = _zip(tmp_path, _call(_g(module, name), _s("1+1")))
    with pytest.raises(WeightsOnlyError, match="Weights only load failed") as info:
        tensorplug.load(path)
    assert "was not an allowed global by default" in str(info.value) and isinstance(info.value, CheckpointError)


@pytest.mark.parametrize("body, problem", [
    (_tensor(size=(2 ** 40,), stride=(0,)), "hostile"),                         # huge broadcast view
    (_tensor(size=(3, 2 ** 20, 2 ** 20), stride=(0, 0, 0)), "hostile"),
    (_tensor(offset=3, size=(4,)), "reads bytes up to 28 of a 16-byte storage"),  # past the storage
    (_tensor(offset=-1), "negative"),
    (_tensor(stride=(-1,), offset=3), "negative"),
    (_tensor(size=(4,), stride=(1, 1)), "strides"),
    (_tensor(storage=_storage(numel=100)), "claims 100 elements"),
    (_tensor(storage=_storage(key="7")), "no entry 'archive/data/7'"),
    (_tensor(storage=_storage(key="../../etc/passwd")), "malformed storage"),
    (_tensor(storage=_storage(kind="QInt8Storage")), "QInt8Storage"),
    (_call(_g("torch._utils", "_rebuild_tensor_v2"), _s("not a storage"), _i(0), _tup(), _tup(), b"\x89", b"N"),
     "expected a storage"),
    (_call(_g("torch._utils", "_rebuild_qtensor"), _i(0)), "quantized"),
    (_call(_g("builtins", "bytearray"), _i(10 ** 12)), "bad arguments"),        # would allocate 1 TB
    (_call(_g("torch", "Size"), _tup(_s("x"))), "bad arguments"),
    (_tup(_s("storage"), _s("x")) + b"Q", "persistent id"),
    (_i(1) + _tup() + b"R", "not a function"),
    (b"]" + b"}" + b"b", "Can only build"),
    (_g("collections", "OrderedDict") + _tup() + b"\x81", "Can only create new object"),
    (b"i__builtin__\nlist\n", "unsupported pickle opcode"),                      # INST
    (b"\x8b\xff\xff\xff\x7f", "unsupported pickle opcode"),                      # LONG4
    (b"X\xff\xff\xff\x7f", "ends early"),                                          # a 2 GB string
    (b"h\x05", "memo entry 5"),
    (b"R", "empty stack"),
    (b"a", "empty stack"),
    (_i(1) + _i(2), "unbalanced"),
    (b"(" + b"]" * 10, "unbalanced"),
])
def test_hostile_pickles_are_checkpoint_errors(tmp_path, body, problem):
    path = _zip(tmp_path, body)
    with pytest.raises(CheckpointError, match=problem) as info:
        tensorplug.load(path)
    assert "crafted.pt" in str(info.value)


def test_compressed_entries_cannot_unpack_beyond_the_file(tmp_path):
    path = _zip(tmp_path, _tensor(storage=_storage(numel=1)), {"0": bytes(50_000_000)}, compress=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(CheckpointError, match="unpack to more than"):
        tensorplug.load(path)


def test_zip_without_data_pkl_refused(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="data.pkl"):
        tensorplug.load(path)


def test_allow_listed_class_is_rebuilt_from_a_torch_file(tmp_path):
    body = (_g(__name__, "Point") + _tup() + b"\x81" + b"}" + _s("x") + _i(3) + b"s" + b"b")
    path = _zip(tmp_path, body)
    with pytest.raises(WeightsOnlyError, match=f"GLOBAL {__name__}.Point"):
        tensorplug.load(path)
    with tensorplug.serialization.safe_globals([Point]):
        point = tensorplug.load(path)
    assert type(point) is Point and point.x == 3


class Point:
    pass
