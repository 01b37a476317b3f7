"""F.grid_sample and F.affine_grid against torch: every mode x padding x align_corners, 2-D and 3-D,
values and gradients for input and grid, gradcheck, errors and warnings."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

R = np.random.default_rng(11)
X4 = R.standard_normal((2, 3, 5, 6))
G4 = R.uniform(-1.3, 1.3, (2, 4, 7, 2))  # reaches past the border: every padding mode matters
X5 = R.standard_normal((2, 2, 4, 5, 3))
G5 = R.uniform(-1.3, 1.3, (2, 3, 2, 4, 3))
THETA = R.standard_normal((2, 2, 3))
THETA3 = R.standard_normal((2, 3, 4))


def _run(lib, fn, arrays):
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    (out * weights).sum().backward()
    grads = [t.grad.numpy() if t.grad is not None else None for t in inputs]
    return out.detach().numpy(), grads


CASES = [(x, g, mode, pad, align) for (x, g), mode, pad, align in itertools.product(
    [(X4, G4), (X5, G5)], ["bilinear", "nearest", "bicubic"], ["zeros", "border", "reflection"], [True, False])
    if not (mode == "bicubic" and x.ndim == 5)]


@pytest.mark.parametrize("x, g, mode, pad, align", CASES,
                         ids=[f"{x.ndim}d-{m}-{p}-{a}" for x, _, m, p, a in CASES])
def test_grid_sample_matches_torch(x, g, mode, pad, align):
    def fn(lib, inp, grid):
        return lib.nn.functional.grid_sample(inp, grid, mode, pad, align)
    ours, ours_grads = _run(tensorplug, fn, [x, g])
    theirs, their_grads = _run(torch, fn, [x, g])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours_grads[0], their_grads[0], rtol=1e-10, atol=1e-12)
    # nearest: both give the grid zeros (sampling is piecewise constant in it)
    np.testing.assert_allclose(ours_grads[1], their_grads[1], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("theta, size", [(THETA, (2, 3, 4, 5)), (THETA3, (2, 3, 4, 5, 2)), (THETA, (2, 1, 1, 3))])
@pytest.mark.parametrize("align", [True, False])
def test_affine_grid_matches_torch(theta, size, align):
    def fn(lib, t):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return lib.nn.functional.affine_grid(t, size, align)
    ours, ours_grads = _run(tensorplug, fn, [theta])
    theirs, their_grads = _run(torch, fn, [theta])
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours_grads[0], their_grads[0], rtol=1e-12, atol=1e-14)


def test_spatial_transformer_round_trip_matches_torch():
    # the STN tutorial's use: affine_grid then grid_sample, gradient to theta
    def fn(lib, theta, x):
        grid = lib.nn.functional.affine_grid(theta, (2, 3, 5, 6), align_corners=False)
        return lib.nn.functional.grid_sample(x, grid, align_corners=False)
    ours, ours_grads = _run(tensorplug, fn, [THETA, X4])
    theirs, their_grads = _run(torch, fn, [THETA, X4])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for a, b in zip(ours_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("mode, pad, align", [("bilinear", "zeros", False), ("bilinear", "reflection", True),
                                              ("bicubic", "border", False)])
def test_grid_sample_gradcheck(mode, pad, align):
    x = tensorplug.tensor(X4[:1, :1, :3, :4], requires_grad=True)
    g = tensorplug.tensor(G4[:1, :2, :3], requires_grad=True)
    assert tensorplug.autograd.gradcheck(
        lambda a, b: tensorplug.nn.functional.grid_sample(a, b, mode, pad, align), (x, g))


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3, 3), m.zeros(1, 2, 2, 2), mode="area", align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3, 3), m.zeros(1, 2, 2, 2), padding_mode="wrap",
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3, 3), m.zeros(1, 2, 2, 3), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3, 3), m.zeros(2, 2, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3), m.zeros(1, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(()), m.zeros(1, 2, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 3, 3), m.zeros(0, 2, 2, 2), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(1, 2, 3, dtype=m.int64), (1, 1, 2, 2), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(1, 3, 3), (1, 1, 2, 2), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(1, 2, 3), (1, 1, 2), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(1, 2, 3), (1, 1, 0, 2), align_corners=False),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tensorplug)
    key = str(theirs.value).split(":")[0].split(",")[0][:40]
    assert key.replace("torch.", "") in str(ours.value)


@pytest.mark.parametrize("shapes", [((0, 2, 3, 4), (0, 3, 2, 2)), ((1, 0, 3, 4), (1, 3, 2, 2)),
                                    ((1, 2, 3, 4), (1, 0, 2, 2))])
def test_grid_sample_empty_matches_torch(shapes):
    for mode in ("bilinear", "nearest", "bicubic"):
        ours = tensorplug.nn.functional.grid_sample(tensorplug.zeros(shapes[0]), tensorplug.zeros(shapes[1]), mode,
                                                    align_corners=True)
        theirs = torch.nn.functional.grid_sample(torch.zeros(shapes[0]), torch.zeros(shapes[1]), mode,
                                                 align_corners=True)
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_nan_grid_is_outside_as_torch():
    grid = G4.copy()
    grid[0, 0, 0] = np.nan
    grid[0, 0, 1, 0] = np.inf
    for pad in ("zeros", "border"):
        ours = tensorplug.nn.functional.grid_sample(tensorplug.tensor(X4), tensorplug.tensor(grid), "bilinear", pad,
                                                    True).numpy()
        theirs = torch.nn.functional.grid_sample(torch.tensor(X4), torch.tensor(grid), "bilinear", pad, True).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_align_corners_default_warns_as_torch():
    for lib in (torch, tensorplug):
        with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
            grid = lib.nn.functional.affine_grid(lib.eye(2, 3).unsqueeze(0), (1, 1, 2, 2))
        with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
            lib.nn.functional.grid_sample(lib.ones(1, 1, 2, 2), grid)


def test_on_every_backend(backend):
    out = tensorplug.nn.functional.grid_sample(tensorplug.tensor(X4), tensorplug.tensor(G4), "bilinear",
                                               "reflection", False)
    expected = torch.nn.functional.grid_sample(torch.tensor(X4), torch.tensor(G4), "bilinear", "reflection", False)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    grid = tensorplug.nn.functional.affine_grid(tensorplug.tensor(THETA), (2, 3, 4, 5), align_corners=True)
    np.testing.assert_allclose(grid.numpy(), torch.nn.functional.affine_grid(torch.tensor(THETA), (2, 3, 4, 5),
                                                                             align_corners=True).numpy(), rtol=1e-12)
