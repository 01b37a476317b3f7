"""Adadelta, with torch's exact update."""
from __future__ import annotations

from .optimizer import Optimizer, bump_step, check_options, check_unsupported, ema_sq_, grad_array, touch

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler), torch's rule: a learning-rate-free ratio of running RMS values."""

    _state_keys = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, rho=(rho, 0.0, 1.0))
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    @staticmethod
    def _update(p, state, group):
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        xp = p._backend.xp
        bump_step(state)
        g = grad_array(p, group["maximize"], float(group["weight_decay"]))
        sq = state["square_avg"]._data
        acc = state["acc_delta"]._data
        ema_sq_(sq, g, rho)
        std = xp.sqrt(sq + eps)
        delta = xp.sqrt(acc + eps)
        delta /= std
        delta *= g
        ema_sq_(acc, delta, rho)
        delta *= lr
        p._data -= delta
        touch(p, state, "square_avg", "acc_delta")
