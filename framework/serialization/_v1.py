"""Format 1 (before tensors were stored as views of storages): upgraded to format 2 on load.

A format 1 tensor node holds its bytes inline as {offset, nbytes} of the data
section, C-contiguous. Each distinct byte range becomes a storage; distinct
ranges of an honest file never overlap, so overlapping ones (crafted to
amplify memory) are refused.
"""
from __future__ import annotations

from ..errors import CheckpointError

__all__ = ["upgrade"]

MAX_DEPTH = 100


def _contiguous(shape):
    stride, step = [], 1
    for n in reversed(shape):
        stride.append(step)
        step *= max(n, 1) if isinstance(n, int) else 1
    return stride[::-1]


class _Upgrade:
    def __init__(self, name):
        self.name = name
        self.storages = []      # format 2 storage entries
        self.tensors = []       # format 2 tensor entries
        self.by_range = {}      # (offset, nbytes) -> storage index
        self.by_node = {}       # a format 1 node's identity -> tensor index (it was saved once)

    def walk(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise CheckpointError(f"{self.name}: the structure is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, list):
            return [self.walk(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            return node
        if node.get("$") == "tensor":
            return {"$": "tensor", "index": self.tensor(node)}
        return {k: self.walk(v, depth + 1) for k, v in node.items()}

    def tensor(self, node):
        offset, nbytes = node.get("offset"), node.get("nbytes")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (offset, nbytes)):
            raise CheckpointError(f"{self.name}: a tensor's offset {offset!r} / nbytes {nbytes!r} are not integers")
        shape = node.get("shape") if isinstance(node.get("shape"), list) else []
        key = (offset, nbytes, node.get("dtype"), tuple(shape) if all(isinstance(n, int) for n in shape) else None)
        if nbytes and key in self.by_node:   # format 1 stored a shared tensor once, at one offset
            return self.by_node[key]
        storage = self.by_range.get((offset, nbytes))
        if storage is None or not nbytes:
            device = node.get("device") if isinstance(node.get("device"), str) else "cpu"
            self.storages.append({"offset": offset, "nbytes": nbytes, "device": device})
            storage = self.by_range[(offset, nbytes)] = len(self.storages) - 1
        self.tensors.append({"storage": storage, "offset": 0, "dtype": node.get("dtype"), "shape": shape,
                             "stride": _contiguous(shape), "requires_grad": node.get("requires_grad") is True,
                             "parameter": node.get("parameter") is True})
        self.by_node[key] = len(self.tensors) - 1
        if self.tensors[-1]["dtype"] is not None and nbytes != _numel(shape) * _itemsize(node.get("dtype")):
            raise CheckpointError(f"{self.name}: a tensor of shape {shape} and dtype {node.get('dtype')} claims "
                                  f"{nbytes} bytes")
        return len(self.tensors) - 1


def _numel(shape):
    n = 1
    for s in shape:
        n *= s if isinstance(s, int) else 0
    return n


def _itemsize(name):
    from .. import dtypes as _dt
    dtype = _dt.BY_NAME.get(name)
    return dtype.itemsize if dtype is not None else 0


def upgrade(header, name):
    """A format 1 header as the format 2 header of the same data (the data section is unchanged)."""
    up = _Upgrade(name)
    root = up.walk(header.get("root"))
    return {"format": "tensorplug-checkpoint", "storages": up.storages, "tensors": up.tensors, "root": root}
