"""Results torch makes contiguous are contiguous here too, so ``.view`` works on them as in torch:
NumPy's fancy indexing lays an indexed inner axis out first, and its elementwise results follow a strided
input's layout. Each row is compared with torch (its contiguity, and a view of the result)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _x(m, *shape):
    return m.tensor(np.arange(float(np.prod(shape))).reshape(shape))


CASES = {
    "index_select_inner": lambda m: _x(m, 2, 3, 4, 5).index_select(3, m.tensor([0, 2, 2])),
    "index_inner": lambda m: _x(m, 2, 3, 4, 5)[:, :, m.tensor([0, 3])],
    "index_two_axes": lambda m: _x(m, 2, 3, 4, 5)[:, m.tensor([0, 2]), :, m.tensor([1, 4])],
    "interpolate_nearest": lambda m: m.nn.functional.interpolate(_x(m, 2, 3, 4, 5), scale_factor=2),
    "interpolate_bilinear": lambda m: m.nn.functional.interpolate(_x(m, 2, 3, 4, 5), scale_factor=2, mode="bilinear"),
    "interpolate_bicubic": lambda m: m.nn.functional.interpolate(_x(m, 2, 3, 4, 5), scale_factor=2, mode="bicubic"),
    "interpolate_linear": lambda m: m.nn.functional.interpolate(_x(m, 2, 3, 5), size=7, mode="linear"),
    "pad_reflect": lambda m: m.nn.functional.pad(_x(m, 2, 3, 4, 5), (1, 1, 1, 1), mode="reflect"),
    "pad_replicate": lambda m: m.nn.functional.pad(_x(m, 2, 3, 4, 5), (1, 2, 2, 1), mode="replicate"),
    "pad_circular": lambda m: m.nn.functional.pad(_x(m, 2, 3, 4, 5), (1, 1, 1, 1), mode="circular"),
    "fold": lambda m: m.nn.functional.fold(m.nn.functional.unfold(_x(m, 2, 3, 4, 4), 2), (4, 4), 2),
    "fold_padded_strided": lambda m: m.nn.functional.fold(_x(m, 2, 18, 12), (6, 7), (2, 3), dilation=(1, 2),
                                                          padding=(1, 0), stride=(2, 1)),
    "masked_fill_transposed": lambda m: _x(m, 4, 5).T.masked_fill(_x(m, 4, 5).T > 3, 0.0),
    "layer_norm_transposed": lambda m: m.nn.functional.layer_norm(_x(m, 5, 4).T, (5,)),
    "attention_sequence_first": lambda m: _attention(m, batch_first=False),
}


def _attention(m, batch_first):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    module = m.nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    module.load_state_dict({k: m.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _x(m, 3, 2, 4) / 24
    return module(x, x, x)[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_contiguous_as_torchs(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = CASES[name](torch)
        ours = CASES[name](tensorplug)
    assert theirs.is_contiguous()
    assert ours.is_contiguous() and ours.stride() == theirs.stride()
    np.testing.assert_allclose(ours.detach().view(-1).numpy(), theirs.detach().view(-1).numpy(), rtol=1e-12)
