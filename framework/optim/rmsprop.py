"""RMSprop, with torch's exact update (optionally centered, with momentum)."""
from __future__ import annotations

from .optimizer import (Optimizer, axpy, bump_step, check_options, check_unsupported, ema_sq_, init_state, touch,
                        zeros_state)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, exactly torch's update.

    With ``g`` the gradient (negated when ``maximize``, plus ``weight_decay * p``)::

        sq  = alpha * sq + (1 - alpha) * g * g
        avg = sqrt(sq - ga * ga) + eps   with ga = lerp(ga, g, 1 - alpha) when centered,
              sqrt(sq) + eps             otherwise
        buf = momentum * buf + g / avg;  p -= lr * buf     (momentum > 0)
        p  -= lr * g / avg                                 (otherwise)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator (default 1e-8).
        weight_decay, momentum: as in torch (default 0).
        centered: normalise by the estimated variance of the gradient.
        maximize: ascend the objective.

    Example:
        >>> opt = tensorplug.optim.RMSprop(model.parameters(), lr=1e-2)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, momentum=momentum)
        if not alpha >= 0.0:
            raise ValueError(f"Invalid alpha value: {alpha} (expected a number >= 0)")
        check_unsupported(foreach, None, differentiable, capturable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one update; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            momentum = float(group["momentum"])
            centered = group["centered"]
            maximize = group["maximize"]
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                state = self.state[p]
                if not state:
                    init_state(state, p, "square_avg")
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered:
                        state["grad_avg"] = zeros_state(p)
                xp = p._backend.xp
                d = p._data
                g = grad._data
                s = -1.0 if maximize else 1.0
                bump_step(state)
                buf_t = state["momentum_buffer"] if momentum > 0 else None
                ga_t = state["grad_avg"] if centered else None
                # one pass over memory where the backend fuses the update (one kernel on a GPU)
                if p._backend.fused_rmsprop(d, g, state["square_avg"]._data,
                                            None if buf_t is None else buf_t._data,
                                            None if ga_t is None else ga_t._data, sign=s, lr=lr, alpha=alpha, eps=eps,
                                            weight_decay=wd, momentum=momentum):
                    touch(p, state, "square_avg", *(() if buf_t is None else ("momentum_buffer",)),
                          *(() if ga_t is None else ("grad_avg",)))
                    continue
                if wd != 0:
                    g = axpy(d * wd, s, g)
                    s = 1.0
                sq = state["square_avg"]._data
                ema_sq_(sq, g, alpha)
                if centered:
                    ga = state["grad_avg"]._data
                    # lerp(ga, s*g, 1-alpha) == alpha*(ga - s*g) + s*g
                    axpy(ga, -s, g)
                    ga *= alpha
                    axpy(ga, s, g)
                    avg = ga * ga
                    avg -= sq
                    avg *= -1
                    avg = xp.sqrt(avg)
                    state["grad_avg"]._version[0] += 1
                else:
                    avg = xp.sqrt(sq)
                avg += eps
                if momentum > 0:
                    buf_t = state["momentum_buffer"]
                    buf = buf_t._data
                    buf *= momentum
                    ratio = g / avg
                    axpy(buf, s, ratio)
                    axpy(d, -lr, buf)
                    buf_t._version[0] += 1
                else:
                    ratio = g / avg
                    axpy(d, -lr * s, ratio)
                touch(p, state, "square_avg")
        return loss
