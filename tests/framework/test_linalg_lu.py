"""linalg.solve_triangular, lu_factor(_ex), lu, lu_solve, vander, diagonal, cross, multi_dot and
matrix_power (framework/_linalg_lu.py) against torch: values, pivots, gradients (first and second)
under random upstream gradients, batches and broadcasting, errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:torch.* is deprecated:UserWarning")

RNG = np.random.default_rng(0)
A3 = RNG.standard_normal((3, 3))
B32 = RNG.standard_normal((3, 2))
BATCH = RNG.standard_normal((2, 4, 4))


def _same(got, expected, tol=1e-10):
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for g, e in zip(got, expected):
        assert str(g.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        assert tuple(g.shape) == tuple(e.shape)
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=tol, atol=tol, equal_nan=True)


def _both(fn, *arrays, grad=True, second=False):
    results = []
    for m in (tp, torch):
        xs = [m.tensor(a, requires_grad=grad) for a in arrays]
        out = fn(m, *xs)
        grads = []
        if grad:
            first = out[0] if isinstance(out, tuple) else out
            w = m.tensor(np.random.default_rng(1).standard_normal(tuple(first.shape)))
            grads = list(m.autograd.grad((first * w).sum(), xs, create_graph=second, allow_unused=True))
            if second:
                live = [g for g in grads if g is not None]
                grads += list(m.autograd.grad(sum((g * g).sum() for g in live), xs, allow_unused=True))
        results.append((out, grads))
    (out, grads), (out_t, grads_t) = results
    _same(out, out_t)
    for g, g_t in zip(grads, grads_t):
        assert (g is None) == (g_t is None)
        if g is not None:
            _same(g, g_t, tol=1e-8)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular(upper, left, unit):
    b = B32 if left else B32.T
    _both(lambda m, a, x: m.linalg.solve_triangular(a, x, upper=upper, left=left, unitriangular=unit), A3 + 3 *
          np.eye(3), b, second=True)


def test_solve_triangular_broadcasts_batches_and_keeps_torchs_inf():
    _both(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True), BATCH[:, :3, :3] + 3 * np.eye(3), B32)
    _both(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False), np.array([[0.0, 0.0], [1.0, 0.0]]),
          np.ones((2, 1)), grad=False)
    with pytest.raises(TypeError):
        tp.linalg.solve_triangular(tp.eye(2), tp.ones(2, 1))  # upper is required, as torch's


@pytest.mark.parametrize("matrix", [A3, BATCH, RNG.standard_normal((5, 5))], ids=["3x3", "batch", "5x5"])
def test_lu_factor_values_pivots_and_gradients(matrix):
    _both(lambda m, a: m.linalg.lu_factor(a).LU, matrix, second=True)
    _both(lambda m, a: m.linalg.lu_factor(a).pivots, matrix, grad=False)
    _both(lambda m, a: m.linalg.lu_factor_ex(a), matrix, grad=False)


def test_lu_of_square_and_rectangular_matrices():
    for part in range(3):
        _both(lambda m, a: m.linalg.lu(a)[part], A3, grad=part > 0)
        _both(lambda m, a: m.linalg.lu(a)[part], BATCH, grad=part > 0)
    for shape in ((2, 3, 5), (5, 3)):
        _both(lambda m, a: m.linalg.lu(a), RNG.standard_normal(shape), grad=False)


@pytest.mark.parametrize("shape", [(3, 1), (1, 3), (5, 3), (2, 3, 5), (2, 4, 2)])
def test_lu_and_lu_factor_gradients_of_rectangular_matrices(shape):
    # torch's linalg_lu_backward has wide (m < n) and tall (m > n) cases; both differentiate again
    a = RNG.standard_normal(shape)
    _both(lambda m, x: m.cat([f.flatten(-2) for f in m.linalg.lu(x)[1:]], -1), a, second=True)
    _both(lambda m, x: m.linalg.lu_factor(x).LU, a, second=True)


def test_lu_of_empty_matrices():
    for shape in ((2, 0, 3), (3, 0), (0, 0)):
        _both(lambda m, x: m.cat([f.flatten(-2) for f in m.linalg.lu(x)[1:]], -1), np.zeros(shape))


def test_lu_of_a_singular_matrix():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    _both(lambda m, a: m.linalg.lu(a), singular, grad=False)
    _both(lambda m, a: m.linalg.lu_factor_ex(a), np.zeros((2, 2, 2)), grad=False)
    with pytest.raises(RuntimeError, match=r"U\[2,2\] is zero and using it on lu_solve would result in a division"):
        tp.linalg.lu_factor(tp.tensor(singular))
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): U\[1,1\] is zero"):
        tp.linalg.lu_factor(tp.tensor(np.stack([np.eye(2), np.zeros((2, 2))])))


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve(left, adjoint):
    b = B32 if left else B32.T
    _both(lambda m, a, x: m.linalg.lu_solve(*m.linalg.lu_factor(a), x, left=left, adjoint=adjoint), A3, b)
    _both(lambda m, a, x: m.linalg.lu_solve(*m.linalg.lu_factor(a), x, left=left, adjoint=adjoint),
          BATCH, RNG.standard_normal((2, 4, 4)))


def test_vander_diagonal_and_the_rest_of_the_namespace():
    _both(lambda m, x: m.linalg.vander(x), RNG.standard_normal((2, 3)))
    _both(lambda m, x: m.linalg.vander(x, N=5), RNG.standard_normal(4))
    _both(lambda m, x: m.linalg.vander(x), np.array([1, 2, 3]), grad=False)
    with pytest.raises(RuntimeError, match="N must be greater than 1"):
        tp.linalg.vander(tp.tensor(2.0))
    _both(lambda m, x: m.linalg.vander(x, N=3), np.array(2.0))  # a 0-d x is one row: (1, 3)
    _both(lambda m, x: m.linalg.vander(x.to(m.int32)), np.array([1.0, 2.0, 3.0]), grad=False)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "bool"])
def test_vander_refuses_half_bfloat16_and_bool_as_torch(dtype):
    phrase = "linalg.vander supports floating point, complex, and integer tensors, but got"
    for m in (tp, torch):
        with pytest.raises(RuntimeError, match=phrase):
            m.linalg.vander(m.ones(3, dtype=getattr(m, dtype)))
    _both(lambda m, x: m.linalg.diagonal(x, offset=-1), RNG.standard_normal((2, 3, 4)))
    _both(lambda m, x: m.linalg.diagonal(x, dim1=0, dim2=2), RNG.standard_normal((3, 2, 3)))
    _both(lambda m, a, b: m.linalg.cross(a, b, dim=0), RNG.standard_normal((3, 2)), RNG.standard_normal((3, 1)))
    _both(lambda m, a, b: m.linalg.multi_dot([a, b]), RNG.standard_normal(3), RNG.standard_normal(3))
    _both(lambda m, a: m.linalg.matrix_power(a, 5), A3 / 2)


@pytest.mark.parametrize("call, phrase", [
    (lambda m, lu, piv: m.linalg.lu_solve(*m.linalg.lu_factor(m.ones(3, 1)), m.ones(3, 2)),
     "torch.linalg.lu_solve: A must be batches of square matrices, but they are 3 by 1 matrices"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv, m.ones(2, 2)),
     "Incompatible shapes of A and B for the equation AX = B (3x3 and 2x2)"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv, m.ones(2, 2), left=False),
     "Incompatible shapes of A and B for the equation XA = B (3x3 and 2x2)"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv, m.ones(3)), "The input tensor B must have at least 2 dimensions"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu[0], piv, m.ones(3, 2)), "The input tensor A must have at least 2 dim"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv[:2], m.ones(3, 2)), "Number of pivots per batch should be same"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv.long(), m.ones(3, 2)), "pivots should be a Tensor of scalar type"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu, piv, m.ones(3, 2, dtype=m.float64)),
     "Expected LU and B to have the same dtype, but found LU of type Float and B of type Double instead"),
    (lambda m, lu, piv: m.linalg.lu_solve(lu.expand(2, 3, 3), piv, m.ones(3, 2)),
     "Expected LU.shape[:-1] and pivots.shape to be the same, but got pivots with shape [3] instead"),
])
def test_lu_solve_checks_its_arguments_as_torch(call, phrase):
    # (a non-square LU used to fail with numpy's IndexError)
    for m in (tp, torch):
        lu, piv = m.linalg.lu_factor(m.tensor(A3 + 3 * np.eye(3), dtype=m.float32))
        with pytest.raises(RuntimeError, match=re.escape(phrase)):
            call(m, lu, piv)


# the rest of torch.linalg's argument checks (framework/linalg.py): never numpy's error, torch's type and words
@pytest.mark.parametrize("call, error, phrase", [
    (lambda m: m.linalg.inv(m.ones(3, 3, dtype=m.float16)), RuntimeError,
     "linalg.inv: Low precision dtypes not supported. Got Half"),
    (lambda m: m.linalg.slogdet(m.ones(3, 3, dtype=m.bfloat16)), RuntimeError,
     "linalg.slogdet: Low precision dtypes not supported. Got BFloat16"),
    (lambda m: m.linalg.svdvals(m.ones(4, 3, dtype=m.float16)), NotImplementedError,
     "\"linalg_svd_cpu\" not implemented for 'Half'"),
    (lambda m: m.linalg.pinv(m.ones(4, 3, dtype=m.float16)), RuntimeError,
     "linalg.pinv(Half{[4, 3]}): expected a tensor with 2 or more dimensions of float, double"),
    (lambda m: m.linalg.solve(m.eye(3, dtype=m.float64).expand(2, 3, 3), m.ones(2, 1, 2, dtype=m.float64)),
     RuntimeError, "linalg.solve: Incompatible shapes of A and B for the equation AX = B (3x3 and 1x2)"),
    (lambda m: m.linalg.solve(m.eye(3), m.ones(())), RuntimeError,
     "linalg.solve: The input tensor B must have at least 2 dimensions."),
    (lambda m: m.linalg.matrix_power(m.ones(()), 2), RuntimeError,
     "linalg.matrix_power: The input tensor A must have at least 2 dimensions."),
    (lambda m: m.linalg.svdvals(m.tensor([[[1.0, 2.0]], [[float("nan"), 1.0]]])), RuntimeError,
     "linalg.svd: (Batch element 1): The algorithm failed to converge because the input matrix contained "
     "non-finite values."),
    (lambda m: m.linalg.matrix_norm(m.tensor([[1.0, float("nan")], [0.0, 1.0]]), "nuc"), RuntimeError,
     "linalg.svd: The algorithm failed to converge because the input matrix contained non-finite values."),
])
def test_linalg_errors_match_torch(call, error, phrase):
    for m in (tp, torch):
        with pytest.raises(error, match=re.escape(phrase)):
            call(m)


def test_det_of_no_half_matrices_is_empty_as_torch():
    _both(lambda m, a: m.linalg.det(a.to(m.float16)), np.zeros((0, 3, 3)), grad=False)


_SPECIAL_POWER_INPUT = np.array([
    [[-np.inf, -0.13210486, np.nan], [np.nan, -0.53566937, 0.36159505], [1.30400005, 0.94708096, -0.70373524]],
    [[-1.26542147, -0.62327446, 0.04132598], [-2.32503077, -0.21879166, -np.inf],
     [-0.73226735, -0.54425898, -0.31630016]]])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, -3])
def test_matrix_power_of_inf_nan_multiplies_in_torchs_order(n):
    """ATen's products: A^3 = (A A) A (its fast path), others by binary exponentiation; the order decides
    where inf / nan inputs give inf or NaN (A (A A) put a NaN where torch has -inf)."""
    a = _SPECIAL_POWER_INPUT if n > 0 else np.tril(np.abs(_SPECIAL_POWER_INPUT[1]) + 2.0)
    _both(lambda m, x: m.linalg.matrix_power(x, n), a)


def test_matrix_power_1_is_a_copy():
    x = tp.ones(2, 2)
    y = tp.linalg.matrix_power(x, 1)
    y.add_(1)
    assert x.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# torch's older top-level functions: lu_unpack, lu (and Tensor.lu), lu_solve, triangular_solve, cholesky_solve

def _packed(shape, seed=0):
    """torch's lu_factor of a random matrix: (LU, pivots) as arrays."""
    LU, pivots = torch.linalg.lu_factor(torch.tensor(np.random.default_rng(seed).standard_normal(shape)))
    return LU.numpy(), pivots.numpy()


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4), (2, 4, 4), (2, 3, 5), (2, 5, 3), (1, 1)])
@pytest.mark.parametrize("unpack_data,unpack_pivots", [(True, True), (False, True), (True, False), (False, False)])
def test_lu_unpack_values_and_gradients_as_torch(shape, unpack_data, unpack_pivots):
    lu, pivots = _packed(shape, seed=len(shape) + shape[-1])
    results = []
    for m in (tp, torch):
        LU = m.tensor(lu, requires_grad=True)
        P, L, U = m.lu_unpack(LU_data=LU, LU_pivots=m.tensor(pivots), unpack_data=unpack_data,
                              unpack_pivots=unpack_pivots)
        grad = None
        if unpack_data:
            w = np.random.default_rng(1)
            total = (L * m.tensor(w.standard_normal(tuple(L.shape)))).sum() + (
                U * m.tensor(w.standard_normal(tuple(U.shape)))).sum()
            grad, = m.autograd.grad(total, LU)
        results.append(((P, L, U), grad))
    _same(results[0][0], results[1][0])
    if unpack_data:
        _same(results[0][1], results[1][1])


def test_lu_unpack_rebuilds_the_matrix_and_takes_positional_flags():
    A = tp.tensor(BATCH)
    P, L, U = tp.lu_unpack(*tp.linalg.lu_factor(A))
    np.testing.assert_allclose((P @ L @ U).numpy(), BATCH, atol=1e-12)
    P, L, U = tp.lu_unpack(*tp.linalg.lu_factor(A), False, True)
    assert tuple(L.shape) == tuple(U.shape) == (0,) and tuple(P.shape) == (2, 4, 4)


@pytest.mark.parametrize("call", ["lu_unpack(LU, pivots.long())", "lu_unpack(LU[0], pivots)"])
def test_lu_unpack_errors_as_torch(call):
    messages = []
    for m in (tp, torch):
        LU, pivots = m.linalg.lu_factor(m.tensor(A3))
        with pytest.raises(RuntimeError) as info:
            eval("m." + call, {"m": m, "LU": LU, "pivots": pivots})
        messages.append(str(info.value).splitlines()[0])
    assert messages[0] == messages[1]


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (4, 3), (3, 5)])
def test_lu_old_function_and_method_as_torch(shape):
    a = np.random.default_rng(shape[-1]).standard_normal(shape)
    with pytest.warns(UserWarning, match="torch.lu is deprecated"):
        _both(lambda m, x: m.lu(x), a, second=True)
        _both(lambda m, x: tuple(x.lu(pivot=True, get_infos=True)), a)
        _both(lambda m, x: tuple(m.lu(A=x, get_infos=True)), a)


def test_lu_old_reports_a_singular_matrix_in_info_only():
    a = np.stack([A3, np.zeros((3, 3))])
    with pytest.warns(UserWarning):
        LU, pivots = tp.lu(tp.tensor(a))  # no error, as torch's
        _, _, info = tp.lu(tp.tensor(a), get_infos=True)
    _, _, info_t = torch.lu(torch.tensor(a), get_infos=True)
    assert info.tolist() == info_t.tolist() == [0, 1]


@pytest.mark.parametrize("batch", [(), (2,)])
def test_lu_solve_old_argument_order_as_torch(batch):
    a = np.random.default_rng(3).standard_normal(batch + (3, 3))
    b = np.random.default_rng(4).standard_normal(batch + (3, 2))

    def fn(m, A, B):
        LU, pivots = m.linalg.lu_factor(A)
        return m.lu_solve(B, LU_data=LU, LU_pivots=pivots), B.lu_solve(LU, pivots)
    _both(fn, a, b)


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_triangular_solve_old_as_torch(upper, transpose, unit):
    a = A3 + 3 * np.eye(3)
    _both(lambda m, A, B: tuple(m.triangular_solve(B, A, upper=upper, transpose=transpose, unitriangular=unit)),
          a, B32)
    _both(lambda m, A, B: tuple(B.triangular_solve(A, upper, transpose, unit)), a, B32)


@pytest.mark.parametrize("upper", [True, False])
def test_cholesky_solve_old_as_torch(upper):
    spd = A3 @ A3.T + 3 * np.eye(3)

    def fn(m, S, B):
        factor = m.linalg.cholesky(S, upper=upper)
        return m.cholesky_solve(B, factor, upper=upper), B.cholesky_solve(input2=factor, upper=upper)
    _both(fn, spd, B32)


def test_svd_old_without_uv_is_zeros_as_torch():
    a = RNG.standard_normal((2, 4, 3))
    _both(lambda m, x: tuple(m.svd(x, compute_uv=False)), a, grad=False)
