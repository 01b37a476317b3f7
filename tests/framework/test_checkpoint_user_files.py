"""Checkpoints as scripts write them: a torch.save'd training checkpoint (model with BatchNorm and tied
weights, Adam and SGD state, views, every common dtype, Python values) read by tensorplug.load, compared
value by value with torch.load, and the same objects round-tripped through tensorplug.save."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import tensorplug


def _torch():
    return pytest.importorskip("torch")


def _training_checkpoint(torch):
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)
            self.bn = torch.nn.BatchNorm1d(4)
            self.lin = torch.nn.Linear(4, 10)
            self.lin.weight = self.emb.weight            # tied

    net = Net()
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net.lin(net.bn(torch.randn(3, 4))).sum().backward()
    adam.step()
    sgd.step()
    base = torch.arange(24.0).view(4, 6)
    return {"model": net.state_dict(), "adam": adam.state_dict(), "sgd": sgd.state_dict(), "epoch": 7,
            "name": "run-1", "loss": 0.25, "items": [1, 2.5, "x", None, True], "pair": (1, (2, 3)),
            "ordered": collections.OrderedDict([("b", 1), ("a", torch.ones(2))]),
            "base": base, "t": base.t(), "row": base[1], "strided": base[::2, 1::3],
            "f16": torch.randn(3).half(), "bf16": torch.randn(3).bfloat16(),
            "i32": torch.arange(4, dtype=torch.int32), "mask": torch.tensor([True, False]),
            "scalar": torch.tensor(3.5), "empty": torch.empty(0, 3), "param": torch.nn.Parameter(torch.randn(2))}


def _same(theirs, ours, where="obj"):
    """Every value, dtype, shape and container type of ``ours`` (tensorplug) as ``theirs`` (torch)."""
    torch = _torch()
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tensorplug.Tensor), where
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], where
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.requires_grad == theirs.requires_grad, where
        np.testing.assert_array_equal(ours.detach().float().numpy(), theirs.detach().float().numpy(), err_msg=where)
        return
    assert type(ours) is type(theirs), where
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        assert getattr(ours, "_metadata", None) == getattr(theirs, "_metadata", None), f"{where}._metadata"
        for key in theirs:
            _same(theirs[key], ours[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(theirs, ours)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs and type(ours) is type(theirs), where


@pytest.mark.parametrize("weights_only", [None, True, False])
def test_a_torch_training_checkpoint_loads_as_torch_loads_it(tmp_path, weights_only):
    torch = _torch()
    path = tmp_path / "ckpt.pt"
    torch.save(_training_checkpoint(torch), path)
    kwargs = {} if weights_only is None else {"weights_only": weights_only}
    ours = tensorplug.load(path, map_location="cpu", **kwargs)
    _same(torch.load(path, map_location="cpu", **kwargs), ours)
    tied = ours["model"]["lin.weight"], ours["model"]["emb.weight"]        # tied weights share memory
    assert tied[0].data_ptr() == tied[1].data_ptr()
    ours["base"][0, 1] = 100.0
    assert ours["t"][1, 0].item() == 100.0 and ours["strided"][0, 0].item() == 100.0


def test_tensorplug_save_keeps_the_state_dict_metadata_torch_keeps(tmp_path):
    # a torch state dict's _metadata (each module's version, e.g. BatchNorm's) was dropped by
    # tensorplug.save, so a re-saved checkpoint lost it silently
    torch = _torch()
    path = tmp_path / "ckpt.pt"
    torch.save(_training_checkpoint(torch), path)
    loaded = tensorplug.load(path)
    tensorplug.save(loaded, tmp_path / "again.tp")
    _same(torch.load(path), tensorplug.load(tmp_path / "again.tp"))

    net = tensorplug.nn.Sequential(tensorplug.nn.Linear(2, 2), tensorplug.nn.BatchNorm1d(2))
    tensorplug.save(net.state_dict(), tmp_path / "sd.tp")
    back = tensorplug.load(tmp_path / "sd.tp")
    assert back._metadata == net.state_dict()._metadata and back._metadata["1"]["version"] == 2
    net.load_state_dict(back)


def test_a_forged_metadata_on_a_plain_dict_is_refused(tmp_path):
    import hashlib
    import json
    import struct
    tensorplug.save({"a": 1}, tmp_path / "plain.tp")
    data = (tmp_path / "plain.tp").read_bytes()
    length = struct.unpack("<Q", data[12:20])[0]
    header = json.loads(data[20:20 + length])
    header["root"]["metadata"] = {"$": "dict", "items": []}
    text = json.dumps(header).encode()
    text += b" " * (-(20 + len(text)) % 64)
    body = struct.pack("<8sIQ", b"TPLUGCKP", 2, len(text)) + text + data[20 + length:-32]
    (tmp_path / "forged.tp").write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(tensorplug.CheckpointError, match="_metadata"):
        tensorplug.load(tmp_path / "forged.tp")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_values_in_a_torch_checkpoint_load_as_torch_loads_them(tmp_path, protocol):
    # a best accuracy kept as np.float64, indices as an array: torch.load(weights_only=False) reads them,
    # tensorplug refused the whole file (Unsupported global numpy._core.multiarray.scalar); protocol 5
    # writes arrays as numeric._frombuffer of a BYTEARRAY8, an opcode the reader did not run
    torch = _torch()
    saved = {"acc": np.float64(0.91), "loss": np.float32(1.5), "step": np.int64(-3), "flag": np.bool_(True),
             "z": np.complex64(1 + 2j), "half": np.float16(0.5), "idx": np.arange(6, dtype=np.int32).reshape(2, 3),
             "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "mask": np.array([True, False]),
             "zero_d": np.array(3.0), "empty": np.zeros((0, 2), np.float16), "w": torch.ones(2)}
    path = tmp_path / "ckpt.pt"
    torch.save(saved, path, pickle_protocol=protocol)
    theirs = torch.load(path, weights_only=False)
    ours = tensorplug.load(path)
    for key, value in theirs.items():
        if key == "w":
            continue
        assert type(ours[key]) is type(value) and ours[key].dtype == value.dtype, key
        assert np.shape(ours[key]) == np.shape(value) and np.array_equal(ours[key], value), key
    assert ours["fortran"].flags.f_contiguous


@pytest.mark.parametrize("value", ["object array", "structured dtype", "big-endian array", "datetime", "str"])
def test_numpy_values_beyond_plain_numbers_in_a_torch_file_are_refused(tmp_path, value):
    import pickle
    import zipfile
    obj = {"object array": lambda: np.array([1, "a"], dtype=object), "structured dtype": lambda: np.dtype([("a", "<f4")]),
           "big-endian array": lambda: np.array([1.0], dtype=">f8"), "datetime": lambda: np.datetime64("2020-01-01"),
           "str": lambda: np.str_("abc")}[value]()
    path = tmp_path / "hostile.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hostile/data.pkl", pickle.dumps({"x": obj}, protocol=2))
    with pytest.raises(tensorplug.CheckpointError, match="NumPy"):
        tensorplug.load(path, weights_only=False)


def _pickle_file(tmp_path, body):
    import zipfile
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w") as archive:          # stored, not compressed: the file is as big as the pickle
        archive.writestr("crafted/data.pkl", body)
    return path


def test_a_small_torch_file_reusing_one_string_in_many_calls_cannot_take_gigabytes(tmp_path):
    # _codecs.encode of one memoized 200 kB string, 2000 times for 8 pickle bytes each: 400 MB from a
    # 216 kB file (1 MB x 3000 took 3 GB); the calls' copies are now bounded by the pickle's size
    text = b"a" * 200_000
    body = (b"\x80\x02X" + len(text).to_bytes(4, "little") + text + b"q\x000X\x06\x00\x00\x00latin1q\x020"
            b"c_codecs\nencode\nq\x010](" + b"h\x01h\x00h\x02\x86R" * 2000 + b"e.")
    with pytest.raises(tensorplug.CheckpointError, match="copies more than"):
        tensorplug.load(_pickle_file(tmp_path, body))


def test_a_torch_file_calling_set_on_one_big_list_in_a_loop_is_refused_not_run_for_hours(tmp_path):
    body = (b"\x80\x02]q\x00(" + b"K\x01" * 20_000 + b"ec__builtin__\nset\nq\x010"
            + b"h\x01h\x00\x85R0" * 200 + b"h\x00.")
    with pytest.raises(tensorplug.CheckpointError, match="copies more than"):
        tensorplug.load(_pickle_file(tmp_path, body))


def test_big_plain_values_in_a_torch_file_still_load(tmp_path):
    torch = _torch()
    saved = {"ids": set(range(100_000)), "text": "x" * 3_000_000, "accents": "é" * 100_000, "blob": b"y" * 2_000_000,
             "counts": collections.Counter("abc" * 1000), "sizes": [torch.Size([i, 2]) for i in range(5000)]}
    path = tmp_path / "big.pt"
    torch.save(saved, path)
    assert tensorplug.load(path) == torch.load(path)


def test_conjugate_and_negative_views_in_a_torch_file_keep_their_values(tmp_path):
    # torch saves z.conj() as z's storage plus metadata {'conj': True} (z.conj().imag: {'neg': True});
    # the metadata was ignored, so the loaded values were silently the unconjugated, unnegated ones
    torch = _torch()
    z = torch.tensor([1 + 2j, 3 - 1j])
    leaf = torch.tensor([1 + 1j], requires_grad=True)
    for name, value in {"conj": z.conj(), "neg": z.conj().imag, "grad": leaf.conj()}.items():
        path = tmp_path / f"{name}.pt"
        torch.save({"w": value}, path)
        theirs, ours = torch.load(path)["w"], tensorplug.load(path)["w"]
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().resolve_conj().resolve_neg().numpy())
        assert ours.requires_grad == theirs.requires_grad and ours.is_leaf


def test_tensor_metadata_tensorplug_cannot_apply_is_refused(tmp_path):
    import zipfile
    torch = _torch()
    path = tmp_path / "conj.pt"
    torch.save({"w": torch.tensor([1 + 2j]).conj()}, path)
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data.replace(b"X\x04\x00\x00\x00conj", b"X\x04\x00\x00\x00zero"))
    with pytest.raises(tensorplug.CheckpointError, match="metadata"):
        tensorplug.load(tmp_path / "other.pt")


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d", b"\x96"])
def test_protocol_4_and_5_strings_claiming_huge_lengths_are_refused(tmp_path, opcode):
    body = b"\x80\x05" + opcode + (2 ** 62).to_bytes(8, "little") + b"abc."
    with pytest.raises(tensorplug.CheckpointError, match="ends early"):
        tensorplug.load(_pickle_file(tmp_path, body))


def test_attributes_set_on_tensors_in_torch_are_dropped_with_a_warning_not_silently(tmp_path):
    torch = _torch()
    tagged = torch.ones(2)
    tagged.note = "x"
    param = torch.nn.Parameter(torch.ones(2))
    param.tag = 3
    path = tmp_path / "tagged.pt"
    torch.save({"t": tagged, "p": param}, path)
    with pytest.warns(UserWarning, match="attributes") as caught:
        ours = tensorplug.load(path)
    assert {"note", "tag"} <= {name for w in caught for name in ("note", "tag") if name in str(w.message)}
    assert ours["t"].tolist() == [1.0, 1.0] and isinstance(ours["p"], tensorplug.nn.Parameter)
