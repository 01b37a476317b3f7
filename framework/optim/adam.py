"""Adam (and, with ``decoupled_weight_decay=True``, AdamW), with torch's exact update."""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..tensor import Tensor
from .optimizer import Optimizer, adam_options, axpy, bump_step, check_options, check_unsupported, ema_sq_, touch

__all__ = ["Adam", "AdamW", "adam_update"]


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
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        _check_betas(betas, foreach)
        check_unsupported(foreach, fused, differentiable, capturable, fusable=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one update; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, eps, wd, beta1, beta2 = adam_options(group)
            decoupled = group.get("decoupled_weight_decay", False)
            keys = self._buffers(group)
            sign = -1.0 if group["maximize"] else 1.0
            l2 = 0.0 if decoupled else wd
            decay = 1 - lr * wd if decoupled else 1.0
            for p, state in self._params_with_grad(group):
                step = bump_step(state)
                if p._dtype in _dt.NARROW_FLOATS:
                    _adam_in_torchs_steps(p, state, step, lr, beta1, beta2, eps, wd, decoupled, group["maximize"])
                    continue
                bc1 = 1 - beta1 ** step
                bc2_sqrt = math.sqrt(1 - beta2 ** step)
                # the bias corrections folded into two scalars: p -= lr/bc1 * m / (sqrt(v)/bc2_sqrt + eps)
                step_size = lr * bc2_sqrt / bc1
                eps_hat = eps * bc2_sqrt
                backend, d, g = p._backend, p._data, p._grad._data
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                vmax = state["max_exp_avg_sq"]._data if len(keys) == 3 else None
                # one pass over memory where the backend fuses the update (one kernel on a GPU); keywords
                # spelled out, not **options: that costs a microsecond per parameter
                (backend.fused_adam(d, g, m, v, vmax, sign=sign, weight_decay=l2, decay=decay, beta1=beta1,
                                    beta2=beta2, step_size=step_size, eps=eps_hat)
                 or adam_update(backend, d, g, m, v, vmax, sign=sign, weight_decay=l2, decay=decay, beta1=beta1,
                                beta2=beta2, step_size=step_size, eps=eps_hat))
                touch(p, state, *keys)
        return loss

    @staticmethod
    def _buffers(group):
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else ("exp_avg", "exp_avg_sq")


def _check_betas(betas, foreach):
    """torch's rule for Adam's betas: both floats or both one-element tensors (not with foreach=True)."""
    if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
        raise ValueError("betas must be either both floats or both Tensors")
    for i, beta in enumerate(betas):
        if isinstance(beta, Tensor):
            if foreach:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
            if beta.numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay`` each step,
    through Adam's own update (``adam_update``'s ``decay``).

    Example:
        >>> opt = tensorplug.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


def _adam_in_torchs_steps(p, state, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    """A float16/bfloat16 parameter's update as torch's single-tensor Adam makes it, op by op, each op
    rounded to the parameter's dtype: the update folded into two scalars (as for float32) rounds at other
    places, a bfloat16 ulp apart after a step."""
    from ..autograd.grad_mode import no_grad
    from ..ops.minmax import maximum
    m, v = state["exp_avg"], state["exp_avg_sq"]
    with no_grad():
        g = -p.grad if maximize else p.grad
        if weight_decay != 0:
            if decoupled:
                p.mul_(1 - lr * weight_decay)
            else:
                g = g.add(p, alpha=weight_decay)
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if "max_exp_avg_sq" in state:
            v = state["max_exp_avg_sq"].copy_(maximum(state["max_exp_avg_sq"], v))
        denom = (v.sqrt() / (1 - beta2 ** step) ** 0.5).add_(eps)
        p.addcdiv_(m, denom, value=-(lr / (1 - beta1 ** step)))


def adam_update(backend, p, g, m, v, vmax, *, sign, weight_decay, decay, beta1, beta2, step_size, eps):
    """One Adam step on ``backend``'s arrays in place: ``Backend.fused_adam`` written with array operations.

    ``p *= decay`` (AdamW's decoupled decay), ``d = sign * g + weight_decay * p``,
    ``m``, ``v`` the moving averages of ``d`` and ``d * d``, ``vmax = max(vmax, v)``
    unless None, then ``p -= step_size * m / (sqrt(v) + eps)``. ``g`` is never written. Returns True.
    """
    if decay != 1:
        p *= decay
    negate = sign != 1
    if weight_decay != 0:
        g = axpy(p * weight_decay, sign, g)  # a fresh array
        negate = False
    adam_moments(m, v, g, beta1, beta2, negate)
    if vmax is not None:
        vmax[...] = backend.xp.maximum(vmax, v)
        v = vmax
    denom = backend.xp.sqrt(v)
    denom += eps
    ratio = m / denom
    ratio *= step_size
    p -= ratio
    return True


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
