"""Safetensors files: the interop format for flat state dicts (PyTorch, JAX, Hugging Face)."""
from __future__ import annotations

import os

from .. import dtypes as _dt
from ..errors import CheckpointError
from ..registry import get_backend
from ..tensor import Tensor
from ._atomic import atomic_write
from ._storage import numpy as _numpy

__all__ = ["save_safetensors", "load_safetensors"]

def _host_array(t, key):
    np = _numpy()
    if not isinstance(t, Tensor):
        raise TypeError(f"save_safetensors takes a flat dict of str -> Tensor; {key!r} is a {type(t).__name__}")
    host = np.asarray(t._backend.to_numpy(t._data))
    # safetensors 0.8.0 writes strided arrays wrongly, and np.ascontiguousarray
    # would turn a 0-d array into a 1-d one: copy in C order, which keeps 0-d
    if not host.flags.c_contiguous or host.ndim == 0:
        host = host.copy(order="C")
    return host


def save_safetensors(tensors, path, metadata=None) -> None:
    """Write a flat ``{name: tensor}`` dict (a state dict) as a ``.safetensors`` file, atomically.

    Example:
        >>> tensorplug.save_safetensors(model.state_dict(), "model.safetensors")
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors takes a flat dict of str -> Tensor, got {type(tensors).__name__}")
    try:
        from safetensors.numpy import save as _st_save
    except ImportError:
        raise ImportError("save_safetensors needs the safetensors package: pip install safetensors") from None
    arrays = {}
    for key, t in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"save_safetensors keys must be str, got {key!r}")
        arrays[key] = _host_array(t, key)
    try:
        payload = _st_save(arrays, metadata=metadata)
    except Exception as exc:
        raise TypeError(f"safetensors refused the state dict: {exc}") from None
    atomic_write(path, lambda out: out.write(payload))


def load_safetensors(path, device=None) -> dict:
    """Read a ``.safetensors`` file into a ``{name: tensor}`` dict on ``device`` (default backend if None).

    Example:
        >>> model.load_state_dict(tensorplug.load_safetensors("model.safetensors"))
    """
    try:
        from safetensors.numpy import load as _st_load
    except ImportError:
        raise ImportError("load_safetensors needs the safetensors package: pip install safetensors") from None
    path = os.fspath(path)
    with open(path, "rb") as fh:
        payload = fh.read()
    try:
        arrays = _st_load(payload)
    except Exception as exc:
        raise CheckpointError(f"{path!r}: not a valid safetensors file ({exc})") from None
    backend = get_backend(device)
    out = {}
    for key, host in arrays.items():
        dtype = _dt.BY_NAME.get(str(host.dtype))
        if dtype is None:
            raise CheckpointError(f"{path!r}: tensor {key!r} has dtype {host.dtype}, which tensorplug does not "
                                  f"support")
        out[key] = Tensor._make(backend.from_numpy(host.copy()), dtype, backend)
    return out

