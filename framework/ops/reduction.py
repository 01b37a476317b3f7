"""Reductions over dims (int, tuple or all), with ``keepdim``."""
from __future__ import annotations

from .. import amp as _amp
from .. import dtypes as _dt
from ..autograd import _nodes
from ..autograd.function import Op
from ._opmath import opmath
from ._util import dims, numpy_names, write_out
from .join import MultiOp, apply_multi


def narrow_float(dtype):
    """Floats under 32 bits (float16, bfloat16): torch accumulates their reductions and scans in float32
    and casts the result back; summing 3000 float16 ones in float16 stops at 2048."""
    return dtype in _dt.NARROW_FLOATS


def _scan_dtype(dtype):
    """The dtype a running sum/product of ``dtype`` accumulates in: torch's CPU accumulation type (float32
    for narrow floats, float64 for float32: 1e6 float32 steps of 0.1 drift 1% otherwise), or None."""
    if dtype.category != _dt.FLOAT or dtype.itemsize >= 8:
        return None
    return _dt.float32 if dtype.itemsize < 4 else _dt.float64


def _full(out, xp, ndim, axes, keepdim):
    """A reduction's result as an array: reducing every axis, numpy returns an immutable scalar (a tensor's
    storage must take in-place writes)."""
    return xp.asarray(out) if not keepdim and len(axes) == ndim else out


def _restore(g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input's ``shape``."""
    if not keepdim and axes:
        kept = tuple(1 if i in axes else s for i, s in enumerate(shape))
        g = g.reshape(kept)
    return g


def _expand_array(ctx, g, shape, axes, keepdim):
    """``g`` (reduced over ``axes``) broadcast back to ``shape``, on arrays."""
    xp = ctx.backend.xp
    if not keepdim and axes:
        g = xp.reshape(g, tuple(1 if i in axes else s for i, s in enumerate(shape)))
    return xp.broadcast_to(g, shape)


class _ReductionOfInputAndOutput(Op):
    """A reduction over ``ctx.axes`` whose gradient reads both its input and its output."""

    save_inputs = (0,)
    save_output = True

    def restored(self, g):
        """The saved input, with the output and ``g`` reshaped to broadcast against it."""
        (a,) = self.saved_tensors_list()
        shape = a._data.shape
        return a, _restore(self.output(), shape, self.axes, self.keepdim), _restore(g, shape, self.axes, self.keepdim)


class Sum(Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        xp = ctx.backend.xp
        return _full(xp.sum(a, axis=axes, keepdims=keepdim, dtype=dtype), xp, a.ndim, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        return _restore(g, ctx.shape, ctx.axes, ctx.keepdim).expand(ctx.shape)

    @staticmethod
    def fast_backward(ctx, g):
        return _expand_array(ctx, g, ctx.shape, ctx.axes, ctx.keepdim)


class SumDim(Sum):
    """``sum(dim)``: torch's dim overload, a node of its own name."""

    node_name = "SumBackward1"


class Mean(Op):
    @staticmethod
    def forward(ctx, a, axes, keepdim):
        ctx.shape = a.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        n = 1
        for i in axes:
            n *= a.shape[i]
        ctx.count = n
        xp = ctx.backend.xp
        if n == 0:  # torch gives nan silently; numpy's mean would warn "Mean of empty slice"
            out = xp.sum(a, axis=axes, keepdims=keepdim) / xp.asarray(0, dtype=a.dtype)
        else:
            out = xp.mean(a, axis=axes, keepdims=keepdim)
        return _full(out, xp, a.ndim, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        return _restore(g, ctx.shape, ctx.axes, ctx.keepdim).expand(ctx.shape) / ctx.count

    @staticmethod
    def fast_backward(ctx, g):
        return _expand_array(ctx, g / ctx.count, ctx.shape, ctx.axes, ctx.keepdim)


class MeanDim(Mean):
    """``mean(dim)``: torch's dim overload."""

    node_name = "MeanBackward1"


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None, axis=None, keepdims=None):
    """Sum of elements over ``dim`` (all when None). Integer and bool sums are int64."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    if out is not None:
        return write_out("sum", out, sum(input, dim, keepdim, dtype=dtype))
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, sum, input, dim, keepdim, dtype=dtype)
    axes = dims(dim, input._data.ndim)
    if dtype is None and narrow_float(input._dtype):
        return sum(input.to(_dt.float32), axes, keepdim).to(input._dtype)
    if input._dtype is _dt.bool_:
        input = input.to(_dt.int64)  # the Array API sums numbers, not bools
    elif input._dtype is _dt.bfloat16 and dtype is not None and dtype.category == _dt.INT:
        input = input.to(dtype)  # through Cast's float32 (numpy's sum cast bfloat16's NaN and -2.5 to 0)
    if dtype is None and input._dtype.category < _dt.FLOAT:
        dtype = _dt.int64
    native = None if dtype is None else input._backend.native_dtype(dtype)
    return (Sum if dim is None else SumDim).apply(input, axes=axes, keepdim=keepdim, dtype=native)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None, axis=None, keepdims=None):
    """Mean over ``dim``; needs a floating dtype, as torch does."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    if out is not None:
        return write_out("mean", out, mean(input, dim, keepdim, dtype=dtype))
    if dtype is not None:
        input = input.to(dtype)
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {_dt.scalar_type_name(input._dtype)}; use x.float().mean()")
    if narrow_float(input._dtype):
        return mean(input.to(_dt.float32), dim, keepdim).to(input._dtype)
    return (Mean if dim is None else MeanDim).apply(input, axes=dims(dim, input._data.ndim), keepdim=keepdim)


def _count(shape, axes):
    n = 1
    for i in axes:
        n *= shape[i]
    return n


class Prod(_ReductionOfInputAndOutput):
    per_dim = False

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype, narrow=False):
        ctx.axes = axes
        ctx.keepdim = keepdim
        xp = ctx.backend.xp
        if narrow:
            return _prod_rounding_each_step(xp, a, axes, keepdim)
        # in a's dtype unless told (numpy multiplies int32 in int64: prod(x, dtype=int32) was int64)
        out = xp.prod(a, axis=axes, keepdims=keepdim, dtype=a.dtype if dtype is None else dtype)
        return _full(out, xp, a.ndim, axes, keepdim)

    @classmethod
    def backward(cls, ctx, g):
        a, out, g = ctx.restored(g)
        if a.dim() == 0:  # torch's prod_backward: the gradient itself (out / a is NaN at 0, inf, NaN)
            return g
        # d prod / d x_i is the product of the others: out / x_i while no element is 0 (torch's test is
        # over the whole tensor); else a prefix times a suffix product, as torch, so that an inf or NaN
        # sharing a slice with a 0 gives torch's 0, inf or NaN
        zeros = int((a == 0).sum())
        if not zeros:
            return g * out / a
        if cls.per_dim:
            return g * _products_of_others(a, ctx.axes[0])
        if zeros > 1:  # torch's prod() of all elements: every product of the others holds a 0
            return a.detach().clone().fill_(0)
        return g * _products_of_others(a.reshape(-1), 0).reshape(a.shape)


def _prod_rounding_each_step(xp, a, axes, keepdim):
    """torch's CPU prod of float16/bfloat16 rounds every partial product to the dtype (unlike its sums
    and cumprod, which accumulate in float32), so it overflows to inf or underflows to 0 where a float32
    product would not (300 * 400 * 2**-9 is inf there). Its order, followed here so the same partial
    products overflow: over trailing axes, blocks of 64 go into 4 x 16 vector lanes, the lanes are
    multiplied together and into the result one by one, then the rest one by one; else one by one."""
    rest = tuple(i for i in range(a.ndim) if i not in axes)
    n = _count(a.shape, axes)
    m = _count(a.shape, rest)
    rows = xp.reshape(xp.permute_dims(a, tuple(axes) + rest), (n, m))
    inner = tuple(axes) == tuple(range(a.ndim - len(axes), a.ndim))
    blocks = n // 64 if inner else 0
    out = xp.ones((m,), dtype=a.dtype)
    if blocks:
        lanes = xp.reshape(rows[:blocks * 64], (blocks, 4, 16, m))
        acc = xp.ones((4, 16, m), dtype=a.dtype)
        for b in range(blocks):
            acc = acc * lanes[b]
        lane = acc[0] * acc[1] * acc[2] * acc[3]
        for k in range(16):
            out = out * lane[k]
    for i in range(blocks * 64, n):
        out = out * rows[i]
    kept = tuple(1 if i in axes else s for i, s in enumerate(a.shape)) if keepdim else \
        tuple(a.shape[i] for i in rest)
    return xp.reshape(out, kept)


def _products_of_others(x, axis):
    """``prod_{j != i} x_j`` along ``axis``, without dividing: exclusive prefix times exclusive suffix."""
    from .join import cat
    from .shape import flip
    n = x.shape[axis]
    one = x.narrow(axis, 0, 1).detach().clone().fill_(1)
    before = _scan(CumProd, cat([one, x.narrow(axis, 0, n - 1)], axis), axis)
    after = _scan(CumProd, cat([one, flip(x.narrow(axis, 1, n - 1), (axis,))], axis), axis)
    return before * flip(after, (axis,))


class ProdDim(Prod):
    """``prod(dim)``: torch's dim overload."""

    node_name = "ProdBackward1"
    per_dim = True


def prod(input, dim=None, keepdim=False, *, dtype=None, out=None, axis=None, keepdims=None):
    """Product of elements over ``dim`` (all when None). Integer products are int64."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    if out is not None:
        return write_out("prod", out, prod(input, dim, keepdim, dtype=dtype))
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, prod, input, dim, keepdim, dtype=dtype)
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    if dtype is not None:
        input = input.to(dtype)
    elif input._dtype.category < _dt.FLOAT:
        input = input.to(_dt.int64)
    op = Prod if dim is None else ProdDim
    return op.apply(input, axes=dims(dim, input._data.ndim), keepdim=keepdim, dtype=None,
                    narrow=narrow_float(input._dtype))


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _var_args(name, input, dim, unbiased, correction):
    """``(axes, dof)`` of a variance over ``dim``, with torch's refusal of integer input and its warning when
    the degrees of freedom are not positive."""
    if input._dtype.category < _dt.FLOAT:
        subject = "std and var" if name in ("var", "std") else name
        raise RuntimeError(f"{subject} only support floating point and complex dtypes, got {input._dtype}; "
                           f"convert first, e.g. x.float()")
    axes = dims(dim, input._data.ndim)
    dof = _count(input._data.shape, axes) - _correction(unbiased, correction)
    if dof <= 0:
        import warnings
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      f"reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    return axes, dof


def _var_arrays(backend, a, axes, keepdim, dof, root=False):
    """The variance (its square root with ``root``) of array ``a`` over ``axes`` and its mean (axes kept):
    ``|x - mean|^2`` summed, so a complex variance is real; narrow floats accumulate in float32 and round
    once (a float16 variance over 65504 has a finite std); ``dof <= 0`` divides by 0 (torch)."""
    xp = backend.xp
    dtype = backend.dtype_of(a)
    work = xp.astype(a, backend.native_dtype(_dt.float32)) if narrow_float(dtype) else a
    n = _count(a.shape, axes)
    if n:
        m = xp.mean(work, axis=axes, keepdims=True)
    else:  # torch's nan, without numpy's "Mean of empty slice" warning
        m = xp.sum(work, axis=axes, keepdims=True) / xp.asarray(0, dtype=work.dtype)
    centered = work - m
    if dtype.category == _dt.COMPLEX:
        squares = xp.real(centered) ** 2 + xp.imag(centered) ** 2
    else:
        squares = centered * centered
    total = xp.sum(squares, axis=axes, keepdims=keepdim)
    v = _full(total / xp.asarray(max(dof, 0), dtype=total.dtype), xp, a.ndim, axes, keepdim)
    if root:
        v = xp.sqrt(v)
    if work is not a:
        v, m = xp.astype(v, a.dtype), xp.astype(m, a.dtype)
    return v, m


def _var_grad(g, a, axes, keepdim, dof, whole):
    """torch's var_backward, ``2 g (x - mean) / dof``; with no dim given and ``dof <= 0`` torch gives
    ``g * inf`` wherever x is off the mean (nan on it), whatever the sign of ``x - mean``."""
    g = _restore(g, a._data.shape, axes, keepdim)
    centered = a - mean(a, axes, keepdim=True)
    if dof > 0 or not whole:
        return g * (2.0 / dof if dof else float("inf")) * centered
    return g * float("inf") * centered.abs()


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Variance over ``dim`` with Bessel's correction by default (``correction=0`` or ``unbiased=False`` for the population variance)."""
    return _spread(Var, "var", input, dim, unbiased, keepdim, correction, axis, keepdims)


def _spread(op, name, input, dim, unbiased, keepdim, correction, axis, keepdims):
    """``var`` or ``std`` (``op``): torch's numpy-style names, its ``var(x, True)`` overload, one node."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    axes, dof = _var_args(name, input, dim, unbiased, correction)
    return op.apply(input, axes=axes, keepdim=keepdim, dof=dof, whole=dim is None)


class Var(Op):
    """``sum(|x - mean|^2) / dof`` with torch's gradient ``2 g (x - mean) / dof``: the mean's own path
    (zero in exact arithmetic) is left out, so an inf gives torch's -inf to the others instead of NaN."""

    node_name = "VarBackward0"
    save_inputs = (0,)
    root = False

    @classmethod
    def forward(cls, ctx, a, axes, keepdim, dof, whole):
        ctx.axes, ctx.keepdim, ctx.dof, ctx.whole = axes, keepdim, dof, whole
        return _var_arrays(ctx.backend, a, axes, keepdim, dof, cls.root)[0]

    @classmethod
    def backward(cls, ctx, g):
        (a,) = ctx.saved_tensors_list()
        if cls.root:
            g = _std_grad(g, ctx.output())
        return _var_grad(g, a, ctx.axes, ctx.keepdim, ctx.dof, ctx.whole)


class Std(Var):
    """The square root of ``Var``, one node as torch's."""

    node_name = "StdBackward0"
    save_output = True
    root = True


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Standard deviation over ``dim`` (see ``var`` for the correction)."""
    return _spread(Std, "std", input, dim, unbiased, keepdim, correction, axis, keepdims)


def _std_grad(g, std):
    """torch's std_backward up to the variance: ``g / (2 std)``, zero where std is zero (a constant slice)
    instead of the 0 * inf = nan that sqrt's own gradient gives there."""
    from .arithmetic import where
    return where(std == 0, 0, g / (2 * std))


class VarMean(MultiOp):
    """``(var, mean)`` as one node, as torch records them, with var's and mean's gradients summed."""

    node_name = "VarMeanBackward0"
    root = False

    @classmethod
    def forward(cls, ctx, a, axes, keepdim, dof, whole):
        ctx.axes, ctx.keepdim, ctx.dof, ctx.whole = axes, keepdim, dof, whole
        v, m = _var_arrays(ctx.backend, a, axes, keepdim, dof, cls.root)
        ctx.spread = v
        return v, m if keepdim else ctx.backend.xp.reshape(m, v.shape)

    @classmethod
    def backward(cls, ctx, inputs, grads):
        (a,) = inputs
        g_spread, g_mean = grads
        shape = a._data.shape
        grad = None
        if g_spread is not None:
            if cls.root:
                g_spread = _std_grad(g_spread, _spread_of(ctx, a, g_spread))
            grad = _var_grad(g_spread, a, ctx.axes, ctx.keepdim, ctx.dof, ctx.whole)
        if g_mean is not None:
            g_mean = _restore(g_mean, shape, ctx.axes, ctx.keepdim).expand(shape) / _count(shape, ctx.axes)
            grad = g_mean if grad is None else grad + g_mean
        return (grad,)


def _spread_of(ctx, a, like):
    """StdMean's saved std as a tensor; under create_graph, recomputed from ``a`` so that gradients of
    the gradient see it depend on ``a`` (a constant gave second derivatives without its term)."""
    from ..autograd.grad_mode import GradMode
    if GradMode.enabled:
        return Std.apply(a, axes=ctx.axes, keepdim=ctx.keepdim, dof=ctx.dof, whole=ctx.whole)
    return type(like)._make(ctx.spread, like._dtype, like._backend)


class StdMean(VarMean):
    node_name = "StdMeanBackward0"
    root = True


def _spread_mean(name, op, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # torch's var_mean(input, unbiased) overload
        unbiased, dim = dim, None
    axes, dof = _var_args(name, input, dim, unbiased, correction)
    if input._dtype.category == _dt.COMPLEX:  # a real spread beside a complex mean: two nodes, torch's name
        spread = (Std if op.root else Var).apply(input, axes=axes, keepdim=keepdim, dof=dof, whole=dim is None)
        average = mean(input, axes, keepdim)
        return _nodes.named(spread, op.node_name), _nodes.named(average, op.node_name)
    return apply_multi(op, (input,), {"axes": axes, "keepdim": keepdim, "dof": dof, "whole": dim is None}, 2)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``, one autograd node (torch's VarMeanBackward0)."""
    return _spread_mean("var_mean", VarMean, input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``, one autograd node (torch's StdMeanBackward0)."""
    return _spread_mean("std_mean", StdMean, input, dim, unbiased, keepdim, correction)


class LogSumExp(_ReductionOfInputAndOutput):
    node_name = "LogsumexpBackward0"

    @classmethod
    def forward(cls, ctx, a, axes, keepdim):
        xp = ctx.backend.xp
        ctx.axes = axes
        ctx.keepdim = keepdim
        if a.size == 0:
            return _full(xp.log(xp.sum(xp.exp(a), axis=axes, keepdims=keepdim)), xp, a.ndim, axes, keepdim)
        m = xp.max(a, axis=axes, keepdims=True)
        # subtract the max so exp never overflows; an all -inf (or inf) slice keeps its value
        m = xp.where(xp.isfinite(m), m, xp.zeros((), dtype=m.dtype))
        out = xp.log(cls.total(ctx.backend, xp.exp(a - m), axes)) + m
        if not keepdim:
            out = xp.reshape(out, tuple(s for i, s in enumerate(out.shape) if i not in axes))
        return out

    @staticmethod
    def total(backend, e, axes):
        return backend.xp.sum(e, axis=axes, keepdims=True)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import exp
        a, out, g = ctx.restored(g)
        return g * exp(a - out)


class NarrowLogSumExp(LogSumExp):
    """float16/bfloat16 logsumexp as torch's: each step rounded to the dtype, the sum accumulated in float32;
    the gradient ``g * exp(x - result)`` of the rounded result, each op rounding (computed in float32, 33 of
    20000 bfloat16 values and 17284 gradients were an ulp off)."""

    node_name = LogSumExp.node_name

    @staticmethod
    def total(backend, e, axes):
        xp = backend.xp
        return xp.astype(xp.sum(e, axis=axes, keepdims=True, dtype=backend.native_dtype(_dt.float32)), e.dtype)


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow."""
    if axis is not None or keepdims is not None:  # torch's numpy-style names
        dim, keepdim = numpy_names(dim, keepdim, axis, keepdims)
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, logsumexp, input, dim, keepdim)
    if dim is None:
        dim = tuple(range(input._data.ndim))
    if input._dtype.category < _dt.FLOAT:
        input = input.to(_dt.get_default_dtype())
    op = NarrowLogSumExp if narrow_float(input._dtype) else LogSumExp
    return op.apply(input, axes=dims(dim, input._data.ndim), keepdim=keepdim)


class Norm2(_ReductionOfInputAndOutput):
    node_name = "LinalgVectorNormBackward0"  # torch's norm is linalg.vector_norm

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        xp = ctx.backend.xp
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _full(xp.sqrt(xp.sum(a * a, axis=axes, keepdims=keepdim)), xp, a.ndim, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        a, out, g = ctx.restored(g)
        # torch's subgradient at 0 is 0, not nan
        return a * where(out == 0, 0, g / where(out == 0, 1, out))


class NarrowNorm2(Norm2):
    """float16/bfloat16 2-norm: computed in float32 and rounded once (by ``opmath``), its gradient torch's
    ``g * (x / result)`` of the rounded result, each op rounding (7218 of 20000 bfloat16 gradients were an
    ulp off)."""

    node_name = Norm2.node_name

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        a, out, g = ctx.restored(g)
        return g * where(out == 0, 0, a / where(out == 0, 1, out))




def norm(input, p="fro", dim=None, keepdim=False, dtype=None, *, out=None):
    """Vector p-norm over ``dim`` (``'fro'`` and 2 are the Euclidean norm; ``inf``, ``-inf``, 0, 1, any p)."""
    if out is not None:
        return write_out("norm", out, norm(input, p, dim, keepdim, dtype))
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, norm, input, p, dim, keepdim, dtype)
    if isinstance(p, str) and p == "nuc":  # torch.norm's nuclear norm: linalg's, over every dim when none given
        from ..linalg import matrix_norm
        return matrix_norm(input, p, tuple(range(input.dim())) if dim is None else dim, keepdim, dtype=dtype)
    from .elementwise import abs as _abs
    if input._dtype.category == _dt.COMPLEX:
        input, dtype = _magnitudes(input, dtype), None
    if dtype is not None:
        input = input.to(dtype)
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_dt.scalar_type_name(input._dtype)}; convert first, e.g. x.float()")
    if isinstance(dim, int):
        dim = (dim,)
    axes = dims(dim, input._data.ndim)
    narrow = narrow_float(input._dtype)
    if p is None or p == "fro" or p == 2:
        return (_NARROW_NORM2 if narrow else Norm2).apply(input, axes=axes, keepdim=keepdim)
    if narrow and not isinstance(p, str) and p not in (0, 1, float("inf"), float("-inf")):
        return _NARROW_NORMP.apply(input, axes=axes, keepdim=keepdim, p=float(p))
    if narrow:
        return norm(input.to(_dt.float32), p, dim, keepdim).to(input._dtype)
    if isinstance(p, str):
        raise RuntimeError(f"norm(): p={p!r} is not supported for vector norms; use 'fro', a number, "
                           f"inf or -inf")
    inf = float("inf")
    if p == inf or p == -inf:
        from .minmax import NormInfMax, NormInfMin, _check_nonempty
        _check_nonempty(input, "amax" if p == inf else "amin", axes, axes != ())
        extreme = NormInfMax if p == inf else NormInfMin
        return extreme.apply(_abs(input), axes=axes, keepdim=keepdim)
    if p == 0 and input.requires_grad:
        from ..linalg import _count_nonzero  # torch's node, whose gradient is zero
        return _count_nonzero(input, dim, keepdim, None)
    if p == 0:
        return sum((input != 0).to(input._dtype), axes, keepdim)
    if p == 1:
        return _nodes.named(sum(_abs(input), axes, keepdim), Norm2.node_name)
    return NormP.apply(input, axes=axes, keepdim=keepdim, p=float(p))


def _magnitudes(z, dtype):
    """``|z|`` of complex ``z`` (cast to complex ``dtype`` first): torch's norm of a complex tensor is the
    real norm of its magnitudes, and |z|'s gradient z / |z| carries the norm's back to z."""
    if dtype is not None and dtype.category != _dt.COMPLEX:
        raise RuntimeError(f"linalg.vector_norm: dtype should be complex for complex inputs, but got "
                           f"{_dt.scalar_type_name(dtype)}; pass a complex dtype or none")
    from .elementwise import abs as _abs
    return _abs(z if dtype is None else z.to(dtype))


class NormP(_ReductionOfInputAndOutput):
    """``sum(|x|^p) ** (1/p)`` for p other than 0, 1, 2 and inf, with torch's gradient: zero where the norm
    is zero (and, for p < 1, where x is zero) instead of the nan that composing pow ops gives there."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim, p):
        xp = ctx.backend.xp
        ctx.axes = axes
        ctx.keepdim = keepdim
        ctx.p = p
        out = xp.sum(xp.abs(a) ** p, axis=axes, keepdims=keepdim) ** (1.0 / p)
        return _full(out, xp, a.ndim, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        from .elementwise import abs as _abs, sign
        a, out, g = ctx.restored(g)
        p = ctx.p
        scaled = sign(a) * _abs(a) ** (p - 1)
        if p < 1:
            scaled = where(a == 0, 0, scaled)
        return scaled * where(out == 0, 0, g / out ** (p - 1))


class NarrowNormP(NormP):
    """float16/bfloat16 p-norm: computed in float32 and rounded once (by ``opmath``), its gradient torch's
    ``norm_backward`` of the rounded result, op by op, each op rounding (11208 of 20000 bfloat16 gradients
    of p=3 were an ulp off, 8375 of p=1.5)."""

    node_name = NormP.node_name

    @staticmethod
    def backward(ctx, g):
        from .arithmetic import where
        a, out, g = ctx.restored(g)
        p = ctx.p
        if p < 1:
            return a.sign() * where(a == 0, 0, a.abs().pow(p - 1)) * g * out.pow(1 - p)
        scale = where(out == 0, 0, g / out.pow(p - 1))
        if p < 2:
            return a.sign() * a.abs().pow(p - 1) * scale
        return a * a.abs().pow(p - 2) * scale


_NARROW_NORM2 = opmath(NarrowNorm2)
_NARROW_NORMP = opmath(NarrowNormP)


def _scan(op, t, axis):
    """``op`` (CumSum, CumProd) along ``axis``, accumulating in ``_scan_dtype``."""
    acc = _scan_dtype(t._dtype)
    return op.apply(t, axis=axis, acc=None if acc is None else t._backend.native_dtype(acc))


class _Scan(Op):
    """A running ``xp.<fn>`` along ``axis``, accumulated in ``acc`` (None: in the input's dtype)."""

    fn = "cumulative_sum"

    @classmethod
    def forward(cls, ctx, a, axis, acc):
        ctx.axis = axis
        xp = ctx.backend.xp
        if a.ndim == 0:  # a running sum or product of one value is that value
            return xp.asarray(a, copy=True)
        out = getattr(xp, cls.fn)(a, axis=axis, dtype=a.dtype if acc is None else acc)  # numpy: int32 -> int64
        return out if acc is None else xp.astype(out, a.dtype)


class CumSum(_Scan):
    node_name = "CumsumBackward0"
    fn = "cumulative_sum"

    @staticmethod
    def backward(ctx, g):
        from .shape import flip
        if g.dim() == 0:
            return g
        return flip(_scan(CumSum, flip(g, (ctx.axis,)), ctx.axis), (ctx.axis,))


def _cumulative(op, input, dim, dtype):
    """A running sum/product along ``dim``; integer and bool inputs accumulate in int64 (torch)."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._dtype.category < _dt.FLOAT:
        input = input.to(_dt.int64)
    axes = dims(dim, input._data.ndim)  # checks dim; () for a 0-d input
    return _scan(op, input, axes[0] if axes else 0)


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``. Integer and bool sums are int64."""
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, cumsum, input, dim, dtype=dtype)
    return _cumulative(CumSum, input, dim, dtype)


class CumProd(_Scan):
    node_name = "CumprodBackward0"
    fn = "cumulative_prod"
    save_inputs = (0,)
    save_output = True

    @staticmethod
    def backward(ctx, g):
        # dy_k/dx_i = prod_{j<=k, j!=i} x_j. Before the first zero along the axis x_i != 0, so the
        # grad is revcumsum(g*y)_i / x_i; at the first zero it is revcumsum(g*y')_i with that zero
        # replaced by 1 in y' = cumprod(x'); past it every term holds the zero: 0 (torch's cases)
        from .arithmetic import where
        from .shape import flip
        (x,) = ctx.saved_tensors_list()
        axis = ctx.axis
        if x.numel() <= 1 or x.dim() == 0 or x.shape[axis] == 1:
            return g  # torch's cumprod_backward: a slice of one is the identity (inf/NaN included)

        def revcumsum(t):
            return flip(_scan(CumSum, flip(t, (axis,)), axis), (axis,))

        zero = x == 0
        zeros_so_far = _scan(CumSum, zero.to(_dt.int64), axis)
        before = zeros_so_far == 0
        first = zero & (zeros_so_far == 1)
        # torch's first-order formula sums, before the first zero, only the outputs before it: an inf past
        # the zero gives no 0 * inf = NaN there (its differentiable formula under create_graph keeps them)
        from ..autograd.grad_mode import GradMode
        w = g * ctx.output()
        if not GradMode.enabled:
            w = where(before, w, 0)
        grad = where(before, revcumsum(w) / where(zero, 1, x), 0)
        if bool(first.any()):
            y_first = _scan(CumProd, where(first, 1, x), axis)
            grad = where(first, revcumsum(g * y_first), grad)
        return grad


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim``. Integer and bool products are int64."""
    if _amp.active and dtype is None and _amp.applies():
        return _amp.run(_amp.FLOAT32, cumprod, input, dim, dtype=dtype)
    return _cumulative(CumProd, input, dim, dtype)


def _logical_reduce(name):
    def reduce(input, dim=None, keepdim=False):
        from ..tensor import Tensor
        xp = input._backend.xp
        data = input._data
        if input._dtype is not _dt.bool_:
            data = data != 0
        if isinstance(dim, int):
            dim = (dim,)
        out = xp.asarray(getattr(xp, name)(data, axis=dims(dim, data.ndim, empty_is_all=False), keepdims=keepdim))
        dtype = _dt.uint8 if input._dtype is _dt.uint8 else _dt.bool_  # torch's convention from before bool
        return Tensor._make(out if dtype is _dt.bool_ else xp.astype(out, xp.uint8), dtype, input._backend)
    reduce.__name__ = name
    reduce.__doc__ = f"Whether {name} elements are true (non-zero) over ``dim``; a bool tensor (uint8 for uint8)."
    return reduce


all = _logical_reduce("all")
any = _logical_reduce("any")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M): (..., P, R).
    Computed from the broadcast differences, so the gradient at a zero distance is 0, as torch's."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, cdist, x1, x2, p, compute_mode)
    if x1.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D")
    if x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    for name, x in (("X1", x1), ("X2", x2)):
        if x._dtype.category != _dt.FLOAT:  # integers and complex: torch has no kernel
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dt.scalar_type_name(x._dtype)}; convert it first, e.g. {name.lower()}.float()")
    if narrow_float(x1._dtype) or narrow_float(x2._dtype):
        narrow = x1._dtype if narrow_float(x1._dtype) else x2._dtype
        raise NotImplementedError(f"\"cdist\" not implemented for '{_dt.scalar_type_name(narrow)}' (torch has no "
                                  f"kernel for it); convert the inputs first, e.g. x1.float()")
    from .arithmetic import where
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    # pairs at distance 0 get 0 and a zero gradient (a p-norm's derivative is 0/0 there)
    same = (diff == 0).all(-1)
    safe = where(same.unsqueeze(-1), 1.0, diff)
    if not diff.shape[-1]:  # no coordinates: every distance is 0 (norm inf / -inf would refuse the empty dim)
        distance = safe.abs().sum(-1)
    elif p == float("inf"):
        distance = CdistInf.apply(safe)
    else:
        distance = norm(safe, p, dim=-1)
    return _nodes.named(where(same, 0.0, distance), "CdistBackward0")  # torch's one node


class CdistInf(Op):
    """``max |d|`` over the last dim with torch's cdist gradient: each tied element gets the whole of it
    (amax, and so norm(p=inf), split it among the ties)."""

    save_inputs = (0,)
    save_output = True

    @staticmethod
    def forward(ctx, d):
        xp = ctx.backend.xp
        return xp.asarray(xp.max(xp.abs(d), axis=-1))

    @staticmethod
    def backward(ctx, g):
        from .elementwise import sign
        (d,) = ctx.saved_tensors_list()
        return g.unsqueeze(-1) * sign(d) * (d.abs() == ctx.output().unsqueeze(-1))
