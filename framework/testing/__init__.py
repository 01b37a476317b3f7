"""Conformance kit for backends, exported for third-party backend authors.

Every named backend method and the Array API primitives the frontend uses are
checked against NumPy, then a slice of the frontend (creation, promotion,
reductions, matmul, indexing, autograd, ``nn.Linear``) runs on the backend.

From Python::

    import tensorplug.testing
    tensorplug.testing.run_conformance("mybackend")      # raises ConformanceError listing failures

With pytest (one test per check)::

    import pytest, tensorplug.testing as tpt

    @pytest.mark.parametrize("check", sorted(tpt.CHECKS))
    def test_conformance(check):
        tpt.run_check(check, "mybackend")

or ``python -m tensorplug.testing mybackend``.
"""
from __future__ import annotations

from .conformance import CHECKS, ConformanceError, check
from . import frontend as _frontend  # noqa: F401 - registers the frontend checks

__all__ = ["CHECKS", "ConformanceError", "check", "run_check", "run_conformance", "assert_close"]


def _backend(backend):
    if hasattr(backend, "xp"):
        return backend
    from ..registry import get_backend
    return get_backend(backend)


def run_check(name, backend):
    """Run one check (a key of ``CHECKS``) on ``backend`` (a name, device string or Backend)."""
    try:
        fn = CHECKS[name]
    except KeyError:
        raise KeyError(f"unknown conformance check {name!r}; the checks are {sorted(CHECKS)}") from None
    fn(_backend(backend))


def run_conformance(backend, checks=None, raise_on_failure=True):
    """Run every check (or those named in ``checks``) on ``backend``.

    Returns ``{check name: None when it passed, else the error text}``; raises
    ``ConformanceError`` listing every failure when ``raise_on_failure``.
    """
    b = _backend(backend)
    results = {}
    for name in checks or CHECKS:
        try:
            run_check(name, b)
            results[name] = None
        except Exception as exc:  # report every failure, not just the first
            results[name] = f"{type(exc).__name__}: {exc}"
    failed = {k: v for k, v in results.items() if v}
    if failed and raise_on_failure:
        lines = "\n".join(f"  {k}: {v}" for k, v in failed.items())
        raise ConformanceError(f"backend '{b.name}' failed {len(failed)} of {len(results)} conformance checks:\n{lines}")
    return results


_TOLERANCES = {"float16": (1e-3, 1e-5), "float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7),
               "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """torch.testing.assert_close: ``|actual - expected| <= atol + rtol * |expected|`` elementwise, with
    torch's default tolerances per dtype (exact for integers and bool) and its messages."""
    import numpy as np
    from ..tensor import Tensor, tensor
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {'rtol' if rtol is None else 'atol'}.")
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)) and not (
            actual and isinstance(actual[0], (int, float, bool))):
        if len(actual) != len(expected):
            raise AssertionError(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            try:
                assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                             check_dtype=check_dtype, msg=msg)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n\nThe failure occurred for item [{i}]") from None
        return
    scalars = not isinstance(actual, Tensor) and not isinstance(expected, Tensor)
    from .. import dtypes as _dt
    wide = _dt.float64 if scalars and isinstance(actual, float) else None  # Python floats are doubles in torch
    a = actual if isinstance(actual, Tensor) else tensor(actual, dtype=wide)
    e = expected if isinstance(expected, Tensor) else tensor(expected, dtype=wide)
    if scalars and a._dtype is not e._dtype:
        e = e.to(a._dtype)
    if tuple(a.shape) != tuple(e.shape):
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.")
    if check_device and a.device != e.device:
        raise AssertionError(msg or f"The values for attribute 'device' do not match: {a.device} != {e.device}.")
    if check_dtype and a._dtype is not e._dtype:
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: {a.dtype} != {e.dtype}.")
    if rtol is None:
        # the looser of the two dtypes' defaults; exact for integers and bool
        rtol, atol = max((_TOLERANCES.get(d.name, (0.0, 0.0)) for d in (a._dtype, e._dtype)))
    x = np.asarray(a.detach().cpu().numpy())
    y = np.asarray(e.detach().cpu().numpy())
    wide = np.result_type(x.dtype, y.dtype, np.float64) if x.dtype.kind != "c" else np.complex128
    xw, yw = x.astype(wide), y.astype(wide)
    close = np.isclose(xw, yw, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    if msg is not None:
        raise AssertionError(msg)
    exact = rtol == 0 and atol == 0
    kind = "equal" if exact else "close"
    if x.size == 1:  # torch's scalar message
        got, want = x.reshape(-1)[0].item(), y.reshape(-1)[0].item()
        diff1 = abs(got - want)
        rel1 = diff1 / abs(want) if want else float("inf")
        bound = (lambda t: "") if exact else (lambda t: f" (up to {t} allowed)")
        raise AssertionError(f"Scalars are not {kind}!\n\nExpected {want} but got {got}.\n"
                             f"Absolute difference: {diff1}{bound(atol)}\nRelative difference: {rel1}{bound(rtol)}")
    diff = np.abs(xw - yw)
    # torch reports the relative difference in the inputs' precision (float32 below float64)
    rel_dtype = np.float64 if max(x.dtype.itemsize, y.dtype.itemsize) >= 8 and "f" in x.dtype.kind + y.dtype.kind \
        else np.float32
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff.astype(rel_dtype) / np.abs(yw).astype(rel_dtype)
    rel = np.where(diff == 0, 0.0, rel)
    bad = int((~close).sum())
    ia = np.unravel_index(int(np.nanargmax(np.where(close, -1, diff))), x.shape) if x.ndim else ()
    ir = np.unravel_index(int(np.nanargmax(np.where(close, -1, rel))), x.shape) if x.ndim else ()
    noun = "Tensor-likes are"

    def fmt(v):
        return str(int(v)) if float(v).is_integer() and x.dtype.kind in "iub" else repr(float(v))

    at = lambda i: f" at index {tuple(int(j) for j in i)}" if x.ndim else ""  # noqa: E731
    lines = [f"{noun} not {kind}!", "", f"Mismatched elements: {bad} / {x.size} ({100 * bad / x.size:.1f}%)",
             f"Greatest absolute difference: {fmt(diff[ia])}{at(ia)}" + ("" if exact else f" (up to {atol} allowed)"),
             f"Greatest relative difference: {float(rel[ir])!r}{at(ir)}" + ("" if exact else f" (up to {rtol} allowed)")]
    raise AssertionError("\n".join(lines))
