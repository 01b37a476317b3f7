"""sum/mean/prod/var/std/logsumexp/norm/cumsum/cumprod/all/any — against torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same

X = np.array([[1.0, -2.0, 0.5, 3.0], [0.25, 4.0, -1.0, 2.0], [1.5, 1.0, -0.5, 0.75]])


@pytest.mark.parametrize("case", [
    lambda m, x: x.sum((0, 1)), lambda m, x: x.sum(-1, keepdim=True), lambda m, x: x.mean(0),
    lambda m, x: m.prod(x), lambda m, x: x.prod(1, keepdim=True), lambda m, x: x.var(),
    lambda m, x: x.var(1), lambda m, x: x.var(0, unbiased=False), lambda m, x: x.var((0, 1), correction=2),
    lambda m, x: x.var(False), lambda m, x: m.std(x, 1, keepdim=True), lambda m, x: x.std(correction=0),
    lambda m, x: m.var_mean(x, 1), lambda m, x: m.std_mean(x, 0),
    lambda m, x: x.logsumexp(1), lambda m, x: m.logsumexp(x, (0, 1), keepdim=True),
    lambda m, x: x.norm(), lambda m, x: x.norm(dim=1), lambda m, x: m.norm(x, 1), lambda m, x: x.norm(3, 0),
    lambda m, x: x.norm(float("inf"), 1), lambda m, x: x.norm(-float("inf")), lambda m, x: x.norm(0, 1),
    lambda m, x: x.norm(p="fro", dim=(0, 1), keepdim=True),
    lambda m, x: x.cumsum(1), lambda m, x: m.cumsum(x, 0), lambda m, x: x.cumprod(1), lambda m, x: m.cumprod(x, 0),
    lambda m, x: (x > 0).all(), lambda m, x: m.any(x > 3, 1), lambda m, x: x.all(0), lambda m, x: (x > 0).any(1, True),
])
def test_against_torch(case):
    same(case, X)


def test_prod_gradient_with_zeros():
    z = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    same(lambda m, x: x.prod(1), z)
    same(lambda m, x: x.prod(), z[2:])
    same(lambda m, x: x.prod(), np.array([2.0, 0.0, 5.0]))


@pytest.mark.parametrize("row", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 5.0], [1.5, 2.0, 3.0, 0.0],
                                 [0.0, 0.0, 0.0, 2.0], [1.0, -2.0, 0.5, 3.0]])
def test_cumprod_gradients_with_zeros_match_torch(row):
    torch = pytest.importorskip("torch")
    x = np.array([row, row[::-1]])
    g = np.array([[1.0, -2.0, 0.5, 3.0], [0.25, 4.0, -1.0, 2.0]])
    ours = tp.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (ga,) = tp.autograd.grad((ours.cumprod(1) * tp.tensor(g)).sum(), ours, create_graph=True)
    (gb,) = torch.autograd.grad((theirs.cumprod(1) * torch.tensor(g)).sum(), theirs, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ga * ga).sum().backward()  # second order, through the backward's own cumprod
    (gb * gb).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_cumprod_of_integers_is_int64_like_torch():
    same(lambda m, x: x.cumprod(0), np.array([1, 2, 3], dtype=np.int32))


def test_norm_gradient_at_zero_is_zero():
    same(lambda m, x: x.norm(), np.zeros(3))


def test_logsumexp_is_stable():
    big = np.array([[1000.0, 1000.0], [-np.inf, 0.0], [-np.inf, -np.inf]])
    out = tp.tensor(big).logsumexp(1)
    assert out[0].item() == pytest.approx(1000 + np.log(2))
    assert out[1].item() == 0.0 and out[2].item() == -np.inf


def test_integer_reductions_follow_torch():
    ints = np.array([[1, 2, 3], [4, 5, 6]])
    same(lambda m, x: (x.sum(), x.prod(1), x.cumsum(0), x.all(), x.any(0)), ints)
    same(lambda m, x: (x.sum(), x.cumsum(0)), np.array([True, False, True]))


def test_mean_and_var_of_integers_are_errors():
    with pytest.raises(RuntimeError, match="mean"):
        tp.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="floating point"):
        tp.tensor([1, 2]).var()


def test_var_of_one_element_is_nan_with_warning():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert np.isnan(tp.tensor([2.0]).var().item())


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_cdist_matches_torch_with_a_zero_distance(p):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3))
    b0[0, 1] = a0[0, 2]  # a zero distance: value 0, gradient 0 (not nan)
    a, b = tp.tensor(a0, requires_grad=True), tp.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    d, td = tp.cdist(a, b, p), torch.cdist(ta, tb, p)
    np.testing.assert_allclose(d.detach().numpy(), td.detach().numpy(), atol=1e-12)
    (d * d).sum().backward()
    (td * td).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), atol=1e-12)


def test_cdist_errors_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (tp, torch):
        with pytest.raises(RuntimeError, match="X1 and X2 must have the same number of columns. X1: 2 X2: 3"):
            lib.cdist(lib.zeros(3, 2), lib.zeros(4, 3))
        with pytest.raises(RuntimeError, match="cdist only supports non-negative p values"):
            lib.cdist(lib.zeros(3, 2), lib.zeros(4, 2), p=-1.0)


@pytest.mark.parametrize("case", [
    # an integer dtype= is the result's (numpy multiplied and accumulated int32/int8 in int64)
    lambda m: m.prod(m.tensor([True, False, True]), dtype=m.int32),
    lambda m: m.prod(m.tensor([[100, 3], [5, 7]], dtype=m.int8), 0, dtype=m.int16),
    lambda m: m.prod(m.tensor([[100, 3], [5, 7]], dtype=m.int32), 1, dtype=m.int32),
    lambda m: m.cumsum(m.tensor([True, False, True]), 0, dtype=m.int32),
    lambda m: m.cumprod(m.tensor([[100, 3], [5, 7]], dtype=m.int8), 1, dtype=m.int16),
    lambda m: m.tensor([[100, 3], [5, 7]], dtype=m.int32).cumsum(0, dtype=m.int32),
    # a bool tensor squares to int64, as torch's pow(x, 2)
    lambda m: m.square(m.tensor([True, False])),
    # a bool tensor's sign is itself (it raised numpy's UFuncTypeError)
    lambda m: m.sign(m.tensor([True, False])),
    lambda m: m.sgn(m.tensor([True, False])),
])
def test_integer_result_dtypes_as_torch(case):
    torch = pytest.importorskip("torch")
    got, want = case(tp), case(torch)
    assert got.dtype.name == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_sum_of_bfloat16_into_integers_as_torch(dtype):
    torch = pytest.importorskip("torch")
    values = [[-2.5, -0.0, 1.5], [float("nan"), float("inf"), 300.0]]
    got = tp.tensor(values).bfloat16().sum(0, dtype=getattr(tp, dtype))
    want = torch.tensor(values).bfloat16().sum(0, dtype=getattr(torch, dtype))
    assert got.dtype.name == dtype
    assert got.tolist() == want.tolist()


Z = np.array([[1 + 2j, 3 - 1j, 0j], [0.5j, 2 + 0j, -1 - 1j]], dtype=np.complex64)


@pytest.mark.parametrize("case", [
    lambda m, z: m.norm(z), lambda m, z: z.norm(), lambda m, z: z.norm(dim=1), lambda m, z: z.norm(3, 0),
    lambda m, z: z.norm(1), lambda m, z: z.norm(float("inf"), 1), lambda m, z: z.norm(0),
    lambda m, z: m.norm(z, dtype=m.complex128), lambda m, z: m.norm(z, 2.5, 1, True, dtype=m.complex128),
    lambda m, z: m.renorm(z, 2, 0, 1.0), lambda m, z: m.nn.functional.normalize(z),
])
def test_norm_of_complex_is_real_as_torch(case):
    # torch's norm of a complex tensor is the norm of |z|: real dtype (it returned complex64 and a(n)*a(n)
    # summed without conjugating), gradient z/|z| times the real norm's
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        z = m.tensor(Z, requires_grad=True)
        out = case(m, z)
        out.abs().sum().backward()
        results.append((out, z.grad))
    (a, ga), (b, gb) = results
    assert a.dtype.name == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
    if gb is None:  # the count of nonzeros passes no gradient
        assert ga is None
    else:
        np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-5, atol=1e-6)


def test_norm_of_complex_refuses_a_real_dtype_as_torch():
    with pytest.raises(RuntimeError, match="dtype should be complex for complex inputs"):
        tp.norm(tp.tensor(Z), dtype=tp.float64)


@pytest.mark.parametrize("p", [0, 1, 3, 0.5])
def test_norm_records_one_vector_norm_node_as_torch(p):
    # p=1 recorded SumBackward1, other p NormPBackward0, and p=0 no node at all; torch: LinalgVectorNormBackward0
    x = tp.tensor(X, requires_grad=True)
    assert x.norm(p, 1).grad_fn.name() == "LinalgVectorNormBackward0"


SPREAD_CASES = [
    lambda m, x: m.var_mean(x, 1), lambda m, x: m.std_mean(x, 1), lambda m, x: m.var_mean(x),
    lambda m, x: m.std_mean(x), lambda m, x: m.var_mean(x, (0, 1), correction=0, keepdim=True),
    lambda m, x: m.var_mean(x, True), lambda m, x: m.std_mean(x, 0, False), lambda m, x: m.var_mean(x, 0, correction=2),
    lambda m, x: m.std_mean(x, correction=6), lambda m, x: m.var_mean(x, 1, correction=3),
    lambda m, x: m.var(x, 1, correction=3), lambda m, x: m.var(x, correction=7), lambda m, x: m.std(x, correction=7),
    lambda m, x: m.std(x, 1, correction=4), lambda m, x: x.std(1),
]


@pytest.mark.filterwarnings("ignore:.*degrees of freedom")
@pytest.mark.parametrize("case", SPREAD_CASES)
@pytest.mark.parametrize("rows", [[[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]])
def test_var_mean_and_std_mean_are_one_node_with_torchs_gradients(case, rows):
    # var_mean / std_mean recorded two nodes (DivBackward0 / StdBackward0 and MeanBackward1); torch records one
    # VarMeanBackward0 / StdMeanBackward0 for both outputs. Degrees of freedom <= 0 give torch's inf / nan
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        x = m.tensor(rows, requires_grad=True)
        outs = case(m, x)
        outs = outs if isinstance(outs, tuple) else (outs,)
        sum((o * (i + 1.5)).sum() for i, o in enumerate(outs)).backward()
        results.append((outs, x.grad))
    (a, ga), (b, gb) = results
    assert [type(o.grad_fn).__name__ for o in a] == [type(o.grad_fn).__name__ for o in b]
    assert (a[0].grad_fn is a[-1].grad_fn) == (b[0].grad_fn is b[-1].grad_fn)
    for o, p in zip(a, b):
        np.testing.assert_allclose(o.detach().numpy(), p.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", [lambda m, z: m.var(z), lambda m, z: m.std(z, 0), lambda m, z: m.var_mean(z),
                                  lambda m, z: m.std_mean(z)])
def test_var_of_complex_is_real_as_torch(case):
    # var summed (x - mean)**2 unconjugated: a complex "variance" (-0.08-1.5j for torch's 2.08)
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        z = m.tensor(Z[0], requires_grad=True)
        outs = case(m, z)
        outs = outs if isinstance(outs, tuple) else (outs,)
        sum(o.abs() * (i + 1.5) for i, o in enumerate(outs)).backward()
        results.append((outs, z.grad))
    (a, ga), (b, gb) = results
    for o, p in zip(a, b):
        assert o.dtype.name == str(p.dtype).split(".")[-1]
        assert type(o.grad_fn).__name__ == type(p.grad_fn).__name__
        np.testing.assert_allclose(o.detach().numpy(), p.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-5)


def test_std_of_float16_is_rooted_before_rounding():
    # a float16 variance over 65504 is inf; torch's std takes the root in float32 first
    x = tp.arange(0, 3000, 3, dtype=tp.float16)
    assert abs(x.std().item() - 866.5) < 1 and abs(tp.std_mean(x)[0].item() - 866.5) < 1


def test_var_mean_refuses_integers_with_torchs_phrase():
    with pytest.raises(RuntimeError, match="var_mean only support floating point and complex dtypes"):
        tp.var_mean(tp.tensor([1, 2]))


@pytest.mark.parametrize("p", [0, 1, 2, 3, float("inf")])
def test_cdist_ties_and_empty_rows_as_torch(p):
    # p=inf gave tied coordinates a share of the gradient (amax's rule); torch's cdist gives each the whole
    # of it. No coordinates at all gave an IndexError for p=inf; torch's distances are 0
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        a = m.tensor([[1.0, -3.0, 3.0], [2.0, 2.0, -1.0]], requires_grad=True)
        b = m.tensor([[0.0, 0.0, 0.0], [1.0, -3.0, 3.0]], requires_grad=True)
        out = m.cdist(a, b, p=p)
        (out * m.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        empty = m.cdist(m.zeros(2, 0), m.zeros(3, 0), p=p)
        results.append((out, a.grad, b.grad, empty))
    (out, ga, gb, empty), (tout, tga, tgb, tempty) = results
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6)
    for g, tg in ((ga, tga), (gb, tgb)):
        np.testing.assert_allclose(np.zeros((2, 3)) if g is None else g.numpy(), tg.numpy(), rtol=1e-6, atol=1e-7)
    assert tuple(empty.shape) == tuple(tempty.shape) and not empty.numpy().any()


@pytest.mark.parametrize("case", [lambda m, x: m.var_mean(x, 1), lambda m, x: m.std_mean(x),
                                  lambda m, x: m.std_mean(x, 1, correction=0), lambda m, x: m.std_mean(x, 0, True)])
def test_var_mean_and_std_mean_second_derivatives_match_torch(case):
    # std_mean's backward read its std as a constant, so a gradient of its gradient lost the std's own term
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        x = m.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], dtype=m.float64, requires_grad=True)
        outs = case(m, x)
        total = sum((o * (i + 2) * m.arange(1.0, 1 + o.numel(), dtype=m.float64).reshape(o.shape)).sum()
                    for i, o in enumerate(outs))
        (g,) = m.autograd.grad(total, x, create_graph=True)
        (gg,) = m.autograd.grad((g * g * g).sum(), x)
        results.append(gg.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", [lambda m, x: m.var_mean(x), lambda m, x: m.std_mean(x, 1), lambda m, x: (m.var(x, 0),),
                                  lambda m, x: (m.std(x),)])
def test_narrow_spreads_are_one_node_as_torch(case, dtype):
    # a float16 var went through float32 and back: ToCopyBackward0 on top of the variance's node
    torch = pytest.importorskip("torch")
    results = []
    for m in (tp, torch):
        x = m.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], dtype=getattr(m, dtype), requires_grad=True)
        outs = case(m, x)
        sum((o * (i + 1.5)).sum() for i, o in enumerate(outs)).backward()
        results.append(([type(o.grad_fn).__name__ for o in outs], [o.detach().float().numpy() for o in outs],
                        x.grad.float().numpy()))
    (names, values, grad), (tnames, tvalues, tgrad) = results
    assert names == tnames
    for v, tv in zip(values, tvalues):
        np.testing.assert_array_equal(v, tv)
    np.testing.assert_allclose(grad, tgrad, rtol=2e-3)
