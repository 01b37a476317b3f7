"""scaled_dot_product_attention as one node (functional_conv.Attention) against torch: every mask kind,
gradients, double backward; the composed path where the fused one does not apply."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn.functional as F
from tensorplug.nn.functional_conv import Attention
from torch_compare import assert_backward_matches

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
L, S, E = 5, 7, 4
MASKS = {
    "none": None,
    "causal": "causal",
    "bool": rng.random((L, S)) > 0.3,
    "float": rng.standard_normal((2, 1, L, S)),
}
# a query whose every key is masked attends to nothing: weights 0 and zero gradients, as torch's (not NaN)
MASKS["bool_unattended"] = MASKS["bool"].copy()
MASKS["bool_unattended"][2] = False
MASKS["float_unattended"] = MASKS["float"].copy()
MASKS["float_unattended"][1, 0, 3] = -np.inf


def _inputs(dtype):
    return [rng.standard_normal((2, 3, n, E)).astype(dtype) for n in (L, S, S)]


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_attention_matches_torch(mask, dtype, monkeypatch):
    calls = []
    real = Attention.forward
    monkeypatch.setattr(Attention, "forward", staticmethod(lambda *a, **k: calls.append(1) or real(*a, **k)))
    arrays = _inputs(dtype)
    m = MASKS[mask]
    kw_ours, kw_theirs = {}, {}
    if mask == "causal":
        arrays[1], arrays[2] = arrays[1][:, :, :L], arrays[2][:, :, :L]
        kw_ours = kw_theirs = {"is_causal": True}
    elif m is not None:
        m = m.astype(dtype) if m.dtype != bool else m
        kw_ours, kw_theirs = {"attn_mask": tensorplug.tensor(m)}, {"attn_mask": torch.tensor(m)}
    ours = [tensorplug.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    a = F.scaled_dot_product_attention(*ours, scale=0.7, **kw_ours)
    t = torch.nn.functional.scaled_dot_product_attention(*theirs, scale=0.7, **kw_theirs)
    g = rng.standard_normal(tuple(t.shape)).astype(dtype)
    assert_backward_matches(a, t, ours, theirs, g, tol=1e-12 if dtype == "float64" else 2e-5)
    assert calls  # the one-node path ran


def test_double_backward_matches_torch():
    arrays = [a[:, :, :L] for a in _inputs("float64")]
    results = []
    future = torch.ones(L, L, dtype=torch.bool).triu(1)
    for lib in (tensorplug, torch):
        q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        if lib is torch:  # torch's fused CPU kernel has no double backward: its math, written out
            scores = (q @ k.transpose(-2, -1) / 2.0).masked_fill(future, -float("inf"))
            out = torch.softmax(scores, -1) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        gq, gk = lib.autograd.grad((out * out).sum(), (q, k), create_graph=True)
        (gq.sum() + (gk * gk).sum()).backward()
        results.append([gq.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()])
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


def test_a_float_mask_that_wants_a_gradient_takes_the_composed_path():
    q, k, v = (tensorplug.tensor(a) for a in _inputs("float64"))
    mask = tensorplug.zeros(L, S, dtype=tensorplug.float64, requires_grad=True)
    F.scaled_dot_product_attention(q, k, v, attn_mask=mask).sum().backward()
    assert mask.grad is not None and mask.grad.shape == (L, S)


@pytest.mark.parametrize("mask", ["bool_unattended", "float_unattended"])
def test_the_composed_path_also_attends_to_nothing_where_every_key_is_masked(mask):
    arrays = _inputs("float64")
    results = []
    for lib in (tensorplug, torch):
        q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        m = lib.tensor(MASKS[mask])
        if m.dtype != lib.bool:
            m.requires_grad_()  # a float mask that wants a gradient: not the one-node path
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m)
        (out * out).sum().backward()
        results.append([out.detach().numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()])
    assert not np.isnan(results[0][0]).any()
    for x, y in zip(*results):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mask_shape", [(3, 4), (2, 2, 3, 5), (1, 2, 3, 5), (4, 5)])
@pytest.mark.parametrize("dtype", ["bool", "float32"])
def test_a_mask_that_does_not_fit_the_scores_raises_torchs_error(mask_shape, dtype):
    messages = []
    for m in (torch, tensorplug):
        q, k, v = (m.tensor(np.ones((2, n, 4), np.float32)) for n in (3, 5, 5))
        with pytest.raises(RuntimeError) as info:
            m.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m.tensor(np.zeros(mask_shape, dtype)))
        messages.append(str(info.value))
    assert messages[1].startswith(messages[0])


@pytest.mark.parametrize("mask", ["none", "causal", "bool_unattended", "float"])
@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_takes_the_one_node_path_with_the_composed_paths_values(mask, p, monkeypatch):
    """Attention dropout draws the mask F.dropout would draw on the weights, so the one node and the
    composed ops give the same values and gradients for one seed (torch's own draws differ: its
    dropout is compared by statistics elsewhere)."""
    from tensorplug.nn import functional_conv
    arrays = _inputs("float64")
    kw = {}
    if mask == "causal":
        arrays[1], arrays[2] = arrays[1][:, :, :L], arrays[2][:, :, :L]
        kw = {"is_causal": True}
    elif MASKS[mask] is not None:
        kw = {"attn_mask": tensorplug.tensor(MASKS[mask])}
    g = rng.standard_normal((2, 3, L, E))
    results = []
    for fusable in (True, False):
        if not fusable:
            monkeypatch.setattr(functional_conv, "_fusable", lambda *a: False)
        leaves = [tensorplug.tensor(a, requires_grad=True) for a in arrays]
        tensorplug.manual_seed(7)
        out = F.scaled_dot_product_attention(*leaves, dropout_p=p, **kw)
        assert (type(out.grad_fn).__name__ == "AttentionBackward0") == fusable
        out.backward(tensorplug.tensor(g))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in leaves])
    for ours, composed in zip(*results):
        np.testing.assert_allclose(ours, composed, rtol=1e-12, atol=1e-14)
