"""Stochastic gradient descent, with torch's momentum, dampening and Nesterov rules."""
from __future__ import annotations

from .. import dtypes as _dt

from .optimizer import Optimizer, axpy, check_options, check_unsupported, state_like

__all__ = ["SGD", "sgd_update"]


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
        check_unsupported(foreach, fused, differentiable, fusable=True)
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
            wd = float(group["weight_decay"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            nesterov = group["nesterov"]
            sign = -1.0 if group["maximize"] else 1.0
            for p in group["params"]:
                if p._grad is None:
                    continue
                buf, first = self._momentum_buffer(p) if momentum != 0 else (None, False)
                if p._dtype in _dt.NARROW_FLOATS:
                    _sgd_in_torchs_steps(p, self.state[p].get("momentum_buffer"), first, lr, wd, momentum,
                                         dampening, nesterov, group["maximize"])
                    p._version[0] += 1
                    continue
                backend, d, g = p._backend, p._data, p._grad._data
                # the whole update in one pass where the backend fuses it (one kernel on a GPU); keywords
                # spelled out, not **options: that costs a microsecond per parameter
                (backend.fused_sgd(d, g, buf, lr=lr, weight_decay=wd, momentum=momentum, dampening=dampening,
                                   nesterov=nesterov, sign=sign, first=first)
                 or sgd_update(backend, d, g, buf, lr=lr, weight_decay=wd, momentum=momentum, dampening=dampening,
                               nesterov=nesterov, sign=sign, first=first))
                p._version[0] += 1
        return loss

    def _momentum_buffer(self, p):
        """``(buffer array, first)``: a new buffer (the update writes the first direction into it, where
        torch clones the gradient) or the one in ``state`` (its version bumped for the update)."""
        state = self.state[p]
        buf_t = state.get("momentum_buffer")
        if buf_t is None:
            state["momentum_buffer"] = state_like(p, p._backend.empty(p._data.shape, p._dtype))
            return state["momentum_buffer"]._data, True
        buf_t._version[0] += 1
        return buf_t._data, False


def _sgd_in_torchs_steps(p, buf, first, lr, weight_decay, momentum, dampening, nesterov, maximize):
    """A float16/bfloat16 parameter's update as torch's single-tensor SGD makes it, op by op, each op
    rounded to the parameter's dtype (the one-pass array update rounds at other places)."""
    from ..autograd.grad_mode import no_grad
    with no_grad():
        g = -p.grad if maximize else p.grad
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        if buf is not None:
            if first:
                buf.copy_(g)
            else:
                buf.mul_(momentum).add_(g, alpha=1 - dampening)
            g = g.add(buf, alpha=momentum) if nesterov else buf
        p.add_(g, alpha=-lr)


def sgd_update(backend, p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, sign, first):
    """One SGD step on ``backend``'s arrays in place: ``Backend.fused_sgd`` written with array operations.

    ``buf`` is the momentum buffer (None without momentum); when ``first`` it is
    overwritten with the first direction. ``g`` is never written. Returns True.
    """
    fused = backend.axpy  # one memory pass per update where the backend offers it (torch's add_ makes one)
    s = sign
    if weight_decay != 0:
        g = axpy(p * weight_decay, s, g)  # s*g + wd*p, a fresh array
        s = 1.0
    if buf is None:
        axpy(p, -lr * s, g, fused)
        return True
    if first:
        buf[...] = g
        if s != 1:
            buf *= s
    else:
        buf *= momentum
        axpy(buf, s * (1 - dampening), g, fused)
    if nesterov:
        axpy(p, -lr * s, g, fused)
        axpy(p, -lr * momentum, buf, fused)
    else:
        axpy(p, -lr, buf, fused)
    return True
