"""``nn.utils``: gradient clipping, flattening parameters into one vector, and ``rnn`` (packed sequences)."""
from __future__ import annotations

import math

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from . import rnn
from . import parametrize, parametrizations, stateless
from .weight_norm import weight_norm, remove_weight_norm, spectral_norm, remove_spectral_norm

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "get_total_norm", "rnn", "parametrize", "parametrizations", "stateless",
           "weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` taken together (as one vector), a 0-d tensor."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        from ...creation import zeros
        return zeros(())
    first = tensors[0]
    backend = first._backend
    xp = backend.xp
    with no_grad():
        if math.isinf(norm_type):
            parts = [float(xp.max(xp.abs(t._data))) if t.numel() else 0.0 for t in tensors]
            total = max(parts) if norm_type > 0 else min(parts)
        else:
            total = sum(float(xp.sum(xp.abs(t._data) ** norm_type)) for t in tensors) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(backend.asarray(total, first._dtype), first._dtype, backend)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so their total norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor).

    Example:
        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    grads = [p._grad for p in _as_list(parameters) if p._grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    coef = float(max_norm) / (total.item() + 1e-6)
    if coef < 1.0:
        with no_grad():
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            g = p._grad
            if g is None:
                continue
            xp = g._backend.xp
            from ...ops.inplace import assign
            assign(g, xp.clip(g._data, -clip_value, clip_value))
            g._version[0] += 1


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
