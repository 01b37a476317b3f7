"""Tensor.mT / mH / H / adjoint() and torch.adjoint against torch: values, views, gradients, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

Z = (np.arange(24.0) - 7).reshape(2, 3, 4) / 5 + 1j * np.cos(np.arange(24.0)).reshape(2, 3, 4)
CALLS = {"mT": lambda m, x: x.mT, "mH": lambda m, x: x.mH, "adjoint": lambda m, x: x.adjoint(),
         "torch.adjoint": lambda m, x: m.adjoint(x), "H": lambda m, x: x[0].H}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("complex_", [False, True])
def test_values_and_gradients_like_torch(name, complex_):
    results = []
    for m in (tp, torch):
        x = m.tensor(Z if complex_ else Z.real, requires_grad=True)
        out = CALLS[name](m, x)
        weight = m.tensor(np.arange(out.numel()).reshape(tuple(out.shape)) * (1 - 0.5j if complex_ else 1.0))
        (out * weight).real.sum().backward() if complex_ else (out * weight).sum().backward()
        results.append((out.detach().resolve_conj().numpy(), x.grad.numpy(), tuple(out.shape), str(out.dtype)))
    (a, ga, sa, da), (b, gb, sb, db) = results
    assert sa == sb and da.split(".")[-1] == db.split(".")[-1]
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(ga, gb)


def test_transposes_are_views():
    x = tp.tensor(Z.real)
    x.mH[0, 1, 2] = 100.0
    assert x[0, 2, 1].item() == 100.0


@pytest.mark.parametrize("call", [
    lambda m: m.ones(3).mT, lambda m: m.ones(3).mH, lambda m: m.ones(3).adjoint(), lambda m: m.ones(3).H, lambda m: m.ones(2, 2, 2).H,
])
def test_errors_like_torch(call):
    with pytest.raises(RuntimeError) as want:
        call(torch)
    with pytest.raises(RuntimeError) as got:
        call(tp)
    assert str(want.value).split(" Got ")[0] in str(got.value)


@pytest.mark.parametrize("name, conj", [("mT", False), ("mH", True), ("H", True), ("adjoint", True)])
def test_0d_tensor_warns_and_passes_through(name, conj):
    messages = []
    for m in (tp, torch):
        with pytest.warns(UserWarning, match="deprecated on 0-D tensors") as record:
            out = m.tensor(1 + 2j).adjoint() if name == "adjoint" else getattr(m.tensor(1 + 2j), name)
        assert out.resolve_conj().item() == (1 - 2j if conj else 1 + 2j)
        messages.append(str(record[0].message).split(" (Triggered")[0])
    assert messages[0] == messages[1]


def test_no_warning_on_matrices():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tp.ones(2, 3).mT.shape == (3, 2)
