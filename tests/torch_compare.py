"""Run the same computation in tensorplug and torch and compare values and gradients (shared by tests
in several folders).

A plain module, as optim_reference.py: pytest's 'prepend' import mode puts tests/ on sys.path, so a
test does ``from torch_compare import outputs_and_grads``. Torch is imported only when called: the
calling test module skips where torch is missing (``pytest.importorskip``).
"""
from __future__ import annotations

import numpy as np

import tensorplug


def outputs_and_grads(lib, fn, arrays):
    """``(outputs, input gradients)`` as arrays of ``fn(lib, *inputs)`` (lib: tensorplug or torch).

    The inputs are ``arrays`` as tensors that require grad; ``fn`` returns a tensor or a tuple. Backward
    runs once from a fixed cosine-weighted sum of every output that requires grad, so each output's
    gradient is seeded with distinct values (ones would hide a missing factor of the upstream gradient).
    """
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, *inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = 0
    for i, y in enumerate(outs):
        if y.requires_grad:
            weights = lib.tensor(np.cos(np.arange(y.numel()) + i).reshape(tuple(y.shape)))
            loss = loss + (y * weights).sum()
    loss.backward()
    # torch's gradients of conj / imag may be lazy conjugate or negative views: resolve them to read them
    return [y.detach().numpy() for y in outs], [t.grad.resolve_conj().resolve_neg().numpy() for t in inputs]


def assert_same_as_torch(fn, arrays, tol=1e-10):
    """``outputs_and_grads`` of ``fn`` under tensorplug and torch agree, dtypes included."""
    import torch
    got = outputs_and_grads(tensorplug, fn, arrays)
    want = outputs_and_grads(torch, fn, arrays)
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def second_order_grads(lib, fn, arrays):
    """The input gradients of the sum of the first-order gradients (their real views, for complex ones) of
    ``(fn(x)**2 * cosines).sum()``, built with create_graph: what a double backward computes."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    grads = lib.autograd.grad((out * out * weights).sum(), xs, create_graph=True)
    sum((lib.view_as_real(g.resolve_conj()) if g.is_complex() else g).sum() for g in grads).backward()
    return [x.grad.resolve_conj().numpy() for x in xs]


def assert_same_error(call):
    """``call(torch)`` raises; ``call(tensorplug)`` raises the same type, its message holding torch's key phrase
    (the message up to its first detail: ' (', ';' or ', but got:')."""
    import pytest
    import torch
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)) as got:
        call(tensorplug)
    phrase = str(want.value).split(" (")[0].split(";")[0].split(", but got:")[0]
    assert phrase in str(got.value)


def assert_matches_numpy_backend(fn, arrays, tol=1e-12):
    """``outputs_and_grads(tensorplug, fn, arrays)`` on the default backend (a test's ``backend`` fixture)
    equal those on the NumPy backend."""
    got = outputs_and_grads(tensorplug, fn, arrays)
    with tensorplug.use_backend("numpy"):
        want = outputs_and_grads(tensorplug, fn, arrays)
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def assert_backward_matches(out, expected, inputs, torch_inputs, g, tol):
    """Backward the array ``g`` through ``out`` (tensorplug) and ``expected`` (torch); the two outputs
    agree within ``tol``, and so do the gradients of ``inputs`` and ``torch_inputs``, pair by pair."""
    import torch
    out.backward(tensorplug.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    for x, y in zip(inputs, torch_inputs, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=tol, atol=tol)
