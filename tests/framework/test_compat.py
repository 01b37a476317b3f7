"""The script idioms around training that torch users write: backend switches, torch.compile, autocast,
GradScaler, float32 matmul precision, torch.testing.assert_close -- against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")


def test_backend_switches_are_settable_and_truthful():
    tensorplug.backends.cudnn.benchmark = True
    tensorplug.backends.cudnn.deterministic = True
    tensorplug.backends.cuda.matmul.allow_tf32 = True
    assert tensorplug.backends.cudnn.benchmark is True
    assert tensorplug.backends.mps.is_available() is False
    assert tensorplug.backends.cudnn.is_available() is False  # no cuDNN through CuPy 14
    device = "cuda" if tensorplug.cuda.is_available() else ("mps" if tensorplug.backends.mps.is_available() else "cpu")
    assert tensorplug.ones(2, device=device).device.type == device


def test_compile_returns_the_eager_model_and_works_as_a_decorator():
    model = tensorplug.nn.Linear(3, 2)
    assert tensorplug.compile(model) is model
    assert tensorplug.compile(model, mode="max-autotune", fullgraph=True) is model

    @tensorplug.compile(dynamic=True)
    def double(x):
        return x * 2

    assert double(tensorplug.ones(2)).tolist() == [2.0, 2.0]


def test_float32_matmul_precision():
    for lib in (tensorplug, torch):
        before = lib.get_float32_matmul_precision()
        lib.set_float32_matmul_precision("high")
        assert lib.get_float32_matmul_precision() == "high"
        lib.set_float32_matmul_precision(before)
    with pytest.raises(RuntimeError):
        tensorplug.set_float32_matmul_precision("fastest")


def test_autocast_keeps_dtypes_as_context_and_decorator():
    x = tensorplug.randn(2, 3)
    w = tensorplug.randn(3, 3)
    with tensorplug.autocast("cpu"):
        assert (x @ w).dtype == tensorplug.float32
    with tensorplug.amp.autocast(device_type="cuda", enabled=False):
        pass

    @tensorplug.autocast("cuda")
    def f(a):
        return a + 1

    assert f(x).dtype == tensorplug.float32
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tensorplug.autocast(0)


def _train(lib, steps, blow_up_at):
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 1)
    with lib.no_grad():
        model.weight.copy_(lib.tensor([[0.5, -0.25, 0.1]]))
        model.bias.copy_(lib.tensor([0.2]))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    scaler = lib.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3)
    x = lib.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    scales, skipped = [], []
    for i in range(steps):
        opt.zero_grad()
        loss = model(x).square().mean()
        if i in blow_up_at:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        before = model.weight.detach().clone()
        scaler.step(opt)
        skipped.append(bool((model.weight.detach() == before).all()))
        scaler.update()
        scales.append(scaler.get_scale())
    return ([p.detach().numpy().copy() for p in model.parameters()], scales, skipped, scaler.state_dict())


def test_grad_scaler_follows_torch_step_for_step():
    ours, theirs = _train(tensorplug, 9, {2, 6}), _train(torch, 9, {2, 6})
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert ours[1:] == theirs[1:]


def test_grad_scaler_misuse_and_cuda_fallback_like_torch():
    for lib in (tensorplug, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(p.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this optimizer"):
            scaler.unscale_(opt)
        with pytest.raises(AssertionError, match="The growth factor must be > 1.0"):
            lib.amp.GradScaler("cpu", growth_factor=1.0)
    if not tensorplug.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                scaler = tensorplug.cuda.amp.GradScaler()
        assert not scaler.is_enabled() and scaler.scale(tensorplug.ones(1)).item() == 1.0
    with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast\\(args...\\)` is deprecated"):
        tensorplug.cuda.amp.autocast()


@pytest.mark.parametrize("case", [
    lambda m: m.testing.assert_close(m.tensor([1., 2., 3.]), m.tensor([1., 2., 3.1])),
    lambda m: m.testing.assert_close(m.tensor([[1, 2]]), m.tensor([[1, 3]])),
    lambda m: m.testing.assert_close(m.tensor([1., 2.]), m.tensor([1., 2., 3.])),
    lambda m: m.testing.assert_close(m.tensor([1., 2.]), m.tensor([1., 2.], dtype=m.float64)),
    lambda m: m.testing.assert_close(m.tensor(2.0), m.tensor(2.5)),
    lambda m: m.testing.assert_close(2.0, 2.5),
    lambda m: m.testing.assert_close(2, 3),
    lambda m: m.testing.assert_close([m.tensor(1.0), m.tensor(2.0)], [m.tensor(1.0), m.tensor(2.5)]),
    lambda m: m.testing.assert_close(m.tensor([1.0]), m.tensor([1.0 + 1e-6])),
    lambda m: m.testing.assert_close(m.tensor([1.0, float("nan")]), m.tensor([1.0, float("nan")]), equal_nan=True),
    lambda m: m.testing.assert_close(m.tensor([1.0]), m.tensor([1.001]), rtol=1e-2, atol=0.0),
])
def test_assert_close_matches_torch(case):
    outcome = []
    for lib in (tensorplug, torch):
        try:
            case(lib)
            outcome.append("passed")
        except AssertionError as exc:
            outcome.append(str(exc).replace("torch.", "").replace("tensorplug.", ""))
    assert outcome[0] == outcome[1]
