"""Stochastic gradient descent, with torch's momentum, dampening and Nesterov rules."""
from __future__ import annotations

from .optimizer import Optimizer, axpy, check_options, check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), exactly torch's update.

    With ``g = grad + weight_decay * p`` (negated when ``maximize``)::

        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g
        g   = g + momentum * buf  if nesterov else buf
        p   = p - lr * g

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-3).
        momentum, dampening, weight_decay: as in torch (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0, dampening 0).
        maximize: ascend the objective instead of descending.

    Example:
        >>> opt = tensorplug.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_options(lr=lr, momentum=momentum, weight_decay=weight_decay)
        check_unsupported(foreach, fused, differentiable)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one update; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            wd = float(group["weight_decay"])
            nesterov = group["nesterov"]
            sign = -1.0 if group["maximize"] else 1.0
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                d = p._data
                g = grad._data
                s = sign
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    first = buf_t is None
                    buf = p._backend.empty(d.shape, p._dtype) if first else buf_t._data
                else:
                    buf = None
                    first = False
                # the whole update in one pass where the backend fuses it (one kernel on a GPU)
                if p._backend.fused_sgd(d, g, buf, lr=lr, weight_decay=wd, momentum=momentum, dampening=dampening,
                                        nesterov=nesterov, sign=sign, first=first):
                    if first:
                        state["momentum_buffer"] = _tensor_like(p, buf)
                    elif buf is not None:
                        buf_t._version[0] += 1
                    p._version[0] += 1
                    continue
                # one memory pass per update where the backend offers it (torch's add_ makes one)
                fused = p._backend.axpy
                if wd != 0:
                    # g' = s*g + wd*p, as a fresh array (the grad itself is never written)
                    g = axpy(d * wd, s, g)
                    s = 1.0
                if momentum != 0:
                    state = self.state[p]
                    buf_t = state.get("momentum_buffer")
                    if buf_t is None:
                        if s != 1:
                            buf = g * s
                        elif g is grad._data:
                            buf = p._backend.copy(g)
                        else:
                            buf = g
                        state["momentum_buffer"] = _tensor_like(p, buf)
                    else:
                        buf = buf_t._data
                        buf *= momentum
                        axpy(buf, s * (1 - dampening), g, fused)
                        buf_t._version[0] += 1
                    if nesterov:
                        axpy(d, -lr * s, g, fused)
                        axpy(d, -lr * momentum, buf, fused)
                    else:
                        axpy(d, -lr, buf, fused)
                else:
                    axpy(d, -lr * s, g, fused)
                p._version[0] += 1
        return loss


def _tensor_like(p, array):
    from ..tensor import Tensor
    return Tensor._make(array, p._dtype, p._backend)
