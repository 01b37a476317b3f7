"""BatchNorm, LayerNorm, GroupNorm, RMSNorm, InstanceNorm against torch: outputs, grads, running stats."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F

torch = pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().tolist())


def _sync(ours, ref):
    for p, tp in zip(ours.parameters(), ref.parameters()):
        with tensorplug.no_grad():
            p.copy_(tensorplug.tensor(np.random.default_rng(p.numel()).standard_normal(tuple(p.shape))))
        with torch.no_grad():
            tp.copy_(torch.tensor(np.asarray(p.tolist())))


def _compare(ours, ref, shape, steps=3):
    _sync(ours, ref)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = rng.standard_normal(shape) * 2 + 1
        a = tensorplug.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        out, want = ours(a), ref(b)
        np.testing.assert_allclose(_np(out), want.detach().numpy(), rtol=1e-9, atol=1e-10)
        seed = rng.standard_normal(shape)
        out.backward(tensorplug.tensor(seed))
        want.backward(torch.tensor(seed))
        np.testing.assert_allclose(_np(a.grad), b.grad.numpy(), rtol=1e-8, atol=1e-9)
        for p, tp in zip(ours.parameters(), ref.parameters()):
            np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-8, atol=1e-9)
    for (name, buf), (tname, tbuf) in zip(ours.named_buffers(), ref.named_buffers()):
        assert name == tname
        np.testing.assert_allclose(_np(buf), tbuf.numpy(), rtol=1e-10)
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_then_eval(cls, shape, momentum):
    ours = getattr(nn, cls)(3, momentum=momentum).double()
    ref = getattr(torch.nn, cls)(3, momentum=momentum).double()
    _compare(ours, ref, shape)
    assert ours.num_batches_tracked.item() == 3
    ours.eval()
    ref.eval()
    _compare(ours, ref, shape, steps=1)
    assert ours.num_batches_tracked.item() == 3


def test_batchnorm_without_affine_or_tracking():
    _compare(nn.BatchNorm1d(3, affine=False).double(), torch.nn.BatchNorm1d(3, affine=False).double(), (5, 3))
    ours = nn.BatchNorm2d(3, track_running_stats=False).double()
    ref = torch.nn.BatchNorm2d(3, track_running_stats=False).double()
    ours.eval()
    ref.eval()
    _compare(ours, ref, (2, 3, 2, 2), steps=1)
    assert ours.running_mean is None
    assert "running_mean" not in ours.state_dict()


def test_batchnorm_errors_and_state_dict():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(tensorplug.randn(1, 3))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(tensorplug.randn(2, 3, 4))
    bn = nn.BatchNorm1d(3)
    bn(tensorplug.randn(4, 3))
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    other = nn.BatchNorm1d(3)
    other.load_state_dict(bn.state_dict())
    assert other.running_mean.tolist() == bn.running_mean.tolist()
    assert other.num_batches_tracked.item() == 1


@pytest.mark.parametrize("shape,normalized", [((4, 5), 5), ((2, 3, 4), (3, 4))])
def test_layernorm(shape, normalized):
    _compare(nn.LayerNorm(normalized).double(), torch.nn.LayerNorm(normalized).double(), shape, steps=1)
    _compare(nn.LayerNorm(normalized, elementwise_affine=False).double(),
             torch.nn.LayerNorm(normalized, elementwise_affine=False).double(), shape, steps=1)


def test_layernorm_error():
    with pytest.raises(RuntimeError, match="Given normalized_shape"):
        nn.LayerNorm(4)(tensorplug.randn(2, 3))


def test_groupnorm_rmsnorm_instancenorm():
    _compare(nn.GroupNorm(2, 4).double(), torch.nn.GroupNorm(2, 4).double(), (3, 4, 5), steps=1)
    _compare(nn.RMSNorm(5).double(), torch.nn.RMSNorm(5).double(), (3, 5), steps=1)
    _compare(nn.InstanceNorm1d(3).double(), torch.nn.InstanceNorm1d(3).double(), (2, 3, 6), steps=1)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (2, 3, 6)), ("InstanceNorm1d", (3, 5)),
                                       ("InstanceNorm2d", (2, 3, 4, 2)), ("InstanceNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("momentum", [0.3, None])
@pytest.mark.parametrize("affine", [False, True])
def test_instancenorm_tracks_running_stats(cls, shape, momentum, affine):
    # training moves the running statistics (per-sample ones averaged over the batch), eval normalises with them
    ours = getattr(nn, cls)(3, momentum=momentum, affine=affine, track_running_stats=True).double()
    ref = getattr(torch.nn, cls)(3, momentum=momentum, affine=affine, track_running_stats=True).double()
    _compare(ours, ref, shape)
    ours.eval()
    ref.eval()
    _compare(ours, ref, shape, steps=1)
    assert ours.num_batches_tracked.item() == 0  # torch's instance norm never counts batches


def test_instance_norm_functional_running_stats():
    rng = np.random.default_rng(0)
    x, rm, rv = rng.standard_normal((3, 5, 4)), rng.standard_normal(5), rng.random(5) + 0.5
    for use_input_stats in (True, False):
        ours = [tensorplug.tensor(a.copy()) for a in (rm, rv)]
        ref = [torch.tensor(a.copy()) for a in (rm, rv)]
        out = F.instance_norm(tensorplug.tensor(x), *ours, use_input_stats=use_input_stats, momentum=0.5)
        want = torch.nn.functional.instance_norm(torch.tensor(x), *ref, use_input_stats=use_input_stats,
                                                 momentum=0.5)
        np.testing.assert_allclose(_np(out), want.numpy(), rtol=1e-12, atol=1e-12)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(_np(a), b.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be defined"):
        F.instance_norm(tensorplug.tensor(x), use_input_stats=False)


def test_instancenorm_needs_more_than_one_spatial_element_in_training():
    x = np.ones((2, 3, 1))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        torch.nn.InstanceNorm1d(3)(torch.tensor(x))
    with pytest.raises(ValueError, match=r"Expected more than 1 spatial element when training, got input size "
                                         r"tensorplug.Size\(\[2, 3, 1\]\)"):
        nn.InstanceNorm1d(3)(tensorplug.tensor(x))
    # in eval the running statistics are used: one element is fine
    ours, ref = nn.InstanceNorm1d(3, track_running_stats=True), torch.nn.InstanceNorm1d(3, track_running_stats=True)
    np.testing.assert_allclose(_np(ours.eval()(tensorplug.tensor(x))), ref.eval()(torch.tensor(x)).numpy())


@pytest.mark.parametrize("fn", [
    lambda x: F.layer_norm(x, (3,)),
    lambda x: F.batch_norm(x, None, None, training=True),
    lambda x: F.group_norm(x, 1),
], ids=["layer_norm", "batch_norm", "group_norm"])
def test_gradcheck_and_double_backward(fn):
    x = tensorplug.randn(4, 3, dtype=tensorplug.float64, requires_grad=True)
    assert tensorplug.autograd.gradcheck(fn, (x,))
    assert tensorplug.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 7, 4, 5), (1, 4, 2, 3, 3)])
def test_local_response_norm_matches_torch(size, shape):
    x0 = np.random.default_rng(size).standard_normal(shape)
    layer, theirs = nn.LocalResponseNorm(size, 1e-2, 0.75, 2.0), torch.nn.LocalResponseNorm(size, 1e-2, 0.75, 2.0)
    assert repr(layer) == repr(theirs)
    x, tx = tensorplug.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    y, ty = layer(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality input"):
        layer(tensorplug.zeros(3, 4))
