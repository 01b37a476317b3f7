"""NAdam (Adam with Nesterov momentum), with torch's exact update and momentum-decay schedule."""
from __future__ import annotations

from .optimizer import (Optimizer, adam_options, bump_step, check_options, check_unsupported, decayed_grad, step_state,
                        touch, update_moments, zeros_state)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and torch's momentum-decay schedule (``mu_product`` state)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        if not momentum_decay >= 0.0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    @staticmethod
    def _init_state(state, p, group):
        state["step"] = step_state()
        state["mu_product"] = step_state()
        state["mu_product"]._data += 1
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    @staticmethod
    def _update(p, state, group):
        lr, eps, wd, beta1, beta2 = adam_options(group)
        decay = float(group["momentum_decay"])
        xp = p._backend.xp
        step = bump_step(state)
        g = decayed_grad(p, group, lr, wd)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        # mu_product is a float32 0-d tensor, as in torch: its rounding is part of the rule
        mp = state["mu_product"]
        mp._data *= mu
        mu_product = float(mp._data)
        m, v = update_moments(state, g, beta1, beta2)
        denom = xp.sqrt(v / (1 - beta2 ** step))
        denom += eps
        d = p._data
        d += (g / denom) * (-lr * (1.0 - mu) / (1.0 - mu_product))
        d += (m / denom) * (-lr * mu_next / (1.0 - mu_product * mu_next))
        touch(p, state, "exp_avg", "exp_avg_sq", "mu_product")
