"""Adam (and, with ``decoupled_weight_decay=True``, AdamW), with torch's exact update."""
from __future__ import annotations

import math

from .optimizer import (Optimizer, axpy, bump_step, check_options, check_unsupported, ema_sq_, init_state, touch,
                        zeros_state)

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam: moment estimates with bias correction, exactly torch's update.

    With ``g`` the gradient (negated when ``maximize``; plus
    ``weight_decay * p`` unless decoupled, where ``p *= 1 - lr * weight_decay``)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g       (amsgrad: vmax = max(vmax, v))
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        betas: decay rates of the two moments (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: use the maximum of the second moments.
        maximize: ascend the objective.
        decoupled_weight_decay: AdamW's decay of the weights themselves.

    Example:
        >>> opt = tensorplug.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        check_unsupported(foreach, fused, differentiable, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one update; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1, beta2 = (float(b) for b in group["betas"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            amsgrad = group["amsgrad"]
            decoupled = group.get("decoupled_weight_decay", False)
            maximize = group["maximize"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if not state:
                    init_state(state, p, "exp_avg", "exp_avg_sq")
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
                xp = p._backend.xp
                d = p._data
                g = grad._data
                step = bump_step(state)
                bc1 = 1 - beta1 ** step
                bc2_sqrt = math.sqrt(1 - beta2 ** step)
                vmax = state["max_exp_avg_sq"]._data if amsgrad else None
                # one pass over memory where the backend fuses the update (one kernel on a GPU)
                if p._backend.fused_adam(d, g, state["exp_avg"]._data, state["exp_avg_sq"]._data, vmax,
                                         sign=-1.0 if maximize else 1.0, weight_decay=0.0 if decoupled else wd,
                                         decay=1 - lr * wd if decoupled else 1.0, beta1=beta1, beta2=beta2,
                                         step_size=lr * bc2_sqrt / bc1, eps=eps * bc2_sqrt):
                    touch(p, state, "exp_avg", "exp_avg_sq", *(("max_exp_avg_sq",) if amsgrad else ()))
                    continue
                negate = maximize
                if wd != 0:
                    if decoupled:
                        d *= 1 - lr * wd
                    else:
                        g = axpy(d * wd, -1.0 if maximize else 1.0, g)
                        negate = False
                adam_moments(state["exp_avg"]._data, state["exp_avg_sq"]._data, g, beta1, beta2, negate)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                if amsgrad:
                    vmax[...] = xp.maximum(vmax, v)
                    v = vmax
                    state["max_exp_avg_sq"]._version[0] += 1
                # p -= lr/bc1 * m / (sqrt(v)/bc2_sqrt + eps), with bc2_sqrt folded into the scalars
                denom = xp.sqrt(v)
                denom += eps * bc2_sqrt
                ratio = m / denom
                ratio *= lr * bc2_sqrt / bc1
                d -= ratio
                touch(p, state, "exp_avg", "exp_avg_sq")
        return loss


def adam_moments(m, v, g, beta1, beta2, negate):
    """``m = lerp(m, s*g, 1-beta1)``, ``v = beta2*v + (1-beta2)*g*g`` in place (s = -1 if negate)."""
    # beta1*(m - g) + g == beta1*m + (1-beta1)*g, with no temporary
    if negate:
        m += g
        m *= beta1
        m -= g
    else:
        m -= g
        m *= beta1
        m += g
    ema_sq_(v, g, beta2)
