"""Adafactor (Shazeer & Stern, 2018) as torch.optim.Adafactor computes it: factored second moments."""
from __future__ import annotations

import math

from ..tensor import Tensor
from .optimizer import Optimizer, bump_step, state_like, step_state, touch

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor, exactly torch's update: a matrix's second moment is kept as its row and column means
    (``row_var``, ``col_var``; a vector or scalar keeps ``variance``), so the state is sublinear::

        beta2_t = 1 - t**beta2_decay;  rho = min(lr, 1/sqrt(t))
        alpha   = max(eps2, rms(p)) * rho;  p *= 1 - lr * weight_decay
        v       = row_var @ col_var / mean(row_var)   (lerps of the row/column means of g*g)
        u       = g / sqrt(max(v, eps1**2));  p -= alpha / max(1, rms(u) / d) * u

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        beta2_decay: the decay exponent of the second moment's rate (default -0.8).
        eps: ``(eps1, eps2)``: eps1 None is the dtype's epsilon (default (None, 1e-3)).
        d: the clipping threshold of the update's RMS (default 1).
        weight_decay: decoupled weight decay (default 0).
        maximize: ascend the objective.

    Example:
        >>> opt = tensorplug.optim.Adafactor(model.parameters(), lr=1e-2)
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        checks = ((0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
                  (0.0 >= beta2_decay, f"beta2_decay should be <= 0 but is: {beta2_decay}"),
                  (eps[0] is None or 0.0 <= eps[0], f"epsilon1 should be >= 0 but is: {eps[0]}"),
                  (0.0 <= eps[1], f"epsilon2 should be >= 0 but is: {eps[1]}"),
                  (1.0 <= d, f"Clipping threshold d should be >= 1 but is: {d}"),
                  (0.0 <= weight_decay, f"weight_decay should be >= 0 but is: {weight_decay}"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def step(self, closure=None):
        """Perform one update; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            for p, state in self._params_with_grad(group):
                if eps1 is None:  # torch keeps the first parameter's for the rest of the group
                    eps1 = float(p._backend.xp.finfo(p._data.dtype).eps)
                self._update(p, state, group, eps1, float(eps2))
                touch(p, state, *(k for k in ("row_var", "col_var", "variance") if k in state))
        return loss

    @staticmethod
    def _init_state(state, p, group):
        if p._dtype.is_complex:
            raise RuntimeError("Adafactor does not support complex parameters")
        xp = p._backend.xp
        state["step"] = step_state()
        shape = tuple(p._data.shape)
        if len(shape) > 1:
            state["row_var"] = state_like(p, xp.zeros(shape[:-1] + (1,), dtype=p._data.dtype))
            state["col_var"] = state_like(p, xp.zeros(shape[:-2] + (1, shape[-1]), dtype=p._data.dtype))
        else:
            state["variance"] = state_like(p, xp.zeros_like(p._data))

    @staticmethod
    def _update(p, state, group, eps1, eps2):
        xp = p._backend.xp
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        g = -p._grad._data if group["maximize"] else p._grad._data
        d = p._data
        step = bump_step(state)
        weight = step ** float(group["beta2_decay"])  # 1 - beta2_t
        rho = min(lr, 1 / step ** 0.5)
        alpha = max(eps2, _norm(xp, d) / math.sqrt(_numel(d))) * rho
        if wd != 0:
            d *= 1 - lr * wd
        if g.ndim > 1:
            row, col = state["row_var"]._data, state["col_var"]._data
            # torch squares the norm (not a sum of squares): the same rounding
            _lerp(row, xp.sqrt(xp.sum(g * g, axis=-1, keepdims=True)) ** 2 / g.shape[-1], weight)
            _lerp(col, xp.sqrt(xp.sum(g * g, axis=-2, keepdims=True)) ** 2 / g.shape[-2], weight)
            estimate = xp.matmul(row, col)
            estimate /= xp.clip(xp.mean(row, axis=-2, keepdims=True), eps1, None)
        else:
            variance = state["variance"]._data
            _lerp(variance, g * g, weight)
            estimate = variance * 1
        update = g / xp.sqrt(xp.clip(estimate, eps1 * eps1, None))
        denom = max(1.0, _norm(xp, update) / (math.sqrt(_numel(update)) * float(group["d"])))
        d -= (alpha / denom) * update


def _numel(a):
    return math.prod(a.shape)


def _norm(xp, a):
    return math.sqrt(float(xp.sum(a * a)))


def _lerp(a, end, weight):
    """``a.lerp_(end, weight)`` in place, with torch's two formulas (exact at weight 0 and 1)."""
    if weight < 0.5:
        a += weight * (end - a)
    else:
        a[...] = end - (end - a) * (1 - weight)
