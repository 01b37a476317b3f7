"""tensorplug.special and the special functions at the top level and as Tensor methods, against torch:
values (special values included), dtypes, gradients under a random upstream gradient, errors; and
against mpmath for float64 accuracy and the Chebyshev coefficients of framework/_specfun.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug as tp
from tensorplug import _specfun

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
SPECIALS = [0.0, -0.0, -1.0, -2.0, -2.5, -INF, INF, NAN, 1e-300, -1e-300, 1e300, 0.5, 1.0, 2.0]
GRID = np.concatenate([np.linspace(-30, 30, 121) + 0.013, np.geomspace(1e-6, 1e3, 40), SPECIALS])
UNIT = np.concatenate([np.linspace(-1, 1, 81), [1 - 1e-15, -1 + 1e-12, 1.5, -1.5, INF, NAN, 1e-300],
                       1 - np.geomspace(1e-16, 0.4, 20)])
PROB = np.concatenate([np.linspace(0, 1, 41), np.geomspace(1e-300, 0.2, 30), 1 - np.geomspace(1e-16, 0.2, 20),
                       [-0.5, 1.5, NAN, INF]])
POS = np.concatenate([np.linspace(0, 5, 41), [1e-300, INF, NAN, -1.0]])

# name: (tensorplug function, torch function, inputs, float64 relative tolerance)
UNARY = {
    "lgamma": (tp.lgamma, torch.lgamma, GRID, 1e-13),
    "digamma": (tp.digamma, torch.digamma, GRID, 1e-12),
    "erfc": (tp.erfc, torch.erfc, GRID, 1e-14),
    "erfinv": (tp.erfinv, torch.erfinv, UNIT, 1e-12),
    "i0": (tp.i0, torch.i0, GRID, 1e-14),
    "special.i0e": (tp.special.i0e, torch.special.i0e, GRID, 1e-14),
    "special.i1": (tp.special.i1, torch.special.i1, GRID, 1e-14),
    "special.i1e": (tp.special.i1e, torch.special.i1e, GRID, 1e-14),
    "special.erfcx": (tp.special.erfcx, torch.special.erfcx, GRID, 1e-13),
    "special.ndtr": (tp.special.ndtr, torch.special.ndtr, GRID, 1e-14),
    "special.ndtri": (tp.special.ndtri, torch.special.ndtri, PROB, 1e-12),
    "special.log_ndtr": (tp.special.log_ndtr, torch.special.log_ndtr, GRID, 1e-14),
    "special.entr": (tp.special.entr, torch.special.entr, GRID, 1e-15),
    "special.gammaln": (tp.special.gammaln, torch.special.gammaln, GRID, 1e-13),
    "special.psi": (tp.special.psi, torch.special.psi, GRID, 1e-12),
    "special.expit": (tp.special.expit, torch.special.expit, GRID, 1e-15),
    "trigamma": (lambda x: tp.polygamma(1, x), lambda x: torch.polygamma(1, x), GRID, 1e-7),
    "polygamma3": (lambda x: tp.special.polygamma(3, x), lambda x: torch.special.polygamma(3, x), GRID, 1e-12),
    "mvlgamma": (lambda x: tp.special.multigammaln(x, 3), lambda x: torch.special.multigammaln(x, 3),
                 np.linspace(1.01, 20, 30), 1e-13),
}
# points where the value is a difference of nearly equal terms: compared with an absolute tolerance
ABS = 1e-13


def _compare(got, expected, rtol, atol=ABS):
    assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    g = got.detach().double().numpy()
    e = expected.detach().double().numpy()
    np.testing.assert_array_equal(np.isnan(g), np.isnan(e))
    np.testing.assert_array_equal(np.isposinf(g), np.isposinf(e))
    np.testing.assert_array_equal(np.isneginf(g), np.isneginf(e))
    finite = np.isfinite(e) & (np.abs(e) < 1e300)
    np.testing.assert_allclose(g[finite], e[finite], rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", UNARY)
def test_float64_values_match_torch(name):
    fn, ref, xs, rtol = UNARY[name]
    _compare(fn(tp.tensor(xs)), ref(torch.tensor(xs)), rtol)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_narrow_floats_keep_their_dtype(name, dtype):
    fn, ref, xs, _ = UNARY[name]
    if dtype != "float32" and name in ("special.erfcx", "special.ndtri", "special.log_ndtr"):
        with pytest.raises(NotImplementedError, match="not implemented for"):
            fn(tp.tensor(xs, dtype=getattr(tp, dtype)))
        return
    xs = xs[np.abs(xs) < 60]
    got = fn(tp.tensor(xs, dtype=getattr(tp, dtype)))
    expected = ref(torch.tensor(xs, dtype=getattr(torch, dtype)))
    rtol = {"float32": 2e-5, "float16": 2e-3, "bfloat16": 1.6e-2}[dtype]
    if name == "trigamma":  # huge near the poles, where pi * x rounds differently in float32
        keep = (np.abs(xs - np.round(xs)) > 0.1) | (xs > 0.5)
        got, expected = got[tp.tensor(keep)], expected[torch.tensor(keep)]
    _compare(got, expected, rtol, atol=rtol)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfc", "erfinv", "i0", "special.i0e", "special.i1",
                                  "special.erfcx", "special.ndtri", "special.entr"])
def test_integer_input_gives_the_default_float(name):
    fn, ref, _, _ = UNARY[name]
    assert fn(tp.tensor([0, 1, 3])).dtype == tp.float32
    _compare(fn(tp.tensor([0, 1, 3])), ref(torch.tensor([0, 1, 3])), 1e-6)


GRAD_INPUTS = {"erfinv": np.linspace(-0.95, 0.95, 9), "special.ndtri": np.linspace(0.02, 0.98, 9),
               "special.entr": np.linspace(0.05, 3, 9), "mvlgamma": np.linspace(1.2, 6, 9)}


@pytest.mark.parametrize("name", UNARY)
def test_gradients_match_torch(name):
    fn, ref, _, rtol = UNARY[name]
    xs = GRAD_INPUTS.get(name, np.array([-7.3, -2.5, -0.4, 0.0, 1e-9, 0.3, 1.0, 2.2, 9.5, 15.0]))
    if name in ("lgamma", "special.gammaln", "digamma", "special.psi", "trigamma", "polygamma3"):
        xs = xs[xs != 0]
    upstream = np.random.default_rng(0).standard_normal(xs.shape)
    a = tp.tensor(xs, requires_grad=True)
    b = torch.tensor(xs, requires_grad=True)
    fn(a).backward(tp.tensor(upstream))
    ref(b).backward(torch.tensor(upstream))
    tol = 1e-7 if name in ("digamma", "special.psi", "trigamma") else max(rtol, 1e-12)  # torch's trigamma: 1e-9
    _compare(a.grad, b.grad, tol, atol=1e-12)


def test_grad_fn_names_are_torchs():
    x = tp.tensor([0.5, 1.5], requires_grad=True)
    for fn, name in ((tp.lgamma, "LgammaBackward0"), (tp.erfinv, "ErfinvBackward0"),
                     (tp.special.i0e, "SpecialI0EBackward0"), (tp.special.i1e, "SpecialI1EBackward0"),
                     (tp.special.ndtri, "SpecialNdtriBackward0"), (tp.special.log_ndtr, "SpecialLogNdtrBackward0")):
        assert type(fn(x * 0.5).grad_fn).__name__ == name


def test_second_derivatives_match_torch():
    xs = np.array([0.3, 1.7, 4.2])
    a = tp.tensor(xs, requires_grad=True)
    b = torch.tensor(xs, requires_grad=True)
    for fn_a, fn_b in ((tp.lgamma, torch.lgamma), (tp.special.i1, torch.special.i1),
                       (tp.special.erfcx, torch.special.erfcx)):
        (ga,) = tp.autograd.grad(fn_a(a).sum(), a, create_graph=True)
        (gb,) = torch.autograd.grad(fn_b(b).sum(), b, create_graph=True)
        (gga,) = tp.autograd.grad(ga.sum(), a)
        (ggb,) = torch.autograd.grad(gb.sum(), b)
        _compare(gga, ggb, 1e-7)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfc", "erfinv", "i0"])
def test_method_and_inplace_forms(name):
    xs = np.array([0.25, 0.5, 0.75])
    expected = getattr(torch, name)(torch.tensor(xs))
    _compare(getattr(tp.tensor(xs), name)(), expected, 1e-13)
    t = tp.tensor(xs)
    assert getattr(t, name + "_")() is t
    _compare(t, expected, 1e-13)


def test_polygamma_and_mvlgamma_methods():
    xs = np.array([0.25, 1.5, 3.0])
    _compare(tp.tensor(xs).polygamma(2), torch.tensor(xs).polygamma(2), 1e-13)
    t = tp.tensor(xs)
    t.polygamma_(1)
    _compare(t, torch.tensor(xs).polygamma(1), 1e-7)
    _compare(tp.tensor(xs + 2).mvlgamma(2), torch.tensor(xs + 2).mvlgamma(2), 1e-13)
    _compare(tp.polygamma(0, tp.tensor(xs)), torch.polygamma(0, torch.tensor(xs)), 1e-13)


def test_binary_special_functions():
    x = np.array([0.0, 0.0, 1.0, 2.5, -1.0, NAN])
    y = np.array([-1.0, NAN, -1.0, 0.5, 3.0, 1.0])
    for name in ("xlog1py", "xlogy", "zeta"):
        _compare(getattr(tp.special, name)(tp.tensor(x), tp.tensor(y)),
                 getattr(torch.special, name)(torch.tensor(x), torch.tensor(y)), 1e-13)
    s = np.array([1.0, 1.5, 2.0, 3.0, 7.0, 0.5])
    q = np.array([[0.5], [-1.5], [-2.0], [3.0], [1e9]])
    _compare(tp.special.zeta(tp.tensor(s), tp.tensor(q)), torch.special.zeta(torch.tensor(s), torch.tensor(q)),
             1e-13)
    _compare(tp.special.zeta(tp.tensor(s), 2.0), torch.special.zeta(torch.tensor(s), 2.0), 1e-13)
    _compare(tp.special.zeta(tp.tensor([2, 3]), tp.tensor([1, 2])),
             torch.special.zeta(torch.tensor([2, 3]), torch.tensor([1, 2])), 1e-6)


def test_xlog1py_gradients_match_torch():
    x = np.array([0.0, 0.5, 2.0, 0.0])
    y = np.array([-0.5, 0.3, 4.0, 1.0])
    a, b = tp.tensor(x, requires_grad=True), tp.tensor(y, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    tp.special.xlog1py(a, b).sum().backward()
    torch.special.xlog1py(ta, tb).sum().backward()
    _compare(a.grad, ta.grad, 1e-14)
    _compare(b.grad, tb.grad, 1e-14)


def test_aliases_and_existing_functions_in_the_namespace():
    x = np.array([[0.2, 0.4, 0.9], [-1.0, 0.0, 2.0]])
    for name, args in (("erf", ()), ("expm1", ()), ("log1p", ()), ("exp2", ()), ("sinc", ()), ("round", ()),
                       ("logit", ()), ("softmax", (1,)), ("log_softmax", (0,)), ("logsumexp", (1,))):
        _compare(getattr(tp.special, name)(tp.tensor(x), *args), getattr(torch.special, name)(torch.tensor(x), *args),
                 1e-14)
    missing = {n for n in dir(torch.special) if not n.startswith("_") and n in tp.special.__all__}
    assert missing == set(tp.special.__all__)


def test_errors_match_torch():
    x = tp.tensor([0.5, 2.0])
    with pytest.raises(RuntimeError, match="does not support negative n"):
        tp.polygamma(-1, x)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        tp.mvlgamma(x, 0)
    _compare(tp.special.multigammaln(x, 3), torch.special.multigammaln(torch.tensor([0.5, 2.0]), 3), 1e-13)
    s = tp.tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="the derivative for 'zeta' is not implemented"):
        tp.special.zeta(s, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="can't be cast"):
        tp.tensor([1, 2]).lgamma_()


# float64 accuracy against mpmath, and the coefficients recomputed --------------------------------

mp = pytest.importorskip("mpmath")


@pytest.mark.parametrize("name, exact, xs", [
    ("lgamma", lambda x: mp.log(abs(mp.gamma(x))), np.linspace(-9.7, 40, 97)),
    ("digamma", mp.digamma, np.linspace(-9.7, 40, 97)),
    ("trigamma", lambda x: mp.psi(1, x), np.linspace(-9.7, 40, 97)),
    ("erfcx", lambda x: mp.erfc(x) * mp.exp(x * x), np.linspace(-20, 200, 97)),
    ("erfc", mp.erfc, np.linspace(-5, 26, 97)),
    ("i0e", lambda x: mp.besseli(0, x) * mp.exp(-abs(x)), np.linspace(-50, 700, 97)),
    ("i1e", lambda x: mp.besseli(1, x) * mp.exp(-abs(x)), np.linspace(-50, 700, 97)),
])
def test_float64_accuracy_against_mpmath(name, exact, xs):
    mp.mp.dps = 40
    got = getattr(_specfun, name)(np, xs)
    want = np.array([float(exact(mp.mpf(float(x)))) for x in xs])
    # relative to the value, or to 1 near the zeros of lgamma and digamma (a difference of equal terms)
    err = np.abs(got - want) / np.maximum(np.abs(want), 1.0 if name in ("lgamma", "digamma") else 0.0)
    assert err.max() < 4e-15 if name not in ("trigamma",) else err.max() < 1e-12


def test_erfinv_and_ndtri_tails_against_mpmath():
    mp.mp.dps = 400  # 2p - 1 must be exact for p = 1e-300
    ys = 1 - np.geomspace(1e-16, 0.5, 30)
    got = _specfun.erfinv(np, np.vectorize(math.erf), ys)
    want = np.array([float(mp.erfinv(mp.mpf(float(y)))) for y in ys])
    np.testing.assert_allclose(got, want, rtol=2e-15)
    ps = np.geomspace(1e-300, 0.2, 30)
    got = _specfun.ndtri(np, np.vectorize(math.erf), ps)
    want = np.array([float(mp.sqrt(2) * mp.erfinv(2 * mp.mpf(float(p)) - 1)) for p in ps])
    np.testing.assert_allclose(got, want, rtol=2e-15)


def _chebyshev_fit(f, degree):
    n = degree + 1
    values = [f(mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n)) for k in range(n)]
    coefs = [2 * sum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k, v in enumerate(values)) / n
             for j in range(n)]
    coefs[0] /= 2
    return [float(c) for c in coefs]


def _scaled_i(k, x):
    return mp.besseli(k, x) * mp.exp(-x)


@pytest.mark.parametrize("name, f", [
    ("_ERFCX", lambda t: (lambda u: mp.erfc(3 / u - 3) * mp.exp((3 / u - 3) ** 2) / u if u else
                          1 / (3 * mp.sqrt(mp.pi)))((t + 1) / 2)),
    ("_I0E_SMALL", lambda t: _scaled_i(0, 4 * (t + 1))),
    ("_I1E_SMALL", lambda t: _scaled_i(1, 4 * (t + 1)) / (4 * (t + 1)) if t != -1 else mp.mpf(1) / 2),
    ("_I0E_LARGE", lambda t: _scaled_i(0, 16 / (t + 1)) * mp.sqrt(16 / (t + 1)) if t != -1 else
     1 / mp.sqrt(2 * mp.pi)),
    ("_I1E_LARGE", lambda t: _scaled_i(1, 16 / (t + 1)) * mp.sqrt(16 / (t + 1)) if t != -1 else
     1 / mp.sqrt(2 * mp.pi)),
])
def test_chebyshev_coefficients_are_the_interpolants(name, f):
    mp.mp.dps = 40
    stored = getattr(_specfun, name)
    np.testing.assert_allclose(stored, _chebyshev_fit(f, len(stored) - 1), rtol=0, atol=1e-18)


# numbers beside tensors: torch's result dtype, overload node names and gradients ------------------------

NUMBER_CASES = [
    (lambda m, t: m.special.xlogy(2.0, t), "XlogyBackward1"),
    (lambda m, t: m.xlogy(t, 2), "XlogyBackward2"),
    (lambda m, t: t.xlogy(2.5), "XlogyBackward2"),
    (lambda m, t: m.xlogy(t, t), "XlogyBackward0"),
    (lambda m, t: m.special.xlog1py(2.0, t), "SpecialXlog1PyBackward1"),
    (lambda m, t: m.special.xlog1py(t, 3), "SpecialXlog1PyBackward2"),
    (lambda m, t: m.special.zeta(3.0, t), "SpecialZetaBackward1"),
    (lambda m, t: m.special.zeta(t.detach() + 2, t), "SpecialZetaBackward0"),
    (lambda m, t: m.mvlgamma(t + 1, 2), "MvlgammaBackward0"),
    (lambda m, t: m.float_power(2.0, t), "PowBackward2"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case, node", NUMBER_CASES)
def test_number_operands_match_torch(case, node, dtype):
    # a number beside a tensor records torch's overload node (XlogyBackward1 / 2: all were ...Backward0), and
    # zeta's gradient in q is torch's -s zeta(s + 1, q) (it raised for q too)
    xs = np.array([0.5, 1.5, 2.0])
    results = []
    for m in (tp, torch):
        t = m.tensor(xs, dtype=getattr(m, dtype), requires_grad=True)
        out = case(m, t)
        out.sum().backward()
        results.append((out, t.grad))
    (a, ga), (b, gb) = results
    assert type(a.grad_fn).__name__ == node == type(b.grad_fn).__name__
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    _compare(a, b, 1e-6)
    _compare(ga, gb, 1e-6)


@pytest.mark.parametrize("number", [2, 2.5, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "uint8", "bool"])
@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "zeta"])
def test_number_first_and_second_give_torchs_dtype(name, dtype, number):
    vals = [True, False, True] if dtype == "bool" else [1, 2, 3]
    for order in (0, 1):
        got = [None, None]
        for i, m in enumerate((tp, torch)):
            t = m.tensor(vals, dtype=getattr(m, dtype))
            args = (number, t) if order else (t, number)
            try:
                got[i] = getattr(m.special, name)(*args)
            except RuntimeError:  # zeta refuses float16, as torch
                got[i] = "refused"
        if isinstance(got[1], str):
            assert isinstance(got[0], str)
            continue
        assert got[0].dtype.name == str(got[1].dtype).split(".")[-1], (order, got[0].dtype, got[1].dtype)
        _compare(got[0], got[1], 1e-3)


def test_integer_order_arguments_refuse_floats_and_bools_as_torch():
    # torch's TypeError; tensorplug rounded polygamma's 2.0, took mvlgamma's True, and swapped polygamma(x, 1)
    x = tp.tensor([1.5])
    for call in (lambda: tp.polygamma(2.0, x), lambda: tp.polygamma(True, x), lambda: tp.polygamma(x, 1),
                 lambda: x.polygamma(1.0)):
        with pytest.raises(TypeError, match="argument 'n' \\(position 1\\) must be int"):
            call()
    with pytest.raises(TypeError, match="argument 'p' \\(position 2\\) must be int, not bool"):
        tp.mvlgamma(x, True)
    _compare(tp.polygamma(tp.tensor(1), x), torch.polygamma(torch.tensor(1), torch.tensor([1.5])), 1e-6)


@pytest.mark.parametrize("eps", [0.2, 0.75, 1.0])
def test_logit_eps_over_a_half_clamps_as_torch(eps):
    # torch clamps x < eps to eps before x > 1 - eps to 1 - eps (clip gave 1 - eps for all of them)
    xs = np.array([0.5, 0.1, 0.95, 0.0, 1.5])
    _compare(tp.special.logit(tp.tensor(xs), eps), torch.special.logit(torch.tensor(xs), eps), 1e-13)


@pytest.mark.parametrize("call", [
    lambda m, z: m.digamma(z), lambda m, z: m.lgamma(z), lambda m, z: m.polygamma(1, z), lambda m, z: m.mvlgamma(z, 1),
    lambda m, z: m.erfc(z), lambda m, z: m.erfinv(z), lambda m, z: m.i0(z), lambda m, z: m.special.i0e(z),
    lambda m, z: m.special.i1(z), lambda m, z: m.special.i1e(z), lambda m, z: m.special.erfcx(z),
    lambda m, z: m.special.ndtr(z), lambda m, z: m.special.ndtri(z), lambda m, z: m.special.log_ndtr(z),
    lambda m, z: m.special.entr(z), lambda m, z: m.special.logit(z), lambda m, z: z.logit(),
    lambda m, z: m.xlogy(z, z), lambda m, z: m.xlogy(2, z), lambda m, z: m.special.xlog1py(z, z),
    lambda m, z: m.special.zeta(z, z), lambda m, z: m.special.zeta(m.tensor([2.0]), z),
])
def test_complex_input_is_refused_as_torch(call):
    # the values were computed from the real part alone (digamma(1+1j) gave -0.5772+0j); torch has no kernel
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
        call(torch, torch.tensor([1 + 1j]))
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
        call(tp, tp.tensor([1 + 1j]))


@pytest.mark.parametrize("name", sorted(set(tp.special.__all__) - {"softmax", "log_softmax"}))
def test_special_functions_take_out_as_torch(name):
    # torch.special's functions take out=; tensorplug's raised TypeError
    args = {"xlogy": lambda x: (x, 2.0), "xlog1py": lambda x: (2.0, x), "zeta": lambda x: (x + 1, 2.0),
            "polygamma": lambda x: (1, x), "multigammaln": lambda x: (x + 2, 2), "logsumexp": lambda x: (x, 0)}
    written = []
    for lib in (tp, torch):
        x = lib.tensor([0.3, 0.7])
        out = lib.empty(0)
        assert getattr(lib.special, name)(*args.get(name, lambda x: (x,))(x), out=out) is out
        written.append(out.numpy())
    np.testing.assert_allclose(written[0], written[1], rtol=1e-6)
