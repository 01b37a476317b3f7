"""ASGD (averaged stochastic gradient descent), with torch's exact update."""
from __future__ import annotations

from .optimizer import (Optimizer, bump_step, check_options, check_unsupported, grad_array, step_state, touch,
                        zeros_state)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak-Ruppert): SGD with a decaying rate ``eta`` that keeps in ``state['ax']`` the
    average of the iterates from step ``t0`` on::

        p  *= 1 - lambd * eta;  p -= eta * g
        ax += mu * (p - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)

    ``eta`` and ``mu`` are float32 0-d tensors, as torch keeps them (their rounding is part of the rule).

    Example:
        >>> opt = tensorplug.optim.ASGD(model.parameters(), lr=0.01)
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_options(lr=lr, weight_decay=weight_decay)
        check_unsupported(foreach, None, differentiable, capturable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    @staticmethod
    def _init_state(state, p, group):
        state["step"] = step_state()
        state["eta"] = _scalar_state(float(group["lr"]))
        state["mu"] = _scalar_state(1.0)
        state["ax"] = zeros_state(p)

    @staticmethod
    def _update(p, state, group):
        lr, lambd, alpha, t0 = float(group["lr"]), float(group["lambd"]), float(group["alpha"]), float(group["t0"])
        step = bump_step(state)
        g = grad_array(p, group["maximize"], float(group["weight_decay"]))
        eta = float(state["eta"]._data)
        d = p._data
        d *= 1 - lambd * eta
        d -= eta * g
        ax = state["ax"]._data
        mu = float(state["mu"]._data)
        if mu != 1:
            ax += (d - ax) * mu
        else:
            ax[...] = d
        _set_scalar(state["eta"], lr / ((1 + lambd * lr * step) ** alpha))
        _set_scalar(state["mu"], 1 / max(1, step - t0))
        touch(p, state, "ax", "eta", "mu")


def _scalar_state(value):
    """A float32 0-d state tensor holding ``value``."""
    state = step_state()
    _set_scalar(state, value)
    return state


def _set_scalar(t, value):
    """Store ``value`` in the float32 0-d state tensor ``t`` in place (rounded to float32, as torch's copy_)."""
    try:
        t._data[...] = value
    except (TypeError, ValueError):  # a backend whose 0-d results are immutable scalars
        t._data = t._backend.asarray(value, t._dtype)
