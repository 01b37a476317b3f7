"""Silent differences from torch found by a differential sweep of torch.linalg / torch.fft (and the old
top-level names): complex norms and vecdot, complex SVD's dtypes and torch.svd's V, complex gradients of
solve_triangular / lu_solve / lu_factor and LU's pivots, lstsq's residuals, logdet's gradient where the
determinant is negative, fftfreq(0) and the half-spectrum transforms over no dims."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from torch_compare import assert_same_as_torch, assert_same_error

torch = pytest.importorskip("torch")

R = np.random.default_rng(11)
CPLX = R.standard_normal((4, 3)) + 1j * R.standard_normal((4, 3))
CSQUARE = R.standard_normal((3, 3)) + 1j * R.standard_normal((3, 3))
CUPPER = np.triu(CSQUARE) + 3 * np.eye(3)
CRHS = R.standard_normal((3, 2)) + 1j * R.standard_normal((3, 2))
TALL = R.standard_normal((5, 3))


def _real(m, z):
    return m.view_as_real(z.resolve_conj())


NORMS = {
    "vector_norm": lambda m, x: m.linalg.vector_norm(x),
    "vector_norm_p3_dim": lambda m, x: m.linalg.vector_norm(x, 3, dim=-1, keepdim=True),
    "vector_norm_p0": lambda m, x: m.linalg.vector_norm(x, 0) + x.abs().sum(),  # its own gradient is None
    "vector_norm_inf": lambda m, x: m.linalg.vector_norm(x, float("inf"), dim=0),
    "linalg_norm": lambda m, x: m.linalg.norm(x),
    "linalg_norm_dim": lambda m, x: m.linalg.norm(x, dim=1),
    "dtype": lambda m, x: m.linalg.vector_norm(x.to(m.complex64), dtype=m.complex128),
}


@pytest.mark.parametrize("name", NORMS)
def test_norms_of_complex_input_are_real(name):
    # they were complex numbers (sqrt(sum(z * z)), not sqrt(sum(|z|^2))): 0.80-1.87j for a norm of 4.08
    assert_same_as_torch(NORMS[name], [CPLX], tol=1e-6 if name == "dtype" else 1e-10)


def test_norm_refuses_a_real_dtype_for_complex_input():
    assert_same_error(lambda m: m.linalg.vector_norm(m.tensor(CPLX), dtype=m.float64))


def test_vecdot_conjugates_its_first_argument():
    assert_same_as_torch(lambda m, x, y: _real(m, m.linalg.vecdot(x, y)), [CPLX, CPLX[::-1].copy()])


@pytest.mark.parametrize("full", [True, False])
def test_complex_svd_singular_values_are_real(full):
    ours = tensorplug.linalg.svd(tensorplug.tensor(CPLX), full_matrices=full)
    theirs = torch.linalg.svd(torch.tensor(CPLX), full_matrices=full)
    for got, want in zip(ours, theirs):
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1] and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(ours.S.numpy(), theirs.S.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tensorplug.linalg.svdvals(tensorplug.tensor(CPLX)).numpy(),
                               torch.linalg.svdvals(torch.tensor(CPLX)).numpy(), rtol=1e-12)


def test_old_svd_v_is_the_conjugate_transpose_of_vh():
    u, s, v = tensorplug.svd(tensorplug.tensor(CPLX))
    rebuilt = u.numpy() @ np.diag(s.numpy()) @ v.numpy().conj().T
    np.testing.assert_allclose(rebuilt, CPLX, atol=1e-12)


@pytest.mark.parametrize("call", [lambda m, a: m.linalg.svd(a), lambda m, a: m.linalg.qr(a)])
def test_complex_svd_and_qr_refuse_gradients_rather_than_give_wrong_ones(call):
    with pytest.raises(NotImplementedError, match="complex"):
        call(tensorplug, tensorplug.tensor(CPLX, requires_grad=True))


def test_svd_singular_values_of_a_non_square_matrix_differentiate_with_full_matrices():
    assert_same_as_torch(lambda m, a: m.linalg.svd(a).S, [TALL])
    assert_same_as_torch(lambda m, a: m.linalg.svd(a)[0][:, :3].abs(), [TALL])


COMPLEX_SOLVES = {
    "solve_triangular": (lambda m, a, b: _real(m, m.linalg.solve_triangular(a, b, upper=True)), [CUPPER, CRHS]),
    "solve_triangular_right": (lambda m, a, b: _real(m, m.linalg.solve_triangular(a, b.mT, upper=False,
                                                                                  left=False)), [CUPPER.T, CRHS]),
    "lu_solve": (lambda m, a, b: _real(m, m.linalg.lu_solve(*m.linalg.lu_factor(a), b)), [CSQUARE, CRHS]),
    "lu_solve_adjoint": (lambda m, a, b: _real(m, m.linalg.lu_solve(*m.linalg.lu_factor(a), b, adjoint=True)),
                         [CSQUARE, CRHS]),
    "lu_factor": (lambda m, a: _real(m, m.linalg.lu_factor(a).LU), [CSQUARE]),
}


@pytest.mark.parametrize("name", COMPLEX_SOLVES)
def test_complex_triangular_and_lu_gradients(name):
    # the gradients were the transpose's, not the conjugate transpose's (B's gradient too)
    fn, arrays = COMPLEX_SOLVES[name]
    assert_same_as_torch(fn, arrays)


def test_complex_lu_pivots_as_lapack():
    # getrf picks the pivot of largest |re| + |im|, not of largest |z|
    a = np.array([[0.9 + 0.9j, 1], [1.2 + 0.0j, 2]])
    ours = tensorplug.linalg.lu_factor(tensorplug.tensor(a))
    theirs = torch.linalg.lu_factor(torch.tensor(a))
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy(), rtol=1e-12)


@pytest.mark.parametrize("driver", ["gels", "gelsd", "gelss", "gelsy", None])
@pytest.mark.parametrize("shapes", [((5, 3), (5, 2)), ((5, 3), (5,)), ((2, 5, 3), (2, 5, 2)), ((0, 5, 3), (0, 5, 2)),
                                    ((3, 5), (3, 2))])
def test_lstsq_residuals(driver, shapes):
    a, b = R.standard_normal(shapes[0]), R.standard_normal(shapes[1])
    ours = tensorplug.linalg.lstsq(tensorplug.tensor(a), tensorplug.tensor(b), driver=driver).residuals
    theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver).residuals
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_logdet_gradient_is_zero_where_the_determinant_is_negative():
    batch = np.stack([np.diag([-1.0, 2.0, 3.0]), R.standard_normal((3, 3)) + 3 * np.eye(3)])
    ours, theirs = tensorplug.tensor(batch, requires_grad=True), torch.tensor(batch, requires_grad=True)
    tensorplug.logdet(ours)[1].backward()
    torch.logdet(theirs)[1].backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    ours.grad = None
    theirs.grad = None
    (tensorplug.logdet(ours) * tensorplug.tensor([1.0, 0.0])).nansum().backward()
    (torch.logdet(theirs) * torch.tensor([1.0, 0.0], dtype=torch.float64)).nansum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("d", [1.0, 2.5])
def test_frequencies_of_no_samples(fn, d):
    # a ZeroDivisionError before; torch: fftfreq(0) empty, rfftfreq(0) [nan]
    ours, theirs = getattr(tensorplug.fft, fn)(0, d), getattr(torch.fft, fn)(0, d)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("fn", ["rfft2", "irfft2", "hfft2", "ihfft2", "rfftn", "irfftn", "hfftn", "ihfftn"])
def test_half_spectrum_transforms_over_no_dims(fn):
    x = R.standard_normal((3, 4))
    arg = x + 1j * x if fn[:2] in ("ir", "hf") else x
    assert_same_error(lambda m: getattr(m.fft, fn)(m.tensor(arg), dim=()))


PINV = {
    "rtol": (lambda m, a: m.linalg.pinv(a, rtol=0.5), [R.standard_normal((4, 2))]),
    "rtol_batch": (lambda m, a: m.linalg.pinv(a, rtol=0.5), [R.standard_normal((2, 5, 3))]),
    "atol_wide": (lambda m, a: m.linalg.pinv(a, atol=1.0), [R.standard_normal((2, 3, 5))]),
    "atol_square": (lambda m, a: m.linalg.pinv(a, atol=1.0), [R.standard_normal((3, 3))]),
    "default": (lambda m, a: m.linalg.pinv(a), [R.standard_normal((4, 3))]),
    "pinverse": (lambda m, a: m.pinverse(a), [R.standard_normal((3, 4))]),
}


@pytest.mark.parametrize("name", PINV)
def test_pinv_gradient_is_torchs_where_singular_values_are_cut(name):
    # torch differentiates the pseudo-inverse as a smooth function of A (pinv_backward), not through the
    # truncated SVD: the gradients differed wherever rtol / atol cut a singular value
    fn, arrays = PINV[name]
    assert_same_as_torch(fn, arrays)


@pytest.mark.parametrize("ord", [float("inf"), -float("inf"), -1, -0.5, -2.0])
@pytest.mark.parametrize("shape, dim", [((0,), None), ((2, 0), 1), ((2, 0), -1), ((0, 3), (0, 1)), ((2, 0), 0)])
def test_vector_norm_without_identity_over_an_empty_dim(ord, shape, dim):
    # negative orders gave inf, inf / -inf raised amax's IndexError; torch refuses both (or, over a
    # non-empty dim, returns the empty result)
    call = lambda m: m.linalg.vector_norm(m.zeros(shape), ord, dim=dim)  # noqa: E731
    try:
        want = call(torch)
    except RuntimeError:
        assert_same_error(call)
        return
    assert tuple(call(tensorplug).shape) == tuple(want.shape)


@pytest.mark.parametrize("fn", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("n", [0, 4])
def test_frequencies_in_a_complex_dtype_refused_as_torch(fn, dtype, n):
    # torch has no complex arange: it raises where ours returned complex frequencies
    assert_same_error(lambda m: getattr(m.fft, fn)(n, dtype=getattr(m, dtype)))
