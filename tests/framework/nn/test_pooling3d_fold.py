"""3-D pooling, ConvTranspose3d and Fold/Unfold against torch: values, gradients, indices, reprs, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from torch_compare import outputs_and_grads

torch = pytest.importorskip("torch")

R = np.random.default_rng(7)
X5 = R.standard_normal((2, 3, 5, 6, 7))
X4 = R.standard_normal((2, 3, 5, 6))


W3 = R.standard_normal((3, 2, 2, 3, 2))
CASES = {
    "max_pool3d": (lambda m, x: m.nn.functional.max_pool3d(x, 2), [X5]),
    "max_pool3d_indices": (lambda m, x: m.nn.functional.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), 1, True,
                                                                   True), [X5]),
    "max_pool3d_dilation": (lambda m, x: m.nn.functional.max_pool3d(x, 2, 1, 0, 2), [X5]),
    "max_pool3d_unbatched": (lambda m, x: m.nn.functional.max_pool3d(x[0], 3, 2, 1), [X5]),
    "avg_pool3d": (lambda m, x: m.nn.functional.avg_pool3d(x, 2), [X5]),
    "avg_pool3d_pad": (lambda m, x: m.nn.functional.avg_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), True, False),
                       [X5]),
    "avg_pool3d_divisor": (lambda m, x: m.nn.functional.avg_pool3d(x, 3, 2, 1, divisor_override=5), [X5]),
    "adaptive_avg_pool3d": (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (2, 4, 3)), [X5]),
    "adaptive_avg_pool3d_div": (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (5, 3, None)), [X5]),
    "adaptive_avg_pool3d_1": (lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 1), [X5]),
    "adaptive_max_pool3d": (lambda m, x: m.nn.functional.adaptive_max_pool3d(x, (2, 4, 3), True), [X5]),
    "adaptive_max_pool3d_div": (lambda m, x: m.nn.functional.adaptive_max_pool3d(x, (5, 3, 7), True), [X5]),
    "max_unpool3d": (lambda m, x: m.nn.functional.max_unpool3d(*m.nn.functional.max_pool3d(x, 2, return_indices=True),
                                                               2, output_size=(5, 6, 7)), [X5]),
    "conv_transpose3d": (lambda m, x, w: m.nn.functional.conv_transpose3d(x, w, None, 2, 1, 1), [X5, W3]),
    "conv_transpose3d_dil": (lambda m, x, w: m.nn.functional.conv_transpose3d(x, w, None, 1, 0, 0, 1, 2),
                             [X5, W3]),
    "unfold": (lambda m, x: m.nn.functional.unfold(x, (2, 3), 1, 1, (1, 2)), [X4]),
    "fold": (lambda m, x: m.nn.functional.fold(x, (4, 5), 2), [R.standard_normal((2, 12, 12))]),
    "fold_module": (lambda m, x: m.nn.Fold((5, 6), (2, 3), 1, 1, (1, 2))(x), [R.standard_normal((2, 18, 18))]),
    "unfold_module": (lambda m, x: m.nn.Unfold(2, dilation=2)(x), [X4]),
    "fold_unfold": (lambda m, x: m.nn.Fold((5, 6), 2)(m.nn.Unfold(2)(x)), [X4]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    fn, arrays = CASES[name]
    ours_vals, ours_grads = outputs_and_grads(tensorplug, fn, arrays)
    torch_vals, torch_grads = outputs_and_grads(torch, fn, arrays)
    for a, b in zip(ours_vals + ours_grads, torch_vals + torch_grads):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["max_pool3d_indices", "avg_pool3d_pad", "adaptive_avg_pool3d", "conv_transpose3d",
                                  "fold_module", "unfold"])
def test_gradcheck(name):
    fn, arrays = CASES[name]
    # one example and few channels: gradcheck perturbs every input element
    small = [a[:1, :2] if a.ndim == 5 and a is not W3 else a for a in arrays]
    if name == "conv_transpose3d":
        small = [arrays[0][:1, :, :3, :3, :3], arrays[1]]
    inputs = tuple(tensorplug.tensor(a, requires_grad=True) for a in small)
    assert tensorplug.autograd.gradcheck(lambda *xs: fn(tensorplug, *xs), inputs)


def test_modules_match_torch():
    x = X5[:, :, :4, :4, :4]
    layers = [
        lambda m: m.MaxPool3d(2, return_indices=True),
        lambda m: m.AvgPool3d((2, 1, 2), padding=(1, 0, 1), count_include_pad=False),
        lambda m: m.AdaptiveAvgPool3d((3, None, 2)),
        lambda m: m.AdaptiveMaxPool3d(3),
    ]
    for make in layers:
        ours, theirs = make(tensorplug.nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        a, b = ours(tensorplug.tensor(x)), theirs(torch.tensor(x))
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        for u, v in zip(a, b):
            np.testing.assert_allclose(u.numpy(), v.numpy())
    for ours, theirs in ((tensorplug.nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2)),
                         (tensorplug.nn.Unfold((2, 3), padding=1), torch.nn.Unfold((2, 3), padding=1)),
                         (tensorplug.nn.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2))):
        assert repr(ours) == repr(theirs)


def test_conv_transpose3d_module_matches_torch():
    ours = tensorplug.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1).double()
    theirs = torch.nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1).double()
    assert repr(ours) == repr(theirs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = X5[:, :, :3, :3, :3]
    np.testing.assert_allclose(ours(tensorplug.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    a = ours(tensorplug.tensor(x), output_size=(5, 6, 5))
    b = theirs(torch.tensor(x), output_size=(5, 6, 5))
    assert tuple(a.shape) == tuple(b.shape)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.max_pool3d(m.ones(2, 3, 4), 2),
    lambda m: m.nn.functional.avg_pool3d(m.ones(1, 1, 2, 2, 2), 3),
    lambda m: m.nn.functional.max_pool3d(m.ones(1, 1, 4, 4, 4), 2, padding=2),
    lambda m: m.nn.functional.conv_transpose3d(m.ones(1, 2, 3, 3, 3), m.ones(3, 2, 2, 2, 2)),
    lambda m: m.nn.functional.fold(m.ones(1, 5, 12), (4, 5), 2),
    lambda m: m.nn.functional.unfold(m.ones(1, 1, 2, 2), 3),
    lambda m: m.nn.functional.unfold(m.ones(1, 0, 3, 4), 2),
    lambda m: m.nn.functional.unfold(m.ones(3, 4), 2),
    lambda m: m.nn.functional.unfold(m.ones(1, 1, 1, 3, 4), 2),
    lambda m: m.nn.functional.fold(m.ones(1, 0, 6), (3, 4), 2),
    lambda m: m.nn.functional.adaptive_avg_pool3d(m.ones(3, 5, 4), (2, 2, 2)),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)):
        call(tensorplug)


def test_adaptive_avg_pool3d_inf_stays_in_its_window():
    x = X5.copy()
    x[0, 0, 0, 0, 0] = np.inf
    ours = tensorplug.nn.functional.adaptive_avg_pool3d(tensorplug.tensor(x), (2, 4, 3)).numpy()
    theirs = torch.nn.functional.adaptive_avg_pool3d(torch.tensor(x), (2, 4, 3)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_on_every_backend(backend):
    x = tensorplug.tensor(X5)
    np.testing.assert_allclose(tensorplug.nn.functional.max_pool3d(x, 2).numpy(),
                               torch.nn.functional.max_pool3d(torch.tensor(X5), 2).numpy())
    np.testing.assert_allclose(tensorplug.nn.functional.adaptive_avg_pool3d(x, (2, 4, 3)).numpy(),
                               torch.nn.functional.adaptive_avg_pool3d(torch.tensor(X5), (2, 4, 3)).numpy(),
                               rtol=1e-12)
    cols = tensorplug.nn.Unfold(2)(tensorplug.tensor(X4))
    np.testing.assert_allclose(cols.numpy(), torch.nn.Unfold(2)(torch.tensor(X4)).numpy())
