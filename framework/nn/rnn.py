"""Recurrent layers: RNN, LSTM, GRU and their cells, with torch's parameter names and layouts.

Each layer projects the whole sequence once (``x @ W_ih.T + b_ih``, one
``Linear`` node), then runs the recurrence as one fused multi-output node per
layer and direction (``_rnn_ops``: forward and backprop-through-time on
arrays; a ``create_graph`` backward made of tensorplug ops for higher order).
The cells are the same nodes with one step.
"""
from __future__ import annotations

import math
import warnings

from .. import creation
from .. import dtypes as _dt
from ..tensor import Tensor
from . import functional as F
from . import init
from ._rnn_ops import gru_layer, lstm_layer, rnn_layer
from .module import Module, _options_repr
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _cat(tensors, dim):
    import tensorplug
    return tensorplug.cat(tensors, dim)


def _stack(tensors, dim):
    import tensorplug
    return tensorplug.stack(tensors, dim)


def _reset_uniform(module):
    """torch's init of recurrent layers and cells: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU (torch's constructor and parameter layout)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be an integer greater than zero" if isinstance(hidden_size, int)
                             else f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be an integer greater than zero")
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size  # the size of h (the projection's, with proj_size)
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(2 if bidirectional else 1):
                in_size = input_size if layer == 0 else real_hidden * (2 if bidirectional else 1)
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, in_size), (gate_size, real_hidden)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                if proj_size:
                    names.append(f"weight_hr_l{layer}{suffix}")
                    shapes.append((proj_size, hidden_size))
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(creation.empty(shape, device=device, dtype=dtype)))
                self._flat_weights_names.extend(names)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def flatten_parameters(self):
        """A no-op kept for torch compatibility (cuDNN's packed weights do not exist here)."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def _per_direction(self):
        return (4 if self.bias else 2) + (1 if self.proj_size else 0)

    @property
    def all_weights(self):
        per = self._per_direction
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]] for i in range(0, len(names), per)]

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + _options_repr(self, {
            "proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0,
            "bidirectional": False})

    # input checking ----------------------------------------------------------------------------
    def _prepare(self, input, hx):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")
        if input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN; pass at least one time step")
        wdt = self.weight_ih_l0.dtype
        if input.dtype != wdt:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({wdt}). Convert "
                             f"input: input.to({wdt}), or convert model: model.to({input.dtype})")
        batch = input.shape[1]
        dirs = 2 if self.bidirectional else 1
        expected = (self.num_layers * dirs, batch, self.hidden_size)
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        if hx is None:
            states = None  # zeros: the fused layers make their own (no tensor, no slicing per layer)
        else:
            fixed = []
            for k, state in enumerate(states):
                want = 2 if not batched else 3
                if state.dim() != want:
                    kind = "unbatched 2-D" if not batched else "batched 3-D"
                    raise RuntimeError(f"For {kind} input, hx{'' if self.mode != 'LSTM' else ' and cx'} should "
                                       f"also be {want}-D but got {state.dim()}-D tensor")
                state = state if batched else state.unsqueeze(1)
                if k == 0 and self.proj_size:
                    expected = expected[:2] + (self.proj_size,)  # h has the projection's size, c not
                elif k == 1:
                    expected = expected[:2] + (self.hidden_size,)
                if tuple(state.shape) != expected:
                    which = f"hidden[{k}]" if self.mode == "LSTM" else "hidden"
                    raise RuntimeError(f"Expected {which} size {expected}, got {list(state.shape)}")
                fixed.append(state)
            states = tuple(fixed)
        return input, states, batched

    # the recurrence ----------------------------------------------------------------------------
    def _run(self, input, states):
        """All layers and directions; each is one fused node (see _rnn_ops): the input projection of
        all steps is one (T*B, in) x (in, G*H) matmul inside it and the recurrence runs on arrays."""
        dirs = 2 if self.bidirectional else 1
        per = self._per_direction
        names = self._flat_weights_names
        mode = self.mode
        layer_input = input
        finals = [[] for _ in range(2 if mode == "LSTM" else 1)]
        steps = input.shape[0]
        for layer in range(self.num_layers):
            outs = []
            x2 = layer_input.reshape(-1, layer_input.shape[-1])
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, *rest = (getattr(self, n) for n in names[k * per:(k + 1) * per])
                w_hr = rest.pop() if self.proj_size else None
                b_ih, b_hh = rest if rest else (None, None)
                h0 = None if states is None else states[0][k]
                if w_hr is not None:
                    c0 = None if states is None else states[1][k]
                    out, *last = _projected_lstm(layer_input, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, d == 1)
                elif mode == "LSTM":
                    c0 = None if states is None else states[1][k]
                    out, *last = lstm_layer(x2, w_ih, b_ih, h0, c0, w_hh, b_hh, steps, d == 1)
                elif mode == "GRU":
                    out, *last = gru_layer(x2, w_ih, b_ih, h0, w_hh, b_hh, steps, d == 1)
                else:
                    out, *last = rnn_layer(x2, w_ih, b_ih, h0, w_hh, b_hh, steps, d == 1, mode == "RNN_RELU")
                outs.append(out)
                for j, s in enumerate(last):
                    finals[j].append(s)
            layer_input = outs[0] if dirs == 1 else _cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, tuple(_stack(f, 0) for f in finals)

    def _forward_packed(self, packed, hx):
        """A PackedSequence: each group of equal-length sequences runs as one dense batch of its own
        length (so every sequence's final state is its last real step, also backwards), then the
        outputs are packed again in the input's order. Returns ``(PackedSequence, finals tuple)``."""
        from ..ops import cat, index_select
        from .utils.rnn import _pack, pad_packed_sequence
        padded, lengths = pad_packed_sequence(packed)  # (T, B, I) in the caller's batch order
        lengths = lengths.tolist()
        steps, batch = padded.shape[0], padded.shape[1]
        groups = {}
        for b, n in enumerate(lengths):
            groups.setdefault(n, []).append(b)
        states = None if hx is None else (tuple(hx) if isinstance(hx, (tuple, list)) else (hx,))
        outs, finals, order = [], [], []
        for n in sorted(groups, reverse=True):
            order += groups[n]
            idx = creation.tensor(groups[n], dtype=_dt.int64, device=padded.device)
            x = index_select(padded[:n], 1, idx)
            h = None if states is None else tuple(index_select(st, 1, idx) for st in states)
            if h is not None and self.mode != "LSTM":
                h = h[0]
            out, last = type(self).forward(self, x.transpose(0, 1) if self.batch_first else x, h)
            out = out.transpose(0, 1) if self.batch_first else out
            if n < steps:
                out = cat([out, out.new_zeros((steps - n,) + tuple(out.shape[1:]))], 0)
            outs.append(out)
            finals.append(last if isinstance(last, tuple) else (last,))
        back = [0] * batch
        for i, b in enumerate(order):
            back[b] = i
        back = creation.tensor(back, dtype=_dt.int64, device=padded.device)
        out = index_select(cat(outs, 1), 1, back)
        finals = tuple(index_select(cat(list(f), 1), 1, back) for f in zip(*finals))
        sorted_order = packed.sorted_indices.tolist() if packed.sorted_indices is not None else list(range(batch))
        data = _pack(out, packed.batch_sizes.tolist(), sorted_order)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), finals

    def _forward_one_state(self, input, hx):
        """``forward`` of the layers whose state is h alone (RNN, GRU): ``(output, h_n)``."""
        if isinstance(input, PackedSequence):
            output, (h_n,) = self._forward_packed(input, hx)
            return output, h_n
        x, states, batched = self._prepare(input, hx)
        output, finals = self._run(x, states)
        output, (h_n,) = self._finish(output, finals, batched)
        return output, h_n

    def _finish(self, output, finals, batched):
        if not batched:
            output = output.squeeze(1)
            finals = tuple(f.squeeze(1) for f in finals)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, finals


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Returns ``(output, h_n)``: output (L, N, D*H) (batch first when ``batch_first``), h_n (D*layers, N, H).

    Example:
        >>> rnn = nn.RNN(10, 20, 2)
        >>> output, hn = rnn(tensorplug.randn(5, 3, 10))
    """

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


class LSTM(RNNBase):
    """Long short-term memory; gates ordered (input, forget, cell, output) as in torch.

    Returns ``(output, (h_n, c_n))``.

    Example:
        >>> lstm = nn.LSTM(10, 20, 2, batch_first=True)
        >>> output, (hn, cn) = lstm(tensorplug.randn(3, 5, 10))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
        if isinstance(input, PackedSequence):
            output, (h_n, c_n) = self._forward_packed(input, hx)
            return output, (h_n, c_n)
        x, states, batched = self._prepare(input, hx)
        output, finals = self._run(x, states)
        output, (h_n, c_n) = self._finish(output, finals, batched)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit; gates ordered (reset, update, new) as in torch.

    Example:
        >>> gru = nn.GRU(10, 20, bidirectional=True)
        >>> output, hn = gru(tensorplug.randn(5, 3, 10))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


# cells -------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate = self._gates * hidden_size
        self.weight_ih = Parameter(creation.empty((gate, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty((gate, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(gate, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            a, b = (_dt.scalar_type_name(d) for d in (input.dtype, self.weight_ih.dtype))
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {a} and {b}; convert one, "
                               f"e.g. model.double() or x.float()")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            return x, (None,) * n_states, batched  # zeros: the fused layers make their own
        states = tuple(hx) if n_states == 2 else (hx,)
        out = []
        for s in states:
            s = s if batched else s.unsqueeze(0)
            if s.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden0 batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden0 has inconsistent hidden_size: got {s.shape[1]}, expected "
                                   f"{self.hidden_size}")
            out.append(s)
        return x, tuple(out), batched


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        _, h = rnn_layer(x, self.weight_ih, self.bias_ih, h, self.weight_hh, self.bias_hh, 1,
                         relu=self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``."""

    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        _, h, c = lstm_layer(x, self.weight_ih, self.bias_ih, h, c, self.weight_hh, self.bias_hh, 1)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step; returns ``h'``."""

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        _, h = gru_layer(x, self.weight_ih, self.bias_ih, h, self.weight_hh, self.bias_hh, 1)
        return h if batched else h.squeeze(0)


def _projected_lstm(x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, reverse):
    """An LSTM layer with a projection (``proj_size``): ``h = (o * tanh(c)) @ W_hr.T``, step by step with
    tensorplug ops (the fused layer has no projection); returns ``(output (T, B, P), h_n, c_n)``."""
    steps, batch = x.shape[0], x.shape[1]
    hidden, proj = w_hr.shape[1], w_hr.shape[0]
    xw = x @ w_ih.t()
    if b_ih is not None:
        xw = xw + b_ih
    if b_hh is not None:
        xw = xw + b_hh
    h = h0 if h0 is not None else creation.zeros((batch, proj), dtype=x.dtype, device=x.device)
    c = c0 if c0 is not None else creation.zeros((batch, hidden), dtype=x.dtype, device=x.device)
    outs = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        i, f, g, o = (xw[t] + h @ w_hh.t()).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = (o.sigmoid() * c.tanh()) @ w_hr.t()
        outs[t] = h
    return _stack(outs, 0), h, c
