"""Fused recurrent layers: one graph node per layer and direction for a whole sequence.

``LSTMLayer`` takes the input of every time step at once (T*B rows), the
weights, biases and initial state, computes the input projection of all steps
with one matmul, and returns three outputs -- the hidden states of every
step (T, B, H), ``h_n`` and ``c_n`` -- through the engine's multi-output
support (``_n_outputs``, ``_output_nr``). Forward runs the recurrence on
backend arrays and keeps the gate activations; ``fast_backward`` is the
hand-written BPTT on arrays (one (T*B, 4H) x (T*B, H) matmul for the
recurrent weight gradient, no per-step graph); ``backward`` (used with
``create_graph=True``) recomputes the gates from the saved inputs with
tensorplug ops and applies the same formula with tensorplug ops, so the
result is differentiable again.

Gate order is torch's (input, forget, cell, output). Each LSTM step is one
matmul and the backend's ``fused_lstm_cell`` (one compiled loop in the NumPy
backend, one kernel in CuPy's), each backward step a matmul and
``fused_lstm_cell_backward``; where a backend declines, the array code
computes ``sigmoid(z)`` as ``0.5 * tanh(0.5 * z) + 0.5`` (no overflow, one tanh
for all four gates) and the backward's gate factors for all steps at once.

``RNNLayer`` (tanh or relu) and ``GRULayer`` work the same way; their
``create_graph`` backward recomputes the sequence with the composite step
functions (``composite``) and differentiates that graph (``_recompute_grads``).
"""
from __future__ import annotations

import math
import threading

from ..autograd.grad_mode import GradMode
from ..ops.join import MultiOp, apply_multi
from . import functional as F

__all__ = ["lstm_layer", "rnn_layer", "gru_layer"]


def _c_transpose(xp, w, scale=None):
    """``w.T`` (times ``scale`` per column) as a row-major array: BLAS multiplies by it faster than
    by the transposed view (OpenBLAS sgemm with a transposed B operand: ~35% slower at 32x128x512)."""
    out = xp.empty((w.shape[1], w.shape[0]), dtype=w.dtype)
    out[...] = w.T
    if scale is not None:
        out *= scale
    return out



def _steps(T, reverse):
    """The time steps in the order a recurrence visits them (backpropagation: ``_steps(T, not reverse)``)."""
    return range(T - 1, -1, -1) if reverse else range(T)



def _bptt_order(ctx, T):
    """``(steps, stop)``: backpropagation's step order (the last step first) and the step whose dh
    goes no further. The first step's dh feeds only h0's gradient (input 3), so its matmul through
    the recurrent weight is skipped when h0 needs none; ``stop`` is -1 (no step) when it does."""
    reverse = ctx.reverse
    stop = -1 if ctx.needs_grad(3) else (T - 1 if reverse else 0)
    return _steps(T, not reverse), stop


def _put_initial(states, init, reverse):
    """Write the initial state ``init`` (zeros where None) into ``states`` and return its slot.

    ``states`` holds T + 1 states (T + 1, B, H) in time order; the initial state sits before step 0
    (forward) or after step T-1 (reverse), so step t reads slot t (+1) and writes t + 1 (t).
    """
    first = states.shape[0] - 1 if reverse else 0
    if init is None:
        states[first, ...] = 0
    else:
        states[first, ...] = init
    return first


def _written(states, reverse):
    """The T states the steps wrote, in time order (the layer's output; layout of ``_put_initial``)."""
    return states[:-1, ...] if reverse else states[1:, ...]


def _read(states, reverse):
    """The T states the steps read, in time order (each step's previous state)."""
    return states[1:, ...] if reverse else states[:-1, ...]

# scratch arrays ------------------------------------------------------------------------------------
# A fused layer needs several (steps, B, 4H) arrays per call (2 MB each at 32x32x512). Fresh ones
# cost more than the arithmetic on them: glibc hands the freed top of the heap back to the OS, so
# every training step faulted its pages in again (LSTM step at seq 32, batch 32, hidden 128: 2.6k
# minor page faults, about a third of the step). Arrays that never leave the layer (the forward's
# input projection, the backward's gate derivatives and dz, and the gate activations and cell states
# kept for backward, given back when the node is released) come from a small per-thread pool of flat
# buffers instead. Buffers above _POOL_MAX elements are not kept (memory is not held forever).
_POOL_MAX = 1 << 24
#: the recurrences split the batch over the backend's threads in blocks of at least this many rows
#: (16 rows x 128 units per thread measured 1.4x faster than one thread with a 2-thread BLAS)
_ROWS_PER_THREAD = 8
#: the input projection splits into row blocks of at least this many rows
_PROJECTION_ROWS = 256
#: elementwise passes split from this many elements per block (a thread handoff costs ~15 us)
_ELEMENTS_PER_THREAD = 1 << 16
_local = threading.local()


def _take(xp, key, shape, dtype):
    """``(buffer, array)``: an uninitialised ``shape`` array viewing a flat pooled ``buffer``."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    n = math.prod(shape)
    buf = pool.pop((key, xp, dtype), None)
    if buf is None or buf.shape[0] < n:
        buf = xp.empty((n,), dtype=dtype)
    return buf, xp.reshape(buf[:n], shape)


def _give(xp, key, buf):
    """Return a buffer from ``_take`` to this thread's pool (nothing else may still use it)."""
    if buf.shape[0] <= _POOL_MAX:
        pool = getattr(_local, "pool", None)
        if pool is None:
            pool = _local.pool = {}
        pool[(key, xp, buf.dtype)] = buf


# ``f(a, b, out=o)`` for numpy/cupy (no temporary per call); the Array API standard has no ``out=``,
# so other namespaces get ``o[...] = f(a, b)`` (same results, one more pass)
_INTO = {}


def _into(xp):
    """``(matmul, multiply, subtract, tanh, add)`` taking ``out=`` for namespace ``xp`` (cached per namespace)."""
    fns = _INTO.get(xp)
    if fns is None:
        try:
            probe = xp.zeros((2, 2), dtype=xp.float32)
            xp.matmul(probe, probe, out=xp.empty((2, 2), dtype=xp.float32))
            xp.tanh(probe, out=probe)
            fns = (xp.matmul, xp.multiply, xp.subtract, xp.tanh, xp.add)
        except TypeError:
            def wrap(f):
                def call(*args, out):
                    out[...] = f(*args)
                    return out
                return call
            fns = tuple(wrap(f) for f in (xp.matmul, xp.multiply, xp.subtract, xp.tanh, xp.add))
        _INTO[xp] = fns
    return fns


def _projection_grads(xp, ctx, dxw, gb=None):
    """Array grads of ``x``, ``w_ih``, ``b_ih`` (inputs 0-2) from the grad of ``x @ w_ih.T + b_ih``."""
    x = ctx._saved[0][0]._data
    w_ih = ctx._saved[1][0]._data
    gx = xp.matmul(dxw, w_ih) if ctx.needs_grad(0) else None
    gw = xp.matmul(dxw.T, x) if ctx.needs_grad(1) else None
    if ctx.needs_grad(2) and gb is None:
        gb = xp.sum(dxw, axis=0)
    return gx, gw, gb if ctx.needs_grad(2) else None


def _to_inner(xp, w, H):
    """Rows (or the last axis of a 1-D bias) in torch's gate order (i, f, g, o) -> internal (g, i, f, o)."""
    return xp.concat([w[2 * H:3 * H, ...], w[:2 * H, ...], w[3 * H:, ...]], axis=0)


#: torch's row block (i, f, g, o) of each internal gate (g, i, f, o)
_TORCH_BLOCK = (2, 0, 1, 3)


def _by_gate(xp, acts, H):
    """The (T, B, 4H) gate activations viewed gate-major, (4, T, B, H)."""
    T, B = acts.shape[0], acts.shape[1]
    return xp.permute_dims(xp.reshape(acts, (T, B, 4, H)), (2, 0, 1, 3))


def _gate_operands(xp, w, H):
    """The right operands of ``v @ w.T`` per internal gate (g, i, f, o): (4, n, H), each gate's block
    of ``w`` (4H, n) transposed, row-major (see ``_c_transpose``)."""
    w4 = xp.reshape(w, (4, H, w.shape[1]))
    out = xp.empty((4, w.shape[1], H), dtype=w.dtype)
    for k, src in enumerate(_TORCH_BLOCK):
        out[k, ...] = w4[src, ...].T
    return out


def _inner_t(xp, w, H):
    """``_to_inner(w).T`` as a row-major (in, 4H) array (see ``_c_transpose``)."""
    out = xp.empty((w.shape[1], w.shape[0]), dtype=w.dtype)
    out[:, :H] = w[2 * H:3 * H, ...].T
    out[:, H:3 * H] = w[:2 * H, ...].T
    out[:, 3 * H:] = w[3 * H:, ...].T
    return out


class LSTMLayer(MultiOp):
    """inputs: x (T * B, I) (step-major rows), w_ih (4H, I), b_ih (4H,) or None, h0 (B, H) or None,
    c0 (B, H) or None, w_hh (4H, H), b_hh (4H,) or None.

    outputs: hidden states (T, B, H) in time order, h_n (B, H), c_n (B, H).
    ``reverse`` runs the recurrence from the last step to the first (output still in time order).
    ``keep`` is False when no backward can follow (the gate activations go back to the pool).

    Internally the gates are ordered (g, i, f, o), not torch's (i, f, g, o): the three sigmoid gates
    are then one contiguous block ``[H:]`` of the forward's (T, B, 4H) activations. The weights are
    permuted once per call (they are copied for the layout anyway) and the weight gradients land in
    torch's order.

    Each step's recurrent matmul is a stack of four per-gate (rows, H) x (H, H) products (OpenBLAS
    runs those faster than one: forward 20 vs 29 us into the gate columns of the step's rows, 16
    rows, H 128; backward 22 vs 29 us with the sum). The backward's arrays are gate-major,
    (4, T, B, H) (the activations through a view): the three gates whose gradient is a multiple
    of dc are one array ``[:3]``, each gate of a step's rows a contiguous block. The weight
    gradients are one independent matmul per gate, run on the backend's threads.
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, c0, w_hh, b_hh, *, steps, reverse, keep=True):
        xp = ctx.backend.xp
        matmul, mul, _, tanh, _ = _into(xp)
        T = steps
        B = x.shape[0] // T
        G = w_ih.shape[0]
        H = G // 4
        dt = x.dtype
        xs_buf, xs = _take(xp, "xs", (T * B, G), dt)
        w_x = _inner_t(xp, w_ih, H)
        bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        if bias is not None:
            bias = _to_inner(xp, bias, H)

        def project(r0, r1):
            # row blocks of the input projection on the backend's threads, one matmul each
            matmul(x[r0:r1, ...], w_x, out=xs[r0:r1, ...])
            if bias is not None:
                xs[r0:r1, ...] += bias

        ctx.backend.parallel_for(project, T * B, _PROJECTION_ROWS)
        xs = xp.reshape(xs, (T, B, G))
        w_s = _gate_operands(xp, w_hh, H)  # (4, H, H)
        acts_buf, acts = _take(xp, "acts", (T, B, G), dt)
        cs_buf, cs = _take(xp, "cs", (T + 1, B, H), dt)
        tcs_buf, tcs = _take(xp, "tcs", (T, B, H), dt)
        # hs is the layer's output (a view of it), so it is not pooled
        hs = xp.empty((T + 1, B, H), dtype=dt)
        first = _put_initial(hs, h0, reverse)
        _put_initial(cs, c0, reverse)
        a4 = xp.reshape(acts, (T, B, 4, H))
        by_gate = _by_gate(xp, acts, H)
        cell = ctx.backend.fused_lstm_cell
        # 0-d arrays, not Python floats: numpy resolves a Python scalar's type on every call (~1 us)
        half = xp.asarray(0.5, dtype=dt)

        def recur(b0, b1):
            # the rows b0:b1 of every step: batch rows never interact, so the backend may run row
            # blocks on its threads (parallel_for); each block writes only its own rows
            prev = first
            A, X, C, TC, HS = (v[:, b0:b1, ...] for v in (acts, xs, cs, tcs, hs))
            A4 = by_gate[:, :, b0:b1, :]
            g_g, g_i, g_f, g_o = (a4[:, b0:b1, k, :] for k in range(4))
            tmp = xp.empty((b1 - b0, H), dtype=dt)
            for t in _steps(T, reverse):
                a = A[t, ...]
                matmul(HS[prev, ...], w_s, out=A4[:, t, ...])  # the four gates' products
                slot = t if reverse else t + 1
                if cell(a, X[t, ...], C[prev, ...], C[slot, ...], TC[t, ...], HS[slot, ...]) is NotImplemented:
                    # declined: sigmoid(z) = 0.5 * tanh(0.5 * z) + 0.5, one tanh for the four gates
                    a += X[t, ...]
                    sg = a[:, H:]
                    sg *= half
                    tanh(a, out=a)
                    sg *= half
                    sg += half
                    c = C[slot, ...]
                    mul(g_f[t, ...], C[prev, ...], out=c)
                    mul(g_i[t, ...], g_g[t, ...], out=tmp)
                    c += tmp
                    tc = TC[t, ...]
                    tanh(c, out=tc)
                    mul(g_o[t, ...], tc, out=HS[slot, ...])
                prev = slot

        ctx.backend.parallel_for(recur, B, _ROWS_PER_THREAD)
        prev = 0 if reverse else T
        _give(xp, "xs", xs_buf)
        ctx.reverse = reverse
        ctx.steps = T
        if keep:
            ctx.arrays = (acts, hs, cs, tcs)
            ctx.pooled = (("acts", acts_buf), ("cs", cs_buf), ("tcs", tcs_buf))
        else:
            for key, buf in (("acts", acts_buf), ("cs", cs_buf), ("tcs", tcs_buf)):
                _give(xp, key, buf)
        return _written(hs, reverse), ctx.backend.copy(hs[prev, ...]), ctx.backend.copy(cs[prev, ...])

    def release(self):
        pooled = self.__dict__.pop("pooled", None)
        super().release()  # drops ctx.arrays: nothing refers to the pooled buffers any more
        if pooled:
            xp = self.backend.xp
            for key, buf in pooled:
                _give(xp, key, buf)

    @staticmethod
    def fast_backward(ctx, grads):
        g_out, g_h, g_c = grads
        xp = ctx.backend.xp
        acts, hs, cs, tcs = ctx.arrays
        T, B, G = acts.shape
        H = G // 4
        dt = acts.dtype
        prev_h, prev_c = _read(hs, ctx.reverse), _read(cs, ctx.reverse)
        w_hh = ctx._saved[5][0]._data
        cell_grad = ctx.backend.fused_lstm_cell_backward
        steps, stop = _bptt_order(ctx, T)
        dh_out, dc_out = xp.empty((B, H), dtype=dt), xp.empty((B, H), dtype=dt)
        matmul, mul, _, _, add = _into(xp)

        def start(b0, b1):
            # every step's arithmetic goes into a block's own buffers: no allocation per step. They are
            # filled, not xp.zeros'd: numpy's zeros releases the GIL for its calloc, and the caller's
            # thread then waited for the other block's whole loop to get it back (1.5 ms)
            dh, dc_next = xp.empty((b1 - b0, H), dtype=dt), xp.empty((b1 - b0, H), dtype=dt)
            dh[...] = 0 if g_h is None else g_h[b0:b1, :]
            dc_next[...] = 0 if g_c is None else g_c[b0:b1, :]
            return dh, dc_next

        if _accepts_cell_grad(cell_grad, xp, dt, H):
            # step-major as the activations: a step's rows are one (rows, 4H) matrix, and the gradient
            # carried to the step before one GEMM with no sum over gates (three calls a step fewer
            # than the per-gate products below: an LSTM training step 8.2 -> 6.3 ms)
            dz_buf, dz = _take(xp, "dz", (T, B, G), dt)
            dz_rows, dz_gates = xp.reshape(dz, (T * B, G)), _by_gate(xp, dz, H)
            w_rows = _to_inner(xp, w_hh, H)  # (4H, H): dh = dz_step @ w_rows

            def recur(b0, b1):
                # BPTT for the rows b0:b1 (independent of other rows, like the forward's blocks)
                A, PC, TC, D = (v[:, b0:b1, :] for v in (acts, prev_c, tcs, dz))
                dh, dc = start(b0, b1)
                for t in steps:
                    if g_out is not None:
                        dh += g_out[t, b0:b1, :]
                    cell_grad(A[t, ...], PC[t, ...], TC[t, ...], dh, dc, D[t, ...])  # dc carried in and out
                    if t != stop:
                        matmul(D[t, ...], w_rows, out=dh)
                dh_out[b0:b1, :], dc_out[b0:b1, :] = dh, dc
            ctx.backend.parallel_for(recur, B, _ROWS_PER_THREAD)
        else:
            # gate-major (4, T, B, H): the gate factors of all steps in whole-sequence passes, and per
            # step four per-gate products (OpenBLAS runs those faster than one, 22 vs 29 us with the sum)
            acts = _by_gate(xp, acts, H)
            p_buf, p, q_buf, q = _lstm_gate_factors(ctx, xp, acts, prev_c, tcs)
            dz_buf, dz_gates = _take(xp, "dz", (4, T, B, H), dt)
            dz_rows = None
            w_p = xp.reshape(_to_inner(xp, w_hh, H), (4, H, H))  # dh = sum_k dz_k @ w_p[k]

            def recur(b0, b1):
                P, Z, Q, F = p[:, :, b0:b1, :], dz_gates[:, :, b0:b1, :], q[:, b0:b1, :], acts[2, :, b0:b1, :]
                dh, dc_next = start(b0, b1)
                dc, parts = xp.empty_like(dh), xp.empty((4,) + dh.shape, dtype=dt)
                carry = g_c is not None
                for t in steps:
                    if g_out is not None:
                        dh += g_out[t, b0:b1, :]
                    mul(dh, Q[t, ...], out=dc)
                    if carry:
                        dc += dc_next
                    carry = True
                    z = Z[:, t, ...]
                    mul(P[:3, t, ...], dc, out=z[:3, ...])
                    mul(P[3, t, ...], dh, out=z[3, ...])
                    mul(dc, F[t, ...], out=dc_next)
                    if t != stop:
                        matmul(z, w_p, out=parts)
                        add(parts[0, ...], parts[1, ...], out=dh)
                        dh += parts[2, ...]
                        dh += parts[3, ...]
                dh_out[b0:b1, :], dc_out[b0:b1, :] = dh, dc_next
            ctx.backend.parallel_for(recur, B, _ROWS_PER_THREAD)
            _give(xp, "p", p_buf)
            _give(xp, "q", q_buf)
        grads = _lstm_input_grads(ctx, xp, xp.reshape(dz_gates, (4, T * B, H)), dz_rows, prev_h, dh_out, dc_out)
        _give(xp, "dz", dz_buf)
        return grads

    @staticmethod
    def backward(ctx, inputs, grads):
        """The same BPTT with tensorplug ops on gates recomputed from the saved inputs (create_graph)."""
        from .. import creation, ops
        x, w_ih, b_ih, h0, c0, w_hh, b_hh = inputs
        g_out, g_h, g_c = grads
        T = ctx.steps
        B = x.shape[0] // T
        G = w_ih.shape[0]
        H = G // 4
        reverse = ctx.reverse
        z_all = x @ w_ih.t()
        if b_ih is not None:
            z_all = z_all + b_ih
        if b_hh is not None:
            z_all = z_all + b_hh
        z_all = z_all.reshape(T, B, G)
        zeros = creation.zeros((B, H), dtype=x.dtype, device=x.device)
        h = h0 if h0 is not None else zeros
        c = c0 if c0 is not None else zeros
        order = _steps(T, reverse)
        w_t = w_hh.t()
        steps = {}
        for t in order:
            zi, zf, zg, zo = (z_all[t] + h @ w_t).chunk(4, 1)
            i, f, g, o = zi.sigmoid(), zf.sigmoid(), zg.tanh(), zo.sigmoid()
            c_prev, h_prev = c, h
            c = f * c + i * g
            tc = c.tanh()
            h = o * tc
            steps[t] = (i, f, g, o, tc, c_prev, h_prev)
        dh = g_h if g_h is not None else zeros
        dc = g_c if g_c is not None else zeros
        dzs = [None] * T
        for t in reversed(order):
            i, f, g, o, tc, c_prev, h_prev = steps[t]
            if g_out is not None:
                dh = dh + g_out[t]
            dc = dc + dh * o * (1 - tc * tc)
            dz = ops.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                          dh * tc * o * (1 - o)], 1)
            dzs[t] = dz
            dh = dz @ w_hh
            dc = dc * f
        dz2 = ops.stack(dzs, 0).reshape(T * B, G)
        gw = gb = None
        if ctx.needs_grad(5):
            hp = ops.stack([steps[t][6] for t in range(T)], 0)
            gw = dz2.t() @ hp.reshape(T * B, H)
        if ctx.needs_grad(2) or ctx.needs_grad(6):
            gb = dz2.sum(0)
        return (dz2 @ w_ih if ctx.needs_grad(0) else None,
                dz2.t() @ x if ctx.needs_grad(1) else None,
                gb if ctx.needs_grad(2) else None,
                dh if ctx.needs_grad(3) else None,
                dc if ctx.needs_grad(4) else None,
                gw, gb if ctx.needs_grad(6) else None)


def _accepts_cell_grad(cell_grad, xp, dt, H):
    """Whether the backend's ``fused_lstm_cell_backward`` takes this dtype (asked with one zero row: a
    backend declines every call of a dtype alike). Where it declines, the backward precomputes the
    gate factors of every step (``_lstm_gate_factors``) in whole-sequence passes instead."""
    rows = [xp.zeros((1, H), dtype=dt) for _ in range(4)]
    return cell_grad(xp.zeros((1, 4 * H), dtype=dt), *rows, xp.zeros((1, 4 * H), dtype=dt)) is not NotImplemented


def _lstm_gate_factors(ctx, xp, acts, prev_c, tcs):
    """``(p_buf, p, q_buf, q)`` of the LSTM's array backward (pooled buffers and their views).

    dz = p * [dc, dc, dc, dh] per gate (g, i, f, o), the derivatives through the activations
    (1 - g^2 for tanh, a (1 - a) for sigmoid) folded in:
    p = [i (1 - g^2), g i (1 - i), c_prev f (1 - f), tanh(c) o (1 - o)] (4, T, B, H);
    q = d c / d h through h = o * tanh(c) (T, B, H). Every pass runs on whole gate blocks.
    """
    _, mul, sub, _, _ = _into(xp)
    _, T, B, H = acts.shape
    dt = acts.dtype
    one = xp.asarray(1, dtype=dt)
    p_buf, p = _take(xp, "p", (4, T, B, H), dt)
    q_buf, q = _take(xp, "q", (T, B, H), dt)

    def derivatives(t0, t1):
        # the steps t0:t1 of p and q (disjoint slices: the backend may run blocks on its threads)
        A, P, Q, tc = acts[:, t0:t1, ...], p[:, t0:t1, ...], q[t0:t1, ...], tcs[t0:t1, ...]
        sub(one, A[1:, ...], out=P[1:, ...])
        P[1:, ...] *= A[1:, ...]
        mul(A[0, ...], A[0, ...], out=P[0, ...])
        sub(one, P[0, ...], out=P[0, ...])
        P[0, ...] *= A[1, ...]
        P[1, ...] *= A[0, ...]
        P[2, ...] *= prev_c[t0:t1, ...]
        P[3, ...] *= tc
        mul(tc, tc, out=Q)
        sub(one, Q, out=Q)
        Q *= A[3, ...]

    ctx.backend.parallel_for(derivatives, T, max(1, _ELEMENTS_PER_THREAD // (B * 4 * H)))
    return p_buf, p, q_buf, q


def _lstm_input_grads(ctx, xp, dz, dz_rows, prev_h, dh, dc):
    """The LSTM layer's seven input gradients (arrays, None where not needed) from the gates' dz.

    ``dz`` is (4, T * B, H), the gates in the internal order (a view of ``dz_rows``, (T * B, 4H),
    where the backward kept that layout, else ``dz_rows`` is None); ``dh``/``dc`` the gradients of
    h0/c0.
    """
    _, rows, H = dz.shape
    matmul = _into(xp)[0]
    x = ctx._saved[0][0]._data
    wanted = []  # (v, grad): grad[torch's block of gate k] = dz_k.T @ v
    gw = gw_ih = gb = None
    if ctx.needs_grad(5):
        gw = xp.empty((4, H, H), dtype=dz.dtype)
        wanted.append((xp.reshape(prev_h, (rows, H)), gw))
    if ctx.needs_grad(1):
        gw_ih = xp.empty((4, H, x.shape[1]), dtype=dz.dtype)
        wanted.append((x, gw_ih))
    if ctx.needs_grad(2) or ctx.needs_grad(6):
        # b_ih and b_hh get the same gradient (a ones-vector matmul: one BLAS pass, about 2x xp.sum)
        gb = xp.empty((4, H, 1), dtype=dz.dtype)
        wanted.append((xp.ones((rows, 1), dtype=dz.dtype), gb))

    def per_gate(k0, k1):
        # the gates' products are independent: the backend may run them on its threads, each
        # matmul on one thread (a stacked matmul on OpenBLAS's own two threads: 2.0 vs 1.6 ms at
        # 32 steps, batch 32, 128 -> 128)
        for k in range(k0, k1):
            for v, grad in wanted:
                matmul(dz[k, ...].T, v, out=grad[_TORCH_BLOCK[k], ...])

    if wanted:
        ctx.backend.parallel_for(per_gate, 4, 1)
    gx = None
    if ctx.needs_grad(0):
        w_ih = _to_inner(xp, ctx._saved[1][0]._data, H)
        gx = (xp.matmul(dz_rows, w_ih) if dz_rows is not None
              else xp.sum(xp.matmul(dz, xp.reshape(w_ih, (4, H, w_ih.shape[1]))), axis=0))
    if gw is not None:
        gw = xp.reshape(gw, (4 * H, H))
    if gw_ih is not None:
        gw_ih = xp.reshape(gw_ih, (4 * H, x.shape[1]))
    if gb is not None:
        gb = xp.reshape(gb, (4 * H,))
    return (gx, gw_ih, gb if ctx.needs_grad(2) else None,
            dh if ctx.needs_grad(3) else None,
            dc if ctx.needs_grad(4) else None,
            gw, gb if ctx.needs_grad(6) else None)


def lstm_layer(x, w_ih, b_ih, h0, c0, w_hh, b_hh, steps, reverse=False):
    """One LSTM layer in one direction over a sequence: ``(output, h_n, c_n)``.

    ``x`` is the input of every step as (steps * B, in) rows, step-major; ``h0``/``c0`` (B, H) or
    None (zeros); weights as torch's. ``output`` is (steps, B, H).
    """
    inputs = (x, w_ih, b_ih, h0, c0, w_hh, b_hh)
    keep = GradMode.enabled and any(t is not None and t._requires_grad for t in inputs)
    return apply_multi(LSTMLayer, inputs, {"steps": steps, "reverse": reverse, "keep": keep}, 3)


def _recompute_grads(ctx, inputs, grads, composite):
    """Input grads by differentiating ``composite(*inputs)`` (tensorplug ops) with ``create_graph=True``.

    The inputs enter through identity proxies, so the inner backward stops at them: it neither
    walks the graph that produced the inputs nor mixes paths between inputs that share history.
    """
    from ..autograd import grad as autograd_grad
    needed = ctx.needs_input_grad
    proxies = [x * 1 if x is not None and need else x for x, need in zip(inputs, needed)]
    outs = composite(*proxies)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    wanted = [(i, p) for i, p in enumerate(proxies) if p is not None and needed[i]]
    found = autograd_grad([o for o, _ in pairs], [p for _, p in wanted], [g for _, g in pairs],
                          create_graph=True, allow_unused=True)
    result = [None] * len(inputs)
    for (i, _), g in zip(wanted, found):
        result[i] = g
    return tuple(result)


def _zeros_state(ref, B, H):
    from .. import creation
    return creation.zeros((B, H), dtype=ref.dtype, device=ref.device)


class RNNLayer(MultiOp):
    """inputs: x (T * B, I), w_ih (H, I), b_ih (H,) or None, h0 (B, H) or None, w_hh (H, H), b_hh (H,) or None.

    outputs: hidden states (T, B, H) in time order, h_n (B, H). ``relu`` picks the nonlinearity.
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, *, steps, reverse, relu):
        xp = ctx.backend.xp
        T = steps
        B = x.shape[0] // T
        H = w_ih.shape[0]
        dt = x.dtype
        xs = xp.matmul(x, _c_transpose(xp, w_ih))
        bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        if bias is not None:
            xs += bias
        xs = xp.reshape(xs, (T, B, H))
        w_t = _c_transpose(xp, w_hh)
        hs = xp.empty((T + 1, B, H), dtype=dt)
        h = hs[_put_initial(hs, h0, reverse), ...]
        matmul = xp.matmul
        tanh = xp.tanh
        for t in _steps(T, reverse):
            z = matmul(h, w_t)
            z += xs[t, ...]
            slot = t if reverse else t + 1
            if relu:
                z[z < 0] = 0
                hs[slot, ...] = z
            else:
                hs[slot, ...] = tanh(z)
            h = hs[slot, ...]
        ctx.reverse = reverse
        ctx.relu = relu
        ctx.steps = T
        ctx.arrays = (hs,)
        return _written(hs, reverse), ctx.backend.copy(h)

    @staticmethod
    def fast_backward(ctx, grads):
        g_out, g_h = grads
        xp = ctx.backend.xp
        (hs,) = ctx.arrays
        w_hh = ctx._saved[4][0]._data
        T1, B, H = hs.shape
        T = T1 - 1
        dt = hs.dtype
        reverse = ctx.reverse
        out = _written(hs, reverse)
        prev_h = _read(hs, reverse)
        deriv = xp.astype(out > 0, dt) if ctx.relu else 1 - out * out
        dz_all = xp.empty((T, B, H), dtype=dt)
        dh = g_h if g_h is not None else xp.zeros((B, H), dtype=dt)
        matmul = xp.matmul
        steps, stop = _bptt_order(ctx, T)
        for t in steps:
            if g_out is not None:
                dh = dh + g_out[t, ...]
            dz = dh * deriv[t, ...]
            dz_all[t, ...] = dz
            if t != stop:
                dh = matmul(dz, w_hh)
        dz2 = xp.reshape(dz_all, (T * B, H))
        gw = matmul(dz2.T, xp.reshape(prev_h, (T * B, H))) if ctx.needs_grad(4) else None
        gb = xp.sum(dz2, axis=0) if ctx.needs_grad(2) or ctx.needs_grad(5) else None
        return _projection_grads(xp, ctx, dz2, gb) + (
            dh if ctx.needs_grad(3) else None, gw, gb if ctx.needs_grad(5) else None)

    @staticmethod
    def backward(ctx, inputs, grads):
        T, reverse, relu = ctx.steps, ctx.reverse, ctx.relu

        def composite(x, w_ih, b_ih, h0, w_hh, b_hh):
            xw = F.linear(x, w_ih, b_ih)
            TB, H = xw.shape
            B = TB // T
            xs = xw.reshape(T, B, H)
            h = h0 if h0 is not None else _zeros_state(xw, B, H)
            hs = [None] * T
            w_t = w_hh.t()
            for t in _steps(T, reverse):
                z = xs[t] + h @ w_t
                if b_hh is not None:
                    z = z + b_hh
                h = z.relu() if relu else z.tanh()
                hs[t] = h
            from .. import ops
            return ops.stack(hs, 0), h
        return _recompute_grads(ctx, inputs, grads, composite)


class GRULayer(MultiOp):
    """inputs: x (T * B, I), w_ih (3H, I), b_ih (3H,) or None, h0 (B, H) or None, w_hh (3H, H),
    b_hh (3H,) or None.

    outputs: hidden states (T, B, H) in time order, h_n (B, H). Gates (reset, update, new) as torch:
    ``n = tanh(x_n + r * (h W_hn^T + b_hn))``, ``h' = (1 - z) * n + z * h``.
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, *, steps, reverse):
        xp = ctx.backend.xp
        T = steps
        B = x.shape[0] // T
        G = w_ih.shape[0]
        H = G // 3
        dt = x.dtype
        xs = xp.matmul(x, _c_transpose(xp, w_ih))
        if b_ih is not None:
            xs += b_ih
        if b_hh is not None:
            # b_hr, b_hz fold into the projection; b_hn stays inside r * (.)
            xs[:, :2 * H] += b_hh[:2 * H]
        xs = xp.reshape(xs, (T, B, G))
        w_t = _c_transpose(xp, w_hh)
        b_n = b_hh[2 * H:] if b_hh is not None else None
        hs = xp.empty((T + 1, B, H), dtype=dt)
        rz = xp.empty((T, B, 2 * H), dtype=dt)   # sigmoid(r), sigmoid(z)
        ns = xp.empty((T, B, H), dtype=dt)
        hns = xp.empty((T, B, H), dtype=dt)      # h W_hn^T + b_hn
        h = hs[_put_initial(hs, h0, reverse), ...]
        matmul = xp.matmul
        tanh = xp.tanh
        for t in _steps(T, reverse):
            hw = matmul(h, w_t)
            x_t = xs[t, ...]
            a = hw[:, :2 * H] + x_t[:, :2 * H]
            a *= 0.5
            a = tanh(a)
            a *= 0.5
            a += 0.5
            rz[t, ...] = a
            hn = hw[:, 2 * H:]
            if b_n is not None:
                hn = hn + b_n
            hns[t, ...] = hn
            n = tanh(x_t[:, 2 * H:] + a[:, :H] * hn)
            ns[t, ...] = n
            slot = t if reverse else t + 1
            hs[slot, ...] = n + a[:, H:] * (h - n)
            h = hs[slot, ...]
        ctx.reverse = reverse
        ctx.steps = T
        ctx.arrays = (hs, rz, ns, hns)
        return _written(hs, reverse), ctx.backend.copy(h)

    @staticmethod
    def fast_backward(ctx, grads):
        g_out, g_h = grads
        xp = ctx.backend.xp
        hs, rz, ns, hns = ctx.arrays
        w_hh = ctx._saved[4][0]._data
        T, B, G2 = rz.shape
        H = G2 // 2
        dt = hs.dtype
        reverse = ctx.reverse
        prev_h = _read(hs, reverse)
        r = rz[:, :, :H]
        z = rz[:, :, H:]
        drz = rz * (1 - rz)                  # sigmoid'
        dn_pre = 1 - ns * ns                 # tanh'
        one_minus_z = 1 - z
        h_minus_n = prev_h - ns
        dx_all = xp.empty((T, B, 3 * H), dtype=dt)  # grad of xw (r, z, n pre-activations)
        dw_all = xp.empty((T, B, 3 * H), dtype=dt)  # grad of h W_hh^T + b_hh
        dh = g_h if g_h is not None else xp.zeros((B, H), dtype=dt)
        matmul = xp.matmul
        steps, stop = _bptt_order(ctx, T)
        for t in steps:
            if g_out is not None:
                dh = dh + g_out[t, ...]
            dan = dh * one_minus_z[t, ...]
            dan *= dn_pre[t, ...]
            dx = dx_all[t, ...]
            dx[:, 2 * H:] = dan
            dx[:, :H] = dan * hns[t, ...]
            dx[:, H:2 * H] = dh * h_minus_n[t, ...]
            dx[:, :2 * H] *= drz[t, ...]
            dw = dw_all[t, ...]
            dw[:, :2 * H] = dx[:, :2 * H]
            dw[:, 2 * H:] = dan * r[t, ...]
            if t != stop:
                dh = dh * z[t, ...] + matmul(dw, w_hh)
        dx2 = xp.reshape(dx_all, (T * B, 3 * H))
        dw2 = xp.reshape(dw_all, (T * B, 3 * H))
        gw = matmul(dw2.T, xp.reshape(prev_h, (T * B, H))) if ctx.needs_grad(4) else None
        gb = xp.sum(dw2, axis=0) if ctx.needs_grad(5) else None
        return _projection_grads(xp, ctx, dx2) + (dh if ctx.needs_grad(3) else None, gw, gb)

    @staticmethod
    def backward(ctx, inputs, grads):
        T, reverse = ctx.steps, ctx.reverse

        def composite(x, w_ih, b_ih, h0, w_hh, b_hh):
            xw = F.linear(x, w_ih, b_ih)
            TB, G = xw.shape
            B = TB // T
            xs = xw.reshape(T, B, G)
            h = h0 if h0 is not None else _zeros_state(xw, B, G // 3)
            hs = [None] * T
            w_t = w_hh.t()
            for t in _steps(T, reverse):
                hw = h @ w_t
                if b_hh is not None:
                    hw = hw + b_hh
                x_r, x_z, x_n = xs[t].chunk(3, 1)
                h_r, h_z, h_n = hw.chunk(3, 1)
                r = (x_r + h_r).sigmoid()
                z = (x_z + h_z).sigmoid()
                n = (x_n + r * h_n).tanh()
                h = n + z * (h - n)
                hs[t] = h
            from .. import ops
            return ops.stack(hs, 0), h
        return _recompute_grads(ctx, inputs, grads, composite)


def rnn_layer(x, w_ih, b_ih, h0, w_hh, b_hh, steps, reverse=False, relu=False):
    """One Elman RNN layer in one direction over a sequence: ``(output, h_n)`` (see ``lstm_layer``)."""
    return apply_multi(RNNLayer, (x, w_ih, b_ih, h0, w_hh, b_hh),
                       {"steps": steps, "reverse": reverse, "relu": relu}, 2)


def gru_layer(x, w_ih, b_ih, h0, w_hh, b_hh, steps, reverse=False):
    """One GRU layer in one direction over a sequence: ``(output, h_n)`` (see ``lstm_layer``)."""
    return apply_multi(GRULayer, (x, w_ih, b_ih, h0, w_hh, b_hh), {"steps": steps, "reverse": reverse}, 2)
