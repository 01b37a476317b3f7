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
    with pytest.warns(UserWarning, match=r"Using a target size .* different to the input size"):
        out = F.mse_loss(x, y)
    assert out.item() == pytest.approx((1 + 4 + 9) / 3)
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
