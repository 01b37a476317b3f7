"""The device and tensor-kind questions scripts ask before choosing the CPU, answered as a CPU-only torch
answers them: Tensor.is_xpu / is_mps / ... (pytorch/examples' dcgan reads input.is_xpu and failed with
AttributeError), torch.xpu and torch.mps availability, and torch.multiprocessing as an attribute."""
from __future__ import annotations

import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

KINDS = ["is_xpu", "is_mps", "is_ipu", "is_maia", "is_mtia", "is_vulkan", "is_quantized", "is_mkldnn", "is_nested",
         "is_sparse_csr", "is_meta", "is_cpu", "is_cuda", "is_sparse"]


@pytest.mark.parametrize("name", KINDS)
def test_tensor_kind_attributes_are_torchs(name):
    assert getattr(tp.zeros(2), name) == getattr(torch.zeros(2), name)


@pytest.mark.parametrize("module", ["xpu", "mps"])
def test_availability_of_devices_without_a_backend(module):
    assert getattr(tp, module).is_available() is getattr(torch, module).is_available() is False
    assert getattr(tp, module).device_count() == 0


def test_submodules_are_attributes_of_the_package():
    assert tp.multiprocessing.spawn is __import__("tensorplug.multiprocessing", fromlist=["spawn"]).spawn


def test_pin_memory_without_an_accelerator_is_torchs_error():
    from torch_compare import assert_same_error
    assert_same_error(lambda m: m.zeros(2).pin_memory())
    assert tp.zeros(2).is_pinned() is torch.zeros(2).is_pinned() is False


def test_a_pinning_loader_without_an_accelerator_warns_as_torch():
    import warnings

    def notices(m):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(m.utils.data.DataLoader(m.utils.data.TensorDataset(m.arange(4.0)), batch_size=2, pin_memory=True))
        return [str(w.message) for w in caught]
    assert notices(tp) == notices(torch)
