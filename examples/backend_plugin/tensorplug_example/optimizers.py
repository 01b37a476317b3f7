"""``SignSGD``: step by the sign of the gradient; an optimizer plugin in a few lines."""
from __future__ import annotations

import tensorplug
from tensorplug.optim import Optimizer


class SignSGD(Optimizer):
    """p <- p - lr * sign(grad)."""

    def __init__(self, params, lr=1e-3):
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        super().__init__(params, dict(lr=lr))

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with tensorplug.enable_grad():
                loss = closure()
        with tensorplug.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.sub_(group["lr"] * tensorplug.sign(p.grad))
        return loss
