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

__all__ = ["CHECKS", "ConformanceError", "check", "run_check", "run_conformance"]


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
