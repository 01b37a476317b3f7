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


def assert_backward_matches(out, expected, inputs, torch_inputs, g, tol):
    """Backward the array ``g`` through ``out`` (tensorplug) and ``expected`` (torch); the two outputs
    agree within ``tol``, and so do the gradients of ``inputs`` and ``torch_inputs``, pair by pair."""
    import torch
    out.backward(tensorplug.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    for x, y in zip(inputs, torch_inputs, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=tol, atol=tol)
