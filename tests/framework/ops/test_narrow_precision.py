"""Reductions and scans accumulate like torch: float16/bfloat16 in float32 (cast back), float32 scans in
float64, so long sums neither stall (float16 stops counting at 2048) nor overflow (300**2 + 400**2)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")

NARROW = ["float16", "bfloat16"]
# each case: (module, dtype) -> result; inputs stay inside the dtype's range, intermediates do not
CASES = {
    "cumsum_ones": lambda m, d: m.cumsum(m.ones(3000, dtype=d), 0),
    "cumprod": lambda m, d: m.cumprod(m.full((300,), 1.01, dtype=d), 0),
    "sum": lambda m, d: m.ones(5000, dtype=d).sum(),
    "sum_dim": lambda m, d: m.ones(3, 3000, dtype=d).sum(1),
    "mean": lambda m, d: m.full((4000,), 300.0, dtype=d).mean(),
    "var": lambda m, d: m.arange(0, 3000, 3, dtype=d).var(),
    "std": lambda m, d: m.arange(0, 3000, 3, dtype=d).std(0),
    "norm": lambda m, d: m.tensor([300.0, 400.0], dtype=d).norm(),
    "norm_p3": lambda m, d: m.tensor([300.0, 400.0], dtype=d).norm(3),
    # (prod is left out: torch's CPU prod of float16 rounds every step, 300 * 400 / 512 is inf there)
    "logsumexp": lambda m, d: m.logsumexp(m.full((3000,), 2.0, dtype=d), 0),
    "softmax": lambda m, d: m.softmax(m.linspace(0, 3, 3000, dtype=d), 0),
    "log_softmax": lambda m, d: m.log_softmax(m.linspace(0, 3, 3000, dtype=d), 0),
    "F.softmax": lambda m, d: m.nn.functional.softmax(m.linspace(0, 3, 3000, dtype=d), 0),
    "cosine_similarity": lambda m, d: m.nn.functional.cosine_similarity(
        m.full((1, 4), 300.0, dtype=d), m.full((1, 4), 400.0, dtype=d)),
    "normalize": lambda m, d: m.nn.functional.normalize(m.tensor([[300.0, 400.0]], dtype=d)),
    "einsum": lambda m, d: m.einsum("ij,ij->i", m.full((2, 3000), 300.0, dtype=d), m.ones(2, 3000, dtype=d)),
    "group_norm": lambda m, d: m.nn.functional.group_norm(_offset(m, d), 2),
    "instance_norm": lambda m, d: m.nn.functional.instance_norm(_offset(m, d)),
}


def _offset(m, dtype):
    """(2, 4, 64) values around 1000: their float16 sums overflow, their float16 mean loses the spread."""
    x = np.random.default_rng(0).normal(1000, 1, (2, 4, 64)).astype(np.float32)
    return m.tensor(x).to(dtype)


def _tol(dtype):
    return {"float16": 2 ** -10, "bfloat16": 2 ** -7}[dtype]


@pytest.mark.parametrize("dtype", NARROW)
@pytest.mark.parametrize("case", CASES)
def test_narrow_floats_accumulate_in_float32(case, dtype):
    got = CASES[case](tp, getattr(tp, dtype))
    want = CASES[case](torch, getattr(torch, dtype))
    assert got.dtype.name == str(want.dtype).split(".")[1]
    np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=2 * _tol(dtype), atol=1e-3)


@pytest.mark.parametrize("case", ["sum", "softmax", "norm", "var", "cumsum"])
def test_float16_gradients_match_torch(case):
    fns = {"sum": lambda m, x: x.sum(), "softmax": lambda m, x: m.softmax(x, 0)[0],
           "norm": lambda m, x: x.norm(), "var": lambda m, x: x.var(), "cumsum": lambda m, x: m.cumsum(x, 0)[-1]}
    data = np.linspace(100, 400, 2000).astype(np.float16)
    grads = []
    for m in (tp, torch):
        x = m.tensor(data, requires_grad=True)
        fns[case](m, x).backward()
        assert x.grad.dtype == x.dtype
        grads.append(x.grad.float().numpy())
    # torch subtracts a float16-rounded mean in var's gradient: compare to a float16 step of the largest
    np.testing.assert_allclose(grads[0], grads[1], rtol=2e-3, atol=2e-3 * np.abs(grads[1]).max())


def test_float32_cumsum_does_not_drift():
    got = tp.cumsum(tp.full((10 ** 6,), 0.1), 0)
    want = torch.cumsum(torch.full((10 ** 6,), 0.1), 0)
    assert got.dtype == tp.float32
    np.testing.assert_allclose(got.numpy()[::9973], want.numpy()[::9973], rtol=1e-6)
    assert got[-1].item() == pytest.approx(100000.0, rel=1e-6)


def test_float32_cumprod_accumulates_in_float64():
    x = np.random.default_rng(0).uniform(0.999, 1.001, 10 ** 5).astype(np.float32)
    got = tp.cumprod(tp.tensor(x), 0).numpy()
    want = torch.cumprod(torch.tensor(x), 0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
