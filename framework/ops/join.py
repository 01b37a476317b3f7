"""Joining and splitting: cat, stack, split, chunk, unbind."""
from __future__ import annotations

from ..autograd.function import Op, _device_mismatch, _tensor_cls
from ..autograd.grad_mode import GradMode
from ..tensor import Tensor
from .. import dtypes as _dt
from ._util import mark_view, wrap_dim


class Cat(Op):
    # ``skip``: positions of legacy 1-D empty inputs, which torch leaves out of the result but gives a
    # zero gradient of their own shape (0,)
    @staticmethod
    def forward(ctx, *arrays, axis, skip=()):
        ctx.axis = axis
        ctx.sizes = [None if i in skip else a.shape[axis] for i, a in enumerate(arrays)]
        return ctx.backend.xp.concat([a for i, a in enumerate(arrays) if i not in skip], axis=axis)

    @staticmethod
    def backward(ctx, g):
        # one multi-output node (differentiable again) instead of a slice per input
        sizes = [s for s in ctx.sizes if s is not None]
        pieces = iter(apply_multi(Split, (g,), {"axis": ctx.axis, "sizes": sizes}, len(sizes)))
        return tuple(g.new_zeros((0,)) if s is None else next(pieces) for s in ctx.sizes)

    @staticmethod
    def fast_backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        out = []
        start = 0
        for size in ctx.sizes:
            if size is None:
                out.append(ctx.backend.xp.zeros((0,), dtype=g.dtype))
                continue
            out.append(g[lead + (slice(start, start + size), ...)])
            start += size
        return tuple(out)


class Stack(Op):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        return ctx.backend.xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return apply_multi(Unbind, (g,), {"axis": ctx.axis}, g._data.shape[ctx.axis])

    @staticmethod
    def fast_backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple([g[lead + (i, ...)] for i in range(g.shape[ctx.axis])])


# multi-output ops ---------------------------------------------------------------------------------
def apply_multi(cls, inputs, params, n_out):
    """``Op.apply`` for a ``MultiOp``: forward returns ``n_out`` arrays, outputs 0..n_out-1 of one node.

    With ``cls.saves`` the inputs are saved (version-checked in backward, like ``save_inputs``) and
    the outputs' versions are recorded (an in-place write to one is an error at backward).
    """
    Tensor = _tensor_cls
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    backend = tensors[0]._backend if tensors else None
    for x in tensors:
        if x._backend is not backend:
            _device_mismatch(backend, x._backend)
    grad = any(x._requires_grad for x in tensors)
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    ctx = cls.__new__(cls)
    ctx.backend = backend
    outs = cls.forward(ctx, *arrays, **params)
    dtype = backend.dtype_of(outs[0]) if outs else None
    make = Tensor._make
    if not (grad and GradMode.enabled):
        return tuple([make(o, dtype, backend) for o in outs])
    results = []
    for nr, o in enumerate(outs):
        t = make(o, dtype, backend, ctx)
        t._output_nr = nr
        results.append(t)
    edges = []
    shapes = []
    for x in inputs:
        if isinstance(x, Tensor):
            fn = x.grad_fn
            edges.append(fn if fn is not None else (x if x._requires_grad else None))
            shapes.append(x._data.shape)
        else:
            edges.append(None)
            shapes.append(None)
    ctx._edges = edges
    ctx._shapes = shapes
    ctx._input_nrs = tuple([x._output_nr if isinstance(x, Tensor) else 0 for x in inputs])
    ctx._n_outputs = n_out
    if cls.saves:
        ctx._saved = [(x, x._version[0]) if isinstance(x, Tensor) else (x, None) for x in inputs]
        ctx._out_versions = [(t._version, t._version[0]) for t in results]
    return tuple(results)


class MultiOp(Op):
    """An op with several outputs (``apply_multi``); the engine hands ``run_backward`` one grad per output.

    ``backward(ctx, inputs, grads)`` (tensorplug ops; ``inputs`` the saved ones, or () without
    ``saves``) and ``fast_backward(ctx, grad_arrays)`` take the list of output grads, None where an
    output received none; both return one gradient (or None) per input.
    """

    saves = True

    def _check_outputs(self):
        for nr, (cell, version) in enumerate(self._out_versions):
            if cell[0] != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: output {nr} of {self.node_name} is at version {cell[0]}; expected version "
                    f"{version} instead. Hint: replace the in-place operation with its out-of-place form, or "
                    f"clone the output before modifying it.")

    def run_backward(self, grads):
        inputs = ()
        if self.saves:
            inputs = self.saved_tensors_list()  # version checks (and the freed-graph error)
            self._check_outputs()
        if GradMode.enabled or self.fast_backward is None:
            return self.backward(self, inputs, grads)
        ref = next(g for g in grads if g is not None)
        dtype = ref._dtype
        backend = ref._backend
        out = self.fast_backward(self, [None if g is None else g._data for g in grads])
        make = _tensor_cls._make
        return tuple([None if a is None or e is None else make(a, dtype, backend)
                      for a, e in zip(out, self._edges)])

    def release(self):
        # ops that saved nothing may run backward again (torch allows it too)
        if self.saves:
            self._saved = None
            self.__dict__.pop("arrays", None)


def _zeros_for(ctx, shape, like):
    return ctx.backend.xp.zeros(shape, dtype=like.dtype)


class Split(MultiOp):
    """The pieces of one dim, ``sizes`` long; backward concatenates the pieces' grads once."""

    saves = False
    returns_views = True  # torch refuses in-place writes to such outputs under grad (ops/inplace.py)

    @staticmethod
    def forward(ctx, x, *, axis, sizes):
        ctx.axis = axis
        ctx.sizes = sizes
        ctx.shape = x.shape
        lead = (slice(None),) * axis
        out = []
        start = 0
        for size in sizes:
            out.append(x[lead + (slice(start, start + size), ...)])
            start += size
        return out

    @staticmethod
    def fast_backward(ctx, grads):
        axis = ctx.axis
        ref = next(g for g in grads if g is not None)
        parts = []
        for g, size in zip(grads, ctx.sizes):
            if g is None:
                shape = list(ctx.shape)
                shape[axis] = size
                g = _zeros_for(ctx, tuple(shape), ref)
            parts.append(g)
        return (ctx.backend.xp.concat(parts, axis=axis),)

    @staticmethod
    def backward(ctx, inputs, grads):
        from ..creation import zeros
        ref = next(g for g in grads if g is not None)
        parts = []
        for g, size in zip(grads, ctx.sizes):
            if g is None:
                shape = list(ctx.shape)
                shape[ctx.axis] = size
                g = zeros(tuple(shape), dtype=ref.dtype, device=ref.device)
            parts.append(g)
        return (parts[0] * 1 if len(parts) == 1 else Cat.apply(*parts, axis=ctx.axis),)


class Unbind(MultiOp):
    """The slices along one dim (removed); backward stacks the slices' grads once."""

    saves = False
    returns_views = True

    @staticmethod
    def forward(ctx, x, *, axis):
        ctx.axis = axis
        ctx.shape = x.shape
        lead = (slice(None),) * axis
        return [x[lead + (i, ...)] for i in range(x.shape[axis])]

    @staticmethod
    def fast_backward(ctx, grads):
        ref = next(g for g in grads if g is not None)
        shape = ref.shape
        parts = [g if g is not None else _zeros_for(ctx, shape, ref) for g in grads]
        return (ctx.backend.xp.stack(parts, axis=ctx.axis),)

    @staticmethod
    def backward(ctx, inputs, grads):
        from ..creation import zeros
        ref = next(g for g in grads if g is not None)
        parts = [g if g is not None else zeros(ref.shape, dtype=ref.dtype, device=ref.device) for g in grads]
        return (Stack.apply(*parts, axis=ctx.axis),)


def _tensors(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not Tensor; "
                        f"wrap it in a list: {name}([t], dim)")
    tensors = list(tensors)
    if not tensors:
        if name == "stack":
            raise RuntimeError("stack expects a non-empty TensorList")
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    first = tensors[0]
    dt = first._dtype
    if any(t._dtype is not dt for t in tensors):
        out_dt = dt
        for t in tensors[1:]:
            out_dt = _dt.promote_types(out_dt, t._dtype)
        tensors = [t if t._dtype is out_dt else t.to(out_dt) for t in tensors]
    return tensors


def cat(tensors, dim=0, *, axis=None, out=None):
    """Concatenate tensors along an existing ``dim`` (other sizes must match); ``axis=`` is torch's name of
    it in ``concatenate`` (and accepted by all three names, as torch does).

    Example:
        >>> tensorplug.cat([tensorplug.zeros(1, 2), tensorplug.ones(2, 2)]).shape
        tensorplug.Size([3, 2])
    """
    if axis is not None:
        if dim != 0:
            raise TypeError("cat() got multiple values for argument 'dim'")
        dim = axis
    tensors = _tensors(tensors, "cat")
    # torch skips legacy 1-D empty tensors
    legacy = [i for i, t in enumerate(tensors) if t._data.ndim == 1 and t._data.shape[0] == 0]
    if len(legacy) == len(tensors):
        legacy = legacy[1:]  # all empty: the first is the result
    kept = [t for i, t in enumerate(tensors) if i not in legacy]
    ref = kept[0]
    if ref._data.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated; "
                           "use stack, or unsqueeze it first")
    axis = wrap_dim(dim, ref._data.ndim)
    for i, t in enumerate(kept):
        if t._data.ndim != ref._data.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref._data.ndim} and "
                               f"{t._data.ndim}")
        for d, (a, b) in enumerate(zip(ref._data.shape, t._data.shape)):
            if d != axis and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size "
                                   f"{a} but got size {b} for tensor number {i} in the list.")
    if any(tensors[i]._requires_grad for i in legacy):
        # a skipped empty input that wants a gradient still gets one (zeros of its shape, as torch)
        return Cat.apply(*tensors, axis=axis, skip=frozenset(legacy))
    return Cat.apply(*kept, axis=axis)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """Join tensors of equal shape along a new ``dim``."""
    tensors = _tensors(tensors, "stack")
    shape = tensors[0]._data.shape
    axis = wrap_dim(dim, len(shape) + 1)  # torch checks the dim before the shapes
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(t.shape)} at entry {i}")
    return Stack.apply(*tensors, axis=axis)


def hstack(tensors):
    tensors = _tensors(tensors, "hstack")
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    tensors = [t.reshape(1, -1) if t._data.ndim < 2 else t for t in _tensors(tensors, "vstack")]
    return cat(tensors, 0)


def _pieces(x, axis, sizes):
    # one node for all pieces (its backward concatenates once); each piece is a view of x
    from .indexing import GetItem
    pieces = apply_multi(Split, (x,), {"axis": axis, "sizes": sizes}, len(sizes))
    lead = (slice(None),) * axis
    start = 0
    for piece, size in zip(pieces, sizes):
        key = lead + (slice(start, start + size), ...)
        mark_view(piece, x, lambda t, key=key: GetItem.apply(t, key=key))
        start += size
    return pieces


def split(tensor, split_size_or_sections=None, dim=0, *, split_size=None):
    """Split into pieces of ``split_size`` (the last may be smaller) or of the listed sizes; views.
    ``split_size=`` is Tensor.split's name of the sizes (torch.split's is ``split_size_or_sections``)."""
    if split_size_or_sections is None or split_size is not None:
        if split_size is None:
            raise TypeError("split() missing 1 required positional argument: 'split_size_or_sections'")
        if split_size_or_sections is not None:
            raise TypeError("Tensor.split() got multiple values for argument 'split_size'")
        split_size_or_sections = split_size
    if tensor._data.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = wrap_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if n == 0:
            return (tensor,) if size == 0 else _pieces(tensor, axis, [0])
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                               f"size at dimension {axis}), but got split_sizes={sizes}")
    return _pieces(tensor, axis, sizes)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of equal size (the last may be smaller; there may be fewer)."""
    if not isinstance(chunks, int) or chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input._data.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    axis = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    size = max(-(-n // chunks), 1) if n else 0
    if n == 0:
        return _pieces(input, axis, [0] * chunks)
    return split(input, size, axis)


def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple of views (the dim removed)."""
    from .indexing import GetItem
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    axis = wrap_dim(dim, input._data.ndim)
    # one node for all slices (its backward stacks once); each slice is a view of input
    pieces = apply_multi(Unbind, (input,), {"axis": axis}, input._data.shape[axis])
    lead = (slice(None),) * axis
    for i, piece in enumerate(pieces):
        key = lead + (i, ...)
        mark_view(piece, input, lambda t, key=key: GetItem.apply(t, key=key))
    return pieces
