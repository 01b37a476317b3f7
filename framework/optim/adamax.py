"""Adamax (Adam with the infinity norm), with torch's exact update."""
from __future__ import annotations

from .optimizer import Optimizer, adam_options, bump_step, check_options, check_unsupported, grad_array, lerp_, touch

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, ``u = max(beta2 * u, |g| + eps)`` (torch's rule)."""

    _state_keys = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    @staticmethod
    def _update(p, state, group):
        lr, eps, wd, beta1, beta2 = adam_options(group)
        xp = p._backend.xp
        step = bump_step(state)
        g = grad_array(p, group["maximize"], wd)
        m = state["exp_avg"]._data
        u = state["exp_inf"]._data
        lerp_(m, g, 1 - beta1)
        u *= beta2
        a = xp.abs(g)
        a += eps
        u[...] = xp.maximum(u, a)
        ratio = m / u
        ratio *= lr / (1 - beta1 ** step)
        p._data -= ratio
        touch(p, state, "exp_avg", "exp_inf")
