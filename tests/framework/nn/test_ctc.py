"""F.ctc_loss / nn.CTCLoss against torch: reductions, blank, zero_infinity, padded and concatenated targets,
repeated labels, impossible alignments, unbatched input, float32; values and gradients; errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug

torch = pytest.importorskip("torch")

R = np.random.default_rng(2)
T, N, C = 12, 3, 5
LOGITS = R.standard_normal((T, N, C))
PADDED = np.array([[1, 2, 2, 3], [4, 4, 0, 0], [1, 3, 1, 0]])  # repeated labels need a blank between
IN_LENGTHS = [12, 10, 7]
TARGET_LENGTHS = [4, 2, 3]


def _run(lib, logits, targets, input_lengths, target_lengths, through_softmax=True, dtype=np.float64, **kw):
    x = lib.tensor(logits.astype(dtype), requires_grad=True)
    lp = x.log_softmax(-1) if through_softmax else x
    loss = lib.nn.functional.ctc_loss(lp, lib.tensor(targets), input_lengths, target_lengths, **kw)
    weights = lib.tensor(np.cos(np.arange(loss.numel())).reshape(tuple(loss.shape)).astype(dtype))
    (loss * weights).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


CASES = {
    "mean": dict(reduction="mean"),
    "sum": dict(reduction="sum"),
    "none": dict(reduction="none"),
    "blank_last": dict(blank=C - 1, targets=np.where(PADDED == C - 1, 1, PADDED)),
    "concatenated": dict(targets=np.concatenate([PADDED[i, :n] for i, n in enumerate(TARGET_LENGTHS)])),
    "impossible": dict(reduction="none", in_lengths=[12, 10, 3]),  # 3 steps cannot emit 1,3,1
    "impossible_zero_infinity": dict(reduction="none", in_lengths=[12, 10, 3], zero_infinity=True),
    "impossible_mean_zero_infinity": dict(in_lengths=[12, 10, 3], zero_infinity=True),
    "empty_target": dict(reduction="none", target_lengths=[4, 0, 3]),
    "log_probs_direct": dict(reduction="sum", through_softmax=False),
    "float32": dict(reduction="none", dtype=np.float32),
    "tensor_lengths": dict(lengths_as_tensors=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ctc_loss_matches_torch(name):
    case = dict(CASES[name])
    targets = case.pop("targets", PADDED)
    in_lengths = case.pop("in_lengths", IN_LENGTHS)
    target_lengths = case.pop("target_lengths", TARGET_LENGTHS)
    as_tensors = case.pop("lengths_as_tensors", False)
    through = case.pop("through_softmax", True)
    dtype = case.pop("dtype", np.float64)
    logits = LOGITS if through else torch.tensor(LOGITS).log_softmax(-1).numpy()
    results = []
    for lib in (tensorplug, torch):
        il, tl = (lib.tensor(in_lengths), lib.tensor(target_lengths)) if as_tensors else (in_lengths, target_lengths)
        results.append(_run(lib, logits, targets, il, tl, through, dtype, **case))
    (ours, ours_grad), (theirs, their_grad) = results
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours, theirs, **tol)
    if np.isfinite(theirs).all():
        np.testing.assert_allclose(ours_grad, their_grad, **tol)


def test_ctc_unbatched_matches_torch():
    results = []
    for lib in (tensorplug, torch):
        x = lib.tensor(LOGITS[:, 0], requires_grad=True)
        loss = lib.nn.functional.ctc_loss(x.log_softmax(-1), lib.tensor(PADDED[0]), lib.tensor(12), lib.tensor(4))
        loss.backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    assert results[0][0].shape == results[1][0].shape == ()
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


def test_ctc_module_matches_torch():
    ours = tensorplug.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    theirs = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert repr(ours) == repr(theirs) == "CTCLoss()"
    a = ours(tensorplug.tensor(LOGITS).log_softmax(2), tensorplug.tensor(PADDED), IN_LENGTHS, TARGET_LENGTHS)
    b = theirs(torch.tensor(LOGITS).log_softmax(2), torch.tensor(PADDED), IN_LENGTHS, TARGET_LENGTHS)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


def test_ctc_gradcheck():
    x = tensorplug.tensor(LOGITS[:6, :2], requires_grad=True)
    assert tensorplug.autograd.gradcheck(
        lambda t: tensorplug.nn.functional.ctc_loss(t.log_softmax(-1), tensorplug.tensor(PADDED[:2, :2]), [6, 5],
                                                    [2, 2], reduction="none"), (x,))


@pytest.mark.parametrize("call, phrase", [
    (lambda m: m.nn.functional.ctc_loss(m.zeros(5, 1, 3).log_softmax(2), m.tensor([[1, 2]]), [6], [2]),
     "Expected input_lengths to have value at most 5, but got value 6"),
    (lambda m: m.nn.functional.ctc_loss(m.zeros(5, 1, 3).log_softmax(2), m.tensor([[1, 2]]), [5], [3]),
     "Expected tensor to have size at least 3 at dimension 1, but got size 2"),
    (lambda m: m.nn.functional.ctc_loss(m.zeros(5, 1, 3).log_softmax(2), m.tensor([[1, 2]]), [5], [2], blank=3),
     "blank must be in label range"),
])
def test_ctc_errors_match_torch(call, phrase):
    for lib in (torch, tensorplug):
        with pytest.raises(RuntimeError, match=phrase):
            call(lib)


def test_ctc_label_out_of_range_is_a_clean_error():
    # torch reads past the class axis (an unchecked value); tensorplug refuses
    with pytest.raises(RuntimeError, match="target label 5 is out of range for log_probs with 5 classes"):
        tensorplug.nn.functional.ctc_loss(tensorplug.tensor(LOGITS).log_softmax(2), tensorplug.tensor(PADDED + 3),
                                          IN_LENGTHS, TARGET_LENGTHS)


def test_ctc_nan_input_gives_nan_gradient_as_torch():
    logits = LOGITS.copy()
    logits[0, 0, 1] = np.nan
    ours = _run(tensorplug, logits, PADDED, IN_LENGTHS, TARGET_LENGTHS, reduction="none")
    theirs = _run(torch, logits, PADDED, IN_LENGTHS, TARGET_LENGTHS, reduction="none")
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_ctc_on_every_backend(backend):
    ours, ours_grad = _run(tensorplug, LOGITS, PADDED, IN_LENGTHS, TARGET_LENGTHS, reduction="none")
    theirs, their_grad = _run(torch, LOGITS, PADDED, IN_LENGTHS, TARGET_LENGTHS, reduction="none")
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    np.testing.assert_allclose(ours_grad, their_grad, rtol=1e-10, atol=1e-12)
