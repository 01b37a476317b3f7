"""Private Ops behind ``nn.functional``: fused kernels (linear, cross-entropy, normalisation...)
and activations the core op library does not offer; softmax, logsumexp, erf and clamp
come from the core (``tensorplug.ops``).

Each forward computes on backend arrays through ``ctx.backend.xp``; each
backward is written with tensorplug ops so double backward works.
"""
from __future__ import annotations

import math
import struct

from .. import dtypes as _dt
from ..autograd.function import Op
from ..autograd.grad_mode import GradMode
from ..ops._opmath import is_narrow, opmath
from ..ops.elementwise import erf
from ..ops.minmax import clamp
from ..ops.linalg import matmul_arrays
from ..ops._util import c_order
from ..ops.softmax import Softmax
from ..tensor import Tensor


class Linear(Op):
    """``x @ w.T + b`` in one node (the backward of a 2-D matmul + bias add, without reshapes)."""

    node_name = "AddmmBackward0"  # torch's linear on a matrix with a bias

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b):
        xp = ctx.backend.xp
        # rows of any batch shape as one matrix: one GEMM where numpy's matmul makes one per leading
        # index (a transformer's (8, 64, 128) @ (128, 384): 820 -> 580 us)
        x2 = xp.reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
        out = ctx.backend.fused_linear(x2, w, b)
        if out is NotImplemented:
            out = matmul_arrays(xp, x2, w.T)
            if b is not None:
                out += b
        return xp.reshape(out, x.shape[:-1] + (w.shape[0],)) if x.ndim != 2 else out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors_list()
        need_w, need_b = ctx.needs_grad(1), ctx.needs_grad(2)
        gx = g @ w if ctx.needs_grad(0) else None
        gw = gb = None
        if need_w or need_b:
            g2 = g.reshape(-1, w.shape[0]) if g.ndim != 2 else g
            if need_w:
                x2 = x.reshape(-1, w.shape[1]) if x.ndim != 2 else x
                gw = g2.t() @ x2
            if need_b:
                gb = g2.sum(0)
        return gx, gw, gb

    @staticmethod
    def fast_backward(ctx, g):
        # the same formulas on arrays: no transpose/matmul/sum ops dispatched per step
        x, w = ctx.saved_arrays()
        xp = ctx.backend.xp
        need_w, need_b = ctx.needs_grad(1), ctx.needs_grad(2)
        g2 = xp.reshape(g, (-1, w.shape[0])) if g.ndim != 2 else g  # one GEMM, as in forward
        gx = _shaped(xp, matmul_arrays(xp, g2, w), x.shape) if ctx.needs_grad(0) else None
        gw = gb = None
        if need_w:
            x2 = xp.reshape(x, (-1, w.shape[1])) if x.ndim != 2 else x
            gw = matmul_arrays(xp, g2.T, x2)
        if need_b:
            # a GEMV with ones: 2-3x faster than numpy's column sum at these shapes
            gb = matmul_arrays(xp, _ones(ctx.backend, g2.shape[0], g2.dtype), g2)
        return gx, gw, gb


_ONES = {}


def _ones(backend, n, dtype):
    """A cached read-only vector of ``n`` ones (the bias gradient's GEMV operand)."""
    key = (backend, n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 16:  # a few batch sizes are live at a time
            _ONES.clear()
        ones = _ONES[key] = backend.xp.ones((n,), dtype=dtype)
    return ones


# activations -----------------------------------------------------------------------

class LeakyRelu(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, slope):
        xp = ctx.backend.xp
        ctx.slope = slope
        return xp.where(a > 0, a, a * slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        xp = ctx.backend.xp
        scale = xp.where(x._data > 0, xp.ones_like(x._data), xp.full_like(x._data, ctx.slope))
        return g * ctx.tensor(scale)


class Hardswish(Op):
    """``x * clip(x + 3, 0, 6) / 6``; torch's backward is a where, so a NaN gradient stays out below -3."""

    save_inputs = (0,)
    node_name = "HardswishBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        return a * xp.clip(a + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        (x,) = ctx.saved_tensors_list()
        return where(x <= -3, 0.0, where(x < 3, g * (x / 3 + 0.5), g))


class Elu(Op):
    """torch's elu kernel: ``scale * x`` above 0, ``alpha * scale * expm1(input_scale * x)`` else
    (selu: its alpha and scale; celu: ``input_scale = 1 / alpha``)."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale=1.0):
        xp = ctx.backend.xp
        ctx.alpha = alpha
        ctx.scale = scale
        ctx.input_scale = input_scale
        negcoef, poscoef = alpha * scale, scale
        if getattr(ctx, "narrow", None) is not None:  # widened float16/bfloat16: torch's float32 coefficients
            negcoef, poscoef, input_scale = _f32(_f32(alpha) * _f32(scale)), _f32(scale), _f32(input_scale)
        neg = xp.minimum(a, xp.zeros_like(a))
        if input_scale != 1:
            neg = neg * input_scale
        return xp.where(a > 0, a * poscoef, xp.expm1(neg) * negcoef)  # torch's expm1 (exp - 1 rounds twice)

    # torch's elu_backward of the input; its test x <= 0 sends NaN to the scale
    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        (x,) = ctx.saved_tensors_list()
        k = ctx.input_scale
        neg = (x * k if k != 1 else x).exp() * (ctx.alpha * ctx.scale * k)
        return g * where(x <= 0, neg, ctx.scale)


def _f32(v):
    """The Python float ``v`` rounded to float32."""
    return struct.unpack("f", struct.pack("f", v))[0]


def _libm(ctx, fn, a):
    """``xp.<fn>(a)``; for a widened float16/bfloat16 op, torch's float32 function correctly rounded (from
    float64: NumPy's float32 exp is not, and put 6-24 of 100000 float16 mish and silu values an ulp off)."""
    xp = ctx.backend.xp
    if getattr(ctx, "narrow", None) is None:
        return getattr(xp, fn)(a)
    return xp.astype(getattr(xp, fn)(xp.astype(a, ctx.backend.native_dtype(_dt.float64))), a.dtype)


class EluResult(Elu):
    """``Elu`` written in place: torch's ``elu_`` derives from its result, ``g * input_scale * (y + alpha *
    scale)`` where ``y <= 0`` (its input is gone)."""

    save_inputs = ()
    save_output = True

    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        y = ctx.output()
        return where(y <= 0, g * ctx.input_scale * (y + ctx.alpha * ctx.scale), g * ctx.scale)


class Gelu(Op):
    """GELU: exact ``x * Phi(x)``, or ``approximate='tanh'``: ``0.5 * x * (1 + tanh(k * (x + c * x**3)))``.

    Forward saves Phi(x) (or the tanh) for the backward; a backend's ``fused_gelu`` /
    ``fused_gelu_backward`` (optional: ``Backend``'s decline) compute both in a few passes.
    """

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, approximate):
        ctx.approximate = approximate
        # float16/bfloat16 (widened): torch's float32 formula as written, whose 1 + erf cancels below -3
        # (the backend's fused gelu is more accurate there: 384 of 20000 bfloat16 values came out apart)
        done = NotImplemented if getattr(ctx, "narrow", None) else ctx.backend.fused_gelu(a, approximate)
        if done is not NotImplemented:
            out, ctx.saved = done
            return out
        if approximate == "tanh":
            xp = ctx.backend.xp
            ctx.saved = xp.tanh((a + a * a * a * _TANH_C) * _TANH_K)
            return a * 0.5 * (ctx.saved + 1)
        ctx.saved = (ctx.backend.erf(a * _SQRT1_2) + 1) * 0.5
        return a * ctx.saved

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        if ctx.approximate == "tanh":
            th = ((x + x * x * x * _TANH_C) * _TANH_K).tanh() if GradMode.enabled else ctx.tensor(ctx.saved)
            inner = (x * x * (3 * _TANH_C) + 1) * _TANH_K
            return g * ((th + 1) * 0.5 + x * 0.5 * (1 - th * th) * inner)
        cdf = (erf(x * _SQRT1_2) + 1) * 0.5 if GradMode.enabled else ctx.tensor(ctx.saved)
        pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
        return g * (cdf + x * pdf)

    @staticmethod
    def fast_backward(ctx, g):
        (x,) = ctx.saved_arrays()
        narrow = getattr(ctx, "narrow", None)
        gx = NotImplemented if narrow else ctx.backend.fused_gelu_backward(x, ctx.saved, g, ctx.approximate)
        if gx is not NotImplemented:
            return gx
        xp = ctx.backend.xp
        if ctx.approximate == "tanh":
            th = ctx.saved
            return g * ((th + 1) * 0.5 + x * 0.5 * (1 - th * th) * ((x * x * (3 * _TANH_C) + 1) * _TANH_K))
        return g * (ctx.saved + x * xp.exp(x * x * -0.5) * _INV_SQRT_2PI)


class Silu(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        d = 1 + _libm(ctx, "exp", -a)
        ctx.sig = 1 / d
        return a / d  # torch's x / (1 + exp(-x)): a * sigmoid rounds once more

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        s = x.sigmoid() if GradMode.enabled else ctx.tensor(ctx.sig)
        return g * (s * (1 + x * (1 - s)))


class Softplus(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, beta, threshold):
        xp = ctx.backend.xp
        ctx.beta = beta
        ctx.threshold = threshold
        z = a * beta
        if getattr(ctx, "narrow", None) is None:
            soft = xp.logaddexp(xp.zeros_like(z), z) / beta
        else:  # widened float16/bfloat16: torch's float32 formula (the threshold keeps exp finite)
            soft = _libm(ctx, "log1p", _libm(ctx, "exp", z)) / beta
        return xp.where(z > threshold, a, soft)

    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        (x,) = ctx.saved_tensors_list()
        z = x * ctx.beta
        return g * where(z > ctx.threshold, 1.0, z.sigmoid())


class LogSigmoid(Op):
    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        z = xp.exp(-xp.abs(a))
        narrow = getattr(ctx, "narrow", None)
        # torch's log_sigmoid_backward reads this buffer, which it keeps in the input's dtype
        ctx.buffer = z if narrow is None else xp.astype(xp.astype(z, narrow), z.dtype)
        return xp.minimum(a, xp.zeros_like(a)) - xp.log1p(z)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        return g * (-x).sigmoid()

    @staticmethod
    def fast_backward(ctx, g):
        (x,) = ctx.saved_arrays()
        xp = ctx.backend.xp
        z = ctx.buffer
        p = z / (1 + z)
        return xp.where(x < 0, 1 - p, p) * g  # torch's (max_deriv - sign * z / (1 + z)) * g


class Mish(Op):
    """``x * tanh(softplus(x))``, with torch's mish_backward."""

    save_inputs = (0,)
    node_name = "MishBackward0"

    @staticmethod
    def forward(ctx, a):
        xp = ctx.backend.xp
        if getattr(ctx, "narrow", None) is None:
            return a * xp.tanh(xp.logaddexp(xp.zeros_like(a), a))
        return a * _libm(ctx, "tanh", _libm(ctx, "log1p", _libm(ctx, "exp", a)))  # torch's float32 formula

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        th = (Softplus.apply(x, beta=1.0, threshold=20.0) if GradMode.enabled else
              ctx.tensor(ctx.backend.xp.logaddexp(ctx.backend.xp.zeros_like(x._data), x._data))).tanh()
        return g * (th + x * x.sigmoid() * (1 - th * th))


class Hardsigmoid(Op):
    """``clip(x + 3, 0, 6) / 6``; torch's gradient is ``g / 6`` strictly inside (-3, 3), else 0."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a):
        return ctx.backend.xp.clip(a + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        from ..ops.arithmetic import where
        (x,) = ctx.saved_tensors_list()
        return where((x > -3) & (x < 3), g / 6, 0.0)


# float16 / bfloat16 inputs of the activations take these: torch computes them and their *_backward
# kernels in float32 and rounds once (elementwise chains in bfloat16 were an ulp off for up to half the
# elements: mish 4659 of 20000, hardsigmoid 5315, leaky_relu 1863, logsigmoid 3369)
_IN_FLOAT32 = {op: opmath(op, backward=True) for op in (LeakyRelu, Elu, EluResult, Gelu, Silu, Softplus, LogSigmoid,
                                                        Mish, Hardsigmoid, Hardswish)}


def activation(op, x):
    """``op``, or its float32-computing twin where ``x`` is float16 or bfloat16."""
    return _IN_FLOAT32[op] if is_narrow(x) else op


LinearNoBias = Linear.renamed("MmBackward0")
# torch's linear on other than a matrix multiplies the rows as one matrix and then views the result: the
# node it hands back is the view's (a vector's bias-free product is squeezed instead)
_LINEAR_OPS = {(2, True): Linear, (2, False): LinearNoBias,
               (1, True): Linear.renamed("ViewBackward0"), (1, False): Linear.renamed("SqueezeBackward4"),
               (3, True): Linear.renamed("ViewBackward0"), (3, False): Linear.renamed("UnsafeViewBackward0")}


def linear_op(ndim, bias):
    """The Linear op recording torch's node for an input of ``ndim`` dimensions, with or without a bias."""
    return _LINEAR_OPS[min(ndim, 3), bias]


class MulMask(Op):
    """``a * mask`` for a constant ``mask`` array (dropout)."""

    node_name = "MulBackward0"  # torch's dropout multiplies by its mask

    @staticmethod
    def forward(ctx, a, mask):
        ctx.mask = mask
        return a * mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.tensor(ctx.mask)


# embedding -------------------------------------------------------------------------

class Embedding(Op):
    """Rows of ``weight`` picked by integer ``index`` (any shape)."""

    # the index is saved with its version: an in-place write to it before backward is an error
    save_inputs = (1,)

    @staticmethod
    def forward(ctx, weight, index, padding_idx, scale_grad_by_freq=False):
        xp = ctx.backend.xp
        ctx.num = weight.shape[0]
        ctx.index = index
        ctx.padding_idx = padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        flat = xp.reshape(index, (-1,))
        return xp.reshape(xp.take(weight, flat, axis=0), tuple(index.shape) + (weight.shape[1],))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors_list()
        return EmbeddingBackward.apply(g, ctx.index, num=ctx.num, padding_idx=ctx.padding_idx,
                                       scale_grad_by_freq=ctx.scale_grad_by_freq), None


class EmbeddingBackward(Op):
    """The weight's gradient: the rows of ``g`` summed into their indices' rows (each divided by how
    often its index occurs in the batch with ``scale_grad_by_freq``)."""

    @staticmethod
    def forward(ctx, g, index, num, padding_idx, scale_grad_by_freq=False):
        backend = ctx.backend
        xp = backend.xp
        ctx.index = index
        ctx.padding_idx = padding_idx
        dim = g.shape[-1]
        flat = xp.reshape(index, (-1,))
        values = xp.reshape(g, (-1, dim))
        ctx.inverse_counts = None  # (num, 1), with scale_grad_by_freq
        if scale_grad_by_freq:
            # torch scales each row of g by 1 / its index's count before summing
            counts = backend.zeros((num,), backend.dtype_of(g))
            backend.scatter_add(counts, (flat,), backend.ones(flat.shape, backend.dtype_of(g)))
            ctx.inverse_counts = xp.reshape(1 / xp.maximum(counts, 1), (num, 1))
            values = values * xp.take(ctx.inverse_counts, flat, axis=0)
        out = backend.zeros((num, dim), backend.dtype_of(g))
        backend.scatter_add(out, (flat,), values)
        if padding_idx is not None:
            out[padding_idx, ...] = 0
        return out

    @staticmethod
    def backward(ctx, gg):
        if ctx.padding_idx is not None:
            gg = gg.clone()
            gg[ctx.padding_idx] = 0
        if ctx.inverse_counts is not None:
            gg = gg * ctx.tensor(ctx.inverse_counts)
        return Embedding.apply(gg, ctx.index, padding_idx=None), None


# normalisation -------------------------------------------------------------------------

class Normalize(Op):
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` with precomputed biased ``mean`` and ``var``."""

    save_inputs = (0,)

    @staticmethod
    def forward(ctx, a, mean, var, axes, eps):
        xp = ctx.backend.xp
        ctx.axes = axes
        ctx.eps = eps
        rstd = 1 / xp.sqrt(var + eps)
        xhat = (a - mean) * rstd
        ctx.rstd = rstd
        ctx.xhat = xhat
        return xhat

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        axes = ctx.axes
        if GradMode.enabled:
            mu = x.mean(axes, keepdim=True)
            d = x - mu
            rstd = ((d * d).mean(axes, keepdim=True) + ctx.eps) ** -0.5
            xhat = d * rstd
        else:
            rstd = ctx.tensor(ctx.rstd)
            xhat = ctx.tensor(ctx.xhat)
        return rstd * (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True))


class LayerNorm(Op):
    """``(x - mean) / sqrt(var + eps) * w + b`` over the trailing dims, in one node.

    Works on ``(rows, cols)`` views of the arrays; half and bfloat16 inputs are normalised in float32
    (torch's accumulation type) and rounded once. Saves ``xhat`` and ``rstd`` for the backward,
    whose array form makes about ten passes where the composed ops made twenty-odd and six nodes.
    """

    node_name = "NativeLayerNormBackward0"  # torch's
    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b, dims, eps):
        xp = ctx.backend.xp
        ctx.eps = eps
        ctx.shape = tuple(x.shape[x.ndim - dims:])  # the normalized shape: w's and b's
        cols = math.prod(ctx.shape)
        x2 = c_order(ctx.backend, _rows(xp, x, cols))  # a strided input's rows: torch's result is contiguous
        w2, b2 = (None if a is None else _cast_like(xp, xp.reshape(a, (cols,)), x2) for a in (w, b))
        done = ctx.backend.fused_layer_norm(x2, w2, b2, eps)
        y, ctx.xhat, ctx.rstd = _layer_norm(xp, x2, w2, b2, eps) if done is NotImplemented else done
        return _shaped(xp, _cast_like(xp, y, x), x.shape)

    @staticmethod
    def backward(ctx, g):
        # the formulas of fast_backward in tensor ops (double backward); xhat recomputed to be differentiable
        x, w = ctx.saved_tensors_list()
        dims = len(ctx.shape)
        axes = tuple(range(x.dim() - dims, x.dim()))
        lead = tuple(range(x.dim() - dims))
        d = x - x.mean(axes, keepdim=True)
        rstd = ((d * d).mean(axes, keepdim=True) + ctx.eps) ** -0.5
        xhat = d * rstd
        gh = g * w if w is not None else g
        gx = rstd * (gh - gh.mean(axes, keepdim=True) - xhat * (gh * xhat).mean(axes, keepdim=True))
        gw = (g * xhat).sum(lead) if ctx.needs_grad(1) else None
        gb = g.sum(lead) if ctx.needs_grad(2) else None
        return gx, gw, gb

    @staticmethod
    def fast_backward(ctx, g):
        x, w = ctx.saved_arrays()
        xp = ctx.backend.xp
        xhat, rstd = ctx.xhat, ctx.rstd
        cols = xhat.shape[1]
        g2 = _rows(xp, g, cols)
        w2 = None if w is None else _cast_like(xp, xp.reshape(w, (cols,)), g2)
        need = [ctx.needs_grad(i) for i in range(3)]
        grads = ctx.backend.fused_layer_norm_backward(g2, w2, xhat, rstd, *need)
        if grads is NotImplemented:
            grads = _layer_norm_backward(xp, g2, w2, xhat, rstd, *need)
        shapes = (x.shape, ctx.shape, ctx.shape)
        return tuple(None if a is None else _shaped(xp, _cast_like(xp, a, g), s) for a, s in zip(grads, shapes))


def _layer_norm(xp, x2, w2, b2, eps):
    """``fused_layer_norm``'s contract in array code (the backend declined)."""
    xhat = x2 - xp.mean(x2, axis=1, keepdims=True)
    var = xp.vecdot(xhat, xhat, axis=-1)[:, None] / x2.shape[1]  # one pass, no temporary
    rstd = 1 / xp.sqrt(var + eps)
    xhat *= rstd
    y = xhat * w2 if w2 is not None else xp.asarray(xhat, copy=True)
    if b2 is not None:
        y += b2
    return y, xhat, rstd


def _layer_norm_backward(xp, g2, w2, xhat, rstd, need_x, need_w, need_b):
    """``fused_layer_norm_backward``'s contract in array code (the backend declined)."""
    gw = xp.sum(g2 * xhat, axis=0) if need_w else None
    gb = xp.sum(g2, axis=0) if need_b else None
    gx = None
    if need_x:
        gx = g2 * w2 if w2 is not None else xp.asarray(g2, copy=True)
        dot = xp.vecdot(gx, xhat, axis=-1)[:, None] / xhat.shape[1]
        gx -= xp.mean(gx, axis=1, keepdims=True)
        gx -= xhat * dot
        gx *= rstd
    return gx, gw, gb


def _rows(xp, a, cols):
    """``a`` as (rows, cols) in float32 or float64 (half and bfloat16 widened to float32, as torch)."""
    a2 = xp.reshape(a, (-1, cols))
    return a2 if a2.dtype in (xp.float32, xp.float64) else xp.astype(a2, xp.float32)


def _shaped(xp, a, shape):
    """``a`` in ``shape``; itself when it has it: a reshaped view does not own its data, so a leaf's
    gradient would be copied once more (autograd's owned_grad)."""
    return a if tuple(a.shape) == tuple(shape) else xp.reshape(a, shape)


def _cast_like(xp, a, like):
    return a if a.dtype == like.dtype else xp.astype(a, like.dtype)


# losses -----------------------------------------------------------------------------------

class CrossEntropy(Op):
    """Softmax cross-entropy of ``(M, C)`` logits against ``(M,)`` class indices, in one node.

    Supports class ``weight``, ``ignore_index`` and ``label_smoothing``;
    ``reduction`` is 'none' (an ``(M,)`` result), 'mean' or 'sum'. The
    gradient is ``softmax - onehot`` scaled per row. Targets outside
    ``[0, C)`` raise IndexError. Without weights and smoothing the backend's
    ``fused_cross_entropy`` computes it where it offers one (one or two
    kernels on a GPU instead of about fifteen array operations).
    """

    node_name = "NllLossBackward0"  # torch's cross_entropy is nll_loss of log_softmax
    save_inputs = (0,)
    fused = False

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction):
        backend = ctx.backend
        xp = backend.xp
        m, c = x.shape
        ctx.target = target
        ctx.ignore_index = ignore_index
        ctx.weight = weight
        ctx.smoothing = smoothing
        ctx.reduction = reduction
        if weight is None and not smoothing:
            fused = backend.fused_cross_entropy(x, target, ignore_index, reduction)
            if fused is not NotImplemented:
                loss, ctx.logp, ctx.denom, bad = fused
                row = int(bad)  # the kernel's range check: one value read back
                if row >= 0:
                    raise target_out_of_bounds(int(target[row]), c, ignore_index)
                ctx.fused = True
                return loss
        if m:
            bad = (target != ignore_index) & ((target < 0) | (target >= c))
            if bool(xp.any(bad)):
                raise target_out_of_bounds(int(target[bad][0]), c, ignore_index)
        shifted = x - xp.max(x, axis=1, keepdims=True)
        logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        ctx.logp = logp
        safe, w_t, valid = CrossEntropy.row_weights(ctx)
        picked = xp.reshape(backend.take_along_axis(logp, xp.reshape(safe, (m, 1)), 1), (m,))
        zero = xp.zeros((), dtype=x.dtype)
        loss = xp.where(valid, -(w_t * picked), zero)  # an ignored row adds 0 even where its logits are inf
        if smoothing:
            smooth = -(xp.sum(logp * weight, axis=1) if weight is not None else xp.sum(logp, axis=1))
            smooth = xp.where(valid, smooth, zero)
            loss = loss * (1 - smoothing) + smooth * (smoothing / c)
        if reduction == "none":
            return loss
        total = xp.sum(loss)
        if reduction == "sum":
            return total
        denom = xp.sum(w_t)
        ctx.denom = xp.where(denom == 0, xp.ones_like(denom), denom)  # every row's grad is 0 then, as in torch
        return total / _safe_denominator(xp, denom)

    @staticmethod
    def row_weights(ctx):
        """``(safe, w_t, valid)``: targets with ignored rows at 0, each row's weight (0 where ignored),
        the mask of rows not ignored; kept on ctx (the fused forward computes them only if needed)."""
        if "w_t" in ctx.__dict__:
            return ctx.safe, ctx.w_t, ctx.valid
        xp = ctx.backend.xp
        target = ctx.target
        m = target.shape[0]
        dtype = ctx.logp.dtype
        valid = target != ctx.ignore_index
        safe = xp.where(valid, target, xp.zeros_like(target))
        w_t = xp.take(ctx.weight, safe, axis=0) if ctx.weight is not None else xp.ones((m,), dtype=dtype)
        w_t = xp.where(valid, w_t, xp.zeros((), dtype=dtype))
        ctx.safe, ctx.w_t, ctx.valid = safe, w_t, valid
        return safe, w_t, valid

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors_list()
        backend = ctx.backend
        xp = backend.xp
        m, c = x.shape
        dtype = ctx.logp.dtype
        CrossEntropy.row_weights(ctx)
        p = Softmax.apply(x, axis=1) if GradMode.enabled else ctx.tensor(xp.exp(ctx.logp))
        onehot = xp.astype(xp.reshape(ctx.safe, (m, 1)) == xp.arange(c, dtype=ctx.safe.dtype), dtype)
        eps = ctx.smoothing
        # d loss_i / d x_i = (1 - eps) w_t (p - onehot) + eps / C (sum(w) p - w), zero where ignored
        grad = (p - ctx.tensor(onehot)) * ctx.tensor(xp.reshape(ctx.w_t * (1 - eps), (m, 1)))
        if eps:
            valid = xp.reshape(xp.astype(ctx.valid, dtype), (m, 1))
            if ctx.weight is not None:
                w = ctx.weight
                total_w = xp.sum(w)
                grad = grad + (p * float(total_w) - ctx.tensor(xp.reshape(w, (1, c)))) * ctx.tensor(valid * (eps / c))
            else:
                grad = grad + (p * c - 1) * ctx.tensor(valid * (eps / c))
        if ctx.reduction == "none":
            return _ignored_rows_zero(ctx, grad * g.unsqueeze(1), g), None
        if ctx.reduction == "mean":
            g = g / ctx.tensor(ctx.denom)
        return _ignored_rows_zero(ctx, grad * g, g), None

    @staticmethod
    def fast_backward(ctx, g):
        # backward's formula on arrays (no graph of it is built): no op dispatch per term
        ctx.saved_arrays()  # the version check of the saved logits
        backend = ctx.backend
        if ctx.fused:
            grad = backend.fused_cross_entropy_backward(ctx.logp, ctx.target, ctx.ignore_index, g, ctx.denom,
                                                        ctx.reduction)
            if grad is not NotImplemented:
                return _ignored_rows_zero(ctx, grad, g), None
        CrossEntropy.row_weights(ctx)
        xp = backend.xp
        logp = ctx.logp
        m, c = logp.shape
        dtype = logp.dtype
        grad = xp.exp(logp)
        onehot = xp.reshape(ctx.safe, (m, 1)) == xp.arange(c, dtype=ctx.safe.dtype)
        grad -= xp.astype(onehot, dtype)
        grad *= xp.reshape(ctx.w_t * (1 - ctx.smoothing), (m, 1))
        eps = ctx.smoothing
        if eps:
            p = xp.exp(logp)
            valid = xp.reshape(xp.astype(ctx.valid, dtype), (m, 1)) * (eps / c)
            if ctx.weight is not None:
                w = ctx.weight
                grad += (p * xp.sum(w) - xp.reshape(w, (1, c))) * valid
            else:
                grad += (p * c - 1) * valid
        if ctx.reduction == "none":
            return _ignored_rows_zero(ctx, grad * xp.reshape(g, (m, 1)), g), None
        if ctx.reduction == "mean":
            g = g / ctx.denom
        return _ignored_rows_zero(ctx, grad * g, g), None


def _finite(xp, g):
    """Whether every value of ``g`` is finite (a 0-d g through float(): 0.3 us against 6 for isfinite/all)."""
    if g.ndim == 0:
        return math.isfinite(float(g))
    return bool(xp.all(xp.isfinite(g)))


def _ignored_rows_zero(ctx, grad, g):
    """``grad`` with 0 in the ignored rows when ``g`` holds NaN or inf: torch's nll backward never writes
    those rows, where a product with the row's zero weight gives NaN (checked first: the common case is free)."""
    xp = ctx.backend.xp
    if _finite(xp, g._data if isinstance(g, Tensor) else g):
        return grad
    CrossEntropy.row_weights(ctx)
    valid = xp.reshape(ctx.valid, (-1, 1))
    if isinstance(grad, Tensor):
        from ..ops.arithmetic import where
        return where(ctx.tensor(valid), grad, 0.0)
    return xp.where(valid, grad, xp.zeros((), dtype=grad.dtype))


class NllLoss(Op):
    """Negative log-likelihood of ``(M, C)`` log-probabilities at ``(M,)`` class indices."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        backend = ctx.backend
        xp = backend.xp
        m, c = x.shape
        valid = target != ignore_index
        safe = xp.where(valid, target, xp.zeros_like(target))
        picked = xp.reshape(backend.take_along_axis(x, xp.reshape(safe, (m, 1)), 1), (m,))
        w_t = xp.take(weight, safe, axis=0) if weight is not None else xp.ones((m,), dtype=x.dtype)
        zero = xp.zeros((), dtype=x.dtype)
        w_t = xp.where(valid, w_t, zero)
        loss = xp.where(valid, -(w_t * picked), zero)  # an ignored row adds 0 even where it holds inf
        ctx.shape = x.shape
        ctx.safe = safe
        ctx.w_t = w_t
        ctx.valid = valid
        ctx.reduction = reduction
        if reduction == "none":
            return loss
        if reduction == "sum":
            return xp.sum(loss)
        denom = xp.sum(w_t)
        ctx.denom = xp.where(denom == 0, xp.ones_like(denom), denom)
        return xp.sum(loss) / _safe_denominator(xp, denom)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.backend.xp
        m, c = ctx.shape
        dtype = ctx.w_t.dtype
        onehot = xp.astype(xp.reshape(ctx.safe, (m, 1)) == xp.arange(c, dtype=ctx.safe.dtype), dtype)
        grad = ctx.tensor(onehot * xp.reshape(-ctx.w_t, (m, 1)))
        gx = grad * (g.unsqueeze(1) if ctx.reduction == "none" else g / ctx.tensor(ctx.denom)
                     if ctx.reduction == "mean" else g)
        if _finite(xp, g._data):
            return gx, None
        # torch writes only the target of each row not ignored: a NaN or inf g stays out of the rest
        from ..ops.arithmetic import where
        written = xp.astype(onehot, xp.bool) & xp.reshape(ctx.valid, (m, 1))
        return where(ctx.tensor(written), gx, 0.0), None


def target_out_of_bounds(value, c, ignore_index):
    """torch's IndexError for a class index outside ``[0, c)``."""
    return IndexError(f"Target {value} is out of bounds. (class indices must be in [0, {c - 1}] for "
                      f"{c} classes, or equal ignore_index={ignore_index})")


def _safe_denominator(xp, denom):
    """NaN where every target was ignored: torch's 0/0 result, without numpy's divide warning."""
    return xp.where(denom == 0, xp.asarray(float("nan"), dtype=denom.dtype), denom)


class BinaryCrossEntropy(Op):
    """``-(t log x + (1 - t) log(1 - x))`` with torch's clamp of the logs at -100."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, t):
        xp = ctx.backend.xp
        floor = xp.asarray(-100.0, dtype=x.dtype)
        log_x = xp.maximum(xp.log(x), floor)
        log_1mx = xp.maximum(xp.log(1 - x), floor)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors_list()
        gx = gt = None
        if ctx.needs_grad(0):
            gx = g * (x - t) / clamp((1 - x) * x, min=1e-12)
        if ctx.needs_grad(1):
            gt = -(x / (1 - x)).log() * g  # torch's target gradient, -logit(x) * g: unclamped, inf at 0 and 1
        return gx, gt


class ConstantPad(Op):
    """Constant padding with ``widths`` = ((before, after), ...) per axis (all >= 0)."""

    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.key = tuple(slice(b, b + n) for (b, _), n in zip(widths, a.shape))
        return ctx.backend.pad(a, widths, value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.key]


_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_K = math.sqrt(2 / math.pi)  # torch's kBeta and kKappa
_TANH_C = 0.044715
