"""Checkpoints: ``save`` / ``load`` without pickle, atomic and checksummed.

``save`` writes tensorplug's own format (``_native.py``): each storage once and
tensors as views of it, like torch's format, but with a JSON header instead
of a pickle. ``load`` reads it, and ``safetensors`` files through
``load_safetensors``. Loading never runs code from a file. Modules of this
package: ``_atomic`` (crash-safe writes), ``_storage`` (storages and views),
``_native`` (the format), ``_objects`` (values beyond JSON),
``_safetensors``.
"""
from __future__ import annotations

import os
import sys

from ..device import device as _device
from ..errors import CheckpointError
from ..registry import get_backend
from . import _native, _objects
from ._atomic import atomic_write
from ._native import FORMAT_VERSION, MAGIC, MAX_HEADER_BYTES
from ._safetensors import load_safetensors, save_safetensors
from ._storage import numpy as _numpy

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "CheckpointError",
           "MAX_HEADER_BYTES", "FORMAT_VERSION", "atomic_write"]


def _tensor_bytes(t):
    """A tensor's values as little-endian C-order bytes (for tensors saved as their own storage)."""
    np = _numpy()
    host = np.asarray(t._backend.to_numpy(t._data))
    if host.dtype.byteorder == ">" or (host.dtype.byteorder == "=" and sys.byteorder == "big"):
        host = host.astype(host.dtype.newbyteorder("<"))
    return host.tobytes(order="C")


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False) -> None:
    """Save ``obj`` (nested dicts/lists/tuples of tensors, numbers, strings, None) to ``f``.

    ``f`` is a path (the write is atomic: a crash leaves the old file or the
    complete new one; a symlink's target is written) or a binary file object.
    Tensors that share memory (a view and its base) are stored once and come
    back sharing it. No pickle is involved.

    Example:
        >>> tensorplug.save({"model": model.state_dict(), "step": 10}, "ckpt.tp")
    """
    if pickle_module is not None:
        raise ValueError("tensorplug.save never pickles, so pickle_module is not supported; drop the argument")
    header, storages = _native.encode_file(obj)

    def write(out):
        _native.write_file(out, header, storages, lambda t: _tensor_bytes(t))

    if hasattr(f, "write") and not isinstance(f, (str, bytes, os.PathLike)):
        write(f)
        return
    atomic_write(f, write)


# loading --------------------------------------------------------------------------

def _read_all(f):
    """(the whole file as a writable bytearray, its name for messages)."""
    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        name = repr(getattr(f, "name", "<file object>"))
        return bytearray(f.read()), name
    path = os.fspath(f)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buf = bytearray(size)
        got = fh.readinto(buf)
    if got != size:
        raise CheckpointError(f"{path!r}: truncated: the file changed size while it was read")
    return buf, repr(path)


def _describe_foreign(head):
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return ("not a tensorplug checkpoint: it looks like a pickle (what torch.save writes with the legacy "
                "format); tensorplug never unpickles, since a pickle can run code. Re-save it where PyTorch is "
                "installed with torch.save(obj, path) (the zip format, which tensorplug reads) or "
                "safetensors.torch.save_file(state_dict, 'model.safetensors')")
    if head[:4] == b"PK\x03\x04":
        return ("not a tensorplug checkpoint: it is a zip archive (a torch.save file holds a pickle inside); "
                "tensorplug never unpickles, since a pickle can run code. Convert it where PyTorch is installed "
                "with safetensors.torch.save_file(state_dict, 'model.safetensors') and read that with "
                "tensorplug.load_safetensors")
    return f"not a tensorplug checkpoint (it starts with {bytes(head[:8])!r}, expected {MAGIC!r})"


def _placement(map_location, name):
    """A function from a saved device string to the backend its tensors load on."""
    cache = {}

    def place(saved):
        target = map_location
        if isinstance(target, dict):
            target = target.get(saved, saved)
        if target is None:
            target = saved
        key = target if isinstance(target, str) else id(target)
        if key not in cache:
            try:
                cache[key] = get_backend(target)
            except (RuntimeError, ValueError) as exc:
                if map_location is None:
                    raise RuntimeError(f"{name}: a tensor was saved on '{saved}', which is not usable here "
                                       f"({exc}); pass map_location='cpu' to load it on the CPU") from None
                raise
        return cache[key]
    return place


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load what ``save`` wrote.

    Args:
        f: a path or a binary file object.
        map_location: where tensors go: ``'cpu'``, a device, a backend name,
            or a dict mapping saved device strings to new ones. ``None`` puts
            each tensor back on the device it was saved from.
        weights_only: ``None`` or ``True`` (the default, as torch >= 2.6)
            loads data only; ``False`` also rebuilds saved objects.

    Returns:
        The saved object, with tensors rebuilt.

    Raises:
        FileNotFoundError: no file at ``f``.
        CheckpointError: the file is truncated, corrupted, foreign or hostile.

    Example:
        >>> model.load_state_dict(tensorplug.load("ckpt.tp", map_location="cpu"))
    """
    if pickle_module is not None:
        raise ValueError("tensorplug.load never unpickles, so pickle_module is not supported; drop the argument")
    if pickle_load_args:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(pickle_load_args)}")
    if isinstance(map_location, _device):
        map_location = str(map_location)
    elif map_location is not None and not isinstance(map_location, (str, dict)) and not hasattr(map_location, "xp"):
        raise TypeError(f"map_location must be a device, a device or backend name, or a dict; got "
                        f"{type(map_location).__name__}")
    buf, name = _read_all(f)
    head = bytes(buf[:len(MAGIC)])
    policy = _objects.Policy(weights_only is not False)
    if head == MAGIC:
        return _native.decode_file(buf, name, _placement(map_location, name), policy)
    if len(buf) < len(MAGIC) and MAGIC.startswith(head):
        raise CheckpointError(f"{name}: truncated: the file has {len(buf)} bytes, too few for a checkpoint")
    raise CheckpointError(f"{name}: {_describe_foreign(head)}")
