"""Views and reshapes: view, reshape, permute/transpose, expand, squeeze/unsqueeze."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ._util import mark_view, sizes_or_keyword, wrap_dim
from .arithmetic import Where, where_as


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def infer_shape(shape, numel):
    """Resolve a requested shape (with at most one -1) against ``numel``, with torch's errors."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    # the common case first: plain ints (at most one -1) that fit
    known = 1
    infer = -1
    for i, s in enumerate(shape):
        if type(s) is not int:
            break
        if s >= 0:
            known *= s
        elif s == -1 and infer < 0:
            infer = i
        else:
            break
    else:
        if infer < 0:
            if known == numel:
                return tuple(shape)
        elif known and numel % known == 0:
            shape = tuple(shape)
            return shape[:infer] + (numel // known,) + shape[infer + 1:]
    shape = tuple(int(s) if hasattr(s, "__index__") and not isinstance(s, int) else s for s in shape)
    infer = [i for i, s in enumerate(shape) if s == -1]
    if len(infer) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for s in shape:
        if not isinstance(s, int):
            raise TypeError(f"shape must be ints, got {type(s).__name__}")
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if infer:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Op):
    """A reshape no view expresses: a copy (torch clones, then views the copy unsafely)."""

    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return ctx.backend.xp.reshape(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)

    @staticmethod
    def fast_backward(ctx, g):
        return ctx.backend.xp.reshape(g, ctx.shape)


class View(Reshape):
    """Reshape that must share the input's memory; the backward is Reshape's."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        out = ctx.backend.view(a, shape)
        if out is None:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one dimension "
                "spans across two contiguous subspaces). Use .reshape(...) instead.")
        return out


Unsqueeze = View.renamed("UnsqueezeBackward0")
ReshapeAlias = View.renamed("ReshapeAliasBackward0")  # torch's reshape that views a non-contiguous tensor


# ``squeeze()``; ``squeeze(dim)`` and ``squeeze(dims)`` are torch's overloads 1 and 2
SqueezeAll = View.renamed("SqueezeBackward0")
SqueezeDim = View.renamed("SqueezeBackward1")
SqueezeDims = View.renamed("SqueezeBackward2")


class Permute(Op):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.backend.xp.permute_dims(a, axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return g.permute(*inverse)

    @staticmethod
    def fast_backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return ctx.backend.xp.permute_dims(g, tuple(inverse))


class Expand(Op):
    @staticmethod
    def forward(ctx, a, shape):
        if a.size and a.size == _numel(shape):
            # nothing repeats (only dims of size 1 added): a writable view, as torch allows writing it
            return ctx.backend.view(a, shape)
        return ctx.backend.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums g back to the input's shape

    @staticmethod
    def fast_backward(ctx, g):
        return g


def view(self, *shape, size=None, dtype=None):
    """The same data with another shape; fails where torch's view would (use reshape then). torch's
    keywords: ``view(size=...)``, ``view(dtype=...)``."""
    if size is not None or dtype is not None or not shape:
        if dtype is not None and size is None and not shape:
            return _view_dtype(self, dtype)
        if dtype is not None or (size is None and not shape) or (size is not None and shape):
            got = [type(a).__name__ for a in shape]
            got += [f"{k}={type(v).__name__}" for k, v in (("size", size), ("dtype", dtype)) if v is not None]
            raise TypeError(f"view() received an invalid combination of arguments - got ({', '.join(got)}), but "
                            f"expected one of:\n * (torch.dtype dtype)\n * (tuple of ints size)\n")
        shape = sizes_or_keyword("view", "size", shape, size)
    if len(shape) == 1 and type(shape[0]) is not int and not isinstance(shape[0], (tuple, list)) and hasattr(
            shape[0], "itemsize"):
        return _view_dtype(self, shape[0])
    shape = infer_shape(shape, self.numel())
    return mark_view(View.apply(self, shape=shape), self, lambda t: Reshape.apply(t, shape=shape))


def _view_dtype(self, dtype):
    """``view(dtype)``: the same memory read as ``dtype`` (torch's rules; not differentiable, as in torch)."""
    from ..tensor import Tensor
    a, b = self._dtype, dtype
    if a.itemsize != b.itemsize:
        names = f"{_dt.scalar_type_name(a)} as {_dt.scalar_type_name(b)} (different element sizes)"
        data = self._data
        if data.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to view {names}")
        stride = self.stride(-1)
        if stride != 1 and data.shape[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 to view {names}, but got {stride}")
        if b.itemsize > a.itemsize and data.shape[-1] % (b.itemsize // a.itemsize):
            raise RuntimeError(f"self.size(-1) must be divisible by {b.itemsize // a.itemsize} to view {names}, "
                               f"but got {data.shape[-1]}")
    out = self._backend.view_dtype(self._data, b)
    if out is None:
        raise RuntimeError(f"view(dtype): backend '{self._backend.name}' cannot reinterpret memory ({a} as {b}); "
                           f"use .to({b}) to convert the values")
    result = Tensor._make(out, b, self._backend)
    result._version = self._version  # the same storage: in-place writes are seen through both
    return result


def reshape(input, *sizes, shape=None):
    """The same data with another shape (a view where possible, else a copy)."""
    if shape is not None or not sizes:
        sizes = sizes_or_keyword("reshape", "shape", sizes, shape)
    shape = infer_shape(sizes, input.numel())
    try:
        out = View.apply(input, shape=shape)
    except RuntimeError:
        return Reshape.apply(input, shape=shape)  # not expressible as a view: a copy
    if out.grad_fn is not None and not input.is_contiguous():
        out.grad_fn.__class__ = ReshapeAlias
    return mark_view(out, input, lambda t: Reshape.apply(t, shape=shape))


def permute(input, *order, dims=None):
    """The dimensions in the order ``dims`` (a view): ``x.permute(1, 0)``, ``x.permute((1, 0))`` or
    ``x.permute(dims=(1, 0))``; a 0-d tensor takes ()."""
    if dims is not None or not order:
        order = sizes_or_keyword("permute", "dims", order, dims)
    dims = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) else order
    n = input._data.ndim
    if len(dims) != n:  # torch checks the count before the range of each dim
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {n} is not "
                           f"equal to len(dims) = {len(dims)}")
    axes = tuple(wrap_dim(d, n) for d in dims)
    if len(set(axes)) != n:
        raise RuntimeError(f"permute(): duplicate dims are not allowed, got {list(dims)}")
    return mark_view(Permute.apply(input, axes=axes), input, lambda t: Permute.apply(t, axes=axes))


Transpose = Permute.renamed("TransposeBackward0")


class TransposeT(Permute):
    """``t()``: torch records it as its own op."""

    node_name = "TBackward0"


def transpose(input, dim0, dim1):
    return _swap_dims(input, dim0, dim1, Transpose)


def _swap_dims(self, dim0, dim1, op):
    n = self._data.ndim
    if n == 0:
        wrap_dim(dim0, 0), wrap_dim(dim1, 0)
        return self
    a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
    axes = list(range(n))
    axes[a], axes[b] = axes[b], axes[a]
    axes = tuple(axes)
    return mark_view(op.apply(self, axes=axes), self, lambda t: Permute.apply(t, axes=axes))


def t(self):
    n = self._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D; use transpose(0, 1)")
    return self if n < 2 else _swap_dims(self, 0, 1, TransposeT)


def expand(self, *sizes, size=None):
    if size is not None or not sizes:
        sizes = sizes_or_keyword("expand", "size", sizes, size)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    n = self._data.ndim
    if len(sizes) < n:
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(self.shape)}}}, size={list(sizes)}): the number of "
                           f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions "
                           f"in the tensor ({n})")
    lead = len(sizes) - n
    shape = []
    for i, s in enumerate(sizes):
        cur = self._data.shape[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        elif cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(self.shape)}")
        shape.append(s)
    shape = tuple(shape)
    # a new view even at the same shape, as torch's (not the tensor itself: not a leaf, its own node)
    return mark_view(Expand.apply(self, shape=shape), self, lambda t: Expand.apply(t, shape=shape))


def expand_as(self, other):
    return expand(self, other._data.shape)


def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
        op = SqueezeAll
    else:
        op = SqueezeDim if isinstance(dim, int) else SqueezeDims
        axes = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = {wrap_dim(d, len(shape)) for d in axes}
        new = tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1))
    # a new view even where nothing is squeezed, as torch's
    return mark_view(op.apply(input, shape=new), input, lambda t: Reshape.apply(t, shape=new))


def unsqueeze(input, dim):
    n = input._data.ndim + 1
    d = wrap_dim(dim, n)
    shape = list(input._data.shape)
    shape.insert(d, 1)
    shape = tuple(shape)
    return mark_view(Unsqueeze.apply(input, shape=shape), input, lambda t: Reshape.apply(t, shape=shape))


def flatten(input, start_dim=0, end_dim=-1):
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    s = wrap_dim(start_dim, len(shape))
    e = wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input  # torch's flatten of one dimension is the tensor itself
    n = 1
    for x in shape[s:e + 1]:
        n *= x
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


class Flip(Op):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.backend.copy(ctx.backend.xp.flip(a, axis=axes))  # torch's flip copies

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, axes=ctx.axes)


def flip(input, *axes, dims=None):
    """Reverse the order of elements along ``dims`` (a copy, as in torch); ``x.flip(0, 1)`` works too."""
    if dims is None and len(axes) == 1:
        dims = axes[0]
    else:
        dims = sizes_or_keyword("flip", "dims", axes, dims)
        dims = dims[0] if len(dims) == 1 else dims
    if isinstance(dims, int):
        dims = (dims,)
    n = input._data.ndim
    axes = tuple(wrap_dim(d, n) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dims has duplicates, original flip dims size={len(axes)}, but unique flip dims "
                           f"size={len(set(axes))}")
    if n == 0 or not axes:
        return input.clone()
    return Flip.apply(input, axes=axes)


def fliplr(input):
    return flip(input, (1,))


def flipud(input):
    return flip(input, (0,))


def repeat(self, *sizes, repeats=None):
    """Tile the tensor ``sizes[i]`` times along each dim (leading new dims allowed)."""
    if repeats is not None or not sizes:
        sizes = sizes_or_keyword("repeat", "repeats", sizes, repeats)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    n = self._data.ndim
    if len(sizes) < n:
        raise RuntimeError(f"Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           f"of tensor (got {len(sizes)} repeat dims for a {n}-D tensor)")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: repeat sizes {list(sizes)}")
    return Repeat.apply(self, sizes=sizes)


class Repeat(Op):
    """``repeat``: a new tensor, always (a view of a broadcast would let a write reach the input and
    every copy at once). Laid out as (r0, s0, r1, s1, ...) so the backward sums each r axis."""

    @staticmethod
    def forward(ctx, a, sizes):
        xp = ctx.backend.xp
        shape = (1,) * (len(sizes) - a.ndim) + tuple(a.shape)
        ctx.pairs = tuple(x for r, s in zip(sizes, shape) for x in (r, s))
        ctx.shape = a.shape
        spread = xp.broadcast_to(xp.reshape(a, tuple(x for s in shape for x in (1, s))), ctx.pairs)
        return ctx.backend.copy(xp.reshape(spread, tuple(r * s for r, s in zip(sizes, shape))))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.pairs).sum(tuple(range(0, len(ctx.pairs), 2))).reshape(ctx.shape)


def broadcast_to(input, size):
    """``input`` expanded to ``size`` (a view; -1 keeps a size)."""
    return expand(input, tuple(size))


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (torch's rules and error), as a Size."""
    from ..tensor import Size
    out = []
    for k, shape in enumerate(shapes):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if len(shape) > len(out):
            out = [1] * (len(shape) - len(out)) + out
        for i, n in enumerate(shape, len(out) - len(shape)):
            if n != out[i] and n != 1:
                if out[i] != 1:
                    raise RuntimeError(f"Attempting to broadcast a dimension of length {n} at {i - len(out)}! "
                                       f"Mismatching argument at index {k} had {shape}; but expected shape should "
                                       f"be broadcastable to {out}")
                out[i] = n
    return Size(out)


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (ints or sequences)."""
    n = input._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    src = [wrap_dim(d, n) for d in src]
    dst = [wrap_dim(d, n) for d in dst]
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, *order)


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    """``swapaxes`` under torch's other name (and its keywords ``dim0`` / ``dim1``)."""
    return transpose(input, dim0, dim1)


def narrow(input, dim, start, length):
    """The slice ``start:start+length`` along ``dim`` (a view)."""
    n = input._data.ndim
    if n == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.; reshape it to 1-D first (x.reshape(1))")
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative. Got {length}")
    axis = wrap_dim(dim, n)
    size = input._data.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    out = input[(slice(None),) * axis + (slice(start, start + length),)]
    return _nodes.named(out, "SliceBackward0")  # torch's narrow is a slice, whole or not


def _diag_index(backend, rows, cols, offset):
    from .. import dtypes as _dt
    xp = backend.xp
    n = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    i = backend.arange(max(0, -offset), max(0, -offset) + n, 1, _dt.int64)
    j = backend.arange(max(0, offset), max(0, offset) + n, 1, _dt.int64)
    return xp.asarray(i), xp.asarray(j), n


class Diagonal(Op):
    """``diagonal``: a view of the backend's strided diagonal (a gathered copy where it has none)."""

    @staticmethod
    def forward(ctx, a, offset, axes):
        ctx.shape, ctx.offset, ctx.axes = a.shape, offset, axes
        backend = ctx.backend
        out = backend.diagonal_view(a, offset, *axes)
        if out is None:
            xp = backend.xp
            planes = _planes_last(a.shape, axes)
            flat = xp.reshape(xp.permute_dims(a, planes[0]), planes[1] + (-1,))
            out = xp.take(flat, _diag_flat_index(backend, a.shape, offset, axes), axis=-1)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's diagonal_backward: zeros with g written on the diagonal (planes last and flat, then back)
        from ..tensor import Tensor
        order, lead = _planes_last(ctx.shape, ctx.axes)
        index = Tensor._make(_diag_flat_index(g._backend, ctx.shape, ctx.offset, ctx.axes), _int64(), g._backend)
        rows, cols = (ctx.shape[d] for d in ctx.axes)
        full = g.new_zeros(lead + (rows * cols,)).index_add(-1, index, g)
        return full.reshape(lead + (rows, cols)).permute(*_inverse(order))


class DiagonalCopy(Diagonal):
    """``diag`` of a matrix: its diagonal copied (torch's diagonal_copy)."""

    node_name = "DiagonalBackward0_copy"

    @staticmethod
    def forward(ctx, a, offset, axes):
        return ctx.backend.copy(Diagonal.forward(ctx, a, offset, axes))


def _planes_last(shape, axes):
    """The order that moves ``axes`` last, and the sizes of the other dims."""
    rest = [d for d in range(len(shape)) if d not in axes]
    return tuple(rest) + tuple(axes), tuple(shape[d] for d in rest)


def _diag_flat_index(backend, shape, offset, axes):
    """The diagonal's positions in the flattened ``axes`` planes (row-major)."""
    rows, cols = (shape[d] for d in axes)
    i, j, _ = _diag_index(backend, rows, cols, offset)
    return i * cols + j


def _inverse(order):
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return inverse


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the ``dim1``/``dim2`` planes as the last dim: a view sharing ``input``'s storage
    (writes through it reach ``input``), a copy on backends without strided views."""
    n = input._data.ndim
    a, b = wrap_dim(dim1, n), wrap_dim(dim2, n)  # below 2-D: torch's IndexError, or identical dims
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = Diagonal.apply(input, offset=offset, axes=(a, b))
    if input._backend.as_strided_writeable is None:
        return out
    return mark_view(out, input, lambda t: Diagonal.apply(t, offset=offset, axes=(a, b)))


class Unfold(Op):
    """``Tensor.unfold``: a view of the backend's strided windows (a gathered copy where it has none)."""

    @staticmethod
    def forward(ctx, a, axis, size, step):
        ctx.shape, ctx.axis, ctx.size, ctx.step = a.shape, axis, size, step
        backend = ctx.backend
        out = backend.unfold_view(a, axis, size, step)
        if out is None:
            xp = backend.xp
            count = (a.shape[axis] - size) // step + 1
            taken = xp.take(a, xp.reshape(_window_index(backend, count, size, step), (-1,)), axis=axis)
            windows = xp.reshape(taken, a.shape[:axis] + (count, size) + a.shape[axis + 1:])
            out = xp.moveaxis(windows, axis + 1, -1)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's unfold_backward: every window's gradient added back where it was read (overlaps sum)
        from ..tensor import Tensor
        axis, size, step = ctx.axis, ctx.size, ctx.step
        backend = g._backend
        count = g._data.shape[axis]
        index = backend.xp.reshape(_window_index(backend, count, size, step), (-1,))
        flat = g.movedim(-1, axis + 1).flatten(axis, axis + 1)
        zeros = g.new_zeros(ctx.shape)
        return zeros.index_add(axis, Tensor._make(index, _int64(), backend), flat)


def _int64():
    from .. import dtypes as _dt
    return _dt.int64


def _window_index(backend, count, size, step):
    """(count, size): the positions each window reads along the unfolded dim."""
    xp = backend.xp
    starts = xp.reshape(backend.arange(0, count * step, step, _int64()), (-1, 1))
    return starts + xp.reshape(backend.arange(0, size, 1, _int64()), (1, -1))


def unfold(self, dimension, size, step):
    """Tensor.unfold: every ``size``-long slice along ``dimension``, ``step`` apart, as a new last dim: a
    view of ``self``'s storage, a copy on backends without strided views."""
    if self._data.ndim == 0:
        return unfold(self.reshape(1), 0, size, step).squeeze(0)
    d = wrap_dim(dimension, self._data.ndim)
    length = self._data.shape[d]
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    out = Unfold.apply(self, axis=d, size=size, step=step)
    if self._backend.as_strided_writeable is None:
        return out
    return mark_view(out, self, lambda t: Unfold.apply(t, axis=d, size=size, step=step))


def diag(input, diagonal=0):
    """A 1-D input gives a square matrix with it on the ``diagonal``; a 2-D input gives that diagonal."""
    from .indexing import IndexAccumulate
    n = input._data.ndim
    if n == 2:
        return DiagonalCopy.apply(input, offset=diagonal, axes=(0, 1))
    if n != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")
    size = input._data.shape[0] + abs(diagonal)
    i, j, _ = _diag_index(input._backend, size, size, diagonal)
    return IndexAccumulate.apply(input, key=(i, j), shape=(size, size))


def _tri(input, diagonal, lower):
    from .. import dtypes as _dt
    from ..tensor import Tensor
    n = input._data.ndim
    if n < 2:
        raise RuntimeError(f"{'tril' if lower else 'triu'}: input tensor must have at least 2 dimensions")
    backend = input._backend
    xp = backend.xp
    rows, cols = input._data.shape[-2:]
    r = xp.reshape(backend.arange(0, rows, 1, _dt.int64), (rows, 1))
    c = xp.reshape(backend.arange(0, cols, 1, _dt.int64), (1, cols))
    keep = (c - r <= diagonal) if lower else (c - r >= diagonal)
    mask = Tensor._make(keep, _dt.bool_, backend)
    zero = Tensor._make(backend.zeros((), input._dtype), input._dtype, backend)
    return where_as(Tril if lower else Triu, mask, input, zero)


Tril = Where.renamed("TrilBackward0")
Triu = Where.renamed("TriuBackward0")


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (the rest zeroed)."""
    return _tri(input, diagonal, True)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (the rest zeroed)."""
    return _tri(input, diagonal, False)


def unflatten(input, dim, sizes):
    """Split ``dim`` into ``sizes`` (one may be -1)."""
    shape = input._data.shape
    axis = wrap_dim(dim, len(shape))
    inner = infer_shape(tuple(sizes), shape[axis])
    return reshape(input, shape[:axis] + tuple(inner) + shape[axis + 1:])


def tile(input, dims):
    """Repeat the tensor ``dims[i]`` times along each dim (missing leading reps are 1, unlike ``repeat``)."""
    dims = tuple(dims)
    n = input._data.ndim
    if len(dims) < n:
        dims = (1,) * (n - len(dims)) + dims
    return repeat(input, *dims)


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` cyclically (of the flattened tensor when ``dims`` is None)."""
    from .join import cat
    if dims is None:
        return roll(flatten(input), shifts, 0).reshape(input._data.shape)
    if isinstance(shifts, int):
        shifts = (shifts,)
    if isinstance(dims, int):
        dims = (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    out = input
    for shift, dim in zip(shifts, dims):
        axis = wrap_dim(dim, input._data.ndim)
        size = input._data.shape[axis]
        if size == 0:
            continue
        shift %= size
        if shift:
            lead = (slice(None),) * axis
            out = cat([out[lead + (slice(size - shift, None),)], out[lead + (slice(0, size - shift),)]], axis)
    return out if out is not input else input.clone()


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """Differences of neighbours along ``dim``, ``n`` times."""
    from .join import cat
    axis = wrap_dim(dim, input._data.ndim)
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, axis)
    lead = (slice(None),) * axis
    out = input
    for _ in range(n):
        out = out[lead + (slice(1, None),)] - out[lead + (slice(None, -1),)]
    return out
