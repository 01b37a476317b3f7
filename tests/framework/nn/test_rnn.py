"""RNN, LSTM, GRU and cells against torch (weights copied in), gradcheck, state dicts and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
from tensorplug.autograd import gradcheck

torch = pytest.importorskip("torch")

rng = np.random.default_rng(2)


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [z for a in o for z in _flat(a)]
    return [o]


def _pair(name, args, kw):
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(nn, name)(*args, **kw).double()
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    ours.load_state_dict({k: tensorplug.tensor(v.detach().cpu().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


def _state(h, lib):
    if h is None:
        return ()
    if isinstance(h, tuple):
        return (tuple(lib.tensor(a) for a in h),)
    return (lib.tensor(h),)


CASES = [
    ("RNN", (3, 4), {}, (5, 2, 3), None),
    ("RNN", (3, 4, 2), dict(nonlinearity="relu", batch_first=True, bidirectional=True), (2, 5, 3), None),
    ("LSTM", (3, 4, 2), dict(bidirectional=True), (5, 2, 3), (rng.standard_normal((4, 2, 4)),
                                                            rng.standard_normal((4, 2, 4)))),
    ("LSTM", (3, 4), dict(batch_first=True, bias=False), (2, 5, 3), None),
    ("LSTM", (3, 4), {}, (5, 3), None),
    ("GRU", (3, 4, 3), dict(bidirectional=True, batch_first=True), (2, 5, 3), rng.standard_normal((6, 2, 4))),
    ("GRU", (3, 4), {}, (4, 3), rng.standard_normal((1, 4))),
    ("RNNCell", (3, 4), {}, (2, 3), None),
    ("RNNCell", (3, 4), dict(nonlinearity="relu", bias=False), (2, 3), rng.standard_normal((2, 4))),
    ("LSTMCell", (3, 4), {}, (2, 3), (rng.standard_normal((2, 4)), rng.standard_normal((2, 4)))),
    ("GRUCell", (3, 4), {}, (3,), None),
]


@pytest.mark.parametrize("name, args, kw, shape, hx", CASES)
def test_recurrent_matches_torch(backend, name, args, kw, shape, hx):
    ours, theirs = _pair(name, args, kw)
    x0 = rng.standard_normal(shape)
    x = tensorplug.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    ys = _flat(ours(x, *_state(hx, tensorplug)))
    tys = _flat(theirs(tx, *_state(hx, torch)))
    assert len(ys) == len(tys)
    for y, ty in zip(ys, tys):
        assert tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_allclose(y.detach().cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-12)
    sum((y ** 2).sum() for y in ys).backward()
    sum((y ** 2).sum() for y in tys).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-10)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), atol=1e-10, err_msg=n)


def test_lstm_gradcheck_through_time():
    lstm = nn.LSTM(2, 3, 2, bidirectional=True).double()
    x = tensorplug.randn(3, 1, 2, dtype=tensorplug.float64, requires_grad=True)
    h0 = tensorplug.randn(4, 1, 3, dtype=tensorplug.float64, requires_grad=True)
    assert gradcheck(lambda x, h: lstm(x, (h, h * 0.5))[0], (x, h0))


def test_gru_gradcheck_weights():
    gru = nn.GRU(2, 2).double()
    x = tensorplug.randn(3, 1, 2, dtype=tensorplug.float64)
    w = gru.weight_hh_l0
    assert gradcheck(lambda w_: _with(gru, "weight_hh_l0", w_, x), (w.detach().requires_grad_(),))


def _with(module, name, value, x):
    saved = module._parameters[name]
    module._parameters[name] = value
    try:
        return module(x)[0]
    finally:
        module._parameters[name] = saved


def test_init_range_and_state_dict_interchange():
    lstm = nn.LSTM(5, 8, 2)
    bound = 1 / np.sqrt(8)
    for p in lstm.parameters():
        assert p.abs().max().item() <= bound
    theirs = torch.nn.LSTM(5, 8, 2)
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in lstm.state_dict().items()})
    x0 = rng.standard_normal((4, 2, 5)).astype(np.float32)
    np.testing.assert_allclose(lstm(tensorplug.tensor(x0))[0].detach().cpu().numpy(),
                               theirs(torch.tensor(x0))[0].detach().cpu().numpy(), atol=1e-5)
    assert len(lstm.all_weights) == 2 and len(lstm.all_weights[0]) == 4
    lstm.flatten_parameters()
    assert [p is q for p, q in zip(lstm._flat_weights, lstm.parameters())] == [True] * 8


def test_dropout_between_layers_only_in_training():
    rnn = nn.GRU(3, 4, 3, dropout=0.5).double()
    x = tensorplug.randn(6, 2, 3, dtype=tensorplug.float64)
    rnn.eval()
    a = rnn(x)[0]
    b = rnn(x)[0]
    assert np.array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    rnn.train()
    c = rnn(x)[0]
    assert not np.allclose(a.detach().cpu().numpy(), c.detach().cpu().numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.RNN(3, 4, dropout=0.5)


@pytest.mark.parametrize("call, exc, phrase", [
    (lambda: nn.LSTM(3, 4, 2)(tensorplug.randn(5, 2, 6)), RuntimeError,
     "input.size(-1) must be equal to input_size. Expected 3, got 6"),
    (lambda: nn.LSTM(3, 4)(tensorplug.randn(5, 2, 3, 1)), ValueError, "LSTM: Expected input to be 2D or 3D, got 4D"),
    (lambda: nn.LSTM(3, 4, 2)(tensorplug.randn(5, 2, 3), (tensorplug.randn(1, 2, 4), tensorplug.randn(2, 2, 4))),
     RuntimeError, "Expected hidden[0] size (2, 2, 4), got [1, 2, 4]"),
    (lambda: nn.GRU(3, 4)(tensorplug.randn(5, 2, 3), tensorplug.randn(1, 3, 4)), RuntimeError,
     "Expected hidden size (1, 2, 4), got [1, 3, 4]"),
    (lambda: nn.GRU(3, 4)(tensorplug.randn(5, 3), tensorplug.randn(1, 3, 4)), RuntimeError,
     "should also be 2-D but got 3-D tensor"),
    (lambda: nn.RNN(3, 4, nonlinearity="foo"), ValueError, "Unknown nonlinearity 'foo'"),
    (lambda: nn.LSTMCell(3, 4)(tensorplug.randn(2, 5)), RuntimeError, "input has inconsistent input_size: got 5"),
    (lambda: nn.LSTMCell(3, 4)(tensorplug.randn(2, 2, 3)), ValueError, "Expected input to be 1D or 2D, got 3D"),
    (lambda: nn.LSTMCell(3, 4)(tensorplug.randn(2, 3), (tensorplug.randn(3, 4), tensorplug.randn(3, 4))),
     RuntimeError, "Input batch size 2 doesn't match hidden0 batch size 3"),
    (lambda: nn.RNN(3, 4, dropout=1.5), ValueError, "dropout should be a number in range [0, 1]"),
    (lambda: nn.LSTM(3, 4)(tensorplug.randn(0, 2, 3)), RuntimeError,
     "Expected sequence length to be larger than 0 in RNN"),
])
def test_recurrent_errors(call, exc, phrase):
    with pytest.raises(exc) as info:
        call()
    assert phrase in str(info.value)


# the fused LSTM layer (nn/_rnn_ops.py) ------------------------------------------------------------
from tensorplug.autograd import gradgradcheck  # noqa: E402
from tensorplug.nn._rnn_ops import gru_layer, lstm_layer, rnn_layer  # noqa: E402


def _t(g, *shape):
    return tensorplug.tensor(g.standard_normal(shape) * 0.7, requires_grad=True)


def _layer_inputs(T=3, B=2, I=3, H=2, bias=True, state=True, seed=0, gates=4):
    """x, w_ih, b_ih, h0, [c0,] w_hh, b_hh of one fused layer (None where absent)."""
    g = np.random.default_rng(seed)
    G = gates * H
    x, w_ih = _t(g, T * B, I), _t(g, G, I)
    b_ih, b_hh = (_t(g, G), _t(g, G)) if bias else (None, None)
    states = [_t(g, B, H) if state else None for _ in range(2 if gates == 4 else 1)]
    return [x, w_ih, b_ih, *states, _t(g, G, H), b_hh]


def _checked(inputs, fn):
    """``fn`` over the non-None inputs (gradcheck takes tensors only)."""
    keep = [i for i, a in enumerate(inputs) if a is not None]

    def f(*args):
        full = list(inputs)
        for i, a in zip(keep, args):
            full[i] = a
        return fn(*full)
    return f, tuple(inputs[i] for i in keep)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias, state", [(True, True), (False, False)])
def test_fused_lstm_layer_gradcheck(reverse, bias, state):
    f, args = _checked(_layer_inputs(bias=bias, state=state), lambda *a: lstm_layer(*a, 3, reverse))
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_fused_lstm_layer_matches_composite_steps():
    x, w_ih, b_ih, h0, c0, w, b = _layer_inputs(T=4, B=3, H=3)
    out, hn, cn = lstm_layer(x, w_ih, b_ih, h0, c0, w, b, 4, True)
    h, c, hs = h0, c0, [None] * 4
    xw = (x @ w_ih.t() + b_ih).reshape(4, 3, 12)
    for t in range(3, -1, -1):
        i, f, g, o = (xw[t] + h @ w.t() + b).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        hs[t] = h
    ref = tensorplug.stack(hs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(hn.detach().numpy(), hs[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(cn.detach().numpy(), c.detach().numpy(), atol=1e-12)
    # fast (array) backward and create_graph backward agree, and only c_n used (no grad for output/h_n)
    every = (x, w_ih, b_ih, h0, c0, w, b)
    for use in ((out, cn), (cn,), (hn,)):
        loss = sum((u ** 3).sum() for u in use)
        fast = tensorplug.autograd.grad(loss, every, retain_graph=True)
        slow = tensorplug.autograd.grad(loss, every, create_graph=True)
        for a, s_ in zip(fast, slow):
            assert s_.requires_grad
            np.testing.assert_allclose(a.numpy(), s_.detach().numpy(), atol=1e-12)


def test_fused_lstm_layer_graph_rules():
    inputs = _layer_inputs()
    out, hn, cn = lstm_layer(*inputs, 3)
    assert out.grad_fn is hn.grad_fn is cn.grad_fn and (out._output_nr, hn._output_nr, cn._output_nr) == (0, 1, 2)
    assert not np.shares_memory(hn.detach().numpy(), out.detach().numpy())
    out.sum().backward(retain_graph=True)
    out.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()
    out, hn, cn = lstm_layer(*inputs, 3)
    loss = out.sum()
    out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    with tensorplug.no_grad():
        out2, _, _ = lstm_layer(*inputs, 3)
    assert out2.grad_fn is None and not out2.requires_grad


def test_lstm_grad_of_grad_through_module():
    lstm = nn.LSTM(2, 3, 2, bidirectional=True).double()
    x = tensorplug.randn(3, 2, 2, dtype=tensorplug.float64, requires_grad=True)
    assert gradgradcheck(lambda x: lstm(x)[1][1], (x,))


@pytest.mark.parametrize("kind", ["tanh", "relu", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias, state", [(True, True), (False, False)])
def test_fused_rnn_gru_layer_gradcheck(kind, reverse, bias, state):
    inputs = _layer_inputs(bias=bias, state=state, seed=1, gates=3 if kind == "gru" else 1)
    if kind == "gru":
        f, args = _checked(inputs, lambda *a: gru_layer(*a, 3, reverse))
    else:
        f, args = _checked(inputs, lambda *a: rnn_layer(*a, 3, reverse, kind == "relu"))
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)
    # only h_n used: the output's grad is None in the fused backward
    assert gradcheck(lambda *a: f(*a)[1], args)


@pytest.mark.parametrize("name", ["RNN", "GRU", "RNNCell", "GRUCell", "LSTMCell"])
def test_fused_layers_grad_of_grad_through_modules(name):
    m = getattr(nn, name)(2, 3).double()
    shape = (3, 2, 2) if "Cell" not in name else (2, 2)
    x = tensorplug.randn(*shape, dtype=tensorplug.float64, requires_grad=True)
    if name == "LSTMCell":
        assert gradgradcheck(lambda x: m(x)[1], (x,))
    else:
        assert gradgradcheck(lambda x: _flat(m(x))[0], (x,))


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_input_dtype_must_match_weights(name):
    with pytest.raises(ValueError, match="does not match weight dtype"):
        getattr(nn, name)(3, 4)(tensorplug.randn(5, 2, 3, dtype=tensorplug.float64))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        getattr(nn, name + "Cell")(3, 4)(tensorplug.randn(2, 3, dtype=tensorplug.float64))


def test_empty_batch():
    out, h = nn.GRU(3, 4, bidirectional=True)(tensorplug.randn(5, 0, 3))
    assert tuple(out.shape) == (5, 0, 8) and tuple(h.shape) == (2, 0, 4)


def test_lstm_pooled_buffers_across_live_graphs():
    """The fused LSTM takes its gate/cell arrays from a per-thread pool and gives them back when its
    node is released: graphs alive at the same time, no-grad calls in between, different sizes and
    retain_graph must never share (or overwrite) one another's saved arrays."""
    def pair(T, B, bidirectional=False):
        theirs = torch.nn.LSTM(3, 4, bidirectional=bidirectional)
        ours = nn.LSTM(3, 4, bidirectional=bidirectional)
        ours.load_state_dict({k: tensorplug.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
        x0 = rng.standard_normal((T, B, 3)).astype(np.float32)
        return ours, theirs, x0

    runs = [pair(5, 2), pair(7, 3, True), pair(2, 2)]
    losses = []
    for ours, theirs, x0 in runs:  # three graphs alive together
        out, (h, c) = ours(tensorplug.tensor(x0))
        losses.append((out ** 2).sum() + (c ** 3).sum())
        with tensorplug.no_grad():  # takes (and returns) pooled arrays while the graphs live
            ours(tensorplug.tensor(x0 * 2))
    losses[1].backward(retain_graph=True)
    for ours, _, _ in runs[1:2]:
        for p in ours.parameters():
            p.grad = None
    for loss in (losses[2], losses[1], losses[0]):  # released out of creation order
        loss.backward()
        ours, theirs, x0 = runs[losses.index(loss)]
        with tensorplug.no_grad():
            ours(tensorplug.tensor(x0 + 1))  # reuses the buffers just given back
    for ours, theirs, x0 in runs:
        out, (h, c) = theirs(torch.tensor(x0))
        ((out ** 2).sum() + (c ** 3).sum()).backward()
        for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)


def test_lstm_row_blocks_on_threads_match_torch(monkeypatch):
    # batch 20 and 40 steps: the recurrences and the gate derivatives split into blocks on the NumPy
    # backend's threads (parallel_for); results and gradients must stay torch's
    backend = tensorplug.get_backend("numpy")
    calls = []
    real = backend.parallel_for
    monkeypatch.setattr(backend, "parallel_for", lambda fn, n, grain=1: calls.append((n, grain)) or real(fn, n, grain))
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((40, 20, 10))
    theirs = torch.nn.LSTM(10, 48, bidirectional=True).double()
    ours = tensorplug.nn.LSTM(10, 48, bidirectional=True).double()
    ours.load_state_dict({k: tensorplug.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    h0 = rng.standard_normal((2, 20, 48))
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    hx, thx = tensorplug.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    out, (hn, cn) = ours(x, (hx, hx * 0.3))
    tout, (thn, tcn) = theirs(tx, (thx, thx * 0.3))
    ((out ** 2).sum() + (hn * cn).sum()).backward()
    ((tout ** 2).sum() + (thn * tcn).sum()).backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(hx.grad.numpy(), thx.grad.numpy(), atol=1e-10)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-9, err_msg=n)
    assert (20, 8) in calls  # the recurrences' row blocks
    # the gate factors of every step, in step blocks, where the backend has no fused cell gradient
    from tensorplug.nn._rnn_ops import _accepts_cell_grad
    fused = _accepts_cell_grad(backend.fused_lstm_cell_backward, np, np.float64, 48)
    assert fused or any(n == 40 and grain < 40 for n, grain in calls)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_with_projection_matches_torch(bidirectional, batch_first):
    theirs = torch.nn.LSTM(3, 6, num_layers=2, proj_size=4, bidirectional=bidirectional,
                           batch_first=batch_first).double()
    ours = nn.LSTM(3, 6, num_layers=2, proj_size=4, bidirectional=bidirectional, batch_first=batch_first).double()
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    ours.load_state_dict({k: tensorplug.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(3)
    dirs = 2 if bidirectional else 1
    x0 = rng.standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    h0, c0 = rng.standard_normal((2 * dirs, 2, 4)), rng.standard_normal((2 * dirs, 2, 6))
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    out, (h, c) = ours(x, (tensorplug.tensor(h0), tensorplug.tensor(c0)))
    tout, (th, tc) = theirs(tx, (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((out, tout), (h, th), (c, tc)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    ((out ** 2).sum() + h.sum() + (c ** 2).sum()).backward()
    ((tout ** 2).sum() + th.sum() + (tc ** 2).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-11)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-10, err_msg=n)


def test_projection_errors_like_torch():
    for lib in (tensorplug, torch):
        with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
            lib.nn.LSTM(3, 4, proj_size=4)
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            lib.nn.GRU(3, 4, proj_size=2)
        with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
            lib.nn.LSTM(3, 4, proj_size=-1)
        lstm = lib.nn.LSTM(3, 4, proj_size=2)
        with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 5, 2\)"):
            lstm(lib.zeros(7, 5, 3), (lib.zeros(1, 5, 4), lib.zeros(1, 5, 4)))
