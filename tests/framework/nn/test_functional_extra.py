"""nn/functional_extra.py and nn/layers_extra.py against torch: lp_pool, glu, shrinks, rrelu, in-place
activation names, dropout3d, pdist, channel_shuffle, *_with_indices, the new layers, Lazy modules, Buffer."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from torch_compare import assert_same_as_torch, assert_same_error

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(3)


def same(fn, *arrays, rtol=1e-10):
    """``fn(module, *tensors)`` under tensorplug and torch: equal outputs, dtypes and input gradients."""
    assert_same_as_torch(fn, list(arrays), tol=rtol)


def _errors_alike(call, phrase):
    assert_same_error(call)
    with pytest.raises(Exception) as info:
        call(tp)
    assert phrase in str(info.value)
X4 = RNG.standard_normal((2, 4, 6, 6))
X2 = RNG.standard_normal((5, 3))


@pytest.mark.parametrize("norm_type", [1.0, 2, 3.5])
def test_lp_pool(norm_type):
    same(lambda m, x: (m.nn.functional.lp_pool1d(x.reshape(2, 4, 36), norm_type, 4, 3),
                       m.nn.functional.lp_pool2d(x, norm_type, 2),
                       m.nn.functional.lp_pool2d(x, norm_type, (2, 3), 2, ceil_mode=True),
                       m.nn.functional.lp_pool3d(x.reshape(2, 1, 4, 6, 6), norm_type, 2),
                       m.nn.LPPool1d(norm_type, 3)(x[0]), m.nn.LPPool2d(norm_type, 3, 1)(x),
                       m.nn.LPPool3d(norm_type, (2, 2, 3))(x)), np.abs(X4) + 0.1, rtol=1e-6)


def test_glu_and_shrinks():
    same(lambda m, x: (m.nn.functional.glu(x), m.nn.functional.glu(x, 1), m.nn.GLU(-2)(x),
                       m.nn.functional.hardshrink(x, 0.7), m.nn.Hardshrink()(x), x.hardshrink(0.3),
                       m.hardshrink(x), m.nn.functional.softshrink(x, 0.3), m.nn.Softshrink(1.0)(x)), X4)
    _errors_alike(lambda m: m.nn.functional.glu(m.ones(2, 3)), "Halving dimension must be even")
    _errors_alike(lambda m: m.nn.functional.softshrink(m.ones(2), -1.0), "lambda must be in range [0, ")


def test_in_place_activations():
    same(lambda m, x: (m.nn.functional.threshold_(x * 1, 0.1, -2.0), m.nn.functional.hardtanh_(x * 1, -0.5, 0.5),
                       m.nn.functional.elu_(x * 1, 0.7), m.nn.functional.leaky_relu_(x * 1, 0.2),
                       m.nn.functional.celu_(x * 1, 1.5), m.nn.functional.selu_(x * 1), m.selu_(x * 1),
                       m.celu_(x * 1), m.threshold_(x * 1, 0.0, 1.0)), X2)
    _errors_alike(lambda m: m.nn.functional.elu_(m.ones(2, requires_grad=True)), "a leaf Variable that requires grad")


def test_rrelu():
    same(lambda m, x: (m.nn.functional.rrelu(x), m.nn.RReLU(0.1, 0.3).eval()(x), m.rrelu(x),
                       m.nn.functional.rrelu_(x * 1, 0.2, 0.4)), X2)
    x = tp.full((2000,), -1.0, requires_grad=True)
    tp.manual_seed(0)
    y = tp.nn.functional.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.05  # one slope per element
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)  # the gradient is each element's slope
    tp.manual_seed(0)
    np.testing.assert_array_equal(tp.nn.RReLU(0.1, 0.3)(-tp.ones(2000)).numpy(), y.detach().numpy())
    assert tp.nn.functional.rrelu(tp.ones(3), training=True).tolist() == [1.0, 1.0, 1.0]


def test_softmax2d_dropout3d_instancenorm3d():
    same(lambda m, x: (m.nn.Softmax2d()(x), m.nn.Softmax2d()(x[0]), m.nn.Dropout3d().eval()(x),
                       m.nn.functional.dropout3d(x, 0.4, training=False),
                       m.nn.InstanceNorm3d(2)(x.reshape(2, 2, 2, 6, 6)),
                       m.nn.InstanceNorm3d(2, affine=True).double()(x.reshape(2, 2, 2, 6, 6)[0])), X4, rtol=1e-6)
    _errors_alike(lambda m: m.nn.Softmax2d()(m.ones(2, 3)), "Softmax2d: expected input to be 3D or 4D")
    for m in (tp, torch):
        out = m.nn.functional.dropout3d(m.ones(4, 8, 2, 2, 2), 0.5, training=True)
        per_channel = out.reshape(4, 8, -1)
        assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()  # whole channels, scaled 1/(1-p)


def test_pdist_and_channel_shuffle():
    rows = np.concatenate([X2, X2[:1]])  # a repeated row: a zero distance (torch's gradient there is 0)
    same(lambda m, x: (m.nn.functional.pdist(x), m.pdist(x, 1.0), m.nn.functional.pdist(x, 3.0),
                       m.nn.functional.pdist(x[:1])), rows, rtol=1e-6)
    same(lambda m, x: (m.nn.functional.channel_shuffle(x, 2), m.nn.ChannelShuffle(4)(x),
                       m.channel_shuffle(x.reshape(2, 4, 36), 2)), X4)
    _errors_alike(lambda m: m.nn.functional.pdist(m.ones(3)), "pdist only supports 2D tensors")
    _errors_alike(lambda m: m.nn.ChannelShuffle(3)(m.ones(1, 4, 2, 2)), "Number of channels must be divisible")


def test_with_indices_names():
    same(lambda m, x: (*m.nn.functional.max_pool2d_with_indices(x, 2), *m.nn.functional.max_pool1d_with_indices(
        x[0], 3), *m.nn.functional.max_pool3d_with_indices(x, 2), *m.nn.functional.adaptive_max_pool2d_with_indices(
        x, 3), *m.nn.functional.adaptive_max_pool1d_with_indices(x[0], 2),
        *m.nn.functional.adaptive_max_pool3d_with_indices(x, (1, 2, 2))), X4)


def test_reprs():
    for make in (lambda m: m.nn.RReLU(), lambda m: m.nn.RReLU(0.1, 0.2, True), lambda m: m.nn.GLU(1),
                 lambda m: m.nn.Hardshrink(0.2), lambda m: m.nn.Softshrink(), lambda m: m.nn.LPPool2d(2, 3),
                 lambda m: m.nn.LPPool1d(1.5, 2, 1, True), lambda m: m.nn.ChannelShuffle(2), lambda m: m.nn.Softmax2d(),
                 lambda m: m.nn.Dropout3d(0.2), lambda m: m.nn.InstanceNorm3d(4)):
        assert repr(make(tp)) == repr(make(torch))


def test_lazy_modules_build_on_first_call():
    shapes, reprs = [], []
    for m in (tp, torch):
        m.manual_seed(0)
        net = m.nn.Sequential(m.nn.LazyConv2d(3, 3, padding=1), m.nn.LazyBatchNorm2d(), m.nn.ReLU(),
                              m.nn.LazyConvTranspose2d(2, 2, stride=2), m.nn.LazyInstanceNorm2d(affine=True),
                              m.nn.Flatten(), m.nn.LazyLinear(4))
        y = net(m.ones(2, 5, 4, 4))
        y.sum().backward()
        shapes.append([tuple(p.shape) for p in net.parameters()] + [tuple(y.shape)])
        reprs.append(repr(net))
        conv1 = m.nn.LazyConv1d(2, 3)
        conv1(m.ones(4, 7))  # unbatched: channels are dim 0
        bn = m.nn.LazyBatchNorm1d()
        bn(m.ones(3, 6))
        shapes.append([conv1.in_channels, conv1.weight.shape[1], bn.num_features, tuple(bn.running_mean.shape),
                       type(conv1).__name__, type(bn).__name__])
    assert shapes[0] == shapes[2] and shapes[1] == shapes[3] and reprs[0] == reprs[1]


def test_buffer():
    seen = []
    for m in (tp, torch):
        mod = m.nn.Module()
        mod.steps = m.nn.Buffer(m.zeros(()))
        mod.scratch = m.nn.Buffer(m.ones(2), persistent=False)
        mod.w = m.nn.Buffer(m.ones(3))
        mod.w = m.nn.Buffer(m.zeros(1), persistent=False)  # a buffer replaces a buffer
        mod.steps += 1
        seen.append((sorted(mod.state_dict()), sorted(dict(mod.named_buffers())), len(list(mod.parameters())),
                     float(mod.steps), type(mod.steps).__name__))
    assert seen[0] == seen[1]
    with pytest.raises(TypeError, match="must be a Tensor"):  # torch: an AttributeError about .detach
        tp.nn.Buffer([1.0])

    def over_parameter(m):
        mod = m.nn.Linear(2, 2)
        mod.weight = m.nn.Buffer(m.ones(2, 2))
    _errors_alike(over_parameter, "cannot assign")

    def over_attribute(m):
        mod = m.nn.Module()
        mod.w = 3
        mod.w = m.nn.Buffer(m.ones(2))
    _errors_alike(over_attribute, "already exists")
