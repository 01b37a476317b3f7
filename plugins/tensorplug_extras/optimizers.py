"""Extra optimizers: torch's AdamW, Adagrad, Adadelta, Adamax, NAdam, RAdam; Lion and LAMB from their papers.

Each updates ``p._data`` in place through the parameter's backend, like the
built-in optimizers, with the helpers of ``tensorplug.optim.optimizer``.
"""
from __future__ import annotations

import math

from tensorplug.optim import Adam, Optimizer
from tensorplug.optim.optimizer import (bump_step, check_options, check_unsupported, ema_sq_, init_state, step_state,
                                        touch, zeros_state)

__all__ = ["AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Lion", "LAMB"]


def _grad(p, maximize, weight_decay):
    """The gradient array to use: negated when maximizing, plus ``weight_decay * p`` (L2)."""
    g = p._grad._data
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p._data
    return g


def _decayed_grad(p, group, lr, weight_decay):
    """The gradient for NAdam and RAdam: with ``decoupled_weight_decay`` the weights decay
    (``p *= 1 - lr * weight_decay``) and the gradient is left alone; otherwise L2 as in ``_grad``."""
    if weight_decay != 0 and group["decoupled_weight_decay"]:
        p._data *= 1 - lr * weight_decay
        return _grad(p, group["maximize"], 0.0)
    return _grad(p, group["maximize"], weight_decay)


def _lerp_(m, g, weight):
    """``m += weight * (g - m)`` in place (torch's ``lerp_``)."""
    m *= 1 - weight
    m += weight * g


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay`` each step.

    Example:
        >>> opt = tensorplug.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


class Adagrad(Optimizer):
    """Adagrad: ``sum += g*g``; ``p -= lr / (1 + (t-1) * lr_decay) * g / (sqrt(sum) + eps)`` (torch's rule)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay)
        if not lr_decay >= 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not initial_accumulator_value >= 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        check_unsupported(foreach, fused, differentiable)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        # torch creates Adagrad's state up front (it shows in state_dict before any step)
        state = self.state[p]
        init_state(state, p, "sum")
        state["sum"]._data += float(group["initial_accumulator_value"])
        return state

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p] or self._init_state(p, group)
                step = bump_step(state)
                g = _grad(p, group["maximize"], float(group["weight_decay"]))
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                s += g * g
                std = p._backend.xp.sqrt(s)
                std += eps
                ratio = g / std
                ratio *= clr
                p._data -= ratio
                touch(p, state, "sum")
        return loss


class Adadelta(Optimizer):
    """Adadelta (Zeiler), torch's rule: a learning-rate-free ratio of running RMS values."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, rho=(rho, 0.0, 1.0))
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    init_state(state, p, "square_avg", "acc_delta")
                xp = p._backend.xp
                bump_step(state)
                g = _grad(p, group["maximize"], float(group["weight_decay"]))
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
        return loss


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, ``u = max(beta2 * u, |g| + eps)`` (torch's rule)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, eps = float(group["lr"]), float(group["eps"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    init_state(state, p, "exp_avg", "exp_inf")
                xp = p._backend.xp
                step = bump_step(state)
                g = _grad(p, group["maximize"], float(group["weight_decay"]))
                m = state["exp_avg"]._data
                u = state["exp_inf"]._data
                _lerp_(m, g, 1 - beta1)
                u *= beta2
                a = xp.abs(g)
                a += eps
                u[...] = xp.maximum(u, a)
                ratio = m / u
                ratio *= lr / (1 - beta1 ** step)
                p._data -= ratio
                touch(p, state, "exp_avg", "exp_inf")
        return loss


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

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            decay = float(group["momentum_decay"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_state()
                    state["mu_product"] = step_state()
                    state["mu_product"]._data += 1
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                xp = p._backend.xp
                step = bump_step(state)
                g = _decayed_grad(p, group, lr, wd)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
                # mu_product is a float32 0-d tensor, as in torch: its rounding is part of the rule
                mp = state["mu_product"]
                mp._data *= mu
                mu_product = float(mp._data)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                _lerp_(m, g, 1 - beta1)
                ema_sq_(v, g, beta2)
                denom = xp.sqrt(v / (1 - beta2 ** step))
                denom += eps
                d = p._data
                d += (g / denom) * (-lr * (1.0 - mu) / (1.0 - mu_product))
                d += (m / denom) * (-lr * mu_next / (1.0 - mu_product * mu_next))
                touch(p, state, "exp_avg", "exp_avg_sq", "mu_product")
        return loss


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
                g = _decayed_grad(p, group, lr, wd)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                _lerp_(m, g, 1 - beta1)
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

    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, wd = float(group["lr"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = zeros_state(p)
                xp = p._backend.xp
                g = _grad(p, group["maximize"], 0.0)
                m = state["exp_avg"]._data
                d = p._data
                if wd != 0:
                    d *= 1 - lr * wd
                c = m * beta1
                c += (1 - beta1) * g
                c = xp.sign(c)
                c *= lr
                d -= c
                _lerp_(m, g, 1 - beta2)
                touch(p, state, "exp_avg")
        return loss


class LAMB(Optimizer):
    """LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning"), per parameter tensor::

        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        r = (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps) + weight_decay * p
        p -= lr * (||p|| / ||r||) * r          (trust ratio 1 when either norm is 0)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *, maximize=False):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay, betas=betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

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
                g = _grad(p, group["maximize"], 0.0)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                d = p._data
                _lerp_(m, g, 1 - beta1)
                ema_sq_(v, g, beta2)
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
        return loss
