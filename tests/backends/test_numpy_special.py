"""The NumPy backend's erf and fused GELU (backends/tensorplug_numpy/_special.py) against math.erf and torch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tensorplug
import tensorplug.nn.functional as F
from call_spy import record_calls

_special = pytest.importorskip("tensorplug_numpy._special")
# x * x overflows for |x| > 1e154 on the way to erf = +-1 (the backend ignores such warnings, as torch)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TINY = np.array([5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-30, 1e-8, 2.0 ** -28])
SPECIAL = np.array([0.0, np.inf, np.nan, 0.84375, 1.25, 2.5, 6.0, 5.9, 1e308, 27.0])


def _points64():
    rng = np.random.default_rng(0)
    pos = np.concatenate([rng.uniform(0, 7, 20000), np.linspace(0, 6.5, 6501), 10.0 ** rng.uniform(-320, 1, 3000),
                          np.nextafter(SPECIAL[3:8], 0), TINY, SPECIAL])
    return np.concatenate([pos, -pos])


def _ulps(got, want):
    """Distance in units in the last place of ``want`` (nan where both are nan)."""
    both_nan = np.isnan(got) & np.isnan(want)
    spacing = np.spacing(np.abs(want).astype(want.dtype))
    return np.where(both_nan, 0, np.abs(got.astype(np.float64) - want) / spacing)


def test_float64_erf_is_within_one_ulp_of_math_erf_everywhere():
    x = _points64()
    want = np.array([math.erf(v) for v in x])
    got = _special.erf(x)
    assert got.dtype == np.float64
    assert _ulps(got, want).max() <= 1
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays -0.0, -inf gives -1


def test_float32_erf_is_within_two_ulp_of_the_rounded_value():
    x = _points64()
    x = x[np.abs(x) < 1e30].astype(np.float32)
    want = np.array([math.erf(float(v)) for v in x]).astype(np.float32)
    got = _special.erf(x)
    assert got.dtype == np.float32
    assert _ulps(got, want).max() <= 2


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_erf_is_float32_erf_rounded_as_torch(dtype):
    torch = pytest.importorskip("torch")
    if not hasattr(tensorplug, dtype):
        pytest.skip(f"no {dtype} in this tensorplug")
    theirs = torch.linspace(-5, 5, 2001).to(getattr(torch, dtype))
    x = tensorplug.tensor(theirs.float().numpy()).to(getattr(tensorplug, dtype))
    got = x.erf()
    assert got.dtype == x.dtype
    want = torch.tensor([math.erf(v) for v in theirs.double().tolist()]).to(theirs.dtype)
    # torch's float32 erf is good to 1.5e-7: a value on a rounding boundary may land one ulp away
    w = want.float().abs().numpy()
    one_ulp = 2.0 ** (np.floor(np.log2(np.where(w > 0, w, 1))) - (7 if dtype == "bfloat16" else 10))
    assert (np.abs(got.float().numpy() - want.float().numpy()) <= one_ulp).all()
    assert (np.abs(got.float().numpy() - theirs.erf().float().numpy()) <= one_ulp + 1.5e-7).all()


def test_shapes_are_kept_and_results_are_arrays():
    assert isinstance(_special.erf(np.array(0.5)), np.ndarray)
    assert _special.erf(np.array(0.5, np.float32)).shape == ()
    assert _special.erf(np.zeros((0, 3), np.float32)).shape == (0, 3)
    x = np.random.default_rng(1).standard_normal((6, 5)).T  # not contiguous
    np.testing.assert_array_equal(_special.erf(x), _special.erf(x.copy()))


def test_blocks_and_thread_parts_do_not_change_a_bit(monkeypatch):
    x = (np.random.default_rng(2).standard_normal(300_001) * 3).astype(np.float32)
    whole = _special.erf(x), _special.gelu(x, "none")[0]
    monkeypatch.setattr(_special, "BLOCK", 1000)
    monkeypatch.setattr(_special, "SPLIT_MIN", 1 << 40)
    one_part = _special.erf(x), _special.gelu(x, "none")[0]
    for a, b in zip(whole, one_part):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def calls(monkeypatch):
    """The real fused GELU functions, with each call recorded (the test must see the fused path taken)."""
    return record_calls(monkeypatch, tensorplug.get_backend("numpy"), ("fused_gelu", "fused_gelu_backward"))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_gelu_matches_torch(calls, approximate, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    # (no +-inf: torch's float32 tanh kernel gives tanh(inf) = nan)
    x = np.concatenate([rng.standard_normal(5000) * 3, [0.0, -0.0, 9.0, -9.0, 40.0, -40.0, np.nan]])
    x = x.astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    ours = tensorplug.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    a = F.gelu(ours, approximate=approximate)
    b = torch.nn.functional.gelu(theirs, approximate=approximate)
    a.backward(tensorplug.tensor(g))
    b.backward(torch.tensor(g))
    # torch's float32 erf is good to 1.5e-7 absolute, so its float32 GELU gradient to a few 1e-6
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)
    assert calls == [("fused_gelu", True), ("fused_gelu_backward", True)]
    if dtype == "float32" and approximate == "none":  # and ours is closer to the exact values than that
        exact = torch.tensor(x.astype("float64"), requires_grad=True)
        torch.nn.functional.gelu(exact).backward(torch.tensor(g.astype("float64")))
        np.testing.assert_allclose(ours.grad.numpy(), exact.grad.numpy(), rtol=1e-6, atol=5e-7)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward_matches_torch(approximate):
    torch = pytest.importorskip("torch")
    x = np.linspace(-4, 4, 41)
    ours = tensorplug.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (ga,) = tensorplug.autograd.grad(F.gelu(ours, approximate=approximate).sum(), ours, create_graph=True)
    (gb,) = torch.autograd.grad(torch.nn.functional.gelu(theirs, approximate=approximate).sum(), theirs,
                                create_graph=True)
    ga.sum().backward()
    gb.sum().backward()
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_coefficients_are_the_chebyshev_interpolants_they_claim_to_be():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50

    def cheb(f, a, b, n):
        return tuple(float(c) for c in mp.chebyfit(f, [a, b], n + 1))

    ratio = lambda t: mp.erf(mp.sqrt(t)) / mp.sqrt(t) if t > 0 else 2 / mp.sqrt(mp.pi)  # noqa: E731
    scaled = lambda x: mp.erfc(x) * mp.exp(x * x)  # noqa: E731
    assert _special._SMALL == cheb(lambda t: ratio(t) - 1, 0, mp.mpf(0.84375) ** 2, 11)
    assert _special._ERF1 == float(mp.erf(1))
    assert _special._NEAR_ONE == cheb(lambda s: mp.erf(1 + s) - mp.mpf(_special._ERF1), -0.15625, 0.25, 13)
    assert _special._TAIL_A == cheb(lambda z: scaled(1.875 + 0.625 * z), -1, 1, 17)
    assert _special._TAIL_B == cheb(lambda z: scaled(4.25 + 1.75 * z), -1, 1, 18)
    half = _special._F32_HALF
    assert _special._F32_POLY == cheb(lambda z: ratio(half + half * z), -1, 1, 8)
