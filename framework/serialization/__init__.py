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

import contextlib
import io
import os
import sys

from ..device import device as _device
from ..errors import CheckpointError
from ..registry import get_backend
from . import _native, _objects, _torchfile
from ._atomic import atomic_write
from ._native import FORMAT_VERSION, MAGIC, MAX_HEADER_BYTES
from ._safetensors import load_safetensors, save_safetensors
from ._storage import numpy as _numpy

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "CheckpointError", "WeightsOnlyError",
           "add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals",
           "MAX_HEADER_BYTES", "FORMAT_VERSION", "atomic_write"]

WeightsOnlyError = _objects.WeightsOnlyError


# allow-listing classes and functions for weights_only loads ---------------------------

def _checked_globals(entries):
    entries = list(entries)
    for entry in entries:
        obj = entry[0] if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str) else entry
        if not callable(obj):
            raise TypeError(f"safe globals are classes or functions, or (object, 'module.name') pairs; got "
                            f"{entry!r}")
    return entries


def add_safe_globals(safe_globals) -> None:
    """Allow ``load(..., weights_only=True)`` to rebuild these classes and call these functions.

    Args:
        safe_globals: classes or functions, or ``(obj, "module.name")`` pairs
            naming them as the file does.

    Example:
        >>> tensorplug.serialization.add_safe_globals([MyModel])
        >>> model = tensorplug.load("model.tp")
    """
    _objects.SAFE_GLOBALS.extend(_checked_globals(safe_globals))


def clear_safe_globals() -> None:
    """Forget every ``add_safe_globals`` entry."""
    del _objects.SAFE_GLOBALS[:]


def get_safe_globals() -> list:
    """The allow-listed classes and functions."""
    return list(_objects.SAFE_GLOBALS)


class safe_globals(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """``with safe_globals([MyModel]): load(...)``: allow-list these only inside the block.

    Example:
        >>> with tensorplug.serialization.safe_globals([MyModel]):
        ...     model = tensorplug.load("model.tp")
    """

    def __init__(self, safe_globals):
        self.entries = _checked_globals(safe_globals)
        self.saved = None

    def __enter__(self):
        self.saved = list(_objects.SAFE_GLOBALS)
        _objects.SAFE_GLOBALS.extend(self.entries)
        return self

    def __exit__(self, *exc):
        _objects.SAFE_GLOBALS[:] = self.saved
        return False


# saving ---------------------------------------------------------------------------

def _tensor_bytes(t):
    """A tensor's values as little-endian C-order bytes (for tensors saved as their own storage)."""
    np = _numpy()
    host = np.asarray(t._backend.to_numpy(t._data))
    if host.dtype.byteorder == ">" or (host.dtype.byteorder == "=" and sys.byteorder == "big"):
        host = host.astype(host.dtype.newbyteorder("<"))
    return host.tobytes(order="C")


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False) -> None:
    """Save ``obj`` to ``f``: tensors, numbers, strings, NumPy arrays, containers of them, and whole
    objects such as a model (stored as their class's import path plus their state; no pickle).

    ``f`` is a path (the write is atomic: a crash leaves the old file or the
    complete new one; a symlink's target is written) or a binary file object.
    Tensors that share memory (a view and its base) are stored once and come
    back sharing it.

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

def _read_rest(fh, name):
    """The rest of ``fh`` as one writable buffer (a native checkpoint is read whole, once)."""
    try:
        size = os.fstat(fh.fileno()).st_size - fh.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return bytearray(fh.read())
    buf = bytearray(size)
    if fh.readinto(buf) != size:
        raise CheckpointError(f"{name}: truncated: the file changed size while it was read")
    return buf


def _size_from_here(fh):
    here = fh.tell()
    end = fh.seek(0, os.SEEK_END)
    fh.seek(here)
    return end - here


def _load_from(fh, name, map_location, weights_only):
    head = fh.read(len(MAGIC))
    fh.seek(-len(head), os.SEEK_CUR)
    place = _placement(map_location, name)
    if head == MAGIC:
        return _native.decode_file(_read_rest(fh, name), name, place, _objects.Policy(weights_only is not False))
    if head[:4] == b"PK\x03\x04":
        return _torchfile.load_torch_zip(fh, name, _size_from_here(fh), place)
    if len(head) < len(MAGIC) and MAGIC.startswith(head):
        raise CheckpointError(f"{name}: truncated: the file has {len(head)} bytes, too few for a checkpoint")
    raise CheckpointError(f"{name}: {_describe_foreign(head)}")


def _describe_foreign(head):
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]"):
        return ("not a tensorplug checkpoint: it looks like a pickle (what torch.save writes with the legacy "
                "format); tensorplug never unpickles, since a pickle can run code. Re-save it where PyTorch is "
                "installed with torch.save(obj, path) (the zip format, which tensorplug reads) or "
                "safetensors.torch.save_file(state_dict, 'model.safetensors')")
    return f"not a tensorplug checkpoint (it starts with {bytes(head[:8])!r}, expected {MAGIC!r})"


class _StorageStandIn:
    """What a callable ``map_location(storage, location)`` receives: torch passes the storage loaded on the
    CPU, and scripts return it (``lambda storage, loc: storage``) or move it (``storage.cuda(0)``)."""

    def __init__(self):
        self.target = "cpu"

    def cpu(self):
        self.target = "cpu"
        return self

    def cuda(self, device=None, non_blocking=False):
        self.target = "cuda" if device is None else str(_device("cuda", device) if isinstance(device, int) else device)
        return self

    def to(self, device, *args, **kwargs):
        self.target = str(device)
        return self


def _mapped(map_location, saved):
    if isinstance(map_location, dict):
        return map_location.get(saved, saved)
    if callable(map_location) and not hasattr(map_location, "xp"):
        stand_in = _StorageStandIn()
        out = map_location(stand_in, saved)
        if not isinstance(out, _StorageStandIn):
            raise TypeError(f"map_location(storage, location) returned a {type(out).__name__}; return the storage, "
                            f"moved with .cpu() / .cuda() / .to(device) if needed")
        return out.target
    return map_location


def _placement(map_location, name):
    """A function from a saved device string to the backend its tensors load on."""
    cache = {}

    def place(saved):
        target = _mapped(map_location, saved)
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
    """Load what ``save`` wrote, or a file written by ``torch.save`` (read without running its pickle).

    Args:
        f: a path or a binary file object.
        map_location: where tensors go: ``'cpu'``, a device, a backend name,
            a dict mapping saved device strings to new ones, or torch's
            ``lambda storage, loc: storage`` form. ``None`` puts each tensor
            back on the device it was saved from.
        weights_only: ``None`` or ``True`` (the default, as torch >= 2.6)
            rebuilds data only, and objects of classes allow-listed with
            ``add_safe_globals``; ``False`` also rebuilds other saved objects
            (importing their classes: only for files you trust).

    Returns:
        The saved object, with tensors rebuilt.

    Raises:
        FileNotFoundError: no file at ``f``.
        CheckpointError: the file is truncated, corrupted, foreign or hostile.
        WeightsOnlyError: (a CheckpointError and a ``pickle.UnpicklingError``,
            as torch raises) the file holds an object that is not allowed.

    Example:
        >>> model.load_state_dict(tensorplug.load("ckpt.tp", map_location="cpu"))
    """
    if pickle_module is not None:
        raise ValueError("tensorplug.load never unpickles, so pickle_module is not supported; drop the argument")
    if pickle_load_args:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(pickle_load_args)}")
    if isinstance(map_location, _device):
        map_location = str(map_location)
    elif map_location is not None and not isinstance(map_location, (str, dict)) and not hasattr(map_location, "xp") \
            and not callable(map_location):
        raise TypeError(f"map_location must be a device, a device or backend name, a dict or a function; got "
                        f"{type(map_location).__name__}")
    if hasattr(f, "read") and not isinstance(f, (str, bytes, os.PathLike)):
        name = repr(getattr(f, "name", "<file object>"))
        if not (hasattr(f, "seekable") and f.seekable()):
            f = io.BytesIO(f.read())
        return _load_from(f, name, map_location, weights_only)
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return _load_from(fh, repr(path), map_location, weights_only)
