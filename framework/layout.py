"""``torch.layout``: how a tensor's elements are stored (``torch.strided``, ``torch.sparse_coo``, ...)."""
from __future__ import annotations

from . import _display

__all__ = ["layout", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"]


class layout:  # noqa: N801 - torch.layout
    """A storage layout; prints as torch's (``torch.sparse_coo``). tensorplug computes with ``strided``
    (dense) and ``sparse_coo`` tensors; the compressed layouts exist so that code can compare with them."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"{_display.MODULE}.{self.name}"

    def __reduce__(self):
        return self.name  # one object per layout, also after pickling


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
