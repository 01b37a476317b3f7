"""tensorplug.linalg solvers and decompositions against torch.linalg: values, gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from torch_compare import outputs_and_grads

torch = pytest.importorskip("torch")

R = np.random.default_rng(1)
A = R.standard_normal((3, 3))
SPD = A @ A.T + 3 * np.eye(3)
B = R.standard_normal((3, 2))
TALL = R.standard_normal((4, 3))
BATCH = R.standard_normal((2, 3, 3))


CASES = {
    "inv": (lambda m, a: m.linalg.inv(a), [A]),
    "inv_batch": (lambda m, a: m.linalg.inv(a), [BATCH]),
    "det": (lambda m, a: m.linalg.det(a), [BATCH]),
    "slogdet": (lambda m, a: m.linalg.slogdet(a), [A]),
    "solve": (lambda m, a, b: m.linalg.solve(a, b), [A, B]),
    "solve_vector": (lambda m, a, b: m.linalg.solve(a, b), [A, B[:, 0]]),
    "solve_right": (lambda m, a, b: m.linalg.solve(a, b, left=False), [A, B.T]),
    "cholesky": (lambda m, a: m.linalg.cholesky(a), [SPD]),
    "cholesky_upper": (lambda m, a: m.linalg.cholesky(a, upper=True), [SPD]),
    "eigvalsh": (lambda m, a: m.linalg.eigvalsh(a), [SPD]),
    # eigenvector and singular vector signs are arbitrary: compare magnitudes
    "eigh": (lambda m, a: tuple(x.abs() for x in m.linalg.eigh(a)), [SPD]),
    "eigh_upper": (lambda m, a: m.linalg.eigh(a, UPLO="U").eigenvalues, [A]),
    "qr": (lambda m, a: m.linalg.qr(a), [TALL]),
    "svdvals": (lambda m, a: m.linalg.svdvals(a), [TALL]),
    "svd": (lambda m, a: tuple(x.abs() for x in m.linalg.svd(a, full_matrices=False)), [TALL]),
    "svd_wide": (lambda m, a: tuple(x.abs() for x in m.linalg.svd(a, full_matrices=False)), [TALL.T.copy()]),
    "pinv": (lambda m, a: m.linalg.pinv(a), [TALL]),
    "lstsq": (lambda m, a, b: m.linalg.lstsq(a, b).solution, [TALL, R.standard_normal((4, 2))]),
    "matrix_exp": (lambda m, a: m.linalg.matrix_exp(a), [A]),
    "matrix_exp_large": (lambda m, a: m.linalg.matrix_exp(a), [5 * BATCH]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name):
    fn, arrays = CASES[name]
    ours, theirs = outputs_and_grads(tensorplug, fn, arrays), outputs_and_grads(torch, fn, arrays)
    for got, expected in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_inverse_gradient_of_gradient_matches_torch():
    results = []
    for lib in (tensorplug, torch):
        a = lib.tensor(A, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.inv(a).sum(), a, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), a)
        results.append(gg.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-9)


def test_values_on_every_backend(backend):
    a = tensorplug.tensor(SPD, device=backend)
    np.testing.assert_allclose(tensorplug.linalg.inv(a).cpu().numpy(), np.linalg.inv(SPD), rtol=1e-10)
    np.testing.assert_allclose(tensorplug.linalg.det(a).item(), np.linalg.det(SPD), rtol=1e-10)
    np.testing.assert_allclose(tensorplug.linalg.cholesky(a).cpu().numpy(), np.linalg.cholesky(SPD), rtol=1e-10)


def test_errors_match_torch():
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="linalg.inv: The diagonal element 1 is zero"):
            lib.linalg.inv(lib.zeros(2, 2))
        with pytest.raises(RuntimeError, match="linalg.cholesky: The factorization could not be completed because "
                                               "the input is not positive-definite"):
            lib.linalg.cholesky(-lib.eye(2))
        with pytest.raises(RuntimeError, match="linalg.solve: The solver failed because the input matrix is "
                                               "singular"):
            lib.linalg.solve(lib.zeros(2, 2), lib.ones(2))
        with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3"):
            lib.linalg.inv(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="linalg.det: The input tensor A must have at least 2 dimensions"):
            lib.linalg.det(lib.ones(3))
    assert issubclass(tensorplug.linalg.LinAlgError, RuntimeError)


def test_older_top_level_spellings_match_torch():
    import warnings
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    negative = np.array([[-2.0, 0.0], [0.0, 1.0]])
    results = []
    for lib in (tensorplug, torch):
        x = lib.tensor(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.cholesky / torch.svd are deprecated in torch
            results.append([lib.logdet(x).item(), lib.det(x).item(), x.inverse().tolist(), x.logdet().item(),
                            lib.pinverse(x).tolist(), lib.cholesky(x).tolist(), lib.slogdet(x).logabsdet.item(),
                            lib.svd(lib.tensor(TALL)).V.abs().tolist(), lib.qr(lib.tensor(TALL)).R.abs().tolist(),
                            tuple(lib.svd(lib.tensor(TALL), some=False).U.shape)])
        assert np.isnan(lib.logdet(lib.tensor(negative)).item())
    np.testing.assert_allclose(np.array(results[0][0:2]), np.array(results[1][0:2]), rtol=1e-12)
    for got, expected in zip(results[0][2:], results[1][2:]):
        np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-9, atol=1e-12)


def test_lstsq_fields_match_torch():
    a, b = TALL, R.standard_normal((4, 2))
    for driver in (None, "gelsd"):
        ours = tensorplug.linalg.lstsq(tensorplug.tensor(a), tensorplug.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        assert ours.rank.item() == theirs.rank.item()
        # residuals: empty for gelsy (the default), each column's squared residual for gelsd on a tall full-rank A
        np.testing.assert_allclose(ours.residuals.numpy(), theirs.residuals.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.singular_values.numpy(), theirs.singular_values.numpy(), rtol=1e-10)


# every matrix function refuses a 0-d or 1-D input with torch's message (numpy's AxisError leaked before)
LESS_THAN_2D = {
    "inv": lambda m, a: m.linalg.inv(a), "det": lambda m, a: m.linalg.det(a),
    "slogdet": lambda m, a: m.linalg.slogdet(a), "cholesky": lambda m, a: m.linalg.cholesky(a),
    "qr": lambda m, a: m.linalg.qr(a), "eigh": lambda m, a: m.linalg.eigh(a),
    "eigvalsh": lambda m, a: m.linalg.eigvalsh(a), "svd": lambda m, a: m.linalg.svd(a),
    "svd_reduced": lambda m, a: m.linalg.svd(a, full_matrices=False), "svdvals": lambda m, a: m.linalg.svdvals(a),
    "pinv": lambda m, a: m.linalg.pinv(a), "lstsq": lambda m, a: m.linalg.lstsq(a, a),
    "matrix_exp": lambda m, a: m.linalg.matrix_exp(a), "matrix_norm": lambda m, a: m.linalg.matrix_norm(a),
    "matrix_norm_nuc": lambda m, a: m.linalg.matrix_norm(a, "nuc"), "cond": lambda m, a: m.linalg.cond(a),
    "cond_1": lambda m, a: m.linalg.cond(a, 1), "cond_fro": lambda m, a: m.linalg.cond(a, "fro"),
    "solve": lambda m, a: m.linalg.solve(a, a), "matrix_rank": lambda m, a: m.linalg.matrix_rank(a),
    "logdet": lambda m, a: m.logdet(a), "inv_ex": lambda m, a: m.linalg.inv_ex(a),
    "cholesky_ex": lambda m, a: m.linalg.cholesky_ex(a), "matrix_power": lambda m, a: m.linalg.matrix_power(a, 2),
}


@pytest.mark.parametrize("shape", [(3,), ()], ids=str)
@pytest.mark.parametrize("name", sorted(LESS_THAN_2D))
def test_less_than_2d_input_raises_torchs_error(name, shape):
    call = LESS_THAN_2D[name]
    with pytest.raises(RuntimeError) as theirs:
        call(torch, torch.ones(shape, dtype=torch.float64))
    with pytest.raises(RuntimeError) as ours:
        call(tensorplug, tensorplug.ones(shape, dtype=tensorplug.float64))
    assert type(ours.value) is RuntimeError and str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((0, 3), (0, 2)), ((4, 0), (4, 2)), ((0, 0), (0, 2)), ((2, 0, 3), (2, 0, 2)), ((0, 4, 3), (0, 4, 2)),
    ((4, 3), (2, 4, 2)), ((4, 3), (3,)), ((4, 3), ()), ((4, 3), (5, 2)), ((4, 3), (4, 2, 1)), ((2, 4, 3), (2, 4)),
    ((0, 0, 0), (0, 2)), ((1, 2, 0), (4, 2)),
], ids=str)
def test_lstsq_of_empty_and_mismatched_shapes_matches_torch(a_shape, b_shape):
    """Empty operands give torch's empty or zero solution (amax of no singular values raised IndexError),
    mismatched ones torch's RuntimeError."""
    results = []
    for lib in (torch, tensorplug):
        a = lib.ones(a_shape, dtype=lib.float64, requires_grad=True)
        b = lib.ones(b_shape, dtype=lib.float64, requires_grad=True)
        try:
            solution = lib.linalg.lstsq(a, b).solution
        except RuntimeError as exc:
            results.append(str(exc))
            continue
        solution.sum().backward()
        results.append([x.detach().numpy().round(9).tolist() for x in (solution, a.grad, b.grad)])
    assert results[0] == results[1]


_NAN, _INF = float("nan"), float("inf")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("matrix", [
    [[_NAN, 0], [0, 1]], [[1, 0], [_NAN, 1]], [[1, _NAN], [_NAN, 1]], [[_INF, 0], [0, 1]], [[_INF, 0], [_INF, 1]],
    [[1, 0], [_INF, 1]], [[-_INF, 0], [0, 1]], [[4, 0], [0, _INF]], [[1, 2], [2, 1]],
    [[_INF, 0.1, 0], [0.1, _INF, 0], [0, 0, 1]], [[4, 0, 0], [0, _INF, 0], [0, 0, 1]],
], ids=str)
def test_cholesky_of_non_finite_input_fails_as_torch(matrix, dtype):
    """torch raises LinAlgError naming the failing leading minor where LAPACK's potrf meets a pivot that is
    not positive (NaN included) and returns inf factors otherwise; we returned NaN factors. The second
    matrix of the batch is the one named."""
    results = []
    for lib in (torch, tensorplug):
        dt = getattr(lib, dtype)
        batch = lib.stack([lib.eye(len(matrix), dtype=dt), lib.tensor(matrix, dtype=dt)])
        for a in (batch[1], batch):
            try:
                results.append(lib.linalg.cholesky(a).double().numpy().tolist())
            except RuntimeError as exc:
                results.append((type(exc).__name__.strip("_"), str(exc)))
    assert results[:2] == results[2:]


@pytest.mark.parametrize("call", [
    lambda m, a: m.linalg.cholesky(a), lambda m, a: m.linalg.eigh(a).eigenvectors, lambda m, a: m.linalg.eigvalsh(a),
    lambda m, a: m.linalg.svd(a).U, lambda m, a: m.linalg.svd(a, full_matrices=False).Vh,
    lambda m, a: m.linalg.svdvals(a), lambda m, a: m.linalg.solve(a, a), lambda m, a: m.linalg.det(a),
])
@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0)], ids=str)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_no_half_matrices_give_torchs_empty_result(call, shape, dtype):
    """torch runs no LAPACK kernel for empty half / bfloat16 input: an empty result, not NotImplementedError."""
    ours, theirs = (call(lib, lib.zeros(shape, dtype=getattr(lib, dtype))) for lib in (tensorplug, torch))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype.name == str(theirs.dtype).split(".")[-1]


def test_matrix_rank_refuses_half_as_torch():
    for lib in (torch, tensorplug):
        with pytest.raises(RuntimeError, match="This function doesn't handle types other than float and double"):
            lib.linalg.matrix_rank(lib.ones(3, 3, dtype=lib.float16))


_SPECIAL_DETS = [
    [[-_INF, -0.47221594], [-1.00480101, -0.69996654]], [[0.36456734, -_INF], [0.7342476, 1.36737863]],
    [[[-_INF, -0.13210486, _NAN], [_NAN, -0.53566937, 0.36159505], [1.30400005, 0.94708096, -0.70373524]],
     [[-1.26542147, -0.62327446, 0.04132598], [-2.32503077, -0.21879166, -_INF],
      [-0.73226735, -0.54425898, -0.31630016]]],
    [[1.0, 2.0], [2.0, 4.0]], [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]], [[_INF]], [[[_NAN]], [[2.0]]],
]


@pytest.mark.parametrize("matrix", _SPECIAL_DETS, ids=str)
def test_det_of_non_finite_or_singular_input_matches_torch(matrix):
    """torch's det is getrf of A^T (the pivots' sign times U's diagonal) and its gradient a getrs with those
    factors, zero pivots moved to eps: with inf / nan the elimination order decides between inf and NaN
    (numpy's det and the inverse gave NaN everywhere), and a singular matrix has a gradient (inv raised)."""
    _same_value_and_gradient(lambda lib, a: lib.linalg.det(a), matrix)


def _same_value_and_gradient(fn, matrix):
    """``fn(lib, A)`` and A's gradient under a weighted sum, tensorplug against torch, to 1e-12."""
    results = []
    for lib in (torch, tensorplug):
        a = lib.tensor(matrix, dtype=lib.float64, requires_grad=True)
        y = fn(lib, a)
        (y * (lib.arange(y.numel(), dtype=lib.float64).reshape(y.shape) + 1)).sum().backward()
        results.append([y.detach().numpy(), a.grad.numpy()])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_lu_solve_permutes_rows_without_spreading_inf():
    """lu_solve applied the pivots as a product with P: 0 * inf put NaN into every other row."""
    results = []
    for lib in (torch, tensorplug):
        LU, pivots = lib.linalg.lu_factor(lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64))
        results.append(lib.linalg.lu_solve(LU, pivots, lib.tensor([[_INF, 1.0], [0.0, 1.0]], dtype=lib.float64),
                                           adjoint=False).numpy())
        results.append(lib.linalg.lu_solve(LU, pivots, lib.tensor([[_INF, 1.0], [0.0, 1.0]], dtype=lib.float64),
                                           adjoint=True).numpy())
    np.testing.assert_allclose(results[2], results[0])
    np.testing.assert_allclose(results[3], results[1])


@pytest.mark.parametrize("shape", [(2, 1, 3), (3, 5), (2, 6), (2, 4, 3), (3, 3)], ids=str)
@pytest.mark.parametrize("used", ["Q", "R", "QR"])
def test_qr_gradient_of_wide_and_tall_input_matches_torch(shape, used):
    """A wide input (rows < columns) has torch's gradient: A = [X | Y], R = [U | V]; the backward solved with
    the non-square R before."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape)
    k = min(shape[-2:])
    wq, wr = rng.standard_normal(shape[:-1] + (k,)), rng.standard_normal(shape[:-2] + (k, shape[-1]))
    grads = []
    for lib in (torch, tensorplug):
        x = lib.tensor(a, requires_grad=True)
        q, r = lib.linalg.qr(x)
        terms = {"Q": (q * lib.tensor(wq)).sum(), "R": (r * lib.tensor(wr)).sum()}
        sum(terms[name] for name in used).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_matrix_exp_of_half_is_the_float32_result_rounded(dtype):
    """torch's half / bfloat16 matrix_exp overflows its polynomial's constants (-21072 for 0.3 I), so the
    reference is torch's float32 result of the same half input, rounded once; 18 Taylor terms in half drifted
    from it by several ulps."""
    a = np.random.default_rng(5).uniform(-0.9, 0.9, (4, 3, 3))
    a_half = torch.tensor(a).to(getattr(torch, dtype))
    expected = torch.linalg.matrix_exp(a_half.float()).to(a_half.dtype)
    got = tensorplug.linalg.matrix_exp(tensorplug.tensor(a).to(getattr(tensorplug, dtype)))
    assert got.dtype.name == dtype
    np.testing.assert_allclose(got.float().numpy(), expected.float().numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("matrix", [
    [[_INF]], [[-_INF]], [[_NAN]], [[0.7]], [[0.1, _NAN], [0.2, 0.3]], [[-_INF, 0.0], [0.0, 0.3]],
    [[[0.1, _INF], [0.2, 0.3]], [[0.1, 0.2], [0.3, 0.4]]], [[[[_NAN, 0.0], [0.0, 0.3]], [[0.1, 0.2], [0.3, 0.4]]]],
], ids=str)
def test_matrix_exp_of_non_finite_input_matches_torch(matrix):
    """torch: exp of a 1x1 matrix's entry (its gradient NaN for inf / nan), NaN values and gradients for a
    larger matrix holding inf / nan, the batch's other matrices unaffected; an inf raised OverflowError in
    the scaling's log2 before."""
    _same_value_and_gradient(lambda lib, a: lib.linalg.matrix_exp(a), matrix)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("b_shape", [(2, 3, 2), (3,), (1, 3, 2)], ids=str)
def test_solve_of_non_finite_input_matches_torch(b_shape, seed):
    """torch's solve is getrf of A and getrs, its B gradient getrs with the adjoint and the same factors:
    with inf / nan the order of those steps decides where a value is inf, NaN or finite (numpy's solve left
    finite entries where torch has NaN)."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 3, 3)), rng.standard_normal(b_shape)
    a, b = (np.where(rng.random(x.shape) < 0.25, rng.choice([_INF, -_INF, _NAN], x.shape), x) for x in (a, b))
    results = []
    for lib in (torch, tensorplug):
        A, B = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        X = lib.linalg.solve(A, B)
        (X * (lib.arange(X.numel(), dtype=lib.float64).reshape(X.shape) % 3 + 1)).sum().backward()
        results.append([X.detach().numpy(), A.grad.numpy(), B.grad.numpy()])
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("matrix", [[[0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 2.0]], [[1.0, 2.0], [0.0, 0.0]]],
                         ids=str)
def test_qr_gradient_with_a_zero_on_rs_diagonal_matches_torch(matrix):
    """torch's backward solves with R^T as a triangular matrix: a zero on R's diagonal gives inf / nan; the
    general solve raised its singular-matrix error."""
    grads = []
    for lib in (torch, tensorplug):
        x = lib.tensor(matrix, dtype=lib.float64, requires_grad=True)
        q, r = lib.linalg.qr(x)
        (1.5 * q.sum() + 2 * r.sum()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


def test_cholesky_ex_reports_failures_in_info_as_torch():
    # it raised on the first matrix that is not positive-definite; torch returns info per matrix
    results = []
    for lib in (tensorplug, torch):
        a = lib.stack([lib.eye(2), -lib.eye(2), lib.tensor([[1.0, 2.0], [2.0, 1.0]]),
                       lib.tensor([[4.0, 2.0], [2.0, 3.0]])]).double().requires_grad_()
        L, info = lib.linalg.cholesky_ex(a)
        (L[0].sum() + L[3].sum()).backward()
        results.append((info.tolist(), L[3].detach().numpy(), a.grad.numpy()))
        with pytest.raises(RuntimeError, match="The factorization could not be completed"):
            lib.linalg.cholesky_ex(-lib.eye(2), check_errors=True)
    (info, l3, grad), (info_t, l3_t, grad_t) = results
    assert info == info_t == [0, 1, 2, 0]
    np.testing.assert_allclose(l3, l3_t, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-12)
