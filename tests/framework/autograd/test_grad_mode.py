"""Grad modes and the legacy Variable."""
from __future__ import annotations

import pytest

import tensorplug as tp
from tensorplug import autograd


def test_no_grad_context_and_decorator():
    x = tp.ones(2, requires_grad=True)
    with tp.no_grad():
        assert not (x * 2).requires_grad
        assert not tp.is_grad_enabled()
    assert tp.is_grad_enabled()

    @tp.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = tp.ones(2, requires_grad=True)
    with tp.no_grad():
        with tp.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_set_grad_enabled_as_call_context_and_decorator():
    x = tp.ones(1, requires_grad=True)
    tp.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        tp.set_grad_enabled(True)
    with tp.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @tp.set_grad_enabled(False)
    def f():
        return (x * 2).requires_grad
    assert tp.is_grad_enabled() and f() is False


def test_modes_restore_after_exceptions():
    try:
        with tp.no_grad():
            raise ValueError
    except ValueError:
        pass
    assert tp.is_grad_enabled()


def test_inference_mode():
    x = tp.ones(2, requires_grad=True)
    with tp.inference_mode():
        y = x * 2
        assert not y.requires_grad
        assert autograd.grad_mode.is_inference_mode_enabled()
    assert not autograd.grad_mode.is_inference_mode_enabled()
    with tp.inference_mode(False):
        assert (x * 2).requires_grad

    @tp.inference_mode()
    def f():
        return (x * 2).requires_grad
    assert f() is False


def test_variable_returns_a_tensor():
    t = tp.Tensor([1, 2, 3])
    v = autograd.Variable(t, requires_grad=True)
    assert isinstance(v, tp.Tensor) and v.requires_grad
    assert isinstance(t, autograd.Variable)
    (v * 2).sum().backward()
    assert v.grad.tolist() == [2.0, 2.0, 2.0]


def test_requires_grad_setter_and_method():
    t = tp.ones(2)
    t.requires_grad = True
    assert t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad


def test_grad_mode_is_per_thread_like_torch():
    import threading
    torch = pytest.importorskip("torch")
    for lib in (tp, torch):
        seen = {}
        inside = threading.Event()
        release = threading.Event()

        def worker(lib=lib):
            seen["starts_enabled"] = lib.is_grad_enabled()  # whatever the main thread set
            with lib.no_grad():
                inside.set()
                release.wait()  # no timeout: under load a timed wait could leave no_grad too early
            seen["restored"] = lib.is_grad_enabled()

        with lib.no_grad():
            t = threading.Thread(target=worker, daemon=True)
            t.start()
            assert inside.wait(120), "the worker thread never started"  # a hang guard, not a timing
        try:
            # the worker sits inside no_grad now: this thread still records
            x = lib.ones(2, requires_grad=True)
            recorded = (x * 2).requires_grad
        finally:
            release.set()
        t.join()
        assert seen == {"starts_enabled": True, "restored": True}, lib.__name__
        assert recorded, lib.__name__
