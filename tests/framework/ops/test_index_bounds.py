"""Every index argument is bounds-checked as torch checks it: a negative or too-large index is torch's
error (type and key phrase), never a silent read of another row; where torch reads a negative index from
the end, so do we. Also: an index tensor written in place before backward is torch's inplace error."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


def _x(m, shape=(3, 4), grad=False):
    return m.arange(float(np.prod(shape)), dtype=m.float64).reshape(*shape).requires_grad_(grad)


def _i(m, values):
    return m.tensor(values, dtype=m.int64)


def _grow(bad):
    """The same kind of bad index for a dim of size 4 (the cases' dim 1)."""
    return bad + 1 if bad > 0 else bad - 1 if bad < -3 else bad


def _w32(m):
    # float32: torch's embedding_bag message differs by weight dtype; this one names the position
    return _x(m).float()


F_CASES = {
    # name: (fn(m, bad), key phrase torch's message holds); bad is -1, 3 (== size) or -4 (< -size)
    "gather": (lambda m, b: _x(m).gather(0, _i(m, [[b, 0, 0, 0]])), "is out of bounds for dimension 0 with size 3"),
    "gather_dim1": (lambda m, b: _x(m).gather(1, _i(m, [[_grow(b)], [0], [0]])), "is out of bounds for dimension 1"),
    "gather_int32": (lambda m, b: _x(m).gather(0, m.tensor([[b, 0, 0, 0]], dtype=m.int32)), "is out of bounds"),
    "gather_0d_input": (lambda m, b: m.gather(m.tensor(1.0), 0, _i(m, b)), "is out of bounds for dimension 0 with size 1"),
    "scatter": (lambda m, b: _x(m).scatter(0, _i(m, [[b, 0, 0, 0]]), _x(m)), "is out of bounds for dimension 0"),
    "scatter_value": (lambda m, b: _x(m).scatter(0, _i(m, [[b, 0, 0, 0]]), 5.0), "is out of bounds for dimension 0"),
    "scatter_": (lambda m, b: _x(m).scatter_(0, _i(m, [[b, 0, 0, 0]]), _x(m)), "is out of bounds for dimension 0"),
    "scatter_add": (lambda m, b: _x(m).scatter_add(0, _i(m, [[b, 0, 0, 0]]), _x(m)), "is out of bounds for dimension 0"),
    "scatter_add_": (lambda m, b: _x(m).scatter_add_(0, _i(m, [[b, 0, 0, 0]]), _x(m)), "is out of bounds"),
    "index_select": (lambda m, b: m.index_select(_x(m), 0, _i(m, [b])), "index out of range in self"),
    "index_select_0d_index": (lambda m, b: m.index_select(_x(m), 0, _i(m, b)), "index out of range in self"),
    "index_select_0d_input": (lambda m, b: m.index_select(m.tensor(1.0), 0, _i(m, [b])), "index out of range in self"),
    "index_select_int32": (lambda m, b: _x(m).index_select(0, m.tensor([b], dtype=m.int32)), "index out of range"),
    "index_add": (lambda m, b: _x(m).index_add(0, _i(m, [b]), _x(m)[:1]), "is out of bounds for dimension 0 with size 3"),
    "index_add_dim1": (lambda m, b: _x(m).index_add(1, _i(m, [_grow(b)]), _x(m)[:, :1]), "for dimension 1 with size 4"),
    "index_add_": (lambda m, b: _x(m).index_add_(0, _i(m, [b]), _x(m)[:1]), "is out of bounds for dimension 0"),
    "take_along_dim_flat": (lambda m, b: m.take_along_dim(_x(m), _i(m, [b * 4])), "is out of bounds for dimension 0"),
    "embedding": (lambda m, b: m.nn.functional.embedding(_i(m, [0, b]), _x(m)), "index out of range in self"),
    "embedding_int32": (lambda m, b: m.nn.functional.embedding(m.tensor([b], dtype=m.int32), _x(m)), "out of range"),
    "Embedding": (lambda m, b: m.nn.Embedding(3, 2)(_i(m, [[b]])), "index out of range in self"),
    "embedding_bag": (lambda m, b: m.nn.functional.embedding_bag(_i(m, [0, b]), _w32(m), _i(m, [0])),
                      "Index 1 of input takes value"),
    "embedding_bag_2d": (lambda m, b: m.nn.functional.embedding_bag(_i(m, [[0, b]]), _w32(m)), "not in the valid range"),
    "embedding_bag_float64": (lambda m, b: m.nn.functional.embedding_bag(_i(m, [b]), _x(m), _i(m, [0])),
                              "idx < num_embeddings"),
    "EmbeddingBag": (lambda m, b: m.nn.EmbeddingBag(3, 2, mode="sum")(_i(m, [b]), _i(m, [0])), "not in the valid range"),
    # the output planes here: 6 elements (max_unpool1d), 3 x 6 (max_unpool2d)
    "max_unpool1d": (lambda m, b: m.nn.functional.max_unpool1d(m.ones(1, 1, 3), _i(m, [[[0, b * 2, 1]]]), 2),
                     "Found an invalid max index"),
    "max_unpool2d": (lambda m, b: m.nn.functional.max_unpool2d(m.ones(1, 1, 1, 2), _i(m, [[[[b * 6, 0]]]]), 3),
                     "Found an invalid max index"),
}

# torch reads a negative index from the end here (-1 is the last row); past either end is its error
FROM_THE_END = {
    "index_fill": (lambda m, b: _x(m).index_fill(0, _i(m, [b]), 7.0), "is out of bounds for dimension 0 with size 3"),
    "index_fill_dim1": (lambda m, b: _x(m).index_fill(1, _i(m, [_grow(b)]), 7.0), "for dimension 1 with size 4"),
    "index_fill_": (lambda m, b: _x(m).index_fill_(0, _i(m, [b]), 7.0), "is out of bounds for dimension 0"),
    "getitem_tensor": (lambda m, b: _x(m)[_i(m, [b])], "is out of bounds for dimension 0 with size 3"),
    "getitem_0d_tensor": (lambda m, b: _x(m)[_i(m, b)], "is out of bounds for dimension 0 with size 3"),
    "getitem_list": (lambda m, b: _x(m)[[b, 0]], "is out of bounds for dimension 0 with size 3"),
    "getitem_int32": (lambda m, b: _x(m)[m.tensor([b], dtype=m.int32)], "is out of bounds"),
    "getitem_two_tensors": (lambda m, b: _x(m)[_i(m, [b]), _i(m, [0])], "is out of bounds for dimension 0"),
    "getitem_dim1": (lambda m, b: _x(m)[:, _i(m, [_grow(b)])], "is out of bounds for dimension"),
    "getitem_int": (lambda m, b: _x(m)[b], "is out of bounds for dimension 0 with size 3"),
    "setitem_tensor": (lambda m, b: _x(m).__setitem__(_i(m, [b]), 1.0), "is out of bounds for dimension 0"),
    "F.embedding padding_idx": (lambda m, b: m.nn.functional.embedding(_i(m, [0]), _x(m), padding_idx=b),
                                "Padding_idx must be within num_embeddings"),
    "Embedding padding_idx": (lambda m, b: m.nn.Embedding(3, 2, padding_idx=b), "Padding_idx must be within"),
}

BAD = {"minus_one": -1, "size": 3, "below_minus_size": -4}


def _outcome(m, fn, bad):
    try:
        out = fn(m, bad)
    except Exception as exc:  # noqa: BLE001 — the class is what we compare
        return exc
    return out


def _same_error(name, fn, phrase, bad):
    expected = _outcome(torch, fn, bad)
    got = _outcome(tp, fn, bad)
    assert isinstance(expected, Exception), f"{name}: torch accepted index {bad}"
    assert phrase in str(expected), f"{name}: torch's message changed: {expected}"
    assert isinstance(got, Exception), f"{name}({bad}) returned {got} where torch raises {expected!r}"
    assert isinstance(got, type(expected)), f"{name}: {type(got).__name__} ({got}), torch: {expected!r}"
    assert phrase in str(got), f"{name}: {got!s} lacks torch's {phrase!r}"


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("name", F_CASES)
def test_out_of_range_or_negative_is_torchs_error(name, bad):
    fn, phrase = F_CASES[name]
    _same_error(name, fn, phrase, bad)


@pytest.mark.parametrize("bad", [3, -4], ids=["size", "below_minus_size"])
@pytest.mark.parametrize("name", FROM_THE_END)
def test_past_either_end_is_torchs_error(name, bad):
    fn, phrase = FROM_THE_END[name]
    _same_error(name, fn, phrase, bad)


@pytest.mark.parametrize("name", [n for n in FROM_THE_END if "padding" not in n] + ["padding"])
def test_negative_reads_from_the_end_like_torch(name):
    if name == "padding":
        for m in (tp, torch):
            emb = m.nn.Embedding(3, 2, padding_idx=-1)
            assert emb.padding_idx == 2
            assert not emb.weight[2].detach().numpy().any()
        return
    fn, _ = FROM_THE_END[name]
    for bad in (-1, -3):
        expected = fn(torch, bad)
        got = fn(tp, bad)
        if expected is None:  # __setitem__
            continue
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_take_along_dim_reads_negatives_from_the_end_and_refuses_past_the_end():
    # torch wraps every index modulo the size here (3 -> row 0): a silent wrong row, so we raise
    for b in (-1, -3, 2):
        got = tp.take_along_dim(_x(tp, grad=True), _i(tp, [[b, 0, 1, 2]]), 0)
        expected = torch.take_along_dim(_x(torch, grad=True), _i(torch, [[b, 0, 1, 2]]), 0)
        np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
        got.sum().backward()
    for b in (3, -4, 7):
        with pytest.raises(RuntimeError, match=f"index {b} is out of bounds for dimension 0 with size 3"):
            tp.take_along_dim(_x(tp), _i(tp, [[b, 0, 1, 2]]), 0)


def test_the_first_bad_index_is_named_as_torch_names_it():
    for m in (tp, torch):
        with pytest.raises(RuntimeError, match="index 5 is out of bounds"):
            _x(m).gather(1, _i(m, [[0, 5, -1]] * 3))


def test_zero_dim_tensor_refuses_an_index_tensor():
    for m in (tp, torch):
        for key in (_i(m, [0]), _i(m, [-1]), [0]):
            with pytest.raises(IndexError, match="too many indices for tensor of dimension 0"):
                m.tensor(5.0)[key]
        np.testing.assert_array_equal(m.tensor(5.0)[m.tensor(True)].numpy(), [5.0])


def test_embedding_bag_offsets_like_torch():
    for m in (tp, torch):
        with pytest.raises(IndexError, match="index out of range in self"):
            m.nn.functional.embedding_bag(_i(m, [0, 1, 2]), _x(m), _i(m, [0, -1, 1]))
    # decreasing offsets: torch raises for float32 sum/mean and answers garbage otherwise; we always raise
    for offsets in ([0, 2, 1], [0, 3, 1]):
        with pytest.raises(RuntimeError):
            torch.nn.functional.embedding_bag(_i(torch, [0, 1, 2]), _w32(torch), _i(torch, offsets))
        for w in (_w32(tp), _x(tp)):
            for mode in ("sum", "mean", "max"):
                with pytest.raises(RuntimeError, match="offsets must be non-decreasing"):
                    tp.nn.functional.embedding_bag(_i(tp, [0, 1, 2]), w, _i(tp, offsets), mode=mode)
    for offsets in ([0, 1, 1], [0, 3], [0, 1, 3]):
        got = tp.nn.functional.embedding_bag(_i(tp, [0, 1, 2]), _x(tp), _i(tp, offsets))
        expected = torch.nn.functional.embedding_bag(_i(torch, [0, 1, 2]), _x(torch), _i(torch, offsets))
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


WRITTEN_BEFORE_BACKWARD = {
    "gather": lambda m, w, i: w.gather(0, i.reshape(2, 1).expand(2, 2)),
    "scatter": lambda m, w, i: w.scatter(0, i.reshape(2, 1).expand(2, 2), 1.0),
    "scatter_add": lambda m, w, i: w.scatter_add(0, i.reshape(2, 1).expand(2, 2), w[:2]),
    "index_select": lambda m, w, i: w.index_select(0, i),
    "index_add": lambda m, w, i: w.index_add(0, i, w[:2]),
    "index_fill": lambda m, w, i: w.index_fill(0, i, 0.0),
    "getitem": lambda m, w, i: w[i],
    "setitem": lambda m, w, i: _setitem(w * 1, i),
    "embedding": lambda m, w, i: m.nn.functional.embedding(i, w),
}


def _setitem(z, i):
    z[i] = 0.0
    return z


@pytest.mark.parametrize("name", WRITTEN_BEFORE_BACKWARD)
def test_index_written_in_place_before_backward_is_torchs_error(name):
    # before: the gradient silently went to the rows the new values name
    for m in (tp, torch):
        w = m.arange(6.0, dtype=m.float64).reshape(3, 2).requires_grad_()
        i = m.tensor([0, 1])
        y = WRITTEN_BEFORE_BACKWARD[name](m, w, i)
        i[0] = 2
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("name", WRITTEN_BEFORE_BACKWARD)
def test_index_ops_gradients_still_match_torch(name):
    grads = []
    for m in (tp, torch):
        w = m.arange(6.0, dtype=m.float64).reshape(3, 2).requires_grad_()
        y = WRITTEN_BEFORE_BACKWARD[name](m, w, m.tensor([2, 0]))
        (y * m.arange(1.0, y.numel() + 1, dtype=m.float64).reshape(y.shape)).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(*grads)


@pytest.mark.parametrize("shape", [(3,), (3, 4), (3, 4, 2)])
def test_index_select_and_index_add_raise_what_torch_raises_on_every_path(shape):
    # torch's class depends on rank, dim and layout (IndexError or RuntimeError): ours is both
    for d in range(len(shape)):
        part = list(shape)
        part[d] = 1
        for bad in (shape[d], -1):
            for name, fn in [("index_select", lambda m: m.zeros(shape).index_select(d, _i(m, [bad]))),
                             ("index_add", lambda m: m.zeros(shape).index_add(d, _i(m, [bad]), m.ones(part)))]:
                expected = _outcome(torch, lambda m, b: fn(m), bad)
                got = _outcome(tp, lambda m, b: fn(m), bad)
                assert isinstance(got, type(expected)), (name, shape, d, bad, got, expected)
                assert isinstance(got, IndexError) and isinstance(got, RuntimeError)


def test_shape_errors_of_the_index_ops_are_torchs_class():
    cases = [lambda m: m.zeros(3, 3).scatter(0, m.zeros(2, 3, dtype=m.int64), m.ones(2)),
             lambda m: m.zeros(3, 3).scatter_add(0, m.zeros(2, 3, dtype=m.int64), m.ones(2)),
             lambda m: m.zeros(3, 3).scatter(0, m.zeros(2, 3, dtype=m.int64), m.ones(2, 3, 1)),
             lambda m: m.zeros(3, 3).scatter(0, m.zeros(2, 3, dtype=m.int64), m.ones(1)),
             lambda m: m.take_along_dim(m.tensor(1.0), _i(m, [[0]]), 1),
             lambda m: m.take_along_dim(m.tensor(1.0), _i(m, 0), 0),
             lambda m: m.take_along_dim(m.ones(2, 2), _i(m, [0]), 5)]
    for fn in cases:
        expected = _outcome(torch, lambda m, b: fn(m), None)
        got = _outcome(tp, lambda m, b: fn(m), None)
        assert isinstance(expected, Exception) and type(got) is not type(None)
        assert isinstance(got, type(expected)), (got, expected)


INDEX_DTYPE_CASES = {
    "gather": lambda m, d: m.zeros(3, 4).gather(0, m.zeros(1, 4, dtype=d)),
    "scatter": lambda m, d: m.zeros(3, 4).scatter(0, m.zeros(1, 4, dtype=d), 1.0),
    "scatter_add": lambda m, d: m.zeros(3, 4).scatter_add(0, m.zeros(1, 4, dtype=d), m.ones(1, 4)),
    "index_select": lambda m, d: m.zeros(3, 4).index_select(0, m.zeros(1, dtype=d)),
    "index_add": lambda m, d: m.zeros(3, 4).index_add(0, m.zeros(1, dtype=d), m.ones(1, 4)),
    "index_fill": lambda m, d: m.zeros(3, 4).index_fill(0, m.zeros(1, dtype=d), 1.0),
    "take_along_dim": lambda m, d: m.zeros(3, 4).take_along_dim(m.zeros(1, 4, dtype=d), 0),
    "embedding": lambda m, d: m.nn.functional.embedding(m.zeros(1, dtype=d), m.zeros(3, 4)),
    "getitem": lambda m, d: m.zeros(3, 4)[m.zeros(1, dtype=d)],
}


@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool", "float32"])
@pytest.mark.parametrize("name", INDEX_DTYPE_CASES)
def test_index_dtypes_accepted_and_refused_as_torch_does(name, dtype):
    fn = INDEX_DTYPE_CASES[name]
    expected = _outcome(torch, lambda m, b: fn(m, getattr(m, dtype)), None)
    got = _outcome(tp, lambda m, b: fn(m, getattr(m, dtype)), None)
    if not isinstance(expected, Exception):
        assert not isinstance(got, Exception), got
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    else:
        assert isinstance(got, type(expected)), (got, expected)


def test_a_uint8_index_is_a_mask_with_torchs_warning():
    for m in (tp, torch):
        with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
            out = _x(m)[m.tensor([1, 0, 1], dtype=m.uint8)]
        np.testing.assert_array_equal(out.numpy(), np.arange(12.0).reshape(3, 4)[[0, 2]])
