"""nn.functional pieces not covered by the layer tests: pad, one_hot, embedding, dropout, flatten."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("mode,pad", [("constant", (1, 2)), ("constant", (1, 0, 2, 1)), ("constant", (-1, 1)),
                                      ("reflect", (2, 1)), ("reflect", (1, 2, 2, 0)), ("replicate", (2, 3, 1, 1)),
                                      ("circular", (1, 2, 2, 1))])
def test_pad_against_torch(mode, pad):
    shape = (2, 3, 4, 5) if mode == "constant" or len(pad) == 4 else (3, 4, 5)
    x = np.random.default_rng(0).standard_normal(shape)
    a = tensorplug.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    kw = {"value": 0.5} if mode == "constant" else {}
    out = F.pad(a, pad, mode=mode, **kw)
    want = TF.pad(b, pad, mode=mode, **kw)
    np.testing.assert_allclose(np.asarray(out.tolist()), want.detach().numpy())
    seed = np.random.default_rng(1).standard_normal(tuple(want.shape))
    out.backward(tensorplug.tensor(seed))
    want.backward(torch.tensor(seed))
    np.testing.assert_allclose(np.asarray(a.grad.tolist()), b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape,pad", [((1, 1, 5), (-1, 2)), ((1, 1, 5), (2, -1)), ((1, 1, 5), (-2, -2)),
                                       ((1, 1, 5), (-2, 3)), ((1, 1, 5), (1, -4)), ((1, 1, 5), (-5, 0)),
                                       ((2, 3, 4, 5), (-1, 2, 1, -2)), ((2, 3, 4, 5), (2, -3, -1, 1)),
                                       ((1, 2, 3, 4, 5), (-2, 1, 1, -1, -1, 0)), ((1, 2, 3, 4), (-4, 0, 3, 2))])
def test_circular_pad_with_negative_pads_against_torch(shape, pad):
    # torch crops the negative pads first, then wraps the positive ones around what is left
    x = np.random.default_rng(0).standard_normal(shape)
    a, b = tensorplug.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, want = F.pad(a, pad, mode="circular"), TF.pad(b, pad, mode="circular")
    assert out.shape == want.shape
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy())
    seed = np.random.default_rng(1).standard_normal(tuple(want.shape))
    out.backward(tensorplug.tensor(seed))
    want.backward(torch.tensor(seed))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_circular_pad_errors():
    x = tensorplug.zeros(1, 1, 5)
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(x, (6, 0), mode="circular")
    with pytest.raises(RuntimeError, match="Negative padding value is resulting in an empty dimension"):
        F.pad(x, (-3, -3), mode="circular")
    # wrapping 3 around the 2 elements a crop leaves: torch copies overlapping slices (an error in 1-D, and
    # uninitialised values where nothing is left at all)
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(x, (-3, 3), mode="circular")
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(x, (-5, 1), mode="circular")


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(tensorplug.zeros(2, 2), (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(tensorplug.zeros(1, 2, 2), (2, 2), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input tensor"):
        F.pad(tensorplug.zeros(1, 1, 2, 2), (1, 1), mode="reflect")


def test_one_hot():
    out = F.one_hot(tensorplug.tensor([0, 2, 1]), 4)
    assert out.dtype == tensorplug.int64
    assert out.tolist() == TF.one_hot(torch.tensor([0, 2, 1]), 4).tolist()
    assert F.one_hot(tensorplug.tensor([[1], [3]])).shape == (2, 1, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(tensorplug.tensor([5]), 3)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(tensorplug.tensor([1.0]), 3)


def test_embedding_against_torch():
    ours = nn.Embedding(6, 3, padding_idx=1).double()
    ref = torch.nn.Embedding(6, 3, padding_idx=1).double()
    assert ours.weight[1].tolist() == [0.0, 0.0, 0.0]
    with tensorplug.no_grad():
        ours.weight.copy_(tensorplug.tensor(ref.weight.detach().numpy()))
    idx = [[0, 1, 5], [5, 5, 2]]
    out, want = ours(tensorplug.tensor(idx)), ref(torch.tensor(idx))
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(np.asarray(out.tolist()), want.detach().numpy())
    seed = np.random.default_rng(0).standard_normal((2, 3, 3))
    out.backward(tensorplug.tensor(seed))
    want.backward(torch.tensor(seed))
    np.testing.assert_allclose(np.asarray(ours.weight.grad.tolist()), ref.weight.grad.numpy(), rtol=1e-12)
    assert ours.weight.grad[1].tolist() == [0.0, 0.0, 0.0]
    assert repr(ours) == repr(ref)
    frozen = nn.Embedding.from_pretrained(tensorplug.eye(3))
    assert not frozen.weight.requires_grad and frozen(tensorplug.tensor([2])).tolist() == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_scale_grad_by_freq_against_torch(padding_idx):
    # each index's gradient is divided by how often it occurs in the batch
    w0 = np.random.default_rng(0).standard_normal((6, 3))
    idx = [[0, 1, 5], [5, 5, 2], [1, 0, 5]]
    seed = np.random.default_rng(1).standard_normal((3, 3, 3))
    grads = []
    for lib in (tensorplug, torch):
        w = lib.tensor(w0, requires_grad=True)
        lib.nn.functional.embedding(lib.tensor(idx), w, padding_idx, scale_grad_by_freq=True).backward(
            lib.tensor(seed))
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-15)
    layer = nn.Embedding(4, 2, scale_grad_by_freq=True)
    layer(tensorplug.tensor([[0, 2, 2], [2, 1, 0]])).sum().backward()
    assert layer.weight.grad[:, 0].tolist() == [1.0, 1.0, 1.0, 0.0]
    # the backward is linear in the incoming gradient, so its own gradient is the same scaled lookup (torch's
    # double backward leaves the counts out: its source assumes the first backward took care of them)
    w = tensorplug.tensor(w0, requires_grad=True)
    g = tensorplug.tensor(seed, requires_grad=True)
    gw, = tensorplug.autograd.grad(F.embedding(tensorplug.tensor(idx), w, padding_idx, scale_grad_by_freq=True),
                                   w, g, create_graph=True)
    m = np.arange(18.0).reshape(6, 3)
    (gw * tensorplug.tensor(m)).sum().backward()
    flat = np.asarray(idx)
    want = m[flat] / np.bincount(flat.ravel())[flat][..., None]
    if padding_idx is not None:
        want[flat == padding_idx] = 0
    np.testing.assert_allclose(g.grad.numpy(), want, rtol=1e-12)


def test_embedding_errors_and_double_backward():
    emb = nn.Embedding(3, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(tensorplug.tensor([3]))
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        emb(tensorplug.tensor([1.0]))
    w = tensorplug.randn(4, 2, dtype=tensorplug.float64, requires_grad=True)
    idx = tensorplug.tensor([0, 3, 3])
    assert tensorplug.autograd.gradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    assert tensorplug.autograd.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))


def test_dropout_train_and_eval():
    tensorplug.manual_seed(0)
    drop = nn.Dropout(0.25)
    assert repr(drop) == repr(torch.nn.Dropout(0.25))
    x = tensorplug.ones(200, 50, requires_grad=True)
    out = drop(x)
    values = np.asarray(out.tolist())
    assert np.allclose(np.unique(values), [0.0, 1 / 0.75])
    assert abs((values == 0).mean() - 0.25) < 0.03
    out.sum().backward()
    assert np.array_equal(np.asarray(x.grad.tolist()), values)
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 1.0).sum().item() == 0
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout(1.5)
    y = F.dropout2d(tensorplug.ones(4, 8, 3, 3), 0.5)
    per_channel = np.asarray(y.tolist()).reshape(4, 8, 9)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()


ALPHA = 1.7580993408473766  # SELU's scale * alpha


def _alpha_dropout_reference(x, keep, p):
    """torch's alpha dropout of ``x`` given its keep mask: ``a * x + a * alpha * p`` where kept,
    ``a * alpha * (p - 1)`` where dropped."""
    a = 1 / np.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    return np.where(keep, a * x + a * ALPHA * p, a * ALPHA * (p - 1)), a


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_alpha_dropout_keeps_mean_and_std_as_torch(p):
    x = np.random.default_rng(0).standard_normal(200_000).astype(np.float32)
    for lib in (tensorplug, torch):
        lib.manual_seed(0)
        t = lib.tensor(x, requires_grad=True)
        out = lib.nn.AlphaDropout(p)(t)
        y = out.detach().numpy()
        values, counts = np.unique(y, return_counts=True)
        dropped = y == values[counts.argmax()]  # every dropped element takes one value
        assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02, lib.__name__
        assert abs(dropped.mean() - p) < 0.01 and not (y == 0).any()
        want, a = _alpha_dropout_reference(x, ~dropped, p)
        np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
        out.backward(lib.ones_like(out))
        np.testing.assert_allclose(t.grad.numpy(), np.where(dropped, 0, a), rtol=1e-6)
        assert out.grad_fn.name() == "AddBackward0"


def test_alpha_dropout_formula_given_its_mask():
    # the mask is drawn as F.dropout draws it (uniform >= p from the tensor's generator): redraw it
    x = tensorplug.randn(6, 5, dtype=tensorplug.float64)
    tensorplug.manual_seed(3)
    keep = (tensorplug.rand(6, 5, dtype=tensorplug.float64) >= 0.3).numpy()
    tensorplug.manual_seed(3)
    out = F.alpha_dropout(x, 0.3, training=True)
    np.testing.assert_allclose(out.numpy(), _alpha_dropout_reference(x.numpy(), keep, 0.3)[0], rtol=1e-14)
    tensorplug.manual_seed(3)
    channels = (tensorplug.rand(2, 3, 1, 1, dtype=tensorplug.float64) >= 0.3).numpy()
    x = tensorplug.randn(2, 3, 4, 2, dtype=tensorplug.float64)
    tensorplug.manual_seed(3)
    out = F.feature_alpha_dropout(x, 0.3, training=True)
    np.testing.assert_allclose(out.numpy(), _alpha_dropout_reference(x.numpy(), channels, 0.3)[0], rtol=1e-14)


def test_alpha_dropout_edges_as_torch():
    x = np.random.default_rng(1).standard_normal((4, 3, 5))
    for lib in (tensorplug, torch):
        t = lib.tensor(x)
        assert lib.nn.functional.alpha_dropout(t, 0.5, training=False) is t
        assert lib.nn.functional.alpha_dropout(t, 0.0, training=True) is t
        assert (lib.nn.functional.alpha_dropout(t, 1.0, training=True).numpy() == 0).all()
        assert lib.nn.AlphaDropout(0.5).eval()(t) is t
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            lib.nn.functional.alpha_dropout(t, 1.5, training=True)
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
            lib.nn.functional.feature_alpha_dropout(lib.tensor(x[0, 0]), 0.5, training=True)
        # whole channels: each (sample, channel) is dropped or kept as one
        y = lib.nn.FeatureAlphaDropout(0.5)(t).numpy()
        dropped = y == np.float64(_alpha_dropout_reference(0.0, False, 0.5)[0])
        assert (dropped.all(-1) | ~dropped.any(-1)).all()
        np.testing.assert_allclose(y, _alpha_dropout_reference(x, ~dropped, 0.5)[0], rtol=1e-12)
        in_place = lib.tensor(x)
        assert lib.nn.functional.alpha_dropout(in_place, 0.5, training=True, inplace=True) is in_place
    assert repr(nn.FeatureAlphaDropout(0.3)) == repr(torch.nn.FeatureAlphaDropout(0.3))
    assert repr(nn.AlphaDropout(0.3)) == repr(torch.nn.AlphaDropout(0.3))


def test_flatten_unflatten():
    x = tensorplug.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (6, 10))(nn.Flatten()(x)).shape == (2, 6, 10)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(nn.Unflatten(1, (2, 2))) == repr(torch.nn.Unflatten(1, (2, 2)))


def test_misc_functions_against_torch():
    x = np.random.default_rng(2).standard_normal((3, 4))
    y = np.random.default_rng(3).standard_normal((3, 4))
    a, b = tensorplug.tensor(x), tensorplug.tensor(y)
    ta, tb = torch.tensor(x), torch.tensor(y)
    pairs = [
        (F.normalize(a, dim=1), TF.normalize(ta, dim=1)),
        (F.cosine_similarity(a, b), TF.cosine_similarity(ta, tb)),
        (F.pairwise_distance(a, b), TF.pairwise_distance(ta, tb)),
        (F.logsumexp(a, 1), torch.logsumexp(ta, 1)),
        (F.linear(a, b), TF.linear(ta, tb)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(np.asarray(ours.tolist()), theirs.numpy(), rtol=1e-10)


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, float("inf"), float("-inf"), 3.0, 0.5, -1.0])
def test_pairwise_distance_every_p_against_torch(p):
    # torch's norm of x1 - x2 + eps: 0 counts the nonzero differences (no gradient), inf / -inf take the
    # largest / smallest (ties share the gradient), rows whose difference is zero after eps included
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x[0, :2], x[1] = y[0, :2] - 1e-6, y[1] - 1e-6
    x[2, 1], x[2, 3] = y[2, 1] + 3, y[2, 3] + 3
    res = []
    for lib in (tensorplug, torch):
        a, b = lib.tensor(x, requires_grad=True), lib.tensor(y, requires_grad=True)
        out = lib.nn.functional.pairwise_distance(a, b, p=p)
        out.backward(lib.tensor(np.arange(1.0, 5.0)))
        grads = [np.zeros(x.shape) if t.grad is None else t.grad.numpy() for t in (a, b)]
        res.append((out.detach().numpy(), *grads, out.grad_fn.name()))
    for got, want in zip(res[0][:3], res[1][:3]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert res[0][3] == res[1][3]


@pytest.mark.parametrize("dtype,big", [("float32", 1e20), ("float64", 1e200), ("bfloat16", 1e20)])
def test_cosine_similarity_of_huge_vectors_against_torch(dtype, big):
    # their norms overflow to inf: torch divides each input by its own norm (x / inf = 0), where the value-only
    # clamp of that norm used to give inf - inf = nan
    x = np.array([[big, big], [big, big], [3 * big, -4 * big], [1.0, 2.0]])
    y = np.array([[big, -big], [big, big], [1.0, 2.0], [0.0, 0.0]])
    res = []
    for lib in (tensorplug, torch):
        a = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        b = lib.tensor(y, dtype=getattr(lib, dtype), requires_grad=True)
        out = lib.nn.functional.cosine_similarity(a, b)
        out.sum().backward()
        res.append([t.detach().double().numpy() for t in (out, a.grad, b.grad)])
    for got, want in zip(*res):
        np.testing.assert_array_equal(got, want)

