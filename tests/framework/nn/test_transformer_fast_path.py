"""TransformerEncoder's nested-tensor ("sparsity fast path") inference against torch: zeros at the padded
positions exactly when torch takes that path, and torch's constructor warning."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn

torch = pytest.importorskip("torch")

rng = np.random.default_rng(7)

LEFT = np.array([[False, False, True, True, True], [False, False, False, False, True],
                 [False] * 5])


def _pair(layer_kw=None, enc_kw=None, nhead=2, norm=False, layers=2):
    layer_kw = {"dropout": 0.0, "batch_first": True, **(layer_kw or {})}
    enc_kw = enc_kw or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, nhead, 16, **layer_kw), layers,
                                             norm=torch.nn.LayerNorm(8) if norm else None, **enc_kw)
        ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, nhead, 16, **layer_kw), layers,
                                     norm=nn.LayerNorm(8) if norm else None, **enc_kw)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape))
    ours.load_state_dict({k: tensorplug.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _run(ours, theirs, x, grad=False, **masks):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "nested tensors are in prototype stage"
        with torch.set_grad_enabled(grad):
            ty = theirs(torch.tensor(x), **{k: torch.tensor(v) for k, v in masks.items()})
    with tensorplug.set_grad_enabled(grad):
        y = ours(tensorplug.tensor(x), **{k: tensorplug.tensor(v) for k, v in masks.items()})
    y, ty = y.detach().numpy(), ty.detach().numpy()
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-4, atol=1e-4)
    return y, ty


def _zeros_at(y, pad):
    return bool((y[pad] == 0).all())


def _x(shape=(3, 5, 8)):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("layer_kw, enc_kw, norm, mask", [
    ({}, {}, False, LEFT),
    ({"activation": "gelu"}, {}, False, LEFT),
    ({}, {}, False, np.where(LEFT, -np.inf, 0.0).astype(np.float32)),  # float mask, zeros kept
    ({}, {}, False, np.array([[True] * 5, [False, True, True, True, True], [False] * 4 + [True]])),  # empty row
    ({}, {}, False, np.array([[False] * 4 + [True]] * 3)),  # the last position padded in every row
])
def test_padded_positions_are_zero_when_torch_uses_nested_tensors(layer_kw, enc_kw, norm, mask):
    ours, theirs = _pair(layer_kw, enc_kw, norm=norm)
    ours.eval()
    theirs.eval()
    y, ty = _run(ours, theirs, _x(), src_key_padding_mask=mask)
    pad = mask if mask.dtype == bool else mask != 0
    assert _zeros_at(ty, pad) and _zeros_at(y, pad)
    assert y.shape == (3, 5, 8)


def test_norm_runs_after_the_padding_is_zeroed():
    ours, theirs = _pair(norm=True)
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        theirs.norm.bias.fill_(0.5)
    ours.norm.bias.data.fill_(0.5)
    y, ty = _run(ours, theirs, _x(), src_key_padding_mask=LEFT)
    assert (ty[LEFT] == 0.5).all() and (y[LEFT] == 0.5).all()


def test_mask_check_off_reads_a_count_of_tokens_per_row():
    ours, theirs = _pair(enc_kw={"mask_check": False})
    ours.eval()
    theirs.eval()
    mask = np.array([[True, False, False, True, True], [False, True, False, False, False], [False] * 5])
    y, ty = _run(ours, theirs, _x(), src_key_padding_mask=mask)
    first_k = np.arange(5)[None, :] >= (~mask).sum(1, keepdims=True)
    assert _zeros_at(ty, first_k) and _zeros_at(y, first_k)


def test_grad_enabled_without_requires_grad_still_takes_the_nested_path():
    ours, theirs = _pair()
    ours.eval()
    theirs.eval()
    for p in theirs.parameters():
        p.requires_grad_(False)
    for p in ours.parameters():
        p.requires_grad_(False)
    y, ty = _run(ours, theirs, _x(), grad=True, src_key_padding_mask=LEFT)
    assert _zeros_at(ty, LEFT) and _zeros_at(y, LEFT)


@pytest.mark.parametrize("case", ["training", "grad", "attn_mask", "not_left_aligned", "disabled",
                                  "batch_first", "norm_first", "odd_heads", "no_bias", "tanh"])
def test_padded_positions_are_computed_when_torch_keeps_the_padded_path(case):
    layer_kw = {"batch_first": {"batch_first": False}, "norm_first": {"norm_first": True},
                "no_bias": {"bias": False}, "tanh": {"activation": torch.tanh}}.get(case, {})
    ours, theirs = _pair(layer_kw, {"enable_nested_tensor": False} if case == "disabled" else None,
                         nhead=1 if case == "odd_heads" else 2)
    if case == "tanh":
        ours.layers[0].activation = ours.layers[1].activation = tensorplug.tanh
    if case != "training":
        ours.eval()
        theirs.eval()
    x = _x()
    mask = LEFT
    masks = {}
    if case == "not_left_aligned":
        mask = np.array([[True, False, False, True, True], [False] * 4 + [True], [False] * 5])
    if case == "attn_mask":
        masks["mask"] = np.zeros((5, 5), np.float32)
    if case == "batch_first":
        x = x.transpose(1, 0, 2).copy()
    y, ty = _run(ours, theirs, x, grad=case == "grad", src_key_padding_mask=mask, **masks)
    pad = mask.T if case == "batch_first" else mask
    assert not _zeros_at(ty, pad) and not _zeros_at(y, pad)


def test_unbatched_input_keeps_the_padded_path():
    ours, theirs = _pair()
    ours.eval()
    theirs.eval()
    y, ty = _run(ours, theirs, _x((5, 8)), src_key_padding_mask=LEFT[0])
    assert not _zeros_at(ty, LEFT[0]) and not _zeros_at(y, LEFT[0])


class _Other(nn.Module):
    pass


def _messages(build):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = build()
    enc = getattr(enc, "encoder", enc)
    return [str(w.message) for w in caught if "enable_nested_tensor" in str(w.message)], enc.use_nested_tensor


@pytest.mark.parametrize("layer_kw, nhead, enc_kw", [
    ({"batch_first": True}, 2, {}),
    ({"batch_first": True, "activation": "gelu"}, 2, {}),
    ({}, 2, {}),
    ({}, 2, {"enable_nested_tensor": False}),
    ({"batch_first": True, "norm_first": True}, 2, {}),
    ({"batch_first": True, "bias": False}, 2, {}),
    ({"batch_first": True}, 1, {}),
    ({"batch_first": True, "activation": "tanh"}, 2, {}),
])
def test_constructor_warning_matches_torch(layer_kw, nhead, enc_kw):
    def build(lib, tanh):
        def make():
            kw = dict(layer_kw)
            if kw.get("activation") == "tanh":
                kw["activation"] = tanh
            return lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, nhead, 16, **kw), 1, **enc_kw)
        return make
    assert _messages(build(tensorplug, tensorplug.tanh)) == _messages(build(torch, torch.tanh))


def test_constructor_warning_for_other_layers_and_unequal_eps():
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    ours = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    theirs.norm2.eps = ours.norm2.eps = 1e-3
    assert _messages(lambda: nn.TransformerEncoder(ours, 1)) == \
        _messages(lambda: torch.nn.TransformerEncoder(theirs, 1))
    msgs, used = _messages(lambda: nn.TransformerEncoder(_Other(), 1))
    assert msgs == ["enable_nested_tensor is True, but self.use_nested_tensor is False because "
                    "encoder_layer was not TransformerEncoderLayer"] and not used
    assert _messages(lambda: torch.nn.TransformerEncoder(torch.nn.Module(), 1))[0] == msgs


def test_transformer_warns_as_torch():
    for kw in ({}, {"batch_first": True}):
        assert _messages(lambda: nn.Transformer(8, 2, 1, 1, 16, **kw)) == \
            _messages(lambda: torch.nn.Transformer(8, 2, 1, 1, 16, **kw))


def test_the_mha_fastpath_switch_turns_the_zeroing_off_as_torch():
    """torch.backends.mha.set_fastpath_enabled(False) keeps TransformerEncoder off its nested-tensor path."""
    results = []
    for m in (torch, tensorplug):
        m.manual_seed(0)
        enc = m.nn.TransformerEncoder(m.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 1).eval()
        pad = m.tensor([[False, False, False, True], [False] * 4])
        x = m.tensor(np.random.default_rng(0).standard_normal((2, 4, 8)).astype(np.float32))
        zeroed = []
        for flag in (True, False):
            m.backends.mha.set_fastpath_enabled(flag)
            try:
                with m.no_grad():
                    zeroed.append(float(enc(x, src_key_padding_mask=pad)[0, 3].abs().sum()) == 0.0)
            finally:
                m.backends.mha.set_fastpath_enabled(True)
        results.append(zeroed)
    assert results[0] == results[1] == [True, False]
