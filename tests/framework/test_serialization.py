"""Checkpoints: round trips, atomic writes, and refusal of damaged or hostile files."""
from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

import tensorplug
from tensorplug import serialization as S
from tensorplug.errors import CheckpointError


def _nested():
    w = tensorplug.randn(3, 4)
    return {
        "model": collections.OrderedDict(weight=w, bias=tensorplug.zeros(4), scalar=tensorplug.tensor(2.5)),
        "alias": w,
        "ints": tensorplug.arange(6).view(2, 3).t(),         # non-contiguous int64
        "half": tensorplug.ones(2, dtype=tensorplug.float16),
        "bools": tensorplug.tensor([True, False]),
        "empty": tensorplug.zeros(0, 3),
        "meta": [1, 2.5, float("nan"), float("-inf"), None, True, False, "text", (1, (2, "x"))],
        0: {"step": 7, "lr": 0.1},
        "dtype": tensorplug.float64,
        "device": tensorplug.device("cpu"),
    }


def _same(a, b):
    if isinstance(a, tensorplug.Tensor):
        assert isinstance(b, tensorplug.Tensor)
        assert a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)
        assert a.numpy().tobytes() == b.numpy().tobytes()
        return
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_nested(tmp_path):
    obj = _nested()
    path = tmp_path / "ckpt.tp"
    tensorplug.save(obj, path)
    back = tensorplug.load(path)
    _same(obj, back)
    assert back["alias"] is back["model"]["weight"]       # shared tensors stay shared
    assert back["model"]["scalar"].ndim == 0              # 0-d stays 0-d
    assert type(back["model"]) is collections.OrderedDict
    back["ints"][0, 0] = 100                              # loaded tensors are writable copies
    assert obj["ints"][0, 0].item() == 0


def _sharing_case(lib):
    """The same structure built with torch or tensorplug: parameters, flags, zero-size tensors, views."""
    base = lib.arange(12.0).view(3, 4)
    return {
        "param": lib.nn.Parameter(lib.ones(2)),
        "frozen": lib.nn.Parameter(lib.ones(2), requires_grad=False),
        "grad": lib.ones(2).requires_grad_(),
        "empty1": lib.zeros(0),
        "empty2": lib.zeros(0),
        "base": base,
        "row": base[1],
        "col": base[:, 2],
        "t": base.t(),
    }


def _load_back(lib, obj):
    buf = io.BytesIO()
    lib.save(obj, buf)
    buf.seek(0)
    return lib.load(buf)


def test_round_trip_keeps_meaning_like_torch():
    torch = pytest.importorskip("torch")
    ours = _load_back(tensorplug, _sharing_case(tensorplug))
    theirs = _load_back(torch, _sharing_case(torch))
    for key in theirs:
        assert type(ours[key]).__name__ == type(theirs[key]).__name__, key
        assert ours[key].requires_grad == theirs[key].requires_grad, key
        assert ours[key].stride() == theirs[key].stride(), key
        assert ours[key].tolist() == theirs[key].tolist(), key
    assert (ours["empty1"] is ours["empty2"]) == (theirs["empty1"] is theirs["empty2"]) == False  # noqa: E712
    for lib, back in ((tensorplug, ours), (torch, theirs)):
        with lib.no_grad():
            back["base"][1, 2] = 100.0            # a view and its base share memory after loading
        assert back["row"][2].item() == back["col"][1].item() == back["t"][2, 1].item() == 100.0


def test_round_trip_keeps_storage_offsets_like_torch():
    # a view saved beside its base loads at its offset (tensorplug's loaded views all said 0)
    torch = pytest.importorskip("torch")
    ours = _load_back(tensorplug, _sharing_case(tensorplug))
    theirs = _load_back(torch, _sharing_case(torch))
    for key in ("base", "row", "col", "t"):
        assert ours[key].storage_offset() == theirs[key].storage_offset(), key
    assert ours["row"].storage_offset() == 4


def test_dtype_views_share_memory():
    # torch.save refuses two dtypes over one storage; tensorplug stores the bytes once
    bits = tensorplug.arange(4, dtype=tensorplug.float32)
    back = _load_back(tensorplug, {"bits": bits, "as_int": bits.view(tensorplug.int32)})
    assert back["as_int"].tolist() == bits.view(tensorplug.int32).tolist()
    back["bits"][1] = 0.0
    assert back["as_int"][1].item() == 0


def test_bfloat16_round_trip_keeps_views():
    if not hasattr(tensorplug, "bfloat16"):
        pytest.skip("this tensorplug has no bfloat16")
    x = tensorplug.tensor([1.5, -2.0, 3.25]).to(tensorplug.bfloat16)
    back = _load_back(tensorplug, {"x": x, "tail": x[1:]})
    assert back["x"].dtype is tensorplug.bfloat16 and back["x"].float().tolist() == [1.5, -2.0, 3.25]
    back["x"][1] = 7.0
    assert back["tail"].float().tolist() == [7.0, 3.25]


def test_view_saved_alone_stores_only_its_bytes(tmp_path):
    # beyond torch (which writes the whole storage): a small slice of a big tensor stays small
    big = tensorplug.randn(100_000)
    tensorplug.save({"head": big[:10]}, tmp_path / "slice.tp")
    assert (tmp_path / "slice.tp").stat().st_size < 1024
    assert tensorplug.load(tmp_path / "slice.tp")["head"].tolist() == big[:10].tolist()


def test_sharing_survives_a_second_round_trip(tmp_path):
    back = _load_back(tensorplug, _load_back(tensorplug, _sharing_case(tensorplug)))
    back["base"][0, 0] = -1.0
    assert back["t"][0, 0].item() == -1.0
    tensorplug.save(back, tmp_path / "again.tp")
    storages = _header(tmp_path / "again.tp")["storages"]
    assert len(storages) == 6                        # base and its 3 views share one; 5 separate tensors
    assert sorted(s["nbytes"] for s in storages) == [0, 0, 8, 8, 8, 48]


def _header(path):
    data = path.read_bytes()
    _, _, length = struct.unpack("<8sIQ", data[:20])
    return json.loads(data[20:20 + length])


def test_round_trip_file_object_and_str_path(tmp_path):
    obj = {"x": tensorplug.randn(5), "n": 3}
    buf = io.BytesIO()
    tensorplug.save(obj, buf)
    buf.seek(0)
    _same(obj, tensorplug.load(buf))
    path = str(tmp_path / "a.tp")
    tensorplug.save(obj, path)
    _same(obj, tensorplug.load(path, weights_only=False))


def test_requires_grad_kept(tmp_path):
    x = tensorplug.randn(3).requires_grad_()
    tensorplug.save({"x": x}, tmp_path / "g.tp")
    assert tensorplug.load(tmp_path / "g.tp")["x"].requires_grad


@pytest.mark.parametrize("where", ["cpu", "numpy", tensorplug.device("cpu"), {"cpu": "cpu"},
                                   lambda storage, loc: storage, lambda storage, loc: storage.cpu()])
def test_map_location(tmp_path, where):
    tensorplug.save({"x": tensorplug.ones(2)}, tmp_path / "m.tp")
    x = tensorplug.load(tmp_path / "m.tp", map_location=where)["x"]
    assert x.device == tensorplug.device("cpu")
    assert x.tolist() == [1.0, 1.0]


def test_map_location_function_must_return_the_storage(tmp_path):
    tensorplug.save({"x": tensorplug.ones(2)}, tmp_path / "m.tp")
    with pytest.raises(TypeError, match="return the storage"):
        tensorplug.load(tmp_path / "m.tp", map_location=lambda storage, loc: "cpu")


def test_unsupported_object_writes_nothing(tmp_path):
    path = tmp_path / "bad.tp"
    with pytest.raises(TypeError, match="not supported"):
        tensorplug.save({"f": object()}, path)
    assert not any(tmp_path.iterdir())


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        tensorplug.load("/nonexistent/dir/none.tp")


def _good_file(tmp_path):
    path = tmp_path / "good.tp"
    tensorplug.save({"w": tensorplug.randn(64, 8), "step": 3}, path)
    return path


@pytest.mark.parametrize("cut", [0, 3, 8, 12, 19, 20, 40, -33, -32, -1])
def test_truncated_file_refused(tmp_path, cut):
    path = _good_file(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "cut.tp"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])
    with pytest.raises(CheckpointError, match="cut.tp") as info:
        tensorplug.load(bad)
    assert "truncated" in str(info.value) or "checksum" in str(info.value)


def test_every_flipped_bit_position_refused(tmp_path):
    path = _good_file(tmp_path)
    data = path.read_bytes()
    rng = random.Random(0)
    # magic, version, length, header, tensor data and digest regions
    positions = [0, 9, 13, 22, 60, len(data) // 2, len(data) - 40, len(data) - 1]
    positions += rng.sample(range(len(data)), 8)
    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 1 << rng.randrange(8)
        bad = tmp_path / "flip.tp"
        bad.write_bytes(bytes(flipped))
        with pytest.raises(CheckpointError, match="flip.tp"):
            tensorplug.load(bad)


def test_pickle_payload_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(CheckpointError, match="pickle") as info:
        tensorplug.load(bad)
    assert "evil.pt" in str(info.value)
    assert not marker.exists()


def test_huge_header_length_refused_without_allocating(tmp_path):
    bad = tmp_path / "huge.tp"
    bad.write_bytes(struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, 2 ** 40) + b"{}" * 10)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="header too large"):
            tensorplug.load(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_header_longer_than_file_refused(tmp_path):
    bad = tmp_path / "long.tp"
    bad.write_bytes(struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, 1000) + b"{}")
    with pytest.raises(CheckpointError, match="truncated"):
        tensorplug.load(bad)


def test_foreign_and_wrong_version(tmp_path):
    bad = tmp_path / "foreign.bin"
    bad.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(CheckpointError, match="not a tensorplug checkpoint"):
        tensorplug.load(bad)
    bad.write_bytes(struct.pack("<8sIQ", S.MAGIC, 99, 2) + b"{}" + bytes(32))
    with pytest.raises(CheckpointError, match="version 99"):
        tensorplug.load(bad)


def _signed(header_obj, data=b""):
    header = json.dumps(header_obj).encode()
    header += b" " * (-(20 + len(header)) % 64)
    body = struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, len(header)) + header + data
    return body + hashlib.sha256(body).digest()


def _crafted(tensors, storages=None, root=None, data=bytes(64)):
    """A well-formed file (valid checksum) with the given tensor table."""
    storages = [{"offset": 0, "nbytes": len(data), "device": "cpu"}] if storages is None else storages
    root = [{"$": "tensor", "index": i} for i in range(len(tensors))] if root is None else root
    return _signed({"format": "tensorplug-checkpoint", "storages": storages, "tensors": tensors, "root": root}, data)


def _view(shape, stride, offset=0, dtype="float32", storage=0):
    return {"storage": storage, "offset": offset, "dtype": dtype, "shape": shape, "stride": stride}


@pytest.mark.parametrize("tensors, storages, root, problem", [
    ([_view([17], [1])], None, None, "reads bytes up to 68 of a 64-byte storage"),
    ([_view([2, 2], [1, 16], offset=8)], None, None, "reads bytes up to 80"),
    ([_view([4], [-1], offset=12)], None, None, "negative"),
    ([_view([1], [1], offset=-4)], None, None, "negative"),
    ([_view([2], [1, 1])], None, None, "strides"),
    ([_view([1], [1], dtype="object")], None, None, "dtype"),
    ([_view([1], [1], storage=3)], None, None, "names storage 3"),
    ([_view([1], [1])], [{"offset": 32, "nbytes": 64}], None, "outside"),
    ([], [{"offset": 0, "nbytes": 48}, {"offset": 32, "nbytes": 32}], None, "overlap"),
    ([_view([1], [1])], None, {"$": "tensor", "index": 5}, "names no tensor"),
    ([], None, {"$": "pickle", "data": "gASV"}, "unknown node"),
    ([], None, {"$": "dict", "items": [[[1], 2]]}, "hashable"),
    ([], None, {"$": "float", "value": "__import__('os')"}, "bad float"),
])
def test_hostile_header_with_valid_checksum_refused(tmp_path, tensors, storages, root, problem):
    bad = tmp_path / "hostile.tp"
    bad.write_bytes(_crafted(tensors, storages, root))
    with pytest.raises(CheckpointError, match=problem) as info:
        tensorplug.load(bad)
    assert "hostile.tp" in str(info.value)


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_overlapping_views_cannot_amplify_memory(tmp_path):
    # issue 12 item 10: a ~1.3 MB file of many views over the same bytes reached 1.5 GB; now the
    # views' total is bounded by the file size before anything is built
    bad = tmp_path / "amplify.tp"
    bad.write_bytes(_crafted([_view([1024, 1024], [0, 1], dtype="uint8")] * 5_000, data=bytes(1024)))
    assert bad.stat().st_size < 2_000_000

    def load():
        with pytest.raises(CheckpointError, match="hostile"):
            tensorplug.load(bad)
    assert _peak_bytes(load) < 40 * bad.stat().st_size


@pytest.mark.parametrize("shape, stride", [([2 ** 40], [0]), ([2 ** 20, 2 ** 20, 2 ** 20], [0, 0, 0])])
def test_broadcast_view_of_huge_size_refused(tmp_path, shape, stride):
    bad = tmp_path / "huge_view.tp"
    bad.write_bytes(_crafted([_view(shape, stride)]))
    with pytest.raises(CheckpointError, match="huge_view.tp"):
        tensorplug.load(bad)


def test_honest_views_load_without_copies(tmp_path):
    # many views of one storage are fine when they fit: a load keeps them as views, not copies
    base = tensorplug.randn(256, 256)
    views = [base[i:i + 8] for i in range(0, 256, 8)] + [base, base.t()]
    path = tmp_path / "views.tp"
    tensorplug.save(views, path)
    size = path.stat().st_size
    assert size < 256 * 256 * 4 + 8192            # the storage once
    back = []
    assert _peak_bytes(lambda: back.append(tensorplug.load(path))) < 2 * size
    back = back[0]
    back[-1][0, 0] = 42.0                           # the transposed view writes through to every other
    assert back[0][0, 0].item() == 42.0 and back[-2][0, 0].item() == 42.0


def _format1(root, data):
    """A file as tensorplug wrote it before format 2: tensors inline, {offset, nbytes} into the data."""
    header = json.dumps({"format": "tensorplug-checkpoint", "root": root}).encode()
    body = struct.pack("<8sIQ", S.MAGIC, 1, len(header)) + header + data
    return body + hashlib.sha256(body).digest()


def _v1_tensor(offset, shape, dtype="float32", **extra):
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return {"$": "tensor", "dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes, "device": "cpu",
            **extra}


def test_format_1_files_still_load(tmp_path):
    w = _v1_tensor(0, [2, 2], requires_grad=True, parameter=True)
    root = {"$": "dict", "items": [["w", w], ["again", w], ["b", _v1_tensor(16, [2], "int64")],
                                   ["e1", _v1_tensor(32, [0])], ["e2", _v1_tensor(32, [0])]]}
    data = np.arange(4, dtype=np.float32).tobytes() + np.array([5, 6]).tobytes()
    path = tmp_path / "old.tp"
    path.write_bytes(_format1(root, data))
    back = tensorplug.load(path)
    assert back["w"].tolist() == [[0.0, 1.0], [2.0, 3.0]] and back["b"].tolist() == [5, 6]
    assert back["again"] is back["w"] and type(back["w"]).__name__ == "Parameter" and back["w"].requires_grad
    assert back["e1"] is not back["e2"]


def test_format_1_overlapping_ranges_refused(tmp_path):
    # issue 12 item 10 as reported: a 1.3 MB format 1 file of many overlapping byte ranges reached 1.5 GB
    data = bytes(1 << 20)
    root = [_v1_tensor(i * 64, [(len(data) - i * 64) // 4]) for i in range(2000)]
    path = tmp_path / "overlap.tp"
    path.write_bytes(_format1(root, data))
    assert path.stat().st_size < 1_400_000

    def load():
        with pytest.raises(CheckpointError, match="overlap"):
            tensorplug.load(path)
    assert _peak_bytes(load) < 10 * path.stat().st_size


def test_unknown_format_version_refused(tmp_path):
    bad = tmp_path / "v9.tp"
    bad.write_bytes(struct.pack("<8sIQ", S.MAGIC, 9, 2) + b"{}" + bytes(32))
    with pytest.raises(CheckpointError, match="version 9"):
        tensorplug.load(bad)


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deep_nesting_refused(tmp_path, depth):
    bad = tmp_path / "deep.tp"
    header = ('{"format": "tensorplug-checkpoint", "storages": [], "tensors": [], "root": '
              + "[" * depth + "]" * depth + "}").encode()
    body = struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, len(header)) + header
    bad.write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(CheckpointError, match="nested|recursion"):
        tensorplug.load(bad)


# safetensors ------------------------------------------------------------------------

def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    sd = {"w": tensorplug.arange(12.0).view(3, 4).t(),        # strided: must be written contiguously
          "s": tensorplug.tensor(3.5),                          # 0-d stays 0-d
          "h": tensorplug.ones(2, dtype=tensorplug.float16),
          "i": tensorplug.tensor([1, 2, 3])}
    path = tmp_path / "m.safetensors"
    S.save_safetensors(sd, path)
    back = S.load_safetensors(path)
    assert set(back) == set(sd)
    for k in sd:
        assert back[k].dtype is sd[k].dtype
        assert tuple(back[k].shape) == tuple(sd[k].shape)
        assert back[k].tolist() == sd[k].tolist()
    from safetensors.numpy import load_file
    raw = load_file(str(path))
    assert raw["s"].shape == ()
    np.testing.assert_array_equal(raw["w"], np.arange(12.0, dtype=np.float32).reshape(3, 4).T)


def test_safetensors_interop_with_torch(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file
    path = tmp_path / "t.safetensors"
    save_file({"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor(1.5)}, str(path))
    back = S.load_safetensors(path)
    assert back["a"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert back["b"].ndim == 0
    S.save_safetensors(back, tmp_path / "u.safetensors")
    again = load_file(str(tmp_path / "u.safetensors"))
    assert torch.equal(again["a"], torch.arange(6.0).reshape(2, 3))


def test_safetensors_bad_file(tmp_path):
    pytest.importorskip("safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        S.load_safetensors(bad)
    with pytest.raises(TypeError, match="flat dict"):
        S.save_safetensors({"a": {"b": tensorplug.ones(1)}}, tmp_path / "x.safetensors")


# a trained model + optimizer continues bit-identically from a checkpoint ----------------------

def _has_training_stack():
    nn = tensorplug.nn
    optim = tensorplug.optim
    return all(hasattr(nn, n) for n in ("Linear", "Sequential", "ReLU")) and hasattr(optim, "Adam")


def test_checkpoint_resume_is_bit_identical(tmp_path):
    if not _has_training_stack():
        pytest.skip("tensorplug.nn / tensorplug.optim are not built yet")
    nn = tensorplug.nn
    F = tensorplug.nn.functional

    def make():
        tensorplug.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
        return model, tensorplug.optim.Adam(model.parameters(), lr=0.01)

    tensorplug.manual_seed(1)
    xs = tensorplug.randn(6, 16, 5)
    ys = tensorplug.randint(0, 3, (6, 16))

    def step(model, opt, i):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[i]), ys[i])
        loss.backward()
        opt.step()

    model, opt = make()
    for i in range(3):
        step(model, opt, i)
    tensorplug.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "resume.tp")
    for i in range(3, 6):
        step(model, opt, i)

    model2, opt2 = make()
    ckpt = tensorplug.load(tmp_path / "resume.tp")
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    for i in range(3, 6):
        step(model2, opt2, i)
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert a.numpy().tobytes() == b.numpy().tobytes(), k
