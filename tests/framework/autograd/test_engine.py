"""The reverse-mode engine: backward/grad options, accumulation, freeing, hooks, names, versions,
higher-order gradients, and every Autograd row of ERRORS.md."""
from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

import tensorplug as tp
from tensorplug import autograd


def _raises(exc, phrase, fn):
    with pytest.raises(exc) as info:
        fn()
    assert phrase in str(info.value), str(info.value)


def leaf(*values):
    return tp.tensor(list(values), dtype=tp.float64, requires_grad=True)


# backward and grad -----------------------------------------------------------------------

def test_backward_accumulates_into_leaves():
    x = leaf(1.0, 2.0)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2 + 3, 4 + 3])


def test_backward_with_gradient_argument():
    x = leaf(1.0, 2.0, 3.0)
    (x * x).backward(gradient=tp.tensor([1.0, 0.0, 2.0], dtype=tp.float64))
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, 0.0, 12.0])


def test_retain_graph_allows_second_backward():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [4.0, 8.0])


def test_graph_without_saved_tensors_may_run_twice():
    x = leaf(1.0)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.item() == 2.0


def test_autograd_grad_returns_and_leaves_grad_alone():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    gx, gw = autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.cpu().numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.cpu().numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_autograd_grad_of_non_leaf_and_grad_outputs():
    x = leaf(1.0, 2.0)
    h = x * 2
    (gh,) = autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.cpu().numpy(), [4.0, 8.0])
    (gx,) = autograd.grad(h, x, grad_outputs=tp.tensor([1.0, 10.0], dtype=tp.float64))
    np.testing.assert_allclose(gx.cpu().numpy(), [2.0, 20.0])


def test_autograd_backward_function_and_inputs():
    x, w = leaf(1.0), leaf(2.0)
    autograd.backward([(x * w).sum()], inputs=[w])
    assert x.grad is None and w.grad.item() == 1.0


def test_allow_unused_and_materialize():
    x, z = leaf(1.0), leaf(2.0)
    gx, gz = autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0
    gx, gz = autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    assert gz.item() == 0.0


def test_multiple_roots():
    x = leaf(1.0, 2.0)
    autograd.backward([x.sum(), (x * x).sum()])
    np.testing.assert_allclose(x.grad.cpu().numpy(), [3.0, 5.0])


def test_shared_subgraph_gradients_add():
    x = leaf(2.0)
    y = x * x
    z = y + y * 3
    z.backward()
    assert x.grad.item() == pytest.approx(16.0)


def test_grad_is_shape_checked_and_settable():
    x = leaf(1.0, 2.0)
    x.grad = tp.ones(2, dtype=tp.float64)
    assert x.grad.sum().item() == 2.0
    x.grad = None
    assert x.grad is None


def test_grad_fn_names_and_next_functions():
    x = leaf(1.0, 2.0)
    y = (x * 2).sum()
    assert type(y.grad_fn).__name__ == "SumBackward0"
    assert y.grad_fn.name() == "SumBackward0"
    assert "SumBackward0" in repr(y.grad_fn)
    (mul, _), = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    acc = mul.next_functions[0][0]
    assert acc.name() == "AccumulateGrad" and acc.variable is x
    for t, name in [((x @ x), "DotBackward0"), (x.exp(), "ExpBackward0"), (x.softmax(0), "SoftmaxBackward0"),
                    (tp.cat([x, x]), "CatBackward0"), (x[0], "SelectBackward0"), (x.max(), "MaxBackward1")]:
        assert t.grad_fn.name() == name == type(t.grad_fn).__name__


def test_is_leaf_and_requires_grad_propagation():
    x = leaf(1.0)
    c = tp.ones(1, dtype=tp.float64)
    assert x.is_leaf and c.is_leaf
    y = x * c
    assert not y.is_leaf and y.requires_grad
    assert not (c * 2).requires_grad


def test_detach_shares_storage_and_version_data_shares_storage_only():
    x = leaf(1.0, 2.0)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 5.0
    assert x[0].item() == 5.0
    assert x._version[0] == d._version[0] == 1
    x.data.mul_(2)  # torch's .data has a counter of its own: x's is not bumped
    assert x[0].item() == 10.0 and x._version[0] == 1


def test_a_write_through_data_is_not_checked_against_saved_values_as_torch():
    """torchdiffeq's adaptive solvers write scratch.data[i] = ... on purpose: torch does not check it."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (torch, tp):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        z = y * y
        y.data[0] = 5.0
        z.sum().backward()
        results.append((y._version if m is torch else y._version[0], x.grad.tolist()))
    assert results[0] == results[1] == (0, [20.0, 8.0, 8.0])


def test_detach_in_place():
    y = leaf(1.0) * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad


def test_graph_is_freed_after_backward():
    x = leaf(1.0, 2.0)
    y = x.exp()
    node = weakref.ref(y.grad_fn)
    y.sum().backward()
    del y
    gc.collect()
    assert node() is None


def test_no_memory_growth_over_many_iterations():
    x = leaf(*range(8))
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(300):
        ((x * 2).exp().sum() + x.tanh().mean()).backward()
    gc.collect()
    assert len(gc.get_objects()) - before < 50


# hooks ------------------------------------------------------------------------------------------

def test_tensor_hooks_and_retain_grad_order():
    a = leaf(1.0, 2.0)
    b = a * 2
    b.retain_grad()
    b.register_hook(lambda g: g * 10)
    a.register_hook(lambda g: g + 1)
    (b * b).sum().backward()
    # torch: retain_grad sees the gradient after the tensor's other hooks
    np.testing.assert_allclose(b.grad.cpu().numpy(), [40.0, 80.0])
    np.testing.assert_allclose(a.grad.cpu().numpy(), [81.0, 161.0])


def test_hook_handle_remove():
    a = leaf(1.0)
    h = a.register_hook(lambda g: g * 100)
    h.remove()
    (a * 2).sum().backward()
    assert a.grad.item() == 2.0


def test_hook_on_tensor_without_grad():
    _raises(RuntimeError, "doesn't require gradient", lambda: tp.ones(1).register_hook(lambda g: g))


def test_node_pre_and_post_hooks():
    a = leaf(1.0, 2.0)
    y = a * 3
    seen = []
    y.grad_fn.register_prehook(lambda go: seen.append("pre"))
    y.grad_fn.register_hook(lambda gi, go: seen.append("post"))
    y.sum().backward()
    assert seen == ["pre", "post"]


def test_retain_grad_on_leaf_is_noop_and_non_leaf_gets_grad():
    a = leaf(1.0)
    a.retain_grad()
    b = a * 3
    b.retain_grad()
    (b * b).sum().backward()
    assert b.grad.item() == 6.0


# version counter / in place ------------------------------------------------------------------

def test_views_share_the_version_counter():
    a = tp.ones(3)
    views = [a[1:], a.view(3, 1), a.unsqueeze(0), a.reshape(3), a.detach(), a.t()]
    data = a.data  # shares the storage but has a counter of its own, as torch's .data
    a.add_(1)
    assert all(v._version[0] == 1 for v in views) and data._version[0] == 0
    views[0].mul_(2)
    assert a._version[0] == 2
    np.testing.assert_allclose(a.cpu().numpy(), [2.0, 4.0, 4.0])


def test_in_place_through_a_view_flows_to_the_base():
    x = leaf(1.0, 2.0, 3.0)
    a = x * 1
    a[0:2].mul_(x[1:])
    (a * a).sum().backward()
    # a = [x0*x1, x1*x2, x2]
    x0, x1, x2 = 1.0, 2.0, 3.0
    expected = [2 * x0 * x1 * x1, 2 * x0 * x0 * x1 + 2 * x1 * x2 * x2, 2 * x1 * x1 * x2 + 2 * x2]
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected)


def test_setitem_records_the_graph():
    x = tp.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tp.float64, requires_grad=True)
    a = x * 1
    a[:, 1] = x[:, 0] ** 2
    a.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[3.0, 0.0], [7.0, 0.0]])


def test_in_place_into_buffer_from_graph():
    w = leaf(1.0, 2.0)
    buf = tp.zeros(2, 2, dtype=tp.float64)
    buf[0].copy_(w * 3)
    buf.sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), [3.0, 3.0])


def test_in_place_on_non_leaf_keeps_history():
    x = leaf(1.0, 2.0)
    y = x * 2
    y.add_(1).mul_(3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [6.0, 6.0])


# Autograd rows of ERRORS.md ------------------------------------------------------------------

def test_backward_twice_through_saved_tensors():
    x = leaf(1.0)
    y = (x * x).sum()
    y.backward()
    _raises(RuntimeError, "Trying to backward through the graph a second time", y.backward)
    try:
        y.backward()
    except RuntimeError as e:
        assert "retain_graph=True" in str(e)


def test_non_scalar_backward_needs_gradient():
    _raises(RuntimeError, "grad can be implicitly created only for scalar outputs", lambda: (leaf(1.0, 2.0) * 2).backward())


def test_backward_without_grad_fn():
    _raises(RuntimeError, "does not require grad and does not have a grad_fn", lambda: tp.ones(2).sum().backward())


def test_gradient_shape_mismatch():
    _raises(RuntimeError, "Mismatch in shape", lambda: (leaf(1.0, 2.0) * 2).backward(tp.ones(3, dtype=tp.float64)))


def test_in_place_on_leaf():
    x = leaf(1.0)
    _raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation",
            lambda: x.add_(1))
    _raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place operation",
            lambda: x.__setitem__(0, 2.0))
    with tp.no_grad():
        x.add_(1)
    assert x.item() == 2.0


def test_in_place_on_view_of_leaf():
    x = leaf(1.0, 2.0)
    _raises(RuntimeError, "view of a leaf Variable that requires grad", lambda: x[0:1].mul_(2))


def test_in_place_on_saved_tensor():
    x = leaf(1.0, 2.0)
    a = x * 1
    b = a * a
    a.add_(1)
    _raises(RuntimeError, "modified by an inplace operation", lambda: b.sum().backward())
    x2 = leaf(1.0, 2.0)
    a2 = x2 * 1
    b2 = a2 * a2
    a2.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        b2.sum().backward()


def test_in_place_on_saved_output_and_through_views():
    x = leaf(1.0, 2.0)
    y = x.exp()
    y.mul_(2)
    _raises(RuntimeError, "modified by an inplace operation", lambda: y.sum().backward())
    x = leaf(1.0, 2.0, 3.0)
    b = (x * 1).exp()
    b[0:2].mul_(2)
    _raises(RuntimeError, "modified by an inplace operation", lambda: b.sum().backward())


def test_grad_unused_input():
    x, z = leaf(1.0), leaf(2.0)
    _raises(RuntimeError, "appears to not have been used in the graph", lambda: autograd.grad((x * 2).sum(), [x, z]))
    try:
        autograd.grad((x * 2).sum(), [x, z])
    except RuntimeError as e:
        assert "allow_unused=True" in str(e)


def test_numpy_on_requires_grad():
    _raises(RuntimeError, "Use tensor.detach().numpy() instead", lambda: leaf(1.0).cpu().numpy())


def test_assign_grad_wrong_shape():
    x = leaf(1.0, 2.0)
    _raises(RuntimeError, "attempting to assign a gradient of size", lambda: setattr(x, "grad", tp.ones(3)))


def test_requires_grad_false_on_non_leaf():
    _raises(RuntimeError, "you can only change requires_grad flags of leaf variables",
            lambda: (leaf(1.0) * 2).requires_grad_(False))


def test_non_leaf_grad_access_warns():
    y = leaf(1.0) * 2
    with pytest.warns(UserWarning, match="is not a leaf Tensor"):
        assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.retain_grad()
        assert y.grad is None  # no warning once retained


def test_detect_anomaly_names_the_function():
    x = tp.tensor([-1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly():
        with np.errstate(all="ignore"):
            _raises(RuntimeError, "Function 'SqrtBackward0' returned nan values in its 0th output",
                    lambda: x.sqrt().sum().backward())
    # outside the block NaN passes silently, as in torch
    with np.errstate(all="ignore"):
        x.sqrt().sum().backward()


def test_set_detect_anomaly():
    autograd.set_detect_anomaly(True)
    try:
        from tensorplug.autograd.anomaly import is_anomaly_enabled
        assert is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not is_anomaly_enabled()


# higher order ------------------------------------------------------------------------------

def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    A = a @ a.T
    x = tp.tensor(rng.standard_normal(3), requires_grad=True, dtype=tp.float64)
    v = tp.tensor(rng.standard_normal(3), dtype=tp.float64)
    At = tp.tensor(A)
    f = 0.5 * (x @ (At @ x)) + (x ** 3).sum()
    (g,) = autograd.grad(f, x, create_graph=True)
    assert g.requires_grad
    (hv,) = autograd.grad((g * v).sum(), x)
    H = A + np.diag(6 * x.detach().cpu().numpy())
    np.testing.assert_allclose(hv.cpu().numpy(), H @ v.cpu().numpy(), rtol=1e-10)


def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    results = []
    for m in (tp, torch):
        x = m.tensor(xs, requires_grad=True)
        w = m.tensor(ws, requires_grad=True)
        out = (x @ w).tanh().softmax(1)[:, 0].sum()
        (gx,) = m.autograd.grad(out, x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        results.append((penalty.item(), w.grad.cpu().numpy(), x.grad.cpu().numpy()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-8)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-8)


def test_backward_create_graph_builds_differentiable_grad():
    x = leaf(1.0, 2.0)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.cpu().numpy(), [6.0, 12.0])


def test_third_derivative():
    x = leaf(0.5)
    y = x.sin()
    (g1,) = autograd.grad(y, x, create_graph=True)
    (g2,) = autograd.grad(g1, x, create_graph=True)
    (g3,) = autograd.grad(g2, x)
    assert g3.item() == pytest.approx(-np.cos(0.5))


def test_leaf_grad_is_writable_and_owns_its_storage():
    x = tp.ones(3, requires_grad=True)
    x.sum().backward()
    x.grad.add_(1)  # a broadcast gradient must not reach .grad as a read-only view
    x.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    g = tp.ones(3)
    x.grad = None
    (x + 0).backward(g)
    x.grad.mul_(5)
    assert g.tolist() == [1.0, 1.0, 1.0]
    x.grad = None
    x.backward(g)
    x.grad.mul_(5)
    assert g.tolist() == [1.0, 1.0, 1.0]
    w = tp.ones(2, requires_grad=True)
    (x.sum() + w.sum()).backward(inputs=[x, w])
    w.grad.zero_()
    assert x.grad.sum().item() == 5.0 * 3 + 3
