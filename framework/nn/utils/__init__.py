"""``nn.utils``: gradient clipping, flattening parameters into one vector, and ``rnn`` (packed sequences)."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from . import rnn
from . import parametrize, parametrizations, stateless
from .weight_norm import weight_norm, remove_weight_norm, spectral_norm, remove_spectral_norm
from .clip_grad import (_as_list, clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "parameters_to_vector",
           "vector_to_parameters", "get_total_norm", "rnn", "parametrize", "parametrizations", "stateless",
           "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable)."""
    params = _as_list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: expected a non-empty iterable of Tensors")
    pieces = [p.reshape(-1) for p in params]
    backend = pieces[0]._backend
    for p in params:
        if p._backend is not backend:
            raise TypeError("Found two parameters on different devices, this is currently not supported.")
    try:
        from ...ops import cat
    except ImportError:
        cat = None
    if cat is not None:
        return cat(pieces)
    out = pieces[0]
    offset = 0
    total = sum(p.numel() for p in params)
    from ..functional import pad
    out = None
    for piece in pieces:
        n = piece.numel()
        padded = pad(piece, (offset, total - offset - n))
        out = padded if out is None else out + padded
        offset += n
    return out


def vector_to_parameters(vec, parameters):
    """Copy slices of the 1-D ``vec`` into ``parameters`` (in place, in order)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset = 0
    with no_grad():
        for p in _as_list(parameters):
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n
