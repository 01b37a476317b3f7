"""Hand-written NumPy versions of every workload: the floor a Python library on NumPy can reach.

Each builder returns ``step()``; the math matches the framework workloads in
``workloads.py`` (float32, same shapes, same optimizer formulas), written the
way a careful NumPy user would: matmuls through BLAS, in-place updates,
im2col through strided views.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

F32 = np.float32


def _rng():
    return np.random.default_rng(0)


def _linear_params(rng, fan_in, fan_out):
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(F32)
    b = rng.uniform(-bound, bound, (fan_out,)).astype(F32)
    return w, b


def _cross_entropy(z, y):
    """Mean cross-entropy of logits ``z`` and its gradient w.r.t. ``z``."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(z.shape[0])
    loss = float(np.log(s).mean() - z[rows, y].mean())
    e /= s
    e[rows, y] -= 1.0
    e /= z.shape[0]
    return loss, e


class _SGD:
    def __init__(self, params, lr=0.01):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads):
            g *= -self.lr
            p += g


class _Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)
        root_bc2 = np.sqrt(1 - b2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            g *= g
            g *= 1 - b2
            v += g
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += self.eps
            np.divide(m, denom, out=denom)
            denom *= -step_size
            p += denom


def per_op(grad):
    a = np.ones((2, 2), F32)
    b = np.ones((2, 2), F32)
    if not grad:
        def step():
            for _ in range(100):
                a + b
        return step
    a_grad = [np.zeros_like(a)]

    def step_grad():
        acc = a
        for _ in range(100):
            acc = acc + b
        acc.sum()
        # d(sum of the chain)/da is ones; an add passes its gradient through unchanged
        a_grad[0] = a_grad[0] + np.ones_like(acc)
    return step_grad


def matmul(n=1024):
    rng = _rng()
    a = rng.standard_normal((n, n), dtype=F32)
    b = rng.standard_normal((n, n), dtype=F32)

    def step():
        a @ b
    return step


class _MLP:
    def __init__(self, sizes=(784, 256, 256, 10)):
        rng = _rng()
        self.layers = [_linear_params(rng, i, o) for i, o in zip(sizes[:-1], sizes[1:])]
        self.params = [p for layer in self.layers for p in layer]

    def forward(self, x):
        acts = [x]
        h = x
        last = len(self.layers) - 1
        for k, (w, b) in enumerate(self.layers):
            h = h @ w
            h += b
            if k != last:
                np.maximum(h, 0, out=h)
            acts.append(h)
        return acts

    def backward(self, acts, dz):
        grads = []
        g = dz
        for k in range(len(self.layers) - 1, -1, -1):
            w, _ = self.layers[k]
            x = acts[k]
            grads.append(g.sum(axis=0))
            grads.append(x.T @ g)
            if k:
                g = g @ w.T
                g *= acts[k] > 0
        grads.reverse()
        return grads


def mlp_train(batch, optimizer):
    rng = _rng()
    net = _MLP()
    opt = _SGD(net.params, lr=0.01) if optimizer == "sgd" else _Adam(net.params, lr=1e-3)
    x = rng.standard_normal((batch, 784), dtype=F32)
    y = rng.integers(0, 10, batch)

    def step():
        acts = net.forward(x)
        _, dz = _cross_entropy(acts[-1], y)
        opt.step(net.backward(acts, dz))
    return step


def mlp_infer(batch=4096):
    rng = _rng()
    net = _MLP()
    x = rng.standard_normal((batch, 784), dtype=F32)

    def step():
        net.forward(x)
    return step


def _im2col3(x):
    """(N, C, H, W) -> (N*H*W, C*9) rows of 3x3 windows of ``x`` padded by 1."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))  # N, C, H, W, 3, 3 (a view)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)


def _conv3_forward(x, w, b):
    n, _, h, wd = x.shape
    cols = _im2col3(x)
    out = cols @ w.reshape(w.shape[0], -1).T
    out += b
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv3_backward(dout, cols, w, x_shape, need_dx):
    n, c, h, wd = x_shape
    f = w.shape[0]
    dmat = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    gw = (dmat.T @ cols).reshape(w.shape)
    gb = dmat.sum(axis=0)
    if not need_dx:
        return None, gw, gb
    dcols = (dmat @ w.reshape(f, -1)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2), F32)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], gw, gb


def _pool2_forward(x):
    n, c, h, w = x.shape
    xr = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = xr.max(axis=(3, 5))
    return out, xr


def _pool2_backward(dout, xr, out):
    mask = xr == out[:, :, :, None, :, None]
    dx = mask * dout[:, :, :, None, :, None]
    n, c, h2, _, w2, _ = xr.shape
    return dx.reshape(n, c, h2 * 2, w2 * 2)


def cnn_train(batch=64):
    rng = _rng()

    def conv_params(cin, cout):
        bound = 1.0 / np.sqrt(cin * 9)
        return (rng.uniform(-bound, bound, (cout, cin, 3, 3)).astype(F32),
                rng.uniform(-bound, bound, (cout,)).astype(F32))
    w1, b1 = conv_params(1, 16)
    w2, b2 = conv_params(16, 32)
    w3, b3 = _linear_params(rng, 32 * 7 * 7, 10)
    opt = _SGD([w1, b1, w2, b2, w3, b3], lr=0.01)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=F32)
    y = rng.integers(0, 10, batch)

    def step():
        c1, cols1 = _conv3_forward(x, w1, b1)
        r1 = np.maximum(c1, 0)
        p1, p1r = _pool2_forward(r1)
        c2, cols2 = _conv3_forward(p1, w2, b2)
        r2 = np.maximum(c2, 0)
        p2, p2r = _pool2_forward(r2)
        flat = p2.reshape(batch, -1)
        z = flat @ w3
        z += b3
        _, dz = _cross_entropy(z, y)
        gw3 = flat.T @ dz
        gb3 = dz.sum(axis=0)
        dflat = dz @ w3.T
        dr2 = _pool2_backward(dflat.reshape(p2.shape), p2r, p2)
        dr2 *= c2 > 0
        dp1, gw2, gb2 = _conv3_backward(dr2, cols2, w2, p1.shape, True)
        dr1 = _pool2_backward(dp1, p1r, p1)
        dr1 *= c1 > 0
        _, gw1, gb1 = _conv3_backward(dr1, cols1, w1, x.shape, False)
        opt.step([gw1, gb1, gw2, gb2, gw3, gb3])
    return step


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_train(seq=32, batch=32, hidden=128, inputs=128, optimizer="sgd"):
    rng = _rng()
    bound = 1.0 / np.sqrt(hidden)
    w_ih = rng.uniform(-bound, bound, (4 * hidden, inputs)).astype(F32)
    w_hh = rng.uniform(-bound, bound, (4 * hidden, hidden)).astype(F32)
    b = rng.uniform(-bound, bound, (4 * hidden,)).astype(F32)
    opt = _SGD([w_ih, w_hh, b], lr=0.01) if optimizer == "sgd" else _Adam([w_ih, w_hh, b], lr=1e-3)
    x = rng.standard_normal((seq, batch, inputs), dtype=F32)
    hsz = hidden

    def step():
        xw = (x.reshape(seq * batch, inputs) @ w_ih.T).reshape(seq, batch, 4 * hsz)
        xw += b
        h = np.zeros((batch, hsz), F32)
        c = np.zeros((batch, hsz), F32)
        hs, cs, gates = [h], [c], []
        for t in range(seq):
            z = xw[t] + h @ w_hh.T
            i = _sigmoid(z[:, :hsz])
            f = _sigmoid(z[:, hsz:2 * hsz])
            g = np.tanh(z[:, 2 * hsz:3 * hsz])
            o = _sigmoid(z[:, 3 * hsz:])
            c = f * c + i * g
            tc = np.tanh(c)
            h = o * tc
            hs.append(h)
            cs.append(c)
            gates.append((i, f, g, o, tc))
        out = np.stack(hs[1:])
        # loss = mean(out ** 2)
        dout = out * (2.0 / out.size)
        dz_all = np.empty((seq, batch, 4 * hsz), F32)
        gw_hh = np.zeros_like(w_hh)
        dh_next = np.zeros((batch, hsz), F32)
        dc_next = np.zeros((batch, hsz), F32)
        for t in range(seq - 1, -1, -1):
            i, f, g, o, tc = gates[t]
            dh = dout[t] + dh_next
            dc = dc_next + dh * o * (1 - tc * tc)
            dz = dz_all[t]
            dz[:, :hsz] = dc * g * i * (1 - i)
            dz[:, hsz:2 * hsz] = dc * cs[t] * f * (1 - f)
            dz[:, 2 * hsz:3 * hsz] = dc * i * (1 - g * g)
            dz[:, 3 * hsz:] = dh * tc * o * (1 - o)
            gw_hh += dz.T @ hs[t]
            dh_next = dz @ w_hh
            dc_next = dc * f
        dzm = dz_all.reshape(seq * batch, 4 * hsz)
        gw_ih = dzm.T @ x.reshape(seq * batch, inputs)
        gb = dzm.sum(axis=0)
        opt.step([gw_ih, gw_hh, gb])
    return step


def rss_train():
    """The workload whose memory growth is measured: MLP SGD steps, batch 64."""
    return mlp_train(64, "sgd")
