"""L-BFGS with torch's exact algorithm (two-loop recursion, optional strong-Wolfe line search).

A transcription of torch's ``optim/lbfgs.py`` (itself after minFunc) into
tensorplug tensor ops: the scalars it computes (``ys``, ``H_diag``, ``t``...)
stay 0-d tensors of the parameters' dtype as in torch, so float32 runs round
as torch's do.
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _check_lr

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through two points with their slopes, clamped to ``bounds``."""
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if not d2_square >= 0:
        return (xmin_bound + xmax_bound) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


def _bracket(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls):
    """Strong Wolfe, phase one: grow the step until an interval brackets a point that satisfies the
    conditions. Returns ``(bracket, f's, g's, gtd's, done, evaluations, ls_iter)``."""
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            return [t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new], False, evals, ls_iter
        if abs(gtd_new) <= -c2 * gtd:
            return [t], [f_new], [g_new], None, True, evals, ls_iter
        if gtd_new >= 0:
            return [t_prev, t], [f_prev, f_new], [g_prev, g_new.clone()], [gtd_prev, gtd_new], False, evals, ls_iter
        # extrapolate with a cubic, between 1.01 and 10 times the current step
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.clone(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    return [0, t], [f, f_new], [g, g_new], None, False, evals, ls_iter


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """torch's strong-Wolfe line search: ``(f_new, g_new, t, evaluations)``."""
    d_norm = d.abs().max()
    bracket, bf, bg, bgtd, done, evals, ls_iter = _bracket(obj_func, x, t, d, f, g.clone(), gtd, c1, c2, max_ls)
    insuf_progress = False
    low, high = (0, 1) if bf[0] <= bf[-1] else (1, 0)
    # phase two: zoom into the bracket until a point satisfies the conditions
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bf[0], bgtd[0], bracket[1], bf[1], bgtd[1])
        # keep away from the ends: progress must be at least a tenth of the interval
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bf[low]:
            bracket[high], bf[high], bg[high], bgtd[high] = t, f_new, g_new.clone(), gtd_new
            low, high = (0, 1) if bf[0] <= bf[1] else (1, 0)
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (bracket[high] - bracket[low]) >= 0:
            bracket[high], bf[high], bg[high], bgtd[high] = bracket[low], bf[low], bg[low], bgtd[low]
        bracket[low], bf[low], bg[low], bgtd[low] = t, f_new, g_new.clone(), gtd_new
    return bf[low], bg[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS, exactly torch's algorithm; ``step(closure)`` runs up to ``max_iter`` iterations.

    Args:
        params: the parameters (one group: per-parameter options are not supported, as in torch).
        lr: learning rate (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad, tolerance_change: stop when the largest gradient entry, or the change of the
            loss or parameters, falls below these (defaults 1e-7, 1e-9).
        history_size: updates remembered (default 100).
        line_search_fn: None or ``'strong_wolfe'``.

    Example:
        >>> opt = tensorplug.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
        >>> opt.step(closure)
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups); give one group")
        self._params = self.param_groups[0]["params"]

    def _gather_flat_grad(self):
        from ..ops import cat
        from ..creation import zeros
        return cat([zeros(p.numel(), dtype=p.dtype, device=p.device) if p.grad is None else p.grad.reshape(-1)
                    for p in self._params], 0)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(update[offset:offset + numel].view_as(p), alpha=step_size)
            offset += numel

    def _directional_evaluate(self, closure, x, t, d):
        """The loss and flat gradient at ``x + t * d`` (the parameters are put back to ``x``)."""
        self._add_grad(t, d)
        loss = float(self._closure(closure))
        flat_grad = self._gather_flat_grad()
        for p, data in zip(self._params, x):
            p.copy_(data)
        return loss, flat_grad

    def step(self, closure):
        """Run the iterations; returns the loss ``closure()`` gave before the first."""
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = self._closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:
            return orig_loss
        d, t, prev_flat_grad, prev_loss = (state.get(k) for k in ("d", "t", "prev_flat_grad", "prev_loss"))
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            d = self._direction(state, flat_grad, d, t, prev_flat_grad, group["history_size"])
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            # the first step is scaled by the gradient's size (no curvature is known yet)
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break
            loss, flat_grad, t, evals, opt_cond = self._advance(closure, group, loss, flat_grad, t, d, gtd,
                                                                max_eval - current_evals, n_iter != max_iter)
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if d.mul(t).abs().max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def _advance(self, closure, group, loss, flat_grad, t, d, gtd, max_ls, evaluate):
        """Move along ``d``: by the line search's step, or by ``t`` (then evaluate unless ``evaluate`` is
        False, on the last iteration). Returns ``(loss, flat_grad, t, evaluations, optimal)``."""
        line_search_fn = group["line_search_fn"]
        if line_search_fn is not None:
            if line_search_fn != "strong_wolfe":
                raise RuntimeError(f"only 'strong_wolfe' is supported as LBFGS's line_search_fn, got "
                                   f"{line_search_fn!r}; pass 'strong_wolfe' or None")
            x_init = [p.clone() for p in self._params]
            loss, flat_grad, t, evals = _strong_wolfe(
                lambda x, t, d: self._directional_evaluate(closure, x, t, d), x_init, t, d, loss, flat_grad, gtd,
                max_ls=max_ls)
            self._add_grad(t, d)
            return loss, flat_grad, t, evals, bool(flat_grad.abs().max() <= group["tolerance_grad"])
        self._add_grad(t, d)
        if not evaluate:
            return loss, flat_grad, t, 0, False
        loss = float(self._closure(closure))
        flat_grad = self._gather_flat_grad()
        return loss, flat_grad, t, 1, bool(flat_grad.abs().max() <= group["tolerance_grad"])

    @staticmethod
    def _direction(state, flat_grad, d, t, prev_flat_grad, history_size):
        """The quasi-Newton direction: the two-loop recursion over the remembered updates."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return flat_grad.neg()
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = flat_grad.sub(prev_flat_grad)
        s = d.mul(t)
        ys = y.dot(s)
        if ys > 1e-10:  # remember this update (curvature condition holds)
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)
        al = state.setdefault("al", [None] * history_size)
        q = flat_grad.neg()
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q.add_(old_dirs[i], alpha=-al[i])
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r.add_(old_stps[i], alpha=al[i] - be_i)
        return r
