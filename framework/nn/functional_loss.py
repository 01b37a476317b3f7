"""The losses' functional forms (``tensorplug.nn.functional.<name>_loss``), torch's whole set.

The Module classes that wrap them live in ``loss.py``. Each is written with
tensorplug's tensor ops (autograd comes for free) except cross-entropy and NLL,
which have their own ops in ``_ops``.
"""
from __future__ import annotations

import math
import warnings

from .. import amp as _amp
from .. import dtypes as _dt
from ..tensor import Tensor
from ..autograd import _nodes
from . import _ops

__all__ = ["l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "multilabel_margin_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, emit_warning=True):
    """torch's mapping of the deprecated ``size_average``/``reduce`` pair to a ``reduction`` string."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        result = "mean"
    elif reduce:
        result = "sum"
    else:
        result = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{result}' "
                      f"instead.", UserWarning, stacklevel=3)
    return result


def _reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {list(_REDUCTIONS)}")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_pair(input, target, name):
    for arg, what in ((input, "input"), (target, "target")):
        if not isinstance(arg, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be Tensor, not {type(arg).__name__}")


def _size_warning(input, target, stacklevel=3):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", UserWarning, stacklevel=stacklevel)


# functional forms -----------------------------------------------------------------------

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target) ** 2``, reduced."""
    return _elementwise_loss(mse_loss, input, target, size_average, reduce, reduction, weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced."""
    return _elementwise_loss(l1_loss, input, target, size_average, reduce, reduction, weight)


def _elementwise_loss(loss_fn, input, target, size_average, reduce, reduction, weight):
    """mse_loss or l1_loss (``loss_fn``): the per-element loss, weighted and reduced (in float32 under autocast)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, loss_fn, input, target, size_average, reduce, reduction, weight)
    _check_pair(input, target, loss_fn.__name__)
    reduction = _reduction(size_average, reduce, reduction)
    _size_warning(input, target, stacklevel=4)
    diff = input - target
    loss = diff * diff if loss_fn is mse_loss else diff.abs()
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        # torch's weighted mean is a weighted average: divided by the weights' sum, not the element count
        loss = loss * weight
        return loss.sum() / weight.sum() if reduction == "mean" else _reduce(loss, reduction)
    loss = _reduce(loss, reduction)
    return _nodes.named(loss, "MseLossBackward0") if loss_fn is mse_loss else loss


def _class_last(input):
    """``(N, C, d1, ...)`` as ``(N * d1 * ..., C)`` (and the shape of the per-element result)."""
    if input.dim() == 2:
        return input, (input.shape[0],)
    n, c = input.shape[0], input.shape[1]
    rest = tuple(input.shape[2:])
    perm = (0,) + tuple(range(2, input.dim())) + (1,)
    return input.permute(*perm).reshape(-1, c), (n,) + rest


def _index_target(input, target, name, c):
    """Check class-index targets (dtype, shape, range) as torch does."""
    if target._dtype not in (_dt.int64, _dt.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_dt.scalar_type_name(target._dtype)}; class-index targets must be int64 "
                           f"(target.long()); float targets must have the input's shape (class probabilities)")
    if input.dim() == 1:
        if target.dim() == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")
        expected = tuple(target.shape) if target.dim() == 1 else ()  # a class index alone, or in a 1-vector
    else:
        expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        if input.dim() >= 2 and target.dim() == 0 and input.shape[0] == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        if input.dim() >= 2 and (target.dim() == 0 or target.shape[0] != input.shape[0]):
            # torch reads a 0-d target's batch size as 0
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0] if target.dim() else 0}).")
        if input.dim() == 2 and target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")


def _check_range(target, c, ignore_index):
    xp = target._backend.xp
    data = target._data
    if not data.size:
        return
    valid = data != ignore_index
    bad = valid & ((data < 0) | (data >= c))
    if bool(xp.any(bad)):
        raise _ops.target_out_of_bounds(int(data[bad][0]), c, ignore_index)


def _weight_array(weight, input, c):
    if weight is None:
        return None
    if weight.shape != (c,):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but got "
                           f"weight tensor of shape: {list(weight.shape)}")
    if weight._dtype is not input._dtype:
        have, want = (_dt.scalar_type_name(t._dtype) for t in (weight, input))
        raise RuntimeError(f"expected scalar type {want} but found {have}: the class weights must have the "
                           f"input's dtype ({input._dtype}); pass weight.to({input._dtype})")
    return weight._data


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy between logits ``(N, C)`` / ``(N, C, d...)`` / ``(C,)`` and a target.

    The target holds class indices (int64, without the C dim) or class
    probabilities (float, the input's shape).

    Example:
        >>> F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor([1, 0, 4]))
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, cross_entropy, input, target, weight,
                        size_average, ignore_index, reduce, reduction, label_smoothing)
    _check_pair(input, target, "cross_entropy")
    reduction = _reduction(size_average, reduce, reduction)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    label_smoothing = max(label_smoothing, 0.0)  # torch smooths only above 0: a negative value is none
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"cross_entropy: expected a floating-point input (logits), got {input._dtype}")
    if input.dim() == 0:
        raise RuntimeError("cross_entropy: the input must have at least 1 dimension (the classes)")
    c = input.shape[0] if input.dim() == 1 else input.shape[1]
    if target._dtype.category == _dt.FLOAT and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing, c)
    _index_target(input, target, "cross_entropy", c)
    if input._dtype.itemsize < 4:
        return _narrow_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing, c)
    w = _weight_array(weight, input, c)  # the op checks the target range (in its kernel where fused)
    if input.dim() == 1:
        out = _ops.CrossEntropy.apply(input.unsqueeze(0), target.reshape(1)._data, weight=w,
                                      ignore_index=ignore_index, smoothing=float(label_smoothing),
                                      reduction=reduction)
        out = out.reshape(()) if reduction == "none" else out
    else:
        flat, shape = _class_last(input)
        tdata = target.reshape(-1)._data
        if target._dtype is not _dt.int64:
            tdata = target._backend.astype(tdata, _dt.int64)
        out = _ops.CrossEntropy.apply(flat, tdata, weight=w, ignore_index=ignore_index,
                                      smoothing=float(label_smoothing), reduction=reduction)
        out = out.reshape(shape) if reduction == "none" and len(shape) > 1 else out
    # torch adds the smoothing term to the nll loss last
    return _nodes.named(out, "AddBackward0") if label_smoothing else _nll_named(out, input.dim(), reduction)


def _nll_named(out, ndim, reduction):
    """``out`` with torch's last node for an nll loss of an ``ndim``-dimensional input: ``nll_loss``
    up to 2 dimensions, ``nll_loss2d`` beyond, whose unreduced result other than 4-d torch views back
    to the input's shape (so its node is the view's)."""
    if ndim <= 2:
        return _nodes.named(out, "NllLossBackward0")
    if reduction == "none" and ndim != 4:
        return out
    return _nodes.named(out, "NllLoss2DBackward0")


def _narrow_cross_entropy(input, target, weight, ignore_index, reduction, smoothing, c):
    """float16/bfloat16: torch's composition, each step rounded to the dtype (nll_loss of log_softmax,
    plus the smoothing term); the fused op's float16 arithmetic had 14x torch's gradient error in
    bfloat16, and its smoothing sum did not overflow where torch's does."""
    from .functional import log_softmax
    dim = 1 if input.dim() > 1 else 0
    logp = log_softmax(input, dim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not smoothing:
        return nll
    shape = (c,) + (1,) * (input.dim() - 2) if dim == 1 else (c,)
    smooth = -(logp if weight is None else logp * weight.reshape(shape)).sum(dim)
    ignored = target == ignore_index
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        kept = ignored.logical_not()
        if weight is None:
            smooth = smooth.sum() / kept.sum()
        else:
            smooth = smooth.sum() / weight.gather(0, target.masked_select(kept).reshape(-1)).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - smoothing) + smooth * (smoothing / c)


def _soft_cross_entropy(input, target, weight, reduction, smoothing, c):
    from .functional import log_softmax
    dim = 0 if input.dim() == 1 else 1
    if smoothing:
        target = target * (1 - smoothing) + smoothing / c
    logp = log_softmax(input, dim)
    prod = logp * target
    if weight is not None:
        shape = (c,) + (1,) * (input.dim() - 1 - dim) if dim == 1 else (c,)
        prod = prod * weight.reshape(shape)
    loss = -prod.sum(dim)
    if reduction == "mean":  # torch: the sum's negation divided by a number (div's Scalar overload)
        n = input.numel() // c
        return _nodes.named(loss.sum() / n, "DivBackward1")
    if reduction == "sum":
        return _nodes.named(loss.sum(), "NegBackward0")
    return loss


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, nll_loss, input, target, weight, size_average, ignore_index, reduce, reduction)
    _check_pair(input, target, "nll_loss")
    reduction = _reduction(size_average, reduce, reduction)
    if input.dim() == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    c = input.shape[0] if input.dim() == 1 else input.shape[1]
    _index_target(input, target, "nll_loss", c)
    _check_range(target, c, ignore_index)
    w = _weight_array(weight, input, c)
    tdata = target.reshape(-1)._data
    if target._dtype is not _dt.int64:
        tdata = target._backend.astype(tdata, _dt.int64)
    if input.dim() == 1:
        out = _ops.NllLoss.apply(input.unsqueeze(0), tdata, weight=w, ignore_index=ignore_index,
                                 reduction=reduction)
        out = out.reshape(()) if reduction == "none" else out
    else:
        flat, shape = _class_last(input)
        out = _ops.NllLoss.apply(flat, tdata, weight=w, ignore_index=ignore_index, reduction=reduction)
        out = out.reshape(shape) if reduction == "none" and len(shape) > 1 else out
    return _nll_named(out, input.dim(), reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``input`` in [0, 1]."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.BANNED, binary_cross_entropy, input, target, weight, size_average, reduce, reduction)
    _check_pair(input, target, "binary_cross_entropy")
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    xp = input._backend.xp
    data = input._data
    if data.size and bool(xp.any((data < 0) | (data > 1) | xp.isnan(data))):
        raise RuntimeError("all elements of input should be between 0 and 1; apply torch.sigmoid first, "
                           "or use binary_cross_entropy_with_logits on the raw scores")
    labels = target._data
    if labels.size and bool(xp.any((labels < 0) | (labels > 1) | xp.isnan(labels))):  # torch refuses these too
        raise RuntimeError("all elements of target should be between 0 and 1; binary_cross_entropy takes "
                           "probabilities (or 0/1 labels) as its target")
    if target._dtype is not input._dtype:
        raise RuntimeError(f"Found dtype {_dt.scalar_type_name(target._dtype)} but expected "
                           f"{_dt.scalar_type_name(input._dtype)}: binary_cross_entropy's target must have the input's "
                           f"dtype; pass target.to({input._dtype})")
    loss = _ops.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _nodes.named(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits.

    ``pos_weight`` scales the positive term (one value per class, broadcast
    over the last dim).
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, binary_cross_entropy_with_logits, input, target, weight,
                        size_average, reduce, reduction, pos_weight)
    _check_pair(input, target, "binary_cross_entropy_with_logits")
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    log_p = _ops.LogSigmoid.apply(input)
    log_1mp = _ops.LogSigmoid.apply(-input)
    if pos_weight is not None:
        loss = -(pos_weight * target * log_p + (1 - target) * log_1mp)
    else:
        loss = -(target * log_p + (1 - target) * log_1mp)
    if target.is_floating_point() and target._dtype is not loss._dtype:
        loss = loss.to(target._dtype)  # torch's kernel writes into a tensor of the target's dtype
    if weight is not None:
        loss = loss * weight
    return _nodes.named(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


# regression losses ------------------------------------------------------------------------

def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta``, with ``d = input - target``
    (the L1 loss when ``beta == 0``).

    Example:
        >>> F.smooth_l1_loss(tensorplug.tensor([0.5, 3.0]), tensorplug.zeros(2))
        tensor(1.3125)
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, smooth_l1_loss, input, target, size_average, reduce, reduction, beta)
    _check_pair(input, target, "smooth_l1_loss")
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}; "
                           f"pass beta >= 0 (0 gives the L1 loss)")
    _size_warning(input, target)
    diff = input - target
    a = diff.abs()
    if beta == 0:
        return _reduce(a, reduction)
    from ..ops import where
    loss = _reduce(where(a < beta, 0.5 * diff * diff / beta, a - 0.5 * beta), reduction)
    return _nodes.named(loss, "SmoothL1LossBackward0")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``; ``weight`` scales each
    element before the reduction.

    Example:
        >>> F.huber_loss(tensorplug.tensor([0.5, 3.0]), tensorplug.zeros(2), delta=2.0)
        tensor(2.0625)
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, huber_loss, input, target, reduction, delta, weight)
    _check_pair(input, target, "huber_loss")
    reduction = _reduction(None, None, reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}; "
                           f"pass delta > 0")
    _size_warning(input, target)
    from ..ops import where
    diff = input - target
    a = diff.abs()
    loss = where(a < delta, 0.5 * diff * diff, delta * (a - 0.5 * delta))
    if weight is not None:  # torch too shows the weighting's nodes then
        return _reduce(loss * weight, reduction)
    return _nodes.named(_reduce(loss, reduction), "HuberLossBackward0")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``.

    ``reduction='batchmean'`` gives the true KL divergence per sample; ``'mean'``
    (torch's default) averages over every element and warns, as torch does.

    Example:
        >>> F.kl_div(tensorplug.tensor([[0.5, 0.5]]).log(), tensorplug.tensor([[0.9, 0.1]]), reduction="batchmean")
    """
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, kl_div, input, target, size_average, reduce, reduction, log_target)
    _check_pair(input, target, "kl_div")
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    elif reduction not in (*_REDUCTIONS, "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of "
                         f"{[*_REDUCTIONS, 'batchmean']}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        from ..special import xlogy
        # torch's xlogy(t, t) - t * input: 0 * log 0 = 0, a negative target is nan, and the target's
        # gradient is nan at 0 (xlogy's t / t there)
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() != 0 else loss.sum()
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of a Poisson ``target`` with rate ``exp(input)`` (``log_input``) or ``input``;
    ``full`` adds Stirling's approximation of ``log(target!)`` where ``target > 1``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, poisson_nll_loss, input, target, log_input,
                        full, size_average, eps, reduce, reduction)
    _check_pair(input, target, "poisson_nll_loss")
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # torch's masked Stirling term: the mask zeroes its value, but 0 times log's 1/0 leaves the target's
        # gradient nan at 0 (and below), as torch's
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under a Gaussian of mean ``input`` and variance ``var``:
    ``0.5 * (log(var) + (input - target)**2 / var)`` with ``var`` clamped to ``eps`` (the clamp passes
    the gradient through, as torch's does). ``var`` may have the input's shape, lack its last dim, or
    be 1 in one dim (homoscedastic), or be a float."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries; a variance must be >= 0")
        var = float(var) * input.detach().new_ones(input.shape)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries; a variance must be >= 0")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.dim() == var.dim()
                  and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError(f"var is of incorrect size: {list(var.shape)} for an input of shape "
                             f"{list(input.shape)}; give var the input's shape, drop its last dim, or make one "
                             f"dim of size 1")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not valid; expected one of {list(_REDUCTIONS)}")
    held = var.detach()
    var = var + (held.clamp(min=eps) - held)  # clamped values, the identity's gradient
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# margin and embedding losses ------------------------------------------------------------------

def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """``max(0, -target * (input1 - input2) + margin)``: ``target = 1`` means input1 should rank higher."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, margin_ranking_loss, input1, input2, target,
                        margin, size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, "
                           f"target: {list(target.shape)}")
    return _reduce(_clamp_min_0(-target * (input1 - input2) + margin), reduction)


def _clamp_min_0(x):
    """``x.clamp_min(0)``, its node named as torch's (tensorplug's clamp node is ClampBackward1)."""
    return _nodes.named(x.clamp_min(0), "ClampMinBackward0")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1`` (torch sums both
    terms for any other target value)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, hinge_embedding_loss, input, target, margin, size_average, reduce, reduction)
    from ..ops import where
    reduction = _reduction(size_average, reduce, reduction)
    hinge = where(target != 1, (margin - input).clamp(min=0), 0.0)
    return _reduce(hinge + where(target != -1, input, 0.0), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The two-class logistic loss ``log(1 + exp(-target * input))``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, soft_margin_loss, input, target, size_average, reduce, reduction)
    _check_pair(input, target, "soft_margin_loss")
    reduction = _reduction(size_average, reduce, reduction)
    _size_warning(input, target)
    return _nodes.named(_reduce((-target * input).exp().log1p(), reduction), "SoftMarginLossBackward0")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """One-vs-all logistic loss per class, averaged over the classes (the last dim), then reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * _ops.LogSigmoid.apply(input) + (1 - target) * _ops.LogSigmoid.apply(-input))
    if weight is not None:
        loss = loss * weight
    dim = input.dim() - 1
    loss = loss.sum(dim) / input.shape[dim]
    return _reduce(loss, reduction)


def _check_long(target, name):
    """torch's error for a target of class indices that is not int64."""
    if target._dtype is not _dt.int64:
        raise RuntimeError(f"{name}: expected scalar type Long but found {_dt.scalar_type_name(target._dtype)}; "
                           f"the target holds class indices: use target.long()")


def _class_targets(input, target, name):
    """``(input as (N, C), target as (N,))`` for the multi-class margin loss, with torch's checks."""
    if input.dim() > 2 or (input.dim() == 2 and target.dim() != 1) or (input.dim() < 2 and target.dim() > 1) \
            or target.numel() != (input.shape[0] if input.dim() == 2 else 1):
        raise RuntimeError(f"{name}: inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}; give a 1-D or 2-D input (N, C) and one class index per row")
    _check_long(target, name)
    c = input.shape[-1] if input.dim() else 1
    data = target._data
    if data.size and bool(target._backend.xp.any((data < 0) | (data >= c))):
        raise RuntimeError(f"{name}: target out of range: the targets must be class indices in [0, {c})")
    return input.reshape(-1, c), target.reshape(-1)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])**p / C`` per sample
    (times ``weight[y]``)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, multi_margin_loss, input, target, p,
                        margin, weight, size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p}")
    if weight is not None and weight.dim() != 1:
        raise ValueError(f"weight must be one-dimensional, got a weight of shape {list(weight.shape)}")
    x, y = _class_targets(input, target, "multi_margin_loss")
    c = x.shape[1]
    picked = x.gather(1, y.unsqueeze(1))
    z = (margin - picked + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[y].unsqueeze(1)
    from .functional import one_hot
    others = 1 - one_hot(y, c).to(x.dtype)  # the target class itself is left out of the sum
    loss = (z * others).sum(1) / c
    if input.dim() < 2:
        loss = loss.reshape(())
    return _nodes.named(_reduce(loss, reduction), "MultiMarginLossBackward0")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss: each row of ``target`` lists its classes, ended by the first -1;
    ``sum_{j listed} sum_{i not listed} max(0, 1 - (x[j] - x[i])) / C`` per sample."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, multilabel_margin_loss, input, target, size_average, reduce, reduction)
    reduction = _reduction(size_average, reduce, reduction)
    if input.dim() > 2 or tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {list(target.shape)} for input "
                           f"of size: {list(input.shape)}; the target has the input's shape")
    _check_long(target, "multilabel_margin_loss")
    c = input.shape[-1] if input.dim() else 1
    x = input.reshape(-1, c)
    xp = target._backend.xp
    y = xp.reshape(target._data, (-1, c))
    listed = xp.cumulative_sum(xp.astype(y < 0, xp.int64), axis=1) == 0  # the positions before the first -1
    if bool(xp.any(listed & (y >= c))):
        raise RuntimeError(f"multilabel_margin_loss: argument #2 'target' is out of range: class indices must be "
                           f"in [0, {c}), or -1 to end a row's list")
    safe = xp.where(listed, y, 0)
    classes = xp.arange(c, dtype=y.dtype)
    is_target = xp.any(listed[:, :, None] & (safe[:, :, None] == classes), axis=1)  # (N, C)
    pairs = listed[:, :, None] & ~is_target[:, None, :]  # (N, listed position j, class i)
    as_tensor = lambda a: Tensor._make(xp.astype(a, x._data.dtype), x._dtype, x._backend)  # noqa: E731
    picked = x.gather(1, Tensor._make(safe, _dt.int64, target._backend))
    loss = ((1 - picked.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0) * as_tensor(pairs)).sum((1, 2)) / c
    if input.dim() < 2:
        loss = loss.reshape(())
    return _nodes.named(_reduce(loss, reduction), "MultilabelMarginLossBackward0")


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """``1 - cos(x1, x2)`` where ``target == 1``, ``max(0, cos(x1, x2) - margin)`` where ``target == -1``."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, cosine_embedding_loss, input1, input2, target,
                        margin, size_average, reduce, reduction)
    from ..ops import where
    reduction = _reduction(size_average, reduce, reduction)
    if target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.dim() != target.dim() + 1 or input2.dim() != target.dim() + 1:
        raise RuntimeError(f"{target.dim()}D target tensor expects {target.dim() + 1}D input tensors, but found "
                           f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = input1.dim() - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    pos = where(target == 1, 1 - cos, 0.0)
    neg = where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(pos + neg, reduction)


def _check_triplet(anchor, positive, negative):
    if not anchor.dim() == positive.dim() == negative.dim():
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the p-norm distance (``swap``: the harder
    negative of ``d(a, n)`` and ``d(p, n)``)."""
    if _amp.active and _amp.applies():
        return _amp.run(_amp.FLOAT32, triplet_margin_loss, anchor, positive, negative,
                        margin, p, eps, swap, size_average, reduce, reduction)
    from .functional import pairwise_distance
    reduction = _reduction(size_average, reduce, reduction)
    _check_triplet(anchor, positive, negative)
    return triplet_margin_with_distance_loss(
        anchor, positive, negative, distance_function=lambda a, b: pairwise_distance(a, b, p, eps),
        margin=margin, swap=swap, reduction=reduction, _check_margin=False)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean", _check_margin=True):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with any ``distance_function`` (default: pairwise distance)."""
    from ..ops import minimum
    from .functional import pairwise_distance
    if _check_margin and not margin > 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                         f"instead")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {list(_REDUCTIONS)}")
    _check_triplet(anchor, positive, negative)
    distance = distance_function if distance_function is not None else pairwise_distance
    d_ap = distance(anchor, positive)
    d_an = distance(anchor, negative)
    if swap:
        d_an = minimum(d_an, distance(positive, negative))
    return _reduce(_clamp_min_0(margin + d_ap - d_an), reduction)
