"""RAdam (rectified Adam), with torch's exact update."""
from __future__ import annotations

from .optimizer import (Optimizer, adam_options, bump_step, check_options, check_unsupported, decayed_grad, touch,
                        update_moments)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive term is switched on once its variance is tractable."""

    _state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    @staticmethod
    def _update(p, state, group):
        lr, eps, wd, beta1, beta2 = adam_options(group)
        xp = p._backend.xp
        step = bump_step(state)
        g = decayed_grad(p, group, lr, wd)
        m, v = update_moments(state, g, beta1, beta2)
        bc1 = 1 - beta1 ** step
        bc2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        update = m / bc1
        update *= lr
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            denom = xp.sqrt(v)
            denom += eps
            update /= denom
            update *= bc2 ** 0.5 * rect
        p._data -= update
        touch(p, state, "exp_avg", "exp_avg_sq")
