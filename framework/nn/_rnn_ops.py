"""Fused recurrent layers: one graph node per layer and direction for a whole sequence.

``LSTMLayer`` takes the input projection of every time step at once
(``xw = x @ W_ih.T + b_ih``, shape (T, B, 4H)), the initial state and the
recurrent weights, and returns three outputs -- the hidden states of every
step (T, B, H), ``h_n`` and ``c_n`` -- through the engine's multi-output
support (``_n_outputs``, ``_output_nr``). Forward runs the recurrence on
backend arrays and keeps the gate activations; ``fast_backward`` is the
hand-written BPTT on arrays (one (T*B, 4H) x (T*B, H) matmul for the
recurrent weight gradient, no per-step graph); ``backward`` (used with
``create_graph=True``) recomputes the gates from the saved inputs with
tensorplug ops and applies the same formula with tensorplug ops, so the
result is differentiable again.

Gate order is torch's (input, forget, cell, output). ``sigmoid(z)`` is
computed as ``0.5 * tanh(0.5 * z) + 0.5`` (no overflow, one transcendental
for all four gates): the input projection and the recurrent weight are
scaled once per call, so each step is one matmul, one add, one tanh and a
scale-and-shift.
"""
from __future__ import annotations

from ..ops.join import MultiOp, apply_multi

__all__ = ["lstm_layer"]


class LSTMLayer(MultiOp):
    """inputs: xw (T * B, 4H) (step-major rows), h0 (B, H) or None, c0 (B, H) or None, w_hh (4H, H), b_hh (4H,) or None.

    outputs: hidden states (T, B, H) in time order, h_n (B, H), c_n (B, H).
    ``reverse`` runs the recurrence from the last step to the first (output still in time order).
    """

    @staticmethod
    def forward(ctx, xw, h0, c0, w_hh, b_hh, *, steps, reverse):
        xp = ctx.backend.xp
        T = steps
        TB, G = xw.shape
        B = TB // T
        xw = xp.reshape(xw, (T, B, G))
        H = G // 4
        dt = xw.dtype
        # per-column scale s and shift: act = tanh(s * z) * s + shift is sigmoid (s=0.5, shift 0.5)
        # for the i, f, o gates and tanh (s=1, shift 0) for the cell gate
        s = xp.full((G,), 0.5, dtype=dt)
        s[2 * H:3 * H] = 1
        shift = xp.full((G,), 0.5, dtype=dt)
        shift[2 * H:3 * H] = 0
        xs = (xw + b_hh) * s if b_hh is not None else xw * s
        w_s = w_hh.T * s  # (H, 4H)
        acts = xp.empty((T, B, G), dtype=dt)
        # hs / cs hold T + 1 states in time order; the initial state sits before step 0
        # (forward) or after step T-1 (reverse), so step t reads slot t (+1) and writes t + 1 (t)
        hs = xp.empty((T + 1, B, H), dtype=dt)
        cs = xp.empty((T + 1, B, H), dtype=dt)
        tcs = xp.empty((T, B, H), dtype=dt)
        first = T if reverse else 0
        if h0 is None:
            hs[first, ...] = 0
        else:
            hs[first, ...] = h0
        if c0 is None:
            cs[first, ...] = 0
        else:
            cs[first, ...] = c0
        h = hs[first, ...]
        c = cs[first, ...]
        matmul = xp.matmul
        tanh = xp.tanh
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            z = matmul(h, w_s)
            z += xs[t, ...]
            acts[t, ...] = tanh(z)
            a = acts[t, ...]
            a *= s
            a += shift
            c = a[:, H:2 * H] * c
            c += a[:, :H] * a[:, 2 * H:3 * H]
            tc = tanh(c)
            tcs[t, ...] = tc
            slot = t if reverse else t + 1
            cs[slot, ...] = c
            hs[slot, ...] = a[:, 3 * H:] * tc
            h = hs[slot, ...]
        ctx.reverse = reverse
        ctx.steps = T
        ctx.arrays = (acts, hs, cs, tcs)
        last = 0 if reverse else T
        out = hs[:T, ...] if reverse else hs[1:, ...]
        return out, ctx.backend.copy(hs[last, ...]), ctx.backend.copy(cs[last, ...])

    @staticmethod
    def fast_backward(ctx, grads):
        g_out, g_h, g_c = grads
        xp = ctx.backend.xp
        acts, hs, cs, tcs = ctx.arrays
        xw, h0, c0, w_hh, b_hh = ctx._saved_arrays()
        T, B, G = acts.shape
        H = G // 4
        dt = acts.dtype
        reverse = ctx.reverse
        prev_h = hs[1:, ...] if reverse else hs[:T, ...]
        prev_c = cs[1:, ...] if reverse else cs[:T, ...]
        a4 = xp.reshape(acts, (T, B, 4, H))
        # dz = [dc * g, dc * c_prev, dc * i, dh * tanh(c)] * act'  (act' = a(1-a), or 1-g^2 for the cell gate)
        p4 = xp.empty((T, B, 4, H), dtype=dt)
        gg = a4[:, :, 2, :]
        p4[:, :, 0, :] = gg
        p4[:, :, 1, :] = prev_c
        p4[:, :, 2, :] = a4[:, :, 0, :]
        p4[:, :, 3, :] = tcs
        deriv = acts * (1 - acts)
        d4 = xp.reshape(deriv, (T, B, 4, H))
        d4[:, :, 2, :] = 1 - gg * gg
        p4 *= d4
        q = a4[:, :, 3, :] * (1 - tcs * tcs)  # d c / d h through h = o * tanh(c)
        fgate = a4[:, :, 1, :]
        dz_all = xp.empty((T, B, 4, H), dtype=dt)
        dh = g_h if g_h is not None else xp.zeros((B, H), dtype=dt)
        dc_next = g_c
        matmul = xp.matmul
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
            if g_out is not None:
                dh = dh + g_out[t, ...]
            dc = dh * q[t, ...]
            if dc_next is not None:
                dc += dc_next
            dz4 = dz_all[t, ...]
            dz4[:, :3, :] = p4[t, :, :3, :] * dc[:, None, :]
            dz4[:, 3, :] = p4[t, :, 3, :] * dh
            dc_next = dc * fgate[t, ...]
            dh = matmul(xp.reshape(dz4, (B, G)), w_hh)
        edges = ctx._edges
        dz2 = xp.reshape(dz_all, (T * B, G))
        gw = matmul(dz2.T, xp.reshape(prev_h, (T * B, H))) if edges[3] is not None else None
        gb = xp.sum(dz2, axis=0) if edges[4] is not None else None
        return (dz2 if edges[0] is not None else None,
                dh if edges[1] is not None else None,
                dc_next if edges[2] is not None else None,
                gw, gb)

    def _saved_arrays(self):
        return [None if x is None else x._data for x, _ in self._saved]

    @staticmethod
    def backward(ctx, inputs, grads):
        """The same BPTT with tensorplug ops on gates recomputed from the saved inputs (create_graph)."""
        from .. import creation, ops
        xw, h0, c0, w_hh, b_hh = inputs
        g_out, g_h, g_c = grads
        T = ctx.steps
        TB, G = xw.shape
        B = TB // T
        H = G // 4
        reverse = ctx.reverse
        z_all = (xw + b_hh if b_hh is not None else xw).reshape(T, B, G)
        zeros = creation.zeros((B, H), dtype=xw.dtype, device=xw.device)
        h = h0 if h0 is not None else zeros
        c = c0 if c0 is not None else zeros
        order = list(range(T - 1, -1, -1)) if reverse else list(range(T))
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
        dz_all = ops.stack(dzs, 0)
        edges = ctx._edges
        gw = gb = None
        if edges[3] is not None:
            hp = ops.stack([steps[t][6] for t in range(T)], 0)
            gw = dz_all.reshape(T * B, G).t() @ hp.reshape(T * B, H)
        if edges[4] is not None:
            gb = dz_all.sum((0, 1))
        return (dz_all.reshape(T * B, G) if edges[0] is not None else None,
                dh if edges[1] is not None else None,
                dc if edges[2] is not None else None,
                gw, gb)


def lstm_layer(xw, h0, c0, w_hh, b_hh, steps, reverse=False):
    """One LSTM layer in one direction over a sequence: ``(output, h_n, c_n)``.

    ``xw`` is ``x @ W_ih.T + b_ih`` for every step as (steps * B, 4H) rows, step-major;
    ``h0``/``c0`` (B, H) or None (zeros). ``output`` is (steps, B, H).
    """
    return apply_multi(LSTMLayer, (xw, h0, c0, w_hh, b_hh), {"steps": steps, "reverse": reverse}, 3)
