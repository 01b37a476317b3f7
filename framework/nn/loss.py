"""Core losses: the functional forms (re-exported by ``nn.functional``) and the Module classes.

Plugins subclass ``_Loss`` (or ``_WeightedLoss`` for a class-``weight``
argument) to add losses; they appear as ``tensorplug.nn.<Name>``.
"""
from __future__ import annotations

import warnings

from .. import dtypes as _dt
from ..tensor import Tensor
from . import _loss_nodes, _ops
from .module import Module

__all__ = ["L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]

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


def _size_warning(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", UserWarning, stacklevel=3)


# functional forms -----------------------------------------------------------------------

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target) ** 2``, reduced."""
    _check_pair(input, target, "mse_loss")
    reduction = _reduction(size_average, reduce, reduction)
    _size_warning(input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _loss_nodes.named(_reduce(loss, reduction), "MseLossBackward0")


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced."""
    _check_pair(input, target, "l1_loss")
    reduction = _reduction(size_average, reduce, reduction)
    _size_warning(input, target)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


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
                           f"{target._dtype.legacy_name[:-6]}; class-index targets must be int64 "
                           f"(target.long()); float targets must have the input's shape (class probabilities)")
    if input.dim() == 1:
        expected = ()
    else:
        expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        if input.dim() >= 2 and target.dim() >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0]}).")
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
    w = weight._data
    if weight._dtype is not input._dtype:
        w = input._backend.astype(w, input._dtype)
    return w


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy between logits ``(N, C)`` / ``(N, C, d...)`` / ``(C,)`` and a target.

    The target holds class indices (int64, without the C dim) or class
    probabilities (float, the input's shape).

    Example:
        >>> F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor([1, 0, 4]))
    """
    _check_pair(input, target, "cross_entropy")
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input._dtype.category < _dt.FLOAT:
        raise RuntimeError(f"cross_entropy: expected a floating-point input (logits), got {input._dtype}")
    if input.dim() == 0:
        raise RuntimeError("cross_entropy: the input must have at least 1 dimension (the classes)")
    c = input.shape[0] if input.dim() == 1 else input.shape[1]
    if target._dtype.category == _dt.FLOAT and target.shape == input.shape:
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing, c)
    _index_target(input, target, "cross_entropy", c)
    w = _weight_array(weight, input, c)  # the op checks the target range (in its kernel where fused)
    if input.dim() == 1:
        out = _ops.CrossEntropy.apply(input.unsqueeze(0), target.reshape(1)._data, weight=w,
                                      ignore_index=ignore_index, smoothing=float(label_smoothing),
                                      reduction=reduction)
        return out.reshape(()) if reduction == "none" else out
    flat, shape = _class_last(input)
    tdata = target.reshape(-1)._data
    if target._dtype is not _dt.int64:
        tdata = target._backend.astype(tdata, _dt.int64)
    out = _ops.CrossEntropy.apply(flat, tdata, weight=w, ignore_index=ignore_index,
                                  smoothing=float(label_smoothing), reduction=reduction)
    return out.reshape(shape) if reduction == "none" and len(shape) > 1 else out


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
    if reduction == "mean":
        n = input.numel() // c
        return loss.sum() / n
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``."""
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
        return out.reshape(()) if reduction == "none" else out
    flat, shape = _class_last(input)
    out = _ops.NllLoss.apply(flat, tdata, weight=w, ignore_index=ignore_index, reduction=reduction)
    return out.reshape(shape) if reduction == "none" and len(shape) > 1 else out


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``input`` in [0, 1]."""
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
    if target._dtype is not input._dtype:
        target = target.to(input._dtype)
    loss = _ops.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _loss_nodes.named(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """``binary_cross_entropy(sigmoid(input), target)`` computed stably from logits.

    ``pos_weight`` scales the positive term (one value per class, broadcast
    over the last dim).
    """
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
    if weight is not None:
        loss = loss * weight
    return _loss_nodes.named(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


# modules --------------------------------------------------------------------------------

class _Loss(Module):
    """Base of every loss module: holds ``reduction`` ('none' | 'mean' | 'sum')."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = legacy_reduction(size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.weight: Tensor | None


class L1Loss(_Loss):
    """Mean absolute error: ``nn.L1Loss()(input, target)``."""

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error: ``nn.MSELoss()(input, target)``."""

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against class indices or probabilities.

    Example:
        >>> loss = nn.CrossEntropyLoss()(tensorplug.randn(3, 5), tensorplug.tensor([1, 0, 4]))
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]."""

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw scores (sigmoid applied inside, stably); ``pos_weight`` per class."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                reduction=self.reduction)
