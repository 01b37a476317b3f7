"""``checkpoint``: trade compute for memory by recomputing a block's forward in backward (torch's API).

The block runs under ``no_grad`` in forward, so none of its intermediate
tensors are kept; backward reruns it with grad enabled on the saved inputs
(and the generator state they saw, so dropout draws the same mask) and
backpropagates through that copy.
"""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..autograd.grad_mode import GradMode, enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        ctx.run_function = run_function
        ctx.inputs = args
        ctx.rng = None
        if preserve_rng_state:
            backends = {a._backend for a in args if isinstance(a, Tensor)}
            from ..registry import get_backend
            backends.add(get_backend())
            ctx.rng = [(b, b.get_rng_state()) for b in backends if hasattr(b, "get_rng_state")]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        with no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from ..autograd import backward as _backward
        saved = iter(ctx.saved_tensors)
        inputs = []
        for a in ctx.inputs:
            if isinstance(a, Tensor):
                t = next(saved)
                inputs.append(t.detach().requires_grad_(t.requires_grad))
            else:
                inputs.append(a)
        if ctx.rng:
            current = [(b, b.get_rng_state()) for b, _ in ctx.rng]
            for b, state in ctx.rng:
                b.set_rng_state(state)
        try:
            with enable_grad():
                outputs = ctx.run_function(*inputs)
        finally:
            if ctx.rng:
                for b, state in current:
                    b.set_rng_state(state)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if pairs:
            _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(t.grad if isinstance(t, Tensor) and t.requires_grad else None for t in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate tensors; they are recomputed in backward.

    Example:
        >>> y = checkpoint(block, x, use_reentrant=False)
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
                      "Refer to docs for more details on the differences between the two variants.",
                      UserWarning, stacklevel=2)
    if kwargs:
        bound = function
        function = lambda *a: bound(*a, **kwargs)  # noqa: E731
    if not GradMode.enabled:
        return function(*args)
    if any(isinstance(a, Tensor) and a.requires_grad for a in args):
        return _Checkpoint.apply(function, preserve_rng_state, *args)
    # the parameters the function uses get their gradients from the recomputed graph; a dummy input
    # that requires grad makes the node record even when no argument does
    return _Checkpoint.apply(lambda a, *rest: function(*rest), preserve_rng_state, _anchor(), *args)


def _anchor():
    from ..creation import zeros
    return zeros(()).requires_grad_()


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or a list of modules) in ``segments`` checkpointed chunks; the last runs normally."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be passed "
                      "explicitly.", UserWarning, stacklevel=2)
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        chunk = functions[start:end + 1]

        def run(x, chunk=chunk):
            for f in chunk:
                x = f(x)
            return x

        input = checkpoint(run, input, use_reentrant=bool(use_reentrant), **kwargs)
    for f in functions[end + 1:]:
        input = f(input)
    return input
