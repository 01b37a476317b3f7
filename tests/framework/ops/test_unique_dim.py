"""unique(dim=) and unique_consecutive(dim=) against torch: values, inverse, counts, dtypes and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(5)
ARRAYS = {
    "int": RNG.integers(0, 2, (5, 3, 2)),
    "float": RNG.integers(-1, 2, (4, 2, 3)).astype(np.float32) / 2,
    "bool": RNG.integers(0, 2, (6, 2)).astype(bool),
    "nan": np.array([[1.0, np.nan], [1.0, np.nan], [0.0, 2.0], [-0.0, 2.0]]),
    "empty_dim": np.zeros((0, 3)),
    "empty_other": np.zeros((2, 0)),
}


def _check(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype.name == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        if b.dtype.is_floating_point:  # -0.0 kept where it comes first
            np.testing.assert_array_equal(np.signbit(a.detach().numpy()), np.signbit(b.detach().numpy()))


@pytest.mark.parametrize("name", sorted(ARRAYS))
@pytest.mark.parametrize("dim", [0, -1, 1])
@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
def test_unique_dim_against_torch(name, dim, flags):
    array = ARRAYS[name]
    inverse, counts = flags
    try:
        want = torch.unique(torch.tensor(array), dim=dim, return_inverse=inverse, return_counts=counts)
    except RuntimeError as exc:  # an empty dim other than the one asked for
        with pytest.raises(RuntimeError, match=str(exc).split(",")[0]):
            tp.unique(tp.tensor(array), dim=dim, return_inverse=inverse, return_counts=counts)
        return
    got = tp.unique(tp.tensor(array), dim=dim, return_inverse=inverse, return_counts=counts)
    _check(got, want)
    _check(tp.tensor(array).unique(sorted=False, dim=dim, return_inverse=inverse, return_counts=counts),
           torch.tensor(array).unique(sorted=False, dim=dim, return_inverse=inverse, return_counts=counts))


@pytest.mark.parametrize("name", ["int", "float", "bool"])
@pytest.mark.parametrize("dim", [0, -1])
def test_unique_consecutive_dim_against_torch(name, dim):
    array = np.repeat(ARRAYS[name], 2, axis=dim)
    got = tp.unique_consecutive(tp.tensor(array), return_inverse=True, return_counts=True, dim=dim)
    want = torch.unique_consecutive(torch.tensor(array), return_inverse=True, return_counts=True, dim=dim)
    _check(got, want)


def test_values_record_torchs_node_whose_backward_raises():
    for m in (tp, torch):
        x = m.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
        values = m.unique(x, dim=0)
        assert values.requires_grad and type(values.grad_fn).__name__ == "UniqueDimBackward0"
        with pytest.raises(NotImplementedError, match="derivative for 'unique_dim' is not implemented"):
            values.sum().backward()


@pytest.mark.parametrize("call", [
    lambda m: m.unique(m.zeros(2, 0), dim=0),
    lambda m: m.unique(m.zeros(2, 3), dim=2),
    lambda m: m.unique(m.tensor(3.0), dim=0),
    lambda m: m.unique(m.ones(2, 2, dtype=m.complex64), dim=0),
])
def test_errors_like_torch(call):
    assert_same_error(call)


def test_every_backend_like_torch(backend):
    for name in ("int", "float", "nan"):
        got = tp.unique(tp.tensor(ARRAYS[name]), dim=1, return_inverse=True, return_counts=True)
        want = torch.unique(torch.tensor(ARRAYS[name]), dim=1, return_inverse=True, return_counts=True)
        _check(tuple(t.cpu() for t in got), want)
