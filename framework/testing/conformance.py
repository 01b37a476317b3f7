"""The backend conformance checks: every named backend method and the Array API
primitives the frontend uses, compared with NumPy as the reference.

Each check is a function ``check(b)`` of a Backend instance that raises
``ConformanceError`` on a wrong answer. NumPy is the reference here (this is a
test kit: it never runs on a compute path of tensorplug itself).
"""
from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["ConformanceError", "CHECKS", "check"]

CHECKS = {}


class ConformanceError(AssertionError):
    """A backend gave a wrong answer (the message says which call and what differed)."""


def check(fn):
    """Register ``fn`` (named ``check_<what>``) as a conformance check."""
    CHECKS[fn.__name__[len("check_"):]] = fn
    return fn


# helpers ---------------------------------------------------------------------------

def host(b, array):
    """The backend array as a NumPy array."""
    return np.asarray(b.to_numpy(array))


def dev(b, ndarray):
    """A NumPy array put on the backend."""
    return b.from_numpy(np.ascontiguousarray(ndarray) if np.ndim(ndarray) else np.asarray(ndarray))


def same(b, array, expected, what, rtol=1e-6, atol=1e-7, dtype=True):
    """Check values, shape (and dtype) of a backend array against a NumPy array."""
    got = host(b, array)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise ConformanceError(f"{what}: shape {got.shape}, expected {expected.shape}")
    if dtype and got.dtype != expected.dtype:
        raise ConformanceError(f"{what}: dtype {got.dtype}, expected {expected.dtype}")
    if expected.dtype.kind in "fc":
        ok = np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        ok = np.array_equal(got, expected)
    if not ok:
        raise ConformanceError(f"{what}: got {got!r}, expected {expected!r}")


def _true(cond, what):
    if not cond:
        raise ConformanceError(what)


def _dt(name):
    from .. import dtypes
    return dtypes.BY_NAME[name]


_RNG = np.random.default_rng(1234)
_A = _RNG.standard_normal((3, 4)).astype("float32")
_B = _RNG.standard_normal((4, 5)).astype("float32")
_POS = (np.abs(_A) + 0.1).astype("float32")


# dtypes, creation, conversion ------------------------------------------------------

@check
def check_dtypes(b):
    """Every dtype the backend declares round-trips through zeros/astype/dtype_of/to_numpy."""
    names = [d.name for d in b._native] if hasattr(b, "_native") else ["float32", "float64", "int64", "bool"]
    for required in ("float32", "int64", "bool"):
        _true(required in names, f"backend must support {required}")
    for name in names:
        dt = _dt(name)
        z = b.zeros((2, 3), dt)
        _true(b.dtype_of(z) is dt, f"dtype_of(zeros(..., {name})) is {b.dtype_of(z)}")
        same(b, z, np.zeros((2, 3), name), f"zeros {name}")
        c = b.astype(dev(b, np.arange(6).reshape(2, 3)), dt)
        same(b, c, np.arange(6).reshape(2, 3).astype(name), f"astype -> {name}")


@check
def check_creation(b):
    f32, i64 = _dt("float32"), _dt("int64")
    _true(tuple(b.empty((2, 0, 3), f32).shape) == (2, 0, 3), "empty((2, 0, 3)) shape")
    same(b, b.ones((2, 2), f32), np.ones((2, 2), "float32"), "ones")
    same(b, b.full((2, 3), 2.5, f32), np.full((2, 3), 2.5, "float32"), "full")
    same(b, b.full((), 7, i64), np.full((), 7, "int64"), "full 0-d")
    same(b, b.arange(0, 10, 3, i64), np.arange(0, 10, 3), "arange int")
    same(b, b.arange(0.0, 1.0, 0.25, f32), np.arange(0, 1, 0.25, dtype="float32"), "arange float")
    same(b, b.linspace(0.0, 1.0, 5, f32), np.linspace(0, 1, 5, dtype="float32"), "linspace")
    same(b, b.eye(3, 4, f32), np.eye(3, 4, dtype="float32"), "eye")
    same(b, b.asarray([[1, 2], [3, 4]], _dt("float64")), np.array([[1, 2], [3, 4]], "float64"), "asarray list")
    same(b, b.asarray(3.5, f32), np.float32(3.5), "asarray scalar")


@check
def check_host_roundtrip(b):
    for arr in (_A, np.arange(5), np.array([True, False]), np.float32(2.0) * np.ones(()), np.zeros((0, 3), "float32")):
        same(b, dev(b, arr), arr, f"from_numpy/to_numpy {arr.dtype}{arr.shape}")
    _true(host(b, dev(b, np.ones((), "float32"))).ndim == 0, "0-d arrays stay 0-d through the host")


@check
def check_copy_and_view(b):
    x = dev(b, np.arange(6, dtype="float32"))
    y = b.copy(x)
    b.setitem(y, (0,), 100.0)
    same(b, x, np.arange(6, dtype="float32"), "copy() must not share memory")
    v = b.view(x, (2, 3))
    _true(v is not None, "view of a contiguous array must succeed")
    same(b, v, np.arange(6, dtype="float32").reshape(2, 3), "view values")
    t = b.xp.permute_dims(b.view(x, (2, 3)), (1, 0))
    _true(b.view(t, (6,)) is None, "view of a transposed array must return None (needs a copy)")


@check
def check_zero_dim_results_are_arrays(b):
    """0-d results are arrays that take in-place writes, never immutable scalars (NumPy's np.generic):
    a 0-d tensor's storage is shared by its views, ``.data`` and ``detach()``, as any tensor's."""
    f32, f64 = _dt("float32"), _dt("float64")
    x = dev(b, np.arange(3, dtype="float32"))
    zero_d = dev(b, np.ones((), "float32"))
    results = {
        "asarray(number)": b.asarray(2.0, f32), "zeros(())": b.zeros((), f32), "full((), v)": b.full((), 2.0, f32),
        "copy(0-d)": b.copy(zero_d), "astype(0-d)": b.astype(zero_d, f64), "view(0-d, ())": b.view(zero_d, ()),
        "getitem(x, (1,))": b.getitem(x, (1,)), "getitem(x, (1, ...))": b.getitem(x, (1, ...)),
        "einsum('i,i->')": b.einsum("i,i->", x, x), "from_numpy(0-d)": b.from_numpy(np.ones((), "float32")),
    }
    for what, out in results.items():
        _true(getattr(out, "shape", None) == (), f"{what}: expected a 0-d array, got {type(out).__name__}")
        try:
            b.setitem(out, (...,), 7.0)
        except (TypeError, ValueError) as exc:
            raise ConformanceError(f"{what}: a 0-d result must take in-place writes; got "
                                   f"{type(out).__name__}, which refuses them ({exc})") from None
        same(b, out, np.asarray(7.0, host(b, out).dtype), f"{what} after an in-place write")
    view = b.getitem(x, (1, ...))
    b.setitem(view, (...,), 5.0)
    same(b, x, np.array([0, 5, 2], "float32"), "getitem(x, (1, ...)) must be a view (the frontend's x[1])")


@check
def check_dlpack(b):
    x = dev(b, _A)
    same(b, b.from_dlpack(x), _A, "from_dlpack of the backend's own array")


# indexing ----------------------------------------------------------------------------

@check
def check_getitem_setitem(b):
    x = dev(b, _A)
    same(b, b.getitem(x, (slice(1, 3), 0)), _A[1:3, 0], "getitem slices")
    same(b, b.getitem(x, (slice(None, None, 2), ...)), _A[::2], "getitem step + ellipsis")
    idx = np.array([2, 0, 2])
    same(b, b.getitem(x, (dev(b, idx), ...)), _A[idx], "getitem integer array")
    mask = _A[:, 0] > 0
    same(b, b.getitem(x, (dev(b, mask), ...)), _A[mask], "getitem bool mask")
    same(b, b.getitem(x, (None, 1)), _A[None, 1], "getitem None")
    y = b.copy(x)
    b.setitem(y, (slice(0, 2), slice(None)), 0.0)
    e = _A.copy()
    e[0:2] = 0
    same(b, y, e, "setitem scalar")
    b.setitem(y, (1,), dev(b, np.ones(4, "float32")))
    e[1] = 1
    same(b, y, e, "setitem array")


@check
def check_scatter_add(b):
    for name in ("float32", "float64", "int64"):
        t = b.zeros((5,), _dt(name))
        idx = np.array([0, 1, 1, 3, 3, 3])
        b.scatter_add(t, (dev(b, idx),), dev(b, np.ones(6, name)))
        e = np.zeros(5, name)
        np.add.at(e, idx, 1)
        same(b, t, e, f"scatter_add {name} with repeated indices")
    t = b.zeros((3, 4), _dt("float32"))
    rows = np.array([2, 0, 2])
    vals = _RNG.standard_normal((3, 4)).astype("float32")
    b.scatter_add(t, (dev(b, rows),), dev(b, vals))
    e = np.zeros((3, 4), "float32")
    np.add.at(e, rows, vals)
    same(b, t, e, "scatter_add rows", rtol=1e-5)


@check
def check_along_axis(b):
    x = dev(b, _A)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    same(b, b.take_along_axis(x, dev(b, idx), 1), np.take_along_axis(_A, idx, 1), "take_along_axis")
    vals = np.full((3, 2), 9.0, "float32")
    e = _A.copy()
    np.put_along_axis(e, idx, vals, 1)
    same(b, b.put_along_axis(x, dev(b, idx), dev(b, vals), 1), e, "put_along_axis")
    same(b, x, _A, "put_along_axis must not modify its input")
    e = _A.copy()
    np.add.at(e, (np.arange(3)[:, None], idx), vals)
    same(b, b.add_along_axis(x, dev(b, idx), dev(b, vals), 1), e, "add_along_axis (repeats accumulate)", rtol=1e-5)
    idx0 = np.array([[2, 0, 0, 1]])
    e = _A.copy()
    np.add.at(e, (idx0, np.arange(4)[None, :]), 1.0)
    same(b, b.add_along_axis(x, dev(b, idx0), dev(b, np.ones((1, 4), "float32")), 0), e, "add_along_axis axis 0")


# math the standard lacks ----------------------------------------------------------------

@check
def check_erf(b):
    for name, tol in (("float32", 1e-6), ("float64", 1e-12)):
        v = np.linspace(-3, 3, 13).astype(name)
        e = np.array([math.erf(float(t)) for t in v], name)
        same(b, b.erf(dev(b, v)), e, f"erf {name}", rtol=tol, atol=tol)


@check
def check_einsum(b):
    x, y = dev(b, _A), dev(b, _B)
    same(b, b.einsum("ij,jk->ik", x, y), np.einsum("ij,jk->ik", _A, _B), "einsum matmul", rtol=1e-5, atol=1e-6)
    same(b, b.einsum("ij->ji", x), _A.T, "einsum transpose")
    same(b, b.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", _A, _A), "einsum rowwise dot", rtol=1e-5)
    same(b, b.einsum("ij->", x), np.einsum("ij->", _A), "einsum total", rtol=1e-5)


@check
def check_pad(b):
    x = dev(b, _A)
    same(b, b.pad(x, ((1, 0), (2, 1))), np.pad(_A, ((1, 0), (2, 1))), "pad zeros")
    same(b, b.pad(x, ((0, 0), (1, 1)), value=-1.5), np.pad(_A, ((0, 0), (1, 1)), constant_values=-1.5), "pad value")


def _naive_windows(x, window, stride, dilation):
    k = len(window)
    spatial = x.shape[-k:]
    outs = [(n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(spatial, window, stride, dilation)]
    out = np.empty(x.shape[:-k] + tuple(outs) + tuple(window), x.dtype)
    for o in np.ndindex(*outs):
        for w in np.ndindex(*window):
            src = tuple(oi * s + wi * d for oi, wi, s, d in zip(o, w, stride, dilation))
            out[(...,) + o + w] = x[(...,) + src]
    return out


@check
def check_sliding_windows(b):
    x1 = _RNG.standard_normal((2, 3, 9)).astype("float32")
    for window, stride, dilation in (((3,), (1,), (1,)), ((2,), (2,), (3,))):
        got = b.sliding_windows(dev(b, x1), window, stride, dilation)
        same(b, got, _naive_windows(x1, window, stride, dilation), f"sliding_windows 1-D w{window} s{stride} d{dilation}")
    x2 = _RNG.standard_normal((2, 2, 7, 6)).astype("float32")
    for window, stride, dilation in (((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 2))):
        got = b.sliding_windows(dev(b, x2), window, stride, dilation)
        same(b, got, _naive_windows(x2, window, stride, dilation), f"sliding_windows 2-D w{window} s{stride} d{dilation}")


# random numbers ------------------------------------------------------------------------

@check
def check_random(b):
    f32, i64 = _dt("float32"), _dt("int64")
    b.manual_seed(7)
    a = host(b, b.rand((1000,), f32))
    b.manual_seed(7)
    _true(np.array_equal(a, host(b, b.rand((1000,), f32))), "manual_seed must make rand reproducible")
    _true(a.dtype == np.float32 and a.shape == (1000,), f"rand gives {a.dtype}{a.shape}")
    _true(a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.05, "rand must be uniform on [0, 1)")
    n = host(b, b.randn((4000,), _dt("float64")))
    _true(n.dtype == np.float64 and abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1, "randn must be standard normal")
    _true(host(b, b.randn((2, 3), f32)).dtype == np.float32, "randn float32")
    r = host(b, b.randint(-3, 4, (2000,), i64))
    _true(r.dtype == np.int64 and r.min() == -3 and r.max() == 3, "randint must cover [low, high)")
    p = host(b, b.randperm(50, i64))
    _true(np.array_equal(np.sort(p), np.arange(50)), "randperm must be a permutation")
    probs = dev(b, np.array([0.0, 1.0, 0.0, 1.0], "float32"))
    same(b, b.bernoulli(probs, f32), np.array([0, 1, 0, 1], "float32"), "bernoulli at p=0 and p=1")
    e = host(b, b.exponential((2000,), 2.0, f32))
    _true(e.dtype == np.float32 and e.min() >= 0 and abs(e.mean() - 0.5) < 0.06, "exponential(lambd=2) has mean 1/2")


@check
def check_device_services(b):
    _true(b.synchronize() is None, "synchronize() returns None")
    _true(isinstance(b.memory_stats(), dict), "memory_stats() returns a dict")
    _true(str(b.device).split(":")[0] == b.device_type, "backend.device matches device_type")


# the Array API primitives the frontend calls ------------------------------------------------

_UNARY = ("abs", "exp", "expm1", "log", "log1p", "sqrt", "sin", "cos", "tan", "tanh", "sign", "trunc", "floor",
          "ceil", "negative", "square", "isnan", "isinf", "isfinite")
_BINARY = ("add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "logaddexp", "equal",
           "not_equal", "less", "less_equal", "greater", "greater_equal", "atan2")


@check
def check_xp_elementwise(b):
    xp = b.xp
    x, p, y = dev(b, _A), dev(b, _POS), dev(b, _A[::-1].copy())
    for name in _UNARY:
        src, ref = (p, _POS) if name in ("log", "sqrt", "log1p") else (x, _A)
        expect = getattr(np, name)(ref)
        same(b, getattr(xp, name)(src), expect, f"xp.{name}", rtol=1e-5, atol=1e-6)
    for name in _BINARY:
        lhs, rhs = (p, y) if name == "pow" else (x, y)
        ref = getattr(np, {"pow": "power", "atan2": "arctan2"}.get(name, name))(_POS if name == "pow" else _A, _A[::-1])
        same(b, getattr(xp, name)(lhs, rhs), ref, f"xp.{name}", rtol=1e-5, atol=1e-6)
    ints = dev(b, np.array([7, -7, 9], "int64"))
    three = dev(b, np.array([3, 3, -4], "int64"))
    same(b, xp.floor_divide(ints, three), np.floor_divide([7, -7, 9], [3, 3, -4]), "xp.floor_divide int")
    same(b, xp.remainder(ints, three), np.remainder([7, -7, 9], [3, 3, -4]), "xp.remainder int")
    bools = dev(b, np.array([True, False]))
    same(b, xp.logical_not(bools), np.array([False, True]), "xp.logical_not")
    same(b, xp.bitwise_invert(bools), np.array([False, True]), "xp.bitwise_invert bool")
    same(b, xp.where(dev(b, _A > 0), x, y), np.where(_A > 0, _A, _A[::-1]), "xp.where")
    same(b, xp.clip(x, -0.5, 0.5), np.clip(_A, -0.5, 0.5), "xp.clip")


@check
def check_xp_reductions(b):
    xp = b.xp
    x = dev(b, _A)
    for name in ("sum", "mean", "max", "min", "prod", "std", "var"):
        for axis, keep in ((None, False), (1, False), (0, True), ((0, 1), False)):
            ref = getattr(np, name)(_A, axis=axis, keepdims=keep)
            same(b, getattr(xp, name)(x, axis=axis, keepdims=keep), ref, f"xp.{name}(axis={axis}, keepdims={keep})",
                 rtol=1e-5, atol=1e-6)
    for name in ("argmax", "argmin"):
        same(b, getattr(xp, name)(x, axis=1), getattr(np, name)(_A, axis=1), f"xp.{name}", dtype=False)
    mask = dev(b, _A > 0)
    same(b, xp.any(mask, axis=0), np.any(_A > 0, axis=0), "xp.any")
    same(b, xp.all(mask, axis=1), np.all(_A > 0, axis=1), "xp.all")
    same(b, xp.cumulative_sum(x, axis=1), np.cumsum(_A, axis=1), "xp.cumulative_sum", rtol=1e-5, atol=1e-6)
    same(b, xp.sort(x, axis=1), np.sort(_A, axis=1), "xp.sort")
    same(b, xp.argsort(x, axis=1), np.argsort(_A, axis=1, kind="stable"), "xp.argsort", dtype=False)


@check
def check_xp_linalg_and_shapes(b):
    xp = b.xp
    x, y = dev(b, _A), dev(b, _B)
    same(b, xp.matmul(x, y), _A @ _B, "xp.matmul 2-D", rtol=1e-5, atol=1e-5)
    batch = _RNG.standard_normal((2, 3, 4)).astype("float32")
    same(b, xp.matmul(dev(b, batch), y), batch @ _B, "xp.matmul batched", rtol=1e-5, atol=1e-5)
    v = _B[:, 0].copy()
    same(b, xp.matmul(x, dev(b, v)), _A @ v, "xp.matmul matrix-vector", rtol=1e-5, atol=1e-5)
    same(b, xp.matrix_transpose(x), _A.T, "xp.matrix_transpose")
    same(b, xp.reshape(x, (2, 6)), _A.reshape(2, 6), "xp.reshape")
    same(b, xp.permute_dims(dev(b, batch), (2, 0, 1)), batch.transpose(2, 0, 1), "xp.permute_dims")
    same(b, xp.broadcast_to(dev(b, _A[:1]), (3, 4)), np.broadcast_to(_A[:1], (3, 4)), "xp.broadcast_to")
    same(b, xp.stack([x, x], axis=1), np.stack([_A, _A], axis=1), "xp.stack")
    same(b, xp.concat([x, x], axis=0), np.concatenate([_A, _A]), "xp.concat")
    same(b, xp.expand_dims(x, axis=1), _A[:, None], "xp.expand_dims")
    same(b, xp.squeeze(xp.expand_dims(x, axis=0), axis=0), _A, "xp.squeeze")
    same(b, xp.flip(x, axis=1), _A[:, ::-1], "xp.flip")
    same(b, xp.take(x, dev(b, np.array([2, 0])), axis=0), _A[[2, 0]], "xp.take")
    same(b, xp.astype(x, xp.float64), _A.astype("float64"), "xp.astype")
    same(b, xp.zeros_like(x), np.zeros_like(_A), "xp.zeros_like")
    same(b, xp.ones_like(x), np.ones_like(_A), "xp.ones_like")
    same(b, xp.full_like(x, 3.0), np.full_like(_A, 3.0), "xp.full_like")
    sq = _RNG.standard_normal((3, 3)).astype("float32")
    same(b, xp.linalg.diagonal(dev(b, sq)), np.diagonal(sq), "xp.linalg.diagonal")


# optional fused operations: checked where the backend implements them (declining is conformant) ---

class _HostReference:
    """The backend the optimizers' update functions run on as the reference: NumPy, nothing fused."""

    xp = np

    @staticmethod
    def axpy(y, alpha, x):
        return False


def _sgd_options():
    for momentum, dampening, nesterov in ((0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.2, False), (0.9, 0.0, True)):
        for first in ((True, False) if momentum else (False,)):
            for weight_decay in (0.0, 0.01):
                for sign in (1.0, -1.0):
                    yield dict(lr=0.1, weight_decay=weight_decay, momentum=momentum, dampening=dampening,
                               nesterov=nesterov, sign=sign, first=first)


def _adam_options():
    for amsgrad in (False, True):
        for weight_decay, decay in ((0.0, 1.0), (0.1, 1.0), (0.0, 0.99), (0.1, 0.99)):
            for sign in (1.0, -1.0):
                yield amsgrad, dict(sign=sign, weight_decay=weight_decay, decay=decay, beta1=0.9, beta2=0.999,
                                    step_size=0.01, eps=1e-8)


def _rmsprop_options():
    for centered in (False, True):
        for momentum in (0.0, 0.5):
            for weight_decay in (0.0, 0.01):
                for sign in (1.0, -1.0):
                    yield centered, dict(sign=sign, lr=0.01, alpha=0.9, eps=1e-8, weight_decay=weight_decay,
                                         momentum=momentum)


def _fused_cases():
    """``(method, update function, array names, array scales, options)`` for every option combination of
    the fused optimizer updates: parameter and gradient are standard normal, each state array is
    ``|normal| * scale``, and a scale of None passes None (a state the options do not use)."""
    from ..optim.adam import adam_update
    from ..optim.rmsprop import rmsprop_update
    from ..optim.sgd import sgd_update

    for o in _sgd_options():
        yield ("fused_sgd", sgd_update, ("parameter", "gradient", "momentum_buffer"),
               (1.0 if o["momentum"] else None,), o)
    for amsgrad, o in _adam_options():
        yield ("fused_adam", adam_update, ("parameter", "gradient", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
               (1.0, 1.0, 1.5 if amsgrad else None), dict(o, amsgrad=amsgrad))
    for centered, o in _rmsprop_options():
        # square_avg above grad_avg**2, as an update keeps it
        yield ("fused_rmsprop", rmsprop_update, ("parameter", "gradient", "square_avg", "momentum_buffer", "grad_avg"),
               (1.0, 1.0 if o["momentum"] else None, 0.1 if centered else None), dict(o, centered=centered))


@functools.lru_cache(maxsize=2)
def _normal_arrays(n):
    rng = np.random.default_rng(n)
    return tuple(rng.standard_normal(n) for _ in range(5))


def _fused_arrays(n, scales):
    p, g, *states = _normal_arrays(n)
    return [p, g] + [None if s is None else np.abs(a) * s for a, s in zip(states, scales)]


#: a backend may decline small arrays (the NumPy backend fuses from half a million elements): a method
#: is checked at the first of these sizes it accepts
_FUSED_SIZES = (37, 1 << 19)


def _run_fused(b, name, arrays, options):
    """``b.<name>`` on device copies of ``arrays``: the updated copies, or None where it declined."""
    devs = [None if a is None else dev(b, a.copy()) for a in arrays]  # updated in place
    done = getattr(b, name)(*devs, **options)
    _true(done in (True, False), f"{name} returned {done!r}, expected True (done) or False (declined)")
    return devs if done else None


@check
def check_fused_updates(b):
    """Each fused optimizer update equals the optimizer's own update function (``sgd_update``,
    ``adam_update``, ``rmsprop_update``) in every option combination, and leaves the gradient alone."""
    p0, g = _fused_arrays(37, ())
    out = dev(b, p0.copy())
    done = b.axpy(out, -0.3, dev(b, g))
    _true(done in (True, False), f"axpy returned {done!r}, expected True (done) or False (declined)")
    if done:
        same(b, out, p0 - 0.3 * g, "axpy")
    size = {}  # method -> the size it accepts (None: it declines every size)
    for name, update, names, scales, options in _fused_cases():
        label = f"{name}({', '.join(f'{k}={v}' for k, v in options.items())})"
        for k in ("amsgrad", "centered"):
            options.pop(k, None)  # said by which arrays are None
        if name not in size:
            size[name] = next((n for n in _FUSED_SIZES if _run_fused(b, name, _fused_arrays(n, scales), options)),
                              None)
        if size[name] is None:
            continue
        arrays = _fused_arrays(size[name], scales)
        got = _run_fused(b, name, arrays, options)
        if got is None:  # declining some options is conformant too
            continue
        expected = [None if a is None else a.copy() for a in arrays]
        update(_HostReference(), *expected, **options)
        for what, out, want in zip(names, got, expected):
            if want is not None:
                same(b, out, want, f"{name} {what} [{label}]", rtol=1e-10, atol=1e-12)


@check
def check_fused_cross_entropy(b):
    x = (_RNG.standard_normal((6, 5)) * 3).astype("float64")
    t = np.array([1, 4, -100, 0, 4, 2], dtype="int64")
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    valid = t != -100
    rows = np.where(valid, -logp[np.arange(6), np.where(valid, t, 0)], 0.0)
    for reduction, expected in (("none", rows), ("sum", rows.sum()), ("mean", rows.sum() / valid.sum())):
        out = b.fused_cross_entropy(dev(b, x), dev(b, t), -100, reduction)
        if out is NotImplemented:
            return
        loss, lp, den, bad = out
        same(b, loss, expected, f"fused_cross_entropy loss ({reduction})", rtol=1e-10, atol=1e-12)
        same(b, lp, logp, "fused_cross_entropy log-probabilities", rtol=1e-10, atol=1e-12)
        _true(int(host(b, bad)) == -1, f"fused_cross_entropy reported a bad target row {host(b, bad)}; none is")
        g = np.linspace(0.5, 1.5, 6) if reduction == "none" else np.asarray(2.0)
        grad = b.fused_cross_entropy_backward(lp, dev(b, t), -100, dev(b, g), den, reduction)
        if grad is NotImplemented:
            continue
        scale = g[:, None] if reduction == "none" else g / (valid.sum() if reduction == "mean" else 1)
        onehot = np.eye(5)[np.where(valid, t, 0)]
        same(b, grad, (np.exp(logp) - onehot) * scale * valid[:, None], f"fused_cross_entropy_backward ({reduction})",
             rtol=1e-10, atol=1e-12)
    bad_t = t.copy()
    bad_t[3] = 5
    out = b.fused_cross_entropy(dev(b, x), dev(b, bad_t), -100, "mean")
    _true(int(host(b, out[3])) == 3, f"fused_cross_entropy: bad target row {host(b, out[3])}, expected 3")


@check
def check_fused_linear(b):
    # 300 rows (big enough that a backend which declines small layers runs it) in float64, where the
    # bias's place in the GEMM's sums stays far below the tolerance; and a small batch in float32
    x = _RNG.standard_normal((300, 130))
    w = _RNG.standard_normal((130, 130))
    bias = _RNG.standard_normal(130)
    for rows, given, dtype, tol in ((300, True, "float64", 1e-12), (300, False, "float64", 1e-12),
                                    (4, True, "float32", 1e-5), (4, False, "float32", 1e-5)):
        xr, wr, br = (a.astype(dtype) for a in (x[:rows], w, bias))
        out = b.fused_linear(dev(b, xr), dev(b, wr), dev(b, br) if given else None)
        if out is NotImplemented:
            continue
        what = f"fused_linear ({rows} rows, {dtype}, {'a' if given else 'no'} bias)"
        _true(tuple(out.shape) == (rows, 130), f"{what}: shape {tuple(out.shape)}, expected ({rows}, 130)")
        # row-major, as the tensor it becomes must be contiguous (torch's linear output is)
        _true(getattr(getattr(out, "flags", None), "c_contiguous", True), f"{what}: the result is not row-major")
        want = (x[:rows] @ w.T + (bias if given else 0)).astype(dtype)
        same(b, out, want, what, rtol=tol, atol=tol * 10)


@check
def check_fused_conv_bias(b):
    x = _RNG.standard_normal((2, 3, 6, 5)).astype("float32")
    w = _RNG.standard_normal((4, 3, 3, 2)).astype("float32")
    bias = _RNG.standard_normal(4).astype("float32")
    params = ((1, 2), ((1, 1), (0, 1)), (1, 1), 1)
    plain = host(b, b.conv(dev(b, x), dev(b, w), *params))
    y = b.conv_bias(dev(b, x), dev(b, w), dev(b, bias), *params)
    if y is not NotImplemented:
        same(b, y, plain + bias.reshape(4, 1, 1), "conv_bias", rtol=1e-4, atol=1e-4)
    g = _RNG.standard_normal(plain.shape).astype("float32")
    both = b.conv_weight_bias_grad(dev(b, x), dev(b, g), w.shape, *params)
    if both is not NotImplemented:
        gw, gb = both
        same(b, gw, host(b, b.conv_weight_grad(dev(b, x), dev(b, g), w.shape, *params)),
             "conv_weight_bias_grad weight", rtol=1e-4, atol=1e-4)
        same(b, gb, g.sum(axis=(0, 2, 3)), "conv_weight_bias_grad bias", rtol=1e-4, atol=1e-4)


@check
def check_fused_relu_backward(b):
    out = np.maximum(_RNG.standard_normal(1 << 15), 0.0)  # (a backend may decline small arrays)
    g = _RNG.standard_normal(out.shape)
    out[:4], g[4:8] = np.nan, (np.nan, np.inf, -np.inf, np.nan)  # a nan output passes g; a cut nan/inf g is 0
    got = b.fused_relu_backward(dev(b, out), dev(b, g))
    if got is not NotImplemented:
        same(b, got, np.where(out <= 0, 0.0, g), "fused_relu_backward", rtol=0, atol=0)


@check
def check_fused_gelu(b):
    x = np.concatenate([_RNG.standard_normal(40) * 3, [0.0, -0.0, 8.0, -8.0, 30.0, -30.0]])
    g = _RNG.standard_normal(x.shape)
    cdf = np.array([0.5 + 0.5 * math.erf(v / math.sqrt(2)) for v in x])
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    th = np.tanh(inner)
    tanh_grad = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
    for approximate, y, grad in (("none", x * cdf, g * (cdf + x * pdf)), ("tanh", 0.5 * x * (1 + th), g * tanh_grad)):
        out = b.fused_gelu(dev(b, x), approximate)
        if out is NotImplemented:
            continue
        same(b, out[0], y, f"fused_gelu({approximate!r})", rtol=1e-12, atol=1e-14)
        gx = b.fused_gelu_backward(dev(b, x), out[1], dev(b, g), approximate)
        if gx is not NotImplemented:
            same(b, gx, grad, f"fused_gelu_backward({approximate!r})", rtol=1e-12, atol=1e-14)


@check
def check_fused_softmax(b):
    x = _RNG.standard_normal((5, 3, 9)) * 4
    g = _RNG.standard_normal(x.shape)
    specials = x.copy()
    specials[0, 0, 2], specials[0, 1, :], specials[1, 0, 4] = np.inf, -np.inf, np.nan  # rows nan throughout
    for log in (False, True):
        name = "fused_log_softmax" if log else "fused_softmax"
        for a in (x, specials):
            e = np.exp(a - a.max(axis=-1, keepdims=True))
            soft = e / e.sum(axis=-1, keepdims=True)
            y = b.fused_softmax(dev(b, a), log)
            if y is NotImplemented:
                return
            same(b, y, np.log(soft) if log else soft, name, rtol=1e-12, atol=1e-14)
        soft = host(b, b.fused_softmax(dev(b, x), False))
        gy = g if log else g * soft
        want = gy - soft * gy.sum(axis=-1, keepdims=True)
        gx = b.fused_softmax_backward(dev(b, np.log(soft) if log else soft), dev(b, g), log)
        if gx is not NotImplemented:
            same(b, gx, want, f"{name}_backward", rtol=1e-12, atol=1e-14)


@check
def check_fused_attention(b):
    q, k, v = (_RNG.standard_normal((2, 3, n, 4)) for n in (5, 6, 6))
    g = _RNG.standard_normal((2, 3, 5, 4))
    blocked = _RNG.random((3, 5, 6)) > 0.6
    blocked[1, 2] = True  # a query with every key masked: probabilities 0
    bias = _RNG.standard_normal((5, 6))
    for mask, add in ((None, None), (blocked, None), (None, bias)):
        s = q * 0.5 @ np.swapaxes(k, -1, -2)
        s = np.where(mask, -np.inf, s) if mask is not None else s if add is None else s + add
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        p = np.where(np.isnan(p), 0.0, p)
        got = b.fused_attention(dev(b, q), dev(b, k), dev(b, v), None if mask is None else dev(b, mask),
                                None if add is None else dev(b, add), 0.5)
        if got is NotImplemented:
            return
        same(b, got[1], p, "fused_attention p", rtol=1e-12, atol=1e-14)
        same(b, got[0], p @ v, "fused_attention out", rtol=1e-12, atol=1e-14)
        gp = g @ np.swapaxes(v, -1, -2)
        ds = p * (gp - (gp * p).sum(axis=-1, keepdims=True))
        grads = b.fused_attention_backward(dev(b, q), dev(b, k), dev(b, v), got[1], dev(b, g), 0.5,
                                           (True, True, True))
        if grads is not NotImplemented:
            for got_grad, want, name in zip(grads, (ds @ k * 0.5, np.swapaxes(ds, -1, -2) @ q * 0.5,
                                                    np.swapaxes(p, -1, -2) @ g), "qkv"):
                same(b, got_grad, want, f"fused_attention_backward g{name}", rtol=1e-12, atol=1e-14)
    keep = (_RNG.random((2, 3, 5, 6)) > 0.3) / 0.7  # dropout's scaled keep-mask
    s = q * 0.5 @ np.swapaxes(k, -1, -2)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    got = b.fused_attention(dev(b, q), dev(b, k), dev(b, v), None, None, 0.5, dev(b, keep))
    if got is NotImplemented:
        return
    same(b, got[0], p * keep @ v, "fused_attention out with dropout", rtol=1e-12, atol=1e-14)
    grads = b.fused_attention_backward(dev(b, q), dev(b, k), dev(b, v), got[1], dev(b, g), 0.5,
                                       (True, True, True), dev(b, keep))
    if grads is not NotImplemented:
        gp = (g @ np.swapaxes(v, -1, -2)) * keep
        ds = p * (gp - (gp * p).sum(axis=-1, keepdims=True))
        for got_grad, want, name in zip(grads, (ds @ k * 0.5, np.swapaxes(ds, -1, -2) @ q * 0.5,
                                                np.swapaxes(p * keep, -1, -2) @ g), "qkv"):
            same(b, got_grad, want, f"fused_attention_backward g{name} with dropout", rtol=1e-12, atol=1e-14)


@check
def check_fused_lstm_cell(b):
    rows, H = 3, 5
    for dtype, tol in (("float32", 2e-6), ("float64", 1e-12)):
        z = (_RNG.standard_normal((rows, 4 * H)) * 3).astype(dtype)
        z[0, :4], z[1, :4] = 60.0, -60.0  # saturated gates
        proj, old = _RNG.standard_normal(z.shape).astype(dtype), _RNG.standard_normal((rows, H)).astype(dtype)
        pre = z.astype("float64") + proj
        g, (i, f, o) = np.tanh(pre[:, :H]), np.split(1 / (1 + np.exp(-pre[:, H:])), 3, axis=1)
        c = f * old + i * g
        gates, cs, tcs, hs = dev(b, z), *(dev(b, np.zeros((rows, H), dtype)) for _ in range(3))
        if b.fused_lstm_cell(gates, dev(b, proj), dev(b, old), cs, tcs, hs) is NotImplemented:
            continue
        for got, want, name in ((gates, np.concatenate([g, i, f, o], axis=1), "gates"), (cs, c, "c"),
                                (tcs, np.tanh(c), "tanh_c"), (hs, o * np.tanh(c), "h")):
            same(b, got, want.astype(dtype), f"fused_lstm_cell {name} ({dtype})", rtol=tol, atol=tol)


@check
def check_fused_lstm_cell_backward(b):
    rows, H = 3, 5
    for dtype, tol in (("float32", 2e-6), ("float64", 1e-12)):
        z = _RNG.standard_normal((rows, 4 * H))
        gates = np.concatenate([np.tanh(z[:, :H]), 1 / (1 + np.exp(-z[:, H:]))], axis=1).astype(dtype)
        c_prev, c_carry, dh = (_RNG.standard_normal((rows, H)).astype(dtype) for _ in range(3))
        g, i, f, o = (gates[:, k * H:(k + 1) * H].astype("float64") for k in range(4))
        tanh_c = np.tanh(f * c_prev + i * g).astype(dtype)
        cell = dh * o * (1 - tanh_c.astype("float64") ** 2) + c_carry
        want = (cell * i * (1 - g * g), cell * g * i * (1 - i), cell * c_prev * f * (1 - f),
                dh * tanh_c * o * (1 - o))
        dc, dz = dev(b, c_carry), dev(b, np.zeros((rows, 4 * H), dtype))
        if b.fused_lstm_cell_backward(dev(b, gates), dev(b, c_prev), dev(b, tanh_c), dev(b, dh), dc,
                                      dz) is NotImplemented:
            continue
        for got, exp, name in ((dz, np.concatenate(want, axis=1), "dz"), (dc, cell * f, "dc")):
            same(b, got, exp.astype(dtype), f"fused_lstm_cell_backward {name} ({dtype})", rtol=tol, atol=tol)


@check
def check_fused_layer_norm(b):
    x = (_RNG.standard_normal((7, 5)) * 3 + 1).astype("float64")
    w, bias, g = _RNG.standard_normal(5), _RNG.standard_normal(5), _RNG.standard_normal((7, 5))
    rstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    xhat = (x - x.mean(axis=1, keepdims=True)) * rstd
    for weight, shift in ((w, bias), (None, None)):
        wb = [None if a is None else dev(b, a) for a in (weight, shift)]
        out = b.fused_layer_norm(dev(b, x), *wb, 1e-5)
        if out is NotImplemented:
            return
        y, xh, rs = out
        affine = "" if weight is None else " (affine)"
        same(b, y, xhat if weight is None else xhat * w + bias, f"fused_layer_norm{affine}", rtol=1e-10, atol=1e-12)
        same(b, rs, rstd, "fused_layer_norm rstd", rtol=1e-10, atol=1e-12)
        gh = g if weight is None else g * w
        want = rstd * (gh - gh.mean(axis=1, keepdims=True) - xhat * (gh * xhat).mean(axis=1, keepdims=True))
        grads = b.fused_layer_norm_backward(dev(b, g), wb[0], xh, rs, True, True, True)
        if grads is NotImplemented:
            continue
        for got, expected, what in zip(grads, (want, (g * xhat).sum(axis=0), g.sum(axis=0)), ("input", "weight", "bias")):
            same(b, got, expected, f"fused_layer_norm_backward {what}{affine}", rtol=1e-10, atol=1e-12)
