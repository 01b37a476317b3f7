"""Indexing: ``x[key]`` and ``x[key] = v`` with ints, slices, None, ..., integer and bool tensors."""
from __future__ import annotations

import warnings

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import c_order, mark_view


def _is_advanced(key):
    return any(not isinstance(k, (int, slice, type(None), type(...))) for k in key)


def convert_key(x, key):
    """Turn a user key into a tuple the backend can index with, with torch's errors."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            if k._backend is not x._backend:
                raise RuntimeError(f"indices should be either on cpu or on the same device as the indexed "
                                   f"tensor ({x.device})")
            if k._dtype not in (_dt.int64, _dt.int32, _dt.uint8, _dt.bool_):
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got "
                                 f"{k._dtype}; use index.long()")
            if k._dtype is _dt.uint8:
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
                              "instead.", UserWarning, stacklevel=3)
                k = k.bool()
            out.append(k._data if k._data.ndim or k._dtype is _dt.bool_ else int(k.item()))
        elif isinstance(k, bool):
            out.append(x._backend.asarray(k))
        elif isinstance(k, (int, slice, type(None), type(...))):
            if isinstance(k, slice):
                for part in (k.start, k.stop, k.step):
                    if part is not None and not isinstance(part, int) and not hasattr(part, "__index__"):
                        raise TypeError("slice indices must be integers or None or have an __index__ method")
                if k.step is not None and k.step <= 0:
                    raise ValueError("step must be greater than zero")
            out.append(k)
        elif isinstance(k, range):  # x[range(n), y] (a common idiom): torch takes a range as its list of values
            out.append(x._backend.asarray(list(k), dtype=_dt.int64))
        elif isinstance(k, (list, tuple)):
            arr = x._backend.asarray(k)
            if getattr(arr.dtype, "kind", "i") not in "iub":
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                                 "Variables are valid indices (got a list of floats)")
            out.append(arr)
        elif hasattr(k, "__index__"):
            out.append(k.__index__())
        elif hasattr(k, "shape") and hasattr(k, "dtype"):
            out.append(x._backend.asarray(k))
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {type(k).__name__})")
    # the Array API wants every dim addressed: a trailing ... says "the rest" (a lone mask stays alone)
    # (and it makes numpy return a 0-d view, not a copied scalar, for a full integer index)
    if all(isinstance(k, (int, slice)) or k is None for k in out):
        out.append(...)
    return tuple(out)


def _index_error(x, exc):
    text = str(exc)
    if "out of bounds" in text:
        text = text.replace("axis", "dimension")
        return IndexError(text)
    if "too many indices" in text:
        return IndexError(f"too many indices for tensor of dimension {x._data.ndim}")
    return IndexError(text)


def _watch(ctx, indices):
    """Keep the index tensors behind ``key`` with their versions: backward's ``saved_tensors_list()``
    then raises torch's "modified by an inplace operation" error if one was written in place since,
    instead of sending the gradient to the rows the new values name."""
    if indices:
        ctx._saved = [(t, t._version[0]) for t in indices]


class GetItem(Op):
    @staticmethod
    def forward(ctx, a, key):
        ctx.key = key
        ctx.shape = a.shape
        return ctx.backend.getitem(a, key)

    @staticmethod
    def backward(ctx, g):
        return IndexAccumulate.apply(g, key=ctx.key, shape=ctx.shape)


Select = GetItem.renamed("SelectBackward0")
Slice = GetItem.renamed("SliceBackward0")
UnsqueezeItem = GetItem.renamed("UnsqueezeBackward0")
Alias = GetItem.renamed("AliasBackward0")


def _view_node(key, shape):
    """The GetItem named as torch names ``x[key]`` for a basic key: torch applies the key's parts
    left to right, so the last part that changes anything (an int: select, a partial slice: slice,
    None: unsqueeze) names the node; a key that changes nothing gives an alias. (A lone slice, not in a
    tuple, is always torch's slice: its fast path skips no full slice.)"""
    parts = key if isinstance(key, tuple) else (key,)
    node = Alias
    dim = 0
    for k in parts:
        if k is None:
            node = UnsqueezeItem
        elif k is Ellipsis:
            dim += len(shape) - sum(1 for p in parts if p is not None and p is not Ellipsis)
        elif dim >= len(shape):
            return GetItem  # too many indices: the backend's getitem raises torch's error
        elif isinstance(k, slice):
            if k.indices(shape[dim]) != (0, shape[dim], 1):
                node = Slice
            dim += 1
        else:
            node = Select
            dim += 1
    return node


class Index(GetItem):
    """``x[key]`` with index tensors in ``key`` (torch's IndexBackward0): a copy, whose backward
    checks that those tensors were not written in place since."""

    @staticmethod
    def forward(ctx, a, key, indices):
        if indices:
            ctx._saved = [(t, t._version[0]) for t in indices]
        ctx.key = key
        ctx.shape = a.shape
        # torch's result is contiguous; NumPy lays an indexed axis out first (x[:, :, idx] is strided), where
        # a later view() would fail
        return c_order(ctx.backend, ctx.backend.getitem(a, key))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors_list()
        return IndexAccumulate.apply(g, key=ctx.key, shape=ctx.shape)


class IndexSelect(Index):
    """``index_select``: ``Index`` named as torch names its node; its backward is torch's index_add, which
    accumulates float16/bfloat16 in float32 (x[idx]'s index_put does not: in bfloat16 both libraries'
    sums of ones stop at 256 there)."""

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors_list()
        return IndexAccumulate.apply(g, key=ctx.key, shape=ctx.shape, wide=True)


class IndexAccumulate(Op):
    """``zeros(shape)`` with ``g`` added at ``key`` (repeated indices accumulate; ``wide``: float16 and
    bfloat16 in float32, rounded once)."""

    @staticmethod
    def forward(ctx, g, key, shape, indices=(), wide=False):
        _watch(ctx, indices)
        ctx.key = key
        backend = ctx.backend
        dtype = backend.dtype_of(g)
        narrow = g.dtype if wide and dtype in _dt.NARROW_FLOATS else None
        if narrow is not None:
            dtype = _dt.float32
            g = backend.xp.astype(g, backend.native_dtype(dtype))
        out = backend.zeros(shape, dtype)
        if _is_advanced(key):
            backend.scatter_add(out, key, g)
        else:
            backend.setitem(out, key, g)
        return out if narrow is None else backend.xp.astype(out, narrow)

    @staticmethod
    def backward(ctx, gg):
        ctx.saved_tensors_list()
        return GetItem.apply(gg, key=ctx.key)


class IndexPut(Op):
    """A copy of ``a`` with ``v`` written at ``key``."""

    @staticmethod
    def forward(ctx, a, v, key, indices=()):
        _watch(ctx, indices)
        ctx.key = key
        out = ctx.backend.copy(a)
        ctx.backend.setitem(out, key, v)
        return out

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors_list()
        zero = g.new_zeros(())
        ga = IndexPut.apply(g, zero, key=ctx.key) if ctx.needs_grad(0) else None
        gv = GetItem.apply(g, key=ctx.key) if ctx.needs_grad(1) else None
        return ga, gv


SetSlices = IndexPut.renamed("CopySlices")


def getitem(self, key):
    ndim = self._data.ndim
    if type(key) is int and ndim:
        # the commonest key, x[i]: no conversion needed
        k = (key, ...)  # the ... keeps a 0-d result a view (numpy gives a copied scalar for x[i] on 1-D)
        try:
            out = Select.apply(self, key=k)
        except IndexError as exc:
            raise _index_error(self, exc) from None
        return mark_view(out, self, lambda t: GetItem.apply(t, key=k))
    if self._data.ndim == 0 and (key == 0 or key == -1) and isinstance(key, int):
        warnings.warn("indexing a 0-dim tensor with [0] is deprecated (torch raises IndexError: invalid index "
                      "of a 0-dim tensor); use tensor.item() to get the Python number", UserWarning, stacklevel=2)
        return self.item()
    if self._data.ndim == 0 and not (key is None or key is ... or (isinstance(key, tuple) and all(
            k is None or k is ... for k in key))):
        if isinstance(key, (int, slice)) or isinstance(key, tuple):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        if _has_integer_index(key):
            # NumPy reads x0d[[0]] as x0d[None][[0]]; torch refuses it
            raise IndexError("too many indices for tensor of dimension 0: a 0-dim tensor has no dimension "
                             "to index; use tensor.item() or tensor.reshape(1) first")
    k = convert_key(self, key)
    advanced = _is_advanced(k)
    try:
        if advanced:
            out = Index.apply(self, key=k, indices=_index_tensors(key))
        else:
            node = Slice if type(key) is slice else _view_node(k, self._data.shape)
            out = node.apply(self, key=k)
    except IndexError as exc:
        raise _index_error(self, exc) from None
    if advanced:
        return out  # a copy, as in torch
    return mark_view(out, self, lambda t: GetItem.apply(t, key=k))


def _index_tensors(key):
    """The Tensors in a user key (backward checks they were not written in place)."""
    if isinstance(key, Tensor):
        return (key,)
    if isinstance(key, tuple):
        return tuple(k for k in key if isinstance(k, Tensor))
    return ()


def _has_integer_index(key):
    """Whether a user key holds an integer index tensor or list (a bool one may index a 0-d tensor)."""
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, Tensor) and k._dtype is not _dt.bool_:
            return True
        if isinstance(k, list) and not all(isinstance(v, bool) for v in k):
            return True
    return False


def setitem(self, key, value):
    from .inplace import inplace
    k = convert_key(self, key)
    if not isinstance(value, Tensor):
        if type(value) is int and self._dtype.category == _dt.INT:
            from ._util import wrap_int
            value = wrap_int(value, self._dtype)
        value = Tensor._make(self._backend.asarray(value, self._dtype), self._dtype, self._backend)
    elif value._dtype is not self._dtype:
        value = value.to(self._dtype)
    def fast(data, v):
        try:
            self._backend.setitem(data, k, v)
        except ValueError as exc:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast "
                               f"to indexing result ({exc})") from None

    indices = _index_tensors(key)
    # torch records x[slices] = v as a write into a view (CopySlices), x[index tensors] = v as index_put
    op = IndexPut if indices else SetSlices
    try:
        inplace(self, lambda x, v: op.apply(x, v, key=k, indices=indices), value, fast=fast)
    except IndexError as exc:
        raise _index_error(self, exc) from None
    except ValueError as exc:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                           f"indexing result ({exc})") from None
