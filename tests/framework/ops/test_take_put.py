"""take / put / index_copy / index_put / select: values, gradients and index errors against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

torch = pytest.importorskip("torch")

X = np.arange(12.0).reshape(3, 4) / 4 - 1


@pytest.mark.parametrize("case", [
    lambda m, x: m.take(x, m.tensor([[0, -1], [5, 5]])),
    lambda m, x: x.take(m.tensor(-12)),
    lambda m, x, s=np.array([1.0, 2.0, 3.0]): x.put(m.tensor([0, -1, 4]), m.tensor(s, dtype=x.dtype)),
    lambda m, x: x.put(m.tensor([1, 1, -11]), x[0, :3] * 2, accumulate=True),
    lambda m, x: x.index_copy(0, m.tensor([2, 0]), x[:2] * 3),
    lambda m, x: x.index_copy(1, m.tensor([3]), x[:, :1] - 1),
    lambda m, x: m.index_copy(x, 0, m.tensor(1), x[:1] + 5),
    lambda m, x: x.index_put((m.tensor([0, -1]), m.tensor([1, -4])), x[1, :2] * 2),
    lambda m, x: x.index_put((m.tensor([0, 0, 2]),), m.tensor(1.5, dtype=x.dtype), accumulate=True),
    lambda m, x: x.index_put([m.tensor([True, False, True])], x[0] * 0),
    lambda m, x: x.select(1, -1), lambda m, x: m.select(x, 0, 2),
])
def test_against_torch(case):
    same(case, X)


def test_in_place_variants_return_self_and_match():
    for name, args in [("put_", (tp.tensor([0, -1]), tp.tensor([7.0, 8.0], dtype=tp.float64))),
                       ("index_copy_", (0, tp.tensor([1]), tp.ones(1, 4, dtype=tp.float64))),
                       ("index_put_", ((tp.tensor([2]),), tp.tensor(9.0, dtype=tp.float64), True))]:
        t = tp.tensor(X)
        expected = getattr(tp.tensor(X), name[:-1])(*args)
        assert getattr(t, name)(*args) is t
        np.testing.assert_array_equal(t.numpy(), expected.numpy())


BAD = {
    "take": (lambda m, b: m.take(m.zeros(3, 4), m.tensor([b * 4])), IndexError, "out of range: tried to access"),
    "put_": (lambda m, b: m.zeros(3, 4).put_(m.tensor([b * 4]), m.ones(1)), IndexError, "out of range"),
    "index_copy": (lambda m, b: m.zeros(3, 4).index_copy(0, m.tensor([b]), m.ones(1, 4)), IndexError,
                   "is out of bounds for dimension 0 with size 3"),
    "index_put": (lambda m, b: m.zeros(3, 4).index_put((m.tensor([b]),), m.tensor(1.0)), IndexError,
                  "is out of bounds for dimension 0 with size 3"),
    "index_put_accumulate": (lambda m, b: m.zeros(3, 4).index_put((m.tensor([b]),), m.tensor(1.0), accumulate=True),
                             IndexError, "is out of bounds for dimension 0 with size 3"),
    "select": (lambda m, b: m.zeros(3, 4).select(0, b), IndexError, "out of range for tensor of size [3, 4]"),
}


@pytest.mark.parametrize("bad", [3, -4, -1])
@pytest.mark.parametrize("name", BAD)
def test_index_errors_like_torch(name, bad):
    fn, kind, phrase = BAD[name]
    outcomes = []
    for m in (tp, torch):
        try:
            fn(m, bad)
            outcomes.append(None)
        except Exception as exc:  # noqa: BLE001 — the class is compared
            outcomes.append(exc)
    got, expected = outcomes
    if expected is None:  # -1 reads from the end in all but index_copy
        assert got is None, got
        return
    assert isinstance(expected, kind) and phrase in str(expected), expected
    assert isinstance(got, kind) and phrase in str(got), got


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(3, 4).take(m.tensor([1], dtype=m.int32)),
    lambda m: m.zeros(3, 4).take(m.tensor([1.0])),
    lambda m: m.zeros(3, 4).put_(m.tensor([1]), m.ones(2)),
    lambda m: m.zeros(3, 4).index_copy(0, m.tensor([1], dtype=m.int32), m.ones(1, 4)),
    lambda m: m.zeros(3, 4).index_copy(0, m.tensor([1]), m.ones(2, 4)),
    lambda m: m.zeros(3, 4).index_copy(0, m.tensor(1), m.ones(4)),
    lambda m: m.zeros(3, 4).index_put((m.tensor([0.0]),), m.tensor(1.0)),
    lambda m: m.tensor(1.0).select(0, 0),
    lambda m: m.zeros(3, 4).select(2, 0),
])
def test_argument_errors_like_torch(call):
    errors = []
    for m in (tp, torch):
        with pytest.raises(Exception) as info:
            call(m)
        errors.append(info.value)
    assert isinstance(errors[0], type(errors[1])), errors


def test_index_written_in_place_before_backward_is_torchs_error():
    for m in (tp, torch):
        for fn in (lambda x, i: x.take(i), lambda x, i: x.index_copy(0, i, x[:2] * 2),
                   lambda x, i: x.put(i, x[0, :2]), lambda x, i: x.index_put((i,), x[0, 0])):
            x = m.arange(12.0, dtype=m.float64).reshape(3, 4).requires_grad_()
            i = m.tensor([0, 1])
            y = fn(x, i)
            i[0] = 2
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()


SELF = np.array([[1.0, 5.0], [2.0, 4.0], [3.0, 0.0], [-1.0, 7.0]])
SRC = np.array([[4.0, 1.0], [9.0, 0.0], [9.0, 7.0]])
INDEX = np.array([[0, 0], [0, 2], [1, 2]])


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("specials", [False, True])
def test_scatter_reduce_against_torch(reduce, include_self, specials):
    x = SELF.copy()
    if specials:
        x[1, 1] = np.nan
        x[3, 0] = np.inf
    same(lambda m, a, s: a.scatter_reduce(0, m.tensor(INDEX), s, reduce, include_self=include_self), x, SRC)
    same(lambda m, a, s: m.scatter_reduce(a, 1, m.tensor(INDEX[:, :1]), s[:, :1] * 2, reduce,
                                          include_self=include_self), x[:3], SRC)


def test_scatter_reduce_integers_and_in_place():
    for m in (tp, torch):
        x = m.tensor([[1, 5], [2, 3]])
        out = x.scatter_reduce(0, m.tensor([[0, 0]]), m.tensor([[4, 1]]), "mean")
        assert out.tolist() == [[2, 3], [2, 3]]  # floor division, as torch
        assert x.scatter_reduce_(0, m.tensor([[1, 1]]), m.tensor([[9, 9]]), "amax", include_self=False) is x
        assert x.tolist() == [[1, 5], [9, 9]]


@pytest.mark.parametrize("bad", [-1, 4, -5])
def test_scatter_reduce_index_bounds_like_torch(bad):
    errors = []
    for m in (tp, torch):
        with pytest.raises(RuntimeError) as info:
            m.zeros(4, 2).scatter_reduce(0, m.tensor([[0, bad]]), m.ones(1, 2), "sum")
        errors.append(str(info.value))
    assert f"index {bad} is out of bounds for dimension 0 with size 4" in errors[0]
    for m in (tp, torch):
        with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, amax or amin"):
            m.zeros(2).scatter_reduce(0, m.tensor([0]), m.ones(1), "foo")
        assert m.zeros(2).scatter_reduce(0, m.tensor([0]), m.ones(1), "max").tolist() == [1.0, 0.0]


@pytest.mark.parametrize("reduce", ["amax", "amin"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int64", "float32"])
def test_scatter_reduce_without_self_starts_from_the_scattered_values(reduce, dtype):
    # the start was -iinfo.max / iinfo.max / -inf: above int8's -128, and True in a bool tensor
    values = {"bool": ([[1, 0, 1, 0], [0, 1, 1, 0]], [[0, 0, 1], [1, 1, 0]]),
              "uint8": ([[5, 1, 2, 3], [0, 0, 0, 0]], [[255, 255, 0], [100, 0, 7]])}
    x, s = values.get(dtype, ([[5, 1, 2, 3], [0, 0, 0, 0]], [[-128, -128, 127], [100, -5, 7]]))
    index = [[0, 0, 1], [3, 1, 1]]
    got, want = ((m.tensor(x).to(getattr(m, dtype)), m.tensor(s).to(getattr(m, dtype))) for m in (tp, torch))
    got = tp.scatter_reduce(got[0], 1, tp.tensor(index), got[1], reduce, include_self=False)
    want = torch.scatter_reduce(want[0], 1, torch.tensor(index), want[1], reduce, include_self=False)
    assert got.tolist() == want.tolist()
