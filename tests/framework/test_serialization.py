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


@pytest.mark.parametrize("where", ["cpu", "numpy", tensorplug.device("cpu"), {"cpu": "cpu"}])
def test_map_location(tmp_path, where):
    tensorplug.save({"x": tensorplug.ones(2)}, tmp_path / "m.tp")
    x = tensorplug.load(tmp_path / "m.tp", map_location=where)["x"]
    assert x.device == tensorplug.device("cpu")
    assert x.tolist() == [1.0, 1.0]


def test_unsupported_object_writes_nothing(tmp_path):
    path = tmp_path / "bad.tp"
    with pytest.raises(TypeError, match="not supported"):
        tensorplug.save({"f": object()}, path)
    assert not any(tmp_path.iterdir())


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        tensorplug.load("/nonexistent/dir/none.tp")


def test_mode_follows_umask_and_no_temp_left(tmp_path):
    old = os.umask(0o027)
    try:
        tensorplug.save({"a": 1}, tmp_path / "u.tp")
    finally:
        os.umask(old)
    assert (tmp_path / "u.tp").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["u.tp"]


def test_failed_save_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.tp"
    tensorplug.save({"v": 1, "t": tensorplug.ones(3)}, path)
    before = path.read_bytes()

    calls = []

    def broken(t):
        calls.append(t)
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(S, "_tensor_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        tensorplug.save({"v": 2, "t": tensorplug.zeros(3)}, path)
    assert calls
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tp"]


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


def test_torch_zip_checkpoint_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="safetensors"):
        tensorplug.load(path)


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
    body = struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, len(header)) + header + data
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("root, problem", [
    ({"$": "tensor", "dtype": "float32", "shape": [4], "offset": 0, "nbytes": 16}, "outside"),
    ({"$": "tensor", "dtype": "float32", "shape": [1000], "offset": 0, "nbytes": 16}, "claims"),
    ({"$": "tensor", "dtype": "object", "shape": [1], "offset": 0, "nbytes": 8}, "dtype"),
    ({"$": "tensor", "dtype": "float32", "shape": [-1], "offset": 0, "nbytes": 4}, "shape"),
    ({"$": "pickle", "data": "gASV"}, "unknown node"),
    ({"$": "dict", "items": [[[1], 2]]}, "hashable"),
    ({"$": "float", "value": "__import__('os')"}, "bad float"),
])
def test_hostile_header_with_valid_checksum_refused(tmp_path, root, problem):
    bad = tmp_path / "hostile.tp"
    bad.write_bytes(_signed({"format": "tensorplug-checkpoint", "root": root}, bytes(8)))
    with pytest.raises(CheckpointError, match=problem):
        tensorplug.load(bad)


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deep_nesting_refused(tmp_path, depth):
    bad = tmp_path / "deep.tp"
    header = ('{"format": "tensorplug-checkpoint", "root": ' + "[" * depth + "]" * depth + "}").encode()
    body = struct.pack("<8sIQ", S.MAGIC, S.FORMAT_VERSION, len(header)) + header
    bad.write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(CheckpointError, match="deep.tp"):
        tensorplug.load(bad)


_SAVER = textwrap.dedent("""
    import sys
    import tensorplug
    path = sys.argv[1]
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        tensorplug.save({"version": i, "data": tensorplug.full((400, 1000), float(i))}, path)
""")


def test_sigkill_during_save_leaves_a_complete_file(tmp_path):
    path = tmp_path / "live.tp"
    tensorplug.save({"version": 0, "data": tensorplug.full((400, 1000), 0.0)}, path)
    rng = random.Random(1)
    seen = set()
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.01, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        obj = tensorplug.load(path)    # must not raise: the old file or the complete new one
        v = obj["version"]
        data = obj["data"].numpy()
        assert data.shape == (400, 1000)
        assert (data == float(v)).all()
        seen.add(v)
    # leftovers of a killed save are only hidden temp files, never the checkpoint itself
    for p in tmp_path.iterdir():
        assert p.name == "live.tp" or (p.name.startswith(".live.tp.") and p.name.endswith(".tmp"))
    assert max(seen) > 0


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
