"""Fused optimizer updates, cross-entropy and the LSTM step for the CuPy backend (``_fused_kernels``).

At the sizes a training step has on a GPU, each elementwise launch costs more
on the host than on the device: Adam's update is about ten launches written
with array operations and one here, cross-entropy's forward about fifteen and
two here. These methods implement the backend protocol's optional fused hooks
(``tensorplug.Backend.axpy``, ``fused_sgd``, ``fused_adam``, ``fused_rmsprop``,
``fused_cross_entropy``, ``fused_cross_entropy_backward``, ``fused_lstm_cell`` and its
``_backward``); each declines
(False / NotImplemented) what its kernel does not cover -- dtypes other than
float32/float64, non-contiguous or mismatched operands -- and the frontend's
array code runs instead.

``FusedOps`` is written against an ``xp`` and a ``launch`` callable, so the
test suite runs it on NumPy arrays with the kernels compiled for the CPU.
"""
from __future__ import annotations

__all__ = ["FusedOps", "MAX_CLASSES"]

_FLOATS = "fd"  # float32, float64 by ``dtype.char`` (``dtype.name`` costs microseconds per read)
#: cross-entropy runs one thread per row: wider rows go to the array code
MAX_CLASSES = 1024


def _contig(a):
    return a.flags.c_contiguous


class FusedOps:
    """The fused hooks over ``launch(name, dtype, total, arrays, ints, scalars=(), one_block=False)``."""

    def __init__(self, xp, launch):
        self.xp = xp
        self.launch = launch

    def _same(self, p, *others):
        """True when every operand is a contiguous float32/float64 array of ``p``'s shape and dtype."""
        if p.dtype.char not in _FLOATS or not _contig(p):
            return False
        for a in others:
            if a is not None and (a.dtype != p.dtype or a.shape != p.shape or not _contig(a)):
                return False
        return True

    # optimizer updates ----------------------------------------------------------------------
    def axpy(self, y, alpha, x):
        if not self._same(y, x):
            return False
        self.launch("tp_axpy", y.dtype, y.size, (y, x), (y.size,), (alpha,))
        return True

    def sgd(self, p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, sign, first):
        if not self._same(p, g, buf):
            return False
        has_buf = buf is not None
        self.launch("tp_sgd", p.dtype, p.size, (p, g, buf if has_buf else p),
                    (p.size, int(has_buf), int(first), int(nesterov)),
                    (sign, lr, weight_decay, momentum, dampening))
        return True

    def adam(self, p, g, m, v, vmax, *, sign, weight_decay, decay, beta1, beta2, step_size, eps):
        if not self._same(p, g, m, v, vmax):
            return False
        amsgrad = vmax is not None
        self.launch("tp_adam", p.dtype, p.size, (p, g, m, v, vmax if amsgrad else v), (p.size, int(amsgrad)),
                    (sign, weight_decay, decay, beta1, beta2, step_size, eps))
        return True

    def rmsprop(self, p, g, square_avg, buf, grad_avg, *, sign, lr, alpha, eps, weight_decay, momentum):
        if not self._same(p, g, square_avg, buf, grad_avg):
            return False
        has_buf, centered = buf is not None, grad_avg is not None
        self.launch("tp_rmsprop", p.dtype, p.size,
                    (p, g, square_avg, buf if has_buf else p, grad_avg if centered else p),
                    (p.size, int(has_buf), int(centered)), (sign, lr, alpha, eps, weight_decay, momentum))
        return True

    # cross-entropy ----------------------------------------------------------------------------
    def cross_entropy(self, x, target, ignore_index, reduction):
        """``(loss, logp, den, bad)``: see ``tensorplug.Backend.fused_cross_entropy``."""
        xp = self.xp
        if (x.ndim != 2 or x.dtype.char not in _FLOATS or not _contig(x) or target.dtype.kind != "i"
                or target.dtype.itemsize != 8
                or not _contig(target) or x.shape[0] == 0 or not 0 < x.shape[1] <= MAX_CLASSES):
            return NotImplemented
        m, c = x.shape
        logp = xp.empty_like(x)
        loss = xp.empty((m,), dtype=x.dtype)
        valid = xp.empty((m,), dtype=x.dtype)
        self.launch("tp_ce_forward", x.dtype, m, (x, target, logp, loss, valid), (m, c, int(ignore_index)))
        stats = xp.empty((3,), dtype=x.dtype)
        self.launch("tp_ce_reduce", x.dtype, m, (loss, valid, stats), (m, int(reduction == "mean")),
                    one_block=True)
        scalar = [stats[k:k + 1].reshape(()) for k in range(3)]  # 0-d views (numpy's stats[k] is a scalar)
        return (loss if reduction == "none" else scalar[0]), logp, scalar[1], scalar[2]

    def cross_entropy_backward(self, logp, target, ignore_index, g, den, reduction):
        xp = self.xp
        if g.dtype != logp.dtype or not _contig(g):
            return NotImplemented
        m, c = logp.shape
        grad = xp.empty_like(logp)
        stride = 1 if reduction == "none" else 0
        has_den = reduction == "mean"
        self.launch("tp_ce_backward", logp.dtype, m * c, (logp, target, g, den, grad),
                    (m * c, c, int(ignore_index), stride, int(has_den)))
        return grad

    # recurrent ----------------------------------------------------------------------------
    def lstm_cell(self, gates, projected, c_prev, c, tanh_c, h):
        """One LSTM step: see ``tensorplug.Backend.fused_lstm_cell``."""
        if not (self._same(gates, projected) and self._same(c, c_prev, tanh_c, h)) or c.dtype != gates.dtype:
            return NotImplemented
        self.launch("tp_lstm_cell", c.dtype, c.size, (gates, projected, c_prev, c, tanh_c, h), (c.size, c.shape[1]))
        return None

    def lstm_cell_backward(self, gates, c_prev, tanh_c, dh, dc, dz):
        """One LSTM step's backward: see ``tensorplug.Backend.fused_lstm_cell_backward``."""
        if not (self._same(dc, c_prev, tanh_c, dh) and self._same(dz, gates) and gates.dtype == dc.dtype):
            return NotImplemented
        self.launch("tp_lstm_cell_backward", dc.dtype, dc.size, (gates, c_prev, tanh_c, dh, dc, dz),
                    (dc.size, dc.shape[1]))
        return None
