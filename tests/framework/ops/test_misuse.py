"""Every Shapes/indexing and Types row of ERRORS.md: torch's exception type and key phrase."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug as tp


def _raises(exc, phrase, fn):
    with pytest.raises(exc) as info:
        fn()
    assert phrase in str(info.value), str(info.value)
    return info.value


# Shapes and indexing -------------------------------------------------------------------------

def test_broadcast_mismatch_is_runtime_error_not_numpy_valueerror():
    e = _raises(RuntimeError, "must match the size of tensor b", lambda: tp.ones(2, 3) + tp.ones(4, 3))
    assert "dimension 0" in str(e) and not isinstance(e, ValueError)


def test_elementwise_product_of_matrix_shapes_suggests_matmul():
    e = _raises(RuntimeError, "must match the size of tensor b", lambda: tp.ones(4, 6) * tp.ones(6, 4))
    assert "@" in str(e)


def test_matmul_shape_mismatch():
    _raises(RuntimeError, "shapes cannot be multiplied (2x3 and 4x5)", lambda: tp.ones(2, 3) @ tp.ones(4, 5))


def test_dot_inconsistent_size():
    _raises(RuntimeError, "inconsistent tensor size", lambda: tp.ones(3) @ tp.ones(4))


def test_matmul_zero_dim():
    _raises(RuntimeError, "need to be at least 1D", lambda: tp.tensor(2.0) @ tp.ones(3))
    _raises(RuntimeError, "need to be at least 1D", lambda: tp.ones(3) @ tp.tensor(2.0))


def test_view_invalid_size():
    _raises(RuntimeError, "shape '[4, 2]' is invalid for input of size 6", lambda: tp.ones(6).view(4, 2))


def test_view_two_inferred():
    _raises(RuntimeError, "only one dimension can be inferred", lambda: tp.ones(6).view(-1, -1))


def test_view_of_transposed_says_reshape():
    e = _raises(RuntimeError, "view size is not compatible", lambda: tp.ones(2, 3).t().view(6))
    assert "Use .reshape(...) instead" in str(e)
    assert tp.ones(2, 3).t().reshape(6).shape == (6,)


def test_negative_shape_dimension():
    _raises(RuntimeError, "invalid shape dimension -2", lambda: tp.ones(6).view(-2, 3))
    _raises(RuntimeError, "negative dimension", lambda: tp.zeros(-2, 3))


def test_index_out_of_bounds():
    _raises(IndexError, "index 5 is out of bounds for dimension 0 with size 3", lambda: tp.ones(3)[5])


def test_zero_dim_index_zero_warns_and_returns_item():
    loss = tp.tensor(2.5)
    with pytest.warns(UserWarning, match="item"):
        assert loss.data[0] == 2.5


def test_zero_dim_other_index_is_index_error():
    _raises(IndexError, "invalid index of a 0-dim tensor", lambda: tp.tensor(1.0)[1])
    _raises(IndexError, "invalid index of a 0-dim tensor", lambda: tp.tensor(1.0)[0:1])


def test_float_index():
    _raises(IndexError, "only integers, slices", lambda: tp.ones(3)[1.5])
    # torch's wording for a float tensor index
    _raises(IndexError, "tensors used as indices must be long, int, byte or bool", lambda: tp.ones(3)[tp.tensor([0.0])])


def test_item_of_many():
    _raises(RuntimeError, "a Tensor with 3 elements cannot be converted to Scalar", lambda: tp.ones(3).item())


def test_dim_out_of_range():
    _raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
            lambda: tp.ones(2, 3).sum(dim=2))
    for fn in (lambda x: x.max(2), lambda x: x.softmax(2), lambda x: tp.cat([x, x], 2),
               lambda x: x.var(2), lambda x: x.cumsum(-3), lambda x: x.gather(2, x.long())):
        _raises(IndexError, "Dimension out of range", lambda: fn(tp.ones(2, 3)))


def test_cat_mismatch_and_empty():
    _raises(RuntimeError, "Sizes of tensors must match except in dimension",
            lambda: tp.cat([tp.ones(2, 3), tp.ones(2, 4)], 0))
    _raises(ValueError, "expected a non-empty list of Tensors", lambda: tp.cat([]))


def test_stack_mismatch():
    _raises(RuntimeError, "stack expects each tensor to be equal size", lambda: tp.stack([tp.ones(2), tp.ones(3)]))


def test_max_of_empty():
    _raises(RuntimeError, "Expected reduction dim to be specified", lambda: tp.ones(0).max())
    _raises(RuntimeError, "Expected reduction dim to be specified", lambda: tp.ones(2, 0).min())


def test_bool_of_many():
    _raises(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous",
            lambda: bool(tp.ones(2)))


def test_len_and_iter_of_zero_dim():
    _raises(TypeError, "len() of a 0-d tensor", lambda: len(tp.tensor(1.0)))
    _raises(TypeError, "iteration over a 0-d tensor", lambda: iter(tp.tensor(1.0)))


def test_ragged_and_str_data():
    _raises(ValueError, "expected sequence of length", lambda: tp.tensor([[1, 2], [3]]))
    _raises(TypeError, "invalid data type 'str'", lambda: tp.tensor("abc"))


def test_gather_index_checks():
    x = tp.ones(2, 3)
    _raises(RuntimeError, "out of bounds", lambda: x.gather(1, tp.tensor([[3]])))
    _raises(RuntimeError, "same number of dimensions", lambda: x.gather(1, tp.tensor([0])))


def test_in_place_cannot_change_shape():
    _raises(RuntimeError, "doesn't match the broadcast shape", lambda: tp.ones(3).add_(tp.ones(2, 3)))


# Types and devices -----------------------------------------------------------------------------

def test_int_plus_float_is_float32():
    assert (tp.tensor([1, 2]) + tp.tensor([0.5, 1.5])).dtype == tp.float32
    assert (tp.tensor([1, 2]) + 2.5).dtype == tp.float32


def test_zero_dim_does_not_upcast():
    assert (tp.ones(2) + tp.tensor(1.0, dtype=tp.float64)).dtype == tp.float32
    assert (tp.ones(2) + tp.ones(2, dtype=tp.float64)).dtype == tp.float64


def test_matmul_dtype_mismatch():
    _raises(RuntimeError, "expected m1 and m2 to have the same dtype",
            lambda: tp.LongTensor([[1, 2]]) @ tp.FloatTensor([[1.0], [2.0]]))


def test_requires_grad_on_int():
    _raises(RuntimeError, "Only Tensors of floating point and complex dtype can require gradients",
            lambda: tp.tensor([1, 2]).requires_grad_())


def test_int_division_by_zero():
    _raises(RuntimeError, "ZeroDivisionError", lambda: tp.tensor([1, 2]) // 0)
    _raises(RuntimeError, "ZeroDivisionError", lambda: tp.tensor([1, 2]) % tp.tensor([1, 0]))


def test_int_true_div_in_place():
    _raises(RuntimeError, "can't be cast to the desired output type", lambda: tp.tensor([1, 2]).div_(2))


def test_int_negative_power():
    _raises(RuntimeError, "Integers to negative integer powers are not allowed", lambda: tp.tensor([1, 2]) ** -1)


def test_random_range_errors():
    _raises(RuntimeError, "expects 'from' to be less than 'to'", lambda: tp.empty(3).random_(5, 5))
    _raises(RuntimeError, "expects to return a [from, to) range", lambda: tp.empty(3).uniform_(1, 0))
    _raises(RuntimeError, "expects std >= 0.0", lambda: tp.empty(3).normal_(std=-1))


def test_random_out_of_float32_mantissa_warns():
    with pytest.warns(UserWarning, match=r"out of bounds \[-\(2\^24\), 2\^24\]"):
        tp.empty(3).random_(0, 2 ** 25)


def test_two_backends_do_not_mix():
    names = [n for n, s in tp.registry.backend_specs().items() if s.probe() is None]
    if len(names) < 2:
        pytest.skip("needs two usable backends")
    with tp.use_backend(names[0]):
        a = tp.ones(2)
    with tp.use_backend(names[1]):
        b = tp.ones(2)
    if a._backend is b._backend:
        pytest.skip("both names resolve to one backend")
    _raises(RuntimeError, "Expected all tensors to be on the same device", lambda: a + b)


def test_no_numpy_exception_leaks_from_ops():
    """A sample of misuses that numpy would answer with ValueError/TypeError."""
    cases = [lambda: tp.ones(2, 3) - tp.ones(3, 2), lambda: tp.maximum(tp.ones(2), tp.ones(3)),
             lambda: tp.where(tp.ones(2) > 0, tp.ones(3), tp.ones(2)), lambda: tp.ones(2, 3) > tp.ones(3, 2),
             lambda: tp.ones(3)[tp.tensor([True, False])]]
    for fn in cases:
        with pytest.raises((RuntimeError, IndexError)):
            fn()


def test_index_ops_with_mismatched_sources():
    x = tp.ones(3, 4)
    with pytest.raises(RuntimeError, match="smaller size than src"):
        x.scatter(0, tp.tensor([[0, 1, 2, 0]]), tp.ones(1, 2))
    with pytest.raises(RuntimeError, match="smaller size than src"):
        x.scatter_add(0, tp.tensor([[0, 1, 2, 0]]), tp.ones(1, 2))
    with pytest.raises(RuntimeError, match="must match self tensor shape"):
        x.index_add(0, tp.tensor([0]), tp.ones(2, 2))
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        tp.stack([])
    with pytest.raises(RuntimeError, match="dims has duplicates"):
        x.flip(0, 0)
    assert x.flip(0, 1).shape == (3, 4)
