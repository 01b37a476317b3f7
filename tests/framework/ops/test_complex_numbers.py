"""Complex tensors against torch: the parts as views (real, imag, view_as_real, view_as_complex), conj,
angle, sgn, polar, complex, and the gradients of arithmetic on complex tensors (torch's convention: the
conjugate Wirtinger derivative), with real and complex leaves and random upstream gradients."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp
from torch_compare import assert_matches_numpy_backend, assert_same_as_torch, assert_same_error, second_order_grads

torch = pytest.importorskip("torch")

R = np.random.default_rng(3)
Z = R.standard_normal((3, 4)) + 1j * R.standard_normal((3, 4))
W = R.standard_normal((3, 4)) + 1j * R.standard_normal((3, 4))
M = R.standard_normal((4, 2)) + 1j * R.standard_normal((4, 2))
X = R.standard_normal((3, 4))
PAIRS = R.standard_normal((3, 4, 2))

_AS_REAL = lambda m, z: m.view_as_real(z.resolve_conj())  # noqa: E731 - torch's conj() is a lazy view
# each case returns real tensors: the loss weights them with cosines (a random upstream gradient)
CASES = {
    "mul": (lambda m, a, b: _AS_REAL(m, a * b), [Z, W]),
    "mul_abs": (lambda m, a, b: (a * b).abs(), [Z, W]),
    "div": (lambda m, a, b: _AS_REAL(m, a / b), [Z, W]),
    "add_sub": (lambda m, a, b: _AS_REAL(m, a + 2 * b - a * 1j), [Z, W]),
    "matmul": (lambda m, a, b: _AS_REAL(m, a @ b), [Z, M]),
    "sum_mean": (lambda m, a: m.stack([_AS_REAL(m, a.sum(0)), _AS_REAL(m, a.mean(0))]), [Z]),
    "real_times_complex": (lambda m, x, b: _AS_REAL(m, x * b), [X, W]),
    "real_matmul_complex": (lambda m, x, b: (x.to(m.complex128) @ b).abs(), [X, M]),
    "real_to_complex": (lambda m, x: (x.to(m.complex128) * (1 + 2j)).imag, [X]),
    "real_part": (lambda m, a: (a * a).real, [Z]),
    "imag_part": (lambda m, a: (a * a).imag, [Z]),
    "torch_real_imag": (lambda m, a: m.real(a) * m.imag(a), [Z]),
    "view_as_real": (lambda m, a: m.view_as_real(a * a), [Z]),
    "view_as_complex": (lambda m, p: (m.view_as_complex(p) ** 2).abs(), [PAIRS]),
    "conj": (lambda m, a, b: _AS_REAL(m, a.conj() * b), [Z, W]),
    "conj_physical": (lambda m, a, b: _AS_REAL(m, m.conj_physical(a) * b), [Z, W]),
    "abs": (lambda m, a: a.abs(), [Z]),
    "angle": (lambda m, a: m.angle(a * a), [Z]),
    "angle_real": (lambda m, x: m.angle(x), [X]),
    "sgn": (lambda m, a: _AS_REAL(m, m.sgn(a)), [Z]),
    "polar": (lambda m, r, t: _AS_REAL(m, m.polar(r.abs() + 0.5, t)), [X, X[::-1].copy()]),
    "complex": (lambda m, x, y: (m.complex(x, y) ** 2).abs(), [X, X.T.copy().reshape(3, 4)]),
    "exp_complex": (lambda m, a: _AS_REAL(m, a.exp()), [Z]),
}


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_torch(name):
    assert_same_as_torch(*CASES[name])



@pytest.mark.parametrize("name", ["mul", "div", "matmul", "mul_abs", "angle", "polar", "complex"])
def test_double_backward_matches_torch(name):
    fn, arrays = CASES[name]
    for got, want in zip(second_order_grads(tp, fn, arrays), second_order_grads(torch, fn, arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)



def test_parts_are_views_that_write_through():
    z = tp.zeros(3, dtype=tp.complex64)
    z.real = tp.tensor([1.0, 2.0, 3.0])
    z.imag[1] = 5
    tp.view_as_real(z)[2, 1] = -1
    assert z.tolist() == [1 + 0j, 2 + 5j, 3 - 1j]
    pairs = tp.zeros(2, 2)
    tp.view_as_complex(pairs).mul_(0).add_(1j)
    assert pairs.tolist() == [[0.0, 1.0], [0.0, 1.0]]
    t = tp.tensor([[1 + 1j, 2 + 2j], [3 + 3j, 4 + 4j]]).t()  # not contiguous: still a view
    t.real.zero_()
    assert t.tolist() == [[1j, 3j], [2j, 4j]]


def test_writing_a_part_bumps_the_shared_version():
    z = tp.tensor([1 + 1j, 2j], requires_grad=True)
    y = z * 1
    saved = y * y  # saves y
    y.detach().real.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        saved.abs().sum().backward()


def test_real_of_a_real_tensor_is_itself():
    x = tp.ones(2)
    assert x.real is x and tp.real(x) is x and x.conj() is x and tp.conj_physical(x) is x


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_part_dtypes_match_torch(dtype):
    for m in (tp, torch):
        z = m.ones(2, dtype=getattr(m, dtype))
        got = [str(t.dtype).split(".")[-1] for t in (z.real, z.imag, m.view_as_real(z), z.abs(), z.angle())]
        if m is tp:
            ours = got
    assert ours == got
    assert tp.is_complex(tp.ones(1, dtype=tp.complex64)) and not tp.is_complex(tp.ones(1))


def test_printing_matches_torch():
    values = [[0.8776 + 0.4794j, 1.0806 + 1.6829j], [1 + 2j, -3.5 - 1j], [1e-5 + 2j, 3 - 1e5j]]
    for v in values:
        assert repr(tp.tensor(v)).replace("tensorplug", "torch") == repr(torch.tensor(v))


ERRORS = {
    "view_as_complex_last_dim": lambda m: m.view_as_complex(m.ones(3, 3)),
    "view_as_complex_stride": lambda m: m.view_as_complex(m.ones(3, 2, dtype=m.float64).t()),
    "view_as_complex_long": lambda m: m.view_as_complex(m.ones(3, 2, dtype=m.int64)),
    "view_as_complex_0d": lambda m: m.view_as_complex(m.tensor(1.0)),
    "view_as_real_real": lambda m: m.view_as_real(m.ones(3)),
    "imag_of_real": lambda m: m.ones(2).imag,
    "lt": lambda m: m.tensor([1j]) < m.tensor([2j]),
    "ge_number": lambda m: m.tensor([1j]) >= 0,
    "complex_ints": lambda m: m.complex(m.tensor([1]), m.tensor([2])),
    "complex_mixed": lambda m: m.complex(m.tensor([1.0]), m.tensor([2.0], dtype=m.float64)),
    "polar_ints": lambda m: m.polar(m.tensor([1]), m.tensor([2])),
    "matmul_real_complex": lambda m: m.ones(2, 2, dtype=m.float64) @ m.ones(2, 2, dtype=m.complex128),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_match_torch(name):
    assert_same_error(ERRORS[name])


def test_in_place_part_write_inside_a_graph_is_refused():
    z = tp.tensor([1 + 1j, 2j], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="torch.complex"):
        z.real.mul_(2)


@pytest.mark.parametrize("name", ["mul", "div", "matmul", "real_times_complex", "torch_real_imag", "view_as_real",
                                  "view_as_complex", "conj", "angle", "polar", "complex"])
def test_every_backend_matches_numpy(name, backend):
    """Parts and gradients through the backend's view_as_real / view_as_complex (copies where the library
    has no such view) and the standard (array_api_strict included)."""
    assert_matches_numpy_backend(*CASES[name])


@pytest.mark.parametrize("name,options", [("Adam", {"lr": 0.1}), ("AdamW", {"lr": 0.1, "amsgrad": True}),
                                          ("RMSprop", {"lr": 0.01, "momentum": 0.9}), ("NAdam", {"lr": 0.1}),
                                          ("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adagrad", {"lr": 0.1})])
def test_optimizers_step_complex_parameters_as_torch(name, options):
    """torch steps a complex parameter as the real pairs of its parts (Adam's second moment per part)."""
    params = []
    for m in (tp, torch):
        p = m.nn.Parameter(m.tensor(Z))
        opt = getattr(m.optim, name)([p], **options)
        for _ in range(3):
            opt.zero_grad()
            (p * m.tensor(W)).abs().sum().backward()
            opt.step()
        params.append(p.detach().numpy())
    np.testing.assert_allclose(params[0], params[1], rtol=1e-10, atol=1e-12)


def test_complex_random_tensors_as_torch():
    """rand/randn of a complex dtype draw the parts independently (randn: each of variance 1/2, as torch)."""
    tp.manual_seed(0)
    z = tp.randn(20000, dtype=tp.cfloat)
    u = tp.rand(3, 4, dtype=tp.complex128)
    assert z.dtype == tp.complex64 and u.dtype == tp.complex128 and tuple(u.shape) == (3, 4)
    assert abs(z.real.var().item() - 0.5) < 0.03 and abs(z.imag.var().item() - 0.5) < 0.03
    assert 0 <= u.real.min().item() and u.imag.max().item() < 1
    assert torch.randn(2, dtype=torch.cfloat).dtype == torch.complex64  # the oracle accepts them too


def test_cast_to_real_warns_as_torch():
    for m in (tp, torch):
        with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
            assert m.tensor([1 + 2j, -3j]).to(m.float32).tolist() == [1.0, 0.0]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = tp.tensor([1.0, 2.0], requires_grad=True)
        (x.to(tp.complex64) * (1 + 2j)).abs().sum().backward()  # the backward's real part warns nothing
