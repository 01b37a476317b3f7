"""RAdam (rectified Adam), with torch's exact update."""
from __future__ import annotations

from .optimizer import (Optimizer, bump_step, check_options, check_unsupported, decayed_grad, ema_sq_, init_state,
                        lerp_, touch)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive term is switched on once its variance is tractable."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    init_state(state, p, "exp_avg", "exp_avg_sq")
                xp = p._backend.xp
                step = bump_step(state)
                g = decayed_grad(p, group, lr, wd)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                lerp_(m, g, 1 - beta1)
                ema_sq_(v, g, beta2)
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
        return loss
