"""Extra losses that torch does not have: a binary focal loss (torch's own losses are built into
tensorplug.nn).

Written with tensorplug's public tensor ops only, so autograd (and every
backend) comes for free.
"""
from __future__ import annotations

import warnings

import tensorplug
from tensorplug.nn import functional as F
from tensorplug.nn.loss import _Loss

__all__ = ["FocalLoss"]


def _check(reduction, allowed=("none", "mean", "sum")):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction; expected one of {list(allowed)}")
    return reduction


def _size_warning(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      f"This will likely lead to incorrect results due to broadcasting. Please ensure they have "
                      f"the same size.", UserWarning, stacklevel=3)



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
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss
