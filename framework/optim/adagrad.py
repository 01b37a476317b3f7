"""Adagrad, with torch's exact update (lr decay, initial accumulator, state created up front)."""
from __future__ import annotations

from .optimizer import Optimizer, bump_step, check_options, check_unsupported, grad_array, init_state, touch

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: ``sum += g*g``; ``p -= lr / (1 + (t-1) * lr_decay) * g / (sqrt(sum) + eps)`` (torch's rule)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_options(lr=lr, eps=eps, weight_decay=weight_decay)
        if not lr_decay >= 0.0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not initial_accumulator_value >= 0.0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        check_unsupported(foreach, fused, differentiable, fusable=True)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                # torch creates Adagrad's state up front (it shows in state_dict before any step)
                self._init_state(self.state[p], p, group)

    @staticmethod
    def _init_state(state, p, group):
        init_state(state, p, "sum")
        value = float(group["initial_accumulator_value"])
        # a complex parameter's parts are two real ones: both start at the value, as torch's
        state["sum"]._data += complex(value, value) if p._dtype.is_complex else value

    @staticmethod
    def _update(p, state, group):
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        step = bump_step(state)
        g = grad_array(p, group["maximize"], float(group["weight_decay"]))
        clr = lr / (1 + (step - 1) * lr_decay)
        s = state["sum"]._data
        s += g * g
        std = p._backend.xp.sqrt(s)
        std += eps
        ratio = g / std
        ratio *= clr
        p._data -= ratio
        touch(p, state, "sum")
