"""The fused LSTM's gate-major backward against torch: each subset of the weights needing a gradient
(the per-gate weight-gradient matmuls skip the others), the input's gradient summed over the gates,
row blocks on the NumPy backend's threads, and the upstream gradients left as they were given."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _pair(rng, frozen):
    theirs = torch.nn.LSTM(10, 16)
    ours = tensorplug.nn.LSTM(10, 16)
    ours.load_state_dict({k: tensorplug.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    for name in frozen:
        getattr(theirs, name).requires_grad_(False)
        getattr(ours, name).requires_grad_(False)
    return ours, theirs


@pytest.mark.parametrize("frozen", [(), ("weight_ih_l0",), ("weight_hh_l0", "bias_hh_l0"),
                                    ("weight_ih_l0", "weight_hh_l0")])
def test_lstm_gradients_per_gate_match_torch(frozen):
    rng = np.random.default_rng(3)
    ours, theirs = _pair(rng, frozen)
    x0 = rng.standard_normal((6, 20, 10)).astype(np.float32)  # batch 20: row blocks on threads
    g_out = rng.standard_normal((6, 20, 16)).astype(np.float32)
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    out, _ = ours(x)
    tout, _ = theirs(tx)
    out.backward(tensorplug.tensor(g_out))
    tout.backward(torch.tensor(g_out))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        if name in frozen:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_lstm_backward_leaves_upstream_gradients_unchanged():
    rng = np.random.default_rng(4)
    ours, theirs = _pair(rng, ())
    x0 = rng.standard_normal((5, 20, 10)).astype(np.float32)
    seeds = [rng.standard_normal(shape).astype(np.float32) for shape in ((5, 20, 16), (1, 20, 16), (1, 20, 16))]
    given = [tensorplug.tensor(s) for s in seeds]
    out, (h, c) = ours(tensorplug.tensor(x0))
    tensorplug.autograd.backward([out, h, c], given)
    tout, (th, tc) = theirs(torch.tensor(x0))
    torch.autograd.backward([tout, th, tc], [torch.tensor(s) for s in seeds])
    for g, s in zip(given, seeds):
        np.testing.assert_array_equal(g.numpy(), s)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
