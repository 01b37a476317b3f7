"""nn.utils.clip_grad_norm_ / clip_grad_value_ / get_total_norm / clip_grads_with_norm_ against torch: the
returned norm, its dtype, the clipped gradients, errors and warnings, for every norm order (2, 1, 3, 0.5,
inf, -inf, 0), NaN and inf gradients, non-contiguous and half-precision gradients."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def _params(lib, kind="plain"):
    """A 0-d, a 1-d, a 2-d and a transposed (non-contiguous) gradient, and a parameter with no gradient."""
    rng = np.random.default_rng(7)
    params = []
    for i, shape in enumerate([(), (5,), (3, 4), (4, 3)]):
        p = lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        g = (rng.standard_normal(shape) * 3).astype(np.float32)
        if kind == "nan" and i == 2:
            g[0, 0] = np.nan
        if kind == "inf" and i == 1:
            g[1] = np.inf
        p.grad = lib.tensor(np.ascontiguousarray(g.T)).t() if i == 3 else lib.tensor(g)
        params.append(p)
    params.append(lib.tensor(np.ones(2, dtype=np.float32), requires_grad=True))
    return params


def _outcome(lib, fn, kind="plain"):
    params = _params(lib, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(lib, params)
            result = (None if out is None else float(out), None if out is None else str(out.dtype).split(".")[-1])
        except RuntimeError as exc:
            result = ("RuntimeError", str(exc)[:60])
    grads = [None if p.grad is None else p.grad.detach().numpy() for p in params]
    return result, grads, [str(w.message) for w in caught]


def _assert_same(fn, kind="plain"):
    (ours, our_grads, our_warnings), (theirs, their_grads, their_warnings) = \
        _outcome(tensorplug, fn, kind), _outcome(torch, fn, kind)
    if isinstance(theirs[0], float):
        assert ours[1] == theirs[1]
        assert ours[0] == pytest.approx(theirs[0], rel=1e-5, nan_ok=True)
    else:
        assert ours == theirs
    for a, b in zip(our_grads, their_grads):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True)
    assert our_warnings == their_warnings


ORDERS = [2, 1, 3, 0.5, math.inf, -math.inf, "inf", 0]


@pytest.mark.parametrize("kind", ["plain", "nan", "inf"])
@pytest.mark.parametrize("error_if_nonfinite", [False, True])
@pytest.mark.parametrize("norm_type", ORDERS, ids=str)
def test_clip_grad_norm_follows_torch(norm_type, error_if_nonfinite, kind):
    # before: -inf was the least of the per-tensor maxima, order 0 divided by zero, a NaN gradient left every
    # gradient unscaled (torch's NaN factor makes them NaN) and the inf-norm skipped NaN
    _assert_same(lambda lib, ps: lib.nn.utils.clip_grad_norm_(ps, 1.0, norm_type=norm_type,
                                                               error_if_nonfinite=error_if_nonfinite), kind)


@pytest.mark.parametrize("max_norm", [0.0, 100.0])
@pytest.mark.parametrize("foreach", [None, False, True])
def test_clip_grad_norm_options_follow_torch(max_norm, foreach):
    _assert_same(lambda lib, ps: lib.nn.utils.clip_grad_norm_(ps, max_norm, foreach=foreach))


@pytest.mark.parametrize("clip_value", [0.5, 2, 0.0, -1.0])
@pytest.mark.parametrize("kind", ["plain", "nan", "inf"])
def test_clip_grad_value_follows_torch(clip_value, kind):
    _assert_same(lambda lib, ps: lib.nn.utils.clip_grad_value_(ps, clip_value), kind)


def test_get_total_norm_and_clip_grads_with_norm_follow_torch():
    _assert_same(lambda lib, ps: lib.nn.utils.get_total_norm([p.grad for p in ps[:-1]], 3.0))
    _assert_same(lambda lib, ps: lib.nn.utils.clip_grads_with_norm_(ps, 1.0, lib.tensor(10.0)))


def test_empty_generator_warns_as_torch():
    _assert_same(lambda lib, ps: lib.nn.utils.clip_grad_norm_((p for p in []), 1.0))


def test_half_precision_and_mixed_dtypes_follow_torch():
    def run(lib):
        h = lib.ones(3, dtype=lib.float16, requires_grad=True)
        h.grad = lib.full((3,), 100.0, dtype=lib.float16)  # 100**3 overflows float16
        b = lib.ones(3, dtype=lib.bfloat16, requires_grad=True)
        b.grad = lib.full((3,), 300.0, dtype=lib.bfloat16)
        d = lib.ones(2, dtype=lib.float64, requires_grad=True)
        d.grad = lib.full((2,), 0.5, dtype=lib.float64)
        total = lib.nn.utils.clip_grad_norm_([h, b, d], 1.0, norm_type=3)
        return float(total), str(total.dtype).split(".")[-1], [x.grad.float().tolist() for x in (h, b, d)]

    ours, theirs = run(tensorplug), run(torch)
    assert ours[1] == theirs[1] == "float64"
    assert ours[0] == pytest.approx(theirs[0], rel=1e-6)
    np.testing.assert_allclose(np.concatenate(ours[2]), np.concatenate(theirs[2]), rtol=1e-6)
