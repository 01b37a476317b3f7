"""Extra losses: torch's Huber, SmoothL1, KLDiv, PoissonNLL, CosineEmbedding, MarginRanking and
TripletMargin losses (same arguments, same values and gradients), and a binary focal loss.

Written with tensorplug's public tensor ops only, so autograd (and every
backend) comes for free.
"""
from __future__ import annotations

import math
import warnings

import tensorplug
from tensorplug.nn import functional as F
from tensorplug.nn.loss import _Loss

__all__ = ["HuberLoss", "SmoothL1Loss", "KLDivLoss", "PoissonNLLLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
           "TripletMarginLoss", "FocalLoss"]


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check(reduction, allowed=("none", "mean", "sum")):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {list(allowed)}")
    return reduction


def _size_warning(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      f"This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      f"the same size.", UserWarning, stacklevel=3)


class HuberLoss(_Loss):
    """``0.5 * d**2`` where ``|d| < delta``, else ``delta * (|d| - 0.5 * delta)``, with ``d = input - target``.

    Example:
        >>> tensorplug.nn.HuberLoss(delta=0.5)(tensorplug.randn(3), tensorplug.zeros(3))
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=_check(reduction))
        if not delta > 0:
            raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        _size_warning(input, target)
        diff = input - target
        a = diff.abs()
        loss = tensorplug.where(a < self.delta, 0.5 * diff * diff, self.delta * (a - 0.5 * self.delta))
        return _reduce(loss, self.reduction)


class SmoothL1Loss(_Loss):
    """``0.5 * d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 * beta`` (L1 when ``beta == 0``)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction)
        if beta < 0:
            raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
        self.beta = beta

    def forward(self, input, target):
        _size_warning(input, target)
        diff = input - target
        a = diff.abs()
        if self.beta == 0:
            return _reduce(a, self.reduction)
        loss = tensorplug.where(a < self.beta, 0.5 * diff * diff / self.beta, a - 0.5 * self.beta)
        return _reduce(loss, self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``.

    ``reduction='batchmean'`` gives the true KL divergence per sample; ``'mean'``
    (torch's default) averages over every element and warns, as torch does.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction, ("none", "mean", "sum", "batchmean"))
        self.log_target = log_target

    def forward(self, input, target):
        if self.log_target:
            loss = target.exp() * (target - input)
        else:
            # xlogy(t, t) - t * input, with 0 * log 0 = 0
            positive = target > 0
            safe = tensorplug.where(positive, target, tensorplug.ones_like(target))
            loss = tensorplug.where(positive, target * safe.log(), tensorplug.zeros_like(target)) - target * input
        if self.reduction == "batchmean":
            return loss.sum() / input.shape[0] if input.dim() != 0 else loss.sum()
        if self.reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
        return _reduce(loss, self.reduction)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of a Poisson ``target`` with rate ``exp(input)`` (or ``input``)."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input, target):
        if self.log_input:
            loss = log_input.exp() - target * log_input
        else:
            loss = log_input - target * (log_input + self.eps).log()
        if self.full:
            # Stirling's approximation of log(target!), used where target > 1
            big = target > 1
            safe = tensorplug.where(big, target, tensorplug.ones_like(target))
            stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
            loss = loss + tensorplug.where(big, stirling, tensorplug.zeros_like(stirling))
        return _reduce(loss, self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for ``y = 1``, ``max(0, cos(x1, x2) - margin)`` for ``y = -1``."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        if input1.dim() not in (1, 2) or input1.shape != input2.shape:
            raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of the same shape, got "
                               f"{list(input1.shape)} and {list(input2.shape)}")
        dim = input1.dim() - 1
        eps = 1e-12
        prod = (input1 * input2).sum(dim)
        mag1 = (input1 * input1).sum(dim) + eps
        mag2 = (input2 * input2).sum(dim) + eps
        cos = prod / (mag1 * mag2).sqrt()
        zeros = tensorplug.zeros_like(cos)
        pos = tensorplug.where(target == 1, 1 - cos, zeros)
        neg = tensorplug.where(target == -1, (cos - self.margin).clamp(min=0), zeros)
        return _reduce(pos + neg, self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y * (x1 - x2) + margin)``: ``y = 1`` means x1 should rank higher."""

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        loss = (-target * (input1 - input2) + self.margin).clamp(min=0)
        return _reduce(loss, self.reduction)


class TripletMarginLoss(_Loss):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the p-norm distance (``swap``: the harder negative)."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        _check(self.reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor, positive, negative):
        d_ap = F.pairwise_distance(anchor, positive, self.p, self.eps)
        d_an = F.pairwise_distance(anchor, negative, self.p, self.eps)
        if self.swap:
            d_an = tensorplug.minimum(d_an, F.pairwise_distance(positive, negative, self.p, self.eps))
        loss = (self.margin + d_ap - d_an).clamp(min=0)
        return _reduce(loss, self.reduction)


class FocalLoss(_Loss):
    """Binary focal loss on logits (Lin et al., 2017; torchvision's ``sigmoid_focal_loss``)::

        p_t  = sigmoid(x) if y == 1 else 1 - sigmoid(x)      (soft targets interpolate)
        loss = -alpha_t * (1 - p_t) ** gamma * log(p_t)

    with ``alpha_t = alpha * y + (1 - alpha) * (1 - y)`` (no weighting when ``alpha < 0``).

    Example:
        >>> tensorplug.nn.FocalLoss(gamma=2.0)(logits, targets.float())
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean"):
        super().__init__(reduction=_check(reduction))
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0, got {gamma}")
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target):
        _size_warning(input, target)
        p = tensorplug.sigmoid(input)
        ce = F.binary_cross_entropy_with_logits(input, target, reduction="none")
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma if self.gamma != 0 else ce
        if self.alpha >= 0:
            loss = (self.alpha * target + (1 - self.alpha) * (1 - target)) * loss
        return _reduce(loss, self.reduction)
