"""``F.ctc_loss`` and ``nn.CTCLoss``: connectionist temporal classification (Graves et al., 2006).

The forward (alpha) recursion runs in log space over the blank-extended labels, vectorised over the
batch; the backward runs the beta recursion and gives torch's gradient,
``exp(log_probs) - exp(log(sum alpha * beta) + nll - log_probs)``, which assumes ``log_probs`` come from
``log_softmax`` (its backward then yields the exact gradient of the logits), as torch's does.
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..autograd.function import Op
from ..tensor import Tensor
from .loss import _Loss

__all__ = ["ctc_loss", "CTCLoss"]


def _shift(xp, a, k, fill):
    """``a[..., s - k]`` along the last axis, ``fill`` where s < k (k > 0) or s >= S + k (k < 0)."""
    pad = xp.full(tuple(a.shape[:-1]) + (abs(k),), fill, dtype=a.dtype)
    return xp.concat([pad, a[..., :-k]], axis=-1) if k > 0 else xp.concat([a[..., -k:], pad], axis=-1)


class CtcLoss(Op):
    """Per-sample negative log-likelihood (N,) of (T, N, C) log-probabilities."""

    node_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, lp, ext, input_lengths, label_lengths, blank, zero_infinity):
        xp = ctx.backend.xp
        T, N, C = lp.shape
        S = ext.shape[1]
        # lp at each extended label: one flat take over (N * C)
        flat = xp.reshape(xp.astype(ext, xp.int64) + xp.reshape(xp.arange(N, dtype=xp.int64) * C, (N, 1)), (-1,))
        lpe = xp.reshape(xp.take(xp.reshape(lp, (T, N * C)), flat, axis=1), (T, N, S))
        skip = (ext != blank) & (ext != _shift(xp, ext, 2, blank))
        neg_inf = -math.inf
        alpha = xp.where(xp.arange(S) < 2, lpe[0, ...], xp.asarray(neg_inf, dtype=lp.dtype))
        alphas = [alpha]
        lengths = xp.reshape(input_lengths, (N, 1))
        for t in range(1, T):
            best = xp.logaddexp(alpha, _shift(xp, alpha, 1, neg_inf))
            best = xp.where(skip, xp.logaddexp(best, _shift(xp, alpha, 2, neg_inf)), best)
            alpha = xp.where(t < lengths, best + lpe[t, ...], alpha)
            alphas.append(alpha)
        alpha_all = xp.stack(alphas)
        last = xp.take_along_axis(alpha, xp.reshape(2 * label_lengths, (N, 1)), axis=1)[:, 0]
        before = xp.take_along_axis(alpha, xp.reshape(xp.clip(2 * label_lengths - 1, 0, None), (N, 1)), axis=1)[:, 0]
        before = xp.where(label_lengths > 0, before, xp.asarray(neg_inf, dtype=lp.dtype))
        nll = -xp.logaddexp(last, before)
        ctx.saved = (lp, ext, lpe, skip, alpha_all, nll, input_lengths, label_lengths, zero_infinity)
        if zero_infinity:
            return xp.where(xp.isinf(nll), xp.zeros_like(nll), nll)
        return nll

    @staticmethod
    def backward(ctx, g):
        grad = _ctc_grad(ctx.backend.xp, *ctx.saved)
        return g.reshape(1, -1, 1) * Tensor._make(grad, g._dtype, ctx.backend)


def _ctc_grad(xp, lp, ext, lpe, skip, alpha_all, nll, input_lengths, label_lengths, zero_infinity):
    """torch's CTC gradient w.r.t. log_probs (T, N, C), from the beta recursion."""
    T, N, C = lp.shape
    S = ext.shape[1]
    neg_inf = xp.asarray(-math.inf, dtype=lp.dtype)
    positions = xp.reshape(xp.arange(S), (1, S))
    ends = xp.reshape(2 * label_lengths, (N, 1))
    final = (positions == ends) | (positions == ends - 1)
    skip_next = _shift(xp, skip, -2, False)
    lengths = xp.reshape(input_lengths, (N, 1))
    beta = xp.full((N, S), -math.inf, dtype=lp.dtype)
    betas = [None] * T
    for t in range(T - 1, -1, -1):
        best = xp.logaddexp(beta, _shift(xp, beta, -1, -math.inf))
        best = xp.where(skip_next, xp.logaddexp(best, _shift(xp, beta, -2, -math.inf)), best)
        start = xp.where(final, lpe[t, ...], neg_inf)
        beta = xp.where(t == lengths - 1, start, xp.where(t < lengths - 1, best + lpe[t, ...], neg_inf))
        betas[t] = beta
    both = alpha_all + xp.stack(betas)  # (T, N, S)
    top = xp.max(both, axis=2, keepdims=True)
    top = xp.where(xp.isinf(top), xp.zeros_like(top), top)
    onehot = xp.astype(xp.reshape(ext, (N, S, 1)) == xp.reshape(xp.arange(C), (1, 1, C)), lp.dtype)
    summed = xp.matmul(xp.reshape(xp.exp(both - top), (T, N, 1, S)), onehot)[:, :, 0, :]  # (T, N, C)
    nll_b = xp.reshape(nll, (1, N, 1))
    # torch's exp(lcab + nll - lp) with lcab = log(summed) + top: -inf where no path uses the class,
    # so an infinite or nan nll gives nan there too, as torch's
    found = summed > 0
    lcab = xp.where(found, xp.log(xp.where(found, summed, xp.ones_like(summed))) + top,
                    xp.where(xp.isnan(summed), summed, xp.full_like(summed, -math.inf)))
    term = xp.exp(lcab + nll_b - lp)
    grad = xp.exp(lp) - term
    active = xp.reshape(xp.arange(T), (T, 1, 1)) < xp.reshape(input_lengths, (1, N, 1))
    grad = xp.where(active, grad, xp.zeros_like(grad))
    if zero_infinity:
        grad = xp.where(xp.isinf(nll_b), xp.zeros_like(grad), grad)
    return grad


def _lengths(values, name, n):
    if isinstance(values, Tensor):
        values = values.tolist()
    values = [int(values)] if isinstance(values, (int, float)) else [int(v) for v in values]
    if len(values) != n:
        raise RuntimeError(f"{name} must be of size batch_size ({n}), but got {len(values)}")
    return values


def _extended_labels(targets, target_lengths, n, blank):
    """(N, 2 * max_len + 1) labels with a blank before, between and after, from padded or concatenated targets."""
    rows = targets.tolist()
    longest = max(target_lengths, default=0)
    ext = []
    offset = 0
    for b, length in enumerate(target_lengths):
        if targets.dim() == 2:
            if length > len(rows[b]):
                raise RuntimeError(f"Expected tensor to have size at least {length} at dimension 1, but got size "
                                   f"{len(rows[b])} for argument #2 'targets' (while checking arguments for "
                                   f"ctc_loss_cpu)")
            labels = rows[b][:length]
        else:
            labels = rows[offset:offset + length]
            offset += length
        row = [blank] * (2 * longest + 1)
        row[1:2 * length:2] = labels
        ext.append(row)
    return ext


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The CTC loss of ``log_probs`` (T, N, C) (log_softmax outputs) against label sequences.

    Args:
        log_probs: (T, N, C) or unbatched (T, C) log-probabilities.
        targets: (N, S) padded labels, or all label sequences concatenated (1-D).
        input_lengths: the number of valid time steps of each sample (N,).
        target_lengths: the label count of each sample (N,).
        blank: the blank label's class index.
        reduction: 'mean' (each loss divided by its target length, then the batch mean), 'sum' or 'none'.
        zero_infinity: impossible alignments give a loss (and gradient) of 0 instead of inf.

    Example:
        >>> lp = tensorplug.randn(50, 2, 20).log_softmax(2)
        >>> F.ctc_loss(lp, tensorplug.randint(1, 20, (2, 10)), (50, 50), (10, 8)).shape
        tensorplug.Size([])
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_probs.dim() == 0:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    unbatched = log_probs.dim() < 3
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    if log_probs.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {log_probs.dim()}-dimensional tensor for "
                           f"argument #1 'log_probs' (while checking arguments for ctc_loss_cpu); pass (T, N, C) "
                           f"or unbatched (T, C) log-probabilities")
    if not log_probs.is_floating_point():
        raise RuntimeError(f"\"ctc_loss_cpu\" not implemented for '{_dt.scalar_type_name(log_probs.dtype)}'")
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    in_lengths = _lengths(input_lengths, "input_lengths", N)
    lab_lengths = _lengths(target_lengths, "target_lengths", N)
    for length in in_lengths:
        if length > T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {length} (while "
                               f"checking arguments for ctc_loss_cpu)")
    ext = _extended_labels(targets, lab_lengths, N, blank)
    bad = [label for row in ext for label in row if not 0 <= label < C]
    if bad:
        # torch reads out of bounds here; a clean error instead of a wrong value
        raise RuntimeError(f"ctc_loss: target label {bad[0]} is out of range for log_probs with {C} classes; labels "
                           f"must be in [0, {C - 1}]")
    backend = log_probs._backend
    xp = backend.xp
    nll = CtcLoss.apply(log_probs, ext=xp.asarray(ext, dtype=xp.int64),
                        input_lengths=xp.asarray(in_lengths, dtype=xp.int64),
                        label_lengths=xp.asarray(lab_lengths, dtype=xp.int64), blank=blank,
                        zero_infinity=zero_infinity)
    if unbatched:
        nll = nll.squeeze(0)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    divisor = log_probs.new_tensor([max(n, 1) for n in lab_lengths])
    return (nll / (divisor[0] if unbatched else divisor)).mean()


class CTCLoss(_Loss):
    """The CTC loss of ``(log_probs, targets, input_lengths, target_lengths)`` (see ``F.ctc_loss``).

    Example:
        >>> loss = nn.CTCLoss()(tensorplug.randn(50, 2, 20).log_softmax(2),
        ...                     tensorplug.randint(1, 20, (2, 10)), (50, 50), (10, 8))
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                        self.zero_infinity)
