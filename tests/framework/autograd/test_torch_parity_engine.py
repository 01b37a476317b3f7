"""The engine, autograd.grad/backward options, hooks, custom Functions and grad modes, each run
under torch and tensorplug on the same inputs: values, grads being None, flags and errors agree."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

torch = pytest.importorskip("torch")


def both(fn):
    """``fn(T)`` under torch and tensorplug: the two results (or exceptions) as comparable values."""
    return _norm(_call(fn, torch)), _norm(_call(fn, tp))


def _call(fn, T):
    try:
        return fn(T)
    except Exception as exc:  # noqa: BLE001 - the exception is the result compared
        return exc


def _norm(v):
    if isinstance(v, (torch.Tensor, tp.Tensor)):
        arr = np.asarray(v.detach().cpu().numpy())
        # printed to 10 decimals: equal values (NaN included) compare equal
        return ("tensor", arr.shape, np.array2string(arr, precision=10, floatmode="fixed"), bool(v.requires_grad))
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, BaseException):
        return ("raised", type(v).__name__)
    return v


def same(fn, phrase=None):
    a, b = both(fn)
    assert a == b, (a, b)
    if phrase is not None:
        for T in (torch, tp):
            with pytest.raises(Exception) as info:
                fn(T)
            assert phrase in str(info.value), str(info.value)


def leaf(T, *v):
    return T.tensor(list(v), dtype=T.float64, requires_grad=True)


# autograd.grad: which nodes run, when inputs are captured ------------------------------------

def test_grad_skips_branches_that_reach_no_input():
    def fn(T):
        x, y = leaf(T, 0.5, 1.5), leaf(T, 2.0, 3.0)
        calls = []
        y2 = y * 2
        y2.register_hook(lambda g: calls.append("y2"))
        y.register_hook(lambda g: calls.append("y"))
        T.autograd.grad((x * 3 + y2).sum(), x)
        return calls
    same(fn)


@pytest.mark.parametrize("also_leaf", [False, True])
def test_grad_captures_a_nonleaf_as_torch_around_its_hooks(also_leaf):
    # torch captures before the tensor's hooks when its node must run on (to reach x), after them
    # when the input is where the pass stops
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        y = x * 3
        y.register_hook(lambda g: g * 2)
        return T.autograd.grad((y * y).sum(), [y, x] if also_leaf else [y])
    same(fn)


# AccumulateGrad nodes, next_functions, hooks ----------------------------------------------------

def test_next_functions_name_the_output_number_and_one_node_per_leaf():
    def fn(T):
        x = leaf(T, 0.5, 1.5, 2.0, 3.0)
        a, b = x.split(2)
        z = b * 2 + a
        nf = [(type(n).__name__, i) for n, i in z.grad_fn.next_functions]
        inner = [(type(n).__name__, i) for n, i in z.grad_fn.next_functions[0][0].next_functions]
        acc1 = (x * 2).grad_fn.next_functions[0][0]
        acc2 = (x * 3).grad_fn.next_functions[0][0]
        return nf, inner, acc1 is acc2, acc1.variable is x
    same(fn)


def test_accumulate_grad_node_hooks():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        y = x * 2
        acc = y.grad_fn.next_functions[0][0]
        seen = []
        acc.register_prehook(lambda go: (go[0] * 10,))
        acc.register_hook(lambda gi, go: seen.append((len(gi), go[0].tolist())))
        y.sum().backward()
        return seen, x.grad
    same(fn)


def test_hook_changing_the_size_raises():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        y = x * 2
        y.register_hook(lambda g: g.sum())
        y.sum().backward()
    same(fn, "has changed the size of value")

    def on_leaf(T):
        x = leaf(T, 0.5, 1.5)
        x.register_hook(lambda g: g[:1])
        (x * 2).sum().backward()
    same(on_leaf, "has changed the size of value")


def test_hook_handle_is_a_context_manager():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        with x.register_hook(lambda g: g * 2):
            (x * 1).sum().backward()
        (x * 1).sum().backward()
        return x.grad
    same(fn)


# .grad accumulation -----------------------------------------------------------------------------

def test_grad_accumulates_in_place():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        (x * 2).sum().backward()
        g = x.grad
        (x * 3).sum().backward()
        return g is x.grad, g, x.grad
    same(fn)


def test_plain_backward_into_a_grad_that_requires_grad():
    def fn(T):
        x = leaf(T, 0.3, -1.2, 2.0)
        (x.sin() * x ** 2).sum().backward(create_graph=True)
        x.grad.sum().backward()
        return x.grad
    same(fn)


def test_gradient_a_hook_kept_is_not_changed_by_later_accumulation():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        kept = []
        x.register_hook(lambda g: kept.append(g))
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        return kept, x.grad
    same(fn)


# autograd.grad / backward options --------------------------------------------------------------

def test_is_grads_batched():
    def fn(T):
        x = leaf(T, 0.3, -1.2, 2.0)
        (j,) = T.autograd.grad(x ** 3, x, grad_outputs=T.eye(3, dtype=T.float64), is_grads_batched=True,
                               create_graph=True)
        (h,) = T.autograd.grad(j.sum(), x)
        return j, h
    same(fn)

    def two_outputs(T):
        x = leaf(T, 0.3, -1.2)
        a = x * T.tensor([2.0, 3.0], dtype=T.float64)
        b = (x ** 2).sum()
        return T.autograd.grad([a, b], x, grad_outputs=[T.eye(2, dtype=T.float64),
                                                        T.tensor([1.0, -1.0], dtype=T.float64)],
                               is_grads_batched=True)
    same(two_outputs)

    def unbatched(T):
        x = leaf(T, 0.3, -1.2)
        T.autograd.grad(x * 2, x, grad_outputs=T.ones(2, dtype=T.float64), is_grads_batched=True)
    same(unbatched, "is_grads_batched=True")


def test_materialize_grads():
    def fn(T):
        x, z = leaf(T, 1.0), leaf(T, 2.0, 3.0)
        return (T.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True),
                T.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True, create_graph=True))
    same(fn)

    def allow_unused_false(T):
        x, z = leaf(T, 1.0), leaf(T, 2.0, 3.0)
        T.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True, allow_unused=False)
    same(allow_unused_false, "Expected allow_unused to be True or not passed when materialize_grads=True")


def test_empty_inputs_raise():
    def backward(T):
        x = leaf(T, 0.5, 1.5)
        (x * 2).sum().backward(inputs=[])
    same(backward, "`inputs` argument to `backward()` cannot be empty.")

    def grad(T):
        x = leaf(T, 0.5, 1.5)
        T.autograd.grad((x * 2).sum(), [])
    same(grad, "`inputs` argument to `grad()` cannot be empty.")


def test_grad_with_dict_inputs():
    def fn(T):
        x, y = leaf(T, 0.5, 1.5), leaf(T, 2.0, 3.0)
        return T.autograd.grad((x * y * y).sum(), {"x": x, "y": y})
    same(fn)


# custom Functions ----------------------------------------------------------------------------

def _function(T, grads):
    class F(T.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return grads(T, g)
    return F


def test_function_gradient_of_the_wrong_shape_raises():
    def fn(T):
        F = _function(T, lambda T, g: (T.ones(3, dtype=T.float64), None))
        F.apply(leaf(T, 1.0, 2.0), 2.0).sum().backward()
    same(fn, "returned an invalid gradient at index 0 - got [3] but expected shape compatible with [2]")


def test_function_gradient_for_a_non_tensor_input_raises():
    def fn(T):
        F = _function(T, lambda T, g: (g * 2, g))
        F.apply(leaf(T, 1.0, 2.0), 2.0).sum().backward()
    same(fn, "returned a gradient different than None at position 2, but the corresponding forward input "
             "was not a Variable")


def test_function_broadcastable_gradient_and_extra_nones():
    def fn(T):
        F = _function(T, lambda T, g: (g.reshape(1, 2), None, None))
        x = leaf(T, 1.0, 2.0)
        F.apply(x, 2.0).sum().backward()
        return x.grad
    same(fn)


# grad modes, anomaly flags ---------------------------------------------------------------------

def test_bare_mode_decorators():
    def fn(T):
        x = leaf(T, 0.5, 1.5)

        @T.no_grad
        def f(a):
            return a * 2

        @T.enable_grad
        def g(a):
            return a * 2

        @T.inference_mode
        def h(a):
            return a * 2
        with T.no_grad():
            gg = g(x)
        return f(x).requires_grad, gg.requires_grad, h(x).requires_grad, T.is_grad_enabled()
    same(fn)


def test_inference_mode_false_inside_inference_mode_records():
    def fn(T):
        x = leaf(T, 0.5, 1.5)
        with T.inference_mode():
            with T.inference_mode(False):
                y = x * 2
                inner = T.is_grad_enabled(), T.is_inference_mode_enabled()
            after = T.is_grad_enabled(), T.is_inference_mode_enabled()
        return y.requires_grad, inner, after
    same(fn)


def test_set_grad_enabled_wants_a_bool():
    def fn(T):
        T.set_grad_enabled(0)
    try:
        same(fn, "must be bool, not int")
    finally:
        torch.set_grad_enabled(True)
        tp.set_grad_enabled(True)


def test_anomaly_flags():
    def flags(T, enabled, check_nan):
        a = enabled()
        with T.autograd.detect_anomaly():
            b = enabled(), check_nan()
        with T.autograd.detect_anomaly(check_nan=False):
            c = enabled(), check_nan()
        with T.autograd.set_detect_anomaly(True):
            d = enabled()
        return a, b, c, d, enabled()
    assert flags(torch, torch.is_anomaly_enabled, torch.is_anomaly_check_nan_enabled) == flags(
        tp, tp.autograd.is_anomaly_enabled, tp.autograd.is_anomaly_check_nan_enabled)

    def no_nan_check(T):
        x = leaf(T, 0.0, 4.0)
        with T.autograd.detect_anomaly(check_nan=False):
            (x / x).sum().backward()
        return x.grad
    same(no_nan_check)


def test_set_anomaly_enabled_at_the_top_level():
    for m in (torch, tp):
        try:
            m.set_anomaly_enabled(True)
            assert m.is_anomaly_enabled() and m.is_anomaly_check_nan_enabled()
            x = m.tensor([-1.0], requires_grad=True)
            with pytest.raises(RuntimeError, match="'SqrtBackward0' returned nan values in its 0th output"):
                x.sqrt().sum().backward()
        finally:
            m.set_anomaly_enabled(False)
        assert not m.is_anomaly_enabled()
