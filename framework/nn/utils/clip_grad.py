"""Gradient clipping (``torch.nn.utils.clip_grad``): ``clip_grad_norm_``, ``clip_grad_value_``,
``get_total_norm`` and ``clip_grads_with_norm_``, computed as torch computes them.

The total norm is the norm of the per-tensor norms (each in its tensor's dtype,
the stack in their promoted dtype), so every order reads as torch's: ``-inf`` is
the smallest magnitude of all, ``0`` counts the tensors with a nonzero entry,
and a NaN anywhere makes the norm NaN. The clipping factor
``min(max_norm / (total + 1e-6), 1)`` is applied even when it is NaN: torch's
gradients then become NaN too, and so do these.
"""
from __future__ import annotations

import functools
import math
import types
import warnings

from ...autograd.grad_mode import no_grad
from ...dtypes import bfloat16, complex64, complex128, float16, float32, float64, promote_types
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _vector_norm(xp, a, p):
    """``torch.linalg.vector_norm(a, p)`` of a backend array, as a 0-d array of ``|a|``'s dtype."""
    a = xp.abs(a)
    if a.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if p == math.inf:
        return xp.max(a)
    if p == -math.inf:
        return xp.min(a)
    if p == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if p == 1:
        return xp.sum(a)
    if p == 2:
        return xp.sqrt(xp.sum(a * a))
    return xp.sum(a ** p) ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` taken together (as one vector), a 0-d tensor: the norm of
    their norms, in their promoted dtype."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        from ...creation import tensor
        return tensor(0.0)
    backend = tensors[0]._backend
    dtype = functools.reduce(promote_types, [_real(t._dtype) for t in tensors])
    native = backend.native_dtype(dtype)
    with no_grad():
        norms = [backend.xp.asarray(_norm(backend, t._data, t._dtype, norm_type), dtype=native) for t in tensors]
        total = _norm(backend, backend.xp.stack(norms), dtype, norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(backend.asarray(total, dtype), dtype, backend)


def _norm(backend, data, dtype, p):
    """The ``p``-norm of the array ``data`` (of ``dtype``) in its real dtype; half precision accumulates in
    float32 and rounds once, as torch's."""
    xp = backend.xp
    if dtype in (float16, bfloat16):
        data = xp.asarray(data, dtype=backend.native_dtype(float32))
    return xp.asarray(_vector_norm(xp, data, p), dtype=backend.native_dtype(_real(dtype)))


def _real(dtype):
    """The dtype of a norm of ``dtype`` values (a complex tensor's norm is real)."""
    return {complex64: float32, complex128: float64}.get(dtype, dtype)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` in place by ``min(max_norm / (total_norm + 1e-6), 1)``, computed
    in ``total_norm``'s dtype as torch's; a NaN factor is applied too (torch's clamp keeps it)."""
    grads = [p._grad for p in _as_list(parameters) if p._grad is not None]
    if not grads:
        return
    max_norm = float(max_norm)
    if isinstance(total_norm, Tensor):
        xp = total_norm._backend.xp
        coef = xp.minimum(max_norm / (total_norm._data + 1e-6), 1.0)
    else:
        coef = min(max_norm / (float(total_norm) + 1e-6), 1.0)
    if float(coef) == 1.0:  # multiplying by one changes nothing
        return
    with no_grad():
        for g in grads:
            xp = g._backend.xp
            factor = xp.asarray(coef, dtype=g._data.dtype)
            try:
                g._data *= factor
            except (TypeError, ValueError):  # a read-only view (e.g. a broadcast gradient) or a 0-d scalar
                g._data = g._data * factor
            g._version[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so their total norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor).

    Example:
        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p._grad for p in parameters if p._grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of ``clip_grad_norm_`` (warns, as torch's)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    from ...ops.inplace import assign
    with no_grad():
        for p in _as_list(parameters):
            g = p._grad
            if g is None:
                continue
            assign(g, g._backend.xp.clip(g._data, -clip_value, clip_value))
            g._version[0] += 1
