"""TENSORPLUG_DISTRIBUTED_DEBUG=DETAIL: check that every rank issues the same collective.

Before each collective, the ranks all-gather a fingerprint (sequence number,
collective, dtype, shape, reduce op, root) and compare, so a program whose
ranks diverge fails at the first differing call with both sides named,
instead of hanging or mixing up data (torch's TORCH_DISTRIBUTED_DEBUG=DETAIL).
"""
from __future__ import annotations

import os

_OPS = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter_tensor", "reduce",
        "gather", "scatter", "barrier"]
_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "complex64", "complex128"]
_MAX_DIMS = 6
_sequence = {}


_enabled = False


def enabled() -> bool:
    return _enabled


def reset():
    """Read TENSORPLUG_DISTRIBUTED_DEBUG again (at init_process_group) and restart the sequence numbers."""
    global _enabled
    _enabled = os.environ.get("TENSORPLUG_DISTRIBUTED_DEBUG", "").upper() == "DETAIL"
    _sequence.clear()


def _fingerprint(seq, name, tensor, op, root):
    shape = list(tensor.shape) if tensor is not None else []
    dtype = str(tensor.dtype).rpartition(".")[2] if tensor is not None else ""
    dims = (shape + [-1] * _MAX_DIMS)[:_MAX_DIMS]
    ops = ["-"] + [o.name for o in _reduce_ops()]
    return [seq, _OPS.index(name), _DTYPES.index(dtype) if dtype in _DTYPES else -1, len(shape), *dims,
            ops.index(op.name) if op is not None else 0, -1 if root is None else root]


def _reduce_ops():
    from .process_group import ReduceOp
    return list(ReduceOp)


def _describe(row):
    seq, op, dtype, ndim, *rest = (int(v) for v in row)
    dims, reduce_op, root = rest[:_MAX_DIMS], rest[_MAX_DIMS], rest[_MAX_DIMS + 1]
    ops = ["-"] + [o.name for o in _reduce_ops()]
    parts = [f"SequenceNumber={seq}", f"OpType={_OPS[op].upper()}"]
    if ndim:
        parts.append(f"TensorShape={dims[:ndim]}")
    if dtype >= 0:
        parts.append(f"TensorDtypes={_DTYPES[dtype]}")
    if reduce_op:
        parts.append(f"ReduceOp={ops[reduce_op]}")
    if root >= 0:
        parts.append(f"Root={root}")
    return f"CollectiveFingerPrint({', '.join(parts)})"


def check(pg, name, tensor, op=None, root=None):
    """In DETAIL mode, raise RuntimeError naming both sides if another rank runs another collective."""
    if not _enabled or pg.size() == 1:
        return
    seq = _sequence.get(id(pg), 0)
    _sequence[id(pg)] = seq + 1
    from ..registry import default_backend
    backend = tensor._backend if tensor is not None else default_backend()
    xp = backend.xp
    mine = xp.asarray(_fingerprint(seq, name, tensor, op, root), dtype=xp.int64)
    rows = xp.empty((pg.size(), mine.shape[0]), dtype=xp.int64)
    pg.all_gather(rows, mine).wait(pg.timeout)
    rows = backend.to_numpy(rows) if hasattr(backend, "to_numpy") else rows
    for other in range(pg.size()):
        if list(rows[other]) != list(rows[pg.rank()]):
            raise RuntimeError(
                f"Detected mismatch between collectives on ranks. Rank {pg.rank()} is running collective: "
                f"{_describe(rows[pg.rank()])}, but Rank {other} is running collective: "
                f"{_describe(rows[other])}. Collectives differ in the following aspects: every rank must "
                f"issue the same collectives, in the same order, with the same shapes and dtypes")
