"""Indexing: ``x[key]`` and ``x[key] = v`` with ints, slices, None, ..., integer and bool tensors."""
from __future__ import annotations

import warnings

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from ._util import mark_view


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
            if k._dtype.category > _dt.INT:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
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


class GetItem(Op):
    @staticmethod
    def forward(ctx, a, key):
        ctx.key = key
        ctx.shape = a.shape
        return ctx.backend.getitem(a, key)

    @staticmethod
    def backward(ctx, g):
        return IndexAccumulate.apply(g, key=ctx.key, shape=ctx.shape)


class IndexAccumulate(Op):
    """``zeros(shape)`` with ``g`` added at ``key`` (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, g, key, shape):
        ctx.key = key
        backend = ctx.backend
        out = backend.zeros(shape, backend.dtype_of(g))
        if _is_advanced(key):
            backend.scatter_add(out, key, g)
        else:
            backend.setitem(out, key, g)
        return out

    @staticmethod
    def backward(ctx, gg):
        return GetItem.apply(gg, key=ctx.key)


class IndexPut(Op):
    """A copy of ``a`` with ``v`` written at ``key``."""

    @staticmethod
    def forward(ctx, a, v, key):
        ctx.key = key
        out = ctx.backend.copy(a)
        ctx.backend.setitem(out, key, v)
        return out

    @staticmethod
    def backward(ctx, g):
        zero = g.new_zeros(())
        ga = IndexPut.apply(g, zero, key=ctx.key) if ctx.needs_grad(0) else None
        gv = GetItem.apply(g, key=ctx.key) if ctx.needs_grad(1) else None
        return ga, gv


def getitem(self, key):
    ndim = self._data.ndim
    if type(key) is int and ndim:
        # the commonest key, x[i]: no conversion needed
        k = (key, ...)  # the ... keeps a 0-d result a view (numpy gives a copied scalar for x[i] on 1-D)
        try:
            out = GetItem.apply(self, key=k)
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
    k = convert_key(self, key)
    try:
        out = GetItem.apply(self, key=k)
    except IndexError as exc:
        raise _index_error(self, exc) from None
    if _is_advanced(k):
        return out  # a copy, as in torch
    return mark_view(out, self, lambda t: GetItem.apply(t, key=k))


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

    try:
        inplace(self, lambda x, v: IndexPut.apply(x, v, key=k), value, fast=fast)
    except IndexError as exc:
        raise _index_error(self, exc) from None
    except ValueError as exc:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                           f"indexing result ({exc})") from None
