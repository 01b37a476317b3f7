"""RMSprop, with torch's exact update (optionally centered, with momentum)."""
from __future__ import annotations

from .optimizer import Optimizer, axpy, bump_step, check_options, check_unsupported, ema_sq_, touch

__all__ = ["RMSprop", "rmsprop_update"]


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
            momentum = float(group["momentum"])
            keys = self._buffers(group)
            sign = -1.0 if group["maximize"] else 1.0
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            wd = float(group["weight_decay"])
            for p, state in self._params_with_grad(group):
                bump_step(state)
                backend, d, g, sq = p._backend, p._data, p._grad._data, state["square_avg"]._data
                buf = state["momentum_buffer"]._data if momentum > 0 else None
                ga = state["grad_avg"]._data if group["centered"] else None
                # one pass over memory where the backend fuses the update (one kernel on a GPU); keywords
                # spelled out, not **options: that costs a microsecond per parameter
                (backend.fused_rmsprop(d, g, sq, buf, ga, sign=sign, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                                       momentum=momentum)
                 or rmsprop_update(backend, d, g, sq, buf, ga, sign=sign, lr=lr, alpha=alpha, eps=eps,
                                   weight_decay=wd, momentum=momentum))
                touch(p, state, *keys)
        return loss

    @staticmethod
    def _buffers(group):
        return ("square_avg",) + (("momentum_buffer",) if float(group["momentum"]) > 0 else ()) + \
            (("grad_avg",) if group["centered"] else ())


def rmsprop_update(backend, p, g, square_avg, buf, grad_avg, *, sign, lr, alpha, eps, weight_decay, momentum):
    """One RMSprop step on ``backend``'s arrays in place: ``Backend.fused_rmsprop`` written with array
    operations (``buf`` None without momentum, ``grad_avg`` None unless centered). ``g`` is never
    written. Returns True."""
    s = sign
    if weight_decay != 0:
        g = axpy(p * weight_decay, s, g)  # s*g + wd*p, a fresh array
        s = 1.0
    ema_sq_(square_avg, g, alpha)
    if grad_avg is not None:
        # lerp(grad_avg, s*g, 1-alpha) == alpha*(grad_avg - s*g) + s*g
        axpy(grad_avg, -s, g)
        grad_avg *= alpha
        axpy(grad_avg, s, g)
        avg = grad_avg * grad_avg
        avg -= square_avg
        avg *= -1
        avg = backend.xp.sqrt(avg)
    else:
        avg = backend.xp.sqrt(square_avg)
    avg += eps
    ratio = g / avg
    if buf is None:
        axpy(p, -lr * s, ratio)
        return True
    buf *= momentum
    axpy(buf, s, ratio)
    axpy(p, -lr, buf)
    return True
