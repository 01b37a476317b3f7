"""nn.utils.rnn (PackedSequence and its helpers) and the recurrent layers on packed input, against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
import tensorplug.nn as nn
from tensorplug.nn.utils import rnn as tp_rnn

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as torch_rnn  # noqa: E402

rng = np.random.default_rng(0)


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [([5, 4, 2, 1], True), ([2, 5, 1, 5], False)])
def test_pack_and_pad_round_trip_like_torch(batch_first, lengths, enforce_sorted):
    x0 = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    ours = tp_rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = torch_rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                            enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(_np(ours.data), _np(theirs.data))
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
    for a, b in ((ours.sorted_indices, theirs.sorted_indices), (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    padded, lens = tp_rnn.pad_packed_sequence(ours, batch_first=batch_first, padding_value=-1.0, total_length=6)
    tpadded, tlens = torch_rnn.pad_packed_sequence(theirs, batch_first=batch_first, padding_value=-1.0,
                                                   total_length=6)
    np.testing.assert_array_equal(_np(padded), _np(tpadded))
    assert lens.tolist() == tlens.tolist() and lens.dtype == tensorplug.int64
    (padded * padded).sum().backward()
    (tpadded * tpadded).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), _np(tx.grad))


def test_pad_sequence_pack_sequence_and_unpacking():
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for kw in (dict(), dict(batch_first=True, padding_value=7.0), dict(padding_side="left")):
        np.testing.assert_array_equal(_np(tp_rnn.pad_sequence([tensorplug.tensor(s) for s in seqs], **kw)),
                                      _np(torch_rnn.pad_sequence([torch.tensor(s) for s in seqs], **kw)))
    packed = tp_rnn.pack_sequence([tensorplug.tensor(s) for s in seqs], enforce_sorted=False)
    tpacked = torch_rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(_np(packed.data), _np(tpacked.data))
    for a, s in zip(tp_rnn.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(_np(a), s)


def test_packing_errors_like_torch():
    x = tensorplug.zeros(4, 3, 2)
    tx = torch.zeros(4, 3, 2)
    for lib, mod, t in ((tensorplug, tp_rnn, x), (torch, torch_rnn, tx)):
        with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
            mod.pack_padded_sequence(t, [2, 4, 1])
        with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
            mod.pack_padded_sequence(t, [4, 0, 1], enforce_sorted=False)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(mode, bidirectional, batch_first):
    lengths = [3, 6, 2, 6, 4]
    x0 = rng.standard_normal((5, 6, 3) if batch_first else (6, 5, 3))
    theirs = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    theirs = theirs.double()
    ours = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first).double()
    ours.load_state_dict({k: tensorplug.tensor(_np(v)) for k, v in theirs.state_dict().items()})
    dirs = 2 if bidirectional else 1
    h0 = rng.standard_normal((2 * dirs, 5, 4))
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    hx = tensorplug.tensor(h0, requires_grad=True)
    thx = torch.tensor(h0, requires_grad=True)
    state = (hx, hx * 0.5) if mode == "LSTM" else hx
    tstate = (thx, thx * 0.5) if mode == "LSTM" else thx
    out, fin = ours(tp_rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False), state)
    tout, tfin = theirs(torch_rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                                       enforce_sorted=False), tstate)
    assert isinstance(out, tp_rnn.PackedSequence)
    np.testing.assert_allclose(_np(out.data), _np(tout.data), atol=1e-12)
    assert out.batch_sizes.tolist() == tout.batch_sizes.tolist()
    assert out.sorted_indices.tolist() == tout.sorted_indices.tolist()
    fin = fin if mode == "LSTM" else (fin,)
    tfin = tfin if mode == "LSTM" else (tfin,)
    for a, b in zip(fin, tfin):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-12)
    padded, _ = tp_rnn.pad_packed_sequence(out, batch_first=batch_first)
    tpadded, _ = torch_rnn.pad_packed_sequence(tout, batch_first=batch_first)
    loss = (padded ** 2).sum() + sum((f ** 3).sum() for f in fin)
    tloss = (tpadded ** 2).sum() + sum((f ** 3).sum() for f in tfin)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(_np(x.grad), _np(tx.grad), atol=1e-10)
    np.testing.assert_allclose(_np(hx.grad), _np(thx.grad), atol=1e-10)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(_np(p.grad), _np(q.grad), atol=1e-10, err_msg=n)
