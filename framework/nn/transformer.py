"""Attention and transformer layers: MultiheadAttention, TransformerEncoderLayer, TransformerEncoder.

Parameter names and layouts are torch's (``in_proj_weight``, ``in_proj_bias``,
``out_proj``), so state dicts interchange. The functional
``scaled_dot_product_attention`` lives in functional_conv.py (exported by
``tensorplug.nn.functional``).
"""
from __future__ import annotations

import copy
import math
import warnings

from .. import creation
from .. import dtypes as _dt
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional_conv import scaled_dot_product_attention
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention.out_proj (a plain Linear)."""


def _float_mask(mask, dtype, name):
    """A bool mask (True = masked out) as an additive float mask; float masks pass through."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a Tensor or None, got {type(mask).__name__}")
    if mask.dtype is _dt.bool_:
        return creation.zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask.to(dtype)


class MultiheadAttention(Module):
    """Multi-head attention (torch's layer): ``forward(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)``.

    Returns ``(attn_output, attn_weights)``; weights are averaged over heads unless
    ``average_attn_weights=False``, and None when ``need_weights=False``.

    Example:
        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = tensorplug.randn(2, 5, 16)
        >>> out, w = mha(x, x, x)   # (2, 5, 16), (2, 5, 5)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError("embed_dim must be divisible by num_heads")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = dict(device=device, dtype=dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty((3 * embed_dim, embed_dim), **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(creation.empty((embed_dim, embed_dim), **kw))
            self.k_proj_weight = Parameter(creation.empty((embed_dim, self.kdim), **kw))
            self.v_proj_weight = Parameter(creation.empty((embed_dim, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:  # a learned key and value appended to every sequence
            self.bias_k = Parameter(creation.empty((1, 1, embed_dim), **kw))
            self.bias_v = Parameter(creation.empty((1, 1, embed_dim), **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn  # a zero key and value appended per head
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                return F.linear(query, w, b).chunk(3, -1)
            return (F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk), F.linear(value, w[2 * e:], bv))
        return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                F.linear(value, self.v_proj_weight, bv))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        batched = query.dim() == 3
        if query.dim() not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                                 f"{query.dim()}-D query tensor")
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got "
                                 f"{query.shape[-1]}")
        if key.dim() != query.dim() or value.dim() != query.dim():
            raise AssertionError(f"key and value should be {query.dim()}D like query, got {key.dim()}D and "
                                 f"{value.dim()}D")
        same = query is key and key is value
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if same:
            key = value = query
        n, length, e = query.shape
        source = key.shape[1]
        if key.shape[0] != n or value.shape[:2] != key.shape[:2]:
            raise AssertionError(f"key shape {list(key.shape)} does not match value shape {list(value.shape)}")
        heads, hd = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = _cat([k, self.bias_k.expand(n, 1, e)], 1)
            v = _cat([v, self.bias_v.expand(n, 1, e)], 1)
            attn_mask, key_padding_mask = _pad_key_axis(attn_mask), _pad_key_axis(key_padding_mask)
            source += 1
        q = q.reshape(n, length, heads, hd).transpose(1, 2)
        k = k.reshape(n, source, heads, hd).transpose(1, 2)
        v = v.reshape(n, source, heads, hd).transpose(1, 2)
        if self.add_zero_attn:
            zeros = k.new_zeros((n, heads, 1, hd))
            k, v = _cat([k, zeros], 2), _cat([v, zeros], 2)
            attn_mask, key_padding_mask = _pad_key_axis(attn_mask), _pad_key_axis(key_padding_mask)
            source += 1
        mask = self._merge_masks(attn_mask, key_padding_mask, is_causal, n, length, source, q.dtype)
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            if mask is not None:
                scores = scores + mask
            weights = F.softmax(scores, -1)
            attended = (F.dropout(weights, dropout, True) if dropout > 0.0 else weights) @ v
        else:
            # torch's path without weights: a query whose every key is masked attends to nothing (0, where
            # the softmax above gives NaN), in one fused node where it can
            attended = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        # torch's layout: sequence-first (L, N, E), contiguous, transposed to batch-first at the end
        out = self.out_proj(attended.permute(2, 0, 1, 3).reshape(length, n, e))
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        elif batched:  # torch views its (N * heads, L, S) weights as (N, heads, L, S)
            weights = weights.view(n, heads, length, source)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def _merge_masks(self, attn_mask, key_padding_mask, is_causal, n, length, source, dtype):
        mask = None
        if attn_mask is None and is_causal:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint; pass the causal mask too (a "
                               "(L, L) float mask with -inf above the diagonal, or a bool mask True there)")
        if attn_mask is not None:
            if attn_mask.dim() == 2:
                if tuple(attn_mask.shape) != (length, source):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                       f"({length}, {source}).")
                mask = _float_mask(attn_mask, dtype, "attn_mask")
            elif attn_mask.dim() == 3:
                if tuple(attn_mask.shape) != (n * self.num_heads, length, source):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                       f"({n * self.num_heads}, {length}, {source}).")
                mask = _float_mask(attn_mask, dtype, "attn_mask").reshape(n, self.num_heads, length, source)
            else:
                raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, source):
                raise AssertionError(f"expecting key_padding_mask shape of {(n, source)}, but got "
                                     f"{tuple(key_padding_mask.shape)}")
            pad = _float_mask(key_padding_mask, dtype, "key_padding_mask").reshape(n, 1, 1, source)
            mask = pad if mask is None else mask + pad
        return mask


def _cat(tensors, dim):
    from ..ops import cat
    return cat(tensors, dim)


def _pad_key_axis(mask):
    """A mask with one more key position (the appended bias or zero key), not masked."""
    return None if mask is None else F.pad(mask, (0, 1))


def _activation(name):
    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {name}")


class _TransformerLayer(Module):
    """The parts the encoder and decoder layers share, registered in torch's order (state dicts interchange):
    self-attention, [attention over memory,] the feed-forward block, then one LayerNorm and dropout per block."""

    def __init__(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                 norm_first, bias, device, dtype, blocks):
        super().__init__()
        from .dropout import Dropout
        from .normalization import LayerNorm
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        if blocks == 3:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation) if isinstance(activation, str) else activation

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=bool(is_causal) and attn_mask is not None)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block, each with a residual and LayerNorm (torch's layer).

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
        >>> layer(tensorplug.randn(2, 5, 16)).shape
        tensorplug.Size([2, 5, 16])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, device, dtype, blocks=2)
        from .activation import GELU, ReLU
        # torch's flag (1 relu, 2 gelu, 0 other) that gates its fused and nested-tensor paths
        act = self.activation
        self.activation_relu_or_gelu = 1 if act is F.relu or isinstance(act, ReLU) else (
            2 if act is F.gelu or isinstance(act, GELU) else 0)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def _why_not_nested(layer):
    """Why torch's TransformerEncoder will not use nested tensors for copies of ``layer`` ('' if it will)."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not layer.self_attn.batch_first:
        return f"{name}.self_attn.batch_first was not True(use batch_first for better inference performance)"
    if not layer.self_attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


def _fastpath_enabled():
    from .. import backends
    mha = getattr(backends, "mha", None)
    return mha is None or mha.get_fastpath_enabled()


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then an optional ``norm``.

    As torch's, in inference (eval mode, no gradient needed) with a batched ``src``, a
    ``src_key_padding_mask`` and no ``mask``, the stack runs on the unpadded tokens only (torch's
    nested-tensor path) and the padded positions come out as 0.0 before ``norm``. With
    ``mask_check=False`` a mask that is not left-aligned is read as its count of unpadded tokens per row.

    Example:
        >>> layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
        >>> enc = nn.TransformerEncoder(layer, 2).eval()
        >>> pad = tensorplug.tensor([[False, False, True], [False, False, False]])
        >>> with tensorplug.no_grad():
        ...     enc(tensorplug.randn(2, 3, 8), src_key_padding_mask=pad)[0, 2].abs().sum()
        tensor(0.)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        from .container import ModuleList
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why = _why_not_nested(encoder_layer)
        if enable_nested_tensor and why:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False because {why}",
                          stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        keep = self._nested_keep(src, mask, src_key_padding_mask)
        if keep is not None:
            src_key_padding_mask = keep.logical_not()
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if keep is not None:
            # torch's to_padded_tensor(0.0, src.size()): zeros where the nested tensor had no token
            x = x.masked_fill(src_key_padding_mask.unsqueeze(-1), 0.0)
        return self.norm(x) if self.norm is not None else x

    def _nested_keep(self, src, mask, src_key_padding_mask):
        """The (N, S) tokens torch's nested-tensor path keeps, or None where torch takes the padded path.

        torch builds the nested tensor from the first ``count`` tokens of each row, ``count`` being the
        row's unpadded positions (a float mask's zeros); the checks are its ``why_not_sparsity_fast_path``."""
        from ..amp import is_autocast_enabled
        from ..autograd.grad_mode import is_grad_enabled
        if src_key_padding_mask is None or mask is not None or src.dim() != 3:
            return None
        if not (_fastpath_enabled() and getattr(self, "use_nested_tensor", False)) or self.layers[0].training:
            return None
        if is_autocast_enabled():
            return None
        if is_grad_enabled() and any(t is not None and t.requires_grad for t in self._fast_path_args(src)):
            return None
        unpadded = src_key_padding_mask.logical_not() if src_key_padding_mask.dtype is _dt.bool_ \
            else src_key_padding_mask == 0
        count = unpadded.sum(-1, keepdim=True)
        keep = creation.arange(unpadded.shape[-1], device=src.device).unsqueeze(0) < count
        if getattr(self, "mask_check", True) and not bool((keep == unpadded).all()):
            return None
        return keep

    def _fast_path_args(self, src):
        first = self.layers[0]
        attn = first.self_attn
        return (src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight, attn.out_proj.bias,
                first.norm1.weight, first.norm1.bias, first.norm2.weight, first.norm2.bias,
                first.linear1.weight, first.linear1.bias, first.linear2.weight, first.linear2.bias)
