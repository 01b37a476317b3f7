"""tensorplug.func (functional_call, grad, grad_and_value, vjp, jacrev, hessian, vmap) against torch.func."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import func

torch = pytest.importorskip("torch")

R = np.random.default_rng(3)
X = R.standard_normal((3, 4))
V = R.standard_normal(4)


def _pair(*arrays):
    return [tensorplug.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


def _close(ours, theirs):
    ours_leaves = tensorplug.utils._pytree.tree_leaves(ours)
    theirs_leaves = torch.utils._pytree.tree_leaves(theirs)
    assert len(ours_leaves) == len(theirs_leaves)
    for a, b in zip(ours_leaves, theirs_leaves):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def _both(build, *arrays):
    (ours, theirs) = _pair(*arrays)
    return build(tensorplug, func, ours), build(torch, torch.func, theirs)


# grad -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda m, f, a: f.grad(lambda x, v: (x.sin() * v).sum())(*a),
    lambda m, f, a: f.grad(lambda x, v: (x.sin() * v).sum(), argnums=1)(*a),
    lambda m, f, a: f.grad(lambda x, v: (x.exp() @ v).sum(), argnums=(0, 1))(*a),
    lambda m, f, a: f.grad(lambda d: (d["x"] * d["v"]).sum())({"x": a[0], "v": a[1]}),
    lambda m, f, a: f.grad(lambda x, v: ((x * v).sum(), x.cos()), has_aux=True)(*a),
    lambda m, f, a: f.grad_and_value(lambda x, v: (x.tanh() * v).sum())(*a),
    lambda m, f, a: f.grad_and_value(lambda x, v: ((x * v).sum(), x.cos()), has_aux=True)(*a),
    lambda m, f, a: f.grad(lambda x, v: x.sum() * 0 + v.sum(), argnums=0)(*a),  # unused input: zeros
], ids=["simple", "argnum1", "argnums_tuple", "dict", "aux", "and_value", "and_value_aux", "unused"])
def test_grad_matches_torch(build):
    ours, theirs = _both(build, X, V)
    _close(ours, theirs)


def test_grad_nested_is_second_derivative():
    ours, theirs = _both(lambda m, f, a: f.grad(lambda x: f.grad(lambda y: (y ** 3 * a[1]).sum())(x).sum())(a[0]),
                         X, V)
    _close(ours, theirs)


def test_grad_of_closure_over_outer_input():
    # f(x) = x * d/dy (x*y) = x*x: a nested transform must keep the outer dependence, not confuse levels
    ours, theirs = _both(lambda m, f, a: f.grad(lambda x: (x * f.grad(lambda y: (x * y).sum())(x)).sum())(a[0]),
                         X)
    _close(ours, theirs)


def test_grad_result_detached_unless_outer_graph():
    x = tensorplug.tensor(V)
    assert not func.grad(lambda t: (t ** 2).sum())(x).requires_grad
    w = tensorplug.tensor(V, requires_grad=True)
    tw = torch.tensor(V, requires_grad=True)
    ours = func.grad(lambda t: (t * w).sin().sum())(x)
    theirs = torch.func.grad(lambda t: (t * tw).sin().sum())(torch.tensor(V))
    assert ours.requires_grad
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_grad_gradcheck_float64():
    g = func.grad(lambda x: (x.sin() * x).sum())
    x = tensorplug.tensor(V, requires_grad=True)
    assert tensorplug.autograd.gradcheck(g, (x,))


@pytest.mark.parametrize("call, phrase", [
    (lambda f, x: f.grad(lambda t: t * 2)(x), "Expected f(*args) to return a scalar Tensor, got tensor with 1 dims"),
    (lambda f, x: f.grad(lambda t: 1.0)(x), "Expected f(*args) to return a Tensor, got <class 'float'>"),
    (lambda f, x: f.grad(lambda t: t.sum(), argnums=2)(x), "Got argnum=2, but only 1 positional inputs"),
    (lambda f, x: f.grad(lambda t: t.sum(), argnums=())(x), "argnums must be non-empty"),
    (lambda f, x: f.grad(lambda t: t.sum(), argnums=(0, 0))(x), "argnums elements must be unique"),
    (lambda f, x: f.grad(lambda t: t.sum(), has_aux=True)(x), "output of function f should be a tuple"),
])
def test_grad_errors_match_torch(call, phrase):
    for lib, f in ((torch, torch.func), (tensorplug, func)):
        with pytest.raises(RuntimeError, match=phrase.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
            call(f, lib.tensor(V))


def test_grad_of_non_tensor_is_value_error():
    for f in (torch.func, func):
        with pytest.raises(ValueError, match="Thing passed to transform API must be Tensor"):
            f.grad(lambda t: t)(1.0)


# vjp / jacrev / hessian ----------------------------------------------------------------------------------
def _vjp(m, f, a):
    out, fn = f.vjp(lambda x, v: (x.sin() * v, x.sum()), a[0], a[1])
    return out, fn((m.ones_like(out[0]) * 0.5, m.tensor(2.0, dtype=m.float64)))


def _vjp_aux(m, f, a):
    out, fn, aux = f.vjp(lambda x: (x.exp(), x.cos()), a[0], has_aux=True)
    return out, fn(m.ones_like(out)), aux


@pytest.mark.parametrize("build", [
    _vjp, _vjp_aux,
    lambda m, f, a: f.jacrev(lambda x: x.sin() * x.sum())(a[1]),
    lambda m, f, a: f.jacrev(lambda x, v: x @ v, argnums=(0, 1))(a[0], a[1]),
    lambda m, f, a: f.jacrev(lambda x, v: (x @ v, (x * x).sum()), argnums=1)(a[0], a[1]),
    lambda m, f, a: f.jacrev(lambda x: (x.exp(), x.sum()), has_aux=True)(a[1]),
    lambda m, f, a: f.jacfwd(lambda x: x.sin() * x.sum())(a[1]),
    lambda m, f, a: f.hessian(lambda x: (x.sin() * x.prod()).sum())(a[1]),
], ids=["vjp", "vjp_aux", "jacrev", "jacrev_argnums", "jacrev_outputs", "jacrev_aux", "jacfwd", "hessian"])
def test_derivatives_match_torch(build):
    ours, theirs = _both(build, X, V)
    _close(ours, theirs)


def _jvp(m, f, a):
    return f.jvp(lambda x, v: (x.sin() * v.sum(), (x * x).sum()), (a[0], a[1]), (m.ones_like(a[0]), a[1] * 2))


def _jvp_aux(m, f, a):
    return f.jvp(lambda x: (x.exp(), x.cos()), (a[1],), (a[1],), has_aux=True)


@pytest.mark.parametrize("build", [_jvp, _jvp_aux,
                                   lambda m, f, a: f.jvp(lambda x: x * 0 + 1, (a[1],), (a[1],)),
                                   lambda m, f, a: f.functionalize(lambda x: x.add_(1))(a[1].clone())],
                         ids=["jvp", "jvp_aux", "jvp_constant", "functionalize"])
def test_forward_mode_matches_torch(build):
    ours, theirs = _both(build, X, V)
    _close(ours, theirs)


def test_jvp_errors_match_torch():
    for lib, f in ((torch, torch.func), (tensorplug, func)):
        with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
            f.jvp(lib.sin, lib.ones(2), lib.ones(2))
        with pytest.raises(RuntimeError, match="Expected primals and tangents to have the same python structure"):
            f.jvp(lib.sin, (lib.ones(2),), (lib.ones(2), lib.ones(2)))


def test_stateless_functional_call_warns_as_torch():
    for lib in (torch, tensorplug):
        m = lib.nn.Linear(2, 1)
        with pytest.warns(FutureWarning, match="stateless.functional_call` is deprecated"):
            out = lib.nn.utils.stateless.functional_call(m, {"weight": lib.ones(1, 2), "bias": lib.zeros(1)},
                                                        (lib.ones(1, 2),))
        assert out.item() == 2.0


def test_vjp_cotangent_structure_error():
    for lib, f in ((torch, torch.func), (tensorplug, func)):
        _, fn = f.vjp(lambda x: (x, x), lib.tensor(V))
        with pytest.raises(RuntimeError, match="Expected pytree structure of cotangents to be the same"):
            fn(lib.tensor(V))


def test_vjp_integer_output_error():
    for lib, f in ((torch, torch.func), (tensorplug, func)):
        with pytest.raises(RuntimeError, match="All outputs of f must be floating-point or complex Tensors"):
            f.vjp(lambda x: x.long(), lib.tensor(V))


# vmap ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda m, f, a: f.vmap(m.dot)(a[0], a[0]),
    lambda m, f, a: f.vmap(m.dot, in_dims=(0, None))(a[0], a[1]),
    lambda m, f, a: f.vmap(lambda x: x.sum(), in_dims=1)(a[0]),
    lambda m, f, a: f.vmap(lambda x: x * 2, in_dims=-1, out_dims=1)(a[0]),
    lambda m, f, a: f.vmap(lambda x, s: (x * s, x.sum()), in_dims=(0, None), out_dims=(1, 0))(a[0], 3.0),
    lambda m, f, a: f.vmap(lambda p: p[0] + p[1]["v"], in_dims=((0, {"v": None}),))((a[0], {"v": a[1]})),
    lambda m, f, a: f.vmap(f.vmap(lambda x, y: x * y, in_dims=(0, None)), in_dims=(None, 0))(a[1], a[0]),
    lambda m, f, a: f.vmap(lambda x, *, scale: x * scale)(a[0], scale=a[1][0]),
    lambda m, f, a: f.vmap(lambda x: {"s": x.sum(), "m": x.max()})(a[0]),
    lambda m, f, a: f.vmap(m.sin)(a[0][:0]),
    lambda m, f, a: f.vmap(f.grad(lambda x: (x ** 3).sum()))(a[0]),
    lambda m, f, a: f.vmap(f.jacrev(m.sin))(a[0]),
], ids=["dot", "in_dims_none", "in_dim1", "negative_out_dim", "out_dims_tuple", "nested_in_dims", "nested_vmap",
        "kwargs_unmapped", "dict_output", "empty_batch", "per_sample_grad", "jacrev"])
def test_vmap_matches_torch(build):
    ours, theirs = _both(build, X, V)
    _close(ours, theirs)


def test_vmap_on_every_backend(backend):
    x = tensorplug.tensor(X)
    out = tensorplug.vmap(lambda r, v: (r * v).sum(), in_dims=(0, None))(x, tensorplug.tensor(V))
    np.testing.assert_allclose(out.numpy(), X @ V, rtol=1e-12)
    grads = func.vmap(func.grad(lambda r: (r ** 2).sum()))(x)
    np.testing.assert_allclose(grads.numpy(), 2 * X, rtol=1e-12)


def test_vmap_gradcheck_float64():
    x = tensorplug.tensor(X[:2, :3], requires_grad=True)
    w = tensorplug.tensor(V[:3], requires_grad=True)
    mapped = func.vmap(lambda r, v: (r.sin() * v).sum() * r, in_dims=(0, None), out_dims=1)
    assert tensorplug.autograd.gradcheck(mapped, (x, w))
    assert tensorplug.autograd.gradgradcheck(mapped, (x, w))


def test_vmap_gradient_flows_to_inputs():
    ours, theirs = _pair(X)
    for lib, x in ((tensorplug, ours[0]), (torch, theirs[0])):
        x.requires_grad_(True)
        lib.vmap(lambda r: (r.sin() * r).sum())(x).sum().backward()
    np.testing.assert_allclose(ours[0].grad.numpy(), theirs[0].grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, phrase", [
    (lambda m, f: f.vmap(m.add)(m.ones(2, 3), m.ones(3, 3)), "Expected all tensors to have the same size in the "
                                                          "mapped dimension, got sizes [2, 3]"),
    (lambda m, f: f.vmap(m.sin, in_dims=2)(m.ones(2, 3)), "expected in_dim to satisfy -2 <= in_dim < 2"),
    (lambda m, f: f.vmap(m.sin, in_dims=(None,))(m.ones(2)), "Expected at least one Tensor to vmap over"),
    (lambda m, f: f.vmap(m.sin, in_dims=(0, 0))(m.ones(2)), "in_dims is not compatible with the structure"),
    (lambda m, f: f.vmap(m.sin, in_dims=[0])(m.ones(2)), "expected `in_dims` to be int or a (potentially nested) "
                                                       "tuple"),
    (lambda m, f: f.vmap(lambda x, n: x, in_dims=(0, 0))(m.ones(2), 3), "We cannot vmap over non-Tensor "
                                                                          "arguments"),
    (lambda m, f: f.vmap(lambda x: 1.0)(m.ones(2)), "must only return Tensors, got type <class 'float'>"),
    (lambda m, f: f.vmap(m.sin)(), "got no inputs"),
    (lambda m, f: f.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(m.ones(2)), "out_dims is not compatible"),
])
def test_vmap_errors_match_torch(call, phrase):
    import re
    for lib, f in ((torch, torch.func), (tensorplug, func)):
        with pytest.raises(ValueError, match=re.escape(phrase)):
            call(lib, f)


def test_vmap_randomness():
    for lib in (torch, tensorplug):
        with pytest.raises(RuntimeError, match="called random operation while in randomness error mode"):
            lib.vmap(lib.rand_like)(lib.zeros(2, 3))
        same = lib.vmap(lib.rand_like, randomness="same")(lib.zeros(2, 3))
        assert (same[0] == same[1]).all()
        different = lib.vmap(lib.rand_like, randomness="different")(lib.zeros(2, 3))
        assert not (different[0] == different[1]).all()
        with pytest.raises(RuntimeError, match="Only allowed values for randomness are 'error', 'different', "
                                               "or 'same'. Got sometimes"):
            lib.vmap(lib.sin, randomness="sometimes")


# functional_call -------------------------------------------------------------------------------------------
def _models():
    ours = tensorplug.nn.Sequential(tensorplug.nn.Linear(4, 3), tensorplug.nn.BatchNorm1d(3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def test_functional_call_matches_torch_and_restores():
    ours, theirs = _models()
    before = dict(func._named_tensors(ours))
    for m, lib in ((ours, tensorplug), (theirs, torch)):
        params = {"0.weight": lib.ones(3, 4, dtype=lib.float64), "1.running_mean": lib.ones(3, dtype=lib.float64)}
        m.eval()
        m.out = lib.func.functional_call(m, params, lib.tensor(X))
        m.again = lib.func.functional_call(m, (params,), args=(lib.tensor(X),))
    _close((ours.out, ours.again), (theirs.out, theirs.again))
    for k, v in func._named_tensors(ours):
        assert v is before[k]
    assert isinstance(ours[0].weight, tensorplug.nn.Parameter)


def test_functional_call_per_sample_grads_match_torch():
    ours, theirs = _models()
    results = []
    for m, lib in ((ours[0], tensorplug), (theirs[0], torch)):
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, x, m=m, lib=lib):
            return (lib.func.functional_call(m, p, (x,)) ** 2).sum()
        results.append(lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0))(params, lib.tensor(X)))
    _close(*results)


def test_functional_call_strict_and_tied_errors():
    ours, theirs = _models()
    for m, lib in ((ours, tensorplug), (theirs, torch)):
        with pytest.raises(RuntimeError, match=r"Error\(s\) in reparametrizing for Sequential:\n\tUnexpected "
                                               r"key\(s\): 'extra'.\n\tMissing key\(s\)"):
            lib.func.functional_call(m, {"extra": lib.ones(1)}, lib.tensor(X), strict=True)
        with pytest.raises(ValueError, match=r"\['0.bias'\] appeared in multiple dictionaries"):
            lib.func.functional_call(m, ({"0.bias": lib.ones(3)}, {"0.bias": lib.ones(3)}), lib.tensor(X))
        with pytest.raises(ValueError, match="Expected parameter_and_buffer_dicts to be a dict"):
            lib.func.functional_call(m, 3, lib.tensor(X))
    tied = tensorplug.nn.Module()
    tied.a = tensorplug.nn.Linear(2, 2)
    tied.b = tensorplug.nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    with pytest.raises(ValueError, match="which are tied"):
        func.functional_call(tied, {"a.weight": tensorplug.ones(2, 2), "b.weight": tensorplug.zeros(2, 2)}, ())


def test_functional_call_strict_message_is_torchs():
    ours, theirs = _models()
    messages = []
    for m, lib in ((ours, tensorplug), (theirs, torch)):
        with pytest.raises(RuntimeError) as info:
            lib.func.functional_call(m, {"z": lib.ones(1), "a": lib.ones(1)}, lib.tensor(X), strict=True)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_functional_call_ties_weights():
    results = []
    for lib in (tensorplug, torch):
        class Tied(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = lib.nn.Linear(2, 2, bias=False)
                self.b = lib.nn.Linear(2, 2, bias=False)
                self.b.weight = self.a.weight

            def forward(self, x):
                return self.b(self.a(x))
        x = lib.ones(1, 2)
        results.append([lib.func.functional_call(Tied(), {"a.weight": 2 * lib.eye(2)}, x, tie_weights=t)
                        for t in (True,)])
    np.testing.assert_allclose(results[0][0].detach().numpy(), results[1][0].detach().numpy())


def test_stack_module_state_matches_torch():
    ours = [tensorplug.nn.Linear(3, 2) for _ in range(2)]
    theirs = [torch.nn.Linear(3, 2) for _ in range(2)]
    for o, t in zip(ours, theirs):
        t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in o.state_dict().items()})
    (p, b), (tp_, tb) = func.stack_module_state(ours), torch.func.stack_module_state(theirs)
    _close(p, tp_)
    assert p["weight"].requires_grad and p["weight"].is_leaf
