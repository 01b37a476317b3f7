"""Extra optimizers that torch does not have: Lion and LAMB, from their papers.

Each updates ``p._data`` in place through the parameter's backend, like the
built-in optimizers, with the helpers of ``tensorplug.optim.optimizer``.
"""
from __future__ import annotations

import math

from tensorplug.optim import Optimizer
from tensorplug.optim.optimizer import (adam_options, bump_step, check_options, grad_array, lerp_, touch,
                                        update_moments, zeros_state)

__all__ = ["Lion", "LAMB"]


class Lion(Optimizer):
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms")::

        p *= 1 - lr * weight_decay
        p -= lr * sign(beta1 * m + (1 - beta1) * g)
        m  = beta2 * m + (1 - beta2) * g

    Defaults as in the paper's reference code: lr=1e-4, betas=(0.9, 0.99).
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False):
        check_options(lr=lr, weight_decay=weight_decay, betas=betas)
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize))

    @staticmethod
    def _init_state(state, p, group):
        state["exp_avg"] = zeros_state(p)

    @staticmethod
    def _update(p, state, group):
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = map(float, group["betas"])
        xp = p._backend.xp
        g = grad_array(p, group["maximize"], 0.0)
        m = state["exp_avg"]._data
        d = p._data
        if wd != 0:
            d *= 1 - lr * wd
        c = m * beta1
        c += (1 - beta1) * g
        c = xp.sign(c)
        c *= lr
        d -= c
        lerp_(m, g, 1 - beta2)
        touch(p, state, "exp_avg")


class LAMB(Optimizer):
    """LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"), per parameter tensor::

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        r = (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps) + weight_decay * p
        p -= lr * (||p|| / ||r||) * r          (trust ratio 1 when either norm is 0)
    """

    _state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, maximize=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

    @staticmethod
    def _update(p, state, group):
        lr, eps, wd, beta1, beta2 = adam_options(group)
        xp = p._backend.xp
        step = bump_step(state)
        g = grad_array(p, group["maximize"], 0.0)
        m, v = update_moments(state, g, beta1, beta2)
        d = p._data
        denom = xp.sqrt(v / (1 - beta2 ** step))
        denom += eps
        r = m / denom
        r *= 1 / (1 - beta1 ** step)
        if wd != 0:
            r += wd * d
        w_norm = math.sqrt(float(xp.sum(d * d)))
        r_norm = math.sqrt(float(xp.sum(r * r)))
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        r *= lr * trust
        d -= r
        touch(p, state, "exp_avg", "exp_avg_sq")
