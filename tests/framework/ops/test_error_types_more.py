"""Calls torch answers with a value or an error that tensorplug answered otherwise (found by the hypothesis
layer with 0-d and reshaped operands): the same value, or torch's exception type and key phrase."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom")


def _zero_d(m):
    return m.tensor(2.0)


VALUES = {
    # a 0-d tensor takes dim 0 / -1 and reduces over nothing
    "std_dim0": lambda m: _zero_d(m).std(0),
    "var_dim-1": lambda m: _zero_d(m).var(-1),
    "std_dims_tuple": lambda m: _zero_d(m).std((0,)),
    "var_mean": lambda m: m.var_mean(_zero_d(m), 0)[0],
    "mean_dim0": lambda m: _zero_d(m).mean(0),
    "sum_dim0": lambda m: _zero_d(m).sum(0),
    "prod_dim0": lambda m: _zero_d(m).prod(0),
    "amax_dim0": lambda m: _zero_d(m).amax(0),
    "logsumexp_dim0": lambda m: _zero_d(m).logsumexp(0),
    "norm_dim0": lambda m: _zero_d(m).norm(dim=0),
    "norm_p3_dim0": lambda m: _zero_d(m).norm(3, dim=0),
    "norm_inf_dim0": lambda m: _zero_d(m).norm(float("inf"), dim=0),
    "vector_norm_dim0": lambda m: m.linalg.vector_norm(_zero_d(m), 3, dim=0),
    # size-1 dims broadcast in einsum, and their gradients sum back
    "einsum_size1": lambda m: m.einsum("ij,kj->ik", m.ones(2, 1), m.ones(4, 3)),
    "einsum_size1_other": lambda m: m.einsum("ij,kj->ik", m.ones(2, 3), m.ones(4, 1)),
    "einsum_ellipsis_size1": lambda m: m.einsum("...ij,...j", m.ones(2, 2, 1), m.ones(2, 3)),
    "addmm_row_input": lambda m: m.addmm(m.ones(1, 3), m.ones(2, 3), m.ones(3, 3)),
    "narrow_at_the_end": lambda m: m.ones(2, 3).narrow(1, 3, 0),
    # a bias that expands to linear's output (the fused node read it as (out,): numpy's 'duplicate value in axis')
    "linear_bias_1x1": lambda m: _linear_bias_grad(m, (1, 1)),
    "linear_bias_full": lambda m: _linear_bias_grad(m, (2, 4)),
    "linear_bias_0d": lambda m: _linear_bias_grad(m, ()),
    # one sample: torch's dx * (sum - (first + last) / 2) is nan for inf (it was 0)
    "trapezoid_one_sample_inf": lambda m: m.trapezoid(m.tensor([[float("inf")], [2.0]])),
}


def _linear_bias_grad(m, shape):
    bias = m.ones(shape, requires_grad=True)
    (m.nn.functional.linear(m.ones(2, 3), m.ones(4, 3), bias) * m.arange(8.0).reshape(2, 4)).sum().backward()
    return bias.grad
ERRORS = {
    # name: (call, torch's exception type, key phrase)
    "std_dim1_of_0d": (lambda m: _zero_d(m).std(1), IndexError, "Dimension out of range"),
    "permute_0d_two_dims": (lambda m: _zero_d(m).permute(0, 1), RuntimeError, "number of dimensions in the tensor"),
    "permute_too_many": (lambda m: m.ones(2, 3).permute(0, 1, 2), RuntimeError, "does not match the length"),
    "permute_no_dims": (lambda m: m.ones(2, 3).permute(), TypeError, "missing 1 required positional"),
    "permute_duplicate": (lambda m: m.ones(2, 3).permute(1, -1), RuntimeError, "duplicate dims are not allowed"),
    "diagonal_0d": (lambda m: _zero_d(m).diagonal(), IndexError, "Dimension out of range"),
    "diagonal_1d": (lambda m: m.ones(3).diagonal(), IndexError, "Dimension out of range"),
    "diagonal_1d_same_dims": (lambda m: m.ones(3).diagonal(0, 0, -1), RuntimeError, "cannot be identical"),
    "narrow_0d": (lambda m: _zero_d(m).narrow(0, 0, 1), RuntimeError, "cannot be applied to a 0-dim tensor"),
    "narrow_start_past_empty_dim": (lambda m: m.ones(0, 3).narrow(0, 1, 0), IndexError, "start out of range"),
    "narrow_start_past": (lambda m: m.ones(2, 3).narrow(1, 4, 0), IndexError, "start out of range"),
    "narrow_start_before": (lambda m: m.ones(2, 3).narrow(1, -4, 1), IndexError, "start out of range"),
    "narrow_negative_length": (lambda m: m.ones(2, 3).narrow(1, 0, -1), RuntimeError, "length must be non-negative"),
    "narrow_too_long": (lambda m: m.ones(2, 3).narrow(1, 1, 3), RuntimeError, "exceeds dimension size"),
    "mv_0d": (lambda m: m.mv(_zero_d(m), _zero_d(m)), IndexError, "tensor has no dimensions"),
    "mv_0d_matrix": (lambda m: m.mv(_zero_d(m), m.ones(3)), IndexError, "tensor has no dimensions"),
    "mv_0d_vector": (lambda m: m.mv(m.ones(2, 3), _zero_d(m)), RuntimeError, "vector + matrix @ vector expected"),
    "stack_dim_of_0d": (lambda m: m.stack([_zero_d(m), m.ones(2, 2)], 1), IndexError, "Dimension out of range"),
    "stack_dim_before_sizes": (lambda m: m.stack([m.ones(2), m.ones(3)], 5), IndexError, "Dimension out of range"),
    "outer_0d": (lambda m: m.outer(_zero_d(m), m.ones(3)), RuntimeError, "Expected 1-D argument self"),
    "outer_2d": (lambda m: m.outer(m.ones(2, 2), m.ones(3)), RuntimeError, "Expected 1-D argument self"),
    "outer_vec2_0d": (lambda m: m.outer(m.ones(2), _zero_d(m)), RuntimeError, "Expected 1-D argument vec2"),
    "addmm_3d_input": (lambda m: m.addmm(m.ones(1, 2, 3), m.ones(2, 3), m.ones(3, 3)), RuntimeError,
                       "must be greater or equal to the number of dimensions"),
    "addmm_input_bigger": (lambda m: m.addmm(m.ones(2, 2), m.ones(2, 3), m.ones(3, 1)), RuntimeError,
                           "must match the existing size"),
    "einsum_sizes": (lambda m: m.einsum("ij,kj->ik", m.ones(2, 2), m.ones(4, 3)), RuntimeError,
                     "which does not broadcast with previously seen size"),
    # mixed dtypes torch refuses (tensorplug cast silently)
    "nll_loss_weight_dtype": (lambda m: m.nn.functional.nll_loss(m.ones(3, 4, dtype=m.float64), m.tensor([0, 1, 2]),
                                                                 weight=m.ones(4)), RuntimeError,
                              "expected scalar type Double but found Float"),
    "cross_entropy_weight_dtype": (lambda m: m.nn.functional.cross_entropy(m.ones(3, 4), m.tensor([0, 1, 2]),
                                                                           weight=m.ones(4, dtype=m.float16)),
                                   RuntimeError, "expected scalar type Float but found Half"),
    "addmm_input_dtype": (lambda m: m.addmm(m.ones(3, 4, dtype=m.float64), m.ones(3, 2), m.ones(2, 4)), RuntimeError,
                          "self and mat2 must have the same dtype"),
    "index_put_dtype": (lambda m: m.ones(3, dtype=m.float64).index_put((m.tensor([0]),), m.tensor(1.0)), RuntimeError,
                        "Index put requires the source and destination dtypes match"),
    "index_copy_dtype": (lambda m: m.ones(3, 4, dtype=m.float64).index_copy(0, m.tensor([0]), m.ones(1, 4)),
                         RuntimeError, "self and source expected to have the same dtype"),
    "lerp_end_dtype": (lambda m: m.lerp(m.ones(3, dtype=m.float64), m.ones(3), 0.5), RuntimeError,
                       "expected dtype double for `end` but got dtype float"),
    "lerp_weight_dtype": (lambda m: m.lerp(m.ones(3), m.ones(3), m.ones(3, dtype=m.float64)), RuntimeError,
                          "expected dtype float for `weight` but got dtype double"),
    "binary_cross_entropy_target_dtype": (lambda m: m.nn.functional.binary_cross_entropy(
        m.ones(3, dtype=m.float64) * 0.5, m.ones(3) * 0.5), RuntimeError, "Found dtype Float but expected Double"),
    "prelu_weight_dtype": (lambda m: m.nn.functional.prelu(m.ones(3), m.ones(1, dtype=m.float64)), RuntimeError,
                           "prelu: Type promoting not supported. Got Float and Double"),
    # found by the op table's long run (numpy's ValueError / Python's IndexError escaped, or another type)
    "linear_0d_weight": (lambda m: m.nn.functional.linear(m.ones(2, 3), _zero_d(m)), RuntimeError,
                         "both arguments to linear need to be at least 1D"),
    "linear_bias_too_short": (lambda m: m.nn.functional.linear(m.ones(2, 3), m.ones(4, 3), m.ones(0)), RuntimeError,
                              r"The expanded size of the tensor \(4\) must match the existing size \(0\)"),
    "sparse_mm_1d": (lambda m: m.sparse.mm(m.ones(3).to_sparse(), m.ones(3, 2)), IndexError, "Dimension out of range"),
    "mm_1d_dense_sparse": (lambda m: m.mm(m.ones(3), m.ones(3, 2).to_sparse()), IndexError, "Dimension out of range"),
    "mm_3d_dense_sparse": (lambda m: m.mm(m.ones(2, 2, 2), m.ones(2, 2).to_sparse()), RuntimeError,
                           "addmm: matrices expected, got 3D tensor"),
    "sparse_matmul_0d": (lambda m: m.matmul(m.ones(2, 3).to_sparse(), _zero_d(m)), RuntimeError,
                         "both arguments to matmul need to be at least 1D"),
    "sparse_softmax_0d": (lambda m: m.sparse.softmax(_zero_d(m).to_sparse(), 0), IndexError,
                          "Dimension out of range"),
}


@pytest.mark.parametrize("case", sorted(VALUES))
def test_value_and_gradient_as_torch(case):
    results = []
    for m in (torch, tp):
        out = VALUES[case](m)
        results.append((tuple(out.shape), out.detach().double().numpy()))
    assert results[1][0] == results[0][0]
    np.testing.assert_allclose(results[1][1], results[0][1], equal_nan=True)


@pytest.mark.parametrize("case", ["einsum_size1", "einsum_size1_other", "einsum_ellipsis_size1"])
def test_einsum_gradients_of_size1_dims_sum_as_torch(case):
    equation, shapes = {"einsum_size1": ("ij,kj->ik", [(2, 1), (4, 3)]),
                        "einsum_size1_other": ("ij,kj->ik", [(2, 3), (4, 1)]),
                        "einsum_ellipsis_size1": ("...ij,...j", [(2, 2, 1), (2, 3)])}[case]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    grads = []
    for m in (torch, tp):
        xs = [m.tensor(a, requires_grad=True) for a in arrays]
        (m.einsum(equation, *xs) ** 2).sum().backward()
        grads.append([x.grad.numpy() for x in xs])
    for g, e in zip(grads[1], grads[0]):
        np.testing.assert_allclose(g, e, rtol=1e-10)


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_type_and_phrase_as_torch(case):
    call, kind, phrase = ERRORS[case]
    with pytest.raises(kind, match=phrase.replace("+", r"\+")):
        call(torch)
    with pytest.raises(kind, match=phrase.replace("+", r"\+")):
        call(tp)
