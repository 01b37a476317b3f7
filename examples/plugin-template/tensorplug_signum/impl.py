"""The classes: written with tensorplug's public API only."""
from __future__ import annotations

import math

import tensorplug
from tensorplug.nn import functional as F
from tensorplug.nn import Loss


class LogCoshLoss(Loss):
    """mean(log(cosh(input - target))): quadratic near 0, linear far away."""

    def forward(self, input, target):
        d = input - target
        loss = d + F.softplus(-2 * d) - math.log(2)  # log(cosh(d)), stable for large |d|
        return loss.mean() if self.reduction == "mean" else loss.sum() if self.reduction == "sum" else loss


class Signum(tensorplug.optim.Optimizer):
    """Signum (Bernstein et al., 2018): m = beta*m + (1-beta)*g; p -= lr * sign(m)."""

    def __init__(self, params, lr=1e-3, momentum=0.9):
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @tensorplug.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with tensorplug.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("momentum_buffer", tensorplug.zeros_like(p))
                m.mul_(group["momentum"]).add_((1 - group["momentum"]) * p.grad)
                p.sub_(group["lr"] * m.sign())
        return loss
