"""nn.utils.parametrize, parametrizations.weight_norm/spectral_norm and the older hook-based weight_norm /
spectral_norm against torch: values, gradients, state_dict keys, reprs, removal, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

R = np.random.default_rng(5)
X = R.standard_normal((4, 3))


def _linear_pair(cls_ours=None, cls_theirs=None):
    ours = (cls_ours or (lambda: tensorplug.nn.Linear(3, 5)))().double()
    theirs = (cls_theirs or (lambda: torch.nn.Linear(3, 5)))().double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _copy_state(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def _train_step(ours, theirs, x=X):
    outs = []
    for m, lib in ((ours, tensorplug), (theirs, torch)):
        y = m(lib.tensor(x))
        (y * lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))).sum().backward()
        outs.append((y.detach().numpy(), {k: p.grad.numpy() for k, p in m.named_parameters()}))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-10, atol=1e-12)
    assert outs[0][1].keys() == outs[1][1].keys()
    for k in outs[0][1]:
        np.testing.assert_allclose(outs[0][1][k], outs[1][1][k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_parametrized_weight_norm_matches_torch(dim):
    ours, theirs = _linear_pair()
    tensorplug.nn.utils.parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v.numpy(), theirs.state_dict()[k].numpy(), rtol=1e-12)
    _train_step(ours, theirs)


def test_parametrized_weight_norm_on_conv_matches_torch():
    make = [lambda lib: lib.nn.Conv2d(2, 3, 3).double(), lambda lib: lib.nn.ConvTranspose2d(2, 3, 3).double()]
    for build in make:
        ours, theirs = build(tensorplug), build(torch)
        _copy_state(ours, theirs)
        tensorplug.nn.utils.parametrizations.weight_norm(ours)
        torch.nn.utils.parametrizations.weight_norm(theirs)
        _train_step(ours, theirs, R.standard_normal((1, 2, 5, 5)))


def test_parametrized_spectral_norm_matches_torch():
    ours, theirs = _linear_pair()
    tensorplug.nn.utils.parametrizations.spectral_norm(ours)
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_state(ours, theirs)  # the power-iteration vectors start from each library's own random draw
    for _ in range(3):  # training-mode accesses step the power iteration
        _train_step(ours, theirs)
    ours.eval()
    theirs.eval()
    _train_step(ours, theirs)
    np.testing.assert_allclose(ours.parametrizations.weight[0]._u.numpy(),
                               theirs.parametrizations.weight[0]._u.numpy(), rtol=1e-9)


def test_spectral_norm_converges_to_largest_singular_value():
    m = tensorplug.nn.Linear(6, 4).double()
    with tensorplug.no_grad():  # well-separated singular values: 15 power steps converge far past 1e-6
        m.weight.copy_(tensorplug.tensor(np.eye(4, 6) * [[3.0], [1.0], [0.5], [0.2]]) + 0.01)
    tensorplug.nn.utils.parametrizations.spectral_norm(m)
    m.eval()
    singular = np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)
    np.testing.assert_allclose(singular[0], 1.0, rtol=1e-6)


@pytest.mark.parametrize("old", [True, False])
def test_hook_weight_norm_matches_torch(old):
    ours, theirs = _linear_pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        tensorplug.nn.utils.weight_norm(ours)
        torch.nn.utils.weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _train_step(ours, theirs)
    tensorplug.nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)


def test_hook_weight_norm_warns_and_refuses_twice():
    for lib in (torch, tensorplug):
        m = lib.nn.Linear(3, 2)
        with pytest.warns(FutureWarning, match="`torch.nn.utils.weight_norm` is deprecated"):
            lib.nn.utils.weight_norm(m)
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                lib.nn.utils.weight_norm(m)
        with pytest.raises(ValueError, match="weight_norm of 'bias' not found in"):
            lib.nn.utils.remove_weight_norm(m, "bias")


def test_hook_spectral_norm_matches_torch():
    ours, theirs = _linear_pair()
    tensorplug.nn.utils.spectral_norm(ours)
    torch.nn.utils.spectral_norm(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    for _ in range(2):
        _train_step(ours, theirs)
    tensorplug.nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-9)


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(0, 1)

        def right_inverse(self, a):
            return a.triu()
    return Symmetric()


def test_register_parametrization_api_matches_torch():
    results = []
    for lib in (tensorplug, torch):
        pz = lib.nn.utils.parametrize
        m = lib.nn.Linear(3, 3).double()
        weight = m.weight
        pz.register_parametrization(m, "weight", _symmetric(lib))
        assert pz.is_parametrized(m) and pz.is_parametrized(m, "weight") and not pz.is_parametrized(m, "bias")
        assert pz.type_before_parametrizations(m) is lib.nn.Linear
        assert type(m).__name__ == "ParametrizedLinear" and isinstance(m, lib.nn.Linear)
        assert m.parametrizations.weight.original is weight  # optimizers made before keep working
        w = m.weight
        assert (w == w.T).all()
        m.weight = lib.tensor(X[:3].T @ X[:3])  # assignment goes through right_inverse
        with pz.cached():
            assert m.weight is m.weight
        results.append((m.weight.detach().numpy().copy(), list(m.state_dict())))
        pz.remove_parametrizations(m, "weight")
        assert type(m) is lib.nn.Linear and isinstance(m.weight, lib.nn.Parameter)
        assert not hasattr(m, "parametrizations")
        results[-1] += (m.weight.detach().numpy(),)
    np.testing.assert_allclose(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    np.testing.assert_allclose(results[0][2], results[1][2])


def test_parametrization_errors_match_torch():
    for lib in (tensorplug, torch):
        pz = lib.nn.utils.parametrize
        m = lib.nn.Linear(3, 3)
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element with "
                                             "name 'kernel'"):
            pz.register_parametrization(m, "kernel", _symmetric(lib))
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            pz.remove_parametrizations(m, "weight")
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'kernel'"):
            lib.nn.utils.parametrizations.spectral_norm(m, "kernel")
        with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
            lib.nn.utils.parametrizations.spectral_norm(m, n_power_iterations=0)
        lib.nn.utils.parametrizations.weight_norm(m)
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            pz.remove_parametrizations(m, "weight", leave_parametrized=False)


def test_registration_evaluates_once_and_checks_shape_as_torch():
    for lib in (tensorplug, torch):
        calls = []

        class Counting(lib.nn.Module):
            def forward(self, x):
                calls.append(1)
                return x

        class Flatten(lib.nn.Module):
            def forward(self, x):
                return x.reshape(-1)
        m = lib.nn.Linear(3, 3)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", Counting())
        assert len(calls) == 1
        with pytest.raises(ValueError, match="Registering a parametrization may not change the shape of the tensor"):
            lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(3, 3), "weight", Flatten())
        lib.nn.utils.parametrize.register_parametrization(lib.nn.Linear(3, 3), "weight", Flatten(), unsafe=True)


def test_weight_norm_gradcheck():
    m = tensorplug.nn.utils.parametrizations.weight_norm(tensorplug.nn.Linear(3, 2).double())
    g, v = m.parametrizations.weight.original0, m.parametrizations.weight.original1
    fn = tensorplug.nn.utils.parametrizations.weight_norm_of
    assert tensorplug.autograd.gradcheck(lambda a, b: fn(b, a, 0), (g, v))


def test_on_every_backend(backend):
    m = tensorplug.nn.utils.parametrizations.weight_norm(tensorplug.nn.Linear(3, 2).double())
    w = m.weight.detach().numpy()
    v = m.parametrizations.weight.original1.detach().numpy()
    g = m.parametrizations.weight.original0.detach().numpy()
    np.testing.assert_allclose(w, g * v / np.linalg.norm(v, axis=1, keepdims=True), rtol=1e-12)
    s = tensorplug.nn.Linear(6, 4).double()
    with tensorplug.no_grad():
        s.weight.copy_(tensorplug.tensor(np.eye(4, 6) * [[3.0], [1.0], [0.5], [0.2]]))
    tensorplug.nn.utils.parametrizations.spectral_norm(s)
    s.eval()
    np.testing.assert_allclose(np.linalg.svd(s.weight.detach().numpy(), compute_uv=False)[0], 1.0, rtol=1e-6)
