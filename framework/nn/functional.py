"""``tensorplug.nn.functional``: the stateless functions behind the layers and losses."""
from __future__ import annotations

import math
import warnings

from .. import amp as _amp
from .. import dtypes as _dt
from ..tensor import Tensor
from ..ops.softmax import log_softmax as _log_softmax, softmax as _softmax
from ..ops.gather import first_out_of_range as _first_out_of_range
from ..ops.minmax import Clamp, clamp
from ..ops.reduction import logsumexp as _logsumexp, narrow_float
from ..autograd import _nodes
from . import _ops


def _dtype_error(a, b, what="mat1 and mat2"):
    return RuntimeError(f"{what} must have the same dtype, but got {_dt.scalar_type_name(a._dtype)} and "
                        f"{_dt.scalar_type_name(b._dtype)}; convert one, e.g. model.double() or x.float()")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``.

    Example:
        >>> F.linear(tensorplug.ones(2, 3), tensorplug.ones(4, 3)).shape
        tensorplug.Size([2, 4])
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, linear, input, weight, bias)
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' must be Tensor, not {type(input).__name__}")
    ws = weight._data.shape
    xs = input._data.shape
    if not xs or not ws:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {len(xs)}D and "
                           f"{len(ws)}D")
    if xs[-1] != ws[-1]:
        left = "x".join(map(str, (math.prod(xs[:-1]), xs[-1])))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {ws[-1]}x{ws[0]}); "
                           f"the input's last dimension must equal in_features={ws[-1]}")
    if input._dtype is not weight._dtype:
        raise _dtype_error(input, weight)
    if len(ws) != 2:
        out = input @ weight.t()
        return out if bias is None else out + bias
    if bias is not None and bias._dtype is not input._dtype:
        raise _dtype_error(input, bias)
    if bias is not None and tuple(bias.shape) != (ws[0],):
        # any bias that expands to the output (torch's addmm expands it), e.g. (1, 1) or the output's shape
        from ..ops.linalg import _check_expands_to
        _check_expands_to(bias, (*xs[:-1], ws[0]))
        return _ops.LinearNoBias.apply(input, weight, None) + bias
    return _ops.linear_op(len(xs), bias is not None).apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.PROMOTE, bilinear, input1, input2, weight, bias)
    out_f, in1, in2 = weight.shape
    for name, got, want in (("input1", input1.shape[-1], in1), ("input2", input2.shape[-1], in2)):
        if got != want:
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got {got} but expected {want}")
    for d, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: got {a} and {b}")
    if bias is not None and bias.shape[-1] != out_f:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[-1]} but expected "
                           f"{out_f}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    tmp = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = (tmp * x2.unsqueeze(1)).sum(-1).reshape(tuple(lead) + (out_f,))
    return out + bias if bias is not None else out  # torch's last node: the bias's add, else the view


# activations -------------------------------------------------------------------------

def _check_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")


# the CPU kernel torch names when it refuses an integer input (NotImplementedError)
_KERNELS = {"gelu": "GeluKernelImpl", "elu": "elu_cpu", "selu": "elu_cpu", "celu": "elu_cpu", "silu": "silu_cpu",
            "mish": "mish_cpu", "softplus": "softplus_cpu", "leaky_relu": "leaky_relu_cpu",
            "logsigmoid": "log_sigmoid_cpu", "hardswish": "hardswish_cpu", "hardsigmoid": "hardsigmoid_cpu",
            "glu": "glu_cpu", "hardshrink": "hardshrink_cpu", "softshrink": "softshrink_check", "prelu": "prelu_cpu",
            "layer_norm": "LayerNormKernelImpl", "group_norm": "GroupNormKernelImpl"}


def _float_input(x, name):
    _check_tensor(x, name)
    if x._dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"{_KERNELS.get(name, name)}\" not implemented for "
                                  f"'{_dt.scalar_type_name(x._dtype)}'; {name}() takes floating-point input, "
                                  f"convert it first, e.g. x.float()")
    return x


def _inplace_apply(input, fn, inplace, node=None, inplace_node=None):
    """``fn(input)``, or written into ``input`` (torch's ``inplace=True``); with ``node``, the result shows
    torch's node (``inplace_node`` where torch's in-place op records another, ``EluBackward1``)."""
    if not inplace:
        out = fn(input)
    else:
        from ..ops.inplace import inplace as _inplace
        out = _inplace(input, fn)
        node = inplace_node or node
    return _nodes.named(out, node) if node else out


def relu(input, inplace=False):
    """``max(input, 0)``."""
    _check_tensor(input, "relu")
    return _inplace_apply(input, lambda x: x.relu(), inplace)


def relu_(input):
    return relu(input, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    _float_input(input, "leaky_relu")
    return _inplace_apply(input, lambda x: _ops.activation(_ops.LeakyRelu, x).apply(x, slope=negative_slope), inplace,
                          "LeakyReluBackward0", "LeakyReluBackward1")


def elu(input, alpha=1.0, inplace=False):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    _float_input(input, "elu")
    return _inplace_apply(input, lambda x: _elu(x, inplace).apply(x, alpha=alpha, scale=1.0), inplace,
                          "EluBackward0", "EluBackward1")


def selu(input, inplace=False):
    _float_input(input, "selu")
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return _inplace_apply(input, lambda x: _elu(x, inplace).apply(x, alpha=alpha, scale=scale), inplace,
                          "EluBackward0", "EluBackward1")


def celu(input, alpha=1.0, inplace=False):
    _float_input(input, "celu")
    # torch's: elu with input_scale 1 / alpha
    return _inplace_apply(input, lambda x: _elu(x, inplace).apply(x, alpha=alpha, scale=1.0, input_scale=1.0 / alpha),
                          inplace,
                          "CeluBackward0", "CeluBackward1")


def _elu(x, inplace):
    """The elu op for ``x``: in place, torch's gradient reads the result, out of place the input."""
    return _ops.activation(_ops.EluResult if inplace else _ops.Elu, x)


def gelu(input, approximate="none"):
    """Gaussian error linear unit; ``approximate='tanh'`` uses the tanh formula."""
    _float_input(input, "gelu")
    if approximate in ("none", "tanh"):
        return _ops.activation(_ops.Gelu, input).apply(input, approximate=approximate)
    raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish)."""
    _float_input(input, "silu")
    return _inplace_apply(input, lambda x: _ops.activation(_ops.Silu, x).apply(x), inplace)


def mish(input, inplace=False):
    _float_input(input, "mish")
    return _inplace_apply(input, lambda x: _ops.activation(_ops.Mish, x).apply(x), inplace)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``input`` clamped to ``[min_val, max_val]``."""
    _check_tensor(input, "hardtanh")
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _inplace_apply(input, lambda x: Clamp.apply(x, lo=min_val, hi=max_val, strict=True), inplace,
                          "HardtanhBackward0")


def hardsigmoid(input, inplace=False):
    _float_input(input, "hardsigmoid")
    return _inplace_apply(input, lambda x: _ops.activation(_ops.Hardsigmoid, x).apply(x), inplace)


def hardswish(input, inplace=False):
    _float_input(input, "hardswish")
    return _inplace_apply(input, lambda x: _ops.activation(_ops.Hardswish, x).apply(x), inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, softplus, input, beta, threshold)
    _float_input(input, "softplus")
    return _ops.activation(_ops.Softplus, input).apply(input, beta=beta, threshold=threshold)


def logsigmoid(input):
    _float_input(input, "logsigmoid")
    return _ops.activation(_ops.LogSigmoid, input).apply(input)


def softsign(input):
    return input / (input.abs() + 1)


def tanhshrink(input):
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False):
    # torch's test is x <= threshold: NaN is kept (and passes the gradient), not replaced by value; the
    # result keeps the input's dtype (an integer input stays integer)
    # float16/bfloat16 compare in float32: torch's 0.1 is not bfloat16's 0.10009765625
    return _inplace_apply(input, lambda x: x.masked_fill((x.float() if narrow_float(x._dtype) else x) <= threshold,
                                                         value), inplace,
                          "ThresholdBackward0", "ThresholdBackward1")


def _softmax_dim_of(input, dim, name, stacklevel):
    """``dim``, or torch's implicit choice with its deprecation warning, which is attributed to the caller
    ``stacklevel`` frames above the public function (torch's ``_stacklevel``; this helper adds one frame)."""
    _check_tensor(input, name)
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  f"dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if input.dim() in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / exp(x).sum(dim)``, computed stably (shifted by the max)."""
    return _softmax(input, _softmax_dim_of(input, dim, "softmax", _stacklevel), dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax(-input, _softmax_dim_of(input, dim, "softmin", _stacklevel), dtype=dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax (concrete) distribution over ``dim``: ``softmax((logits + g) / tau)``
    with Gumbel(0, 1) noise ``g = -log(Exponential(1))``; ``hard=True`` returns the one-hot of its argmax
    carrying the soft sample's gradient (the straight-through estimator)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -logits.new_empty(logits.shape).exponential_().log()
    soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return soft
    index = soft.max(dim, keepdim=True)[1]
    one_hot = logits.new_zeros(logits.shape).scatter_(dim, index, 1.0)
    return one_hot - soft.detach() + soft


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` computed stably."""
    return _log_softmax(input, _softmax_dim_of(input, dim, "log_softmax", _stacklevel), dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x), dim))`` computed stably."""
    return _logsumexp(input, dim, keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, normalize, input, p, dim, eps, out)
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_dt.scalar_type_name(input._dtype)}; convert it first, e.g. x.float()")
    # float16/bfloat16: the norm sums in float32 and is rounded (as torch's), the quotient rounds once more
    # the norm op's gradient is zero at a zero norm (sqrt of a sum of squares would give nan there)
    return input / clamp(input.norm(p, dim, keepdim=True), min=eps)


def prelu(input, weight):
    """``max(0, x) + weight * min(0, x)``; a per-channel ``weight`` applies along dim 1."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.LOWER, prelu, input, weight)
    _float_input(input, "prelu")
    if weight._dtype is not input._dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_dt.scalar_type_name(input._dtype)} and "
                           f"{_dt.scalar_type_name(weight._dtype)}; convert the weight with .to({input._dtype})")
    if weight.numel() != 1:
        if input.dim() < 2 or input.shape[1] != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {input.shape[1] if input.dim() > 1 else 1}.")
        weight = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    from ..ops.arithmetic import where
    # torch's x > 0 ? x : weight * x: at 0 and at NaN the gradient is weight (two clamps gave 1 + weight at 0)
    return _nodes.named(where(input > 0, input, weight * input), "PreluKernelBackward0")


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, cosine_similarity, x1, x2, dim, eps)
    common = _dt.result_type(x1._dtype, True, x2._dtype, True)
    if common.category < _dt.FLOAT:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_dt.scalar_type_name(common)}; convert the inputs first, e.g. x1.float()")
    # torch's formula: each input divided by its norm, the norms clamped to eps in value only (the
    # gradient flows as if unclamped, and is zero at a zero vector instead of nan). In float16/bfloat16
    # torch rounds the norms (summed in float32), the quotients and products, then sums in float32: so
    # does this (computing all in float32 was 5x closer to exact than torch, outside its tolerance)
    from ..ops import broadcast_shapes
    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = _clamped_in_value(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamped_in_value(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _clamped_in_value(norm, eps):
    """``norm`` raised to ``eps`` where below it, with the gradient of the unclamped norm. Only the raised
    entries move: an overflowed (inf) norm stays inf, so 1e20-sized inputs give 0 products as torch's,
    not inf - inf = nan."""
    from ..ops.arithmetic import where
    return norm + where(norm < eps, eps - norm, 0).detach()


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dim: torch's formula, with the vector norm's every p
    (0 counts the nonzero differences, inf / -inf take the largest / smallest) and its gradients."""
    from ..linalg import vector_norm
    return _nodes.named(vector_norm(x1 - x2 + eps, p, -1, keepdim), "NormBackward1")  # torch's norm


# dropout -------------------------------------------------------------------------------

def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (training only)."""
    _check_tensor(input, "dropout")
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if input._dtype.category < _dt.FLOAT:  # the scaled mask is float
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_dt.scalar_type_name(input._dtype)}; dropout takes floating-point input, e.g. x.float()")
    backend = input._backend
    if p == 1.0:
        mask = backend.zeros(tuple(input._data.shape), input._dtype)
    else:
        keep = backend.rand(tuple(input._data.shape), input._dtype) >= p
        mask = backend.astype(keep, input._dtype) * (1.0 / (1.0 - p))
    return _inplace_apply(input, lambda x: _ops.MulMask.apply(x, mask=mask), inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout(input, p, training, inplace, 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _channel_dropout(input, p, training, inplace, 4)


def _channel_dropout(input, p, training, inplace, ndim):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    backend = input._backend
    shape = tuple(input._data.shape[:2]) + (1,) * (input.dim() - 2)
    keep = backend.rand(shape, input._dtype) >= p
    mask = backend.astype(keep, input._dtype) * (1.0 / (1.0 - p)) if p < 1 else backend.zeros(shape, input._dtype)
    return _inplace_apply(input, lambda x: _ops.MulMask.apply(x, mask=mask), inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks (training only): dropped elements take SELU's negative saturation and an
    affine map keeps a zero-mean, unit-variance input so."""
    return _alpha_dropout(input, p, training, inplace, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """``alpha_dropout`` of whole channels: one draw for each (sample, channel) of ``(N, C, *)`` input."""
    return _alpha_dropout(input, p, training, inplace, "feature_alpha_dropout")


def _alpha_dropout(input, p, training, inplace, name):
    """torch's alpha dropout: ``x * a * keep + b``, where ``b`` sets the dropped elements to
    ``a * alpha * (p - 1)`` and shifts the kept ones by ``a * alpha * p`` (``keep`` drawn per channel for
    the feature form)."""
    _check_tensor(input, name)
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    backend = input._backend
    if p == 1.0:  # torch multiplies by zero
        return _inplace_apply(input, lambda x: _ops.MulMask.apply(x, mask=backend.zeros((), input._dtype)),
                              inplace)
    shape = tuple(input.shape)
    if name == "feature_alpha_dropout":
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = shape[:2] + (1,) * (input.dim() - 2)
    keep = backend.astype(backend.rand(shape, input._dtype) >= p, input._dtype)
    alpha = 1.7580993408473766  # SELU's scale * alpha: -alpha is its value at -inf
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    shift = Tensor._make((keep - 1) * (alpha * a) + alpha * a * p, input._dtype, backend)
    return _inplace_apply(input, lambda x: _ops.MulMask.apply(x, mask=keep * a) + shift, inplace)


# embedding and one-hot -----------------------------------------------------------------

def _check_index(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input._dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got {input.type()} instead (while checking arguments for "
                           f"{name}); convert it with .long()")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sum, mean or max of each bag of embeddings (see ``nn.EmbeddingBag``)."""
    from .sparse import embedding_bag as _embedding_bag
    return _embedding_bag(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                          per_sample_weights, include_last_offset, padding_idx)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` at the integer ``input`` indices (any shape)."""
    _check_index(input, "embedding")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    num = weight.shape[0]
    if padding_idx is not None:
        from .sparse import _padding_index
        padding_idx = _padding_index(padding_idx, num, "Padding_idx")
    bad = _first_out_of_range(input, num)
    if bad is not None:
        raise IndexError(f"index out of range in self: index {bad} given to an embedding of {num} rows "
                         f"(indices must be in [0, {num - 1}]; embedding takes no negative indices)")
    if max_norm is not None:
        from ..autograd.grad_mode import no_grad
        with no_grad():
            rows = weight[input.reshape(-1)]
            norms = (rows.abs() ** norm_type).sum(-1, keepdim=True) ** (1.0 / norm_type)
            scale = clamp(max_norm / (norms + 1e-7), max=1.0)
            weight[input.reshape(-1)] = rows * scale
    return _ops.Embedding.apply(weight, input, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def one_hot(tensor, num_classes=-1):
    """``(..., num_classes)`` int64 tensor with a 1 at each index of ``tensor``."""
    if not isinstance(tensor, Tensor) or tensor._dtype is not _dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    backend = tensor._backend
    xp = backend.xp
    data = tensor._data
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(xp.max(data)) + 1
    if data.size:
        if int(xp.min(data)) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(xp.max(data)) >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes ({num_classes}).")
    out = xp.reshape(data, tuple(data.shape) + (1,)) == xp.arange(num_classes, dtype=data.dtype)
    return Tensor._make(backend.astype(out, _dt.int64), _dt.int64, backend)


# normalisation -----------------------------------------------------------------------------

def _stats(x, axes, mean_dtype=None):
    """Biased mean and variance of ``x``'s array over ``axes`` (kept as size-1 dims); the mean is
    returned rounded to ``mean_dtype`` when given (batch norm of float16 input)."""
    xp = x._backend.xp
    data = x._data
    mean = xp.mean(data, axis=axes, keepdims=True)
    d = data - mean
    var = xp.mean(d * d, axis=axes, keepdims=True)
    if mean_dtype is not None:
        backend = x._backend
        mean = backend.astype(backend.astype(mean, mean_dtype), x._dtype)
    return mean, var


def _affine(x, weight, bias, shape):
    if weight is not None:
        x = x * (weight.reshape(shape) if shape is not None else weight)
    if bias is not None:
        x = x + (bias.reshape(shape) if shape is not None else bias)
    return x


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each channel (dim 1) over the batch and spatial dims.

    In training the batch statistics are used and ``running_mean/var`` are
    updated in place (``momentum``; None means a cumulative average is
    expected from the caller); in eval the running statistics are used.
    """
    _float_input(input, "batch_norm")
    if input.dim() < 2:
        raise ValueError(f"expected 2D or more input (got {input.dim()}D input)")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != input.shape[1]:
            raise RuntimeError(f"{name} should contain {input.shape[1]} elements not {t.numel()}")
    if narrow_float(input._dtype):
        # float16 statistics overflow and lose precision: torch computes them and the result in float32,
        # normalising with the mean rounded to the input's dtype (where it stores it)
        out = _batch_norm(input.to(_dt.float32), running_mean, running_var, weight, bias, training, momentum,
                          eps, input._dtype).to(input._dtype)
    else:
        out = _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, None)
    return _nodes.named(out, "NativeBatchNormBackward0")


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, mean_dtype):
    shape = (1, input.shape[1]) + (1,) * (input.dim() - 2)
    axes = (0,) + tuple(range(2, input.dim()))
    if training:
        n = input.numel() // input.shape[1] if input.shape[1] else 0
        if n == 0:  # nothing to normalise: torch returns the (empty) affine result and keeps its running stats
            return _affine(input * 1, weight, bias, shape)
        if n == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
        mean, var = _stats(input, axes, mean_dtype)
        if running_mean is not None or running_var is not None:
            xp = input._backend.xp
            m = 0.0 if momentum is None else momentum
            if running_mean is not None:
                new = xp.reshape(mean, (-1,))
                _update_running(running_mean, new, m)
            if running_var is not None:
                new = xp.reshape(var, (-1,)) * (n / (n - 1))
                _update_running(running_var, new, m)
        out = _ops.Normalize.apply(input, mean=mean, var=var, axes=axes, eps=eps)
    else:
        if running_mean is None or running_var is None:
            mean, var = _stats(input, axes, mean_dtype)
            out = _ops.Normalize.apply(input, mean=mean, var=var, axes=axes, eps=eps)
        else:
            rstd = (running_var.reshape(shape) + eps) ** -0.5
            out = (input - running_mean.reshape(shape)) * rstd
    return _affine(out, weight, bias, shape)


def _update_running(buf, new, momentum):
    """``buf = (1 - momentum) * buf + momentum * new``, in place and outside autograd."""
    data = buf._data
    new = buf._backend.astype(new, buf._dtype) if buf._backend.dtype_of(new) is not buf._dtype else new
    updated = data * (1 - momentum) + new * momentum
    from ..ops.inplace import assign
    assign(buf, updated)
    buf._version[0] += 1


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, layer_norm, input, normalized_shape, weight, bias, eps)
    _float_input(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(normalized_shape)}")
    if tuple(input.shape[input.dim() - k:]) != normalized_shape or k > input.dim():
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size"
                           f"{list(input.shape)}")
    return _ops.LayerNorm.apply(input, weight, bias, dims=k, eps=eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, rms_norm, input, normalized_shape, weight, eps)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    _float_input(input, "rms_norm")
    axes = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    if narrow_float(input._dtype):
        # torch computes in float32 (its eps too) and rounds once: float16 squares of 300 overflow
        out = rms_norm(input.to(_dt.float32), normalized_shape, None, eps)
        return (out if weight is None else out * weight).to(input._dtype)
    if eps is None:
        eps = _dt_eps(input._dtype)
    out = input * ((input * input).mean(axes, keepdim=True) + eps) ** -0.5
    return out if weight is None else out * weight


def _dt_eps(dtype):
    return {"float16": 0.0009765625, "float32": 1.1920928955078125e-07}.get(dtype.name, 2.220446049250313e-16)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise groups of channels (dim 1) per sample, then scale and shift per channel."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, group_norm, input, num_groups, weight, bias, eps)
    _float_input(input, "group_norm")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {input.shape} and num_groups={num_groups}")
    if narrow_float(input._dtype):  # torch computes float16 group statistics and the result in float32
        out = group_norm(input.to(_dt.float32), num_groups, weight, bias, eps).to(input._dtype)
        return _nodes.named(out, "NativeGroupNormBackward0")
    shape = (1, c) + (1,) * (input.dim() - 2)
    if not input.numel():  # nothing to normalise (no NumPy warning about empty means)
        return _affine(input * 1, weight, bias, shape)
    grouped = input.reshape(n, num_groups, -1)
    mean, var = _stats(grouped, (2,))
    out = _ops.Normalize.apply(grouped, mean=mean, var=var, axes=(2,), eps=eps).reshape(input.shape)
    return _nodes.named(_affine(out, weight, bias, shape), "NativeGroupNormBackward0")


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dims, then scale and shift per channel.

    With ``use_input_stats`` each sample's statistics are used and ``running_mean/var`` (when given) move
    towards their mean over the batch by ``momentum``; without, the running statistics are used (the eval
    of a layer that tracks them).
    """
    k = math.prod(input.shape[2:])  # the spatial elements of a channel
    if use_input_stats and k == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    n, c = input.shape[0], input.shape[1]
    axes = tuple(range(2, input.dim()))
    shape = (1, c) + (1,) * (input.dim() - 2)
    if not input.numel():  # nothing to normalise: torch's empty result, the running statistics kept
        return _affine(input * 1, weight, bias, shape)
    narrow = narrow_float(input._dtype)  # as batch_norm: float32, with the mean rounded to float16
    x = input.to(_dt.float32) if narrow else input
    if use_input_stats:
        mean, var = _stats(x, axes, input._dtype if narrow else None)
        out = _ops.Normalize.apply(x, mean=mean, var=var, axes=axes, eps=eps)
        # torch updates a copy of the running statistics per sample (the variance unbiased over the spatial
        # elements), then stores their mean over the batch
        xp = input._backend.xp
        if running_mean is not None:
            _update_running(running_mean, xp.mean(xp.reshape(mean, (n, c)), axis=0), momentum)
        if running_var is not None:
            _update_running(running_var, xp.mean(xp.reshape(var, (n, c)), axis=0) * (k / (k - 1)), momentum)
    else:
        out = (x - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps) ** -0.5
    out = _affine(out, weight, bias, shape)
    # torch normalises the (1, N * C, ...) view with batch_norm and views the result back
    return _nodes.named(out.to(input._dtype) if narrow else out, "ViewBackward0")


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """``x / (k + alpha * mean of x^2 over `size` neighbouring channels) ** beta`` (torch's window:
    ``size // 2`` channels before, ``(size - 1) // 2`` after, zero-padded)."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.dim()} dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    pad_spec = [0, 0] * (input.dim() - 2) + [size // 2, (size - 1) // 2]
    padded = pad(sq, tuple(pad_spec))
    total = padded[:, 0:c]
    for j in range(1, size):
        total = total + padded[:, j:j + c]
    return input / (total * (alpha / size) + k) ** beta


# padding ---------------------------------------------------------------------------------

_C_TYPES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t"}


def _check_fill(input, value):
    """torch's error for a pad value the input's integer dtype cannot hold (-1 in uint8)."""
    ctype = _C_TYPES.get(input._dtype.name)
    if ctype is not None and value is not None:
        info = _dt.iinfo(input._dtype)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"value cannot be converted to type {ctype} without overflow")


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left, right, top, bottom, ...)`` from the last dim back.

    Modes: 'constant' (with ``value``, negative pads crop), 'reflect',
    'replicate', 'circular'.
    """
    _check_tensor(input, "pad")
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension "
                           f"but got padding length {len(pad)} and input of dimension {input.dim()}")
    nd = input.dim()
    widths = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        widths[nd - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        _check_fill(input, value)
        out = input
        crop = tuple(slice(-b if b < 0 else None, a if a < 0 else None) for b, a in widths)
        if any(b < 0 or a < 0 for b, a in widths):
            out = out[crop]
        widths = tuple((max(b, 0), max(a, 0)) for b, a in widths)
        if any(b or a for b, a in widths):
            out = _ops.ConstantPad.apply(out, widths=widths, value=0.0 if value is None else value)
        else:
            out = out.clone()  # torch's result is always a new tensor: a write to it must not reach the input
        return _nodes.named(out, "ConstantPadNdBackward0")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}; expected 'constant', 'reflect', "
                                  f"'replicate' or 'circular'")
    if nd not in (len(pad) // 2 + 1, len(pad) // 2 + 2) or len(pad) > 6:
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\nSupported combinations for "
            f"non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D "
            f"input: padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last "
            f"3 dimensions)")
    from ..tensor import tensor
    out = input
    # a circular result with no elements reads nothing: torch returns it whatever the other dims' pads
    empty = mode == "circular" and any(n + b + a == 0 for n, (b, a) in zip(input.shape, widths))
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        n = input.shape[axis]
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({before}, {after}) at dimension {axis} of input "
                               f"{list(input.shape)}")
        if mode == "circular":
            idx = _circular_indices(before, after, n, empty)
        else:
            idx = [_pad_index(i, n, mode) for i in range(-before, n + after)]
        key = (slice(None),) * axis + (tensor(idx, dtype=_dt.int64, device=input._backend),)
        out = out[key]
    if out is input:
        out = input.clone()  # nothing to pad: torch's result is still a new tensor
    if mode == "circular":  # torch's circular pad writes slices of a new tensor (its node: CopySlices)
        return out
    return _nodes.named(out, f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{len(pad) // 2}DBackward0")


def _circular_indices(before, after, n, empty):
    """The input positions a circular pad of one dim reads: torch crops the negative pads first and wraps
    the positive ones around what is left (any positions where the whole result is ``empty``)."""
    if before > n or after > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    if n + before + after < 0:
        raise RuntimeError("Negative padding value is resulting in an empty dimension")
    if empty:
        return [0] * (n + before + after)
    start = max(-before, 0)
    kept = n - start - max(-after, 0)
    before, after = max(before, 0), max(after, 0)
    if before > kept or after > kept:  # torch copies overlapping slices here: an error, or uninitialised values
        raise RuntimeError(f"Padding value causes wrapping around more than once: padding ({before}, {after}) "
                           f"around the {max(kept, 0)} elements left after cropping")
    return [start + i % kept for i in range(-before, kept + after)]


def _pad_index(i, n, mode):
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)
    if period == 0:
        return 0
    i = abs(i) % period
    return i if i < n else period - i


# losses live in functional_loss.py (their Modules in loss.py); convolution and pooling in functional_conv.py
from .functional_loss import *  # noqa: E402,F401,F403
from .functional_conv import *  # noqa: E402,F401,F403
from .functional_interp import *  # noqa: E402,F401,F403
from .functional_pool3d import *  # noqa: E402,F401,F403
from .functional_grid import *  # noqa: E402,F401,F403
from .ctc import ctc_loss  # noqa: E402,F401
from .functional_extra import *  # noqa: E402,F401,F403
