"""linalg.det / torch.det and linalg.solve take complex matrices, as torch's (they refused them with an
error that named complex as expected): values and complex gradients against torch; solve refuses A and B
of different dtypes with torch's error (a float32 A and a float64 B was solved in float64)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_same_error

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
A = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
B = rng.standard_normal((2, 3, 2)) + 1j * rng.standard_normal((2, 3, 2))
CASES = {"det": lambda m, a, b: m.linalg.det(a), "torch.det": lambda m, a, b: m.det(a),
         "solve": lambda m, a, b: m.linalg.solve(a, b), "solve_right": lambda m, a, b: m.linalg.solve(
             a, b.transpose(-1, -2), left=False), "solve_vector": lambda m, a, b: m.linalg.solve(a, b[..., 0])}


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("case", CASES)
def test_complex_values_and_gradients_are_torchs(case, dtype):
    results = []
    for m in (torch, tp):
        a = m.tensor(A).to(getattr(m, dtype)).requires_grad_()
        b = m.tensor(B).to(getattr(m, dtype)).requires_grad_()
        out = CASES[case](m, a, b)
        ((out * out.conj()).real.sum() + 0.3 * out.real.sum() - 0.2 * out.imag.sum()).backward()
        results.append([t if t is None else t.detach().resolve_conj().numpy() for t in (out, a.grad, b.grad)])
    tol = 1e-10 if dtype == "complex128" else 2e-4
    for theirs, ours in zip(*results):
        if theirs is None:
            assert ours is None
            continue
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("complex64", "float32"), ("float64", "complex128")])
def test_solve_refuses_mixed_dtypes_as_torch(dtypes):
    a, b = dtypes
    assert_same_error(lambda m: m.linalg.solve(m.eye(2, dtype=getattr(m, a)), m.ones(2, dtype=getattr(m, b))))


@pytest.mark.parametrize("dtype", ["complex128", "float64"])
def test_cholesky_of_complex_and_real_matrices_and_its_gradients_are_torchs(dtype):
    """Cholesky's backward is torch's cholesky_backward with conjugate transposes, under torch's complex
    convention; complex input was refused."""
    a = A if dtype == "complex128" else A.real
    hermitian = a @ np.conj(np.swapaxes(a, -1, -2)) + 4 * np.eye(3)
    g = B[..., :1] * np.ones((1, 1, 3)) if dtype == "complex128" else (B[..., :1] * np.ones((1, 1, 3))).real
    results = []
    for m in (torch, tp):
        x = m.tensor(hermitian, dtype=getattr(m, dtype), requires_grad=True)
        L = m.linalg.cholesky(x)
        first = m.autograd.grad((L * m.tensor(g, dtype=getattr(m, dtype))).abs().sum(), x, create_graph=True)[0]
        second = m.autograd.grad(first.abs().sum(), x)[0]
        results.append([t.detach().resolve_conj().numpy() for t in (L, first, second)])
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
