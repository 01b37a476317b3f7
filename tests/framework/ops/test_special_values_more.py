"""Gradients at NaN and inf that torch defines on purpose: sign(NaN) is 0 (abs, p=1 and p=inf norms, l1
loss), max() and inf-norms send a NaN result's gradient to the NaN elements; relu, elu, prelu and
threshold test x <= 0, so NaN passes (prelu's gradient at 0 is its weight, threshold keeps NaN; torch's
hardtanh and hardswish differ between their vectorised and scalar loops there: left alone); an ignored
cross-entropy or nll row holding inf gives NaN / adds 0; and the reductions' special rows (median of bool,
float16 prod overflow, var/prod/cumprod gradients where inf and 0 share a row). Each compared with torch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
ROW = np.array([[NAN, 1.0, -2.0, 0.0], [NAN, 3.0, NAN, -3.0], [1.0, -1.0, 2.0, -2.0]])
INF_ZERO = np.array([[INF, 0.0, 2.0], [2.0, 0.0, INF], [0.0, INF, 0.0], [NAN, 0.0, 3.0], [1.0, 2.0, 3.0],
                     [-INF, 0.0, 1.0], [2.0, 0.0, 3.0]])
CASES = {
    # name: (fn(module, x), input rows)
    "abs": (lambda m, x: x.abs(), ROW),
    "sign": (lambda m, x: m.sign(x) + x, ROW),
    "norm_p1": (lambda m, x: x.norm(1, dim=1), ROW),
    "norm_inf": (lambda m, x: x.norm(INF, dim=1), ROW),
    "norm_-inf": (lambda m, x: x.norm(-INF, dim=1), ROW),
    "norm_inf_all": (lambda m, x: x[0].norm(INF), ROW),
    "vector_norm_inf": (lambda m, x: m.linalg.vector_norm(x, INF, dim=1), ROW),
    "vector_norm_p1": (lambda m, x: m.linalg.vector_norm(x, 1, dim=1), ROW),
    "l1_loss": (lambda m, x: m.nn.functional.l1_loss(x, m.zeros_like(x)), ROW),
    "pairwise_distance_p1": (lambda m, x: m.nn.functional.pairwise_distance(x, m.zeros_like(x), p=1), ROW),
    "max_all": (lambda m, x: x[1].max(), ROW),
    "min_all": (lambda m, x: x[1].min(), ROW),
    "relu": (lambda m, x: m.relu(x), ROW),
    "F.relu": (lambda m, x: m.nn.functional.relu(x), ROW),
    "hardsigmoid": (lambda m, x: m.nn.functional.hardsigmoid(x), ROW),
    "elu": (lambda m, x: m.nn.functional.elu(x), ROW),
    "prelu_at_zero_and_nan": (lambda m, x: m.nn.functional.prelu(x, m.tensor([0.25], dtype=x.dtype)), ROW),
    "threshold": (lambda m, x: m.nn.functional.threshold(x, 0.5, -1.0), ROW),
    "nll_loss_ignored_inf": (lambda m, x: m.nn.functional.nll_loss(x[:3], m.tensor([-100, 1, 0])), INF_ZERO),
    "clamp": (lambda m, x: m.clamp(x, -1, 0.5), ROW),
    "prod_dim": (lambda m, x: x.prod(1), INF_ZERO),
    "prod_all_inf_zero": (lambda m, x: x[0].prod(), INF_ZERO),
    "prod_all_nan_zero": (lambda m, x: x[3].prod(), INF_ZERO),
    "prod_all_no_zero": (lambda m, x: x[4].prod(), INF_ZERO),
    "prod_all_two_zeros": (lambda m, x: x[2].prod(), INF_ZERO),
    "cumprod": (lambda m, x: m.cumprod(x, 1), INF_ZERO),
    "var_inf": (lambda m, x: x.var(1), INF_ZERO),
    "var_all_inf": (lambda m, x: x[0].var(), INF_ZERO),
    "var_mean_inf": (lambda m, x: m.var_mean(x, 1)[0], INF_ZERO),
}


def _run(m, fn, data):
    x = m.tensor(data, requires_grad=True)
    out = fn(m, x)
    out.backward(m.ones_like(out))
    return out.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_at_nan_and_inf_match_torch(case):
    fn, data = CASES[case]
    got, want = _run(tp, fn, data), _run(torch, fn, data)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, err_msg="value")
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, err_msg="gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [{}, {"weight": [1.0, 2.0, 0.5]}, {"label_smoothing": 0.1}])
@pytest.mark.parametrize("special", [INF, NAN, -INF])
def test_cross_entropy_ignored_rows_with_inf_match_torch(special, options, reduction):
    data = [[special, 0.0, 1.0], [1.0, 2.0, 3.0], [0.5, special, 0.0]]
    out = []
    for m in (tp, torch):
        x = m.tensor(data, requires_grad=True)
        kw = {k: m.tensor(v) if k == "weight" else v for k, v in options.items()}
        loss = m.nn.functional.cross_entropy(x, m.tensor([-100, 1, 0]), reduction=reduction, **kw)
        loss.backward(m.ones_like(loss))
        out.append((loss.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6, err_msg="loss")
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6, atol=1e-7, err_msg="gradient")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", ["overflow", "underflow", "rows", "columns", "long"])
def test_narrow_prod_rounds_each_step_like_torch(case, dtype):
    """torch's prod of float16/bfloat16 rounds every partial product: 300 * 400 * 2**-9 is inf, the
    product of linspace(0.5, 1.6, 300) underflows to 0 (float32 accumulation gives 0.61)."""
    data = {"overflow": np.array([300.0, 400.0, 2 ** -9, 4.0]),
            "underflow": np.linspace(0.5, 1.6, 300),
            "rows": np.linspace(0.5, 1.6, 300).reshape(3, 100),
            "columns": np.linspace(0.5, 1.6, 300).reshape(100, 3),
            "long": np.random.default_rng(0).uniform(0.97, 1.03, 5000)}[case]
    for fn in (lambda t: t.prod(), lambda t: t.prod(0), lambda t: t.prod(-1, keepdim=True)):
        got = fn(tp.tensor(data).to(getattr(tp, dtype)))
        want = fn(torch.tensor(data).to(getattr(torch, dtype)))
        assert got.dtype.name == dtype
        np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=8 * 2.0 ** -8)


def test_median_of_bool_is_refused_like_torch():
    for m in (tp, torch):
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            m.tensor([True, False, True]).median()
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            m.tensor([True, False, True]).median(0)


@pytest.mark.parametrize("call, error", [(lambda t: t.kthvalue(1), NotImplementedError),
                                         (lambda t: t.topk(1), RuntimeError)])
def test_bool_selection_is_refused_like_torch(call, error):
    phrase = {NotImplementedError: "not implemented for 'Bool'", RuntimeError: "topk does not support bool"}[error]
    for m in (tp, torch):
        with pytest.raises(error, match=phrase):
            call(m.tensor([True, False, True]))
