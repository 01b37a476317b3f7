"""Core losses against torch (values and input grads, float64), gradcheck, and the error rows."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorplug
from tensorplug import nn
import tensorplug.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(array, requires_grad=True):
    """The same float64 values as a tensorplug and a torch tensor."""
    a = tensorplug.tensor(array, dtype=tensorplug.float64, requires_grad=requires_grad)
    b = torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)
    return a, b


def _close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(np.asarray(ours.detach().tolist()), theirs.detach().numpy(), atol=atol, rtol=1e-8)


def _check(fn_ours, fn_torch, inputs, targets=None, grad_target=False):
    rng = np.random.default_rng(0)
    x, tx = _pair(inputs)
    if targets is not None and np.asarray(targets).dtype.kind == "f":
        t, tt = _pair(targets, requires_grad=grad_target)
    elif targets is not None:
        t = tensorplug.tensor(targets)
        tt = torch.tensor(targets)
    else:
        t = tt = None
    out = fn_ours(x, t)
    ref = fn_torch(tx, tt)
    _close(out, ref)
    seed = rng.standard_normal(tuple(ref.shape))
    out.backward(tensorplug.tensor(seed, dtype=tensorplug.float64))
    ref.backward(torch.tensor(seed, dtype=torch.float64))
    _close(x.grad, tx.grad)
    if grad_target:
        _close(t.grad, tt.grad)


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1(reduction):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction),
           x, y, grad_target=True)
    _check(lambda a, b: nn.L1Loss(reduction=reduction)(a, b),
           lambda a, b: torch.nn.L1Loss(reduction=reduction)(a, b), x, y, grad_target=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("shapes", [((4, 3), (4, 3)), ((4, 1), (4, 3)), ((4, 3), (3,))], ids=str)
def test_weighted_mse_l1(name, reduction, shapes):
    # torch's weighted 'mean' divides by the weights' sum (the weight has the input's size; the target broadcasts)
    rng = np.random.default_rng(2)
    x, y, w = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1]), rng.random(shapes[0])
    ow, tw = _pair(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the size warning when the target broadcasts
        _check(lambda a, b: getattr(F, name)(a, b, reduction=reduction, weight=ow),
               lambda a, b: getattr(TF, name)(a, b, reduction=reduction, weight=tw), x, y, grad_target=True)
    _close(ow.grad, tw.grad)
    for lib in (tensorplug, torch):
        with pytest.raises(ValueError, match="Weights and input must have the same size"):
            getattr(lib.nn.functional, name)(lib.tensor(x), lib.tensor(x), weight=lib.tensor(w[:1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_indices(reduction, smoothing, weighted):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5)) * 3
    t = np.array([0, 4, 2, -100, 1, 4])
    w = rng.uniform(0.5, 2.0, 5)
    kw_o = dict(reduction=reduction, label_smoothing=smoothing)
    kw_t = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kw_o["weight"] = tensorplug.tensor(w)
        kw_t["weight"] = torch.tensor(w)
    _check(lambda a, b: F.cross_entropy(a, b, **kw_o), lambda a, b: TF.cross_entropy(a, b, **kw_t), x, t)


def test_cross_entropy_spatial_and_unbatched():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 2))
    t = rng.integers(0, 4, (2, 3, 2))
    for reduction in REDUCTIONS:
        _check(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
               lambda a, b: TF.cross_entropy(a, b, reduction=reduction), x, t)
    _check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b),
           rng.standard_normal(5), np.array(3))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probabilities(smoothing):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3))
    p = rng.dirichlet(np.ones(3), 4)
    w = np.array([1.0, 2.0, 0.5])
    for reduction in REDUCTIONS:
        _check(lambda a, b: nn.CrossEntropyLoss(weight=tensorplug.tensor(w), reduction=reduction,
                                                label_smoothing=smoothing)(a, b),
               lambda a, b: torch.nn.CrossEntropyLoss(weight=torch.tensor(w), reduction=reduction,
                                                      label_smoothing=smoothing)(a, b),
               x, p, grad_target=True)


def test_cross_entropy_double_backward():
    x = tensorplug.randn(3, 4, dtype=tensorplug.float64, requires_grad=True)
    t = tensorplug.tensor([1, 0, 3])
    assert tensorplug.autograd.gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.1), (x,))
    assert tensorplug.autograd.gradgradcheck(lambda a: F.cross_entropy(a, t), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 4))
    t = np.array([3, 0, -100, 1, 1])
    w = np.array([1.0, 0.5, 2.0, 1.5])
    _check(lambda a, b: F.nll_loss(a, b, weight=tensorplug.tensor(w), reduction=reduction),
           lambda a, b: TF.nll_loss(a, b, weight=torch.tensor(w), reduction=reduction), x, t)
    _check(lambda a, b: nn.NLLLoss(reduction=reduction)(F.log_softmax(a, 1), b),
           lambda a, b: torch.nn.NLLLoss(reduction=reduction)(TF.log_softmax(a, 1), b), x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce(reduction):
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, (4, 3))
    y = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 1.5, (4, 3))
    _check(lambda a, b: F.binary_cross_entropy(a, b, weight=tensorplug.tensor(w), reduction=reduction),
           lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.tensor(w), reduction=reduction),
           p, y, grad_target=True)
    _check(lambda a, b: nn.BCELoss(reduction=reduction)(a, b),
           lambda a, b: torch.nn.BCELoss(reduction=reduction)(a, b), p, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3)) * 5
    y = (rng.uniform(0, 1, (4, 3)) > 0.5).astype(float)
    pw = np.array([1.0, 3.0, 0.5])
    _check(lambda a, b: nn.BCEWithLogitsLoss(pos_weight=tensorplug.tensor(pw), reduction=reduction)(a, b),
           lambda a, b: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw), reduction=reduction)(a, b),
           x, y, grad_target=True)
    _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
           lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, y)


def test_bce_with_logits_is_stable():
    x = tensorplug.tensor([1000.0, -1000.0])
    y = tensorplug.tensor([0.0, 1.0])
    assert F.binary_cross_entropy_with_logits(x, y).item() == pytest.approx(1000.0)


# error rows ---------------------------------------------------------------------

def test_cross_entropy_target_out_of_bounds():
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor([0, 1, 5]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        nn.CrossEntropyLoss()(tensorplug.randn(3, 5), tensorplug.tensor([0, -1, 2]))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.nll_loss(tensorplug.randn(2, 3), tensorplug.tensor([3, 0]))


def test_cross_entropy_float_target_of_index_shape():
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.nll_loss(tensorplug.randn(3, 5), tensorplug.tensor([0, 1, 2], dtype=tensorplug.int32))


def test_cross_entropy_batch_mismatch_and_reduction():
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(tensorplug.randn(3, 5), tensorplug.tensor([0, 1]))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(tensorplug.zeros(2), tensorplug.zeros(2), reduction="foo")


def test_mse_size_warning_then_broadcasts():
    x = tensorplug.zeros(3, 1)
    y = tensorplug.tensor([1.0, 2.0, 3.0])
    for loss in (F.mse_loss, F.l1_loss):
        with pytest.warns(UserWarning, match=r"Using a target size .* different to the input size") as caught:
            out = loss(x, y)
        assert caught[0].filename == __file__  # the warning points at the caller's line
    assert out.item() == pytest.approx((1 + 2 + 3) / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(x, x)


def test_bce_range():
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(tensorplug.tensor([1.5, 0.5]), tensorplug.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        nn.BCELoss()(tensorplug.tensor([-0.1]), tensorplug.tensor([1.0]))


def test_legacy_reduction_args():
    x, y = tensorplug.ones(2), tensorplug.zeros(2)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert F.mse_loss(x, y, size_average=False).item() == 2.0


def test_loss_base_classes_and_repr():
    assert issubclass(nn.CrossEntropyLoss, nn.loss._WeightedLoss)
    assert issubclass(nn.MSELoss, nn.loss._Loss)
    assert nn.MSELoss(reduction="sum").reduction == "sum"
    for name in ["MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]:
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    w = tensorplug.ones(3)
    assert nn.CrossEntropyLoss(weight=w).weight is w
    assert "weight" in nn.CrossEntropyLoss(weight=w).state_dict()


def test_all_targets_ignored_gives_nan_and_zero_grad():
    for fn in (F.cross_entropy, F.nll_loss):
        x = tensorplug.randn(2, 3, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = fn(x, tensorplug.tensor([-100, -100]))
            loss.backward()
        assert np.isnan(loss.item())
        assert x.grad.tolist() == [[0.0] * 3] * 2


# torch's other losses (issue 13 item 7: core names, present with plugin autoload off) ------------------

_RNG = np.random.default_rng(7)


def _normal(*shape):
    return _RNG.standard_normal(shape)


def _signs(*shape):
    return np.where(_RNG.uniform(size=shape) > 0.5, 1.0, -1.0)


def _multilabel_targets():
    # each row's classes end at its first -1; what follows is ignored (torch's convention)
    return np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 2, 0, 0]])


#: (functional name, Module name, [arrays: float ones get gradients unless listed in `no_grad`],
#:  functional kwargs, Module kwargs, positions of float arrays that get no gradient)
LOSS_CASES = [
    ("smooth_l1_loss", "SmoothL1Loss", [_normal(4, 5) * 2, _normal(4, 5)], dict(beta=0.5), dict(beta=0.5), ()),
    ("smooth_l1_loss", "SmoothL1Loss", [_normal(4, 5) * 2, _normal(4, 5)], dict(beta=0.0), dict(beta=0.0), ()),
    ("huber_loss", "HuberLoss", [_normal(4, 5) * 2, _normal(4, 5)], dict(delta=0.3), dict(delta=0.3), ()),
    ("huber_loss", "HuberLoss", [_normal(3, 2) * 2, _normal(3, 2)], dict(delta=2.5), dict(delta=2.5), ()),
    ("kl_div", "KLDivLoss", [np.log(_RNG.dirichlet(np.ones(6), 4)), _RNG.dirichlet(np.ones(6), 4)],
     dict(log_target=False), dict(log_target=False), ()),
    ("kl_div", "KLDivLoss", [np.log(_RNG.dirichlet(np.ones(6), 4)), np.log(_RNG.dirichlet(np.ones(6), 4))],
     dict(log_target=True), dict(log_target=True), ()),
    ("poisson_nll_loss", "PoissonNLLLoss", [_normal(3, 4), _RNG.poisson(2.0, (3, 4)).astype(float)],
     dict(full=True), dict(full=True), (1,)),
    ("poisson_nll_loss", "PoissonNLLLoss", [_RNG.uniform(0.1, 3, (3, 4)), _RNG.poisson(2.0, (3, 4)).astype(float)],
     dict(log_input=False), dict(log_input=False), (1,)),
    ("gaussian_nll_loss", "GaussianNLLLoss", [_normal(4, 3), _normal(4, 3), _RNG.uniform(0.1, 2, (4, 3))],
     dict(), dict(), ()),
    ("gaussian_nll_loss", "GaussianNLLLoss", [_normal(4, 3), _normal(4, 3), _RNG.uniform(0.1, 2, (4,))],
     dict(full=True), dict(full=True), ()),
    ("gaussian_nll_loss", "GaussianNLLLoss",  # var clamped at eps: the gradient passes through the clamp
     [_normal(4, 3), _normal(4, 3), np.array([[0.5], [1e-9], [2.0], [0.0]])], dict(eps=1e-3), dict(eps=1e-3), ()),
    ("margin_ranking_loss", "MarginRankingLoss", [_normal(6), _normal(6), _signs(6)], dict(margin=0.5),
     dict(margin=0.5), (2,)),
    ("hinge_embedding_loss", "HingeEmbeddingLoss", [_normal(3, 4), _signs(3, 4)], dict(margin=0.7),
     dict(margin=0.7), (1,)),
    ("soft_margin_loss", "SoftMarginLoss", [_normal(3, 4) * 3, _signs(3, 4)], dict(), dict(), (1,)),
    ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss",
     [_normal(3, 4) * 2, (_RNG.uniform(size=(3, 4)) > 0.5).astype(float)], dict(), dict(), (1,)),
    ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss",
     [_normal(3, 4) * 2, (_RNG.uniform(size=(3, 4)) > 0.5).astype(float), _RNG.uniform(0.5, 2, 4)],
     dict(), dict(), (1, 2)),
    ("multi_margin_loss", "MultiMarginLoss", [_normal(5, 4), np.array([0, 3, 1, 1, 2])], dict(), dict(), ()),
    ("multi_margin_loss", "MultiMarginLoss", [_normal(5, 4), np.array([0, 3, 1, 1, 2]), _RNG.uniform(0.5, 2, 4)],
     dict(p=2, margin=0.7), dict(p=2, margin=0.7), (2,)),
    ("multi_margin_loss", "MultiMarginLoss", [_normal(4), np.array(2)], dict(), dict(), ()),
    ("multilabel_margin_loss", "MultiLabelMarginLoss", [_normal(3, 4), _multilabel_targets()], dict(), dict(), ()),
    ("multilabel_margin_loss", "MultiLabelMarginLoss", [_normal(4), np.array([2, 1, -1, 0])], dict(), dict(), ()),
    ("cosine_embedding_loss", "CosineEmbeddingLoss", [_normal(5, 3), _normal(5, 3), _signs(5)], dict(margin=0.3),
     dict(margin=0.3), (2,)),
    ("cosine_embedding_loss", "CosineEmbeddingLoss", [_normal(4), _normal(4), np.array(-1.0)], dict(), dict(), (2,)),
    ("triplet_margin_loss", "TripletMarginLoss", [_normal(5, 4), _normal(5, 4), _normal(5, 4)],
     dict(p=1.0, swap=True), dict(p=1.0, swap=True), ()),
    ("triplet_margin_loss", "TripletMarginLoss", [_normal(5, 4), _normal(5, 4), _normal(5, 4)],
     dict(margin=0.5, p=3.0), dict(margin=0.5, p=3.0), ()),
    ("triplet_margin_with_distance_loss", "TripletMarginWithDistanceLoss", [_normal(5, 4), _normal(5, 4),
                                                                            _normal(5, 4)],
     dict(swap=True, margin=2.0), dict(swap=True, margin=2.0), ()),
]


def _as_pair(array, grad):
    if np.asarray(array).dtype.kind == "f":
        return _pair(array, requires_grad=grad)
    return tensorplug.tensor(array), torch.tensor(array)


def _loss_call(lib, fname, mname, module, tensors, kwargs, reduction):
    if module:
        cls = getattr(lib.nn, mname)
        if fname == "multilabel_soft_margin_loss" and len(tensors) == 3 or fname == "multi_margin_loss" and \
                len(tensors) == 3:
            return cls(weight=tensors[2], reduction=reduction, **kwargs)(*tensors[:2])
        return cls(reduction=reduction, **kwargs)(*tensors)
    fn = getattr(lib.nn.functional, fname)
    if fname in ("multilabel_soft_margin_loss", "multi_margin_loss") and len(tensors) == 3:
        return fn(*tensors[:2], weight=tensors[2], reduction=reduction, **kwargs)
    return fn(*tensors, reduction=reduction, **kwargs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("module", [False, True], ids=["functional", "module"])
@pytest.mark.parametrize("case", range(len(LOSS_CASES)), ids=lambda i: f"{LOSS_CASES[i][0]}-{i}")
def test_torch_losses_values_and_gradients(case, module, reduction):
    fname, mname, arrays, fkwargs, mkwargs, no_grad = LOSS_CASES[case]
    pairs = [_as_pair(a, i not in no_grad) for i, a in enumerate(arrays)]
    ours, theirs = zip(*pairs)
    kwargs = mkwargs if module else fkwargs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning is tested below
        out = _loss_call(tensorplug, fname, mname, module, ours, kwargs, reduction)
        ref = _loss_call(torch, fname, mname, module, theirs, kwargs, reduction)
    _close(out, ref)
    seed = np.random.default_rng(case).standard_normal(tuple(ref.shape))
    out.backward(tensorplug.tensor(seed, dtype=tensorplug.float64))
    ref.backward(torch.tensor(seed, dtype=torch.float64))
    for i, (o, t) in enumerate(pairs):
        if i not in no_grad and np.asarray(arrays[i]).dtype.kind == "f":
            _close(o.grad, t.grad)


@pytest.mark.parametrize("name", sorted({c[1] for c in LOSS_CASES}))
def test_torch_losses_reprs_and_attributes(name):
    ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
    assert repr(ours) == repr(theirs)
    for attr in ("reduction", "margin", "p", "eps", "swap", "beta", "delta", "log_target", "log_input", "full"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr), attr


def test_kl_div_mean_warns_and_batchmean_divides_by_the_batch():
    logp, q = np.log(_RNG.dirichlet(np.ones(5), 3)), _RNG.dirichlet(np.ones(5), 3)
    q[0, :2] = 0  # 0 * log 0 = 0
    (x, tx), (t, tt) = _pair(logp), _pair(q, requires_grad=False)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        _close(F.kl_div(x, t), TF.kl_div(tx, tt))
    _close(nn.KLDivLoss(reduction="batchmean")(x, t), torch.nn.KLDivLoss(reduction="batchmean")(tx, tt))


def test_huber_loss_weight():
    (x, tx), (y, ty) = _pair(_normal(3, 4)), _pair(_normal(3, 4))
    (w, tw) = _pair(_RNG.uniform(size=(3, 4)), requires_grad=False)
    _close(F.huber_loss(x, y, weight=w), TF.huber_loss(tx, ty, weight=tw))


def test_torch_losses_size_mismatch_warns_like_torch():
    x, y = tensorplug.randn(3, 1), tensorplug.randn(3)
    for fn in (F.smooth_l1_loss, F.huber_loss, F.soft_margin_loss):
        with pytest.warns(UserWarning, match="Using a target size"):
            fn(x, y)


def _raises_like_torch(call):
    """``call(lib)`` raises the same exception type with torch and tensorplug; returns tensorplug's."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tensorplug)
    return str(theirs.value), str(ours.value)


@pytest.mark.parametrize("call, phrase", [
    (lambda m: m.nn.HuberLoss(reduction="avg")(m.zeros(2), m.zeros(2)), "is not a valid value for reduction"),
    (lambda m: m.nn.SmoothL1Loss(beta=-1)(m.zeros(2), m.zeros(2)), "does not support negative values for beta"),
    (lambda m: m.nn.HuberLoss(delta=0)(m.zeros(2), m.zeros(2)), "does not support non-positive values for delta"),
    (lambda m: m.nn.TripletMarginLoss(margin=0), "expected margin to be greater than 0"),
    (lambda m: m.nn.TripletMarginWithDistanceLoss(margin=-1), "expected margin to be greater than 0"),
    (lambda m: m.nn.MultiMarginLoss(p=3), "only p == 1 and p == 2 supported"),
    (lambda m: m.nn.functional.multi_margin_loss(m.zeros(2, 3), m.tensor([0, 3])), "target out of range"),
    (lambda m: m.nn.functional.multi_margin_loss(m.zeros(2, 3), m.tensor([0.0, 1.0])),
     "expected scalar type Long"),
    (lambda m: m.nn.functional.multilabel_margin_loss(m.zeros(2, 3), m.tensor([[0, 3, -1], [1, -1, 0]])),
     "is out of range"),
    (lambda m: m.nn.functional.margin_ranking_loss(m.zeros(2, 3), m.zeros(2, 3), m.zeros(3)),
     "All input tensors should have same dimension"),
    (lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(2, 3), m.zeros(2, 3), m.ones(3, 3)),
     "var is of incorrect size"),
    (lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(2, 3), m.zeros(2, 3), -m.ones(2, 3)),
     "var has negative entry"),
    (lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(2, 3), m.zeros(2, 3), -1.0), "var has negative entry"),
    (lambda m: m.nn.functional.cosine_embedding_loss(m.zeros(2, 3, 2), m.zeros(2, 3, 2), m.ones(2)),
     "1D target tensor expects 2D input tensors"),
    (lambda m: m.nn.functional.kl_div(m.zeros(2), m.zeros(2), reduction="avg"), "is not a valid value for reduction"),
    (lambda m: m.nn.functional.triplet_margin_loss(m.zeros(2, 3), m.zeros(3), m.zeros(2, 3)),
     "expected to have the same number of dimensions"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_torch_losses_errors(call, phrase):
    theirs, ours = _raises_like_torch(call)
    assert phrase in theirs and phrase in ours, (theirs, ours)


def test_torch_losses_are_core_names_with_autoload_off():
    import subprocess
    import sys
    code = ("import tensorplug, tensorplug.nn.functional as F\n"
            "names = ['HuberLoss', 'SmoothL1Loss', 'KLDivLoss', 'GaussianNLLLoss', 'MultiMarginLoss', "
            "'TripletMarginWithDistanceLoss']\n"
            "assert all(hasattr(tensorplug.nn, n) for n in names)\n"
            "assert all(hasattr(F, n) for n in ['smooth_l1_loss', 'huber_loss', 'kl_div', 'soft_margin_loss'])\n"
            "import sys; assert 'tensorplug_extras' not in sys.modules\n")
    env = dict(__import__("os").environ, TENSORPLUG_DISABLE_PLUGIN_AUTOLOAD="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_torch_loss_is_here():
    # torch 2.13's losses that tensorplug does not have yet, by name (CTCLoss is issue 13 item 9)
    missing = {"CTCLoss", "AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss"}
    theirs = {n for n in dir(torch.nn) if n.endswith("Loss")}
    assert theirs - missing <= set(dir(nn)), sorted(theirs - missing - set(dir(nn)))
    f_theirs = {n for n in dir(TF) if n.endswith("_loss") or n == "kl_div"} - {"ctc_loss"}
    assert f_theirs <= set(dir(F)), sorted(f_theirs - set(dir(F)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", range(len(LOSS_CASES)), ids=lambda i: f"{LOSS_CASES[i][0]}-{i}")
def test_torch_losses_graph_node_names(case, reduction):
    # scripts print loss.grad_fn: the last node is named as torch's
    fname, mname, arrays, fkwargs, mkwargs, no_grad = LOSS_CASES[case]
    ours, theirs = zip(*(_as_pair(a, i not in no_grad) for i, a in enumerate(arrays)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _loss_call(tensorplug, fname, mname, False, ours, fkwargs, reduction)
        ref = _loss_call(torch, fname, mname, False, theirs, fkwargs, reduction)
    assert type(out.grad_fn).__name__ == type(ref.grad_fn).__name__


_EDGE_INPUT = [[-1.0, -0.5, -2.0, -0.3], [0.2, -1.5, -0.7, -3.0]]
_EDGE_TARGET = [[0.0, 0.5, 0.3, 0.0], [0.2, 0.0, -0.1, 1.5]]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_target_gradient_at_zero_matches_torch(reduction, log_target):
    # the target's gradient was finite where torch's is nan (target 0, and a negative target, whose loss
    # is nan too): torch's xlogy(t, t) differentiates to t / t there
    x, tx = _pair(_EDGE_INPUT)
    t, tt = _pair(_EDGE_TARGET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = F.kl_div(x, t, reduction=reduction, log_target=log_target)
        theirs = TF.kl_div(tx, tt, reduction=reduction, log_target=log_target)
    ours.sum().backward()
    theirs.sum().backward()
    _close(ours, theirs)
    _close(x.grad, tx.grad)
    _close(t.grad, tt.grad)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_target_gradient_at_zero_matches_torch(reduction, log_input, full):
    # with full=True the masked Stirling term left the target's gradient finite at 0 and below; torch's is nan
    x, tx = _pair([[1.0, 0.5, 2.0, 0.3], [0.2, 1.5, 0.7, 3.0]])
    t, tt = _pair([[0.0, 0.5, 3.0, 0.0], [1.0, -1.0, 2.0, 1.5]])
    ours = F.poisson_nll_loss(x, t, log_input=log_input, full=full, reduction=reduction)
    theirs = TF.poisson_nll_loss(tx, tt, log_input=log_input, full=full, reduction=reduction)
    ours.sum().backward()
    theirs.sum().backward()
    _close(ours, theirs)
    _close(x.grad, tx.grad)
    _close(t.grad, tt.grad)


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_binary_cross_entropy_refuses_a_target_outside_0_1_as_torch(value):
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(tensorplug.tensor([0.5, 0.5]), tensorplug.tensor([1.0, value]))
