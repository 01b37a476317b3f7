"""tensorplug.cuda: honest answers from the cuda backend spec, without importing its library."""
from __future__ import annotations

import pytest

import tensorplug
import tensorplug.cuda as cuda

GPU = cuda.is_available()
nogpu = pytest.mark.skipif(GPU, reason="a GPU is present")


def test_is_available_agrees_with_the_spec_probe():
    spec = tensorplug.registry.backend_specs()["cupy"]
    reason = spec.probe()
    assert cuda.is_available() is (reason is None)
    assert cuda.unavailable_reason() == reason


@nogpu
def test_without_gpu_the_queries_are_quiet_and_honest():
    reason = cuda.unavailable_reason()
    assert isinstance(reason, str) and ("cupy" in reason or "CUDA" in reason)
    assert cuda.device_count() == 0
    assert cuda.memory_allocated() == 0 and cuda.memory_reserved() == 0 and cuda.memory_stats() == {}
    assert not cuda.is_initialized()
    cuda.manual_seed(1)  # deferred, as torch does
    cuda.manual_seed_all(1)
    assert cuda.initial_seed() == 1
    cuda.empty_cache()


@nogpu
@pytest.mark.parametrize("call", [cuda.synchronize, cuda.current_device, cuda.get_device_name,
                                  lambda: cuda.set_device(0), lambda: cuda.set_device("cuda:0")])
def test_without_gpu_device_calls_raise_with_the_reason(call):
    with pytest.raises(tensorplug.BackendUnavailableError) as info:
        call()
    text = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert cuda.unavailable_reason() in text and "TENSORPLUG_BACKEND=numpy" in text


def test_no_cuda_backend_registered(monkeypatch):
    monkeypatch.setattr(cuda, "backend_specs", lambda: {})
    assert not cuda.is_available() and cuda.device_count() == 0
    assert "no installed backend serves device type 'cuda'" in cuda.unavailable_reason()


def test_set_device_rejects_other_device_types():
    with pytest.raises(ValueError, match="Expected a cuda device"):
        cuda._index("cpu")
    assert cuda._index("cuda:3") == 3 and cuda._index(2) == 2 and cuda._index(tensorplug.device("cuda", 1)) == 1


@pytest.mark.gpu
def test_on_gpu_device_context_and_seed():
    assert cuda.device_count() >= 1 and cuda.current_device() == 0
    with cuda.device(0):
        assert cuda.current_device() == 0
    cuda.manual_seed_all(5)
    a = tensorplug.randn(3, device="cuda")
    cuda.manual_seed(5)
    assert tensorplug.equal(a, tensorplug.randn(3, device="cuda"))
    assert cuda.memory_reserved() >= cuda.memory_allocated() > 0
