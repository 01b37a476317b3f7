"""Device parsing and device <-> backend, against torch."""
from __future__ import annotations

import pickle

import pytest

import tensorplug
from tensorplug import device

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("text", ["cpu", "cuda", "cuda:0", "cuda:1", "cpu:0", "cuda:12"])
def test_parsing_matches_torch(text):
    ours, theirs = device(text), torch.device(text)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)


def test_type_and_index_form():
    assert device("cuda", 1) == device("cuda:1")
    assert repr(device("cuda", 1)) == repr(torch.device("cuda", 1))
    assert device(device("cuda:2")) == device("cuda:2")
    assert hash(device("cuda", 1)) == hash(device("cuda:1"))
    assert device("cpu") == "cpu" and device("cuda:1") != "cuda:0"
    assert pickle.loads(pickle.dumps(device("cuda:3"))) == device("cuda:3")


@pytest.mark.parametrize("text", ["cuda:-1", "cuda:x", "cuda:1:2", ""])
def test_invalid_strings_raise_runtime_error_like_torch(text):
    with pytest.raises(RuntimeError) as theirs:
        torch.device(text)
    with pytest.raises(RuntimeError) as ours:
        device(text)
    key = "Device string must not be empty" if not text else "Invalid device string"
    assert key in str(theirs.value) and key in str(ours.value)


def test_index_given_twice():
    with pytest.raises(RuntimeError, match="must not include an index because index was passed explicitly"):
        device("cuda:1", 0)


def test_negative_index_and_bad_type():
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        device("cuda", -1)
    with pytest.raises(TypeError, match="expected a string like 'cpu'"):
        device(3.5)


def test_tensor_device_and_type_names():
    x = tensorplug.zeros(2)
    assert x.device == device("cpu") and str(x.device) == "cpu" and not x.is_cuda
    assert x.type() == "torch.FloatTensor"
    assert tensorplug.zeros(2, device="cpu").device.type == "cpu"
    assert tensorplug.zeros(2, device=device("cpu")).device == x.device


def test_cuda_without_a_gpu_says_why_and_what_works():
    status = tensorplug.registry.backend_status()
    if "cupy" in status and status["cupy"] is None:
        pytest.skip("a usable CUDA backend is present")
    with pytest.raises(RuntimeError) as exc:
        tensorplug.zeros(2, device="cuda")
    text = str(exc.value)
    assert "TENSORPLUG_BACKEND=numpy" in text or "unknown backend" in text
    if "cupy" in status:
        assert isinstance(exc.value, tensorplug.BackendUnavailableError)
        assert "backend 'cupy'" in text and status["cupy"] in text


# two backends on one device type ------------------------------------------------------

def _second_cpu_backend():
    import numpy

    class OtherCpu(tensorplug.ArrayAPIBackend):
        name = "othercpu"
        device_type = "cpu"
        xp = numpy

    return OtherCpu()


def test_backend_of_tells_two_cpu_backends_apart():
    other = _second_cpu_backend()
    a = tensorplug.ones(2, device=other)
    b = tensorplug.ones(2)
    assert a.device == b.device == device("cpu")  # the device alone cannot tell them apart
    assert tensorplug.registry.backend_of(a) is other
    assert tensorplug.registry.backend_of(b).name == "numpy"
    with pytest.raises(TypeError, match="expected a tensorplug.Tensor"):
        tensorplug.registry.backend_of([1.0])


def test_mixing_backends_says_how_to_move_and_moving_keeps_gradients():
    other = _second_cpu_backend()
    a = tensorplug.tensor([1.0, 2.0], device=other, requires_grad=True)
    b = tensorplug.tensor([3.0, 4.0])
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device") as info:
        a + b
    message = str(info.value)
    assert "t.to('numpy')" in message and "tensorplug.registry.backend_of(other)" in message
    assert ".to(other.device)" not in message  # that is a no-op between backends of one device type
    moved = a.to(tensorplug.registry.backend_of(b))
    assert tensorplug.registry.backend_of(moved).name == "numpy"
    assert tensorplug.registry.backend_of(b.to("numpy")) is tensorplug.registry.backend_of(b)
    (moved * b).sum().backward()
    # the gradient comes back to the backend that holds a, not to the default one of its device type
    assert tensorplug.registry.backend_of(a.grad) is other
    assert a.grad.tolist() == [3.0, 4.0]


def test_numpy_backend_keeps_the_protocols_parameter_names():
    """A caller may pass any protocol parameter by keyword (parallel_for's grain was min_parts_size)."""
    import inspect

    from tensorplug.backend import Backend
    backend = tensorplug.get_backend("numpy")
    for name, method in vars(Backend).items():
        if name.startswith("_") or not callable(method) or not hasattr(backend, name):
            continue
        try:
            ours = inspect.signature(getattr(backend, name)).parameters
            protocol = [p for p in inspect.signature(method).parameters if p != "self"]
        except (TypeError, ValueError):
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in ours.values()):
            continue
        missing = [p for p in protocol if p not in ours]
        assert not missing, f"NumpyBackend.{name} lacks the protocol's parameter(s) {missing}"
    assert backend.parallel_for(lambda s, e: e - s, 8, grain=8) == [8]
