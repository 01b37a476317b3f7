"""linalg.eig / linalg.eigvals against torch: complex values and dtypes (eigenvectors compared up to the phase
LAPACK leaves free), torch's gradient for real and complex matrices and its error for a phase-dependent loss,
second derivatives, errors; and the clear error of a backend with no eigensolver."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
REAL = RNG.standard_normal((2, 4, 4))
COMPLEX = REAL + 1j * RNG.standard_normal((2, 4, 4))
WEIGHT = np.cos(np.arange(16.0)).reshape(4, 4)


def _phase_free(v):
    """Each eigenvector (column) turned so that its largest entry is real and positive."""
    if v.size == 0:
        return v
    big = np.take_along_axis(v, np.abs(v).argmax(-2)[..., None, :], -2)
    return v * (np.abs(big) / big)


@pytest.mark.parametrize("array", [REAL, REAL.astype(np.float32), COMPLEX, COMPLEX.astype(np.complex64),
                                   np.diag([2.0, -1.0, 3.0]), np.zeros((2, 0, 0))],
                         ids=["float64", "float32", "complex128", "complex64", "diagonal", "empty"])
def test_values_and_dtypes_like_torch(array):
    got, want = tp.linalg.eig(tp.tensor(array)), torch.linalg.eig(torch.tensor(array))
    assert got._fields == ("eigenvalues", "eigenvectors")
    tol = 1e-4 if array.dtype in (np.float32, np.complex64) else 1e-10
    for a, b in zip(got, want):
        assert a.dtype.name == str(b.dtype).split(".")[-1] and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(got.eigenvalues.numpy(), want.eigenvalues.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(_phase_free(got.eigenvectors.numpy()), _phase_free(want.eigenvectors.numpy()),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(got.eigenvectors.numpy(), axis=-2), 1.0, rtol=tol)
    np.testing.assert_allclose(tp.linalg.eigvals(tp.tensor(array)).numpy(), want.eigenvalues.numpy(), rtol=tol,
                               atol=tol)


def _loss(m, L, V):
    """Free of each eigenvector's phase: eigenvalues and moduli of the eigenvectors."""
    w = m.tensor(WEIGHT)
    return (L * (1 - 0.5j)).real.sum() + (L.abs() ** 2).sum() + (V.abs() * w).sum()


@pytest.mark.parametrize("array", [REAL, COMPLEX], ids=["real", "complex"])
def test_gradients_like_torch(array):
    grads = []
    for m in (tp, torch):
        a = m.tensor(array, requires_grad=True)
        L, V = m.linalg.eig(a)
        assert type(L.grad_fn).__name__ == "LinalgEigBackward0"
        _loss(m, L, V).backward()
        b = m.tensor(array, requires_grad=True)
        (m.linalg.eigvals(b) ** 2).real.sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for x, y in zip(*grads):
        assert x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10)


def test_second_derivative_like_torch():
    results = []
    for m in (tp, torch):
        a = m.tensor(REAL[0], requires_grad=True)
        L, V = m.linalg.eig(a)
        g, = m.autograd.grad(_loss(m, L, V), a, create_graph=True)
        gg, = m.autograd.grad((g * g).sum(), a)
        results.append(gg.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-7, atol=1e-9)


def test_gradcheck_and_gradgradcheck():
    a = tp.tensor(REAL[:, :3, :3], requires_grad=True)
    values = lambda x: tp.view_as_real(tp.linalg.eigvals(x))  # noqa: E731
    vectors = lambda x: tp.linalg.eig(x).eigenvectors.abs()  # noqa: E731
    for fn in (values, vectors):
        assert tp.autograd.gradcheck(fn, (a,))
        assert tp.autograd.gradgradcheck(fn, (a,))


def test_a_loss_that_depends_on_the_phase_is_torchs_error():
    for m in (tp, torch):
        V = m.linalg.eig(m.tensor(REAL[0], requires_grad=True)).eigenvectors
        with pytest.raises(RuntimeError, match="specified up to multiplication by e\\^\\{i phi\\}"):
            V.sum().abs().backward()


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("call", [
    lambda m: m.linalg.eig(m.ones(2, 2, dtype=m.float16)), lambda m: m.linalg.eigvals(m.ones(2, 2, dtype=m.bfloat16)),
    lambda m: m.linalg.eig(m.ones(2, 2, dtype=m.int64)), lambda m: m.linalg.eigvals(m.ones(2, 2, dtype=m.int32)),
    lambda m: m.linalg.eig(m.ones(2, 3)), lambda m: m.linalg.eigvals(m.ones(2, 3)),
    lambda m: m.linalg.eigvals(m.ones(3)), lambda m: m.linalg.eig(m.tensor([[1.0, float("nan")], [0.0, 1.0]])),
    lambda m: m.linalg.eig(m.tensor([[1.0, float("inf")], [0.0, 1.0]])),
])  # (not eigvals of NaN: torch's crashes in MKL)
def test_errors_like_torch(call):
    assert_same_error(call)


def test_every_backend_solves_or_says_it_cannot(backend):
    a = tp.tensor(REAL[0])
    if backend == "array_api_strict":  # the Array API 2024.12 has no linalg.eig (2025.12 has)
        with pytest.raises(RuntimeError, match="has no general eigensolver.*to\\('numpy'\\)"):
            tp.linalg.eig(a)
        return
    want = torch.linalg.eigvals(torch.tensor(REAL[0])).numpy()
    np.testing.assert_allclose(tp.linalg.eigvals(a).cpu().numpy(), want, rtol=1e-10)
