"""``PseudoHuberLoss``: a smooth Huber loss; a loss plugin in a few lines."""
from __future__ import annotations

import tensorplug
from tensorplug import nn


class PseudoHuberLoss(nn.Loss):
    """delta^2 * (sqrt(1 + (d / delta)^2) - 1): like MSE / 2 near zero, like delta * L1 far away.

    ``nn.Loss`` (the base of every built-in loss) takes ``reduction`` ('mean',
    'sum' or 'none') and stores it as ``self.reduction``. Written with
    tensorplug ops, so autograd just works.
    """

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"PseudoHuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input, target):
        d = (input - target) / self.delta
        loss = self.delta ** 2 * (tensorplug.sqrt(1 + d * d) - 1)
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss
