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

Gate order is torch's (input, forget, cell, output). ``sigmoid(z)`` is
computed as ``0.5 * tanh(0.5 * z) + 0.5`` (no overflow, one transcendental
for all four gates): the input projection and the recurrent weight are
scaled once per call, so each step is one matmul, one add, one tanh and a
scale-and-shift.

``RNNLayer`` (tanh or relu) and ``GRULayer`` work the same way; their
``create_graph`` backward recomputes the sequence with the composite step
functions (``composite``) and differentiates that graph (``_recompute_grads``).
"""
from __future__ import annotations

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


def _projection_grads(xp, ctx, dxw, gb=None):
    """Array grads of ``x``, ``w_ih``, ``b_ih`` (inputs 0-2) from the grad of ``x @ w_ih.T + b_ih``."""
    edges = ctx._edges
    x = ctx._saved[0][0]._data
    w_ih = ctx._saved[1][0]._data
    gx = xp.matmul(dxw, w_ih) if edges[0] is not None else None
    gw = xp.matmul(dxw.T, x) if edges[1] is not None else None
    if edges[2] is not None and gb is None:
        gb = xp.sum(dxw, axis=0)
    return gx, gw, gb if edges[2] is not None else None


class LSTMLayer(MultiOp):
    """inputs: x (T * B, I) (step-major rows), w_ih (4H, I), b_ih (4H,) or None, h0 (B, H) or None,
    c0 (B, H) or None, w_hh (4H, H), b_hh (4H,) or None.

    outputs: hidden states (T, B, H) in time order, h_n (B, H), c_n (B, H).
    ``reverse`` runs the recurrence from the last step to the first (output still in time order).
    """

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, c0, w_hh, b_hh, *, steps, reverse):
        xp = ctx.backend.xp
        T = steps
        B = x.shape[0] // T
        G = w_ih.shape[0]
        H = G // 4
        dt = x.dtype
        # per-column scale s and shift: act = tanh(s * z) * s + shift is sigmoid (s=0.5, shift 0.5)
        # for the i, f, o gates and tanh (s=1, shift 0) for the cell gate
        s = xp.full((G,), 0.5, dtype=dt)
        s[2 * H:3 * H] = 1
        shift = xp.full((G,), 0.5, dtype=dt)
        shift[2 * H:3 * H] = 0
        # the input projection of every step at once, pre-scaled: x @ (W_ih.T * s) + (b_ih + b_hh) * s
        xs = xp.matmul(x, _c_transpose(xp, w_ih, s))
        bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        if bias is not None:
            xs += bias * s
        xs = xp.reshape(xs, (T, B, G))
        w_s = _c_transpose(xp, w_hh, s)  # (H, 4H)
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
        w_hh = ctx._saved[5][0]._data
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
        # the first step's dh feeds only h0's gradient: skip its matmul when h0 needs none
        stop = T - 1 if reverse else 0
        need_h0 = ctx._edges[3] is not None
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
            if t != stop or need_h0:
                dh = matmul(xp.reshape(dz4, (B, G)), w_hh)
        edges = ctx._edges
        dz2 = xp.reshape(dz_all, (T * B, G))
        gw = matmul(dz2.T, xp.reshape(prev_h, (T * B, H))) if edges[5] is not None else None
        # b_ih and b_hh get the same gradient
        gb = xp.sum(dz2, axis=0) if edges[2] is not None or edges[6] is not None else None
        return _projection_grads(xp, ctx, dz2, gb) + (
            dh if edges[3] is not None else None,
            dc_next if edges[4] is not None else None,
            gw, gb if edges[6] is not None else None)

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
        dz2 = ops.stack(dzs, 0).reshape(T * B, G)
        edges = ctx._edges
        gw = gb = None
        if edges[5] is not None:
            hp = ops.stack([steps[t][6] for t in range(T)], 0)
            gw = dz2.t() @ hp.reshape(T * B, H)
        if edges[2] is not None or edges[6] is not None:
            gb = dz2.sum(0)
        return (dz2 @ w_ih if edges[0] is not None else None,
                dz2.t() @ x if edges[1] is not None else None,
                gb if edges[2] is not None else None,
                dh if edges[3] is not None else None,
                dc if edges[4] is not None else None,
                gw, gb if edges[6] is not None else None)


def lstm_layer(x, w_ih, b_ih, h0, c0, w_hh, b_hh, steps, reverse=False):
    """One LSTM layer in one direction over a sequence: ``(output, h_n, c_n)``.

    ``x`` is the input of every step as (steps * B, in) rows, step-major; ``h0``/``c0`` (B, H) or
    None (zeros); weights as torch's. ``output`` is (steps, B, H).
    """
    return apply_multi(LSTMLayer, (x, w_ih, b_ih, h0, c0, w_hh, b_hh), {"steps": steps, "reverse": reverse}, 3)


def _recompute_grads(ctx, inputs, grads, composite):
    """Input grads by differentiating ``composite(*inputs)`` (tensorplug ops) with ``create_graph=True``.

    The inputs enter through identity proxies, so the inner backward stops at them: it neither
    walks the graph that produced the inputs nor mixes paths between inputs that share history.
    """
    from ..autograd import grad as autograd_grad
    edges = ctx._edges
    proxies = [x * 1 if x is not None and e is not None else x for x, e in zip(inputs, edges)]
    outs = composite(*proxies)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    wanted = [(i, p) for i, p in enumerate(proxies) if p is not None and edges[i] is not None]
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
        first = T if reverse else 0
        if h0 is None:
            hs[first, ...] = 0
        else:
            hs[first, ...] = h0
        h = hs[first, ...]
        matmul = xp.matmul
        tanh = xp.tanh
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
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
        out = hs[:T, ...] if reverse else hs[1:, ...]
        return out, ctx.backend.copy(h)

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
        out = hs[:T, ...] if reverse else hs[1:, ...]
        prev_h = hs[1:, ...] if reverse else hs[:T, ...]
        deriv = xp.astype(out > 0, dt) if ctx.relu else 1 - out * out
        dz_all = xp.empty((T, B, H), dtype=dt)
        dh = g_h if g_h is not None else xp.zeros((B, H), dtype=dt)
        matmul = xp.matmul
        # the first step's dh feeds only h0's gradient: skip its matmul when h0 needs none
        stop = T - 1 if reverse else 0
        need_h0 = ctx._edges[3] is not None
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
            if g_out is not None:
                dh = dh + g_out[t, ...]
            dz = dh * deriv[t, ...]
            dz_all[t, ...] = dz
            if t != stop or need_h0:
                dh = matmul(dz, w_hh)
        edges = ctx._edges
        dz2 = xp.reshape(dz_all, (T * B, H))
        gw = matmul(dz2.T, xp.reshape(prev_h, (T * B, H))) if edges[4] is not None else None
        gb = xp.sum(dz2, axis=0) if edges[2] is not None or edges[5] is not None else None
        return _projection_grads(xp, ctx, dz2, gb) + (
            dh if edges[3] is not None else None, gw, gb if edges[5] is not None else None)

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
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
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
        first = T if reverse else 0
        if h0 is None:
            hs[first, ...] = 0
        else:
            hs[first, ...] = h0
        h = hs[first, ...]
        matmul = xp.matmul
        tanh = xp.tanh
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
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
        out = hs[:T, ...] if reverse else hs[1:, ...]
        return out, ctx.backend.copy(h)

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
        prev_h = hs[1:, ...] if reverse else hs[:T, ...]
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
        # the first step's dh feeds only h0's gradient: skip its matmul when h0 needs none
        stop = T - 1 if reverse else 0
        need_h0 = ctx._edges[3] is not None
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
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
            if t != stop or need_h0:
                dh = dh * z[t, ...] + matmul(dw, w_hh)
        edges = ctx._edges
        dx2 = xp.reshape(dx_all, (T * B, 3 * H))
        dw2 = xp.reshape(dw_all, (T * B, 3 * H))
        gw = matmul(dw2.T, xp.reshape(prev_h, (T * B, H))) if edges[4] is not None else None
        gb = xp.sum(dw2, axis=0) if edges[5] is not None else None
        return _projection_grads(xp, ctx, dx2) + (dh if edges[3] is not None else None, gw, gb)

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
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
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
