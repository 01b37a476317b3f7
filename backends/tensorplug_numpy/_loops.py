"""The loops ``_jit`` compiles with numba (imported here: this module loads only once kernels are on).

The elementwise kernels (GELU and its gradient, ReLU's gradient, the pooling
scatter) compute exactly the operations of the NumPy code they stand in for,
in the same order and precision, without fast-math (so no FMA contraction):
bit-identical with or without numba. The row kernels (LayerNorm, softmax) sum
a row in vector-wide running sums where the NumPy code calls BLAS or a
reduction, and the row scatter (embedding backward) adds in ``np.add.at``'s
order where the NumPy code groups first: the same formulas, equal to
rounding, and each row's value independent of the rows beside it.

Each kernel is declared by its signatures (``SIGNATURES``), the positions of
the arrays it only reads (``INPUTS``: those may be read-only) and, for the
row sums, the one relaxation it allows (``REASSOCIATE``).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, register_jitable

# kernels that sum along rows may reorder the additions, which lets LLVM keep vector-wide running sums
# (2048x512 LayerNorm forward: 1.8 ms in one chain, 0.27 ms so): the order then follows the machine's
# SIMD width, never the data or the number of rows. Nothing else is relaxed (no FMA contraction).
REASSOCIATE = {"layer_norm": {"reassoc"}, "layer_norm_grad": {"reassoc"}, "softmax_scale": {"reassoc"},
                "softmax_grad": {"reassoc"}}
_ONE, _HALF = np.float32(1), np.float32(0.5)
_SQRT1_2 = 0.7071067811865476
SIGNATURES = {
    "gelu32": "int64(float32[::1], float32[::1], float32[::1], boolean[::1], UniTuple(float32, 9), float32)",
    "gelu32_far": "Tuple((int64[::1], float64[::1], float64[::1], float64[::1]))(float32[::1], boolean[::1], "
                  "int64, float64[:, ::1], float64[::1], float64[::1])",
    "gelu32_far_store": "void(int64[::1], float64[::1], float64[::1], float64[::1], float32[::1], float32[::1], "
                        "float32[::1])",
    "layer_norm": [f"void({t}[:, ::1], {t}[::1], {t}[::1], {t}, {t}[::1], {t}, {t}[:, ::1], {t}[:, ::1], "
                   f"{t}[:, ::1], boolean, boolean)" for t in ("float32", "float64")],
    "layer_norm_grad": [f"void({t}[:, ::1], {t}[::1], {t}[:, ::1], {t}[:, ::1], {t}[::1], {t}, {t}[:, ::1], "
                        f"{t}[::1], {t}[::1], boolean, boolean, boolean, boolean)" for t in ("float32", "float64")],
    "softmax_shift": [f"void({t}[:, ::1], {t}[:, ::1])" for t in ("float32", "float64")],
    "softmax_scale": [f"void({t}[:, ::1], {t}[:, ::1], boolean)" for t in ("float32", "float64")],
    "softmax_grad": [f"void({t}[:, ::1], {t}[:, ::1], {t}[:, ::1], boolean)" for t in ("float32", "float64")],
    "softmax32": "void(float32[:, ::1], float32[:, ::1], boolean)",
    "log_softmax_grad32": "void(float32[:, ::1], float32[:, ::1], float32[:, ::1])",
    "lstm_cell32": "void(float32[:, ::1], float32[:, ::1], float32[:, ::1], float32[:, ::1], float32[:, ::1], "
                   "float32[:, ::1])",
    "lstm_cell_grad": [f"void({t}[:, ::1], {t}[:, ::1], {t}[:, ::1], {t}[:, ::1], {t}[:, ::1], {t}[:, ::1], {t})"
                       for t in ("float32", "float64")],
    "add_rows": [f"void({t}[:, ::1], int64[::1], {t}[:, ::1])" for t in ("float32", "float64")],
    "relu_grad": [f"void({t}[::1], {t}[::1], {t}[::1], {t})" for t in ("float32", "float64")],
    "unpool_unique": [f"void({t}[:, ::1], int64[:, ::1], {t}[:, ::1])" for t in ("float32", "float64")],
    "gelu_grad_pre": [f"void({t}[::1], {t}[::1], {t})" for t in ("float32", "float64")],
    "gelu_grad_post": [f"void({t}[::1], {t}[::1], {t}[::1], {t}[::1], {t})" for t in ("float32", "float64")],
}
# the positions of the arrays each kernel only reads (the caller's data, which may be read-only)
INPUTS = {"gelu32": (0,), "gelu32_far": (0,), "gelu32_far_store": (4,), "gelu_grad_pre": (0,),
           "gelu_grad_post": (1, 2, 3), "layer_norm": (0, 1, 2), "layer_norm_grad": (0, 1, 2, 3),
           "softmax_shift": (0,), "softmax_scale": (), "softmax_grad": (0, 1), "softmax32": (0,),
           "log_softmax_grad32": (0, 1), "lstm_cell32": (1, 2), "lstm_cell_grad": (0, 1, 2, 3), "relu_grad": (0, 1),
           "unpool_unique": (0, 1), "add_rows": (1, 2)}


def _gelu32(x, cdf, y, far, coefs, scale):
    """Exact GELU in float32 over flat arrays, ``_special._cdf_block``'s operations in one loop:
    ``t = x * scale * x - 1``, ``cdf = poly(t) * x + 0.5`` (Horner's rule over ``coefs``),
    ``y = x * cdf``; ``far = t >= 1`` flags the elements past the polynomial's range, whose count
    is returned (``gelu32_far`` and ``gelu32_far_store`` recompute them)."""
    n_far = 0
    for i in range(x.size):
        v = x[i]
        t = v * scale * v - _ONE
        p = t * coefs[0] + coefs[1]
        for j in range(2, len(coefs)):
            p = p * t + coefs[j]
        c = p * v + _HALF
        cdf[i] = c
        y[i] = v * c
        f = t >= _ONE
        far[i] = f
        n_far += f
    return n_far


def _gelu32_far(x, far, n_far, tails, centres, halves):
    """The ``n_far`` flagged elements' ``(index, z = x / sqrt(2), p, -z * z)`` in float64, ``p`` the
    polynomial of ``_special._erf64``'s tail region of ``|z|`` (rows of ``tails``, the shorter one led by
    a zero): ``erfc(|z|) = p * exp(-z * z)``, the exp taken by NumPy as ``_erf64`` takes it."""
    index = np.empty(n_far + 1, np.int64)  # one past: where the writes after the last flagged one land
    z = np.empty(n_far, np.float64)
    k = 0
    whole = x.size - x.size % 8
    words = far[:whole].view(np.uint64)  # eight flags a load: the few set ones are found fast
    for w in range(words.size):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):  # written always, kept where flagged: no branch to mispredict
                index[k] = i
                k += far[i]
    for i in range(whole, x.size):
        index[k] = i
        k += far[i]
    index = index[:n_far]
    ta = np.empty(n_far, np.float64)
    tb = np.empty(n_far, np.float64)
    neg_sq = np.empty(n_far, np.float64)
    for k in range(n_far):
        z[k] = np.float64(x[index[k]]) * _SQRT1_2
        a = abs(z[k])
        ta[k] = (a - centres[0]) / halves[0]
        tb[k] = (a - centres[1]) / halves[1]
        neg_sq[k] = -(a * a)
    # Horner's rule a coefficient at a time over all elements (the loops over k vectorise; one element's
    # chain of dependent multiply-adds would not), both regions' polynomials, then a select
    pa = ta * tails[0, 0] + tails[0, 1]
    pb = tb * tails[1, 0] + tails[1, 1]
    for j in range(2, tails.shape[1]):
        ca, cb = tails[0, j], tails[1, j]
        for k in range(n_far):
            pa[k] = pa[k] * ta[k] + ca
            pb[k] = pb[k] * tb[k] + cb
    p = np.where(np.abs(z) < 2.5, pa, pb)
    return index, z, p, neg_sq


def _gelu32_far_store(index, z, p, exp_neg_sq, x, cdf, y):
    """``cdf = 0.5 + 0.5 * erf(z)`` (``erf = +-(1 - p * exp(-z * z))``, +-1 from ``|z| >= 6``) and
    ``y = x * cdf`` at the far elements' ``index``."""
    for k in range(index.size):
        a = abs(z[k])
        e = 1.0 if a >= 6.0 else 1 - p[k] * exp_neg_sq[k]
        c = np.float32(0.5 + 0.5 * np.copysign(e, z[k]))
        i = index[k]
        cdf[i] = c
        y[i] = x[i] * c


def _gelu_grad_pre(x, out, minus_half):
    """``out = x * x * minus_half``: the exponent of exact GELU's gradient (``_special._exact_grad_block``)."""
    for i in range(x.size):
        out[i] = x[i] * x[i] * minus_half


def _gelu_grad_post(gx, x, cdf, g, inv_sqrt_2pi):
    """``gx = (gx * x * inv_sqrt_2pi + cdf) * g`` with ``gx = exp(-x * x / 2)``: ``g * (Phi(x) + x * phi(x))``."""
    for i in range(x.size):
        gx[i] = (gx[i] * x[i] * inv_sqrt_2pi + cdf[i]) * g[i]


def _layer_norm(x, w, b, eps, ones, cols, y, xhat, rstd, has_w, has_b):
    """LayerNorm of the rows of ``x`` (``_norm.layer_norm``'s contract): ``xhat = (x - mean) * rstd``,
    ``rstd = 1 / sqrt(var + eps)``, ``y = xhat * w + b`` (where given); ``ones`` a row of ones, ``cols``
    the row length, both in the dtype."""
    for r in range(x.shape[0]):
        total = ones[0] - ones[0]
        for j in range(x.shape[1]):
            total += x[r, j]
        mean = total / cols
        squares = ones[0] - ones[0]
        for j in range(x.shape[1]):
            d = x[r, j] - mean
            xhat[r, j] = d
            squares += d * d
        rs = ones[0] / np.sqrt(squares / cols + eps)
        rstd[r, 0] = rs
        for j in range(x.shape[1]):
            h = xhat[r, j] * rs
            xhat[r, j] = h
            v = h * w[j] if has_w else h
            y[r, j] = v + b[j] if has_b else v


def _layer_norm_grad(g, w, xhat, rstd, ones, cols, gx, gw, gb, has_w, need_x, need_w, need_b):
    """The gradients of ``_layer_norm`` for upstream ``g`` over these rows: ``gx = rstd * (gh - mean(gh) -
    xhat * mean(gh * xhat))`` with ``gh = g * w``, and ``gw``/``gb`` accumulated into (this part's column
    sums of ``g * xhat`` and ``g``)."""
    for r in range(g.shape[0]):
        if need_w:
            for j in range(g.shape[1]):
                gw[j] += g[r, j] * xhat[r, j]
        if need_b:
            for j in range(g.shape[1]):
                gb[j] += g[r, j]
        if need_x:
            total = ones[0] - ones[0]
            dot = ones[0] - ones[0]
            for j in range(g.shape[1]):
                gh = g[r, j] * w[j] if has_w else g[r, j]
                gx[r, j] = gh
                total += gh
                dot += gh * xhat[r, j]
            mean, dot = total / cols, dot / cols
            rs = rstd[r, 0]
            for j in range(g.shape[1]):
                gx[r, j] = (gx[r, j] - mean - xhat[r, j] * dot) * rs


def _softmax_shift(x, out):
    """``out = x - max(row)`` for every row (then NumPy's exp). A nan is not looked for (the select
    vectorises, a nan test would not): it stays nan in ``out``, so the row's sum and every element after
    it are nan, as when the max is nan."""
    for r in range(x.shape[0]):
        top = x[r, 0]
        for j in range(1, x.shape[1]):
            v = x[r, j]
            top = v if v > top else top
        for j in range(x.shape[1]):
            out[r, j] = x[r, j] - top


def _softmax_scale(shifted, e, log):
    """From ``e = exp(shifted)``: softmax ``e / sum(e)`` into ``e``, or log_softmax ``shifted -
    log(sum(e))`` into ``shifted``, row by row."""
    for r in range(e.shape[0]):
        total = e[r, 0]
        for j in range(1, e.shape[1]):
            total += e[r, j]
        if log:
            lse = np.log(total)
            for j in range(e.shape[1]):
                shifted[r, j] -= lse
        else:
            for j in range(e.shape[1]):
                e[r, j] /= total


def _softmax_grad(y, g, out, log):
    """softmax's gradient ``g * y - y * sum(g * y)``, or log_softmax's ``g - e * sum(g)`` with
    ``y`` holding ``e = exp(output)``, row by row."""
    for r in range(y.shape[0]):
        total = g[r, 0] if log else g[r, 0] * y[r, 0]
        for j in range(1, y.shape[1]):
            total += g[r, j] if log else g[r, j] * y[r, j]
        for j in range(y.shape[1]):
            out[r, j] = g[r, j] - y[r, j] * total if log else g[r, j] * y[r, j] - y[r, j] * total


def _unpool_unique(values, index, out):
    """``out[p, index[p, i]] = values[p, i]`` per plane ``p`` (``out`` zeroed; no index repeats)."""
    for p in range(values.shape[0]):
        for i in range(values.shape[1]):
            out[p, index[p, i]] = values[p, i]


def _relu_grad(out, g, gx, zero):
    """``gx = zero where out <= 0, else g`` (a nan output passes its gradient), in one pass."""
    for i in range(out.size):
        gx[i] = zero if out[i] <= zero else g[i]


def _add_rows(target, index, values):
    """``np.add.at(target, index, values)`` for rows: each row added to its target row in the order
    given (a repeated index accumulates first row to last)."""
    for i in range(index.size):
        row, add = target[index[i]], values[i]
        for j in range(row.size):
            row[j] += add[j]


# float32 e**x in the loop itself ------------------------------------------------------------------
# numba calls libm's scalar expf, which keeps a loop from vectorising (10x slower than NumPy's SIMD exp);
# written out, the loop computing it stays one SIMD pass (131072 elements: 38 us, NumPy's exp 70 us).

@intrinsic
def _float32_bits(typingctx, value):
    """The bits of a float32 as an int32 (a register move, so a loop around it still vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose bits are the int32 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_ZERO32, _INF32 = np.float32(0), np.float32(np.inf)
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)  # ln 2 = hi + lo, hi exact in 9 bits
# the least float32 whose e**x is normal, the largest whose e**x is finite
_EXP_MIN, _EXP_MAX = np.float32(-87.33654), np.float32(88.7228317)
_EXP_POLY = tuple(np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                          4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_SIGN_OFF = 0x7FFFFFFF


@register_jitable
def _pick(condition, a, b):
    """``a if condition else b``: a select once LLVM inlines it. The functions numba inlines into their
    callers (``inline="always"``, which LLVM's size limit cannot refuse) keep their conditional
    expressions here, as numba's inliner mishandles those (a NumbaIRAssumptionWarning)."""
    return a if condition else b


@register_jitable(inline="always")
def _exp32(s):
    """``e**s`` for a float32 ``s``, within one ulp (max relative error 8.4e-8 over [-87, 88]): Cody and
    Waite's reduction ``s = k ln2 + t`` with ``|t| <= ln2 / 2``, Cephes's ``expf`` polynomial for ``e**t``,
    and ``2**k`` made in the exponent bits (as ``2**(k - 1) * 2``, so that ``k = 128`` fits). Below float32's
    least normal (``s < -87.34``) the result is 0 where NumPy gives subnormals; past the largest, inf; nan
    stays nan. Branch-free: selects only."""
    inside = (s >= _EXP_MIN) & (s <= _EXP_MAX)  # false for nan
    c = _pick(inside, s, _ZERO32)
    k = np.floor(c * _LOG2E + _HALF)
    t = c - k * _LN2_HI
    t = t - k * _LN2_LO
    c0, c1, c2, c3, c4, c5 = _EXP_POLY
    p = ((((c0 * t + c1) * t + c2) * t + c3) * t + c4) * t + c5
    p = p * t * t + t + _ONE
    n = np.int32(k)
    high = n > 0
    scale = _float32_from_bits((n - high + 127) << 23)
    e = p * scale
    e = _pick(high, e + e, e)
    return _pick(inside, e, _pick(s < _EXP_MIN, _ZERO32, s * _INF32))


@register_jitable(error_model="numpy")
def _row_max32(row):
    """The largest element of a float32 row. The floats are compared as integers ordered like them
    (sign-magnitude flipped to two's complement), as LLVM vectorises an integer max and not a float
    one. A nan of either sign makes a softmax row nan: a positive one wins here, a negative one
    turns nan in ``x - max``."""
    top = -(1 << 31)
    for j in range(row.size):
        i = _float32_bits(row[j])
        i = i ^ ((i >> 31) & _SIGN_OFF)
        top = i if i > top else top
    return _float32_from_bits(top ^ ((top >> 31) & _SIGN_OFF))


@register_jitable(fastmath={"reassoc"}, error_model="numpy")
def _row_sum(row):
    """The sum of a row in vector-wide running sums: the one reordering allowed, here and not in the
    kernels calling it, whose other arithmetic keeps its written order."""
    total = row[0] - row[0]
    for j in range(row.size):
        total += row[j]
    return total


def _softmax32(x, out, log):
    """softmax (log_softmax when ``log``) of each float32 row of ``x`` into ``out``, a row at a time
    while it is in cache: its max, ``e = exp(x - max)`` summed, then torch's ``e * (1 / sum)`` or
    ``(x - max) - log(sum)``."""
    for r in range(x.shape[0]):
        row, res = x[r], out[r]
        top = _row_max32(row)
        for j in range(row.size):
            res[j] = _exp32(row[j] - top)
        total = _row_sum(res)
        if log:
            lse = np.log(total)
            for j in range(row.size):
                res[j] = (row[j] - top) - lse
        else:
            inv = _ONE / total
            for j in range(row.size):
                res[j] *= inv


def _log_softmax_grad32(y, g, out):
    """log_softmax's gradient ``g - exp(y) * sum(g)`` for float32 rows, exp in the loop."""
    for r in range(y.shape[0]):
        total = _row_sum(g[r])
        for j in range(y.shape[1]):
            out[r, j] = g[r, j] - _exp32(y[r, j]) * total


_TANH_POLY = tuple(np.float32(c) for c in (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2,
                                           1.33314422036e-1, -3.33332819422e-1))
_TANH_SMALL, _TWO32 = np.float32(0.625), np.float32(2)


@register_jitable(inline="always")
def _tanh32(x):
    """``tanh(x)`` for a float32 ``x``, within two ulp: Cephes's ``tanhf``, an odd polynomial below
    ``|x| = 0.625`` and ``1 - 2 / (e**2|x| + 1)`` (with ``x``'s sign) above, both computed and one
    selected, so that the loop vectorises."""
    z = x * x
    c0, c1, c2, c3, c4 = _TANH_POLY
    small = ((((c0 * z + c1) * z + c2) * z + c3) * z + c4) * z * x + x
    a = abs(x)
    big = _ONE - _TWO32 / (_exp32(a + a) + _ONE)
    # x's sign on both: tanh(-0) is -0, which the sum above makes +0
    return np.copysign(_pick(a < _TANH_SMALL, small, big), x)


@register_jitable(inline="always")
def _sigmoid32(x):
    """``1 / (1 + e**-x)`` for a float32 ``x`` (0 where ``e**-x`` overflows)."""
    return _ONE / (_ONE + _exp32(-x))


def _lstm_cell32(gates, projected, c_prev, c, tanh_c, h):
    """One LSTM step for float32 rows (``Backend.fused_lstm_cell``'s contract): gates (g, i, f, o)
    activated in place, then the cell state, its tanh and the hidden state, a row at a time. Every
    loop indexes views from 0: an offset index (``z[H + j]``) may be negative to numba, and the
    wrap-around it adds keeps LLVM from vectorising the loop."""
    H = c.shape[1]
    for r in range(gates.shape[0]):
        z, p = gates[r], projected[r]
        g, p_g = z[:H], p[:H]
        for j in range(H):
            g[j] = _tanh32(g[j] + p_g[j])
        s, p_s = z[H:], p[H:]  # the three sigmoid gates
        for j in range(3 * H):
            s[j] = _sigmoid32(s[j] + p_s[j])
        i, f, o = z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
        state, old, t, out = c[r], c_prev[r], tanh_c[r], h[r]
        for j in range(H):
            state[j] = f[j] * old[j] + i[j] * g[j]
        for j in range(H):
            t[j] = _tanh32(state[j])
        for j in range(H):
            out[j] = o[j] * t[j]


def _lstm_cell_grad(gates, c_prev, tanh_c, dh, dc, dz, one):
    """One LSTM step's backward (``Backend.fused_lstm_cell_backward``'s contract) for rows of float32
    or float64, a row at a time in short loops over few arrays each (LLVM vectorises a loop only
    while the overlap checks between its arrays stay few); ``one`` is 1 in the dtype."""
    H = dh.shape[1]
    for r in range(gates.shape[0]):
        z = gates[r]
        g, i, f, o = z[:H], z[H:2 * H], z[2 * H:3 * H], z[3 * H:]
        t, grad_h, cell = tanh_c[r], dh[r], dc[r]
        d = dz[r]
        dz_g, dz_i, dz_f, dz_o, old = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:], c_prev[r]
        for j in range(H):
            cell[j] = grad_h[j] * (o[j] * (one - t[j] * t[j])) + cell[j]
        for j in range(H):
            dz_o[j] = grad_h[j] * (t[j] * (o[j] * (one - o[j])))
        for j in range(H):
            dz_g[j] = cell[j] * (i[j] * (one - g[j] * g[j]))
        for j in range(H):
            dz_i[j] = cell[j] * (g[j] * (i[j] * (one - i[j])))
        for j in range(H):
            dz_f[j] = cell[j] * (old[j] * (f[j] * (one - f[j])))
        for j in range(H):
            cell[j] *= f[j]
