"""Entry points the newest PyTorch tutorials and scripts start with: torch.accelerator, default device,
manual_seed's Generator, importable torch.jit / torch.onnx -- each beside torch on this (CPU) machine."""
from __future__ import annotations

import pytest

import tensorplug

torch = pytest.importorskip("torch")


def test_accelerator_answers_as_torch_without_one():
    if tensorplug.cuda.is_available() or torch.accelerator.is_available():
        pytest.skip("compares the no-accelerator answers")
    acc = tensorplug.accelerator
    assert acc.is_available() is torch.accelerator.is_available() is False
    assert acc.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert acc.device_count() == torch.accelerator.device_count() == 0
    for name in ("current_device_index", "synchronize", "memory_allocated", "empty_cache"):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(torch.accelerator, name)()
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(acc, name)()


def test_tutorial_device_idiom_picks_the_cpu():
    device = (tensorplug.accelerator.current_accelerator().type if tensorplug.accelerator.is_available()
              else "cpu")
    assert tensorplug.zeros(1, device=device).device == tensorplug.device("cpu")


def test_default_device_set_and_reset():
    assert str(tensorplug.get_default_device()) == str(torch.get_default_device()) == "cpu"
    assert repr(tensorplug.get_default_device()) == repr(torch.get_default_device())
    try:
        tensorplug.set_default_device("cpu")
        assert tensorplug.get_default_device() == tensorplug.device("cpu")
        assert tensorplug.ones(2).device == tensorplug.device("cpu")
    finally:
        tensorplug.set_default_device(None)
    assert tensorplug.get_default_device() == tensorplug.device("cpu")


def test_cuda_queries_without_cuda():
    if tensorplug.cuda.is_available():
        pytest.skip("compares the no-CUDA answers")
    assert tensorplug.cuda.is_bf16_supported() is torch.cuda.is_bf16_supported() is False
    assert tensorplug.cuda.max_memory_reserved() == torch.cuda.max_memory_reserved() == 0
    tensorplug.cuda.reset_peak_memory_stats()  # torch fails oddly here (a missing C function); here a no-op
    assert tensorplug.cuda.max_memory_allocated() == 0


def test_manual_seed_returns_the_default_generator():
    g = tensorplug.manual_seed(7)
    assert g is tensorplug.default_generator and g.initial_seed() == torch.manual_seed(7).initial_seed() == 7
    assert type(g).__name__ == type(torch.manual_seed(7)).__name__ == "Generator"


def test_jit_spellings_return_the_eager_object():
    model = tensorplug.nn.Linear(2, 2)
    assert tensorplug.jit.script(model) is model
    assert tensorplug.jit.trace(model, tensorplug.ones(1, 2)) is model

    @tensorplug.jit.ignore
    def helper(x):
        return x + 1

    @tensorplug.jit.ignore(drop=True)
    def dropped(x):
        return x

    @tensorplug.jit.unused
    def unused(x):
        return x

    class WithFinal(tensorplug.nn.Module):
        scale: tensorplug.jit.Final[int]

    assert helper(1) == 2 and dropped(3) == 3 and unused(4) == 4 and WithFinal() is not None
    assert tensorplug.jit.is_scripting() is torch.jit.is_scripting() is False
    assert not isinstance(model, tensorplug.jit.ScriptModule)

    class Old(tensorplug.jit.ScriptModule):  # the pre-1.0 way: runs eagerly
        def __init__(self):
            super().__init__()
            self.lin = tensorplug.nn.Linear(2, 1)

        @tensorplug.jit.script_method
        def forward(self, x):
            return self.lin(x)

    assert Old()(tensorplug.ones(3, 2)).shape == (3, 1)
    with pytest.raises(NotImplementedError, match=r"torch\.jit\.save"):
        tensorplug.jit.save(model, "model.pt")


def test_onnx_imports_and_export_names_itself():
    assert tensorplug.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match=r"torch\.onnx\.export"):
        tensorplug.onnx.export(tensorplug.nn.Linear(1, 1), (tensorplug.ones(1, 1),), "model.onnx")


def test_runner_resolves_the_new_modules():
    from tensorplug.runner import torch_alias
    with torch_alias():
        import torch as aliased
        import torch.jit  # noqa: F401
        import torch.onnx  # noqa: F401
        from torch.accelerator import is_available
        assert is_available is tensorplug.accelerator.is_available
        assert aliased.jit.script is tensorplug.jit.script


def test_sdpa_kernel_is_accepted_and_changes_nothing():
    from tensorplug.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention import SDPBackend as TorchBackend
    assert {m.name: m.value for m in SDPBackend} == {m.name: int(m) for m in TorchBackend.__members__.values()}
    q = tensorplug.randn(1, 2, 4, 8)
    expected = tensorplug.nn.functional.scaled_dot_product_attention(q, q, q)
    with sdpa_kernel(SDPBackend.MATH):
        assert tensorplug.equal(tensorplug.nn.functional.scaled_dot_product_attention(q, q, q), expected)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        pass
    with pytest.raises(AssertionError, match="Backend must be an instance of SDPBackend"):
        with sdpa_kernel("math"):
            pass
