"""Rprop (resilient backpropagation), with torch's exact update."""
from __future__ import annotations

from .optimizer import (Optimizer, bump_step, check_options, check_unsupported, state_like, step_state, touch,
                        zeros_state)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop: each weight has its own step size, grown by ``etaplus`` while its gradient keeps its sign and
    shrunk by ``etaminus`` when the sign flips (that step then leaves the weight alone)::

        f         = etaplus if g * prev > 0, etaminus if < 0, else 1
        step_size = clamp(step_size * f, *step_sizes)
        g         = 0 where f == etaminus
        p        -= sign(g) * step_size;  prev = g

    Args:
        params: parameters or parameter groups.
        lr: the initial step size (default 1e-2).
        etas: ``(etaminus, etaplus)``, with ``0 < etaminus < 1 < etaplus`` (default (0.5, 1.2)).
        step_sizes: the least and greatest step sizes (default (1e-6, 50)).
        maximize: ascend the objective.

    Example:
        >>> opt = tensorplug.optim.Rprop(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        check_options(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]} (expected 0 < etaminus < 1 < etaplus)")
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    @staticmethod
    def _init_state(state, p, group):
        state["step"] = step_state()
        state["prev"] = zeros_state(p)
        lr = float(group["lr"])
        if p._dtype.is_complex:  # its parts are two real parameters, each with its own step size, as torch's
            lr = complex(lr, lr)
        state["step_size"] = state_like(p, p._backend.xp.full_like(p._grad._data, lr))

    @staticmethod
    def _update(p, state, group):
        etaminus, etaplus = map(float, group["etas"])
        low, high = map(float, group["step_sizes"])
        xp = p._backend.xp
        bump_step(state)
        g = -p._grad._data if group["maximize"] else p._grad._data
        prev, step_size = state["prev"]._data, state["step_size"]._data
        agreement = xp.sign(g * prev)
        factor = xp.where(agreement > 0, etaplus, xp.where(agreement < 0, etaminus, xp.ones_like(step_size)))
        step_size *= factor
        step_size[...] = xp.clip(step_size, low, high)
        g = xp.where(factor == etaminus, xp.zeros_like(g), g)  # a flipped sign: no step, forget it
        p._data -= xp.sign(g) * step_size
        prev[...] = g
        touch(p, state, "prev", "step_size")
