"""``torch.sparse``: sparse COO tensors and the operations graph models use on them.

``tensorplug.sparse_coo_tensor(indices, values, size)`` or ``dense.to_sparse()`` makes one;
``torch.sparse.mm`` / ``torch.mm`` / ``torch.spmm`` / ``@`` multiply it with a dense matrix, with gradients
for the dense operand and for the sparse values (a sparse leaf's ``.grad`` is sparse, with its pattern).
Other layouts (CSR, CSC, blocked) are not provided.
"""
from __future__ import annotations

from .. import dtypes as _dt
from ._coo import SparseCooTensor, legacy_constructor, sparse_coo_tensor
from ._ops import addmm, log_softmax, mm, softmax, sparse_sum as sum  # noqa: A004 - torch.sparse.sum

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "spmm", "SparseCooTensor", "FloatTensor",
           "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor",
           "BoolTensor"]


def spmm(input, mat2):
    """``torch.spmm``: ``torch.sparse.mm``."""
    return mm(input, mat2)


# the legacy constructors of old GCN code: torch.sparse.FloatTensor(indices, values, size)
FloatTensor = legacy_constructor(_dt.float32)
DoubleTensor = legacy_constructor(_dt.float64)
HalfTensor = legacy_constructor(_dt.float16)
LongTensor = legacy_constructor(_dt.int64)
IntTensor = legacy_constructor(_dt.int32)
ShortTensor = legacy_constructor(_dt.int16)
CharTensor = legacy_constructor(_dt.int8)
ByteTensor = legacy_constructor(_dt.uint8)
BoolTensor = legacy_constructor(_dt.bool_)
