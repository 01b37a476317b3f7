"""quantile / nanquantile, nanmean / nansum, kthvalue, mode, repeat_interleave, Tensor.unfold and
torch.normal against torch: values, gradients, dtypes, shapes and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
Y = R.standard_normal((3, 5))
WITH_NAN = Y.copy()
WITH_NAN[0, 2] = np.nan
TIES = np.array([[1.0, 2, 2, 3, 3], [5, 5, 1, 1, 0], [4, 4, 4, 0, 0]])


def _run(lib, fn, array, grad):
    t = lib.tensor(array, requires_grad=grad)
    y = fn(lib, t)
    y = y[0] if isinstance(y, tuple) else y
    g = None
    if grad and y.requires_grad:
        finite = lib.where(y.isnan(), lib.zeros_like(y), y)
        (finite * lib.arange(finite.numel(), dtype=finite.dtype).reshape(finite.shape)).sum().backward()
        g = t.grad.numpy()
    return y.detach().numpy(), g, str(y.dtype).split(".")[-1]


def _compare(fn, array=Y, grad=True):
    ours, theirs = _run(tensorplug, fn, array, grad), _run(torch, fn, array, grad)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert ours[0].shape == theirs[0].shape and ours[2] == theirs[2]
    if theirs[1] is not None:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("array", [Y, WITH_NAN], ids=["finite", "nan"])
def test_quantile_and_nanquantile(interpolation, array):
    for name in ("quantile", "nanquantile"):
        _compare(lambda m, t: getattr(m, name)(t, 0.37, dim=1, interpolation=interpolation), array)
        _compare(lambda m, t: getattr(t, name)(m.tensor([0.1, 0.5, 0.9], dtype=m.float64), dim=0, keepdim=True,
                                               interpolation=interpolation), array)
        _compare(lambda m, t: getattr(m, name)(t, 0.5, interpolation=interpolation), array)


def test_quantile_errors_match_torch():
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match=r"q must be in the range \[0, 1\] but got 1.5"):
            lib.quantile(lib.ones(3), 1.5)
        with pytest.raises(RuntimeError, match="input tensor must be either float or double dtype"):
            lib.quantile(lib.ones(3, dtype=lib.int64), 0.5)
        with pytest.raises(RuntimeError, match="interpolation must be one of"):
            lib.quantile(lib.ones(3), 0.5, interpolation="cubic")


def test_nanmean_and_nansum():
    _compare(lambda m, t: m.nanmean(t, 1), WITH_NAN)
    _compare(lambda m, t: t.nanmean(), WITH_NAN)
    _compare(lambda m, t: m.nansum(t, 0, keepdim=True), WITH_NAN)
    _compare(lambda m, t: t.nansum(), WITH_NAN)


def test_kthvalue_and_mode():
    _compare(lambda m, t: m.kthvalue(t, 2, 1))
    _compare(lambda m, t: t.kthvalue(3, 0, keepdim=True))
    _compare(lambda m, t: m.kthvalue(t, 2, 1).indices, grad=False)
    _compare(lambda m, t: m.mode(t, 1), TIES)
    _compare(lambda m, t: m.mode(t, 1).indices, TIES, grad=False)
    _compare(lambda m, t: t.mode(0, keepdim=True).indices, TIES, grad=False)
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range for dimension 0"):
            lib.kthvalue(lib.ones(3), 4)


def test_repeat_interleave():
    _compare(lambda m, t: m.repeat_interleave(t, 2))
    _compare(lambda m, t: t.repeat_interleave(m.tensor([1, 0, 2]), dim=0))
    _compare(lambda m, t: t.repeat_interleave(3, dim=1))
    assert tensorplug.repeat_interleave(tensorplug.tensor([1, 2, 0])).tolist() == \
        torch.repeat_interleave(torch.tensor([1, 2, 0])).tolist()
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="repeats must have the same size as input along dim"):
            lib.repeat_interleave(lib.ones(3), lib.tensor([1, 2]))


def test_tensor_unfold():
    for args in ((1, 2, 1), (0, 2, 1), (1, 3, 2), (-1, 5, 5)):
        _compare(lambda m, t: t.unfold(*args))
    for lib in (tensorplug, torch):
        with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 5 but size is 6"):
            lib.ones(5).unfold(0, 6, 1)
        with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
            lib.ones(5).unfold(0, 2, 0)


def test_normal_forms_shapes_dtypes_and_zero_gradients():
    for lib in (tensorplug, torch):
        mean = lib.zeros(3, requires_grad=True)
        std = lib.ones(3, requires_grad=True)
        sample = lib.normal(mean, std)
        assert sample.requires_grad
        sample.sum().backward()
        assert mean.grad.tolist() == std.grad.tolist() == [0.0, 0.0, 0.0]
        assert tuple(lib.normal(1.0, 2.0, (2, 3)).shape) == (2, 3)
        assert tuple(lib.normal(lib.zeros(2, 1), lib.ones(3)).shape) == (2, 3)
        assert str(lib.normal(lib.zeros(2, dtype=lib.float64), 1.0).dtype).endswith("float64")
        with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
            lib.normal(0.0, -1.0, (2,))
    tensorplug.manual_seed(0)
    big = tensorplug.normal(3.0, 2.0, (20000,))
    assert abs(big.mean().item() - 3.0) < 0.1 and abs(big.std().item() - 2.0) < 0.1
    out = tensorplug.empty(4)
    assert tensorplug.normal(0.0, 1.0, (4,), out=out) is out


def test_values_on_every_backend(backend):
    x = tensorplug.tensor(Y, device=backend)
    np.testing.assert_allclose(tensorplug.quantile(x, 0.3, dim=1).cpu().numpy(), np.quantile(Y, 0.3, axis=1))
    np.testing.assert_allclose(x.unfold(1, 2, 1).cpu().numpy(), np.lib.stride_tricks.sliding_window_view(Y, 2, 1))
    np.testing.assert_allclose(x.repeat_interleave(2, dim=0).cpu().numpy(), np.repeat(Y, 2, axis=0))
    counts = tensorplug.tensor([1, 0, 2], device=backend)
    np.testing.assert_allclose(x.repeat_interleave(counts, dim=0).cpu().numpy(), np.repeat(Y, [1, 0, 2], axis=0))
    np.testing.assert_allclose(tensorplug.kthvalue(x, 2, 1).values.cpu().numpy(), np.sort(Y, 1)[:, 1])
    np.testing.assert_allclose(tensorplug.nanmean(tensorplug.tensor(WITH_NAN, device=backend), 1).cpu().numpy(),
                               np.nanmean(WITH_NAN, 1))
    np.testing.assert_allclose(tensorplug.mode(tensorplug.tensor(TIES, device=backend), 1).values.cpu().numpy(),
                               [2.0, 1.0, 4.0])


@pytest.mark.parametrize("fn, node", [
    (lambda m, x: m.nansum(x, 1), "NansumBackward0"),
    (lambda m, x: m.nansum(x), "NansumBackward0"),
    (lambda m, x: m.kthvalue(x, 2, 1)[0], "KthvalueBackward0"),
    (lambda m, x: m.mode(x, 1)[0], "ModeBackward0"),
    (lambda m, x: m.nanmedian(x, 1)[0], "NanmedianBackward1"),
    (lambda m, x: m.nanmedian(x), "NanmedianBackward0"),
    (lambda m, x: m.renorm(x, 2, 0, 1.0), "RenormBackward0"),
])
def test_composite_statistics_record_torchs_node(fn, node):
    # they showed their last building block (SumBackward1, SqueezeBackward1, AddBackward0, WhereBackward0)
    for lib in (tensorplug, torch):
        out = fn(lib, lib.tensor(WITH_NAN, requires_grad=True))
        assert type(out.grad_fn).__name__ == node


def test_nansum_and_nanmean_refuse_complex_as_torch():
    for fn in (tensorplug.nansum, tensorplug.nanmean):
        with pytest.raises(RuntimeError, match="nansum on CPU does not support complex inputs"):
            fn(tensorplug.tensor([1j, 2.0]))


@pytest.mark.parametrize("call, error, phrase", [
    (lambda m, z: m.kthvalue(z, 1, 1), NotImplementedError, "\"kthvalue_cpu\" not implemented for 'ComplexFloat'"),
    (lambda m, z: m.mode(z, 1), NotImplementedError, "\"mode_cpu\" not implemented for 'ComplexFloat'"),
    (lambda m, z: m.nanmedian(z), NotImplementedError, "\"median_cpu\" not implemented for 'ComplexFloat'"),
    (lambda m, z: m.nanmedian(z, 1), NotImplementedError, "\"median_out\" not implemented for 'ComplexFloat'"),
    (lambda m, z: m.unique_consecutive(z), NotImplementedError, "\"unique\" not implemented for 'ComplexFloat'"),
    (lambda m, z: m.isin(z, z), RuntimeError, "Unsupported input type encountered for isin\\(\\): ComplexFloat"),
    (lambda m, z: m.cdist(z.real, z), RuntimeError, "cdist only supports floating-point dtypes, X2 got: ComplexFloat"),
])
def test_ordering_statistics_refuse_complex_as_torch(call, error, phrase):
    # they ordered complex numbers as numpy does (lexicographically) and answered; cdist measured them
    for lib in (tensorplug, torch):
        with pytest.raises(error, match=phrase):
            call(lib, lib.tensor([[1 + 1j, 2 - 1j, 0.5j], [3, 1j, 2 + 2j]]))
