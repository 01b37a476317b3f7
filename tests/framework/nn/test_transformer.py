"""MultiheadAttention, TransformerEncoderLayer and scaled_dot_product_attention against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
import tensorplug.nn.functional as F
from tensorplug.autograd import gradcheck

torch = pytest.importorskip("torch")

rng = np.random.default_rng(3)


def _load(ours, theirs):
    if _torch_version() >= (2, 13):  # the reprs we match are 2.13's (LayerNorm's bias= is newer than 2.11)
        assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    ours.load_state_dict({k: tensorplug.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})


def _close(a, b, atol=1e-12):
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), atol=atol)


@pytest.mark.parametrize("kw, call", [
    (dict(), {}),
    (dict(batch_first=True), dict(average_attn_weights=False)),
    (dict(kdim=5, vdim=6), {}),
    (dict(bias=False), dict(need_weights=False)),
    (dict(add_bias_kv=True), {}),
    (dict(add_zero_attn=True, batch_first=True), dict(average_attn_weights=False)),
    (dict(add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=6), {}),
])
@pytest.mark.parametrize("masks", ["none", "padding", "bool_attn", "float_attn_and_padding"])
def test_multihead_attention_matches_torch(backend, kw, call, masks):
    theirs = torch.nn.MultiheadAttention(8, 2, **kw).double()
    ours = nn.MultiheadAttention(8, 2, **kw).double()
    _load(ours, theirs)
    q0 = rng.standard_normal((5, 3, 8))
    k0 = rng.standard_normal((4, 3, kw.get("kdim", 8)))
    v0 = rng.standard_normal((4, 3, kw.get("vdim", 8)))
    if kw.get("batch_first"):
        q0, k0, v0 = (a.transpose(1, 0, 2).copy() for a in (q0, k0, v0))
    kpm = np.zeros((3, 4), bool)
    kpm[1, 2:] = True
    am = rng.standard_normal((5, 4))
    m = {"none": {}, "padding": dict(key_padding_mask=kpm), "bool_attn": dict(attn_mask=am > 1.0),
         "float_attn_and_padding": dict(attn_mask=am, key_padding_mask=kpm.astype(float) * -1e9)}[masks]
    ins = [tensorplug.tensor(a, requires_grad=True) for a in (q0, k0, v0)]
    tins = [torch.tensor(a, requires_grad=True) for a in (q0, k0, v0)]
    y, w = ours(*ins, **{k: tensorplug.tensor(v) for k, v in m.items()}, **call)
    ty, tw = theirs(*tins, **{k: torch.tensor(v) for k, v in m.items()}, **call)
    _close(y, ty)
    assert (w is None) == (tw is None)
    if tw is not None:
        _close(w, tw)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), atol=1e-10)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-10, err_msg=n)


def test_self_attention_unbatched_and_init():
    theirs = torch.nn.MultiheadAttention(8, 4, batch_first=True).double()
    ours = nn.MultiheadAttention(8, 4, batch_first=True).double()
    _load(ours, theirs)
    x0 = rng.standard_normal((2, 5, 8))
    x, tx = tensorplug.tensor(x0), torch.tensor(x0)
    _close(ours(x, x, x)[0], theirs(tx, tx, tx)[0])
    x1 = rng.standard_normal((5, 8))
    a, ta = tensorplug.tensor(x1), torch.tensor(x1)
    y, w = ours(a, a, a)
    ty, tw = theirs(ta, ta, ta)
    _close(y, ty)
    _close(w, tw)
    fresh = nn.MultiheadAttention(8, 2)
    assert fresh.in_proj_bias.abs().max().item() == 0 and fresh.out_proj.bias.abs().max().item() == 0
    assert fresh.in_proj_weight.abs().max().item() <= np.sqrt(6 / (8 + 24))


def test_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5).double()
    x = tensorplug.randn(4, 2, 8, dtype=tensorplug.float64)
    mha.eval()
    a = mha(x, x, x)[0]
    assert np.array_equal(a.detach().cpu().numpy(), mha(x, x, x)[0].detach().cpu().numpy())
    mha.train()
    assert not np.allclose(a.detach().cpu().numpy(), mha(x, x, x)[0].detach().cpu().numpy())


@pytest.mark.parametrize("padded", ["tail", "first"])  # first: with the causal mask query 0 sees no key
@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_encoder_layer_matches_torch(backend, kw, padded):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    _load(ours, theirs)
    ours.eval()
    theirs.eval()
    x0 = rng.standard_normal((3, 5, 8) if kw.get("batch_first") else (5, 3, 8))
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    if padded == "first":
        kpm[1, 0] = True
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    x = tensorplug.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = theirs(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm))
    y = ours(x, src_mask=tensorplug.tensor(causal), src_key_padding_mask=tensorplug.tensor(kpm))
    _close(y, ty, 1e-10)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-9)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-9, err_msg=n)


def test_transformer_encoder_stack():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 2 and enc.layers[0] is not enc.layers[1]
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                                         2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    enc.load_state_dict({k: tensorplug.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})
    x0 = rng.standard_normal((2, 5, 8)).astype(np.float32)
    _close(enc(tensorplug.tensor(x0)), theirs(torch.tensor(x0)), 1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(is_causal=True), dict(bool_mask=True), dict(float_mask=True, scale=0.3)])
def test_scaled_dot_product_attention_matches_torch(backend, kw):
    q0 = rng.standard_normal((2, 4, 5, 8))
    k0 = rng.standard_normal((2, 4, 6, 8))
    v0 = rng.standard_normal((2, 4, 6, 3))
    mask = rng.standard_normal((5, 6))
    args = {}
    targs = {}
    if kw.get("is_causal"):
        args["is_causal"] = targs["is_causal"] = True
    if kw.get("bool_mask"):
        args["attn_mask"], targs["attn_mask"] = tensorplug.tensor(mask > 0), torch.tensor(mask > 0)
    if kw.get("float_mask"):
        args["attn_mask"], targs["attn_mask"] = tensorplug.tensor(mask), torch.tensor(mask)
        args["scale"] = targs["scale"] = kw["scale"]
    ins = [tensorplug.tensor(a, requires_grad=True) for a in (q0, k0, v0)]
    tins = [torch.tensor(a, requires_grad=True) for a in (q0, k0, v0)]
    y = F.scaled_dot_product_attention(*ins, **args)
    ty = torch.nn.functional.scaled_dot_product_attention(*tins, **targs)
    _close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    for a, b in zip(ins, tins):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), atol=1e-10)


def test_sdpa_gradcheck_and_gqa():
    q = tensorplug.randn(1, 2, 3, 4, dtype=tensorplug.float64, requires_grad=True)
    k = tensorplug.randn(1, 2, 3, 4, dtype=tensorplug.float64, requires_grad=True)
    v = tensorplug.randn(1, 2, 3, 2, dtype=tensorplug.float64, requires_grad=True)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))
    q0 = rng.standard_normal((1, 4, 3, 4))
    k0 = rng.standard_normal((1, 2, 3, 4))
    y = F.scaled_dot_product_attention(tensorplug.tensor(q0), tensorplug.tensor(k0), tensorplug.tensor(k0),
                                       enable_gqa=True)
    ty = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q0), torch.tensor(k0), torch.tensor(k0),
                                                          enable_gqa=True)
    _close(y, ty)


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda: nn.MultiheadAttention(8, 3), AssertionError, "embed_dim must be divisible by num_heads"),
    (lambda: nn.MultiheadAttention(8, 2)(*(tensorplug.randn(5, 2, 7),) * 3), AssertionError,
     "was expecting embedding dimension of 8, but got 7"),
    (lambda: nn.MultiheadAttention(8, 2)(*(tensorplug.randn(5, 2, 8),) * 3,
                                         attn_mask=tensorplug.ones(4, 4, dtype=tensorplug.bool)), RuntimeError,
     "The shape of the 2D attn_mask is"),
    (lambda: nn.MultiheadAttention(8, 2)(*(tensorplug.randn(5, 2, 8),) * 3,
                                         key_padding_mask=tensorplug.ones(3, 5, dtype=tensorplug.bool)),
     AssertionError, "key_padding_mask"),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="foo"), RuntimeError, "activation should be relu/gelu"),
])
def test_attention_errors(call, exc, phrase):
    with pytest.raises(exc) as info:
        call()
    assert phrase in str(info.value)


def _torch_version():
    return tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu", batch_first=True)])
def test_transformer_decoder_layer_matches_torch(backend, kw):
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    ours = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    _load(ours, theirs)
    first = kw.get("batch_first")
    t0 = rng.standard_normal((3, 5, 8) if first else (5, 3, 8))
    m0 = rng.standard_normal((3, 6, 8) if first else (6, 3, 8))
    tkpm = np.zeros((3, 5), bool)
    tkpm[1, 4:] = True
    mkpm = np.zeros((3, 6), bool)
    mkpm[0, 2:] = True
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    t, m = tensorplug.tensor(t0, requires_grad=True), tensorplug.tensor(m0, requires_grad=True)
    tt, tm = torch.tensor(t0, requires_grad=True), torch.tensor(m0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = theirs(tt, tm, tgt_mask=torch.tensor(causal), tgt_key_padding_mask=torch.tensor(tkpm),
                    memory_key_padding_mask=torch.tensor(mkpm), tgt_is_causal=True)
    y = ours(t, m, tgt_mask=tensorplug.tensor(causal), tgt_key_padding_mask=tensorplug.tensor(tkpm),
             memory_key_padding_mask=tensorplug.tensor(mkpm), tgt_is_causal=True)
    _close(y, ty, 1e-10)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), tt.grad.cpu().numpy(), atol=1e-9)
    np.testing.assert_allclose(m.grad.cpu().numpy(), tm.grad.cpu().numpy(), atol=1e-9)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-9, err_msg=n)


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
              batch_first=batch_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note that nested tensors need batch_first
        theirs = torch.nn.Transformer(**kw).double()
    ours = nn.Transformer(**kw).double()
    _load(ours, theirs)
    src0 = rng.standard_normal((2, 7, 8) if batch_first else (7, 2, 8))
    tgt0 = rng.standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=tensorplug.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(mask.numpy(), tmask.numpy())
    src, tgt = tensorplug.tensor(src0, requires_grad=True), tensorplug.tensor(tgt0)
    tsrc, ttgt = torch.tensor(src0, requires_grad=True), torch.tensor(tgt0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = theirs(tsrc, ttgt, tgt_mask=tmask, tgt_is_causal=True)
    y = ours(src, tgt, tgt_mask=mask, tgt_is_causal=True)
    _close(y, ty, 1e-10)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), tsrc.grad.numpy(), atol=1e-9)
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        ours(src, tensorplug.zeros((2, 4, 5) if batch_first else (4, 2, 5), dtype=tensorplug.float64))
    for lib, model in ((tensorplug, ours), (torch, theirs)):
        bad = lib.zeros((3, 4, 8) if batch_first else (4, 3, 8), dtype=lib.float64)
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            model(src if lib is tensorplug else tsrc, bad)


def test_transformer_init_is_xavier_and_decoder_copies_layers():
    tensorplug.manual_seed(0)
    model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=32)
    w = model.decoder.layers[0].linear1.weight
    bound = (6 / (16 + 32)) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.8 * bound
    assert model.decoder.layers[0] is not model.decoder.layers[1]
    assert len(model.decoder.layers) == 2 and model.decoder.norm is not None
