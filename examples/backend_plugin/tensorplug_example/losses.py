"""``LogCoshLoss``: log(cosh(input - target)), averaged; a loss plugin in a few lines."""
from __future__ import annotations

import math

import tensorplug
from tensorplug import nn


class LogCoshLoss(nn.Module):
    """Like MSE near zero, like L1 far away. Written with tensorplug ops, so autograd just works."""

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{reduction} is not a valid value for reduction: expected 'mean', 'sum' or 'none'")
        self.reduction = reduction

    def forward(self, input, target):
        d = input - target
        # log(cosh(d)) = |d| + log1p(exp(-2|d|)) - log 2, stable for large |d|
        a = d.abs()
        loss = a + tensorplug.log1p(tensorplug.exp(-2 * a)) - math.log(2.0)
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss
